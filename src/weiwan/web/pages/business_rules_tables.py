"""Tables of the business-rule pages: the policy library, alert and care rules, the contact policy
and the validation messages the daily run published."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import yaml

from weiwan.core.contact_rules import CHANNELS, ChannelRule, ContactRules
from weiwan.core.limit_kinds import CHANNEL_LIMIT, POLICY_COUNT_LIMIT, POLICY_MONEY_LIMIT
from weiwan.core.months import shown_end
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.offers.service import LimitPrices
from weiwan.ops.org import config
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import CHANNELS as CHANNEL_LABELS
from weiwan.web.labels import OFFER_TYPES, OUTCOMES, label
from weiwan.web.tables import Column, Table

APPROVALS: dict[str, Any] = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "retired": _l("Retired"),
}
SEVERITIES: dict[str, Any] = {
    "info": _l("Info"),
    "low": _l("Low"),
    "medium": _l("Medium"),
    "high": _l("High"),
    "critical": _l("Critical"),
}
PERIODS: dict[str, Any] = {
    "daily": _l("Daily"),
    "monthly": _l("Monthly"),
    "event": _l("As each event arrives"),
}
RULE_KINDS: dict[str, Any] = {"alert": _l("Alert"), "care": _l("Care"), "anomaly": _l("Anomaly")}
TRIGGERS: dict[str, Any] = {
    "risk": _l("Churn risk"),
    "alert": _l("Alert"),
    "care": _l("Care"),
    "campaign": _l("Campaign"),
}
ACTION_HINTS: dict[str, Any] = {
    **CHANNEL_LABELS,
    "sms_care": _l("Care SMS"),
    "store_callback": _l("Store call-back"),
}


def _chinese() -> bool:
    return current_language() == "zh-CN"


def _channels(codes: Iterable[str]) -> str:
    separator = "、" if _chinese() else ", "
    return separator.join(label(CHANNEL_LABELS, c) for c in codes if c) or "—"


def _messages_by_item(validation: Mapping[str, Any] | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in [*(validation or {}).get("errors", []), *(validation or {}).get("warnings", [])]:
        counts[str(message.get("item"))] = counts.get(str(message.get("item")), 0) + 1
    return counts


def policy_table(
    policies: Sequence[PublishedPolicy],
    validation: Mapping[str, Any] | None,
    prices: LimitPrices | None = None,
) -> Table:
    """The published policy library, one row per policy, with its count of messages and the
    shadow prices of its budget on the latest decided day (blank: the budget did not bind)."""
    counts = _messages_by_item(validation)
    prices = prices or LimitPrices(None, {})
    rows = [
        {
            "policy_id": p.policy_id,
            "name": p.name_zh if _chinese() else p.name_en,
            "offer_type": label(OFFER_TYPES, p.offer_type),
            "valid_from": p.valid_from,
            "valid_to": shown_end(p.valid_to),  # blank: open-ended
            "min_spend": p.min_spend,
            "total_cost": p.total_cost,
            "commitment_months": p.commitment_months,
            "channels": _channels(p.channels.split()),
            "budget_count": p.budget_count,
            "budget_money": p.budget_money,
            "count_price": prices.of(POLICY_COUNT_LIMIT, p.policy_id),
            "money_price": prices.of(POLICY_MONEY_LIMIT, p.policy_id),
            "approval": label(APPROVALS, p.approval),
            "messages": counts.get(p.policy_id, 0),
        }
        for p in policies
    ]
    columns = [
        Column("policy_id", _("Policy id"), "code"),
        Column("name", _("Policy name")),
        Column("offer_type", _("Offer type")),
        Column("valid_from", _("Valid from"), "date"),
        Column("valid_to", _("Valid to"), "date"),
        Column("min_spend", _("Minimum spend (yuan/month)"), "money"),
        Column("total_cost", _("Cost (yuan)"), "money"),
        Column("commitment_months", _("Commitment (months)"), "int"),
        Column("channels", _("Channels")),
        Column("budget_count", _("Budget (grants)"), "int"),
        Column("budget_money", _("Budget (yuan)"), "money"),
        Column("count_price", _("One more grant would add (yuan)"), "number"),
        Column("money_price", _("One more yuan of budget would add (yuan)"), "number"),
        Column("approval", _("Approval")),
        Column("messages", _("Messages"), "int"),
    ]
    return Table(
        "policies",
        columns,
        rows,
        title=_("Policies in effect"),
        empty=_("No policy library has been published yet."),
    )


def message_table(
    table_id: str,
    messages: Mapping[str, Any] | None,
    title: Any,
    item_label: Any,
    words: Callable[[Any], dict[str, str]] | None = None,
) -> Table:
    """Refusals and warnings (``{"errors": [...], "warnings": [...]}``) as one table;
    ``words``: what puts a message into the reader's language (item, field, message)."""
    found = messages or {}
    rows = [
        {
            "severity": _("Refused") if kind == "errors" else _("Warning"),
            **(
                words(m)
                if words
                else {
                    "item": m.get("item"),
                    "field": m.get("field") or "—",
                    "message": m.get("message"),
                }
            ),
        }
        for kind in ("errors", "warnings")
        for m in found.get(kind) or []
    ]
    columns = [
        Column("severity", _("Kind")),
        Column("item", item_label),
        Column("field", _("Field")),
        Column("message", _("Message")),
    ]
    return Table(table_id, columns, rows, title=title, empty=_("No messages."))


