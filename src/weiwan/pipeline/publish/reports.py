"""Publish the weekly, monthly and churn analysis reports (kind ``reports``).

For the snapshot: every closed ISO week and month of the last ``WEEKS`` weeks and ``MONTHS``
months, and each month's churn analysis report (kind ``churn``), is built when it is not yet
in ``period_reports`` or when the fingerprint of its inputs
(:func:`weiwan.analytics.report_inputs.input_fingerprints`: the input rows of the days it
reads, the targets, the branch tree) differs from the one stored with it; every other period
is kept as published. So the first publish builds the history (a large operator's over its
first runs, newest first: :func:`within_budget`, ``WEIWAN_REPORT_BUILD_ROWS``), a steady day
only what just closed (and the latest month's churn analysis, whose base is taken on the
snapshot), and a late delivery the periods that read it. Every period is stored as one
document for the whole operator (scope ``*``) and one per branch (scope = branch code)
covering the branch and its sub-branches (what a centre head of that branch sees), so a
reader's data scope picks documents and nothing is recomputed on the request path. A period's
rows are replaced whole, all in one transaction with the ``publications`` row: publishing the
same snapshot twice leaves the same documents (and builds nothing the second time).
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
    subscriber_count,
)
from weiwan.analytics.report_inputs import CHURN, input_fingerprints
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.logging import get_logger
from weiwan.core.settings import get_settings
from weiwan.ops.base import utcnow
from weiwan.ops.org.models import Branch
from weiwan.ops.reports.models import WHOLE, PeriodReport
from weiwan.pipeline.publish.bookkeeping import record_publication
from weiwan.pipeline.publish.branches import branch_ids
from weiwan.pipeline.publish.transport import insert_rows, table_of

KIND = "reports"
log = get_logger(__name__)


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
    weeks: int = WEEKS,
    months: int = MONTHS,
    since: date | None = None,
) -> list[tuple[str, Period]]:
    """(stored kind, period) the snapshot publishes: the closed periods of the last ``weeks``
    weeks and ``months`` months, each month also as its churn report; periods that ended on
    or before ``since`` (the first churn delivered: no history yet, not no churn) are left
    out. Which of them are built is up to their inputs' fingerprints (:func:`stale`)."""
    due: list[tuple[str, Period]] = []
    for period in closed_periods(snapshot, weeks, months):
        if since is not None and period.end <= since:
            continue
        kinds = [period.kind] + ([CHURN] if period.kind == "month" else [])
        due.extend((kind, period) for kind in kinds)
    return due


def stale(
    due: list[tuple[str, Period]],
    published: dict[tuple[str, str], str | None],
    fingerprints: dict[tuple[str, str], str],
) -> list[tuple[str, Period]]:
    """The due (kind, period) to build: not published, or published from other inputs
    (``published``: (kind, key) → the stored fingerprint, None before fingerprints)."""
    return [
        (kind, period)
        for kind, period in due
        if (kind, period.key) not in published
        or published[(kind, period.key)] != fingerprints[(kind, period.key)]
    ]


def within_budget(
    due: list[tuple[str, Period]], subscribers: int, budget_rows: int
) -> tuple[list[tuple[str, Period]], list[tuple[str, Period]]]:
    """(to build now, left for the following runs): the stale ``due`` periods newest first (by
    their end; a month before its churn analysis) while their subscriber-periods fit in
    ``budget_rows`` (a week or month costs its ``subscribers`` twice, with the same period a
    year earlier; a churn analysis once); at least one is built, so history always advances."""
    ordered = sorted(due, key=lambda item: item[1].end, reverse=True)  # stable: month, churn
    spent, now = 0, 0
    for kind, _ in ordered:
        cost = subscribers * (1 if kind == CHURN else 2)
        if now and spent + cost > budget_rows:
            break
        spent, now = spent + cost, now + 1
    return ordered[:now], ordered[now:]


def _rows(
    kind: str,
    period: Period,
    documents: dict[str | None, dict[str, Any]],
    snapshot: date,
    branch_ids: dict[str, int],
    inputs: str,
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
            "inputs": inputs,
        }


def publish_reports(
    warehouse: Warehouse,
    engine: sa.Engine,
    snapshot: date,
    *,
    targets: ReportTargets | None = None,
    weeks: int = WEEKS,
    months: int = MONTHS,
    build_rows: int | None = None,
) -> int:
    """Publish the reports of ``snapshot`` whose inputs changed (see :func:`due_periods`,
    :func:`stale`), as many as ``build_rows`` subscriber-periods allow (default the setting
    ``report_build_rows``; :func:`within_budget`), the others on the next runs; returns the
    documents written."""
    goals = targets or load_targets()
    reports = table_of(PeriodReport)
    with engine.connect() as conn:
        tree = [
            (str(c), i, p)
            for c, i, p in conn.execute(sa.select(Branch.code, Branch.id, Branch.parent_id))
        ]
        published = {
            (str(k), str(key)): None if inputs is None else str(inputs)
            for k, key, inputs in conn.execute(
                sa.select(reports.c.kind, reports.c.key, reports.c.inputs).where(
                    reports.c.scope == WHOLE
                )
            )
        }
    scopes = subtrees(tree)
    candidates = due_periods(snapshot, weeks, months, first_churn(warehouse, snapshot))
    extra = {"targets": goals.model_dump(mode="json"), "branches": sorted(tree, key=lambda b: b[0])}
    fingerprints = input_fingerprints(warehouse, snapshot, candidates, extra)
    stale_periods = stale(candidates, published, fingerprints)
    budget = build_rows if build_rows is not None else get_settings().report_build_rows
    subscribers = subscriber_count(warehouse, snapshot)
    due, later = within_budget(stale_periods, subscribers, budget)
    log.info(
        "reports.due",
        snapshot=str(snapshot),
        build=len(due),
        kept=len(candidates) - len(stale_periods),
        later=len(later),
        periods=" ".join(f"{kind}:{period.key}" for kind, period in due),
    )
    if later:  # a large operator's first run: the rest of the history on the next runs
        log.info(
            "reports.history_left",
            snapshot=str(snapshot),
            periods=" ".join(f"{kind}:{period.key}" for kind, period in later),
            setting="WEIWAN_REPORT_BUILD_ROWS",
        )
    # every period's cube (and its last year's) in one pass over the data
    wanted = [q for kind, p in due if kind != CHURN for q in (p, p.last_year())]
    cubes: dict[str, pd.DataFrame] = (
        period_cubes(warehouse, snapshot, wanted, subscribers=subscribers) if wanted else {}
    )
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
            inputs = fingerprints[(kind, period.key)]
            rows = list(_rows(kind, period, documents, snapshot, ids, inputs))
            written += insert_rows(conn, reports, rows)
        record_publication(conn, KIND, snapshot, written)
    return written
