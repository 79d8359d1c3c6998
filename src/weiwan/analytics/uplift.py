"""Per-customer uplift learned from recorded outcomes: what each offer changes for whom.

The evidence is every closed retention decision or earlier campaign in an arm: offered
(``treated``) or held out as the control, with whether the customer churned over the outcome
window (``analytics.outcomes``) and the customer's features and churn score on that day.

The learner, built for thin evidence (docs/next-best-action.md):

- **control arm**: what the held-out customers would do untreated is the churn model's score,
  recalibrated on the controls to the outcome window (a logistic fit of their churn on the
  score's log-odds): the churn model has seen every customer, the controls are a few thousand;
- **level**: each offer type's prior (× driver match) is rescaled when the randomised
  comparison of churn less the control risk — all offer types together, then each (its
  offered customers against every control of their comparisons) — differs from what it
  predicts by more than two standard errors;
- **who responds**: one LightGBM model over both arms, the arm a feature, boosted *from* the
  rescaled prior (trees chosen by 5-fold cross-validation, none when no tree beats the start),
  blended with the rescaled prior by the weight whose out-of-fold effects predict the
  transformed outcome best within one standard error — once one beats the prior by two.
  While evidence is thin the estimate stays at the prior and moves toward what the customers
  show as it grows: a shrinkage, not a switch at a threshold.

- **persistence**: per offer type, how much of its cut in the first month's churn still holds
  in the window's later months, among the customers still there (0: an effect of one month, as
  a call's; 1: the same relative cut every month, as a commitment that holds) — the least the
  evidence shows, by the same two standard errors. The decisions value a learned uplift over
  the window, and beyond it toward the offer's commitment by this share.

The relative uplift of a customer is 1 − P(churn | offered) ÷ P(churn | not offered), which may
be negative (customers a contact annoys). An offer type offered to few customers stays at the
pooled level (its comparison is too wide to move it) and moves as its evidence grows; one never
offered keeps the prior × driver match of the decide configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from weiwan.analytics.churn.models import Split, inner_splits, prepare_features
from weiwan.core.decide_rules import OUTCOME_MONTHS
from weiwan.core.offer_valuation import MAX_UPLIFT, MIN_UPLIFT

#: the warehouse table of each day's learned levels (:meth:`UpliftModel.levels`)
UPLIFT_LEVELS = "uplift_levels"
#: held-out customers, and churners among them, before anything is learned (the control arm's
#: calibration and every comparison need them); offer types need no count of their own
MIN_ARM = 200
MIN_CHURNERS = 10
#: evidence kept per arm (the most recent first): bounds the daily run's cost at any size
MAX_ROWS_PER_ARM = 200_000
#: the evidence's column naming the randomised comparison a row belongs to (its source and
#: day: a day's decisions, a campaign's contacts of one day); offered and held out are alike
#: only within one
EXPERIMENT = "experiment"
FOLDS = 5
#: the blends of prior and learned uplift the evidence chooses between
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: the range the evidence may rescale a prior in (negative: the offer does harm)
MIN_SCALE, MAX_SCALE = -2.0, 3.0
#: standard errors by which the measured effect must differ from the prior's to rescale it
LEVEL_Z = 2.0
#: the evidence's column: churned in the first month of the outcome window (``analytics.outcomes``)
FIRST_MONTH = "churned_first_month"
#: standard errors by which a blend with the trees must predict the randomised comparison
#: better out of fold than a simpler one to be chosen: each offer type picks the best of
#: several blends and five offer types are judged every day, so at one standard error some
#: prior moves on noise most days (on a 20 k operator the discount's trees were taken, and
#: ranked its customers no better than chance)
TREE_Z = 2.0
MAX_TREES = 200
_EPS = 1e-6
#: small, strongly regularised trees: a few thousand treated customers carry the effect
TREE_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_data_in_leaf": 80,
    "lambda_l2": 10.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "verbose": -1,
    "num_threads": 2,
    "deterministic": True,
    "seed": 7,
}


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


OFFER_COLUMN = "_offer"  # the evidence's arm as a feature: an offer type or NO_OFFER
NO_OFFER = "none"


@dataclass(frozen=True)
class OfferEvidence:
    """One offer type's evidence and what was learned from it."""

    offer_type: str
    treated: int
    churners: int
    prior: float  # mean prior relative uplift of its treated customers, where trees start
    scale: float  # the prior's level the evidence supports (1: the prior as configured)
    weight: float  # how far the evidence moved the estimate from the scaled prior to the trees,
    # which start from the scaled prior
    mean_uplift: float  # mean learned relative uplift over its treated customers
    #: the share of its first month's relative cut in churn that holds in the window's later
    #: months (0 … 1; 0 where the evidence shows none or cannot tell)
    persistence: float = 0.0


