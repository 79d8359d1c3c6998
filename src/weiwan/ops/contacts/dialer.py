"""The import of an external dialer's results (外呼平台): a CSV or Excel file, one row per call.

Read row by row. Every row is validated before anything is stored; a file with errors stores
nothing and the answer lists each error with its row and column; the rows are then recorded in
batches. Re-importing the same file changes nothing (a call is identified by task and time). A
row whose acceptance loses to another channel is reported, the rest are stored. (The call list
the dialer works from is exported by ``tasks/dialer.py``.)
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import ContactRules
from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError
from weiwan.ops.contacts.models import Contact
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.imports import MAX_LISTED_ERRORS, ImportFileError, RowError
from weiwan.ops.org.access import Actor
from weiwan.ops.scope import task_scope_clause
from weiwan.ops.tasks.models import Task

RESULT_COLUMNS = (
    "task_id",
    "called_at",
    "outcome",
    "refusal_reason",
    "call_back_at",
    "policy_id",
    "note",
)
REQUIRED_RESULT_COLUMNS = ("task_id", "called_at", "outcome")

# --- import ----------------------------------------------------------------------------------
#
# The file is read twice from its (spooled) upload, row by row, never whole into memory: the
# first pass checks every row and that every task is an outbound task in the caller's scope;
# only a file without errors is recorded, in a second pass, ``batch_rows`` rows per
# transaction (the SQLite write lock is held for one batch at a time). A call is keyed by task
# and time, so re-importing a file, or the rest of one whose import stopped half-way, records
# each call once.

#: task ids checked per query
TASK_CHUNK = 500
#: an Excel file may unpack to at most this many times the upload cap (zip bombs)
MAX_XLSX_EXPANSION = 20
#: CallIn fields as the columns of the file
_COLUMN_OF_FIELD = {"at": "called_at", "outcomes": "outcome", "task_id": "task_id", "note": "note"}


@dataclass
class ImportResult:
    """What an import did."""

    rows: int = 0
    recorded: int = 0
    unchanged: int = 0
    #: calls recorded although a contact rule advised against them (audited)
    over_rule: int = 0
    conflicts: list[RowError] = field(default_factory=list)


class _Errors:
    """The errors of one file: the first :data:`MAX_LISTED_ERRORS` kept, all counted."""

    def __init__(self) -> None:
        self.listed: list[RowError] = []
        self.total = 0

    def add(self, *errors: RowError) -> None:
        self.total += len(errors)
        self.listed.extend(errors[: max(0, MAX_LISTED_ERRORS - len(self.listed))])


def _is_excel(filename: str) -> bool:
    return filename.lower().endswith((".xlsx", ".xlsm"))


def _check_unpacked_size(filename: str, content: IO[bytes], limit: int) -> None:
    """Refuse a workbook whose parts unpack to more than ``limit`` bytes."""
    with zipfile.ZipFile(content) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    content.seek(0)
    if unpacked > limit:
        raise ImportFileError(
            filename, [RowError(1, "-", f"the workbook unpacks to more than {limit:,} bytes")]
        )


def _read_rows(filename: str, content: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, cells by lower-cased header), one at a time."""
    content.seek(0)
    if _is_excel(filename):
        book = load_workbook(content, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = [str(h or "").strip().lower() for h in next(rows, ())]
            for number, values in enumerate(rows, start=2):
                cells = {
                    header[i]: (
                        "" if v is None else v.isoformat() if isinstance(v, datetime) else str(v)
                    )
                    for i, v in enumerate(values)
                    if i < len(header)
                }
                if any(c.strip() for c in cells.values()):
                    yield number, cells
        finally:
            book.close()
        return
    text = io.TextIOWrapper(content, encoding="utf-8-sig", newline="")
    try:
        reader = csv.DictReader(text)
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
        for number, cells in enumerate(reader, start=2):
            yield number, {k: (v or "") for k, v in cells.items() if k is not None}
    finally:
        text.detach()  # the upload stays open for the next pass


def _moment(text: str, tz: ZoneInfo) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("/", "-"))
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _parse_row(
    number: int, cells: dict[str, str], tz: ZoneInfo
) -> tuple[CallIn | None, list[RowError]]:
    errors: list[RowError] = []

    def value(name: str) -> str | None:
        text = (cells.get(name) or "").strip()
        return text or None

    task_text = value("task_id")
    if task_text is None or not task_text.isdigit():
        errors.append(RowError(number, "task_id", f"not a task number: {task_text!r}"))
    moments: dict[str, datetime | None] = {}
    for name in ("called_at", "call_back_at"):
        text = value(name)
        try:
            moments[name] = _moment(text, tz) if text else None
        except ValueError:
            errors.append(RowError(number, name, f"not a date and time: {text!r}"))
    if value("called_at") is None:
        errors.append(RowError(number, "called_at", "missing"))
    kinds = [k.strip() for k in (value("outcome") or "").replace(";", "|").split("|") if k.strip()]
    if not kinds:
        errors.append(RowError(number, "outcome", "missing"))
    if errors:
        return None, errors
    try:
        outcomes = [
            OutcomeIn(
                outcome=kind,
                refusal_reason=value("refusal_reason") if kind == "refused" else None,
                call_back_at=moments["call_back_at"] if kind == "call_back" else None,
                policy_id=value("policy_id") if kind == "accepted" else None,
            )
            for kind in kinds
        ]
        return (
            CallIn(
                subscriber_id="-",  # filled from the task
                channel="outbound_call",
                task_id=int(str(task_text)),
                outcomes=outcomes,
                note=value("note"),
                at=moments["called_at"],
            ),
            [],
        )
    except ValidationError as exc:
        for problem in exc.errors():
            where = str(problem["loc"][0]) if problem["loc"] else "outcome"
            message = problem["msg"].removeprefix("Value error, ")
            errors.append(RowError(number, _COLUMN_OF_FIELD.get(where, "outcome"), message))
        return None, errors


