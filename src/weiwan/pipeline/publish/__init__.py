"""Publish a snapshot's results into the operational database (发布到运营库).

The request path reads only what is published here, never the warehouse. Nine kinds, one
module each, each replaced in one transaction of its own with its ``publications`` row
(:func:`~.bookkeeping.record_publication`) in the same transaction:

- ``policies`` (:mod:`.policies`): the policy library that loaded, full replace;
- ``contact_rules`` (:mod:`.contact_rules`): the contact rules as a config document;
- ``customer_view`` (:mod:`.customers`): one row per subscriber of the snapshot's profile,
  full replace, and the branches of its branch codes (:mod:`.branches`);
- ``decisions`` (:mod:`.decisions`): that snapshot date's rows are deleted, then loaded;
- ``settings`` (:mod:`.rule_documents`): the rule documents in effect (policy library, alert,
  care and anomaly rules, contact policy) and their validation messages, after applying the
  edits made in the web (the kind keeps its name ``settings``: ``publications.kind`` rows);
- ``metrics`` (:mod:`.metrics`): the dashboards' figures computed in the warehouse;
- ``anomalies`` (:mod:`.anomalies`): the day's new anomaly-pool entries, added once;
- ``complaints`` (:mod:`.complaints`): the complaints of the last months, for the scorecards;
- ``reports`` (:mod:`.reports`): the weekly, monthly and churn analysis reports of the closed
  periods.

Rows reach the database through one transport (:mod:`.transport`): COPY on PostgreSQL and
``executemany`` on SQLite for rows computed in the warehouse, chunked ``executemany`` for rows
built in Python, upserts for documents, ``ON CONFLICT DO NOTHING`` for the anomaly pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from weiwan.analytics.policies import load_policies
from weiwan.analytics.profile import load_profile
from weiwan.analytics.tags import load_tag_library
from weiwan.analytics.targets import load_target_groups
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.logging import get_logger
from weiwan.core.settings import get_settings
from weiwan.pipeline.publish.anomalies import publish_anomalies
from weiwan.pipeline.publish.complaints import publish_complaints
from weiwan.pipeline.publish.contact_rules import publish_contact_rules
from weiwan.pipeline.publish.customers import publish_customer_view
from weiwan.pipeline.publish.decisions import publish_decisions
from weiwan.pipeline.publish.metrics import publish_metrics
from weiwan.pipeline.publish.policies import publish_policies
from weiwan.pipeline.publish.reports import publish_reports
from weiwan.pipeline.publish.rule_documents import (
    KIND as RULE_DOCUMENTS,
)
from weiwan.pipeline.publish.rule_documents import (
    apply_pending,
    publish_rule_documents,
    rule_document_paths,
)

log = get_logger(__name__)

KINDS = (
    "policies",
    "contact_rules",
    "customer_view",
    "decisions",
    RULE_DOCUMENTS,
    "metrics",
    "anomalies",
    "complaints",
    "reports",
)


@dataclass
class PublishResult:
    """Rows published per kind (and seconds each took) for one snapshot."""

    snapshot: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    branches_created: int = 0


def publish(
    warehouse: Warehouse,
    engine: sa.Engine,
    snapshot: date,
    *,
    kinds: Sequence[str] = KINDS,
    home: Path | None = None,
    on_kind: Callable[[str], None] | None = None,
) -> PublishResult:
    """Publish ``snapshot``'s results (``kinds``, default all) into the database of ``engine``.

    Each kind is replaced atomically in its own transaction; re-publishing a date replaces it.
    The database must be migrated (``weiwan.ops.migrate.upgrade``). Rule documents edited in the
    web and waiting in the database are checked first and, when valid, applied (``<home>/config``,
    ``home`` defaulting to the settings' home), so that the policies and contact rules published
    now are the edited ones; the decision engine uses them from its next run. ``on_kind`` is
    called with each kind's name once it is published (e.g. a benchmark's memory sampler).
    """
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown publish kinds {unknown}; use {', '.join(KINDS)}")
    profile = load_profile(warehouse, snapshot)
    home = home if home is not None else get_settings().home
    verdicts = apply_pending(engine, home, profile) if RULE_DOCUMENTS in kinds else {}
    paths = rule_document_paths(home)
    groups = load_target_groups(paths.target_groups)
    library = load_policies(paths.policies, profile=profile, target_groups=groups)
    result = PublishResult(snapshot)

    def customer_view() -> int:
        loaded, result.branches_created = publish_customer_view(
            warehouse, engine, snapshot, profile, library, load_tag_library(edited=paths.tags)
        )
        return loaded

    steps: dict[str, Callable[[], int]] = {
        "policies": lambda: publish_policies(engine, snapshot, library),
        "contact_rules": lambda: publish_contact_rules(engine, snapshot, paths.contact_policy),
        "customer_view": customer_view,
        "decisions": lambda: publish_decisions(warehouse, engine, snapshot),
        RULE_DOCUMENTS: lambda: publish_rule_documents(
            engine, snapshot, home=home, profile=profile, verdicts=verdicts
        ),
        "metrics": lambda: publish_metrics(warehouse, engine, snapshot),
        "anomalies": lambda: publish_anomalies(warehouse, engine, snapshot),
        "complaints": lambda: publish_complaints(warehouse, engine, snapshot),
        "reports": lambda: publish_reports(warehouse, engine, snapshot),
    }
    for kind in KINDS:
        if kind not in kinds:
            continue
        start = time.perf_counter()
        result.rows[kind] = steps[kind]()
        result.seconds[kind] = time.perf_counter() - start
        log.info(
            "publish.kind",
            kind=kind,
            snapshot=snapshot.isoformat(),
            rows=result.rows[kind],
            seconds=round(result.seconds[kind], 2),
        )
        if on_kind is not None:
            on_kind(kind)
    return result
