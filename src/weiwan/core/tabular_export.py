"""The one writer of every Excel and CSV export: user text is written as text, never as a
formula, and numbers stay numbers.

Excel (:func:`xlsx_bytes`): every string cell is forced to the string type (``data_type
"s"``), so ``=HYPERLINK(...)`` in a note is shown as the characters typed and never
evaluated; the text itself is kept unchanged. Characters an .xlsx cannot hold (control
characters other than tab, line feed and carriage return) are dropped instead of failing the
export. Sheet titles are made valid, unique and at most 31 characters (:func:`sheet_titles`).

CSV (:func:`csv_text`, :func:`csv_bytes`): a CSV has no cell types, so a text that starts
with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with a single quote
(``'``), as the OWASP "CSV injection" guidance recommends: spreadsheet programs then show it
as text, and a reader of the file sees plainly that the quote was added. Numbers (``int``,
``float``, ``Decimal``) are written unprefixed, so ``-3.5`` stays a number; only text is
prefixed. The csv module quotes separators, quotes and line breaks as usual.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: first characters that make a spreadsheet program read a CSV text as a formula
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_SHEET_TITLE = 31
MAX_CELL_TEXT = 32_767
_TITLE_FORBIDDEN = re.compile(r"[\\/?*\[\]:]")
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_RESERVED_TITLES = {"history"}


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet: a title (made safe by the writer), the heading row and the data rows.

    ``number_formats`` and ``widths`` are per column (``None`` for the default)."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    number_formats: Sequence[str | None] = field(default_factory=tuple)
    widths: Sequence[float | None] = field(default_factory=tuple)
    freeze_header: bool = True


def sheet_titles(names: Iterable[str]) -> list[str]:
    """Valid, unique Excel sheet titles for ``names``, in order: ``\\ / ? * [ ] :`` become
    ``_``, leading and trailing quotes are dropped, at most 31 characters, never blank, and a
    title already used (Excel compares them ignoring case) gets `` (2)``, `` (3)``, …"""
    used: set[str] = set()
    out: list[str] = []
    for name in names:
        base = _TITLE_FORBIDDEN.sub("_", _ILLEGAL_XLSX.sub("", str(name)))
        base = base.strip().strip("'").strip() or "Sheet"
        if base.lower() in _RESERVED_TITLES:
            base = f"{base}_"
        base = base[:MAX_SHEET_TITLE]
        title, number = base, 1
        while title.lower() in used:
            number += 1
            suffix = f" ({number})"
            title = base[: MAX_SHEET_TITLE - len(suffix)] + suffix
        used.add(title.lower())
        out.append(title)
    return out


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT, pandas NA
    except (TypeError, ValueError):
        return False


def _xlsx_value(value: Any) -> Any:
    """A value openpyxl writes as a typed cell; text is returned as ``str``."""
    if _is_missing(value):
        return None
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return value if not isinstance(value, Decimal) or value.is_finite() else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones: callers give local time
    if isinstance(value, date | time):
        return value
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return _xlsx_value(value.item())  # numpy scalars
    text = _ILLEGAL_XLSX.sub("", str(value))
    return text[:MAX_CELL_TEXT]


def _cell(sheet: Any, value: Any, number_format: str | None) -> WriteOnlyCell:
    value = _xlsx_value(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # text is text: never a formula, whatever it starts with
    elif number_format and value is not None:
        cell.number_format = number_format
    return cell


def xlsx_bytes(sheets: Iterable[Sheet]) -> bytes:
    """An .xlsx with one sheet per :class:`Sheet` (see the module docstring)."""
    specs = list(sheets)
    book = Workbook(write_only=True)
    for spec, title in zip(specs, sheet_titles(s.title for s in specs), strict=True):
        sheet = book.create_sheet(title=title)
        for index, width in enumerate(spec.widths, start=1):
            if width:
                sheet.column_dimensions[get_column_letter(index)].width = width
        if spec.freeze_header:
            sheet.freeze_panes = "A2"
        sheet.append([_cell(sheet, label, None) for label in spec.header])
        formats = list(spec.number_formats)
        for row in spec.rows:
            sheet.append(
                [
                    _cell(sheet, value, formats[i] if i < len(formats) else None)
                    for i, value in enumerate(row)
                ]
            )
    if not specs:
        book.create_sheet(title="Sheet")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_xlsx(path: Path, sheets: Iterable[Sheet]) -> None:
    """Write :func:`xlsx_bytes` of ``sheets`` to ``path``."""
    path.write_bytes(xlsx_bytes(sheets))


def csv_value(value: Any) -> Any:
    """One CSV field: numbers as they are, text with a dangerous first character prefixed
    with ``'`` (see the module docstring), dates in ISO form, missing values blank."""
    if _is_missing(value):
        return ""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, date | time):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return csv_value(value.item())  # numpy scalars
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def csv_text(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, lineterminator: str = "\r\n"
) -> str:
    """The heading and the rows as CSV text, every field through :func:`csv_value`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=lineterminator)
    writer.writerow([csv_value(h) for h in header])
    writer.writerows([csv_value(v) for v in row] for row in rows)
    return buffer.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = True) -> bytes:
    """:func:`csv_text` in UTF-8, with a byte-order mark by default (Excel then opens Chinese
    text correctly)."""
    text = csv_text(header, rows)
    return (("\ufeff" if bom else "") + text).encode("utf-8")