@dataclass
class UpliftModel:
    """Per-customer relative uplift per offer type (see the module doc)."""

    features: list[str]
    categories: dict[str, list[str]]  # of the categorical features, as the churn model has them
    intercept: float  # control calibration: logit P(churn over the window | not offered)
    slope: float  # … = intercept + slope × logit(churn score)
    arms: list[str]  # NO_OFFER and the offer types in the evidence, the arm feature's levels
    controls: int
    control_churners: int
    offers: dict[str, OfferEvidence] = field(default_factory=dict)
    booster: lgb.Booster | None = field(default=None, repr=False)
    #: the outcome window the evidence measured, in months: the usual 3, or the first month
    #: alone while too few 3-month windows have closed (a cold start)
    window_months: int = OUTCOME_MONTHS

    @property
    def trees(self) -> int:
        """Trees the evidence earned (0: every estimate is still the prior's)."""
        return self.booster.current_iteration() if self.booster is not None else 0

    def control_risk(self, score: np.ndarray) -> np.ndarray:
        """The calibrated churn model: P(churn over the outcome window | not offered)."""
        return _sigmoid(self.intercept + self.slope * _logit(np.asarray(score, float)))

    def log_odds(
        self, x: pd.DataFrame, arm: str, control: np.ndarray, prior: np.ndarray | float = 0.0
    ) -> np.ndarray:
        """Log-odds of churn over the window of customers ``x`` (model-ready) in ``arm`` (an
        offer type or :data:`NO_OFFER`), whose calibrated control risk is ``control`` and prior
        relative uplift in that arm ``prior``."""
        start = _logit(control * (1.0 - prior))
        if self.booster is None:
            return start
        return np.asarray(start + _tree_log_odds(self.booster, x, [arm] * len(x), self.arms))

    def relative_uplift(
        self, features: pd.DataFrame, offer_type: pd.Series, score: pd.Series, prior: pd.Series
    ) -> pd.Series:
        """Relative uplift of each row (a customer's ``features`` offered ``offer_type``, with
        churn score ``score`` and ``prior`` relative uplift of that offer); NaN for offer types
        nothing was learned for."""
        out = pd.Series(np.nan, index=offer_type.index, dtype=float)
        if not len(out):
            return out
        x, _ = prepare_features(features[self.features], categories=self.categories)
        control = self.control_risk(score.to_numpy(float))
        untreated = _sigmoid(self.log_odds(x, NO_OFFER, control))
        for name in self.offers:
            rows = (offer_type == name).to_numpy()
            if not rows.any():
                continue
            chosen = self.offers[name]
            before = chosen.scale * prior.to_numpy(float)[rows]
            treated = _sigmoid(self.log_odds(x.loc[rows], name, control[rows], before))
            learned = 1.0 - treated / np.maximum(untreated[rows], _EPS)
            uplift = (1 - chosen.weight) * before + chosen.weight * learned
            out[rows] = np.clip(uplift, MIN_UPLIFT, MAX_UPLIFT)
        return out

    def persistence(self, offer_type: pd.Series) -> pd.Series:
        """Each row's offer type's persistence (:class:`OfferEvidence`; 0 for a type nothing
        was learned for)."""
        shares = {name: e.persistence for name, e in self.offers.items()}
        return offer_type.map(shares).astype(float).fillna(0.0)

    def without_effect(self) -> list[str]:
        """The offer types the evidence shows cutting no churn: their mean learned uplift over
        the customers offered them is not above 0 (the randomised comparisons put the prior's
        level at or below nothing). The decisions value them at nothing for almost everyone,
        and their hold-outs then stop adding evidence (``analytics.outcomes``)."""
        return [name for name, e in self.offers.items() if e.mean_uplift <= 0]

    def levels(self) -> list[dict[str, Any]]:
        """Per offer type what the outcomes taught, as one level of its prior (published for
        the real-time offer, which has no features to run trees on, and for the decision
        evaluation page; logged by the daily run): the scale where the trees take no part,
        else the learned mean uplift over the customers offered it ÷ their prior's; with the
        evidence behind it."""
        rows = []
        for e in self.offers.values():
            level = e.scale
            if e.weight > 0 and e.prior > 0:
                level = e.mean_uplift / e.prior
            rows.append(
                {
                    "offer_type": e.offer_type,
                    "level": round(float(level), 4),
                    "scale": round(e.scale, 4),
                    "tree_weight": float(e.weight),
                    "prior_uplift": round(e.prior, 4),
                    "mean_uplift": round(e.mean_uplift, 4),
                    "persistence": round(e.persistence, 4),
                    "window_months": self.window_months,
                    "treated": e.treated,
                    "treated_churned": e.churners,
                    "controls": self.controls,
                    "controls_churned": self.control_churners,
                }
            )
        return rows