def _parsed_rows(
    filename: str, content: IO[bytes], tz: ZoneInfo, max_rows: int, errors: _Errors
) -> Iterator[tuple[int, CallIn]]:
    """The valid rows of the file, one at a time; the invalid ones go to ``errors``. Stops
    with :class:`ImportFileError` at an unreadable file, a missing column or row
    ``max_rows + 1``."""
    count = 0
    try:
        for number, cells in _read_rows(filename, content):
            if count == 0:
                missing = [c for c in REQUIRED_RESULT_COLUMNS if c not in cells]
                if missing:
                    raise ImportFileError(
                        filename, [RowError(1, c, "column missing") for c in missing]
                    )
            count += 1
            if count > max_rows:
                raise ImportFileError(
                    filename,
                    [
                        RowError(
                            number,
                            "-",
                            f"more than {max_rows:,} rows (setting import_max_rows): "
                            "split the file; nothing was stored",
                        )
                    ],
                )
            call, row_errors = _parse_row(number, cells, tz)
            errors.add(*row_errors)
            if call is not None:
                yield number, call
    except (
        csv.Error,
        UnicodeDecodeError,
        ValueError,
        KeyError,
        zipfile.BadZipFile,
        InvalidFileException,
    ) as exc:
        raise ImportFileError(
            filename, [RowError(count + 2 if count else 1, "-", f"cannot read the file: {exc}")]
        ) from exc


def _chunks(rows: Iterator[tuple[int, CallIn]], size: int) -> Iterator[list[tuple[int, CallIn]]]:
    chunk: list[tuple[int, CallIn]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _tasks_in_scope(session: Session, actor: Actor, ids: set[int]) -> dict[int, Task]:
    """The outbound tasks among ``ids`` that the actor may work."""
    return {
        t.id: t
        for t in session.scalars(
            select(Task).where(
                Task.id.in_(sorted(ids)),
                Task.channel == "outbound_call",
                task_scope_clause(actor),
            )
        )
    }


def _check_file(
    session: Session, actor: Actor, filename: str, content: IO[bytes], tz: ZoneInfo, max_rows: int
) -> int:
    """First pass: every row valid and naming an outbound task in scope, else
    :class:`ImportFileError` with each problem. The number of rows."""
    errors = _Errors()
    rows = 0
    for chunk in _chunks(_parsed_rows(filename, content, tz, max_rows, errors), TASK_CHUNK):
        rows += len(chunk)
        known = _tasks_in_scope(session, actor, {c.task_id or -1 for _, c in chunk})
        errors.add(
            *(
                RowError(number, "task_id", f"no outbound task {call.task_id} in your scope")
                for number, call in chunk
                if call.task_id not in known
            )
        )
    if errors.total:
        errors.listed.sort(key=lambda e: e.row)
        raise ImportFileError(filename, errors.listed, errors.total)
    return rows


def _begin(session: Session) -> None:
    """Begin the batch's transaction. pysqlite begins one only at the first write, so the
    first row's savepoint would begin its own and its release commit that row alone: one
    commit (and fsync) per row, ~6 ms each, instead of one per batch."""
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and raw is not None and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN")


def _record_batch(
    session: Session,
    actor: Actor,
    batch: list[tuple[int, CallIn]],
    tz: ZoneInfo,
    rules: ContactRules,
    result: ImportResult,
) -> None:
    _begin(session)
    tasks = _tasks_in_scope(session, actor, {c.task_id or -1 for _, c in batch})
    for number, call in batch:
        task = tasks.get(call.task_id or -1)
        if task is None:  # gone or moved out of scope since the first pass
            message = f"no outbound task {call.task_id} in your scope"
            result.conflicts.append(RowError(number, "task_id", message))
            continue
        seen = session.scalar(
            select(Contact.id).where(Contact.task_id == task.id, Contact.at == call.at)
        )
        if seen is not None or task.status != "open":
            result.unchanged += 1
            continue
        body = call.model_copy(update={"subscriber_id": task.subscriber_id})
        try:
            with session.begin_nested():
                record = record_call(session, actor, body, tz=tz, rules=rules)
        except (ConflictError, InvalidRequestError, NotFoundError) as exc:
            result.conflicts.append(RowError(number, "outcome", str(exc)))
            continue
        result.recorded += 1
        result.over_rule += record.contact.over_rule is not None


def import_results(
    session: Session,
    actor: Actor,
    filename: str,
    content: IO[bytes],
    *,
    tz: ZoneInfo,
    max_rows: int = 50_000,
    batch_rows: int = 100,
    max_bytes: int = 5 * 1024 * 1024,
) -> ImportResult:
    """Check every row of the (seekable) file, then record each call through
    :func:`record_call`, committing every ``batch_rows`` rows. Blocking: routes run it in a
    worker thread."""
    actor.require_customer_work()
    if _is_excel(filename):
        try:
            _check_unpacked_size(filename, content, max_bytes * MAX_XLSX_EXPANSION)
        except zipfile.BadZipFile as exc:
            raise ImportFileError(
                filename, [RowError(1, "-", f"cannot read the file: {exc}")]
            ) from exc
    rows = _check_file(session, actor, filename, content, tz, max_rows)
    session.commit()  # end the first pass's read transaction
    result = ImportResult(rows=rows)
    rules = current_rules(session)
    unused = _Errors()  # the first pass found none
    for batch in _chunks(_parsed_rows(filename, content, tz, max_rows, unused), batch_rows):
        _record_batch(session, actor, batch, tz, rules, result)
        session.commit()
    return result