def rules_of(document: Mapping[str, Any] | None, key: str = "rules") -> list[dict[str, Any]]:
    """The entries listed under ``key`` in a published rule document's text (the rules of a
    rule file, the groups of the target groups …); none when unreadable."""
    if not document or not isinstance(document.get("text"), str):
        return []
    try:
        raw = load_yaml(document["text"])
    except yaml.YAMLError:
        return []
    entries = raw.get(key) if isinstance(raw, dict) else None
    return [e for e in entries or [] if isinstance(e, dict)]


def _sla_action(rule: Mapping[str, Any]) -> str | None:
    """An event rule's default action (its SLA for customers of no listed tier)."""
    sla = rule.get("sla")
    step = sla.get("default") if isinstance(sla, dict) else None
    action = step.get("action") if isinstance(step, dict) else None
    return str(action) if action else None


def rule_table(rules: Sequence[Mapping[str, Any]]) -> Table:
    """Alert and care rules as published."""
    rows = [
        {
            "id": r.get("id"),
            "name": r.get("name_zh") if _chinese() else r.get("name_en"),
            "kind": label(RULE_KINDS, r.get("kind")),
            "severity": label(SEVERITIES, r.get("severity")),
            "period": label(PERIODS, "event" if r.get("trigger") == "event" else r.get("period")),
            "action_hint": label(ACTION_HINTS, r.get("action_hint") or _sla_action(r)),
            "enabled": _("yes") if r.get("enabled", True) else _("no"),
            "description": r.get("description_zh") if _chinese() else r.get("description_en"),
        }
        for r in rules
    ]
    columns = [
        Column("id", _("Rule id"), "code"),
        Column("name", _("Rule name")),
        Column("kind", _("Kind")),
        Column("severity", _("Severity")),
        Column("period", _("Period")),
        Column("action_hint", _("Suggested action")),
        Column("enabled", _("Enabled")),
        Column("description", _("Description")),
    ]
    return Table(
        "rules", columns, rows, title=_("Rules in effect"), empty=_("No rules published yet.")
    )


def _cap(value: int | None) -> Any:
    return "—" if value is None else value


def _quiet(rule: ChannelRule) -> str:
    quiet = rule.quiet_hours
    return "—" if quiet is None else f"{quiet.start:%H:%M}–{quiet.end:%H:%M}"


def _capacity(rule: ChannelRule) -> str:
    capacity = rule.capacity
    if capacity is None:
        return _("not limited")
    if capacity.per_day is not None:
        text = _("%(num)s per day", num=f"{capacity.per_day:,}")
    else:
        text = _(
            "%(agents)s agents × %(each)s per day",
            agents=capacity.agents,
            each=capacity.per_agent_per_day,
        )
    if len(capacity.weekdays) < 7:
        text += " (" + _("weekdays %(days)s", days=", ".join(map(str, capacity.weekdays))) + ")"
    return text


