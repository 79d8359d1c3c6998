"""Segments (客户细分): value tier, lifecycle stage, balance band, tenure band, contract status.

One row per subscriber per snapshot, computed from the feature table as Ibis expressions.
Thresholds live in ``segments.yaml`` (an analyst may point weiwan at a copy).

Value tier (价值层级 钻金银/普通/大众): by default the ARPU percentile within the snapshot, on
``bill_mean_3m`` (three months smooth out a one-off bill): the top 1% are ``diamond``, the next
4% ``gold``, the next 10% ``silver``, the next 35% ``ordinary``, the rest ``mass``. Ties share
the higher tier; a subscriber with no bill is ``mass``. With ``method: absolute`` the tiers are
ARPU floors in CNY instead.

Lifecycle stage (生命周期), first rule that applies:

1. ``onboarding`` (入网期): tenure < 6 months.
2. ``decline`` (衰退期): bill trend ≤ −0.2; or voice and data trend both ≤ −0.2; or the
   contract has expired (out of contract) and voice or data trend ≤ −0.1.
3. ``growth`` (成长期): tenure < 24 months and bill or data trend ≥ +0.1.
4. ``maturity`` (成熟期): everyone else.

A missing trend (too little history) never satisfies a rule.

Contract status: ``no_contract`` when there is no contract end date; ``out_of_contract`` when
it has passed; ``expiring`` when it ends within 2 months; else ``in_contract``.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from weiwan.analytics.churn.clv import ClvConfig
from weiwan.analytics.config_files import problems, read_yaml
from weiwan.core.errors import ConfigError

#: id → (Chinese, English) names.
VALUE_TIERS: dict[str, tuple[str, str]] = {
    "diamond": ("钻石", "Diamond"),
    "gold": ("金卡", "Gold"),
    "silver": ("银卡", "Silver"),
    "ordinary": ("普通", "Ordinary"),
    "mass": ("大众", "Mass"),
}
LIFECYCLE_STAGES: dict[str, tuple[str, str]] = {
    "onboarding": ("入网期", "Onboarding"),
    "growth": ("成长期", "Growth"),
    "maturity": ("成熟期", "Maturity"),
    "decline": ("衰退期", "Decline"),
}
CONTRACT_STATUSES: dict[str, tuple[str, str]] = {
    "in_contract": ("合约期内", "In contract"),
    "expiring": ("合约即将到期", "Contract expiring"),
    "out_of_contract": ("合约已到期", "Out of contract"),
    "no_contract": ("无合约", "No contract"),
}
HIGH_VALUE_TIERS = ("diamond", "gold", "silver")

_STRICT = ConfigDict(extra="forbid", frozen=True)


class TierShares(BaseModel):
    """Share of the base in each tier, from the top; ``mass`` takes the rest."""

    model_config = _STRICT
    diamond: float = Field(0.01, gt=0, lt=1)
    gold: float = Field(0.04, gt=0, lt=1)
    silver: float = Field(0.10, gt=0, lt=1)
    ordinary: float = Field(0.35, gt=0, lt=1)

    @model_validator(mode="after")
    def _leave_room_for_mass(self) -> TierShares:
        if self.diamond + self.gold + self.silver + self.ordinary >= 1:
            raise ValueError("shares must add up to less than 1 (mass takes the rest)")
        return self


class TierFloors(BaseModel):
    """Lowest ARPU (CNY) of each tier; below ``ordinary`` is ``mass``."""

    model_config = _STRICT
    diamond: float = Field(300.0, ge=0)
    gold: float = Field(150.0, ge=0)
    silver: float = Field(80.0, ge=0)
    ordinary: float = Field(30.0, ge=0)

    @model_validator(mode="after")
    def _decreasing(self) -> TierFloors:
        if not self.diamond > self.gold > self.silver > self.ordinary:
            raise ValueError("floors must fall strictly: diamond > gold > silver > ordinary")
        return self


class ValueTierConfig(BaseModel):
    model_config = _STRICT
    basis: Literal["bill_mean_3m", "arpu_1m"] = "bill_mean_3m"
    method: Literal["percentile", "absolute"] = "percentile"
    percentiles: TierShares = Field(default_factory=TierShares)
    absolute_cny: TierFloors = Field(default_factory=TierFloors)


class LifecycleConfig(BaseModel):
    model_config = _STRICT
    onboarding_max_tenure_months: int = Field(6, ge=0)
    growth_max_tenure_months: int = Field(24, ge=0)
    growth_min_trend: float = 0.1
    decline_max_bill_trend: float = -0.2
    decline_max_usage_trend: float = -0.2
    out_of_contract_max_usage_trend: float = -0.1


class ContractConfig(BaseModel):
    model_config = _STRICT
    expiring_within_months: int = Field(2, ge=0)


class Band(BaseModel):
    """One band ``[min, max)``; an open end is left out."""

    model_config = _STRICT
    id: str = Field(min_length=1)
    name_zh: str
    name_en: str
    min: float | None = None
    max: float | None = None


def _check_bands(bands: list[Band]) -> list[Band]:
    if not bands:
        raise ValueError("at least one band is needed")
    if bands[0].min is not None or bands[-1].max is not None:
        raise ValueError("the first band must have no min and the last no max")
    for before, after in pairwise(bands):
        if before.max is None or after.min is None or before.max != after.min:
            raise ValueError(f"band {after.id!r} must start where {before.id!r} ends")
        if after.max is not None and after.max <= after.min:
            raise ValueError(f"band {after.id!r}: max must be above min")
    ids = [b.id for b in bands]
    if len(set(ids)) != len(ids):
        raise ValueError("band ids must be unique")
    return bands


class SegmentConfig(BaseModel):
    """All segment thresholds (the ``segments.yaml`` file)."""

    model_config = _STRICT
    value_tier: ValueTierConfig = Field(default_factory=ValueTierConfig)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    contract: ContractConfig = Field(default_factory=ContractConfig)
    balance_bands: list[Band]
    tenure_bands: list[Band]
    clv: ClvConfig = Field(default_factory=ClvConfig)

    @model_validator(mode="after")
    def _bands(self) -> SegmentConfig:
        for name in ("balance_bands", "tenure_bands"):
            try:
                _check_bands(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from exc
        return self


def load_segment_config(path: Path | None = None) -> SegmentConfig:
    """Read and validate a segments file; ``None`` gives the shipped defaults."""
    source, raw = read_yaml(path, "segments.yaml", "segments file")
    try:
        return SegmentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid segments file: {problems(exc)}") from exc


def _trend_at_most(value: ir.NumericValue, limit: float) -> ir.BooleanValue:
    return (value <= limit).fill_null(False)


def _trend_at_least(value: ir.NumericValue, limit: float) -> ir.BooleanValue:
    return (value >= limit).fill_null(False)


def value_tier(features: ir.Table, config: ValueTierConfig) -> ir.StringValue:
    """The value tier of each row (percentile within its snapshot, or absolute floors)."""
    basis = features[config.basis]
    tiers = ("diamond", "gold", "silver", "ordinary")
    if config.method == "absolute":
        floors = config.absolute_cny
        cases = [(basis >= getattr(floors, tier), tier) for tier in tiers]
    else:
        window = ibis.window(group_by=features.snapshot_date, order_by=ibis.desc(basis))
        # 0-based min rank: ties share the higher tier; NULL sorts last (DuckDB default).
        position = ibis.rank().over(window) / features.count().over(
            ibis.window(group_by=features.snapshot_date)
        )
        shares = config.percentiles
        cases, cumulative = [], 0.0
        for tier in tiers:
            cumulative = round(cumulative + getattr(shares, tier), 10)
            cases.append((basis.notnull() & (position < cumulative), tier))
    return ibis.cases(*cases, else_="mass")


def lifecycle_stage(features: ir.Table, config: LifecycleConfig) -> ir.StringValue:
    """The lifecycle stage of each row; the rules are in the module docstring."""
    f = features
    falling_bill = _trend_at_most(f.bill_trend_3m, config.decline_max_bill_trend)
    falling_usage = _trend_at_most(
        f.voice_trend_3m, config.decline_max_usage_trend
    ) & _trend_at_most(f.data_trend_3m, config.decline_max_usage_trend)
    out_of_contract = f.months_to_contract_end.notnull() & ~f.in_contract.fill_null(False)
    out_and_falling = out_of_contract & (
        _trend_at_most(f.voice_trend_3m, config.out_of_contract_max_usage_trend)
        | _trend_at_most(f.data_trend_3m, config.out_of_contract_max_usage_trend)
    )
    rising = _trend_at_least(f.bill_trend_3m, config.growth_min_trend) | _trend_at_least(
        f.data_trend_3m, config.growth_min_trend
    )
    return ibis.cases(
        (f.tenure_months < config.onboarding_max_tenure_months, "onboarding"),
        (falling_bill | falling_usage | out_and_falling, "decline"),
        ((f.tenure_months < config.growth_max_tenure_months) & rising, "growth"),
        else_="maturity",
    )


def band(value: ir.NumericValue, bands: list[Band]) -> ir.StringValue:
    """The id of the band ``[min, max)`` holding ``value``; NULL when ``value`` is NULL."""
    cases = [(value < b.max, b.id) for b in bands[:-1] if b.max is not None]
    banded: ir.StringValue = ibis.cases(*cases, else_=bands[-1].id)
    return ibis.ifelse(value.isnull(), ibis.null("string"), banded)


def contract_status(features: ir.Table, config: ContractConfig) -> ir.StringValue:
    months = features.months_to_contract_end
    in_contract = features.in_contract.fill_null(False)
    return ibis.cases(
        (months.isnull(), "no_contract"),
        (~in_contract, "out_of_contract"),
        (months <= config.expiring_within_months, "expiring"),
        else_="in_contract",
    )


def compute_segments(features: ir.Table, config: SegmentConfig) -> ir.Table:
    """Segments of every subscriber in the feature table (one row per subscriber and snapshot)."""
    f = features
    return f.select(
        "subscriber_id",
        "snapshot_date",
        value_tier=value_tier(f, config.value_tier),
        lifecycle_stage=lifecycle_stage(f, config.lifecycle),
        balance_band=ibis.ifelse(
            f.is_prepaid.fill_null(False),
            band(f.balance_1m, config.balance_bands),
            ibis.null("string"),
        ),
        tenure_band=band(f.tenure_months, config.tenure_bands),
        contract_status=contract_status(f, config.contract),
    )
