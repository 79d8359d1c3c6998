"""What a plan takes from next best action (机会成本): its contacts use the channels' daily
capacity and its grants the policies' budgets, which the daily decisions use too. Each limit
that bound the latest decided day has a shadow price — the expected value one more contact of
a channel that day, or one more grant or yuan of a policy's budget, would have added
(published with the decisions, ``limit_prices``). A plan that takes ``n`` units of a limit
takes at least ``n`` × its price from the decisions: the decisions' value is concave in a
limit (each unit taken back was worth at least the next one), so the figure is a floor, and it
holds as long as the limit binds as it did that day. Limits that did not bind are priced at
nothing; a day without published decisions prices nothing (``decided_on`` None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from weiwan.core.limit_kinds import CHANNEL_LIMIT, POLICY_COUNT_LIMIT, POLICY_MONEY_LIMIT
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.offers.service import LimitPrices


def _taken(units: float, price: float | None) -> float | None:
    return None if price is None else round(units * price, 2)


def plan_opportunity(
    prices: LimitPrices,
    contacts_per_day: Mapping[str, float],
    working_days: Mapping[str, int],
    policies: Sequence[PublishedPolicy],
    accepting: float,
) -> dict[str, Any]:
    """The shadow prices of the limits a plan uses and what it takes of each.

    ``contacts_per_day`` and ``working_days``: per channel, the plan's planned contacts on each
    day the channel works and how many such days its schedule has; ``accepting``: the grants
    the plan expects, spread evenly over ``policies`` (as the rehearsal's cost is)."""
    channels: list[dict[str, Any]] = []
    for channel, per_day in contacts_per_day.items():
        price = prices.of(CHANNEL_LIMIT, channel)
        days = working_days.get(channel, 0)
        channels.append(
            {
                "channel": channel,
                "per_contact": price,
                "contacts_per_day": round(per_day, 1),
                "days": days,
                "taken_per_day": _taken(per_day, price),
                "taken": _taken(per_day * days, price),
            }
        )
    grants = accepting / len(policies) if policies else 0.0
    rows: list[dict[str, Any]] = []
    for policy in policies:
        per_grant = prices.of(POLICY_COUNT_LIMIT, policy.policy_id)
        per_yuan = prices.of(POLICY_MONEY_LIMIT, policy.policy_id)
        spend = grants * policy.total_cost
        by_count, by_money = _taken(grants, per_grant), _taken(spend, per_yuan)
        parts = [t for t in (by_count, by_money) if t is not None]
        rows.append(
            {
                "policy_id": policy.policy_id,
                "per_grant": per_grant,
                "per_yuan": per_yuan,
                "grants": round(grants, 1),
                "spend": round(spend, 2),
                "taken_by_count": by_count,
                "taken_by_money": by_money,
                "taken": round(sum(parts), 2) if parts else None,
            }
        )
    known = [float(row["taken"]) for row in (*channels, *rows) if row["taken"] is not None]
    return {
        "decided_on": prices.day.isoformat() if prices.day else None,
        "channels": channels,
        "policies": rows,
        "taken": round(sum(known), 2),
    }
