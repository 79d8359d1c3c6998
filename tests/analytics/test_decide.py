"""Next best action: stable hold-outs, uplift from priors, arbitration under budgets and caps."""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from weiwan.analytics.decide.arbitration import arbitrate, decision_rows
from weiwan.analytics.decide.config import holdout_bucket, in_holdout, load_decide_config
from weiwan.core.decide_rules import OUTCOME_MONTHS
from weiwan.core.errors import ConfigError
from weiwan.core.offer_valuation import (
    EVENT_DRIVER,
    LEARNED_PERSISTENCE,
    LEARNED_WINDOW,
    driver_match,
    driver_of,
    leaving_mix,
    prior_uplift,
    reason_drivers,
    reason_match,
    score_candidates,
    uplift,
)
from weiwan.core.settings import get_settings
from weiwan.core.strategy_rules import Strategies

CONFIG = load_decide_config()


def _holdout(ids: list[str], group: str, share: float) -> set[str]:
    table = ibis.memtable({"subscriber_id": ids})
    held = table.filter(in_holdout(table.subscriber_id, group, share))
    return set(held.execute()["subscriber_id"])


def test_holdout_is_stable_and_new_subscribers_do_not_reshuffle() -> None:
    ids = [f"S{i:07d}" for i in range(20_000)]
    held = _holdout(ids, "risk", 0.1)
    assert len(held) / len(ids) == pytest.approx(0.1, abs=0.01)
    assert _holdout(ids, "risk", 0.1) == held  # same run again
    grown = _holdout(ids + [f"N{i:07d}" for i in range(5_000)], "risk", 0.1)
    assert {i for i in grown if i.startswith("S")} == held  # newcomers join, nobody moves
    other = _holdout(ids, "zero_usage", 0.1)
    assert len(held & other) / len(held) == pytest.approx(0.1, abs=0.03)  # independent draws
    assert all(holdout_bucket(i, "risk") < 0.1 for i in held)
    assert sum(holdout_bucket(i, "risk") < 0.1 for i in ids) == len(held)
    assert _holdout(ids, "risk", 0.0) == set()


def test_driver_and_uplift_follow_the_config() -> None:
    features = pd.Series(["competitor_calls_3m", "months_to_contract_end", "complaints_90d", None])
    assert driver_of(features, CONFIG).tolist() == ["competitor", "contract", "service", "other"]
    offer = pd.Series(["care_call", "discount"])
    driver = [pd.Series(["service", "service"])]
    call = uplift(offer, driver, pd.Series(["outbound_call"] * 2), CONFIG)
    assert call[0] == pytest.approx(CONFIG.uplift_priors["care_call"])
    assert call[0] > call[1]  # a care call answers a service problem better than a discount
    sms = uplift(offer, driver, pd.Series(["sms"] * 2), CONFIG)
    assert (sms < call).all()
    # a customer's learned uplift replaces the prior × match; none learned keeps it; a
    # learned harm stays negative
    mine = pd.Series([0.5, np.nan])
    learned = uplift(offer, driver, pd.Series(["outbound_call"] * 2), CONFIG, mine)
    assert learned[0] == pytest.approx(0.5) and learned[1] == pytest.approx(call[1])
    harm = uplift(offer, driver, pd.Series(["outbound_call"] * 2), CONFIG, pd.Series([-0.2, 0.1]))
    assert harm.tolist() == pytest.approx([-0.2, 0.1])
    # a channel the subscriber prefers (online joiners: self-service) works better
    channels = pd.Series(["self_service", "self_service"])
    same = pd.Series(["discount", "discount"])
    liked = uplift(same, driver, channels, CONFIG, preferred=pd.Series(["self_service", "store"]))
    assert liked[0] == pytest.approx(liked[1] * CONFIG.preference_boost)


