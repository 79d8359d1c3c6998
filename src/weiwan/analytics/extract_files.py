"""Find an operator's extract files and read them as raw Arrow tables with line numbers.

CSV files (UTF-8 or GBK/GB18030, comma or tab) are read by pyarrow with every column as text so
that validation, not the reader, decides what a bad value is; Parquet keeps its types.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from weiwan.analytics.contract import TABLES, Column, Table
from weiwan.analytics.mapping import Mapping
from weiwan.core.errors import ContractError

LINE = "_line"
_SNIFF_BYTES = 1 << 16
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass(frozen=True)
class ExtractFile:
    """One delivered file and the contract table it feeds."""

    table: Table
    path: Path
    fmt: Literal["csv", "parquet"]

    def fingerprint(self) -> str:
        """SHA-256 of the file's bytes: the same delivery twice has the same fingerprint."""
        digest = hashlib.sha256()
        with self.path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
        return digest.hexdigest()


@dataclass
class RawExtract:
    """A file checked at the header: contract names for its columns, and its rows.

    CSV rows are read into Arrow (all text, ``_line`` added); Parquet rows stay in the file and
    are scanned by the warehouse (``data`` is None), so a large delivery is not copied in memory.
    """

    file: ExtractFile
    #: file column -> contract (or extra attribute) name, for the columns that are kept
    renames: dict[str, str]
    extra_columns: list[str]
    data: pa.Table | None = None
    #: Records the reader itself rejected (wrong field count): (line, text, reason).
    malformed: list[tuple[int, str, str]] = field(default_factory=list)
    #: Columns outside the contract in a table that keeps no extra attributes.
    ignored_columns: list[str] = field(default_factory=list)


def discover(directory: Path, mapping: Mapping) -> list[ExtractFile]:
    """The extract files in ``directory`` (or its ``extracts/`` subfolder), in contract order."""
    if (directory / "extracts").is_dir():
        directory = directory / "extracts"
    if not directory.is_dir():
        raise ContractError("extract directory not found", file=str(directory))
    found: list[ExtractFile] = []
    for table in TABLES:
        pattern = mapping.for_table(table.name).file
        candidates = (
            sorted(directory.glob(pattern))
            if pattern
            else [directory / f"{table.name}{sfx}" for sfx in (".parquet", *_CSV_SUFFIXES)]
        )
        existing = [p for p in candidates if p.is_file()]
        if len(existing) > 1:
            names = ", ".join(p.name for p in existing)
            raise ContractError(f"several files match table {table.name}: {names}", file=names)
        if existing:
            path = existing[0]
            fmt: Literal["csv", "parquet"] = "parquet" if path.suffix == ".parquet" else "csv"
            found.append(ExtractFile(table, path, fmt))
    if not found:
        raise ContractError(
            "no extract files found (expected e.g. subscribers.csv or a mapping file naming them)",
            file=str(directory),
        )
    return found


