"""Outbound call lists for external dialers (外呼平台) and the import of their results.

Export: the open outbound-call tasks in the caller's scope with what the dialer and its agents
need (full number — export is a permission and is audited — name, policy and script).
Import: a CSV or Excel file of results, one row per call. Every row is validated before
anything is stored; a file with errors stores nothing and the answer lists each error with its
row and column. Re-importing the same file changes nothing (a call is identified by task and
time). A row whose acceptance loses to another channel is reported, the rest are stored.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, InvalidRequestError, WeiwanError
from weiwan.core.tabular_export import Sheet, csv_bytes, xlsx_bytes
from weiwan.ops.contacts.models import Contact
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.tasks.models import Task
from weiwan.ops.tasks.service import task_scope_clause

CALL_LIST_COLUMNS = (
    "task_id",
    "subscriber_id",
    "msisdn",
    "name",
    "value_tier",
    "risk_band",
    "policy_id",
    "policy_name",
    "script",
    "due_at",
)
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
MAX_IMPORT_ROWS = 100_000


def call_list(
    session: Session, actor: Actor, *, branch_id: int | None = None, lang: str = "zh"
) -> list[dict[str, Any]]:
    """Open outbound-call tasks in scope, most urgent first (export permission; audited)."""
    actor.require_export()
    query = (
        select(Task, CustomerView, PublishedPolicy)
        .join(CustomerView, CustomerView.subscriber_id == Task.subscriber_id)
        .outerjoin(PublishedPolicy, PublishedPolicy.policy_id == Task.policy_id)
        .where(Task.channel == "outbound_call", Task.status == "open", task_scope_clause(actor))
        .order_by(Task.due_at.asc().nulls_last(), Task.priority.desc(), Task.id)
    )
    if branch_id is not None:
        query = query.where(Task.branch_id == branch_id)
    rows = []
    for task, customer, policy in session.execute(query):
        rows.append(
            {
                "task_id": task.id,
                "subscriber_id": task.subscriber_id,
                "msisdn": customer.msisdn,
                "name": customer.name,
                "value_tier": customer.value_tier,
                "risk_band": customer.risk_band,
                "policy_id": task.policy_id,
                "policy_name": (policy.name_en if lang == "en" else policy.name_zh)
                if policy
                else None,
                "script": (policy.script_en if lang == "en" else policy.script_zh)
                if policy
                else None,
                "due_at": task.due_at.isoformat() if task.due_at else None,
            }
        )
    audit(
        session,
        actor.user_id,
        AuditAction.EXPORT,
        "call_list",
        None,
        {"rows": len(rows), "branch_id": branch_id},
    )
    return rows


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> bytes:
    """UTF-8 CSV with a BOM (Excel opens Chinese text correctly); text never a formula."""
    return csv_bytes(columns, ([row.get(c) for c in columns] for row in rows))


def to_xlsx(rows: Sequence[dict[str, Any]], columns: Sequence[str], sheet: str) -> bytes:
    """An Excel workbook with one sheet; text cells are text, never formulas."""
    return xlsx_bytes([Sheet(sheet, columns, ([row.get(c) for c in columns] for row in rows))])


# --- import ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an imported file."""

    row: int
    column: str
    message: str


@dataclass
class ImportResult:
    """What an import did."""

    rows: int = 0
    recorded: int = 0
    unchanged: int = 0
    blocked: int = 0
    conflicts: list[RowError] = field(default_factory=list)


class ImportFileError(WeiwanError):
    """The file cannot be imported; ``errors`` name each row and column."""

    def __init__(self, filename: str, errors: list[RowError]) -> None:
        self.filename = filename
        self.errors = errors
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{filename}: row {first.row}, {first.column}: {first.message}{more}")


def _read_rows(filename: str, content: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, cells by lower-cased header)."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
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
        return
    text = content.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
    for number, cells in enumerate(reader, start=2):
        yield number, {k: (v or "") for k, v in cells.items() if k is not None}


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
            message = problem["msg"].removeprefix("Value error, ")
            errors.append(RowError(number, "outcome", message))
        return None, errors


def import_results(
    session: Session, actor: Actor, filename: str, content: bytes, *, tz: ZoneInfo
) -> ImportResult:
    """Validate every row, then record each call through :func:`record_call`."""
    actor.require_customer_work()
    parsed: list[tuple[int, CallIn]] = []
    errors: list[RowError] = []
    header_checked = False
    try:
        rows = list(_read_rows(filename, content))
    except (
        csv.Error,
        UnicodeDecodeError,
        ValueError,
        KeyError,
        zipfile.BadZipFile,
        InvalidFileException,
    ) as exc:
        raise ImportFileError(filename, [RowError(1, "-", f"cannot read the file: {exc}")]) from exc
    for number, cells in rows:
        if not header_checked:
            missing = [c for c in REQUIRED_RESULT_COLUMNS if c not in cells]
            if missing:
                raise ImportFileError(filename, [RowError(1, c, "column missing") for c in missing])
            header_checked = True
        if len(parsed) + len(errors) >= MAX_IMPORT_ROWS:
            raise ImportFileError(
                filename, [RowError(number, "-", f"more than {MAX_IMPORT_ROWS} rows")]
            )
        call, row_errors = _parse_row(number, cells, tz)
        errors.extend(row_errors)
        if call is not None:
            parsed.append((number, call))
    tasks = {
        t.id: t
        for t in session.scalars(
            select(Task).where(
                Task.id.in_([c.task_id for _, c in parsed]), task_scope_clause(actor)
            )
        )
    }
    for number, call in parsed:
        task = tasks.get(call.task_id or -1)
        if task is None or task.channel != "outbound_call":
            errors.append(
                RowError(number, "task_id", f"no outbound task {call.task_id} in your scope")
            )
    if errors:
        raise ImportFileError(filename, errors)
    result = ImportResult(rows=len(parsed))
    for number, call in parsed:
        task = tasks[call.task_id or -1]
        seen = session.scalar(
            select(Contact.id).where(Contact.task_id == task.id, Contact.at == call.at)
        )
        if seen is not None or task.status != "open":
            result.unchanged += 1
            continue
        body = call.model_copy(update={"subscriber_id": task.subscriber_id})
        try:
            with session.begin_nested():
                record = record_call(session, actor, body, tz=tz)
        except (ConflictError, InvalidRequestError) as exc:
            result.conflicts.append(RowError(number, "outcome", str(exc)))
            continue
        result.recorded += 1
        result.blocked += not record.verdict.allowed
    return result
