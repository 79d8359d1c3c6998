"""What is wrong with an imported file, row by row: the error every file import of the
operational side raises (a dialer's results, the CRM's consents), so that the answers, the
pages and the command line name file, row and column the same way."""

from __future__ import annotations

from dataclasses import dataclass

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
