"""Event rules: their shape, the condition evaluated over one customer's values with the
language's two-valued semantics, the stable hold-out, and their place in the alert rules."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from weiwan.analytics.alerts import load_rules
from weiwan.core.event_rules import EventRule, event_rules_of

SLA = {"default": {"action": "outbound_call", "within_minutes": 30}}


def _rule(condition: Any = None, **extra: Any) -> EventRule:
    raw = {"id": "r", "trigger": "event", "event_type": "complaint", "name_zh": "规则",
           "name_en": "rule", "sla": SLA, **extra}  # fmt: skip
    if condition is not None:
        raw["condition"] = condition
    return EventRule.model_validate(raw)


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ({"field": "value_tier", "op": "=", "value": "gold"}, {"value_tier": "gold"}, True),
        ({"field": "value_tier", "op": "!=", "value": "gold"}, {"value_tier": None}, False),
        ({"field": "arpu_1m", "op": ">=", "value": 50}, {"arpu_1m": 96.0}, True),
        ({"field": "arpu_1m", "op": "<", "value": 50}, {"arpu_1m": "96"}, False),
        (
            {"field": "event.severity", "op": "in", "value": ["high"]},
            {"event.severity": "high"},
            True,
        ),
        ({"field": "risk_band", "op": "not_in", "value": ["low"]}, {}, False),  # NULL: never
        ({"not": {"field": "risk_band", "op": "in", "value": ["low"]}}, {}, True),
        (
            {"field": "churn_probability", "op": "between", "value": [0.1, 0.3]},
            {"churn_probability": 0.3},
            True,
        ),
        (
            {"field": "join_date", "op": "<", "value": "2025-01-01"},
            {"join_date": date(2024, 5, 1)},
            True,
        ),
        ({"field": "contract_end_date", "op": "is_null"}, {"contract_end_date": None}, True),
        (
            {"all": [{"tag": "high_offnet_caller"}, {"field": "x", "op": "not_null"}]},
            {"x": 0},
            True,
        ),
        (
            {"any": [{"tag": "other_tag"}, {"field": "x", "op": "=", "value": True}]},
            {"x": 1},
            False,
        ),  # a number is not a boolean
    ],
)
def test_conditions_over_one_customer(
    condition: Any, values: dict[str, Any], expected: bool
) -> None:
    assert _rule(condition).matches(values, ["high_offnet_caller"]) is expected


def test_the_hold_out_is_a_stable_share() -> None:
    rule = _rule(holdout=0.1)
    ids = [f"S{i:07d}" for i in range(20_000)]
    held = {s for s in ids if rule.holds_out(s)}
    assert len(held) / len(ids) == pytest.approx(0.1, abs=0.01)
    assert held == {s for s in ids if rule.holds_out(s)}
    assert not any(_rule(holdout=0.0).holds_out(s) for s in ids[:1000])
    other = EventRule.model_validate({**_rule().model_dump(exclude={"condition"}), "id": "q"})
    assert len(held & {s for s in ids if other.holds_out(s)}) < 0.2 * len(held)  # independent


def test_bad_rules_are_named_with_their_field() -> None:
    rules, problems = event_rules_of(
        {"rules": [
            {"id": "ok", "trigger": "event", "event_type": "complaint", "name_zh": "甲",
             "name_en": "a", "sla": SLA},
            {"id": "no_default", "trigger": "event", "event_type": "complaint", "name_zh": "乙",
             "name_en": "b", "sla": {"gold": SLA["default"]}},
            {"id": "bad_type", "trigger": "event", "event_type": "coffee", "name_zh": "丙",
             "name_en": "c", "sla": SLA},
            {"id": "daily", "kind": "alert"},  # a daily rule: not this reader's business
            {"id": "why", "trigger": "event", "event_type": "complaint", "name_zh": "丁",
             "name_en": "d", "sla": SLA, "event_reason": "weather"},
            {"id": "net", "trigger": "event", "event_type": "complaint", "name_zh": "戊",
             "name_en": "e", "sla": SLA, "event_reason": "network_quality"},
        ]}
    )  # fmt: skip
    assert [r.id for r in rules] == ["ok", "net"]
    assert rules[1].event_reason == "network_quality"
    assert problems[0] == "no_default: sla: give the SLA of the 'default' value tier"
    assert problems[1].startswith("bad_type: event_type: Input should be")
    assert problems[2].startswith("why: event_reason: event_reason is one of price, network_")
    assert problems[2].endswith("not 'weather'")


def test_event_rules_ride_with_the_alert_rules_and_never_with_the_daily_ones(
    tmp_path: Path,
) -> None:
    shipped = load_rules()
    assert {r.id for r in shipped.event_rules} >= {"port_out_code_request", "serious_complaint"}
    assert not {r.id for r in shipped.event_rules} & {r.id for r in shipped.rules}
    assert shipped.errors == []
    anomalies = tmp_path / "anomalies.yaml"
    anomalies.write_text(
        "rules:\n  - {id: e1, trigger: event, event_type: complaint, name_zh: 甲, name_en: a,\n"
        "     sla: {default: {action: outbound_call, within_minutes: 5}}}\n",
        "utf-8",
    )
    refused = load_rules([anomalies], kinds=("anomaly",))
    assert refused.event_rules == [] and "belong with the alert rules" in str(refused.errors)
