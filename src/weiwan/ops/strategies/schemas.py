"""API shapes of the champion–challenger evaluation and of a promotion."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class StrategyArmOut(BaseModel):
    """One arm's figures (rates as fractions; ``gain``: champion churn − arm churn)."""

    model_config = ConfigDict(from_attributes=True)

    arm: str
    champion: bool
    share: float | None
    first_day: date | None
    last_day: date | None
    subscribers: int
    churned: int
    churn_rate: float | None
    churn_low: float | None
    churn_high: float | None
    holdout_subscribers: int
    holdout_churned: int
    holdout_churn_rate: float | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    uplift_significant: bool
    saves: float | None
    acted: int
    spend: float
    cost_per_save: float | None
    gain: float | None
    gain_low: float | None
    gain_high: float | None
    p_value: float | None
    significant: bool
    pending: int


class UpliftLevelOut(BaseModel):
    """What the outcomes taught the decisions about one offer type: ``level`` × its prior
    (1: the prior confirmed, 0: no cut in churn shown), from ``treated`` customers offered it
    against ``controls`` held out; ``prior_uplift`` and ``mean_uplift``: the relative cut in
    churn over the outcome window expected before and learned, means over those offered it."""

    model_config = ConfigDict(from_attributes=True)

    offer_type: str
    level: float
    scale: float
    tree_weight: float
    prior_uplift: float
    mean_uplift: float
    #: the share of the first month's cut in churn that held through the window's later
    #: months (0 … 1): valued that far toward the offer's commitment
    persistence: float
    #: the outcome window the level was measured over, months (3; 1 while a cold start learns
    #: from its decisions' first month)
    window_months: int
    treated: int
    treated_churned: int
    controls: int
    controls_churned: int


class StrategyEvaluationOut(BaseModel):
    """The latest published evaluation (``snapshot_date`` None: none yet), champion first, and
    what the outcomes taught the latest decided day (``learned_on``) per offer type learned
    (the others are valued by their priors)."""

    snapshot_date: date | None
    arms: list[StrategyArmOut]
    learned_on: date | None = None
    offer_types: list[UpliftLevelOut] = []


class PromoteIn(BaseModel):
    """Why the challenger is promoted; ``override`` promotes one not found significantly
    better."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    override: bool = False


class PromotionOut(BaseModel):
    """The promotion saved: in effect from the next daily run."""

    arm: str
    previous_champion: str
    pending_sha256: str
    significant: bool