def test_an_offer_meets_the_first_three_reasons_weighted_by_rank() -> None:
    """A customer's first three churn reasons each name a driver; an offer's match is theirs
    weighted 3:2:1 over the reasons the customer has, so a care call fits a customer whose
    second reason is service better than one whose reasons are all price."""
    reasons = pd.DataFrame(
        {
            "reason_feature": ["bill_change_3m", "bill_change_3m", None, "bill_change_3m"],
            "reason_feature_2": ["complaints_90d", None, None, "arpu_trend_3m"],
            "reason_feature_3": [None, None, None, "recharge_amount_3m"],
        }
    )
    drivers = reason_drivers(reasons, CONFIG)
    assert [[v if isinstance(v, str) else None for v in d[:2]] for d in drivers] == [
        ["price", "price"],
        ["service", None],
        [None, None],
    ]
    care = pd.Series(["care_call"] * 4)
    match = driver_match(care, drivers, CONFIG).tolist()
    table = CONFIG.driver_match
    price, service = table["price"]["care_call"], table["service"]["care_call"]
    assert match[0] == pytest.approx((3 * price + 2 * service) / 5)
    assert match[1] == pytest.approx(price) == match[3]  # one reason, or all of one driver
    assert match[2] == pytest.approx(table["other"]["care_call"])  # no reason at all
    assert match[0] > match[1]
    prior = prior_uplift(care, drivers, CONFIG)
    assert prior.tolist() == pytest.approx([CONFIG.uplift_priors["care_call"] * m for m in match])


def test_the_reason_an_event_reveals_comes_before_the_customers_own() -> None:
    """A real-time event's driver (its rule's event_reason) is matched first, the customer's
    first and second reasons after it (the third drops out); rows without one keep their own,
    and so does the driver shown."""
    frame = pd.DataFrame(
        {
            "offer_type": ["discount", "discount", "care_call"],
            "reason_feature": ["dropped_calls_3m", "dropped_calls_3m", None],
            "reason_feature_2": ["bill_change_3m", "bill_change_3m", None],
            "reason_feature_3": ["voice_minutes_3m", "voice_minutes_3m", None],
            EVENT_DRIVER: [CONFIG.driver_of_reason("competitor_offer"), None, "service"],
        }
    )
    drivers = reason_drivers(frame, CONFIG)
    assert [[v if isinstance(v, str) else None for v in d] for d in drivers] == [
        ["competitor", "service", "service"],
        ["service", "price", None],
        ["price", "usage", None],
    ]
    table = CONFIG.driver_match
    match = driver_match(frame["offer_type"], drivers, CONFIG).tolist()
    competitor, service, price = (table[d]["discount"] for d in ("competitor", "service", "price"))
    assert match[0] == pytest.approx((3 * competitor + 2 * service + price) / 6)
    assert match[2] == pytest.approx(table["service"]["care_call"])  # the event's alone
    assert CONFIG.driver_of_reason("network_quality") == "service"
    assert CONFIG.driver_of_reason("weather") == "other"


