"""Champion–challenger arms (decide.yaml ``strategies``): their shape and the stable draw of a
subscriber's arm. In core because both sides need them: the daily decisions (analytics) draw
and value by arm, the operational side checks an edit and promotes a challenger (and decides
online with the same draw).

A subscriber's arm: its stable draw (:mod:`weiwan.core.stable_draw`, group ``<experiment>``)
against the challengers' cumulative shares (× 16⁸, rounded down) in the file's order; the
champion takes the rest. Stable across days and runs, independent of the hold-out draw (another
group); new subscribers never move the others.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from weiwan.core.stable_draw import SPAN, draw

_STRICT = ConfigDict(extra="forbid", frozen=True)
_ARM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class StrategyArm(BaseModel):
    """One strategy of a champion–challenger test: how its subscribers' offers are valued and
    granted, as changes to the settings of decide.yaml (what it does not set is as there)."""

    model_config = _STRICT
    #: a challenger's share of the triggered subscribers (the champion takes what is left)
    share: float = Field(0.0, ge=0.0, le=1.0)
    description: str = ""
    #: "learned": each customer's uplift learned from outcomes where there is one (else the
    #: prior); "prior": the prior × driver match only
    uplift: Literal["learned", "prior"] = "learned"
    allocation: Literal["optimal", "greedy"] | None = None
    #: the policy ids this strategy may offer (None: the whole library)
    policies: list[str] | None = None
    uplift_priors: dict[str, float] = Field(default_factory=dict)
    driver_match: dict[str, dict[str, float]] = Field(default_factory=dict)
    channel_effect: dict[str, float] = Field(default_factory=dict)
    contact_cost: dict[str, float] = Field(default_factory=dict)
    min_value_per_yuan: float | None = Field(None, ge=0.0)
    min_value_for_call: float | None = Field(None, ge=0.0)
    #: match offers to the leaving-reason model's probabilities (None: as decide.yaml says)
    use_leaving_reasons: bool | None = None


class Strategies(BaseModel):
    """The strategy arms: the ``champion`` in effect and challengers with their shares, drawn by
    a stable hash of (``experiment``, subscriber) like the hold-outs."""

    model_config = _STRICT
    #: names the draw: a new experiment name draws the shares afresh
    experiment: str = Field("strategy", min_length=1, max_length=64)
    champion: str = "default"
    arms: dict[str, StrategyArm] = Field(default_factory=lambda: {"default": StrategyArm()})

    @model_validator(mode="after")
    def _consistent(self) -> Strategies:
        odd = [name for name in self.arms if not _ARM_ID.match(name)]
        if odd:
            raise ValueError(f"arm ids are 1–32 lower-case letters, digits, '_' or '-', not {odd}")
        if self.champion not in self.arms:
            raise ValueError(f"the champion {self.champion!r} is not one of the arms")
        if self.arms[self.champion].share:
            raise ValueError(
                f"the champion {self.champion!r} takes the share the challengers leave: "
                "give it no share"
            )
        if sum(self.challenger_shares().values()) > 1.0 + 1e-9:
            raise ValueError("the challengers' shares add up to more than 1")
        return self

    def challenger_shares(self) -> dict[str, float]:
        """Each challenger's share, in the file's order (share 0: retired, draws no one)."""
        return {k: a.share for k, a in self.arms.items() if k != self.champion}

    def shares(self) -> dict[str, float]:
        """Every arm's share of the subscribers, the champion's being what is left."""
        challengers = self.challenger_shares()
        return {self.champion: max(0.0, 1.0 - sum(challengers.values())), **challengers}

    def draw_bounds(self) -> list[tuple[str, int]]:
        """(challenger, exclusive upper bound of its draw as an integer of 8 hex digits), for
        the challengers drawing anyone; empty when the champion takes everyone."""
        bounds: list[tuple[str, int]] = []
        upper = 0.0
        for arm, share in self.challenger_shares().items():
            if share <= 0:
                continue
            upper += share
            bounds.append((arm, min(int(upper * SPAN), SPAN)))
        return bounds


def arm_of(subscriber_id: str, strategies: Strategies) -> str:
    """The arm of one subscriber."""
    bounds = strategies.draw_bounds()
    if not bounds:
        return strategies.champion
    value = draw(strategies.experiment, subscriber_id)
    return next((arm for arm, bound in bounds if value < bound), strategies.champion)