def channel_table(rules: ContactRules, prices: LimitPrices | None = None) -> Table:
    """The contact policy per channel: caps, quiet hours, cool-off and capacity, with the
    shadow price of the capacity on the latest decided day (blank: it did not bind)."""
    prices = prices or LimitPrices(None, {})
    rows = []
    for channel in CHANNELS:
        rule = rules.rule(channel)
        rows.append(
            {
                "channel": label(CHANNEL_LABELS, channel),
                "direction": _("Inbound") if rule.inbound else _("Proactive"),
                "cap_day": _cap(rule.caps.day),
                "cap_week": _cap(rule.caps.week),
                "cap_month": _cap(rule.caps.month),
                "quiet_hours": _quiet(rule),
                "cool_off_days": rule.cool_off_days,
                "capacity": _capacity(rule),
                "capacity_price": prices.of(CHANNEL_LIMIT, channel),
            }
        )
    columns = [
        Column("channel", _("Channel")),
        Column("direction", _("Direction")),
        Column("cap_day", _("Cap per day")),
        Column("cap_week", _("Cap per week")),
        Column("cap_month", _("Cap per month")),
        Column("quiet_hours", _("Quiet hours")),
        Column("cool_off_days", _("Cool-off after a refusal (days)"), "int"),
        Column("capacity", _("Daily capacity")),
        Column("capacity_price", _("One more contact that day would add (yuan)"), "number"),
    ]
    return Table("channels", columns, rows, title=_("Rules per channel"))


def general_table(rules: ContactRules) -> Table:
    """The rules across channels: cross-channel caps, global cool-off, do-not-disturb and
    priorities."""
    caps = rules.cross_channel_caps
    rows = [
        {"setting": _("Cross-channel cap per day"), "value": _cap(caps.day)},
        {"setting": _("Cross-channel cap per week"), "value": _cap(caps.week)},
        {"setting": _("Cross-channel cap per month"), "value": _cap(caps.month)},
        {
            "setting": _("Cool-off after a refusal on any channel (days)"),
            "value": rules.cool_off_days,
        },
        {
            "setting": _("Outcomes that count as a refusal"),
            "value": "、".join(label(OUTCOMES, o) for o in rules.refusal_outcomes),
        },
        {
            "setting": _("Do-not-disturb"),
            "value": _(
                "Customers on the do-not-disturb list are never contacted on the channels "
                "listed; an entry for all channels blocks every proactive channel."
            ),
        },
        {
            "setting": _("Trigger priority"),
            "value": " > ".join(label(TRIGGERS, t) for t in rules.trigger_priority),
        },
        {
            "setting": _("Campaign priority"),
            "value": " > ".join(rules.campaign_priority) or _("in order of creation"),
        },
    ]
    columns = [Column("setting", _("Setting")), Column("value", _("Value"))]
    return Table("general", columns, rows, title=_("Rules across channels"))


def editor_context(view: config.RuleDocumentView, draft: str | None = None) -> dict[str, Any]:
    """What the editor of one kind shows: the text to edit, the pending edit and its
    verdict."""
    pending = view.pending
    text = draft
    if text is None:
        text = (pending or {}).get("text") or (view.in_effect or {}).get("text") or ""
    return {
        "kind": view.kind,
        "text": text,
        "pending": pending,
        "checked": view.pending_checked,
        "in_effect": view.in_effect,
        "in_effect_at": view.in_effect_at,
        "validation": view.validation,
        "last_verdict": (view.validation or {}).get("pending"),
    }


def saved_flash(request: Any) -> dict[str, Any]:
    """The "saved, takes effect at the next run" notice after a form saved an edit
    (``?saved=`` in the address), else nothing."""
    if not request.query_params.get("saved"):
        return {}
    return {"flash": _("Saved. The edit takes effect at the next daily run, after validation.")}
