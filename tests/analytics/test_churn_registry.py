"""Model registry, labels and reason sentences of the warehouse churn model."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import factories as f
from feature_names import documented_features
from weiwan.analytics.churn.labels import (
    horizon_end,
    labelled_mid_months,
    labelled_snapshots,
    labels,
)
from weiwan.analytics.churn.reasons import sentences, top_reason_features, top_reasons
from weiwan.analytics.churn.registry import ModelMeta, ModelRegistry, WeakModelError
from weiwan.analytics.ingest import ingest
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.errors import WeiwanError


def _meta(auc: float = 0.8) -> ModelMeta:
    return ModelMeta(
        version="", created_at="", kind="test", horizon_months=1, include_involuntary=True,
        training_snapshots=["2026-08-31"], holdout_snapshot="2026-09-30", features=["a"],
        metrics={"default": {"roc_auc": auc}}, data_fingerprint="x", training_rows=10,
    )  # fmt: skip


@pytest.mark.parametrize("auc", [0.5, 0.549, float("nan")])
def test_a_weak_model_is_promoted_only_when_forced(tmp_path: Path, auc: float) -> None:
    registry = ModelRegistry(tmp_path / "models")
    good = registry.register({"weights": 1}, _meta(0.55))
    registry.promote(good)  # at the threshold: promoted
    weak = registry.register({"weights": 2}, _meta(auc))
    with pytest.raises(WeakModelError, match=r"below 0\.55.*--force"):
        registry.promote(weak)
    assert registry.promoted() == good
    registry.promote(weak, force=True)
    assert registry.promoted() == weak


def test_register_promote_and_roll_back(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    assert registry.promoted() is None
    with pytest.raises(WeiwanError, match="model train"):
        registry.load()
    first = registry.register({"weights": 1}, _meta())
    second = registry.register({"weights": 2}, _meta())
    assert (first, second) == ("v0001", "v0002")
    registry.promote(first)
    registry.promote(second)
    model, meta = registry.load()
    assert model == {"weights": 2} and meta.version == "v0002" and meta.created_at
    assert registry.rollback() == "v0001"
    assert registry.load()[0] == {"weights": 1}
    with pytest.raises(WeiwanError, match="roll back"):
        registry.rollback()
    with pytest.raises(WeiwanError, match="v0009"):
        registry.promote("v0009")
    assert ModelRegistry(tmp_path / "models").promoted() == "v0001"  # persisted


def test_label_windows_and_snapshots(tmp_path: Path, warehouse: Warehouse) -> None:
    assert horizon_end(date(2026, 9, 30), 1) == date(2026, 10, 31)
    assert horizon_end(date(2026, 9, 15), 2) == date(2026, 11, 15)
    assert labelled_snapshots(date(2026, 10, 31), horizon_months=1, count=3) == [
        date(2026, 7, 31), date(2026, 8, 31), date(2026, 9, 30)
    ]  # fmt: skip
    assert labelled_snapshots(date(2026, 10, 31), horizon_months=3, count=1) == [date(2026, 7, 31)]
    # mid-month days: each window (the 15th to the 15th) closed by the last data day
    assert labelled_mid_months(date(2026, 10, 31), horizon_months=1, count=2, day=15) == [
        date(2026, 8, 15), date(2026, 9, 15)
    ]  # fmt: skip
    assert labelled_mid_months(date(2026, 10, 14), horizon_months=1, count=1, day=15) == [
        date(2026, 8, 15)  # 15 Sep's window ends 15 Oct, a day after the data
    ]  # fmt: skip
    assert labelled_mid_months(date(2026, 10, 31), horizon_months=3, count=1, day=28) == [
        date(2026, 7, 28)
    ]  # fmt: skip
    f.delivery(tmp_path, subscribers=4)
    header = ["subscriber_id", "churn_date", "churn_type", "reason_code", "destination_competitor"]
    f.write_csv(tmp_path / "churn_records.csv", header, [
        {"subscriber_id": "U000000", "churn_date": "2026-10-31", "churn_type": "port_out"},
        {"subscriber_id": "U000001", "churn_date": "2026-10-05", "churn_type": "involuntary"},
        {"subscriber_id": "U000002", "churn_date": "2026-11-01", "churn_type": "voluntary"},
        {"subscriber_id": "U000003", "churn_date": "2026-09-30", "churn_type": "voluntary"},
    ])  # fmt: skip
    ingest(tmp_path, snapshot=date(2026, 11, 30), warehouse=warehouse)

    def churned(**kwargs: bool) -> set[str]:
        table = labels(warehouse, date(2026, 9, 30), **kwargs)  # type: ignore[arg-type]
        return set(table.to_pandas()["subscriber_id"])

    assert churned() == {"U000000", "U000001"}  # (09-30, 10-31]: not 09-30, not 11-01
    assert churned(include_involuntary=False) == {"U000000"}


def test_reason_sentences_carry_the_evidence() -> None:
    zh, en = sentences("offnet_share_change_3m", pd.Series([0.12, -0.05]))
    assert list(zh) == ["异网通话占比近3个月上升12个百分点", "异网通话占比近3个月下降5个百分点"]
    assert list(en) == ["off-net call share up 12 points in 3 months",
                        "off-net call share down 5 points in 3 months"]  # fmt: skip
    zh, en = sentences("months_to_contract_end", pd.Series([1.0, 0.0]))
    assert list(en) == ["contract ends in 1 months", "contract has ended"]
    zh, en = sentences("competitor_calls_3m", pd.Series([3]))
    assert (zh[0], en[0]) == (
        "近3个月呼叫异网客服3次",
        "called competitors' service lines 3 times in 3 months",
    )
    zh, en = sentences("call_forwarding_active", pd.Series([True]))
    assert (zh[0], en[0]) == ("已开启呼叫转移", "call forwarding is on")
    zh, en = sentences("status", pd.Series(["pre_disconnect"]))
    assert (zh[0], en[0]) == ("当前状态：预拆机", "status: pre-disconnect")
    zh, en = sentences("star_level", pd.Series([5]))  # an operator's own column: generic text
    assert en[0] == "star_level: 5"


def test_every_documented_feature_gives_a_sentence_in_words_not_its_column_name() -> None:
    for feature in documented_features():
        value = pd.Series(["active" if feature == "status" else 1])
        zh, en = sentences(feature, value)
        named = re.compile(rf"\b{feature}\b")  # English may use a one-word name ("gender")
        assert not named.search(zh[0]), (feature, zh[0])
        assert "_" not in feature or not named.search(en[0]), (feature, en[0])
    zh, en = sentences("join_channel", pd.Series(["agent_outlet"]))
    assert (zh[0], en[0]) == ("入网渠道：代理网点", "joined through: an agent outlet")


def test_top_reasons_take_the_largest_positive_contributions() -> None:
    names = ["competitor_calls_3m", "bill_trend_3m", "tenure_months"]
    feats = pd.DataFrame(
        {"competitor_calls_3m": [4, 0], "bill_trend_3m": [-0.3, 0.1], "tenure_months": [3, 80]}
    )
    contrib = np.array([[0.9, 0.4, -0.2, -3.0], [-0.1, -0.2, -0.3, -3.0]])
    reasons = top_reasons(contrib, feats, names)
    first = reasons.iloc[0]
    assert list(first[["reason_1_feature", "reason_2_feature"]]) == names[:2]
    assert first["reason_1_en"] == "called competitors' service lines 4 times in 3 months"
    assert first["reason_2_en"] == "bill down 30% in 3 months"
    assert first["reason_3"] is None  # tenure lowers the risk here: not a reason
    assert reasons.iloc[1][["reason_1", "reason_2", "reason_3"]].isna().all()
    # a feature of the day (the same for everyone) conditions the model but is no reason,
    # however much it moves the score
    day = top_reason_features(
        np.array([[0.9, 0.2, 5.0, 0.0]]), [*names[:2], "days_since_month_end"]
    )
    assert [list(f) for f in day] == [["competitor_calls_3m"], ["bill_trend_3m"], [None]]
    # the features alone (the uplift evidence's drivers), the same as the sentences name
    features = top_reason_features(contrib, names)
    assert [list(f) for f in features] == [
        ["competitor_calls_3m", None],
        ["bill_trend_3m", None],
        [None, None],
    ]


def test_model_commands_list_promote_and_roll_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from weiwan.cli import app
    from weiwan.core.settings import get_settings

    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    get_settings.cache_clear()
    registry = ModelRegistry(tmp_path / "models")
    for _ in range(2):
        registry.register({"weights": 0}, _meta())
    runner = CliRunner()
    assert runner.invoke(app, ["model", "promote", "v0001"]).exit_code == 0
    assert runner.invoke(app, ["model", "promote", "v0002"]).exit_code == 0
    listed = runner.invoke(app, ["model", "list"]).stdout
    assert "* v0002" in listed and "  v0001" in listed and "AUC 0.800" in listed
    assert runner.invoke(app, ["model", "rollback"]).exit_code == 0
    assert registry.promoted() == "v0001"
    failed = runner.invoke(app, ["model", "promote", "v0042"])
    assert failed.exit_code == 1 and "v0042" in failed.output
    get_settings.cache_clear()
