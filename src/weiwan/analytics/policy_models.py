"""A retention policy and the value caps, as policies.yaml writes them (pydantic models): target,
validity, minimum spend, entry limit, cost, budget, exclusions, channels, scripts; the checks
each entry passes on its own. The library's checks across policies and eligibility are in
:mod:`weiwan.analytics.policies`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from weiwan.analytics.contact_policy import CHANNELS
from weiwan.analytics.contract import OFFER_TYPES
from weiwan.analytics.targets import (
    FilterError,
    TargetFilter,
    TargetGroup,
    compile_filter,
)
from weiwan.core.months import OPEN_END

#: profile column a policy's ``min_spend`` is checked against (the contracted monthly fee)
SPEND_COLUMN = "plan_monthly_fee"
#: profile column with the value tier, and the tiers value caps are set for
TIER_COLUMN = "value_tier"
VALUE_TIERS = ("diamond", "gold", "silver", "ordinary", "mass")
Approval = Literal["draft", "submitted", "approved", "rejected", "retired"]
CostKind = Literal["one_off", "monthly", "device_subsidy"]
_ID = r"^[a-z][a-z0-9_]*$"
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)
_EPSILON = 1e-9
#: ``valid_to: open``: the policy has no end (it carries a ``review_by`` date instead)
OPEN = "open"

#: friendlier messages for the fields every policy must have (the library's refusal rules)
_REQUIRED = {
    "valid_from": "refused: no validity period (有效期): set valid_from and valid_to",
    "valid_to": "refused: no validity period (有效期): set valid_from and valid_to "
    "(a date, or `open` with a review_by date)",
    "min_spend": "refused: no minimum spend (最低消费): set min_spend in yuan per month",
    "limit": "refused: no entry limit (参与次数限制): set limit {times, per_months}",
    "channels": "refused: no channels: list at least one of " + ", ".join(CHANNELS),
    "cost": "refused: no cost: set cost {kind, amount[, months]}",
}


def _iso_date(value: Any) -> Any:
    """YAML gives dates; JSON and quoted YAML give ISO strings. Anything else fails later."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


class EntryLimit(BaseModel):
    """At most ``times`` grants per subscriber within any ``per_months`` months (参与次数)."""

    model_config = _STRICT
    times: int = Field(ge=1)
    per_months: int = Field(ge=1, le=120)


class Cost(BaseModel):
    """What a grant costs the operator: one-off, ``amount`` per month for ``months``, or a
    device subsidy (one-off)."""

    model_config = _STRICT
    kind: CostKind
    amount: float = Field(ge=0)
    months: int | None = Field(default=None, ge=1, le=60)

    @model_validator(mode="after")
    def _months_for_monthly(self) -> Cost:
        if self.kind == "monthly" and self.months is None:
            raise ValueError("a monthly cost needs months (how many months it is paid)")
        if self.kind != "monthly" and self.months is not None:
            raise ValueError(f"months applies to monthly costs only, not {self.kind}")
        return self

    def total(self) -> float:
        """Yuan per grant: ``amount`` × ``months`` for monthly costs, else ``amount``."""
        return self.amount * (self.months or 1) if self.kind == "monthly" else self.amount


class Budget(BaseModel):
    """Grants allowed per validity period, or per ``per_months`` months up to the day when
    given: a count and/or money in yuan (omitted: unlimited)."""

    model_config = _STRICT
    count: int | None = Field(default=None, ge=0)
    money: float | None = Field(default=None, ge=0)
    per_months: int | None = Field(default=None, ge=1, le=60)

    def limited(self) -> bool:
        """A count or a money limit is set."""
        return self.count is not None or self.money is not None


