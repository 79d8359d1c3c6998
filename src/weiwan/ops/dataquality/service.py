"""Filing, listing, counting, reviewing and exporting data-quality reports.

Who sees what: analysts and the director every report, a centre head the reports of the
customers of their branches, a shift lead the reports their team filed, everyone else who
works with customers the reports they filed; the administrator none. A report outside the
caller's view is answered 404 like a missing one. Analysts, centre heads and directors review
(confirm / reject) and export the confirmed reports for the source system.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from weiwan.ops.base import utcnow
from weiwan.ops.contacts.models import Contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import find_customer
from weiwan.ops.dataquality.fields import (
    FIELD_CODES,
    NUMBER_FIELDS,
    SOURCE_TABLES,
    normalise_value,
    source_of,
)
from weiwan.ops.dataquality.models import OPEN_STATUSES, STATUSES, DataQualityReport
from weiwan.ops.dataquality.schemas import CountOut, ReportIn, ReportOut
from weiwan.ops.guard import transition as conditional_update
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import AuditAction, audit, mask_id_number, mask_phone
from weiwan.ops.scope import user_scope_clause

#: roles that review and export reports
REVIEWERS = (Role.ANALYST, Role.CENTRE_HEAD, Role.DIRECTOR)
MAX_ROWS = 5000


class DuplicateReportError(ConflictError):
    """The same subscriber, field and value is already reported and still open."""

    def __init__(self, report_id: int) -> None:
        self.report_id = report_id
        super().__init__(f"already reported and still open: report {report_id}")


@dataclass(frozen=True, slots=True)
class Filters:
    """What a list, a count or an export is cut to (all optional)."""

    status: str | None = None
    field: str | None = None
    source_table: str | None = None
    branch_id: int | None = None
    since: date | None = None
    until: date | None = None

    def check(self) -> None:
        """:class:`InvalidRequestError` naming the filter that has an unknown value."""
        for name, value, known in (
            ("status", self.status, STATUSES),
            ("field", self.field, FIELD_CODES),
            ("source_table", self.source_table, SOURCE_TABLES),
        ):
            if value is not None and value not in known:
                raise InvalidRequestError(f"one of {', '.join(known)}", field=name)
        if self.since and self.until and self.until < self.since:
            raise InvalidRequestError("the end is before the start", field="until")


def visible_clause(actor: Actor) -> ColumnElement[bool]:
    """Reports ``actor`` may see (see the module docstring); the administrator is refused."""
    if actor.role is Role.ADMIN:
        raise PermissionDeniedError("the administrator does not work with data-quality reports")
    if actor.role in (Role.ANALYST, Role.DIRECTOR):
        return true()
    if actor.role is Role.CENTRE_HEAD:
        return DataQualityReport.branch_id.in_(actor.branch_ids)
    if actor.role is Role.SHIFT_LEAD:
        return user_scope_clause(actor, DataQualityReport.reported_by)
    return DataQualityReport.reported_by == actor.user_id


def filtered(actor: Actor, filters: Filters, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    filters.check()
    r = DataQualityReport
    where = [visible_clause(actor)]
    if filters.status:
        where.append(r.status == filters.status)
    if filters.field:
        where.append(r.field == filters.field)
    if filters.source_table:
        where.append(r.source_table == filters.source_table)
    if filters.branch_id is not None:
        where.append(r.branch_id == filters.branch_id)
    if filters.since:
        where.append(r.reported_at >= datetime.combine(filters.since, time.min, tzinfo=tz))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time.min, tzinfo=tz)
        where.append(r.reported_at < end)
    return where


def _check_contact(session: Session, actor: Actor, contact_id: int, subscriber_id: str) -> None:
    found = session.scalar(
        select(Contact.id).where(
            Contact.id == contact_id,
            Contact.subscriber_id == subscriber_id,
            (Contact.user_id == actor.user_id) | user_scope_clause(actor, Contact.user_id),
        )
    )
    if found is None:
        raise InvalidRequestError(
            f"no contact {contact_id} with this customer in your scope", field="contact_id"
        )


def _open_duplicate(session: Session, subscriber_id: str, field: str, value: str) -> int | None:
    r = DataQualityReport
    return session.scalar(
        select(r.id).where(
            r.subscriber_id == subscriber_id,
            r.field == field,
            r.reported_value == value,
            r.status.in_(OPEN_STATUSES),
        )
    )


def file_report(session: Session, actor: Actor, body: ReportIn) -> DataQualityReport:
    """Store a report of wrong data. The value in the data is read from ``customer_view``;
    the reported value is checked and normalised for its field. An open report of the same
    subscriber, field and value is refused (:class:`DuplicateReportError`, nothing stored)."""
    actor.require_customer_work()
    source = source_of(body.field)
    value = normalise_value(body.field, body.reported_value)
    customer = find_customer(session, actor, body.subscriber_id)  # 404 outside the scope
    current_text = customer_value(customer, body.field)
    if current_text is not None and current_text == value:
        raise InvalidRequestError(
            "this is the value the data already holds", field="reported_value"
        )
    if body.contact_id is not None:
        _check_contact(session, actor, body.contact_id, customer.subscriber_id)
    existing = _open_duplicate(session, customer.subscriber_id, body.field, value)
    if existing is not None:
        raise DuplicateReportError(existing)
    report = DataQualityReport(
        subscriber_id=customer.subscriber_id,
        field=body.field,
        source_table=source.table,
        source_column=source.column,
        data_value=current_text,
        reported_value=value,
        note=(body.note or "").strip() or None,
        contact_id=body.contact_id,
        reported_by=actor.user_id,
        reported_at=utcnow(),
        branch_id=customer.branch_id,
        branch_code=customer.branch_code,
        status="new",
    )
    try:
        with session.begin_nested():  # a concurrent twin hits the partial unique index
            session.add(report)
    except IntegrityError as exc:
        twin = _open_duplicate(session, customer.subscriber_id, body.field, value)
        raise DuplicateReportError(twin or 0) from exc
    return report


def _shown(actor: Actor, field: str, value: str | None) -> str | None:
    if value is None or field not in NUMBER_FIELDS:
        return value
    return mask_phone(value, actor.role) if field == "msisdn" else mask_id_number(value, actor.role)


def report_out(actor: Actor, report: DataQualityReport, reporter: str | None) -> ReportOut:
    """The report as ``actor`` may see it (numbers masked per role)."""
    return ReportOut(
        id=report.id,
        subscriber_id=report.subscriber_id,
        field=report.field,
        source_table=report.source_table,
        source_column=report.source_column,
        data_value=_shown(actor, report.field, report.data_value),
        reported_value=_shown(actor, report.field, report.reported_value) or "",
        note=report.note,
        contact_id=report.contact_id,
        reported_by=report.reported_by,
        reported_by_name=reporter,
        reported_at=report.reported_at,
        branch_id=report.branch_id,
        branch_code=report.branch_code,
        status=report.status,
        reviewed_by=report.reviewed_by,
        reviewed_at=report.reviewed_at,
        review_note=report.review_note,
        exported_at=report.exported_at,
    )


def _with_names(where: Sequence[ColumnElement[bool]]) -> Select[DataQualityReport, str]:
    return (
        select(DataQualityReport, User.display_name)
        .join(User, User.id == DataQualityReport.reported_by)
        .where(*where)
    )


def list_reports(
    session: Session,
    actor: Actor,
    filters: Filters,
    tz: ZoneInfo,
    *,
    limit: int = 500,
    ip: str | None = None,
) -> list[ReportOut]:
    """The reports in view, newest first; audited as a personal-data view (the list shows
    phone and ID values)."""
    query = _with_names(filtered(actor, filters, tz))
    rows = session.execute(
        query.order_by(DataQualityReport.reported_at.desc(), DataQualityReport.id.desc()).limit(
            max(1, min(limit, MAX_ROWS))
        )
    ).all()
    out = [report_out(actor, report, name) for report, name in rows]
    audit(
        session,
        actor.user_id,
        AuditAction.PII_VIEW,
        target_type="data_quality_reports",
        detail={"rows": len(out), "filters": filters_detail(filters)},
        ip=ip,
    )
    return out


def filters_detail(filters: Filters) -> dict[str, Any]:
    """The filters that are set, as JSON-ready values (for audit rows and export batches)."""
    return {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in (
            ("status", filters.status),
            ("field", filters.field),
            ("source_table", filters.source_table),
            ("branch_id", filters.branch_id),
            ("since", filters.since),
            ("until", filters.until),
        )
        if v is not None
    }


def counts(session: Session, actor: Actor, filters: Filters, tz: ZoneInfo) -> list[CountOut]:
    """Reports in view by source table × branch, with their statuses."""
    r = DataQualityReport
    rows = session.execute(
        select(r.source_table, r.branch_id, r.branch_code, r.status, func.count())
        .where(*filtered(actor, filters, tz))
        .group_by(r.source_table, r.branch_id, r.branch_code, r.status)
    ).all()
    cells: dict[tuple[str, int | None], dict[str, Any]] = {}
    for table, branch_id, branch_code, status, number in rows:
        cell = cells.setdefault(
            (table, branch_id),
            {"source_table": table, "branch_id": branch_id, "branch_code": branch_code}
            | dict.fromkeys(STATUSES, 0),
        )
        cell[status] += number
        cell["branch_code"] = cell["branch_code"] or branch_code
    return [
        CountOut(total=sum(c[s] for s in STATUSES), **c)
        for _key, c in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[1]["branch_code"] or ""))
    ]


def _find(session: Session, actor: Actor, report_id: int) -> DataQualityReport:
    report = session.scalar(
        select(DataQualityReport)
        .where(DataQualityReport.id == report_id, visible_clause(actor))
        .with_for_update()
    )
    if report is None:
        raise NotFoundError(f"data-quality report {report_id} not found")
    return report


def get_report(session: Session, actor: Actor, report_id: int) -> ReportOut:
    """One report in view (404 otherwise)."""
    row = session.execute(
        _with_names([DataQualityReport.id == report_id, visible_clause(actor)])
    ).first()
    if row is None:
        raise NotFoundError(f"data-quality report {report_id} not found")
    return report_out(actor, row[0], row[1])


def review(
    session: Session, actor: Actor, report_id: int, decision: str, note: str | None = None
) -> ReportOut:
    """Confirm or reject a report. Doing again what is done changes nothing; a rejected
    report cannot be confirmed, an exported one neither confirmed nor rejected (409)."""
    actor.require(*REVIEWERS)
    if decision not in ("confirmed", "rejected"):
        raise InvalidRequestError("confirmed or rejected", field="decision")
    report = _find(session, actor, report_id)
    if report.status != decision:
        allowed = {"confirmed": ("new",), "rejected": ("new", "confirmed")}[decision]
        if report.status not in allowed:
            raise ConflictError(f"report {report_id} is {report.status}")
        # conditional on the status read (FOR UPDATE is a no-op on SQLite)
        if not conditional_update(
            session, DataQualityReport, report.id, {"status": report.status}, {"status": decision}
        ):
            raise ConflictError(f"report {report_id} was reviewed meanwhile; reload it")
        report.reviewed_by = actor.user_id
        report.reviewed_at = utcnow()
        report.review_note = (note or "").strip() or None
        session.flush()
    name = session.scalar(select(User.display_name).where(User.id == report.reported_by))
    return report_out(actor, report, name)


def customer_value(customer: CustomerView, field: str) -> str | None:
    """The value the data holds for ``field`` (what a report would store)."""
    column = source_of(field).view_column
    value = getattr(customer, column) if column else None
    return None if value is None else str(value)
