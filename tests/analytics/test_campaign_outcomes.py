"""Delivered earlier campaigns (``retention_contacts``) become uplift evidence."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd
import pytest

from model_fixtures import QUICK_TRAINING
from weiwan.analytics.churn.evaluation import train_and_register
from weiwan.analytics.churn.registry import ModelMeta, ModelRegistry
from weiwan.analytics.ingest import ingest
from weiwan.analytics.outcomes import campaign_outcomes
from weiwan.analytics.uplift_evidence import (
    EVIDENCE_TABLE,
    closed_outcomes,
    evidence_key,
    uplift_evidence,
)
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.months import add_months
from weiwan.pipeline.run import run_step
from weiwan.pipeline.steps import RunContext, features_step
from weiwan.sim import simulate

SNAPSHOT = date(2026, 10, 31)


def _evidence(
    wh: Warehouse, model: Any, meta: ModelMeta
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The uplift evidence of the outcomes closed by SNAPSHOT, as the decisions build it."""
    return uplift_evidence(wh, closed_outcomes(wh, SNAPSHOT), model, meta)


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


@pytest.fixture(scope="module")
def trained(
    delivered: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, ModelMeta]:
    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    train_and_register(delivered, registry, QUICK_TRAINING, promote=True, force=True)
    return registry.load()


def test_evidence_carries_features_score_and_reason_of_its_day(
    delivered: Warehouse, trained: tuple[Any, ModelMeta]
) -> None:
    model, meta = trained
    assert len(closed_outcomes(delivered, SNAPSHOT)) > 0
    built = _evidence(delivered, model, meta)
    assert built is not None
    evidence, features = built
    assert len(evidence) == len(features) > 0
    assert list(features.columns) == meta.features
    assert evidence["score"].between(0, 1).all() and evidence["score"].nunique() > 10
    assert evidence["reason_feature"].isin(meta.features).mean() > 0.5
    assert evidence["treated"].any() and not evidence["treated"].all()


def test_the_evidence_sees_each_customer_as_before_the_days_offer(
    delivered: Warehouse, trained: tuple[Any, ModelMeta]
) -> None:
    """A campaign's contacts are dated the day its evidence is taken: its offered customers
    are seen as they were before the offer (their offers before that day only), like the
    held-out beside them — never as already offered, which the churn model scores higher."""
    model, meta = trained
    assert {"retention_offers_180d", "days_since_retention_offer"} <= set(meta.features)
    built = _evidence(delivered, model, meta)
    assert built is not None
    evidence, features = built
    contacts = delivered.table("retention_contacts").to_pandas()
    offered = contacts[~contacts["holdout"]]
    dates: dict[str, list[date]] = {}
    for sid, day in zip(
        offered["subscriber_id"], pd.to_datetime(offered["contact_date"]).dt.date, strict=True
    ):
        dates.setdefault(sid, []).append(day)
    assert evidence["treated"].sum() > 100
    days = pd.to_datetime(evidence["snapshot_date"]).dt.date
    for i, (sid, day) in enumerate(zip(evidence["subscriber_id"], days, strict=True)):
        before = [d for d in dates.get(sid, []) if d < day]
        recent = [d for d in before if (day - d).days < 180]
        assert features["retention_offers_180d"].iloc[i] == len(recent)
        since = features["days_since_retention_offer"].iloc[i]
        assert (pd.isna(since) and not before) or since == (day - max(before)).days


def _stored_scores(wh: Warehouse) -> pd.DataFrame:
    table = wh.table(EVIDENCE_TABLE)
    frame: pd.DataFrame = table.select(
        "snapshot_date", "subscriber_id", "model", "score"
    ).to_pandas()
    return frame


def test_each_day_is_explained_once_per_model_and_kept_while_in_the_evidence(
    delivered: Warehouse, trained: tuple[Any, ModelMeta]
) -> None:
    """The evidence's days are scored and explained once and stored; later runs read them, a
    day that gained customers and every day after a new model are explained again, days that
    left the evidence are dropped."""
    model, meta = trained
    first = _evidence(delivered, model, meta)
    assert first is not None
    stored = _stored_scores(delivered)
    days = sorted(pd.to_datetime(first[0]["snapshot_date"]).dt.date.unique())
    assert sorted(pd.to_datetime(stored["snapshot_date"]).dt.date.unique()) == days
    assert set(stored["model"]) == {evidence_key(meta)}

    again = _evidence(delivered, model, meta)
    assert again is not None
    pd.testing.assert_frame_equal(again[0], first[0])
    pd.testing.assert_frame_equal(again[1], first[1])

    # a stored day is read, not recomputed: a mark put on it comes back
    day, other = days[0], days[-1]
    delivered.execute(f"UPDATE {EVIDENCE_TABLE} SET score = -1 WHERE snapshot_date = ?", [day])
    marked = _evidence(delivered, model, meta)
    assert marked is not None
    on_day = pd.to_datetime(marked[0]["snapshot_date"]).dt.date == day
    assert (marked[0].loc[on_day, "score"] == -1).all()
    assert (marked[0].loc[~on_day, "score"] >= 0).all()

    # a day missing a customer is explained again; a day no longer in the evidence dropped
    one = stored[pd.to_datetime(stored["snapshot_date"]).dt.date == other].iloc[0]
    delivered.execute(
        f"DELETE FROM {EVIDENCE_TABLE} WHERE snapshot_date = ? AND subscriber_id = ?",
        [other, one["subscriber_id"]],
    )
    delivered.execute(
        f"INSERT INTO {EVIDENCE_TABLE} (snapshot_date, subscriber_id, model, found, score) "
        "VALUES (?, 'GONE', ?, true, 0.5)",
        [date(2020, 1, 31), one["model"]],
    )
    refilled = _evidence(delivered, model, meta)
    assert refilled is not None
    after = _stored_scores(delivered)
    assert len(after) == len(stored)
    assert date(2020, 1, 31) not in set(pd.to_datetime(after["snapshot_date"]).dt.date)
    assert (refilled[0]["score"] < 0).sum() == on_day.sum()  # the marked day still read

    # a newly promoted model explains every day again
    newer = replace(meta, version="v9999")
    renewed = _evidence(delivered, model, newer)
    assert renewed is not None
    pd.testing.assert_frame_equal(renewed[0], first[0])
    assert set(_stored_scores(delivered)["model"]) == {evidence_key(newer)}


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


def test_a_day_whose_features_are_stored_again_is_explained_again(
    delivered: Warehouse, trained: tuple[Any, ModelMeta]
) -> None:
    """Running a day's features again (a day re-run after a correction) drops what the uplift
    kept of that day; the other days stay."""
    model, meta = trained
    built = _evidence(delivered, model, meta)
    assert built is not None
    days = sorted(pd.to_datetime(built[0]["snapshot_date"]).dt.date.unique())
    day, other = days[0], days[-1]
    try:
        run_step(RunContext(delivered, day), "features", features_step)
        kept = set(pd.to_datetime(_stored_scores(delivered)["snapshot_date"]).dt.date)
        assert day not in kept and other in kept
        again = _evidence(delivered, model, meta)  # from the stored features
        assert again is not None
        kept = set(pd.to_datetime(_stored_scores(delivered)["snapshot_date"]).dt.date)
        assert day in kept
        pd.testing.assert_frame_equal(again[0], built[0], check_exact=False)
    finally:
        delivered.drop_snapshot("features", day)