def held_out(outcomes: pd.DataFrame) -> tuple[int, int]:
    """(held-out customers, churners among them) of ``outcomes`` (``treated``, ``churned``)."""
    controls = ~outcomes["treated"].astype(bool).to_numpy()
    churners = int(outcomes["churned"].astype(bool).to_numpy()[controls].sum())
    return int(controls.sum()), churners


def enough_controls(
    outcomes: pd.DataFrame, min_arm: int = MIN_ARM, min_churners: int = MIN_CHURNERS
) -> bool:
    """Whether ``outcomes`` (``treated``, ``churned``) hold the held-out customers and churners
    among them that anything is learned from (checked before their evidence is built)."""
    controls, churners = held_out(outcomes)
    return controls >= min_arm and churners >= min_churners


def learn_uplift(
    evidence: pd.DataFrame,
    features: pd.DataFrame,
    *,
    categories: dict[str, list[str]] | None = None,
    min_arm: int = MIN_ARM,
    min_churners: int = MIN_CHURNERS,
    window_months: int = OUTCOME_MONTHS,
) -> UpliftModel | None:
    """The uplift model from ``evidence`` (offer_type: the offer made or, for a held-out row,
    the one it would have had; treated, churned; score: the churn model's probability that
    day; prior: the offer's relative uplift expected before any outcome) and its rows'
    ``features`` (same order); ``categories``: the churn model's categories (learned from
    ``features`` when None); ``window_months``: the outcome window ``churned`` covers. None
    without enough controls."""
    treated = evidence["treated"].astype(bool).to_numpy()
    churned = evidence["churned"].astype(bool).to_numpy()
    # outcomes recorded before the first month was told apart teach no persistence
    known = FIRST_MONTH in evidence and bool(evidence[FIRST_MONTH].notna().all())
    first = evidence[FIRST_MONTH].astype(bool).to_numpy() if known else None
    score = evidence["score"].astype(float).to_numpy()
    offer_type = evidence["offer_type"].astype(str).to_numpy()
    offer = np.where(treated, offer_type, NO_OFFER)
    controls = ~treated
    if not enough_controls(evidence, min_arm, min_churners):
        return None
    calibration = LogisticRegression(C=1e4).fit(
        _logit(score[controls]).reshape(-1, 1), churned[controls]
    )
    x, learned_categories = prepare_features(features, categories=categories)
    x = x.reset_index(drop=True)
    model = UpliftModel(
        features=list(features.columns),
        categories=categories if categories is not None else learned_categories,
        intercept=float(calibration.intercept_[0]),
        slope=float(calibration.coef_[0, 0]),
        arms=[NO_OFFER, *sorted(set(offer[treated]))],
        controls=int(controls.sum()),
        control_churners=int(churned[controls].sum()),
        window_months=window_months,
    )
    control = model.control_risk(score)
    prior = evidence["prior"].astype(float).fillna(0.0).to_numpy()
    # first the level of each offer's prior (what evidence fixes first), then the trees learn
    # who responds more or less than that level says
    prior_shift = -control * prior  # P(churn | offered) − P(churn | not offered), by the prior
    # all offer types together first: the per-offer evidence is thin long after the pooled
    # evidence is not (e.g. an outcome window that dilutes a one-month effect shows at once)
    strata = evidence[EXPERIMENT].to_numpy() if EXPERIMENT in evidence else None
    # compared as churn less the calibrated control risk: the risk the model gives each
    # customer takes out who was chosen for what (weiwan's own decisions treat the ones the
    # arbitration granted, their controls are every hold-out worth acting on)
    surprise = churned - control
    level = _level(treated, surprise, prior_shift, strata=strata)
    # then each offer type against every control of its comparisons: the few hundred held
    # out of one offer alone are too few (on a 50 k operator's campaigns ~400 a type: one
    # such group churning 5 points below the rest by chance made its offer look harmful and
    # dropped it from every decision)
    scale = {
        name: _level(
            treated[pair],
            surprise[pair],
            prior_shift[pair],
            level,
            None if strata is None else strata[pair],
        )
        for name in model.arms[1:]
        for pair in [(offer_type == name) | controls]  # offered it, or held out of any
    }
    scaled = prior * np.array([scale.get(name, level) for name in offer_type])
    start = _logit(control * (1.0 - np.where(treated, scaled, 0.0)))
    arms = x.assign(**{OFFER_COLUMN: pd.Categorical(offer, categories=model.arms)})
    # a customer offered in one campaign and held out of another is one person: their rows
    # stay on one side of every fold, or the trees would be chosen on remembering them
    customers = evidence["subscriber_id"].to_numpy() if "subscriber_id" in evidence else None
    boosted = _boost(arms, churned, start, customers)
    model.booster = None if boosted is None else boosted.booster
    learned_shift = _out_of_fold_shift(model, boosted, x, control, scaled, offer_type)
    # every offer type offered at all: a thin one's own comparison cannot move it past the
    # pooled level by two standard errors, so it stays there and moves as its evidence grows
    # (a shrinkage, not a switch at a count); one never offered keeps its prior (nothing shows
    # how it works, and the others' level could keep it from ever being tried)
    for name in model.arms[1:]:
        rows = treated & (offer_type == name)
        pair = offer_type == name
        versus = rows | controls  # offered it, or held out of any (as its level)
        weight = _tree_weight(
            treated[pair], churned[pair], -control[pair] * scaled[pair], learned_shift[pair]
        )
        c = control[rows]
        untreated = _sigmoid(model.log_odds(x.loc[rows], NO_OFFER, c))
        offered = _sigmoid(model.log_odds(x.loc[rows], name, c, scaled[rows]))
        learned = 1.0 - offered / np.maximum(untreated, _EPS)
        model.offers[name] = OfferEvidence(
            offer_type=name,
            treated=int(rows.sum()),
            churners=int(churned[rows].sum()),
            prior=float(np.mean(prior[rows])),
            scale=scale[name],
            weight=weight,
            mean_uplift=float(np.mean((1 - weight) * scaled[rows] + weight * learned)),
            persistence=0.0
            if first is None
            else _persistence(
                treated[versus], churned[versus], first[versus], _kept(strata, versus)
            ),
        )
    return model


