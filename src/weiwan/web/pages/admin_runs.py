"""The daily runs page (/admin/runs): administrators and directors see each `weiwan daily` run
with its steps (duration, rows), warnings and the error with its step; Excel."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from weiwan.ops.runs import alerts, service
from weiwan.ops.runs.models import RunAlert
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import label
from weiwan.web.pages.deps import Db, LocalTz, PageActor, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

STATUSES: dict[str, Any] = {
    "running": _l("Running"),
    "succeeded": _l("Succeeded"),
    "failed": _l("Failed"),
    "partly_failed": _l("Partly failed"),
    "done": _l("Done"),
    "skipped": _l("Done in an earlier run"),
}
STEPS: dict[str, Any] = {
    "ingest": _l("Ingest"),
    "pipeline": _l("Daily pipeline"),
    "publish": _l("Publish"),
    "hand_over": _l("Hand-over (tasks)"),
    "close_periods": _l("Close periods"),
}
ALERT_KINDS: dict[str, Any] = {
    "failed": _l("Run failed"),
    "late": _l("Publication late"),
}
PAGE_SIZE = 100


@router.get("/admin/runs", response_class=HTMLResponse)
def daily_runs(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """The latest daily runs, newest first, one row per step."""
    views = service.list_runs(db, actor, PAGE_SIZE)
    rows = [
        {
            "run": view.run.id,
            "snapshot": view.run.snapshot_date,
            "started": view.run.started_at,
            "finished": view.run.finished_at,
            "status": label(STATUSES, view.run.status),
            "step": label(STEPS, step.step),
            "step_status": label(STATUSES, step.status),
            "seconds": step.seconds,
            "rows": step.rows,
            "error": view.run.error if step.step == view.run.failed_step else "",
            "warnings": "; ".join(view.warnings) if step.step == "pipeline" else "",
        }
        for view in views
        for step in view.steps
    ]
    columns = [
        Column("run", _("Run"), "id"),
        Column("snapshot", _("Delivery date"), "date"),
        Column("started", _("Started"), "datetime"),
        Column("finished", _("Finished"), "datetime"),
        Column("status", _("Run status")),
        Column("step", _("Step")),
        Column("step_status", _("Step status")),
        Column("seconds", _("Seconds"), "number"),
        Column("rows", _("Rows"), "int"),
        Column("error", _("Error")),
        Column("warnings", _("Warnings")),
    ]
    table = Table("daily_runs", columns, rows, title=_("Daily runs"), empty=_("No daily run yet."))
    told = _alerts_table(alerts.latest_alerts(db, actor))
    if wants_export(request):
        return export_tables(request, actor, db, [table, told], "daily_runs", tz)
    return render(request, "admin/runs.html", {"table": table, "alerts": told})


def _alerts_table(found: list[RunAlert]) -> Table:
    """The alerts sent to the administrators: when, why, to whom, what failed."""
    rows = []
    for alert in found:
        delivery = json.loads(alert.delivery or "{}")
        rows.append(
            {
                "at": alert.at,
                "kind": label(ALERT_KINDS, alert.kind),
                "run": alert.run_id,
                "subject": alert.subject,
                "sent": ", ".join(delivery.get("sent", [])),
                "errors": "; ".join(delivery.get("errors", [])),
            }
        )
    columns = [
        Column("at", _("Sent at"), "datetime"),
        Column("kind", _("Alert")),
        Column("run", _("Run"), "id"),
        Column("subject", _("Subject")),
        Column("sent", _("Told")),
        Column("errors", _("Not delivered")),
    ]
    return Table(
        "run_alerts", columns, rows, title=_("Alerts to the administrators"), empty=_("No alert.")
    )
