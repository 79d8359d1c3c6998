"""Delivered earlier campaigns (``retention_contacts``) become uplift evidence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from weiwan.analytics.churn.evaluation import train_and_register
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.ingest import ingest
from weiwan.analytics.outcomes import campaign_outcomes
from weiwan.analytics.uplift_evidence import closed_outcomes, uplift_evidence
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.months import add_months
from weiwan.sim import simulate

SNAPSHOT = date(2026, 10, 31)


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("campaigns")
    simulate(subscribers=4000, months=9, seed=5, out=root / "sim", end_month="2026-10")
    wh = Warehouse(root / "wh.duckdb", threads=2)
    try:
        ingest(root / "sim", snapshot=SNAPSHOT, warehouse=wh)
        yield wh
    finally:
        wh.close()


def test_only_closed_campaigns_count_and_churn_is_read_in_their_window(
    delivered: Warehouse,
) -> None:
    outcomes = campaign_outcomes(delivered, SNAPSHOT)
    assert outcomes is not None
    rows = outcomes.to_pandas()
    contacts = delivered.table("retention_contacts").to_pandas()
    closed_by = add_months(SNAPSHOT, -3)
    expected = contacts[pd.to_datetime(contacts["contact_date"]).dt.date <= closed_by]
    assert len(rows) == len(expected) > 0
    assert (pd.to_datetime(rows["snapshot_date"]).dt.date <= closed_by).all()
    merged = rows.merge(
        expected[["subscriber_id", "contact_date", "holdout"]].rename(
            columns={"contact_date": "snapshot_date"}
        ),
        on=["subscriber_id", "snapshot_date"],
    )
    assert len(merged) == len(rows) and (merged["treated"] == ~merged["holdout"]).all()
    churn = delivered.table("churn_records").to_pandas()
    churn_day = dict(
        zip(churn["subscriber_id"], pd.to_datetime(churn["churn_date"]).dt.date, strict=True)
    )
    for row in rows.sample(200, random_state=1).itertuples():
        day = churn_day.get(row.subscriber_id)
        start = pd.Timestamp(row.snapshot_date).date()
        inside = day is not None and start < day <= add_months(start, 3)
        assert bool(row.churned) == inside


def test_evidence_carries_features_score_and_reason_of_its_day(
    delivered: Warehouse, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    train_and_register(delivered, registry, promote=True, force=True)
    model, meta = registry.load()
    assert len(closed_outcomes(delivered, SNAPSHOT)) > 0
    built = uplift_evidence(delivered, SNAPSHOT, model, meta)
    assert built is not None
    evidence, features = built
    assert len(evidence) == len(features) > 0
    assert list(features.columns) == meta.features
    assert evidence["score"].between(0, 1).all() and evidence["score"].nunique() > 10
    assert evidence["reason_feature"].isin(meta.features).mean() > 0.5
    assert evidence["treated"].any() and not evidence["treated"].all()


def test_a_campaign_without_a_control_group_is_no_evidence(delivered: Warehouse) -> None:
    """Whom a campaign without hold-outs contacted was chosen, not drawn: it is left out; a
    campaign with one stays, named or (no name) by its contact date."""
    before = campaign_outcomes(delivered, SNAPSHOT)
    assert before is not None
    counted = len(before.to_pandas())
    subscribers = delivered.table("subscribers").to_pandas()["subscriber_id"].head(40).tolist()
    day = date(2026, 5, 20)
    rows = [
        (f"NOHOLD-{i}", sid, day, "discount", False, "no-control", SNAPSHOT, 0)
        for i, sid in enumerate(subscribers[:20])
    ] + [
        (f"UNNAMED-{i}", sid, day, "discount", i % 4 == 0, None, SNAPSHOT, 0)
        for i, sid in enumerate(subscribers[20:])
    ]
    columns = (
        "contact_id, subscriber_id, contact_date, offer_type, holdout, campaign, _snapshot, _line"
    )
    try:
        for row in rows:
            delivered.execute(
                f"INSERT INTO retention_contacts ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                list(row),
            )
        after = campaign_outcomes(delivered, SNAPSHOT)
        assert after is not None
        kept = after.to_pandas()
        assert len(kept) == counted + 20  # the unnamed campaign with hold-outs counts
        added = kept[pd.to_datetime(kept["snapshot_date"]).dt.date == day]
        assert set(added["subscriber_id"]) == set(subscribers[20:])
        assert added["treated"].sum() == 15
    finally:
        delivered.execute(
            "DELETE FROM retention_contacts "
            "WHERE contact_id LIKE 'NOHOLD-%' OR contact_id LIKE 'UNNAMED-%'"
        )
