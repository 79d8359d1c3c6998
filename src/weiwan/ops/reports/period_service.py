"""The published weekly, monthly and churn analysis reports within the reader's data scope.

Documents are per branch plus one for the whole operator (``scope`` ``*``), as the pipeline
published them (``weiwan.pipeline.publish.reports``); nothing here reads the warehouse. The
centre head, director and analyst read reports; roles that see everything open any document
(the whole operator's by default), a centre head the documents of their own branches (the
first of them by code by default); a document outside the reader's scope is answered like a
missing one.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from weiwan.core.errors import InvalidRequestError, NotFoundError
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.reports.models import WHOLE, PeriodReport
from weiwan.ops.reports.period_schemas import PeriodEntry, PeriodList, PeriodReportOut

REPORT_ROLES = (Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST)
KINDS = ("week", "month", "churn")
#: the key of each kind: an ISO week, a month
KEY_PATTERNS = {
    "week": re.compile(r"\d{4}-W(0[1-9]|[1-4]\d|5[0-3])"),
    "month": re.compile(r"\d{4}-(0[1-9]|1[0-2])"),
    "churn": re.compile(r"\d{4}-(0[1-9]|1[0-2])"),
}


def require_reports(actor: Actor) -> None:
    """Raise unless the actor reads the reports."""
    actor.require(*REPORT_ROLES)


def _scope(actor: Actor) -> ColumnElement[bool]:
    if actor.scope is Scope.ALL:
        return true()
    if not actor.branch_ids:
        return false()
    return PeriodReport.branch_id.in_(actor.branch_ids)


def list_periods(db: Session, actor: Actor, kind: str | None = None) -> PeriodList:
    """Published periods the actor may open (of ``kind`` when given), newest first."""
    require_reports(actor)
    if kind is not None and kind not in KINDS:
        raise InvalidRequestError(f"not a report kind: {kind!r}", field="kind")
    query = select(
        PeriodReport.kind,
        PeriodReport.key,
        PeriodReport.start,
        PeriodReport.last_day,
        PeriodReport.snapshot_date,
        PeriodReport.scope,
    ).where(_scope(actor))
    if kind is not None:
        query = query.where(PeriodReport.kind == kind)
    entries: dict[tuple[str, str], PeriodEntry] = {}
    scopes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for k, key, start, last_day, snapshot, scope in db.execute(query):
        entries.setdefault(
            (k, key),
            PeriodEntry(
                kind=k, key=key, start=start, last_day=last_day, snapshot_date=snapshot, scopes=[]
            ),
        )
        scopes[(k, key)].append(scope)
    items = []
    for ident, entry in entries.items():
        entry.scopes = sorted(scopes[ident], key=lambda s: (s != WHOLE, s))
        items.append(entry)
    items.sort(key=lambda e: (e.start, KINDS.index(e.kind)), reverse=True)
    return PeriodList(items=items)


def get_report(
    db: Session, actor: Actor, kind: str, key: str, branch: str | None = None
) -> PeriodReportOut:
    """The document of ``kind`` / ``key`` for ``branch`` (a branch code or ``*``; default:
    the whole operator for roles that see everything, else the actor's first branch)."""
    require_reports(actor)
    if kind not in KEY_PATTERNS:
        raise InvalidRequestError(f"not a report kind: {kind!r}", field="kind")
    if not KEY_PATTERNS[kind].fullmatch(key):
        form = "YYYY-Www" if kind == "week" else "YYYY-MM"
        raise InvalidRequestError(f"not a {kind} key: {key!r}; use {form}", field="key")
    query = select(PeriodReport).where(
        PeriodReport.kind == kind, PeriodReport.key == key, _scope(actor)
    )
    if branch:
        query = query.where(PeriodReport.scope == branch)
    elif actor.scope is Scope.ALL:
        query = query.where(PeriodReport.scope == WHOLE)
    row = db.scalars(query.order_by(PeriodReport.scope).limit(1)).first()
    if row is None:
        raise NotFoundError(
            f"no published {kind} report {key}" + (f" for {branch}" if branch else "")
        )
    return PeriodReportOut(
        kind=row.kind,
        key=row.key,
        scope=row.scope,
        snapshot_date=row.snapshot_date,
        published_at=row.published_at,
        document=json.loads(row.document),
    )