def _out_of_fold_shift(
    model: UpliftModel,
    boosted: _Boosted | None,
    x: pd.DataFrame,
    control: np.ndarray,
    prior: np.ndarray,
    offer_type: np.ndarray,
) -> np.ndarray:
    """Per evidence row, P(churn | offered its offer) − P(churn | not offered) predicted by
    the cross-validation's trees fitted without the row (the model's tree count); the prior's
    where no tree was earned or the row's offer type has none."""
    shift = np.asarray(-control * prior)
    if boosted is None:
        return shift
    known = np.isin(offer_type, model.arms[1:])
    for (_, held), booster in zip(boosted.folds, boosted.fold_boosters, strict=True):
        rows, c, p = x.iloc[held], control[held], prior[held]
        # two predictions per fold, every offer type in one: the arm is a feature
        own = np.where(known[held], offer_type[held], NO_OFFER)
        untreated = _sigmoid(
            _logit(c)
            + _tree_log_odds(booster, rows, [NO_OFFER] * len(held), model.arms, boosted.trees)
        )
        offered = _sigmoid(
            _logit(c * (1.0 - p)) + _tree_log_odds(booster, rows, own, model.arms, boosted.trees)
        )
        shift[held] = np.where(known[held], offered, untreated * (1.0 - p)) - untreated
    return shift


def _tree_log_odds(
    booster: lgb.Booster,
    x: pd.DataFrame,
    arms: list[str] | np.ndarray,
    levels: list[str],
    trees: int | None = None,
) -> np.ndarray:
    """The trees' log-odds shift of each row of ``x`` (model-ready) in its arm of ``arms``
    (the arm feature's ``levels``), from the first ``trees`` trees (None: the booster's)."""
    offered = x.assign(**{OFFER_COLUMN: pd.Categorical(arms, categories=levels)})
    return np.asarray(booster.predict(offered, raw_score=True, num_iteration=trees))


def _transformed_outcome(treated: np.ndarray, churned: np.ndarray) -> np.ndarray:
    """y × (T / e − (1 − T) / (1 − e)) of a randomised comparison (e: the offered share):
    its mean given the customer is the true effect on the churn probability (Athey & Imbens
    2016), so the estimate that predicts it best out of fold is the best estimate of it."""
    share = float(treated.mean())
    return np.asarray(churned * (treated / share - (~treated) / (1 - share)))


