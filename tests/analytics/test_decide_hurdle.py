"""The return-on-spend hurdle (``min_value_per_yuan``, 投入产出比) and the floor on a call's value
(``min_value_for_call``): what falls below them is not offered, in the day's decisions and in
the shared valuation the real-time offer uses, and the decision says it was not worth it."""

from __future__ import annotations

import pandas as pd
from decide_fixtures import DAY, alerts_table, policy_library, profile_table, subscriber_row

from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide.config import holdout_bucket, load_decide_config
from weiwan.analytics.decide.day import DayInputs, decide_day
from weiwan.core.decide_rules import DecideConfig
from weiwan.core.offer_valuation import below_hurdle


def _scored(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["channel", "expected_value", "cost"])


def test_below_hurdle_weighs_value_against_cost_and_calls_against_their_floor() -> None:
    config = load_decide_config().model_copy(
        update={"min_value_per_yuan": 2.0, "min_value_for_call": 5.0}
    )
    scored = _scored(
        [
            ("sms", 9.9, 10.0),  # saves 19.9 for 10: under 2 per yuan
            ("sms", 10.0, 10.0),  # saves 20 for 10: on the hurdle, kept
            ("store", 0.5, 0.0),  # costs nothing: any positive value is a return
            ("outbound_call", 4.0, 3.0),  # 7 for 3 clears the return, not the call's floor
            ("outbound_call", 6.0, 3.0),  # both
            ("sms", -1.0, 10.0),  # no positive value: left to be judged not worth it
        ]
    )
    assert below_hurdle(scored, config).tolist() == [True, False, False, True, False, False]
    lax = config.model_copy(update={"min_value_per_yuan": 0.0, "min_value_for_call": 0.0})
    assert not below_hurdle(scored, lax).any()


def _decide(config: DecideConfig, value: float) -> pd.DataFrame:
    row = subscriber_row("s1", "high") | {"future_value": value}
    inputs = DayInputs(profile=profile_table([row]), alerts=alerts_table([]))
    library = policy_library(valid_to=DAY.replace(year=DAY.year + 1))
    return decide_day(inputs, library, load_contact_policy(), config, DAY)


def test_an_offer_under_the_return_on_spend_is_not_worth_it() -> None:
    """The 504-yuan policy for a 3 000-yuan subscriber at high risk: about 810 yuan saved, a
    positive expected value but 1.6 yuan per yuan — made at a hurdle of 1.5, not at 2."""
    shipped = load_decide_config()
    assert holdout_bucket("s1", "risk") >= shipped.holdout_share("risk")  # decided, not held out
    strict = _decide(shipped.model_copy(update={"min_value_per_yuan": 2.0}), 3000.0).iloc[0]
    assert not strict["action"] and strict["outcome"] == "not_worth_it"
    assert "not worth its cost" in strict["why_en"] and "预期价值" in strict["why_zh"]
    lax = _decide(shipped.model_copy(update={"min_value_per_yuan": 1.5}), 3000.0).iloc[0]
    assert lax["action"] and lax["outcome"] == "granted" and lax["policy_id"] == "p96"
    saved = lax["expected_value"] + lax["cost"]
    assert 1.5 * lax["cost"] <= saved < 2.0 * lax["cost"]
