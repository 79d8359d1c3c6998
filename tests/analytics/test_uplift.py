"""Per-customer uplift learned from treated vs held-out outcomes (analytics.uplift)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weiwan.analytics.churn.models import inner_splits
from weiwan.analytics.uplift import FOLDS, TREE_Z, UpliftModel, _level, _simplest, learn_uplift
from weiwan.analytics.warehouse import Warehouse
from weiwan.pipeline.decision_steps import warn_offers_without_effect
from weiwan.pipeline.steps import RunContext


def _evidence(
    n: int, effect: dict[str, float], *, prior: float = 0.3, offered: float = 0.75, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A randomised campaign: each row offered ``discount`` (a share ``offered``) or held
    out; the offer cuts the churn probability by ``effect`` of the row's segment (negative: a
    contact that annoys). The churn score is the true untreated risk, blurred."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    segment = rng.choice(list(effect), n)
    base = 1 / (1 + np.exp(-(-1.6 + 0.8 * x)))
    treated = rng.random(n) < offered
    cut = pd.Series(segment).map(effect).to_numpy()
    p = np.clip(np.where(treated, base * (1 - cut), base), 0, 1)
    score = 1 / (1 + np.exp(-(-1.6 + 0.8 * x + rng.normal(0, 0.2, n))))
    evidence = pd.DataFrame(
        {
            "offer_type": "discount",
            "treated": treated,
            "churned": rng.random(n) < p,
            "score": score,
            "prior": prior,
        }
    )
    return evidence, pd.DataFrame({"x": x, "segment": segment})


def _uplift(model: UpliftModel, features: pd.DataFrame, score: float = 0.3) -> pd.Series:
    rows = len(features)
    return model.relative_uplift(
        features,
        pd.Series(["discount"] * rows),
        pd.Series([score] * rows),
        pd.Series([0.3] * rows),
    )


def test_ample_evidence_learns_who_an_offer_works_for() -> None:
    """The offer halves churn in segment a and does nothing in b; the prior says 0.3 for all.
    With 40 000 rows the learned uplift separates the segments and beats the prior."""
    evidence, features = _evidence(40_000, {"a": 0.5, "b": 0.0})
    model = learn_uplift(evidence, features)
    assert model is not None and model.trees > 0
    learned = model.offers["discount"]
    assert learned.weight >= 0.5 and learned.treated == int(evidence["treated"].sum())
    probe = pd.DataFrame({"x": [0.0, 0.0], "segment": ["a", "b"]})
    a, b = _uplift(model, probe)
    assert a > b + 0.2
    assert abs(a - 0.5) + abs(b - 0.0) < abs(0.3 - 0.5) + abs(0.3 - 0.0)
    # published as one level of the prior (for the real-time offer): the trees' mean ÷ prior's
    (row,) = model.levels()
    assert row["tree_weight"] == learned.weight and row["level"] != row["scale"]
    assert row["level"] == pytest.approx(learned.mean_uplift / learned.prior, abs=1e-3)
    assert (row["treated"], row["controls"]) == (learned.treated, model.controls)


def _edge(target: np.ndarray, candidate: np.ndarray) -> float:
    """How many standard errors ``candidate`` predicts ``target`` better than zero does."""
    gap = target**2 - (target - candidate) ** 2
    return float(gap.mean() / (gap.std() / np.sqrt(len(gap))))


def test_the_trees_move_a_prior_only_when_they_beat_it_clearly() -> None:
    """Five offer types pick the best of several blends every day: an edge over the prior of
    1.4 standard errors (which the one-standard-error rule alone would take) keeps the prior;
    one of 4 takes the trees, and then the simplest blend within one standard error."""
    rng = np.random.default_rng(0)
    target, noise = rng.normal(size=4000), rng.normal(size=4000)
    prior = np.zeros(4000)
    faint = 0.05 * target + 0.29 * noise
    assert 1.0 < _edge(target, faint) < TREE_Z
    assert _simplest(target, [prior, faint]) == 0
    clear = 0.05 * target + 0.25 * noise
    assert _edge(target, clear) > TREE_Z + 1
    assert _simplest(target, [prior, clear]) == 1
    # of blends all clearly past the prior, the simplest as good as the best within one error
    blends = [prior, 0.9 * clear, clear]
    assert _simplest(target, blends) == 1


def test_a_contact_that_annoys_is_learned_as_negative() -> None:
    evidence, features = _evidence(40_000, {"a": -0.6, "b": -0.6})
    model = learn_uplift(evidence, features)
    assert model is not None
    probe = pd.DataFrame({"x": [0.0, 1.0], "segment": ["a", "b"]})
    assert (_uplift(model, probe) < 0).all()


def test_thin_evidence_stays_near_the_prior() -> None:
    """3 000 rows where the offer does what the prior says: no segment effect is invented."""
    evidence, features = _evidence(3_000, {"a": 0.3, "b": 0.3}, seed=3)
    model = learn_uplift(evidence, features)
    assert model is not None
    probe = pd.DataFrame({"x": np.linspace(-1, 1, 20), "segment": ["a", "b"] * 10})
    assert _uplift(model, probe).to_numpy() == pytest.approx(0.3, abs=0.12)


def test_a_customer_in_several_campaigns_is_validated_apart() -> None:
    """Each customer offered or held out in three campaigns with one outcome (a churn seen
    three times: the outcome windows overlap), and the offer does what the prior says for
    everyone. Folds that split a customer's rows let the trees learn who churned and be
    validated on the same people: dozens of trees, and here the prior replaced by them.
    Grouped by customer, what the trees find is noise: a few trees at most, the prior kept."""
    n = 8_000
    evidence, features = _evidence(n, {"a": 0.3, "b": 0.3}, seed=3)
    evidence = evidence.assign(subscriber_id=[f"s{i}" for i in range(n)])
    thrice = pd.concat([evidence] * 3, ignore_index=True)
    features = pd.concat([features] * 3, ignore_index=True)

    apart = learn_uplift(thrice, features)
    together = learn_uplift(thrice.drop(columns="subscriber_id"), features)
    assert apart is not None and together is not None
    assert together.trees >= 30 and together.offers["discount"].weight == 1.0
    assert apart.trees <= 10 and apart.offers["discount"].weight == 0.0

    customers = thrice["subscriber_id"].to_numpy()
    # the learner's folds (as `_boost` draws them)
    folds = inner_splits(thrice["churned"].to_numpy(int), customers, FOLDS, seed=7)
    assert len(folds) == FOLDS
    for fit, held in folds:
        assert not set(customers[fit]) & set(customers[held])


def test_too_little_evidence_learns_nothing() -> None:
    evidence, features = _evidence(400, {"a": 0.5, "b": 0.5})  # ~100 held out
    assert learn_uplift(evidence, features) is None
    evidence, features = _evidence(2_000, {"a": 0.5, "b": 0.5})
    few = learn_uplift(evidence, features, min_churners=10_000)
    assert few is None


def test_a_thinly_offered_type_is_shrunk_to_the_pooled_level_not_switched_at_a_count() -> None:
    """The discount does what its prior says; the care call does nothing. Offered to 40
    customers the care call's comparison barely moves it from the pooled level — it is learned
    there, not left out below a count —; offered to more, its level falls as its evidence
    grows; a type never offered keeps its prior."""
    working, features = _evidence(12_000, {"a": 0.3, "b": 0.3}, seed=21)
    levels, model = [], None
    for n, seed in ((40, 22), (600, 23), (6_000, 24)):
        care, care_features = _evidence(n, {"a": 0.0, "b": 0.0}, offered=1.0, seed=seed)
        evidence = pd.concat([working, care.assign(offer_type="care_call")], ignore_index=True)
        model = learn_uplift(evidence, pd.concat([features, care_features], ignore_index=True))
        assert model is not None and model.offers["care_call"].treated == n
        levels.append((model.offers["care_call"].scale, model.offers["discount"].scale))
    (thin, pooled), (some, _), (ample, _) = levels
    # 40: within a few hundredths of the pooled level (the discount's): too few to tell; then
    # nearer what the care call does (nothing) the more customers show it
    assert pooled == 1.0 and thin > 0.9
    assert thin > some > ample and ample < 0.4
    assert model is not None
    never = model.relative_uplift(
        features.head(3), pd.Series(["bonus_data"] * 3), pd.Series([0.3] * 3), pd.Series([0.2] * 3)
    )
    assert never.isna().all()  # never offered: the decisions keep its prior


def test_offers_the_outcomes_show_cutting_no_churn_are_named_and_warned_of(
    tmp_path: Path,
) -> None:
    """A campaign whose offer made its customers leave a little more often (as an operator's
    past campaigns can, or seem to by chance): its level falls to nothing or below, the
    decisions would grant it to no one and its hold-outs stop counting — the run says so and
    how to keep learning. An offer that does what its prior says is not named."""
    harmful, features = _evidence(20_000, {"a": -0.15, "b": -0.15}, seed=5)
    model = learn_uplift(harmful, features)
    assert model is not None and model.offers["discount"].scale <= 0
    assert model.without_effect() == ["discount"]
    assert [(r["offer_type"], r["level"] <= 0) for r in model.levels()] == [("discount", True)]

    working, features = _evidence(20_000, {"a": 0.3, "b": 0.3}, seed=5)
    fine = learn_uplift(working, features)
    assert fine is not None and fine.without_effect() == []

    with Warehouse(tmp_path / "w.duckdb") as wh:
        ctx = RunContext(wh, date(2026, 10, 31))
        warn_offers_without_effect(ctx, fine)
        assert ctx.warnings == []
        warn_offers_without_effect(ctx, model)
    [(event, message)] = ctx.warnings
    assert event == "uplift.no_effect_shown"
    offered = model.offers["discount"].treated
    assert f"{offered:,} customers offered discount" in message
    assert f"{model.controls:,} held out" in message and "uplift: prior" in message


def test_offered_and_held_out_are_compared_net_of_their_risk() -> None:
    """A campaign whose held-out customers happen to be the less risky (here: most held-out
    customers of the riskier half dropped, as a draw can leave them): their raw churn rates
    make an offer that does what its prior says look useless; churn less each customer's
    control risk compares like with like, and the prior's level stands."""
    evidence, features = _evidence(20_000, {"a": 0.3, "b": 0.3}, seed=11)
    risky = features["x"].to_numpy() > 0
    rng = np.random.default_rng(11)
    dropped = ~evidence["treated"].to_numpy() & risky & (rng.random(len(evidence)) < 0.7)
    evidence, features = evidence[~dropped], features[~dropped]
    model = learn_uplift(evidence.reset_index(drop=True), features.reset_index(drop=True))
    assert model is not None and model.offers["discount"].scale == 1.0
    assert [r["level"] for r in model.levels()] == [1.0]  # the prior confirmed

    treated = evidence["treated"].to_numpy()
    churned = evidence["churned"].to_numpy()
    control = model.control_risk(evidence["score"].to_numpy())
    shift = -control * evidence["prior"].to_numpy()
    assert _level(treated, churned, shift) < 0.5  # raw rates: the offer looks useless
    assert _level(treated, churned - control, shift) == 1.0


