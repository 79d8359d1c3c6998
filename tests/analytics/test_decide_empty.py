"""The day's decisions from empty inputs: empty, well-formed results, never an exception.

An installation's daily run must survive a day with no risky subscriber, no fired rule, no
policy valid on the day (the January after every shipped policy ended) or no one at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pytest
from decide_fixtures import (
    DAY,
    alerts_table,
    care_alert,
    policy_library,
    profile_table,
    subscriber_row,
)

from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide.config import load_decide_config
from weiwan.analytics.decide.day import (
    DAY_STAGES,
    DECISION_COLUMNS,
    DECISION_SCHEMA,
    DayInputs,
    decide_day,
)
from weiwan.analytics.policies import PolicyLibrary


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
        ([subscriber_row("s1", "low")], [], date(2027, 12, 31)),  # no risk, no fired rule
        ([subscriber_row("s1", "low")], [], None),  # ... and no policy
    ],
    ids=["empty-profile", "no-trigger", "no-trigger-no-policy"],
)
def test_no_trigger_gives_an_empty_well_formed_day(
    subscribers: list[dict[str, Any]], alerts: list[dict[str, Any]], valid_to: date | None
) -> None:
    frame = _decide(
        profile_table(subscribers), alerts_table(alerts), policy_library(valid_to=valid_to)
    )
    _well_formed(frame)
    assert frame.empty


@pytest.mark.parametrize("valid_to", [date(2026, 12, 31), None], ids=["expired", "no-policy"])
def test_risky_subscribers_without_a_valid_policy_get_no_eligible_policy(
    valid_to: date | None,
) -> None:
    """The January time bomb: every policy ended, the risky subscribers are still recorded."""
    profile = profile_table([subscriber_row("s1", "high"), subscriber_row("s2", "high")])
    frame = _decide(profile, alerts_table([care_alert("s3")]), policy_library(valid_to=valid_to))
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
    profile = profile_table([subscriber_row("s1", "high"), subscriber_row("s2", "high")])
    frame = _decide(profile, alerts_table([]), policy_library(valid_to=date(2027, 12, 31)))
    _well_formed(frame)
    assert set(frame["policy_id"].dropna()) == {"p96"}


def test_a_stage_timer_wraps_every_stage_in_order_without_changing_the_day() -> None:
    """The benchmark times decide_day itself through ``stage``: each stage is entered once, in
    order, each exits before the next starts, and the decisions are the untimed ones."""
    profile = profile_table([subscriber_row("s1", "high"), subscriber_row("s2", "high")])
    alerts = alerts_table([care_alert("s3")])
    library = policy_library(valid_to=date(2027, 12, 31))
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