def test_an_offer_meets_why_the_customer_would_leave_where_the_reasons_are_known() -> None:
    """With leaving-reason probabilities (and the setting on: off as shipped, or in a strategy
    arm) the match is each reason's driver match weighted by its probability (relocation:
    nothing holds a customer who moves away); a row without them keeps its three reasons'."""
    frame = pd.DataFrame(
        {
            "offer_type": ["care_call", "discount", "care_call", "care_call"],
            "reason_feature": ["bill_change_3m"] * 4,
            "p_leaving_service": [0.6, 0.6, np.nan, 0.0],
            "p_leaving_price": [0.3, 0.3, np.nan, 0.0],
            "p_leaving_relocation": [0.1, 0.1, np.nan, 1.0],
        }
    )
    assert leaving_mix(frame, CONFIG) is None  # off as shipped
    on = CONFIG.model_copy(update={"use_leaving_reasons": True})
    # the scores' likeliest reason beside the probabilities is not read as two more reasons
    scored = frame.assign(leaving_reason="service", leaving_reason_share=0.6)
    mix = leaving_mix(scored, on)
    assert mix is not None and list(mix.columns) == ["service", "price", "relocation"]
    drivers = reason_drivers(frame, CONFIG)
    match = driver_match(frame["offer_type"], drivers, on, mix).tolist()
    table = CONFIG.driver_match
    for row, offer in ((0, "care_call"), (1, "discount")):
        expected = (
            0.6 * table["service"][offer]
            + 0.3 * table["price"][offer]
            + 0.1 * table["relocation"][offer]
        )
        assert match[row] == pytest.approx(expected)
    assert match[0] > match[1]  # mostly service: a care call fits, a discount hardly
    assert match[2] == pytest.approx(table["price"]["care_call"])  # no mix: its reasons
    assert match[3] == pytest.approx(table["relocation"]["care_call"])
    assert match[3] < 0.1
    # a strategy arm may try them while decide.yaml leaves them off
    arms = {"default": {}, "reasons": {"share": 0.2, "use_leaving_reasons": True}}
    tried = CONFIG.model_copy(update={"strategies": Strategies.model_validate({"arms": arms})})
    assert tried.for_arm("reasons").use_leaving_reasons
    assert not tried.for_arm("default").use_leaving_reasons
    # a reason the config does not map, or a driver without a match row, matches as "other"
    odd = pd.DataFrame({"moved_planet": [1.0]})
    other = reason_match(pd.Series(["discount"]), odd, CONFIG).item()
    assert other == pytest.approx(table["other"]["discount"])


def _candidates(rows: list[tuple[str, str, float, str, float]]) -> pd.DataFrame:
    """(subscriber, policy, offer cost, channel, churn probability) with a fixed value."""
    frame = pd.DataFrame(
        rows, columns=["subscriber_id", "policy_id", "offer_cost", "channel", "churn_probability"]
    )
    frame["offer_type"] = "discount"
    frame["value"] = 1000.0
    frame["arpu"] = 50.0
    frame["reason_feature"] = "bill_trend_3m"
    return score_candidates(frame, CONFIG)


def test_a_learned_effect_that_persists_is_valued_toward_the_commitment() -> None:
    """Where the evidence showed an offer's effect holding through the window's later months,
    its learned uplift is valued beyond the window toward the commitment by that share: fully
    persisting over the 12 months committed, half over 3 + 4.5; a care call committing
    nothing past the window stays on the window; no persistence learned: the window."""
    frame = pd.DataFrame(
        {
            "subscriber_id": ["full", "half", "call", "none", "early"],
            "policy_id": ["year", "year", "call", "year", "year"],
            "offer_type": ["device_subsidy", "device_subsidy", "care_call", "discount", "discount"],
            "offer_cost": [200.0, 200.0, 0.0, 20.0, 20.0],
            "commitment_months": [12, 12, 1, 12, 12],
            "channel": ["outbound_call"] * 5,
            "churn_probability": [0.1] * 5,
            "value": [1000.0] * 5,
            "arpu": [50.0] * 5,
            "reason_feature": ["bill_trend_3m"] * 5,
            "learned_uplift": [0.2] * 5,
            LEARNED_PERSISTENCE: [1.0, 0.5, 1.0, np.nan, 0.0],
            # learned from the first month alone (a cold start): valued over that month
            LEARNED_WINDOW: [np.nan, 3.0, np.nan, np.nan, 1.0],
        }
    )
    risk = score_candidates(frame, CONFIG).set_index("subscriber_id")["risk_over_commitment"]
    assert risk["early"] == pytest.approx(0.1)
    assert risk["full"] == pytest.approx(1 - 0.9**12)
    assert risk["half"] == pytest.approx(1 - 0.9 ** (OUTCOME_MONTHS + 0.5 * 9))
    assert risk["call"] == pytest.approx(1 - 0.9**OUTCOME_MONTHS)
    assert risk["none"] == pytest.approx(1 - 0.9**OUTCOME_MONTHS)


