"""The daily run on dates past every dated policy, with no valid policy, and with no model.

An installation keeps running the day after its policies' last day (the shipped examples are
open-ended), warns when no policy is valid on the snapshot, says when no churn model could be
trained and what to do, and never promotes a model that ranks churners like chance.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from model_fixtures import train_on_the_15th_only
from weiwan.analytics.churn import training
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.decide.day import DECISION_COLUMNS
from weiwan.analytics.ingest import ingest
from weiwan.analytics.policy_models import OPEN
from weiwan.analytics.warehouse import Warehouse
from weiwan.cli import app
from weiwan.core.settings import get_settings
from weiwan.pipeline.publish.rule_documents import config_dir
from weiwan.sim import simulate

runner = CliRunner()
#: a month-end well after the shipped policies' first validity ended (2026-12-31)
DAY = date(2027, 6, 30)
SHIPPED = Path(__file__).parents[2] / "src" / "weiwan" / "analytics" / "policies.yaml"


def _operator(root: Path, subscribers: int, months: int) -> Path:
    """A simulated operator whose last month is 2027-06, ingested under ``root`` (its home)."""
    simulate(
        subscribers=subscribers, months=months, seed=3, out=root / "sim", end_month=f"{DAY:%Y-%m}"
    )
    with Warehouse(root / "warehouse.duckdb", threads=2) as wh:
        ingest(root / "sim", snapshot=DAY, warehouse=wh)
    return root


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings re-read for each test (WEIWAN_HOME set by the test)."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _use(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(root))
    train_on_the_15th_only(monkeypatch)
    get_settings.cache_clear()


def _decisions(root: Path) -> pd.DataFrame:
    with Warehouse(root / "warehouse.duckdb", threads=2) as wh:
        table = wh.table("decisions")
        frame: pd.DataFrame = table.filter(table.snapshot_date == DAY).to_pandas()
    return frame


@pytest.fixture(scope="module")
def operator_2027(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _operator(tmp_path_factory.mktemp("op2027"), subscribers=2000, months=8)


def test_the_run_goes_on_after_the_first_policy_year_and_warns_without_a_valid_policy(
    operator_2027: Path, monkeypatch: pytest.MonkeyPatch, home: None
) -> None:
    _use(monkeypatch, operator_2027)
    ran = runner.invoke(app, ["pipeline", "run", "--snapshot", str(DAY), "--no-publish"])
    assert ran.exit_code == 0, ran.output
    assert "warning:" not in ran.output  # the shipped policies are valid in 2027
    frame = _decisions(operator_2027)
    assert set(DECISION_COLUMNS) <= set(frame.columns) and len(frame) > 0
    assert frame.loc[frame["trigger_kind"] == "risk", "action"].any()
    # the model scores an empty snapshot as no rows of the same columns (LightGBM refuses one)
    model, meta = ModelRegistry(operator_2027 / "models").load()
    with Warehouse(operator_2027 / "warehouse.duckdb", threads=2) as wh:
        features = wh.table("features").filter(lambda t: t.snapshot_date == DAY).to_pandas()
    one = training.score_frame(model, meta, features.iloc[:1], reasons_for="all")
    none = training.score_frame(model, meta, features.iloc[:0], reasons_for="all")
    assert none.empty and list(none.columns) == list(one.columns)

    # the same operator with a library that ended 2026-12-31 (the library shipped before)
    doc = yaml.safe_load(SHIPPED.read_text("utf-8"))
    for policy in doc["policies"]:
        assert policy["valid_to"] == OPEN
        policy["valid_to"] = date(2026, 12, 31)
        policy.pop("review_by")
        policy["budget"].pop("per_months")
    config_dir(operator_2027).mkdir(exist_ok=True)
    edited = config_dir(operator_2027) / "policies.yaml"
    edited.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    ran = runner.invoke(app, ["pipeline", "run", "--snapshot", str(DAY), "--no-publish"])
    assert ran.exit_code == 0, ran.output
    assert f"no retention policy is approved and valid on {DAY}" in ran.output
    frame = _decisions(operator_2027)
    assert list(frame.columns[: len(DECISION_COLUMNS)]) == list(DECISION_COLUMNS)
    risk = frame[frame["trigger_kind"] == "risk"]
    assert len(risk) > 0 and not risk["action"].any() and risk["policy_id"].isna().all()
    assert set(risk["outcome"]) <= {"no_eligible_policy", "holdout"}
    with Warehouse(operator_2027 / "warehouse.duckdb", threads=2) as wh:
        stored = wh.execute("SELECT event FROM run_warnings WHERE snapshot_date = ?", [DAY])
    assert stored == [("policies.none_valid",)]


def test_a_model_on_random_labels_is_not_promoted_without_force(
    operator_2027: Path, monkeypatch: pytest.MonkeyPatch, home: None
) -> None:
    _use(monkeypatch, operator_2027)
    frame_of = training.snapshot_frame

    def random_labels(*args: object, **kwargs: object) -> pd.DataFrame:
        # labels with no signal, half of them churners: the hold-out's AUC is 0.5 within a
        # few hundredths; permuting the few real churners (~40 in the hold-out) left it
        # anywhere in 0.4–0.6, above the floor by chance when the features changed
        frame = frame_of(*args, **kwargs)  # type: ignore[arg-type]
        rng = np.random.default_rng(0)
        frame["churned"] = rng.random(len(frame)) < 0.5
        return frame

    monkeypatch.setattr(training, "snapshot_frame", random_labels)
    registry = ModelRegistry(operator_2027 / "models")
    before = registry.promoted()
    ran = runner.invoke(app, ["model", "train", "--promote"])
    assert ran.exit_code == 1, ran.output
    assert "below 0.55" in ran.output and "--force" in ran.output
    weak = registry.versions()[-1]
    assert weak != before and registry.promoted() == before  # registered, not promoted
    assert registry.meta(weak).metrics["default"]["roc_auc"] < 0.55
    refused = runner.invoke(app, ["model", "promote", weak])
    assert refused.exit_code == 1 and registry.promoted() == before
    forced = runner.invoke(app, ["model", "promote", weak, "--force"])
    assert forced.exit_code == 0, forced.output
    assert registry.promoted() == weak


def test_too_few_churners_say_so_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: None
) -> None:
    root = _operator(tmp_path, subscribers=300, months=5)
    _use(monkeypatch, root)
    frames: list[object] = []
    frame_of = training.snapshot_frame

    def counted(*args: object, **kwargs: object) -> pd.DataFrame:
        frames.append(args[1])
        return frame_of(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "snapshot_frame", counted)
    ran = runner.invoke(app, ["pipeline", "run", "--snapshot", str(DAY), "--no-publish"])
    assert ran.exit_code == 0, ran.output
    text = " ".join(ran.output.split())
    assert "too few churners to train a churn model" in text
    assert frames == []  # told from the drawn samples, before any snapshot's features
    assert "--horizon" in text and "more months of history" in text
    assert ModelRegistry(root / "models").promoted() is None
    export = runner.invoke(
        app, ["scores", "export", "--snapshot", str(DAY), "--out", str(tmp_path / "s.csv")]
    )
    assert export.exit_code == 1
    said = " ".join(export.output.split())
    assert "too few churners" in said and "--horizon" in said
    assert not (tmp_path / "s.csv").exists()
