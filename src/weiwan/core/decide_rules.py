"""decide.yaml's settings (priors, driver matching, channel costs and effects, hold-out shares,
strategy arms): in core because the daily decisions and the real-time offer decision value
offers with the same settings (``core.offer_valuation``); reading the file stays in
``analytics.decide.config``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from weiwan.core.strategy_rules import Strategies

_STRICT = ConfigDict(extra="forbid", frozen=True)

#: the leaving reasons of the data contract (``churn_records.reason_code``, 离网原因): what the
#: leaving-reason model predicts and what a real-time event rule may say its event reveals
CHURN_REASONS = (
    "price",
    "network_quality",
    "service",
    "competitor_offer",
    "contract_end",
    "relocation",
    "non_payment",
    "other",
)
#: each churn driver's name (Chinese, English), as the daily decisions' and the real-time
#: offers' reason texts say it; a driver ``decide.yaml`` adds without one shows its code
DRIVER_NAMES = {
    "price": ("资费", "price"),
    "competitor": ("竞争对手", "competitor"),
    "contract": ("合约到期", "contract end"),
    "service": ("服务不满", "service"),
    "usage": ("使用下降", "usage decline"),
    "payment": ("缴费", "payment"),
    "relocation": ("迁居", "relocation"),
    "other": ("其他", "other"),
}
#: the months after a decision over which its outcome (churned or not) is measured: an uplift
#: learned from outcomes is the relative cut in the churn over this window
OUTCOME_MONTHS = 3


class DecideConfig(BaseModel):
    """decide.yaml: priors, driver matching, channel costs and effects, hold-out shares."""

    model_config = _STRICT
    holdout: dict[str, float] = Field(default_factory=lambda: {"default": 0.1})
    risk_bands: list[str] = ["high", "medium"]
    retention_alert_severities: list[str] = ["medium", "high", "critical"]
    uplift_priors: dict[str, float]
    driver_match: dict[str, dict[str, float]]
    drivers: dict[str, list[str]]
    #: match offers to the leaving-reason model's probabilities (the churners' recorded
    #: reasons, ``analytics.churn.leaving_reasons``) where the model has them, instead of the
    #: churn model's three reasons. Off by default: on six simulated operators it ranked the
    #: offers better but saved no more money (docs/next-best-action.md); a strategy arm may
    #: try it on the operator's own customers
    use_leaving_reasons: bool = False
    #: the driver (a ``driver_match`` row) each recorded leaving reason stands for; a driver
    #: without a row matches as ``other``
    leaving_reason_drivers: dict[str, str] = Field(
        default_factory=lambda: {
            "price": "price",
            "network_quality": "service",
            "service": "service",
            "competitor_offer": "competitor",
            "contract_end": "contract",
            "non_payment": "payment",
            "relocation": "relocation",
            "other": "other",
        }
    )
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
    #: an offer is made only when it is expected to save at least this many yuan per yuan it
    #: costs (offer + contact); 1 or less: any positive expected value
    min_value_per_yuan: float = Field(2.0, ge=0.0)
    #: calls only when their expected value is at least this (0: the return rule alone)
    min_value_for_call: float = Field(0.0, ge=0.0)
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
        for name in ("min_value_per_yuan", "min_value_for_call", "use_leaving_reasons"):
            if getattr(spec, name) is not None:
                update[name] = getattr(spec, name)
        return self.model_copy(update=update) if update else self

    def driver_of_reason(self, reason: str) -> str:
        """The churn driver (a ``driver_match`` row) a leaving reason stands for; ``other``
        where the reason or its driver is not configured."""
        driver = self.leaving_reason_drivers.get(reason, "other")
        return driver if driver in self.driver_match else "other"

    def uses_leaving_reasons(self) -> bool:
        """Whether these settings or any strategy arm's match offers to the leaving reasons."""
        return any(self.for_arm(arm).use_leaving_reasons for arm in self.strategies.arms)

    def holdout_share(self, group: str) -> float:
        """The hold-out share of a trigger (rule id or "risk"), else the default."""
        return float(self.holdout.get(group, self.holdout.get("default", 0.0)))