def test_learned_uplift_is_valued_over_the_outcome_window() -> None:
    """A learned uplift works on the risk over the window it was measured on, whatever the
    commitment; a prior still works on the risk over the commitment."""
    frame = pd.DataFrame(
        {
            "subscriber_id": ["a", "b", "c"],
            "policy_id": ["year", "call", "year"],
            "offer_type": ["discount", "care_call", "discount"],
            "offer_cost": [20.0, 0.0, 20.0],
            "commitment_months": [12, 0, 12],
            "channel": ["outbound_call"] * 3,
            "churn_probability": [0.1, 0.1, 0.1],
            "value": [1000.0] * 3,
            "arpu": [50.0] * 3,
            "reason_feature": ["bill_trend_3m"] * 3,
            "learned_uplift": [0.2, 0.2, np.nan],
        }
    )
    scored = score_candidates(frame, CONFIG).set_index("subscriber_id")
    window = 1 - 0.9**OUTCOME_MONTHS
    assert scored.loc["a", "risk_over_commitment"] == pytest.approx(window)
    assert scored.loc["b", "risk_over_commitment"] == pytest.approx(window)
    assert scored.loc["c", "risk_over_commitment"] == pytest.approx(1 - 0.9**12)
    # the same learned cut is worth the same before costs, one-month call or year's offer
    gross = scored["expected_value"] + scored["cost"]
    assert gross["a"] == pytest.approx(gross["b"]) == pytest.approx(window * 0.2 * 1000)


