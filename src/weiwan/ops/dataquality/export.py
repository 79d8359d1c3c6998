"""The correction file: confirmed reports as the CSV a CRM correction load takes, marked
exported and audited, and kept as an export batch that can be downloaded again (see
docs/data-quality.md).

A batch stores who exported, when, with which filters, how many reports, and the report ids
in file order, not the file: an exported report is final (its values never change after
filing and ``exported`` is its last status), so the file rebuilt from the batch's reports
holds the same rows, while the database keeps no second copy of every number in it. Who may
download a batch again: a reviewer who may export and who sees every report in it (a batch
holding phone or ID corrections only for a role that sees full numbers); any other batch is
answered 404 like a missing one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, select, true
from sqlalchemy.orm import Session

from weiwan.core.errors import NotFoundError
from weiwan.core.tabular_export import csv_text
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.dataquality.fields import NUMBER_FIELDS
from weiwan.ops.dataquality.models import (
    DataQualityExportBatch,
    DataQualityExportItem,
    DataQualityReport,
)
from weiwan.ops.dataquality.schemas import ExportBatchOut
from weiwan.ops.dataquality.service import (
    REVIEWERS,
    Filters,
    filtered,
    filters_detail,
    visible_clause,
)
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import User
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
    """The correction file, what it holds and its batch (``None`` when it holds nothing)."""

    csv_text: str
    report_ids: list[int]
    withheld: int
    batch_id: int | None = None


def correction_csv(reports: Sequence[DataQualityReport], tz: ZoneInfo) -> str:
    """The correction file of ``reports`` in their order (text never a formula)."""
    return csv_text(
        CSV_COLUMNS,
        (
            [
                rep.subscriber_id,
                rep.source_table,
                rep.source_column or "",
                rep.data_value or "",
                rep.reported_value,
                as_utc(rep.reported_at).astimezone(tz).isoformat(timespec="seconds"),
            ]
            for rep in reports
        ),
    )


def export_corrections(
    session: Session, actor: Actor, filters: Filters, tz: ZoneInfo, *, ip: str | None = None
) -> Export:
    """The confirmed reports in view as the CSV a CRM correction load takes, marked exported,
    stored as an export batch, audited. Phone and ID reports are withheld (stay confirmed)
    from a role that may not see full numbers: their masked values could not correct
    anything."""
    actor.require(*REVIEWERS)
    actor.require_export()
    r = DataQualityReport
    where = filtered(actor, replace(filters, status="confirmed"), tz)
    reports = list(
        session.scalars(select(r).where(*where).order_by(r.reported_at, r.id).with_for_update())
    )
    full = actor.permissions.may_see_full_numbers
    chosen = [rep for rep in reports if full or rep.field not in NUMBER_FIELDS]
    withheld = len(reports) - len(chosen)
    now = utcnow()
    for rep in chosen:
        rep.status = "exported"
        rep.exported_by = actor.user_id
        rep.exported_at = now
    batch_id = None
    if chosen:
        batch = DataQualityExportBatch(
            exported_by=actor.user_id,
            exported_at=now,
            filters=json.dumps(filters_detail(filters), ensure_ascii=False),
            rows=len(chosen),
            withheld=withheld,
        )
        session.add(batch)
        session.flush()
        batch_id = batch.id
        session.add_all(
            DataQualityExportItem(batch_id=batch.id, report_id=rep.id, position=position)
            for position, rep in enumerate(chosen, start=1)
        )
    session.flush()
    ids = [rep.id for rep in chosen]
    audit(
        session,
        actor.user_id,
        AuditAction.EXPORT,
        target_type="data_quality_reports",
        target_id=str(batch_id) if batch_id else None,
        detail={
            "format": "csv",
            "rows": len(ids),
            "batch_id": batch_id,
            "report_ids": ids[:1000],
            "withheld": withheld,
        },
        ip=ip,
    )
    return Export(correction_csv(chosen, tz), ids, withheld, batch_id)


def batch_visible_clause(actor: Actor) -> ColumnElement[bool]:
    """Batches ``actor`` may list and download again (see the module docstring)."""
    actor.require(*REVIEWERS)
    actor.require_export()
    item, rep = DataQualityExportItem, DataQualityReport
    of_batch = (
        select(item.report_id)
        .join(rep, rep.id == item.report_id)
        .where(item.batch_id == DataQualityExportBatch.id)
    )
    hidden = ~exists(of_batch.where(visible_clause(actor).is_not(true())))
    if actor.permissions.may_see_full_numbers:
        return hidden
    return hidden & ~exists(of_batch.where(rep.field.in_(NUMBER_FIELDS)))


def list_batches(session: Session, actor: Actor, *, limit: int = 50) -> list[ExportBatchOut]:
    """The export batches the actor may download again, newest first."""
    b = DataQualityExportBatch
    rows = session.execute(
        select(b, User.display_name)
        .outerjoin(User, User.id == b.exported_by)
        .where(batch_visible_clause(actor))
        .order_by(b.exported_at.desc(), b.id.desc())
        .limit(max(1, min(limit, 500)))
    ).all()
    return [
        ExportBatchOut(
            id=batch.id,
            exported_by=batch.exported_by,
            exported_by_name=name,
            exported_at=batch.exported_at,
            filters=json.loads(batch.filters or "{}"),
            rows=batch.rows,
            withheld=batch.withheld,
        )
        for batch, name in rows
    ]


def download_batch(
    session: Session, actor: Actor, batch_id: int, tz: ZoneInfo, *, ip: str | None = None
) -> Export:
    """The correction file of an earlier export again, same rows in the same order; audited
    as an export. A batch outside the actor's view is answered 404 like a missing one."""
    b = DataQualityExportBatch
    batch = session.scalar(select(b).where(b.id == batch_id, batch_visible_clause(actor)))
    if batch is None:
        raise NotFoundError(f"export batch {batch_id} not found")
    item = DataQualityExportItem
    reports = list(
        session.scalars(
            select(DataQualityReport)
            .join(item, item.report_id == DataQualityReport.id)
            .where(item.batch_id == batch.id)
            .order_by(item.position)
        )
    )
    ids = [rep.id for rep in reports]
    audit(
        session,
        actor.user_id,
        AuditAction.EXPORT,
        target_type="data_quality_export_batch",
        target_id=str(batch.id),
        detail={"format": "csv", "rows": len(ids), "batch_id": batch.id, "again": True},
        ip=ip,
    )
    return Export(correction_csv(reports, tz), ids, batch.withheld, batch.id)
