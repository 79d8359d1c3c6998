"""A retention policy and the value caps, as policies.yaml writes them, with what needs the
profile: the target as an Ibis expression, the value cap per subscriber. The fields and the
checks each entry passes on its own are the shared rules of :mod:`weiwan.core.policy_rules`
(the editors check an edit with them when it is saved); the library's checks against the
profile and eligibility are in :mod:`weiwan.analytics.policies`.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from weiwan.analytics.targets import FilterError, TargetGroup, compile_filter
from weiwan.core.policy_rules import (
    EPSILON,
    OPEN,
    REQUIRED,
    VALUE_TIERS,
    Approval,
    Budget,
    Cost,
    CostKind,
    EntryLimit,
    PolicyRule,
    ValueCapsRule,
)

__all__ = [
    "EPSILON",
    "OPEN",
    "REQUIRED",
    "SPEND_COLUMN",
    "TIER_COLUMN",
    "VALUE_TIERS",
    "Approval",
    "Budget",
    "Cost",
    "CostKind",
    "EntryLimit",
    "Policy",
    "ValueCaps",
]

#: profile column a policy's ``min_spend`` is checked against (the contracted monthly fee)
SPEND_COLUMN = "plan_monthly_fee"
#: profile column with the value tier, and the tiers value caps are set for
TIER_COLUMN = "value_tier"


class Policy(PolicyRule):
    """One retention policy (维系政策), able to say whom it targets on a profile."""

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


class ValueCaps(ValueCapsRule):
    """Maximum retention spend per subscriber by value tier (and as a share of CLV), able to
    give each subscriber's cap on a profile."""

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