def _simplest(target: np.ndarray, candidates: list[np.ndarray]) -> int:
    """The simplest of ``candidates`` (out-of-fold effects, the first being the prior) that
    predicts ``target`` about as well as the best: the prior unless the best beats it by more
    than :data:`TREE_Z` standard errors, else the first no worse than the best beyond one
    (the one-standard-error rule)."""
    losses = np.array([(target - c) ** 2 for c in candidates])
    best = int(np.argmin(losses.mean(axis=1)))

    def within(i: int, errors: float) -> bool:
        gap = losses[i] - losses[best]
        return bool(gap.mean() <= errors * gap.std() / np.sqrt(len(gap)))

    if within(0, TREE_Z):
        return 0
    return next(i for i in range(len(candidates)) if within(i, 1.0))


@dataclass(frozen=True)
class _Comparison:
    """A randomised comparison pooled over its strata: the difference in the mean outcome
    (offered − held out), its standard error, the held-out mean, and the pooled mean of an
    offered row's ``shift`` (what a prior predicts the difference to be)."""

    shown: float
    error: float
    control: float
    shift: float


def _compared(
    treated: np.ndarray,
    outcome: np.ndarray,
    strata: np.ndarray | None = None,
    shift: np.ndarray | None = None,
) -> _Comparison | None:
    """The comparison made within each of ``strata`` (the randomised comparisons: a day's
    decisions, a campaign) and pooled with the weights n₁n₀/(n₁+n₀): offered and held out are
    alike only within one — a campaign that targeted the riskiest and the hold-outs of another
    day's decisions are not. None where no stratum has both arms."""
    groups = np.zeros(len(treated), int) if strata is None else pd.factorize(strata)[0]
    y = outcome.astype(float)
    predicted = np.zeros(len(y)) if shift is None else shift
    frame = pd.DataFrame(
        {"group": groups, "treated": treated, "y": y, "y2": y * y, "shift": predicted}
    )
    arms = frame.groupby(["group", "treated"]).agg(
        n=("y", "size"), mean=("y", "mean"), square=("y2", "mean"), shift=("shift", "mean")
    )
    both = arms.unstack("treated").dropna()
    if both.empty:
        return None
    n_t, n_c = both[("n", True)], both[("n", False)]
    mean_t, mean_c = both[("mean", True)], both[("mean", False)]
    weight = n_t * n_c / (n_t + n_c)
    total = float(weight.sum())
    # each arm's variance (of a churn flag: rate × (1 − rate))
    spread_t = (both[("square", True)] - mean_t**2).clip(lower=0)
    spread_c = (both[("square", False)] - mean_c**2).clip(lower=0)
    variance = spread_t / n_t + spread_c / n_c
    return _Comparison(
        shown=float((weight * (mean_t - mean_c)).sum()) / total,
        error=float(np.sqrt((weight**2 * variance).sum())) / total,
        control=float((weight * mean_c).sum()) / total,
        shift=float((weight * both[("shift", True)]).sum()) / total,
    )


def _level(
    treated: np.ndarray,
    outcome: np.ndarray,
    prior_shift: np.ndarray,
    current: float = 1.0,
    strata: np.ndarray | None = None,
) -> float:
    """The level of a prior: ``current`` unless the randomised comparison's effect (difference
    in mean ``outcome`` — churned, or churned less the control risk —, offered − held out,
    within ``strata``: :func:`_compared`) differs from the one ``prior_shift`` × ``current``
    predicts by more than :data:`LEVEL_Z` standard errors — a direct test, far more powerful
    for a level than any per-customer loss —, and then the level nearest to it the evidence
    allows (whose predicted difference lies on that many standard errors' edge; within
    :data:`MIN_SCALE` … :data:`MAX_SCALE`)."""
    compared = _compared(treated, outcome, strata, prior_shift)
    if compared is None:
        return current
    shown, error, per_level = compared.shown, compared.error, compared.shift
    expected = current * per_level  # per_level: the difference predicted at level 1
    if abs(shown - expected) <= LEVEL_Z * max(error, _EPS):
        return current
    # the least change the evidence demands: the level whose predicted effect lies on the
    # edge of the comparison's confidence interval nearest to the prior's (a noisy comparison
    # must not turn a prior into its opposite; a clear one moves it most of the way)
    edge = shown + LEVEL_Z * error * float(np.sign(expected - shown))
    found = edge / per_level if abs(per_level) > _EPS else current
    return float(np.clip(found, MIN_SCALE, MAX_SCALE))