def _window(
    n: int, first_cut: float, later_cut: float, *, seed: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A randomised campaign followed month by month over the 3-month window: a monthly
    churn hazard per customer, cut by ``first_cut`` in the first month for the offered and by
    ``later_cut`` in the two after (negative: those kept leave later instead)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    hazard = 1 / (1 + np.exp(-(-2.6 + 0.8 * x)))
    treated = rng.random(n) < 0.7
    first = rng.random(n) < hazard * np.where(treated, 1 - first_cut, 1.0)
    later_hazard = np.clip(hazard * np.where(treated, 1 - later_cut, 1.0), 0, 1)
    later = ~first & (rng.random(n) < 1 - (1 - later_hazard) ** 2)
    risk = 1 - (1 - hazard) ** 3
    evidence = pd.DataFrame(
        {
            "offer_type": "device_subsidy",
            "treated": treated,
            "churned": first | later,
            "churned_first_month": first,
            "score": hazard,
            "prior": 0.3,
        }
    )
    assert risk.mean() > 0.15  # enough churn in the window for the comparison
    return evidence, pd.DataFrame({"x": x})


def test_an_effect_that_holds_month_after_month_is_learned_as_persisting() -> None:
    """An offer that commits its customers cuts churn by 40 % every month of the window; one
    that acts for a month only cuts the first; after one that only delays, those kept leave in
    the next months. Only the first persists; the others are valued over the window alone."""
    held = learn_uplift(*_window(30_000, 0.4, 0.4))
    once = learn_uplift(*_window(30_000, 0.4, 0.0))
    delayed = learn_uplift(*_window(30_000, 0.4, -0.3))
    assert held is not None and once is not None and delayed is not None
    lasting = held.offers["device_subsidy"].persistence
    assert 0.5 <= lasting <= 1.0
    assert once.offers["device_subsidy"].persistence == 0.0
    assert delayed.offers["device_subsidy"].persistence == 0.0
    # published with the level, and read per candidate by the decisions
    (row,) = held.levels()
    assert row["persistence"] == pytest.approx(lasting, abs=1e-4)
    types = pd.Series(["device_subsidy", "care_call"])
    assert held.persistence(types).tolist() == [pytest.approx(lasting), 0.0]


def test_evidence_without_the_first_month_learns_no_persistence() -> None:
    """Outcomes recorded before the first month was told apart: the window's level is learned
    as before, and the effect is valued over the window only."""
    evidence, features = _window(30_000, 0.4, 0.4)
    model = learn_uplift(evidence.drop(columns=["churned_first_month"]), features)
    assert model is not None and model.offers["device_subsidy"].persistence == 0.0


def test_a_cold_start_learns_from_the_first_month_until_the_windows_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Too few 3-month windows closed (a cold start's first months): the day learns from the
    first month of the decisions since, and says so (``window_months`` 1: valued over that
    month); once the 3-month windows suffice, they are used."""
    import weiwan.pipeline.decision_steps as steps
    from weiwan.analytics.decide.config import load_decide_config
    from weiwan.pipeline.decision_steps import learned_uplift

    ample = _evidence(4_000, {"a": 0.4})
    read: list[int] = []
    explained: list[int] = []

    def outcomes(wh: object, day: date, window: int) -> pd.DataFrame:
        read.append(window)
        rows = ample[0]
        picked = rows.iloc[:200] if window == 3 and not closed else rows  # a month: 50 held out
        picked = picked.copy()
        picked.attrs["window"] = window  # which window's outcomes the evidence is made of
        return picked

    def evidence(wh: object, rows: pd.DataFrame, model: object, meta: object) -> object:
        explained.append(rows.attrs["window"])
        return rows.assign(reason_feature=None), ample[1].loc[rows.index]

    class Registry:
        def promoted(self) -> str:
            return "v1"

        def load(self) -> tuple[object, None]:
            return type("Model", (), {"categories_": {"segment": ["a"]}})(), None

    monkeypatch.setattr(steps, "closed_outcomes", outcomes)
    monkeypatch.setattr(steps, "uplift_evidence", evidence)
    ctx = RunContext(None, date(2026, 8, 31), Registry())  # type: ignore[arg-type]
    closed = False
    early = learned_uplift(ctx, load_decide_config())
    # the 3-month window's too few controls are counted before any of its evidence is made
    assert read == [3, 1] and explained == [1]
    assert early is not None and early.window_months == 1
    assert early.levels()[0]["window_months"] == 1
    read.clear()
    explained.clear()
    closed = True
    later = learned_uplift(ctx, load_decide_config())
    assert read == explained == [3]
    assert later is not None and later.window_months == 3