class Policy(BaseModel):
    """One retention policy (维系政策). See ``docs/policies.md`` for every field."""

    model_config = _STRICT
    id: str = Field(pattern=_ID)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    description: str = ""
    offer_type: str
    target_group: str | None = Field(default=None, pattern=_ID)
    target: TargetFilter | None = Field(default=None, validate_default=True)
    valid_from: dt.date
    #: None: open-ended (``valid_to: open`` in the file)
    valid_to: dt.date | None
    #: when someone should look at the policy again; passing it only warns
    review_by: dt.date | None = None
    min_spend: float = Field(ge=0)
    limit: EntryLimit
    cost: Cost
    benefit_value: float | None = Field(default=None, ge=0)
    prepay: float | None = Field(default=None, gt=0)
    commitment_months: int = Field(default=12, ge=1, le=60)
    budget: Budget = Budget()
    exclusive_with: tuple[str, ...] = Field(default=(), strict=False)
    channels: tuple[str, ...] = Field(strict=False)
    script_zh: str = ""
    script_en: str = ""
    approval: Approval = "draft"

    @field_validator("offer_type")
    @classmethod
    def _known_offer_type(cls, value: str) -> str:
        if value not in OFFER_TYPES:
            raise ValueError(f"{value!r} is not an offer type; use one of {', '.join(OFFER_TYPES)}")
        return value

    @field_validator("target", mode="before")
    @classmethod
    def _parse_target(cls, raw: Any, info: ValidationInfo) -> TargetFilter | None:
        has_group = info.data.get("target_group") is not None
        if raw is None:
            if "target_group" in info.data and not has_group:
                raise ValueError(
                    "refused: no target group (目标客户群): set target_group (a saved group id) "
                    "or target (a filter)"
                )
            return None
        if has_group:
            raise ValueError("give target_group or target, not both")
        try:
            return TargetFilter.parse(raw)
        except FilterError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("valid_from", "review_by", mode="before")
    @classmethod
    def _parse_date(cls, raw: Any) -> Any:
        return _iso_date(raw)

    @field_validator("valid_to", mode="before")
    @classmethod
    def _parse_end(cls, raw: Any) -> Any:
        if raw is None:
            raise ValueError(_REQUIRED["valid_to"])
        return None if raw == OPEN else _iso_date(raw)

    @field_validator("valid_to", "review_by")
    @classmethod
    def _after_start(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("valid_from")
        if start is not None and value is not None and value < start:
            raise ValueError(f"refused: {info.field_name} {value} is before valid_from {start}")
        return value

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(_REQUIRED["channels"])
        unknown = [c for c in value if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channels {unknown}; use {', '.join(CHANNELS)}")
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @field_validator("exclusive_with")
    @classmethod
    def _distinct_exclusions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a policy id is listed twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if self.id in self.exclusive_with:
            raise ValueError("exclusive_with: a policy cannot exclude itself")
        if self.min_spend <= 0 and self.total_cost() > 0:
            raise ValueError(
                "min_spend: refused: a policy that costs money needs a minimum spend above 0"
            )
        if self.valid_to is None and self.review_by is None:
            raise ValueError(
                "review_by: refused: an open-ended policy (valid_to: open) needs a review_by "
                "date (passing it only warns)"
            )
        if self.valid_to is None and self.budget.limited() and self.budget.per_months is None:
            raise ValueError(
                "budget: refused: an open-ended policy's budget needs per_months (else it "
                "would be one budget for all time)"
            )
        return self

    def total_cost(self) -> float:
        """Yuan the operator spends per grant."""
        return self.cost.total()

    def benefit(self) -> float:
        """Yuan the customer receives per grant (``benefit_value``, else the total cost)."""
        return self.total_cost() if self.benefit_value is None else self.benefit_value

    def commitment(self) -> float:
        """Yuan the customer commits: the prepayment, else min_spend × commitment_months."""
        return self.prepay if self.prepay is not None else self.min_spend * self.commitment_months

    def generosity(self) -> float:
        """Benefit per yuan committed: ``benefit / max(commitment, 1)``."""
        return self.benefit() / max(self.commitment(), 1.0)

    @property
    def valid_until(self) -> dt.date:
        """The last valid day (:data:`OPEN_END` for an open-ended policy)."""
        return OPEN_END if self.valid_to is None else self.valid_to

    def is_valid_on(self, day: dt.date) -> bool:
        """``day`` is within the validity period (both ends included)."""
        return self.valid_from <= day <= self.valid_until

    def review_overdue(self, day: dt.date) -> bool:
        """``day`` is after the policy's ``review_by`` date (a warning, never a refusal)."""
        return self.review_by is not None and day > self.review_by

    def is_active(self, day: dt.date) -> bool:
        """Approved and valid on ``day``: the policy may be offered."""
        return self.approval == "approved" and self.is_valid_on(day)

    def overlaps_in_time(self, other: Policy) -> bool:
        """The two validity periods share at least one day."""
        return self.valid_from <= other.valid_until and other.valid_from <= self.valid_until

    def resolve_target(self, groups: Mapping[str, TargetGroup]) -> TargetFilter:
        """The target filter (the saved group's filter for ``target_group``)."""
        if self.target is not None:
            return self.target
        assert self.target_group is not None
        if self.target_group not in groups:
            raise FilterError(f"unknown target group {self.target_group!r}")
        return groups[self.target_group].filter

    def target_expression(
        self, profile: ir.Table, groups: Mapping[str, TargetGroup]
    ) -> ir.BooleanValue:
        """Target matched and minimum spend met, over ``profile``; FilterError names the policy."""
        try:
            matches = compile_filter(self.resolve_target(groups), profile)
        except FilterError as exc:
            field = "target_group" if self.target_group else "target"
            raise FilterError(f"policy {self.id}: {field}: {exc}") from exc
        if self.min_spend <= 0:
            return matches
        spend = profile[SPEND_COLUMN] >= self.min_spend
        result: ir.BooleanValue = matches & spend.fill_null(False)
        return result


class ValueCaps(BaseModel):
    """Maximum retention spend per subscriber per ``per_months`` months by value tier, and
    optionally as a share of the subscriber's expected future value (CLV)."""

    model_config = _STRICT
    per_months: int = Field(default=12, ge=1, le=60)
    tiers: dict[str, float]
    unknown_tier: float | None = Field(default=None, ge=0)
    clv_share: float | None = Field(default=None, gt=0, le=1)

    @field_validator("tiers")
    @classmethod
    def _all_tiers(cls, value: dict[str, float]) -> dict[str, float]:
        missing = [t for t in VALUE_TIERS if t not in value]
        unknown = [t for t in value if t not in VALUE_TIERS]
        if missing or unknown:
            raise ValueError(
                f"expected a cap for each of {', '.join(VALUE_TIERS)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else "")
            )
        negative = [t for t, v in value.items() if v < 0]
        if negative:
            raise ValueError(f"caps must be 0 or more: {negative}")
        return value

    def fallback(self) -> float:
        """Cap for a subscriber with no (or an unknown) tier: ``unknown_tier``, else the lowest."""
        return self.unknown_tier if self.unknown_tier is not None else min(self.tiers.values())

    def cap_expression(self, profile: ir.Table) -> ir.NumericValue:
        """Yuan each subscriber may receive per window: the tier cap, or ``clv_share`` ×
        future_value when that is smaller (a NULL future_value leaves the tier cap)."""
        tier_cap = profile[TIER_COLUMN].cases(
            *[(tier, float(cap)) for tier, cap in self.tiers.items()], else_=self.fallback()
        )
        if self.clv_share is None or "future_value" not in profile.columns:
            return tier_cap.cast("float64")
        share = profile.future_value.cast("float64").clip(lower=0.0) * self.clv_share
        capped = ibis.ifelse(profile.future_value.isnull(), tier_cap, ibis.least(tier_cap, share))
        return capped.cast("float64")
