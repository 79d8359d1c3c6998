"""The CRM's consents and objections as a CSV file: ``weiwan consents import FILE``.

Why an import into the operational database rather than a table of the data contract: the
ledger is enforced on the operational side (contact checks, SMS sends, real-time events) and
must hold there from the moment the CRM's word is known, while a contract table reaches the
operational side only through the next daily publish; ingest also quarantines bad rows and
loads the rest, where a consent file must load whole or not at all. So the file goes where the
other operator files about contacts go (the dialer's results, ``contacts/dialer.py``): every
row checked first, errors named by file, row and column; and the daily run collects the
ledger into the warehouse like the do-not-disturb wishes.

Format (UTF-8, header row, one statement per row; the columns in any order):

- ``subscriber_id`` — required;
- ``purpose`` — ``marketing_sms``, ``outbound_call`` or ``automated_decision``;
- ``channel`` — a channel of the purpose, or ``all`` (blank: ``all``);
- ``state`` — ``consent`` or ``objection``;
- ``effective_at`` — when the statement took effect: ``YYYY-MM-DD`` (the start of that day),
  ``YYYY-MM-DD HH:MM[:SS]`` in the centre's time zone, or ISO 8601 with an offset; not in the
  future;
- ``reference`` — optional, the CRM's record id (at most 100 characters).

A file with any error stores nothing. A valid file is stored in one transaction: every
statement not stored before (the same subscriber, purpose, channel, state, time and source
``crm_import``), so importing the same file again changes nothing; a statement sets the
current state unless one in effect later holds it.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from weiwan.core.consent_rules import ALL_CHANNELS, check_statement
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.consents.service import MAX_FUTURE, Statement, record_statements
from weiwan.ops.imports import ImportFileError, RowError, csv_rows
from weiwan.ops.org.service import AuditAction, audit

SOURCE = "crm_import"
COLUMNS = ("subscriber_id", "purpose", "channel", "state", "effective_at", "reference")
REQUIRED = ("subscriber_id", "purpose", "state", "effective_at")
#: statements recorded per round of queries (all in one transaction)
BATCH = 1000


class ConsentFileError(ImportFileError):
    """The consents file cannot be imported; nothing was stored."""


@dataclass
class ImportResult:
    """What an import stored: rows read, statements recorded, rows already stored (or twice
    in the file), and the file's SHA-256."""

    rows: int = 0
    recorded: int = 0
    unchanged: int = 0
    sha256: str = ""


def _rows(filename: str, content: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, cells by lower-cased header), one at a time."""
    return csv_rows(filename, content, REQUIRED, ConsentFileError)


def _moment(text: str, tz: ZoneInfo) -> datetime:
    """``effective_at`` as an aware datetime (a date: the start of that local day)."""
    cleaned = text.replace("/", "-")
    if len(cleaned) == 10:
        return datetime.combine(date.fromisoformat(cleaned), time(0, 0), tzinfo=tz)
    value = datetime.fromisoformat(cleaned)
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _statement(
    number: int, cells: dict[str, str], tz: ZoneInfo, now: datetime
) -> tuple[Statement | None, list[RowError]]:
    """The row as a statement, or its errors (each naming the column)."""
    errors: list[RowError] = []
    subscriber = cells.get("subscriber_id", "")
    if not subscriber:
        errors.append(RowError(number, "subscriber_id", "missing"))
    elif len(subscriber) > 32 or any(c.isspace() for c in subscriber):
        errors.append(RowError(number, "subscriber_id", f"not a subscriber id: {subscriber!r}"))
    purpose = cells.get("purpose", "")
    channel = cells.get("channel", "") or ALL_CHANNELS
    state = cells.get("state", "")
    problem = check_statement(purpose, channel, state)
    if problem is not None:
        column, _, message = problem.partition(": ")
        given = {"purpose": purpose, "channel": channel, "state": state}[column]
        errors.append(RowError(number, column, f"{given!r} is not valid; {message}"))
    effective: datetime | None = None
    text = cells.get("effective_at", "")
    if not text:
        errors.append(RowError(number, "effective_at", "missing"))
    else:
        try:
            effective = as_utc(_moment(text, tz))
        except ValueError:
            errors.append(
                RowError(number, "effective_at", f"not a date or a date and time: {text!r}")
            )
        if effective is not None and effective > now + MAX_FUTURE:
            errors.append(RowError(number, "effective_at", f"in the future: {text!r}"))
    reference = cells.get("reference") or None
    if reference is not None and len(reference) > 100:
        errors.append(RowError(number, "reference", "longer than 100 characters"))
    if errors or effective is None:
        return None, errors
    return Statement(subscriber, purpose, channel, state, SOURCE, effective, reference), []


def _statements(
    filename: str, content: IO[bytes], tz: ZoneInfo, now: datetime, errors: list[RowError]
) -> Iterator[Statement]:
    """The file's valid statements, one at a time; the problems go to ``errors``. Raises
    :class:`ConsentFileError` for a file that cannot be read."""
    number = 1
    try:
        for number, cells in _rows(filename, content):
            statement, problems = _statement(number, cells, tz, now)
            errors.extend(problems)
            if statement is not None:
                yield statement
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ConsentFileError(
            filename, [RowError(number + 1, "-", f"cannot read the file: {exc}")]
        ) from exc


def _sha256(content: IO[bytes]) -> str:
    content.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: content.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def import_consents(
    session: Session,
    filename: str,
    content: IO[bytes],
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> ImportResult:
    """Check every row of the (seekable) file, then record its statements (not committed: the
    caller commits once, so a failure stores nothing); audited as one ``consent`` event with
    the counts and the file's SHA-256. :class:`ConsentFileError` lists the problems."""
    now = as_utc(now or utcnow())
    errors: list[RowError] = []
    rows = sum(1 for _ in _statements(filename, content, tz, now, errors))
    if errors:
        raise ConsentFileError(filename, errors, len(errors))
    result = ImportResult(rows=rows, sha256=_sha256(content))
    batch: list[Statement] = []
    for statement in _statements(filename, content, tz, now, []):
        batch.append(statement)
        if len(batch) >= BATCH:
            _record(session, batch, now, result)
            batch = []
    _record(session, batch, now, result)
    audit(
        session,
        None,
        AuditAction.CONSENT,
        "consent_import",
        filename[:128],
        {
            "rows": result.rows,
            "recorded": result.recorded,
            "unchanged": result.unchanged,
            "sha256": result.sha256,
            "source": SOURCE,
        },
    )
    return result


def _record(session: Session, batch: list[Statement], now: datetime, result: ImportResult) -> None:
    if batch:
        recorded = record_statements(session, batch, recorded_by=None, now=now)
        result.recorded += len(recorded.events)
        result.unchanged += recorded.unchanged
