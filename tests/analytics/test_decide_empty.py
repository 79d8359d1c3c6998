"""The day's decisions from empty inputs: empty, well-formed results, never an exception.

An installation's daily run must survive a day with no risky subscriber, no fired rule, no
policy valid on the day (the January after every shipped policy ended) or no one at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pytest

from weiwan.analytics.alerts import ALERT_SCHEMA
from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide.config import load_decide_config
from weiwan.analytics.decide.day import (
    DAY_STAGES,
    DECISION_COLUMNS,
    DECISION_SCHEMA,
    DayInputs,
    decide_day,
)
from weiwan.analytics.policies import PolicyLibrary, load_policies, validate_library

DAY = date(2027, 6, 30)
PROFILE_TYPES = {
    "subscriber_id": "string",
    "plan_id": "string",
    "plan_monthly_fee": "float64",
    "status": "string",
    "risk_band": "string",
    "churn_probability": "float64",
    "future_value": "float64",
    "arpu_1m": "float64",
    "reason_1_feature": "string",
    "value_tier": "string",
    "has_account_manager": "boolean",
}


def _profile(rows: list[dict[str, Any]]) -> ir.Table:
    frame = pd.DataFrame(rows, columns=list(PROFILE_TYPES))
    return ibis.memtable(frame.astype(PROFILE_TYPES)).cast(PROFILE_TYPES)


def _alerts(rows: list[dict[str, Any]]) -> ir.Table:
    frame = pd.DataFrame(rows, columns=list(ALERT_SCHEMA))
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"])
    return ibis.memtable(frame).cast(ALERT_SCHEMA)


def _subscriber(sid: str, band: str) -> dict[str, Any]:
    return {
        "subscriber_id": sid,
        "plan_id": "TC096",
        "plan_monthly_fee": 96.0,
        "status": "active",
        "risk_band": band,
        "churn_probability": 0.4 if band == "high" else 0.01,
        "future_value": 3000.0,
        "arpu_1m": 96.0,
        "reason_1_feature": "bill_shock",
        "value_tier": "silver",
        "has_account_manager": False,
    }


def _care(sid: str) -> dict[str, Any]:
    return {
        "subscriber_id": sid,
        "rule_id": "birthday_care",
        "kind": "care",
        "severity": "low",
        "period_key": "2027-06",
        "snapshot_date": DAY,
        "evidence": "",
        "action_hint": "sms_care",
    }


def _library(*, valid_to: date | None) -> PolicyLibrary:
    """The shipped value caps with one 96-yuan policy ending ``valid_to`` (None: no policy)."""
    shipped = load_policies()
    entries = []
    if valid_to is not None:
        entries.append(
            {
                "id": "p96",
                "name_zh": "预存168元送504元话费",
                "name_en": "Prepay 168 get 504",
                "offer_type": "prepay_and_get",
                "target": {"field": "plan_id", "op": "=", "value": "TC096"},
                "valid_from": date(2026, 1, 1),
                "valid_to": valid_to,
                "min_spend": 96,
                "prepay": 168,
                "limit": {"times": 1, "per_months": 12},
                "cost": {"kind": "monthly", "amount": 42, "months": 12},
                "channels": ["outbound_call", "store"],
                "approval": "approved",
            }
        )
    report = validate_library(entries, shipped.target_groups)
    assert report.ok, report.errors
    return PolicyLibrary(report.valid, (), (), shipped.value_caps, shipped.target_groups, "(test)")


def _decide(profile: ir.Table, alerts: ir.Table, library: PolicyLibrary) -> pd.DataFrame:
    return decide_day(
        DayInputs(profile=profile, alerts=alerts),
        library,
        load_contact_policy(),
        load_decide_config(),
        DAY,
    )


def _well_formed(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns) == DECISION_COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        c: str(pd.Series([], dtype=t).dtype) for c, t in DECISION_SCHEMA.items()
    }


@pytest.mark.parametrize(
    ("subscribers", "alerts", "valid_to"),
    [
        ([], [], date(2027, 12, 31)),  # no one at all
        ([_subscriber("s1", "low")], [], date(2027, 12, 31)),  # no risk, no fired rule
        ([_subscriber("s1", "low")], [], None),  # ... and no policy
    ],
    ids=["empty-profile", "no-trigger", "no-trigger-no-policy"],
)
def test_no_trigger_gives_an_empty_well_formed_day(
    subscribers: list[dict[str, Any]], alerts: list[dict[str, Any]], valid_to: date | None
) -> None:
    frame = _decide(_profile(subscribers), _alerts(alerts), _library(valid_to=valid_to))
    _well_formed(frame)
    assert frame.empty


@pytest.mark.parametrize("valid_to", [date(2026, 12, 31), None], ids=["expired", "no-policy"])
def test_risky_subscribers_without_a_valid_policy_get_no_eligible_policy(
    valid_to: date | None,
) -> None:
    """The January time bomb: every policy ended, the risky subscribers are still recorded."""
    profile = _profile([_subscriber("s1", "high"), _subscriber("s2", "high")])
    frame = _decide(profile, _alerts([_care("s3")]), _library(valid_to=valid_to))
    _well_formed(frame)
    retention = frame[frame["trigger_kind"] == "risk"]
    assert sorted(retention["subscriber_id"]) == ["s1", "s2"]
    assert not retention["action"].any()
    held = retention["holdout"]
    assert (retention.loc[~held, "outcome"] == "no_eligible_policy").all()
    assert retention["policy_id"].isna().all()
    # the care trigger still acts (its subscriber is not in the profile: probability unknown)
    care = frame[frame["trigger_kind"] == "care"]
    assert list(care["subscriber_id"]) == ["s3"]


def test_a_valid_policy_still_decides() -> None:
    """The same inputs with a policy valid on the day grant it (the test above is not vacuous)."""
    profile = _profile([_subscriber("s1", "high"), _subscriber("s2", "high")])
    frame = _decide(profile, _alerts([]), _library(valid_to=date(2027, 12, 31)))
    _well_formed(frame)
    assert set(frame["policy_id"].dropna()) == {"p96"}


def test_a_stage_timer_wraps_every_stage_in_order_without_changing_the_day() -> None:
    """The benchmark times decide_day itself through ``stage``: each stage is entered once, in
    order, each exits before the next starts, and the decisions are the untimed ones."""
    profile = _profile([_subscriber("s1", "high"), _subscriber("s2", "high")])
    alerts = _alerts([_care("s3")])
    library = _library(valid_to=date(2027, 12, 31))
    events: list[tuple[str, str]] = []

    @contextmanager
    def timer(name: str) -> Iterator[None]:
        events.append(("enter", name))
        yield
        events.append(("exit", name))

    timed = decide_day(
        DayInputs(profile=profile, alerts=alerts),
        library,
        load_contact_policy(),
        load_decide_config(),
        DAY,
        stage=timer,
    )
    assert events == [(kind, name) for name in DAY_STAGES for kind in ("enter", "exit")]
    pd.testing.assert_frame_equal(timed, _decide(profile, alerts, library))
