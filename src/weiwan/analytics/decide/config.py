"""decide.yaml: priors, driver matching, channel costs and effects, hold-out shares, strategy
arms (champion and challengers); and the stable draw those shares are applied with."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weiwan.analytics.config_files import problems, read_yaml
from weiwan.analytics.contract import OFFER_TYPES
from weiwan.core.errors import ConfigError
from weiwan.core.settings import get_settings
from weiwan.core.stable_draw import SPAN, draw, holdout_bound
from weiwan.core.strategy_rules import Strategies

_STRICT = ConfigDict(extra="forbid", frozen=True)


class DecideConfig(BaseModel):
    """decide.yaml: priors, driver matching, channel costs and effects, hold-out shares."""

    model_config = _STRICT
    holdout: dict[str, float] = Field(default_factory=lambda: {"default": 0.1})
    risk_bands: list[str] = ["high", "medium"]
    retention_alert_severities: list[str] = ["medium", "high", "critical"]
    uplift_priors: dict[str, float]
    driver_match: dict[str, dict[str, float]]
    drivers: dict[str, list[str]]
    fallback_value_months: float = 12
    contact_cost: dict[str, float]
    channel_effect: dict[str, float] = Field(
        default_factory=lambda: {
            "account_manager_call": 1.1,
            "outbound_call": 1.0,
            "store": 0.8,
            "hotline": 0.8,
            "sms": 0.35,
            "self_service": 0.25,
        }
    )
    account_manager_tiers: list[str] = ["diamond", "gold"]
    channel_order: list[str] = ["outbound_call", "sms", "self_service", "store", "hotline"]
    min_value_for_call: float = 20.0
    max_risk_months: float = 12.0
    #: the channel each join channel suggests the subscriber prefers, and the effect boost
    preferred_channels: dict[str, str] = Field(
        default_factory=lambda: {
            "store": "store",
            "agent_outlet": "store",
            "online": "self_service",
            "hotline": "hotline",
            "direct_sales": "outbound_call",
        }
    )
    preference_boost: float = 1.2
    #: how the day's candidates are granted under the budgets and capacities: "optimal" (the
    #: linear programme of decide/allocation.py, greedy where it cannot answer) or "greedy"
    allocation: Literal["optimal", "greedy"] = "optimal"
    #: champion–challenger: the strategy arms (by default one, "default", with these settings)
    strategies: Strategies = Field(default_factory=Strategies)

    def for_arm(self, arm: str) -> DecideConfig:
        """These settings as strategy ``arm`` changes them (itself when it changes nothing)."""
        spec = self.strategies.arms[arm]
        update: dict[str, object] = {}
        for name in ("uplift_priors", "channel_effect", "contact_cost"):
            changes = getattr(spec, name)
            if changes:
                update[name] = {**getattr(self, name), **changes}
        if spec.driver_match:
            update["driver_match"] = {
                driver: {**self.driver_match.get(driver, {}), **spec.driver_match.get(driver, {})}
                for driver in {**self.driver_match, **spec.driver_match}
            }
        if spec.allocation is not None:
            update["allocation"] = spec.allocation
        if spec.min_value_for_call is not None:
            update["min_value_for_call"] = spec.min_value_for_call
        return self.model_copy(update=update) if update else self

    def holdout_share(self, group: str) -> float:
        """The hold-out share of a trigger (rule id or "risk"), else the default."""
        return float(self.holdout.get(group, self.holdout.get("default", 0.0)))


def load_decide_config(path: Path | None = None) -> DecideConfig:
    """Read decide.yaml (``None``: ``WEIWAN_DECIDE_CONFIG``, else the shipped one); errors
    name the file and field."""
    source, raw = read_yaml(path or get_settings().decide_config, "decide.yaml")
    try:
        config = DecideConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {problems(exc)}") from exc
    _check_offer_types(source, "", config.uplift_priors, config.driver_match)
    for name, arm in config.strategies.arms.items():
        where = f"strategies.arms.{name}."
        _check_offer_types(source, where, arm.uplift_priors, arm.driver_match)
    return config


def _check_offer_types(
    source: str, where: str, priors: dict[str, float], match: dict[str, dict[str, float]]
) -> None:
    unknown = sorted(set(priors) - set(OFFER_TYPES))
    if unknown:
        raise ConfigError(f"{source}: {where}uplift_priors: unknown offer types {unknown}")
    for driver, row in match.items():
        odd = sorted(set(row) - set(OFFER_TYPES))
        if odd:
            raise ConfigError(f"{source}: {where}driver_match.{driver}: unknown offer types {odd}")


def in_holdout(subscriber_id: ir.StringValue, group: str, share: float) -> ir.BooleanValue:
    """Stable random hold-out: the first 8 hex digits of md5("group:subscriber") below
    ``share`` × 16⁸. A subscriber stays in or out across runs and new subscribers never
    reshuffle the others; fixed-width hex compares like the number it encodes, and md5 is
    the same on DuckDB and Spark."""
    if share <= 0:
        return ibis.literal(False)
    threshold = f"{holdout_bound(share):08x}"
    digest = (ibis.literal(f"{group}:") + subscriber_id).hexdigest("md5").substr(0, 8)
    return digest < threshold


def holdout_bucket(subscriber_id: str, group: str) -> float:
    """The same draw in Python, in [0, 1) (for checks and the operational side)."""
    return draw(group, subscriber_id) / SPAN
