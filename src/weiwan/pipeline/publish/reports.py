"""Publish the weekly, monthly and churn analysis reports (kind ``reports``).

For the snapshot: every closed ISO week and month of the last ``WEEKS`` weeks and ``MONTHS``
months not yet in ``period_reports`` is computed, and the latest closed week and month are
computed again (late deliveries change them); each month also gets its churn analysis report
(kind ``churn``). Every period is stored as one document for the whole operator (scope ``*``)
and one per branch (scope = branch code) covering the branch and its sub-branches (what a
centre head of that branch sees), so a reader's data scope picks documents and nothing is
recomputed on the request path. A period's rows are replaced whole, all in one transaction
with the ``publications`` row: publishing the same snapshot twice leaves the same documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa

from weiwan.analytics.churn_analysis import churn_documents, many_churn_figures
from weiwan.analytics.period_report_doc import period_documents
from weiwan.analytics.period_reports import (
    MONTHS,
    WEEKS,
    Period,
    ReportTargets,
    closed_periods,
    first_churn,
    load_targets,
    period_cubes,
)
from weiwan.analytics.warehouse import Warehouse
from weiwan.ops.base import utcnow
from weiwan.ops.org.models import Branch
from weiwan.ops.reports.models import WHOLE, PeriodReport
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.branches import branch_ids
from weiwan.pipeline.publish.transport import insert_rows, table_of

KIND = "reports"
CHURN = "churn"


def dumps(document: dict[str, Any]) -> str:
    """A document as stored: sorted keys, no NaN (a NaN is a bug, not a figure)."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, allow_nan=False)


def subtrees(branches: list[tuple[str, int, int | None]]) -> dict[str, list[str]]:
    """Branch code → the codes of the branch and all its sub-branches, from (code, id,
    parent id) rows."""
    children: dict[int | None, list[tuple[str, int]]] = {}
    for code, ident, parent in branches:
        children.setdefault(parent, []).append((code, ident))
    out: dict[str, list[str]] = {}
    for code, ident, _ in branches:
        codes, stack = [code], [ident]
        while stack:
            for child, child_id in children.get(stack.pop(), []):
                codes.append(child)
                stack.append(child_id)
        out[code] = sorted(codes)
    return out


def due_periods(
    snapshot: date,
    published: set[tuple[str, str]],
    weeks: int = WEEKS,
    months: int = MONTHS,
    since: date | None = None,
) -> list[tuple[str, Period]]:
    """(stored kind, period) to compute: closed periods of the last ``weeks`` weeks and
    ``months`` months not yet published, plus the latest closed week and month (and the latest
    month's churn report) again; periods that ended on or before ``since`` (the first churn
    delivered: no history yet, not no churn) are left out."""
    periods = closed_periods(snapshot, weeks, months)
    latest = {next(p.key for p in periods if p.kind == kind) for kind in ("week", "month")}
    due: list[tuple[str, Period]] = []
    for period in periods:
        if since is not None and period.end <= since:
            continue
        kinds = [period.kind] + ([CHURN] if period.kind == "month" else [])
        for kind in kinds:
            if (kind, period.key) not in published or period.key in latest:
                due.append((kind, period))
    return due


def _rows(
    kind: str,
    period: Period,
    documents: dict[str | None, dict[str, Any]],
    snapshot: date,
    branch_ids: dict[str, int],
) -> Iterable[dict[str, Any]]:
    now = utcnow()
    for branch, document in documents.items():
        yield {
            "kind": kind,
            "key": period.key,
            "scope": WHOLE if branch is None else branch,
            "branch_id": None if branch is None else branch_ids.get(branch),
            "start": period.start,
            "last_day": period.last_day,
            "snapshot_date": snapshot,
            "published_at": now,
            "document": dumps(document),
        }


def publish_reports(
    warehouse: Warehouse,
    engine: sa.Engine,
    snapshot: date,
    *,
    targets: ReportTargets | None = None,
    weeks: int = WEEKS,
    months: int = MONTHS,
) -> int:
    """Publish the due reports of ``snapshot`` (see :func:`due_periods`); returns the
    documents written."""
    goals = targets or load_targets()
    reports = table_of(PeriodReport)
    with engine.connect() as conn:
        tree = [
            (str(c), i, p)
            for c, i, p in conn.execute(sa.select(Branch.code, Branch.id, Branch.parent_id))
        ]
        published = {
            (str(k), str(key))
            for k, key in conn.execute(
                sa.select(reports.c.kind, reports.c.key).where(reports.c.scope == WHOLE)
            )
        }
    scopes = subtrees(tree)
    due = due_periods(snapshot, published, weeks, months, first_churn(warehouse, snapshot))
    # every period's cube (and its last year's) in one pass over the data
    wanted = [q for kind, p in due if kind != CHURN for q in (p, p.last_year())]
    cubes: dict[str, pd.DataFrame] = period_cubes(warehouse, snapshot, wanted) if wanted else {}
    churn_months = [p.start for kind, p in due if kind == CHURN]
    figures = many_churn_figures(warehouse, snapshot, churn_months) if churn_months else {}
    computed: list[tuple[str, Period, dict[str | None, dict[str, Any]]]] = []
    for kind, period in due:
        if kind == CHURN:
            documents = churn_documents(
                warehouse, snapshot, period.start, goals, scopes, figures[period.start]
            )
        else:
            documents = period_documents(warehouse, snapshot, period, goals, scopes, cubes)
        computed.append((kind, period, documents))
    with engine.begin() as conn:
        ids = branch_ids(conn)
        written = 0
        for kind, period, documents in computed:
            conn.execute(
                sa.delete(reports).where(reports.c.kind == kind, reports.c.key == period.key)
            )
            rows = list(_rows(kind, period, documents, snapshot, ids))
            written += insert_rows(conn, reports, rows)
        record_publication(conn, KIND, snapshot, written)
    return written
