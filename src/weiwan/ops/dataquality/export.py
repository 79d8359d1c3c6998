"""The correction file: confirmed reports as the CSV a CRM correction load takes, marked
exported in the same transaction and audited (see docs/data-quality.md)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.dataquality.fields import NUMBER_FIELDS
from weiwan.ops.dataquality.models import DataQualityReport
from weiwan.ops.dataquality.service import REVIEWERS, Filters, filtered
from weiwan.ops.org.access import Actor
from weiwan.ops.org.service import AuditAction, audit

#: the columns of the correction file a CRM load takes
CSV_COLUMNS = (
    "subscriber_id",
    "table",
    "column",
    "current_value",
    "reported_value",
    "reported_at",
)


@dataclass(frozen=True, slots=True)
class Export:
    """The correction file and what it holds."""

    csv_text: str
    report_ids: list[int]
    withheld: int


def export_corrections(
    session: Session, actor: Actor, filters: Filters, tz: ZoneInfo, *, ip: str | None = None
) -> Export:
    """The confirmed reports in view as the CSV a CRM correction load takes, marked exported,
    audited. Phone and ID reports are withheld (stay confirmed) from a role that may not see
    full numbers: their masked values could not correct anything."""
    actor.require(*REVIEWERS)
    actor.require_export()
    r = DataQualityReport
    where = filtered(actor, replace(filters, status="confirmed"), tz)
    reports = list(
        session.scalars(select(r).where(*where).order_by(r.reported_at, r.id).with_for_update())
    )
    full = actor.permissions.may_see_full_numbers
    chosen = [rep for rep in reports if full or rep.field not in NUMBER_FIELDS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    now = utcnow()
    for rep in chosen:
        writer.writerow(
            [
                rep.subscriber_id,
                rep.source_table,
                rep.source_column or "",
                rep.data_value or "",
                rep.reported_value,
                as_utc(rep.reported_at).astimezone(tz).isoformat(timespec="seconds"),
            ]
        )
        rep.status = "exported"
        rep.exported_by = actor.user_id
        rep.exported_at = now
    session.flush()
    ids = [rep.id for rep in chosen]
    audit(
        session,
        actor.user_id,
        AuditAction.EXPORT,
        target_type="data_quality_reports",
        detail={
            "format": "csv",
            "rows": len(ids),
            "report_ids": ids[:1000],
            "withheld": len(reports) - len(chosen),
        },
        ip=ip,
    )
    return Export(buffer.getvalue(), ids, len(reports) - len(chosen))
