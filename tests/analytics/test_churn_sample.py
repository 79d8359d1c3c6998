"""Training on a sample of subscribers drawn before any feature is computed: stratified by the
label for the training frames, uniform for the tenure model's check."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from weiwan.analytics.churn import training
from weiwan.analytics.churn.evaluation import train_and_register
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn.training import (
    TrainingConfig,
    draw_sample,
    labelled_population,
    sampled_source,
    snapshot_frame,
    subscriber_sample,
)
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
    sampled = _sorted(compute_features(sampled_source(wh, 0.25), day).to_pandas())
    everyone = compute_features(wh, day)
    expected = everyone.filter(everyone.subscriber_id.isin(sampled.subscriber_id.tolist()))
    assert 0.18 < len(sampled) / everyone.count().execute() < 0.32
    pd.testing.assert_frame_equal(sampled, _sorted(expected.to_pandas()))
    # the same subscribers at another month end: of those active on both dates, a subscriber
    # is sampled on both or on neither
    before = date(2026, 8, 31)
    earlier = set(compute_features(sampled_source(wh, 0.25), before).subscriber_id.execute())
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


def test_the_stratified_sample_keeps_each_label_at_its_share(
    operator: tuple[Path, Warehouse], monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = operator[1]
    day, config, size = date(2026, 9, 30), TrainingConfig(), 1000
    population = labelled_population(wh, day, config).to_pandas()
    labelled, churners = len(population), int(population["churned"].sum())
    assert labelled > 3000 and 20 < churners < labelled / 4
    sample = draw_sample(wh, day, config, size)
    rows = sample.rows.to_pandas()
    assert (sample.labelled, sample.labelled_churners) == (labelled, churners)
    # each label keeps its share: ceil(stratum * size / population) rows of it
    kept_churners = math.ceil(churners * size / labelled)
    assert sample.churners == int(rows["churned"].sum()) == kept_churners
    assert len(rows) == kept_churners + math.ceil((labelled - churners) * size / labelled)
    assert abs(sample.churners / len(rows) - churners / labelled) < 1 / size
    # the rows of each label with the lowest MD5 of the id, labelled as in the population
    population["key"] = [hashlib.md5(s.encode()).hexdigest() for s in population.subscriber_id]
    for churned, stratum in population.groupby("churned"):
        chosen = set(rows.subscriber_id[rows.churned == churned])
        assert chosen == set(stratum.sort_values("key").subscriber_id[: len(chosen)])
    # a key range too narrow for a quota: everyone of the label is ranked, the same rows
    ranked = []

    def narrow(quota: int, stratum: int) -> str:
        ranked.append(quota)
        return "00100000"  # about 1/4096 of the keys

    monkeypatch.setattr(training, "_candidates", narrow)
    assert draw_sample(wh, day, config, size).rows.equals(sample.rows) and ranked
    # the frame holds the features of exactly the sample, with its labels
    frame = snapshot_frame(wh, day, config, sample=sample)
    pd.testing.assert_frame_equal(frame[["subscriber_id", "churned"]], rows)
    assert frame["arpu_1m"].notna().all()


def test_the_model_learns_from_the_sample_and_its_report_says_so(
    operator: tuple[Path, Warehouse],
) -> None:
    root, wh = operator
    registry = ModelRegistry(root / "models")
    config = TrainingConfig(snapshots=3, sample_subscribers=2000, refit=False)
    _, result, files = train_and_register(wh, registry, config)
    extra = result.meta.extra
    days = [
        *result.meta.training_snapshots,
        *extra["refit_only_snapshots"],
        str(result.meta.holdout_snapshot),
    ]
    # far under the row cap: each month end and the 8th, 15th and 22nd of each month
    assert sorted({date.fromisoformat(d).day for d in days} - {30, 31}) == [8, 15, 22]
    assert len(days) == 12
    labelled = churners = 0
    for day in days:
        population = labelled_population(wh, date.fromisoformat(day), config).to_pandas()
        labelled += len(population)
        churners += int(population["churned"].sum())
    sample = result.meta.extra["sample"]
    assert sample["labelled"] == labelled and sample["labelled_churners"] == churners
    assert sample["rows"] == result.meta.training_rows
    assert 0.4 < sample["rows"] / labelled < 0.6  # about 2000 of ~3700 at each month end
    assert abs(sample["churners"] / sample["rows"] - churners / labelled) < 0.001
    survival = result.meta.extra["survival"]  # the tenure model checked on a uniform sample
    active = compute_features(wh, date.fromisoformat(survival["snapshot"])).count().execute()
    assert 0.4 < survival["rows"] / active < 0.6
    document = json.loads(Path(files["json_path"]).read_text(encoding="utf-8"))
    assert document["model"]["sample"] == sample
    english = " ".join(Path(files["html_en_path"]).read_text(encoding="utf-8").split())
    assert (
        f"trained on a stratified sample of {sample['rows']:,} of {labelled:,} labelled "
        f"subscriber-months (churners {sample['churners']:,})"
    ) in english
    chinese = Path(files["html_path"]).read_text(encoding="utf-8")
    assert (
        f"按流失标签分层抽样：{labelled:,} 个已标注用户月中抽取 {sample['rows']:,} 个"
        f"（其中流失 {sample['churners']:,} 个）"
    ) in chinese