def _persistence(
    treated: np.ndarray,
    churned: np.ndarray,
    first: np.ndarray,
    strata: np.ndarray | None = None,
) -> float:
    """How much of an offer's relative cut in the first month's churn still holds in the
    window's later months (0 … 1), from the randomised comparison within ``strata``.

    The first month: churned in it, offered vs held out. The later months: among the
    customers still there after it, churned in the rest of the window. Were the first month's
    relative cut to hold, the later churn of the offered would be the held-out's × (1 − that
    cut); the persistence is the share of that later cut the evidence shows — the least it
    allows (the edge of :data:`LEVEL_Z` standard errors nearest to none), and 0 where no
    first-month cut is shown. An offer that acts for a month (a call, a one-off credit) shows
    none, and its customers kept in the first month may leave in the next; a commitment that
    holds shows the same cut month after month."""
    month = _compared(treated, first.astype(float), strata)
    if month is None or month.control <= _EPS or month.shown >= -LEVEL_Z * month.error:
        return 0.0
    stayed = ~first
    later = _compared(
        treated[stayed], (churned & ~first)[stayed].astype(float), _kept(strata, stayed)
    )
    if later is None or later.control <= _EPS:
        return 0.0
    cut = -month.shown / month.control  # the first month's relative cut
    edge = later.shown + LEVEL_Z * later.error  # the least later cut the evidence allows
    if edge >= 0:
        return 0.0
    return float(np.clip(-edge / (cut * later.control), 0.0, 1.0))


def _kept(strata: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if strata is None else strata[rows]


def _tree_weight(
    treated: np.ndarray, churned: np.ndarray, scaled_shift: np.ndarray, learned_shift: np.ndarray
) -> float:
    """How far to move one offer type's estimate from its scaled prior toward the trees (0 …
    1): the prior's unless a blend with the trees predicts the transformed outcome out of fold
    better by :data:`TREE_Z` standard errors, else the smallest within one of the best; thin
    evidence of who responds keeps the prior."""
    if treated.all() or not treated.any():
        return 0.0
    target = _transformed_outcome(treated, churned)
    blends = [(1 - w) * scaled_shift + w * learned_shift for w in BLEND_WEIGHTS]
    return float(BLEND_WEIGHTS[_simplest(target, blends)])


@dataclass(frozen=True)
class _Boosted:
    """The trees the cross-validation chose: fitted on all the evidence and, for out-of-fold
    estimates, on each fold's training part (the cross-validation's own boosters: refitting
    them would double the learning's cost at a province's size)."""

    booster: lgb.Booster
    folds: list[Split]
    fold_boosters: list[lgb.Booster]
    trees: int


def _boost(
    x: pd.DataFrame, y: np.ndarray, start: np.ndarray, groups: np.ndarray | None = None
) -> _Boosted | None:
    """Trees boosted from ``start`` (log-odds), as many as stratified 5-fold cross-validation
    (folds grouped by ``groups`` when given) finds useful; None when none beats the start."""
    data = lgb.Dataset(x, label=y.astype(float), init_score=start, free_raw_data=False)
    n_folds = min(FOLDS, int(y.sum()), int((~y.astype(bool)).sum()))
    if groups is not None:
        n_folds = min(n_folds, len(np.unique(groups)))
    if n_folds < 2:
        return None
    folds = inner_splits(y.astype(np.int64), groups, n_folds, seed=7)
    cv = lgb.cv(
        TREE_PARAMS,
        data,
        num_boost_round=MAX_TREES,
        folds=folds,
        callbacks=[lgb.early_stopping(10, verbose=False)],
        return_cvbooster=True,
    )
    losses = np.asarray(cv["valid binary_logloss-mean"])
    p0 = _sigmoid(start)
    at_start = float(-np.mean(y * np.log(p0) + (1 - y) * np.log(1 - p0)))
    if losses.min() >= at_start:
        return None
    trees = int(np.argmin(losses)) + 1
    fold_boosters = cv["cvbooster"]
    assert isinstance(fold_boosters, lgb.CVBooster)
    return _Boosted(
        booster=lgb.train(TREE_PARAMS, data, num_boost_round=trees),
        folds=folds,
        fold_boosters=list(fold_boosters.boosters),
        trees=trees,
    )
