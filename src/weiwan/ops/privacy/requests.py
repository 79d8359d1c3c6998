"""A privacy office's batch of erasure requests as a CSV file: ``weiwan privacy erase --file``.

Requests under the personal-information law arrive in batches (a week's requests from the
customer-service system); one command per subscriber made the office script the CLI and lose
track of which ran. Format (UTF-8, header row, one request per row; columns in any order):

- ``subscriber_id`` — required;
- ``reason`` — why (the request's reference; no personal data), at most 500 characters;
  optional when the command gives ``--reason`` for the rows without one.

Every row is checked before anything is erased: a file with any error erases nothing and the
errors name file, row and column. A subscriber named twice is erased once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import IO

from weiwan.ops.imports import ImportFileError, RowError, csv_rows
from weiwan.ops.privacy.service import MAX_REASON

REQUIRED = ("subscriber_id",)


class ErasureFileError(ImportFileError):
    """The erasure requests cannot be read or checked; nothing was erased."""


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    """One checked request: its row as a spreadsheet shows it (the header is row 1)."""

    row: int
    subscriber_id: str
    reason: str


def read_requests(
    filename: str, content: IO[bytes], default_reason: str | None = None
) -> list[ErasureRequest]:
    """The file's requests in file order, each subscriber once (its first row), after every
    row was checked; :class:`ErasureFileError` lists the problems by row and column."""
    default = (default_reason or "").strip() or None
    errors: list[RowError] = []
    requests: list[ErasureRequest] = []
    seen: set[str] = set()
    number = 1
    try:
        for number, cells in csv_rows(filename, content, REQUIRED, ErasureFileError):
            request = _request(number, cells, default, errors)
            if request is not None and request.subscriber_id not in seen:
                seen.add(request.subscriber_id)
                requests.append(request)
    except (csv.Error, UnicodeDecodeError) as exc:
        errors.append(RowError(number + 1, "-", f"cannot read the file: {exc}"))
    if errors:
        raise ErasureFileError(filename, errors, len(errors))
    if not requests:
        raise ErasureFileError(filename, [RowError(2, "subscriber_id", "no request in the file")])
    return requests


def _request(
    number: int, cells: dict[str, str], default: str | None, errors: list[RowError]
) -> ErasureRequest | None:
    """The row as a request, or None with its problems added to ``errors``."""
    found = len(errors)
    subscriber = cells.get("subscriber_id", "")
    if not subscriber:
        errors.append(RowError(number, "subscriber_id", "missing"))
    elif len(subscriber) > 32 or any(c.isspace() for c in subscriber):
        errors.append(RowError(number, "subscriber_id", f"not a subscriber id: {subscriber!r}"))
    reason = cells.get("reason", "") or default or ""
    if not reason:
        errors.append(RowError(number, "reason", "missing (give it in the file or with --reason)"))
    elif len(reason) > MAX_REASON:
        errors.append(RowError(number, "reason", f"longer than {MAX_REASON} characters"))
    if len(errors) > found:
        return None
    return ErasureRequest(number, subscriber, reason)