def detect_encoding(path: Path, declared: str) -> str:
    """The file's text encoding: the declared one, or UTF-8 / GB18030 by what decodes."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if declared != "auto":
        return "gb18030" if declared == "gbk" else declared  # GB18030 is GBK's superset
    for candidate in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(candidate)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return candidate
    raise ContractError(
        "wrong encoding: the file is neither UTF-8 nor GBK/GB18030 text", file=path.name
    )


def _header(path: Path, encoding: str, declared_delimiter: str) -> tuple[list[str], str]:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"wrong encoding: not valid {encoding} text ({exc})", file=path.name
        ) from exc
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    if not first_line:
        raise ContractError("empty file: no header row", file=path.name)
    delimiter = declared_delimiter
    if delimiter == "auto":
        delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    return [h.strip() for h in header], delimiter


def _read_csv_once(
    path: Path, header: list[str], encoding: str, delimiter: str, threads: bool
) -> tuple[pa.Table, list[tuple[int | None, str, str]]]:
    malformed: list[tuple[int | None, str, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        malformed.append((row.number, row.text or "", reason))
        return "skip"

    data = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=threads,
            encoding="utf8" if encoding == "utf-8" else encoding,
            column_names=[f"c{i}" for i in range(len(header))],
            skip_rows=1,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, invalid_row_handler=on_invalid, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={f"c{i}": pa.string() for i in range(len(header))},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )
    return data, malformed


def _read_csv(
    ef: ExtractFile, mapping: Mapping
) -> tuple[pa.Table, list[str], list[tuple[int, str, str]]]:
    encoding = detect_encoding(ef.path, mapping.encoding(ef.table.name))
    header, delimiter = _header(ef.path, encoding, mapping.delimiter(ef.table.name))
    try:
        data, malformed = _read_csv_once(ef.path, header, encoding, delimiter, threads=True)
        if malformed:  # only a single-threaded read knows the line of a rejected record
            data, malformed = _read_csv_once(ef.path, header, encoding, delimiter, threads=False)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        message = str(exc).splitlines()[0]
        if "UTF8" in message or isinstance(exc, UnicodeDecodeError):
            message = f"wrong encoding: not valid {encoding} text ({message})"
        raise ContractError(message, file=ef.path.name) from exc
    rejected = sorted(int(n) for n, _, _ in malformed if n is not None)
    total = data.num_rows + len(rejected)
    lines = np.arange(2, total + 2, dtype=np.int64)  # line 1 is the header
    if rejected:
        lines = lines[~np.isin(lines, np.asarray(rejected, dtype=np.int64))]
    data = data.rename_columns(header).append_column(LINE, pa.array(lines))
    return data, header, [(int(n or 0), text, reason) for n, text, reason in malformed]


def _closest(candidates: list[str], headers: list[str]) -> str | None:
    """The header most like any of ``candidates`` (difflib ratio at least 0.5), if one is."""
    best: tuple[float, str] | None = None
    for candidate in candidates:
        for header in headers:
            ratio = difflib.SequenceMatcher(None, candidate, header).ratio()
            if ratio >= 0.5 and (best is None or ratio > best[0]):
                best = (ratio, header)
    return best[1] if best else None


def _missing_column(
    ef: ExtractFile,
    header: list[str],
    names: list[str],
    missing: list[str],
    renames: dict[str, str],
) -> ContractError:
    """The error for required columns the file lacks: what the mapping expected, the file's
    headers that land on no contract column, and the one most like the first missing column."""
    col: Column = ef.table.column(missing[0])
    known = set(ef.table.column_names)
    unmapped = [h for h, n in zip(header, names, strict=True) if n not in known]
    sources = [source for source, target in renames.items() if target == col.name]
    parts = [f"required column missing ({col.label_zh} / {col.label_en})"]
    if sources:
        parts.append(
            f"the mapping maps {', '.join(repr(s) for s in sources)} to it, but the file has "
            "no such header"
        )
    if len(missing) > 1:
        parts.append(f"also missing: {', '.join(missing[1:])}")
    parts.append(
        "headers not mapped to the contract: "
        + (", ".join(repr(h) for h in unmapped) if unmapped else "none")
    )
    closest = _closest([*sources, col.name, col.label_zh, col.label_en], unmapped)
    if closest is not None:
        parts.append(f"closest: {closest!r}")
    return ContractError("; ".join(parts), file=ef.path.name, column=col.name)


def read_extract(ef: ExtractFile, mapping: Mapping) -> RawExtract:
    """Check a file's header against the contract; read CSV rows (Parquet is scanned later)."""
    malformed: list[tuple[int, str, str]] = []
    data: pa.Table | None = None
    if ef.fmt == "parquet":
        try:
            header = list(pq.read_schema(ef.path).names)
        except (OSError, pa.ArrowException) as exc:
            raise ContractError(f"unreadable Parquet file: {exc}", file=ef.path.name) from exc
    else:
        data, header, malformed = _read_csv(ef, mapping)
    entry = mapping.for_table(ef.table.name)
    renames = entry.columns
    names = [renames.get(h, h) for h in header]
    seen: set[str] = set()
    for original, name in zip(header, names, strict=True):
        if name in seen or name == LINE:
            raise ContractError(
                f"column {name!r} appears twice", file=ef.path.name, column=original
            )
        if name in entry.not_delivered:
            raise ContractError(
                f"the mapping declares {name!r} not_delivered, but the file has it (header "
                f"{original!r}): remove it from not_delivered or from the file",
                file=ef.path.name,
                column=name,
            )
        seen.add(name)
    missing = [
        col
        for col in ef.table.required_columns
        if col not in seen and col not in entry.not_delivered
    ]
    if missing:
        raise _missing_column(ef, header, names, missing, renames)
    known = set(ef.table.column_names)
    extras = [n for n in names if n not in known]
    for name in extras:
        if name.startswith("_"):
            raise ContractError(
                "column names starting with _ are reserved", file=ef.path.name, column=name
            )
    ignored = extras if not ef.table.extra_columns else []  # only subscribers keep attributes
    kept = {h: n for h, n in zip(header, names, strict=True) if n not in ignored}
    if data is not None:
        data = data.rename_columns([*names, LINE]).drop_columns(ignored)
    extras = [n for n in extras if n not in ignored]
    return RawExtract(ef, kept, extras, data, malformed, ignored)