def _budgets(**limits: tuple[float, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [(k, c, m) for k, (c, m) in limits.items()], columns=["policy_id", "count", "money"]
    )


def test_expected_value_by_hand() -> None:
    scored = _candidates([("a", "p", 20.0, "outbound_call", 0.4)])
    prior = CONFIG.uplift_priors["discount"] * CONFIG.driver_match["price"]["discount"]
    expected = 0.4 * prior * 1.0 * 1000 - (20 + CONFIG.contact_cost["outbound_call"])
    assert scored["expected_value"][0] == pytest.approx(expected)


def test_one_action_per_subscriber_within_budget_and_capacity() -> None:
    rng = np.random.default_rng(0)
    rows = [
        (f"s{i}", policy, cost, channel, float(rng.uniform(0.05, 0.6)))
        for i in range(300)
        for policy, cost in (("big", 60.0), ("small", 10.0))
        for channel in ("outbound_call", "sms")
    ]
    scored = _candidates(rows)
    out = arbitrate(scored, _budgets(big=(40, 1e9), small=(1e9, 900.0)), {"outbound_call": 50})
    granted = out[out["granted"]]
    assert granted["subscriber_id"].is_unique
    assert (granted["policy_id"] == "big").sum() <= 40
    assert granted.loc[granted["policy_id"] == "small", "offer_cost"].sum() <= 900
    assert (granted["channel"] == "outbound_call").sum() <= 50
    assert (granted["expected_value"] > 0).all()
    # the capped channel went to the most valuable calls
    calls = granted[granted["channel"] == "outbound_call"]["expected_value"]
    others = out[(out["channel"] == "outbound_call") & (out["why_not"] == "capacity")]
    if len(others):
        assert calls.min() >= others["expected_value"].max() - 1e-9
    assert set(out.loc[~out["granted"], "why_not"].dropna()) <= {
        "lower_value",
        "budget",
        "capacity",
        "not_worth_it",
    }


def test_exhausted_budget_falls_back_to_the_next_best_offer() -> None:
    scored = _candidates(
        [
            ("a", "best", 10.0, "outbound_call", 0.5),
            ("b", "best", 10.0, "outbound_call", 0.4),
            ("b", "second", 30.0, "outbound_call", 0.4),
        ]
    )
    out = arbitrate(scored, _budgets(best=(1, 1e9), second=(5, 1e9)), {})
    granted = out[out["granted"]].set_index("subscriber_id")["policy_id"].to_dict()
    assert granted == {"a": "best", "b": "second"}
    rows = decision_rows(out).set_index("subscriber_id")
    assert rows.loc["b", "policy_id"] == "second"
    assert rows.loc["b", "alt_1_policy_id"] == "best" and rows.loc["b", "alt_1_why_not"] == "budget"


def test_value_cap_and_worthless_offers() -> None:
    scored = _candidates(
        [
            ("rich", "dear", 200.0, "outbound_call", 0.9),
            ("rich", "cheap", 5.0, "sms", 0.9),
            ("calm", "cheap", 5.0, "sms", 0.001),
        ]
    )
    out = arbitrate(
        scored, _budgets(dear=(10, 1e9), cheap=(10, 1e9)), {}, pd.Series({"rich": 100.0})
    )
    assert (
        out.set_index(["subscriber_id", "policy_id"]).loc[("rich", "dear"), "why_not"]
        == "value_cap"
    )
    granted = out[out["granted"]]
    assert granted["subscriber_id"].tolist() == ["rich"] and granted["policy_id"].tolist() == [
        "cheap"
    ]
    calm = out[out["subscriber_id"] == "calm"]
    assert calm["why_not"].tolist() == ["not_worth_it"]


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "decide.yaml"
    path.write_text(
        "uplift_priors: {discount: 0.3, free_phone: 0.9}\ndriver_match: {}\n"
        "drivers: {}\ncontact_cost: {}\n",
        "utf-8",
    )
    with pytest.raises(ConfigError, match="unknown offer types \\['free_phone'\\]"):
        load_decide_config(path)
    path.write_text("uplift_priors: {discount: high}\n", "utf-8")
    with pytest.raises(ConfigError, match=r"uplift_priors\.discount"):
        load_decide_config(path)


def test_weiwan_decide_config_points_at_the_operators_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = (Path(__file__).resolve().parents[2] / "src/weiwan/analytics/decide.yaml").read_text(
        "utf-8"
    )
    copy = tmp_path / "decide.yaml"
    copy.write_text(shipped.replace("max_risk_months: 12", "max_risk_months: 3"), "utf-8")
    monkeypatch.setenv("WEIWAN_DECIDE_CONFIG", str(copy))
    get_settings.cache_clear()
    try:
        assert load_decide_config().max_risk_months == 3
        copy.write_text(
            shipped.replace("uplift_priors:", "uplift_priors:\n  lottery: 0.5"), "utf-8"
        )
        with pytest.raises(ConfigError, match=f"{copy}.*lottery"):
            load_decide_config()
    finally:
        monkeypatch.delenv("WEIWAN_DECIDE_CONFIG")
        get_settings.cache_clear()
    assert load_decide_config().max_risk_months == CONFIG.max_risk_months == 12


def test_the_explanation_names_every_driver_and_shows_an_unnamed_ones_code() -> None:
    """The daily decisions' reason text names the driver the offer meets (relocation too, which
    only a leaving reason or an event leads to); a driver decide.yaml adds keeps its code
    rather than going blank."""
    from weiwan.analytics.decide.day import Names, _explain

    out = pd.DataFrame(
        {
            "outcome": ["granted", "granted", "granted"],
            "trigger": ["risk", "risk", "risk"],
            "driver": ["relocation", "roaming", "service"],
            "policy_id": ["care", "care", "care"],
            "expected_value": [12.0, 8.0, 30.0],
            "alt_1_policy_id": [None, None, None],
            "alt_1_why_not": [None, None, None],
        }
    )
    zh, en = _explain(out, Names(policies={"care": ("关怀回访", "care call")}))
    assert zh.tolist()[0].endswith("关怀回访（驱动：迁居，预期价值 12 元）")
    assert "（驱动：roaming，" in zh[1] and "（驱动：服务不满，" in zh[2]
    assert "(driver: relocation, expected value 12 yuan)" in en[0] and "(driver: roaming," in en[1]
