"""Training on a sample of subscribers drawn before any feature is computed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from weiwan.analytics.churn.evaluation import train_and_register
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn.training import SampledSource, TrainingConfig, subscriber_sample
from weiwan.analytics.features import compute_features
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse
from weiwan.sim import simulate

SNAPSHOT = date(2026, 10, 31)


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Warehouse]]:
    root = tmp_path_factory.mktemp("sample")
    simulate(subscribers=4000, months=8, seed=3, out=root / "sim", end_month="2026-10")
    wh = Warehouse(root / "wh.duckdb", threads=2)
    ingest(root / "sim", snapshot=SNAPSHOT, warehouse=wh)
    yield root, wh
    wh.close()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("subscriber_id").reset_index(drop=True)


def test_sampled_features_are_the_features_of_the_sampled_subscribers(
    operator: tuple[Path, Warehouse],
) -> None:
    wh = operator[1]
    day = date(2026, 9, 30)
    sampled = _sorted(compute_features(SampledSource(wh, 0.25), day).to_pandas())
    everyone = compute_features(wh, day)
    expected = everyone.filter(everyone.subscriber_id.isin(sampled.subscriber_id.tolist()))
    assert 0.18 < len(sampled) / everyone.count().execute() < 0.32
    pd.testing.assert_frame_equal(sampled, _sorted(expected.to_pandas()))
    # the same subscribers at another month end: of those active on both dates, a subscriber
    # is sampled on both or on neither
    before = date(2026, 8, 31)
    earlier = set(compute_features(SampledSource(wh, 0.25), before).subscriber_id.execute())
    both = set(everyone.subscriber_id.execute()) & set(
        compute_features(wh, before).subscriber_id.execute()
    )
    assert len(both) > 1000
    assert earlier & both == set(sampled.subscriber_id) & both


def test_no_sample_when_the_population_is_smaller(operator: tuple[Path, Warehouse]) -> None:
    wh = operator[1]
    source, sample = subscriber_sample(wh, TrainingConfig(sample_subscribers=10_000))
    assert source is wh and sample == {"subscribers": 4000, "share": 1.0}
    source, sample = subscriber_sample(wh, TrainingConfig(sample_subscribers=0))
    assert source is wh


def test_the_model_learns_from_the_sample_and_its_report_says_so(
    operator: tuple[Path, Warehouse],
) -> None:
    root, wh = operator
    registry = ModelRegistry(root / "models")
    config = TrainingConfig(snapshots=3, sample_subscribers=2000, refit=False)
    _, result, files = train_and_register(wh, registry, config)
    days = [*result.meta.training_snapshots, str(result.meta.holdout_snapshot)]
    everyone = 0
    for day in days:
        everyone += int(compute_features(wh, date.fromisoformat(day)).count().execute())
    assert result.meta.extra["sample"] == {"subscribers": 4000, "share": 0.5}
    survival = result.meta.extra["survival"]  # the tenure model checked on the sample too
    active = compute_features(wh, date.fromisoformat(survival["snapshot"])).count().execute()
    assert 0.4 < survival["rows"] / active < 0.6
    assert 0.4 < result.meta.training_rows / everyone < 0.6
    html = Path(files["html_path"]).read_text(encoding="utf-8")
    assert "50.0%" in html and "4,000" in html
