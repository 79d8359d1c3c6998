"""The audit log page (/admin/audit): administrators and directors, filtered by action, user
and period, exported to Excel (for roles that may export)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from weiwan.ops.org import admin
from weiwan.ops.org.service import AuditAction
from weiwan.web.audit_labels import detail_text, target_text
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import label
from weiwan.web.pages.deps import Db, LocalTz, PageActor, export_tables
from weiwan.web.tables import Column, Table, wants_export
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

ACTIONS: dict[str, Any] = {
    "login_ok": _l("Login"),
    "login_failed": _l("Failed login"),
    "locked": _l("Account locked"),
    "pii_view": _l("Personal data viewed"),
    "export": _l("Export"),
    "approval": _l("Approval decision"),
    "config_change": _l("Configuration change"),
    "lookup_limit": _l("Lookup limit reached"),
    "contact_over_rule": _l("Contact recorded beyond the contact rules"),
    "strategy_promote": _l("Challenger promoted to champion"),
    "service_token": _l("Event source token created or revoked"),
    "consent": _l("Consent or objection recorded"),
    "erasure": _l("Personal data of a subscriber erased"),
    "purge": _l("Expired personal data purged"),
    "directory_check": _l("Directory account checked between logins"),
}
#: newest events shown (and exported) per filter; narrower filters reach older events
PAGE_SIZE = 500


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_log(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """The audit log, newest first, with filters (action, user, from, to)."""
    actor.require(*admin.AUDIT_READERS)
    params = request.query_params
    action = params.get("action") or None
    if action not in {a.value for a in AuditAction}:
        action = None
    username = (params.get("user") or "").strip()
    start, end = _day(params.get("from")), _day(params.get("to"))
    since = datetime.combine(start, time(), tz) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), tz) if end else None
    log = admin.audit_log(
        db, actor, action=action, username=username, since=since, until=until, limit=PAGE_SIZE
    )
    names = log.usernames
    rows = [
        {
            "at": e.at,
            "user": names.get(e.user_id, _("system")) if e.user_id else _("system"),
            "action": label(ACTIONS, e.action),
            "target": target_text(e.target_type, e.target_id),
            "detail": detail_text(e.detail),
            "ip": e.ip,
        }
        for e in log.events
    ]
    columns = [
        Column("at", _("Time"), "datetime"),
        Column("user", _("User")),
        Column("action", _("Action")),
        Column("target", _("Target")),
        Column("detail", _("Detail")),
        Column("ip", _("IP address")),
    ]
    table = Table("audit", columns, rows, title=_("Audit log"), empty=_("No events match."))
    if wants_export(request):
        return export_tables(request, actor, db, [table], "audit_log", tz)
    context = {
        "table": table,
        "actions": [(code, ACTIONS[code]) for code in ACTIONS],
        "filters": {
            "action": action or "",
            "user": username,
            "from": start.isoformat() if start else "",
            "to": end.isoformat() if end else "",
        },
        "page_size": PAGE_SIZE,
    }
    return render(request, "admin/audit.html", context)
