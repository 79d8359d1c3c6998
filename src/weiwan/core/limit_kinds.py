"""The kinds of limit the daily decisions price (shadow prices, ``limit_prices.limit_kind``):
named once for the allocation that writes them (analytics) and the pages and rehearsal that
read them (ops, web)."""

from __future__ import annotations

#: a channel's daily contact capacity (limit name: the channel)
CHANNEL_LIMIT = "channel"
#: a policy's budget in grants, and in yuan (limit name: the policy id)
POLICY_COUNT_LIMIT = "policy_count"
POLICY_MONEY_LIMIT = "policy_money"
