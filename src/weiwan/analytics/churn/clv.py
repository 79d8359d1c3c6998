"""Customer lifetime value (客户生命周期价值) and its four quadrants.

Historic value is the margin earned to date; future value is the margin still expected:
ARPU × margin rate over the expected remaining tenure (from the survival model), discounted
monthly. Each subscriber falls in a quadrant of historic × future value, split at a quantile
of the snapshot, and each quadrant carries its recommended treatment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field

from weiwan.core.months import last_complete_month


class ClvConfig(BaseModel):
    """CLV parameters (the ``clv`` section of ``segments.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # 0.6 is a placeholder: every operator replaces it with its own margin on revenue.
    margin_rate: float = Field(0.6, gt=0, le=1)
    annual_discount_rate: float = Field(0.08, ge=0, lt=1)
    horizon_months: int = Field(60, gt=0, le=600)
    historic_split_quantile: float = Field(0.5, gt=0, lt=1)
    future_split_quantile: float = Field(0.5, gt=0, lt=1)

    @property
    def monthly_discount_rate(self) -> float:
        return float((1 + self.annual_discount_rate) ** (1 / 12) - 1)


@dataclass(frozen=True)
class Quadrant:
    id: str
    name_zh: str
    name_en: str
    treatment_zh: str
    treatment_en: str


#: The four CLV quadrants by (historic high, future high).
CLV_QUADRANTS: dict[tuple[bool, bool], Quadrant] = {
    (True, True): Quadrant(
        "retain_with_added_value",
        "重点保有",
        "Retain with added value",
        "双高客户:一对一维系,提供增值服务与专属权益,优先保有。",
        "High past and future value: keep one to one, add value-added services and privileges.",
    ),
    (False, True): Quadrant(
        "cultivate",
        "培养",
        "Cultivate",
        "潜力客户:引导升档、融合与合约,培养成高价值客户。",
        "Future value ahead: upsell, bundle and contract to grow them into high value.",
    ),
    (True, False): Quadrant(
        "maintain_no_overspend",
        "维持",
        "Maintain, don't overspend",
        "历史贡献高但未来价值低:维持现有条件,控制维系投入。",
        "Valuable past, little future: keep the current terms and cap retention spend.",
    ),
    (False, False): Quadrant(
        "make_profitable_or_release",
        "提升价值或放弃",
        "Make profitable or let go",
        "双低客户:低成本批量提升价值,无效则不投入维系。",
        "Low on both: raise value cheaply in batch; if that fails, spend nothing to keep them.",
    ),
}
QUADRANTS_BY_ID: dict[str, Quadrant] = {q.id: q for q in CLV_QUADRANTS.values()}


def historic_margin(monthly_usage: ir.Table, snapshot: date, margin_rate: float) -> ir.Table:
    """(subscriber_id, margin_to_date): bills of closed months up to ``snapshot`` × margin."""
    closed = monthly_usage.filter(monthly_usage.bill_month <= last_complete_month(snapshot))
    return closed.group_by("subscriber_id").aggregate(
        margin_to_date=(closed.bill_amount.fill_null(0).sum() * margin_rate).cast("float64")
    )


def discounted_months(months: ir.NumericValue, monthly_rate: float) -> ir.FloatingValue:
    """Present value of 1 CNY a month for ``months`` months, paid at each month's end.

    The annuity factor (1 − v^m) / r with v = 1 / (1 + r); fractional months follow the same
    formula, and a zero rate gives ``months`` itself.
    """
    if monthly_rate == 0:
        return months.cast("float64")
    decay = ibis.literal(1 / (1 + monthly_rate)).pow(months)
    return ((1 - decay) / monthly_rate).cast("float64")


def compute_clv(
    features: ir.Table,
    historic_margin: ir.Table,
    expected_months: ir.Table,
    config: ClvConfig,
) -> ir.Table:
    """Historic and future value and the CLV quadrant of every subscriber in ``features``.

    ``historic_margin`` holds (subscriber_id, margin_to_date); missing subscribers count 0.
    ``expected_months`` holds (subscriber_id, expected_remaining_months, p_leave_3m,
    p_leave_6m); a missing subscriber gets NULL future value and no quadrant.
    """
    base = features.select(
        "subscriber_id",
        "snapshot_date",
        arpu=features.bill_mean_3m.fill_null(features.arpu_1m).fill_null(0.0),
    )
    joined = base.left_join(
        historic_margin.select("subscriber_id", "margin_to_date"), "subscriber_id"
    ).left_join(
        expected_months.select(
            "subscriber_id", "expected_remaining_months", "p_leave_3m", "p_leave_6m"
        ),
        "subscriber_id",
    )
    months = joined.expected_remaining_months.clip(lower=0, upper=config.horizon_months)
    valued = joined.select(
        "subscriber_id",
        "snapshot_date",
        historic_value=joined.margin_to_date.fill_null(0.0).cast("float64"),
        future_value=joined.arpu
        * config.margin_rate
        * discounted_months(months, config.monthly_discount_rate),
        expected_remaining_months=months.cast("float64"),
        p_leave_3m=joined.p_leave_3m.cast("float64"),
        p_leave_6m=joined.p_leave_6m.cast("float64"),
    )
    splits = valued.group_by("snapshot_date").aggregate(
        historic_split=valued.historic_value.quantile(config.historic_split_quantile),
        future_split=valued.future_value.quantile(config.future_split_quantile),
    )
    withsplit = valued.inner_join(splits, "snapshot_date")
    high_past = withsplit.historic_value > withsplit.historic_split
    high_future = withsplit.future_value > withsplit.future_split
    quadrant = ibis.cases(
        (high_past & high_future, CLV_QUADRANTS[True, True].id),
        (high_future, CLV_QUADRANTS[False, True].id),
        (high_past, CLV_QUADRANTS[True, False].id),
        else_=CLV_QUADRANTS[False, False].id,
    )
    return withsplit.select(
        "subscriber_id",
        "snapshot_date",
        "historic_value",
        "future_value",
        "expected_remaining_months",
        "p_leave_3m",
        "p_leave_6m",
        clv_quadrant=ibis.ifelse(withsplit.future_value.isnull(), ibis.null("string"), quadrant),
    )
