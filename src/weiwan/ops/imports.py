"""What is wrong with an imported file, row by row: the error every file import of the
operational side raises (a dialer's results, the CRM's consents), so that the answers, the
pages and the command line name file, row and column the same way."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from weiwan.core.errors import WeiwanError

#: errors listed in one answer (the count says how many there are in all)
MAX_LISTED_ERRORS = 200


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an imported file: its row as a spreadsheet shows it (the header is
    row 1) and its column."""

    row: int
    column: str
    message: str


class ImportFileError(WeiwanError):
    """The file cannot be imported; ``errors`` name each row and column (at most
    :data:`MAX_LISTED_ERRORS` of them; ``total`` counts them all)."""

    def __init__(self, filename: str, errors: list[RowError], total: int | None = None) -> None:
        self.filename = filename
        self.errors = errors[:MAX_LISTED_ERRORS]
        self.total = max(total or 0, len(errors))
        first = errors[0]
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        super().__init__(f"{filename}: row {first.row}, {first.column}: {first.message}{more}")


def csv_rows(
    filename: str,
    content: IO[bytes],
    required: tuple[str, ...],
    error: type[ImportFileError] = ImportFileError,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, cells by lower-cased header, stripped) of each non-blank row of a UTF-8
    CSV (with or without a BOM), from its start; a missing ``required`` column raises
    ``error`` naming it on row 1. The caller's file stays open (a second pass may follow);
    unreadable bytes raise ``csv.Error`` or ``UnicodeDecodeError`` for the caller to name."""
    content.seek(0)
    text = io.TextIOWrapper(content, encoding="utf-8-sig", newline="")
    try:
        reader = csv.DictReader(text)
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
        missing = [c for c in required if c not in reader.fieldnames]
        if missing:
            raise error(filename, [RowError(1, c, "column missing") for c in missing])
        for number, cells in enumerate(reader, start=2):
            values = {k: (v or "").strip() for k, v in cells.items() if k is not None}
            if any(values.values()):
                yield number, values
    finally:
        text.detach()
