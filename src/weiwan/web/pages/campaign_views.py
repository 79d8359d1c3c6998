"""What the campaign detail page shows: the actions a role may take in a plan's state, the
approval chain and where it stands, the rehearsal, the running monitor and the evaluation
(tables and charts built from what the campaign services stored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from weiwan.ops.base import as_utc
from weiwan.ops.campaigns import service
from weiwan.ops.campaigns.models import (
    APPROVED,
    COMPLETED,
    EVALUATED,
    REHEARSED,
    RUNNING,
    SUBMITTED,
    Campaign,
)
from weiwan.ops.org.access import Actor
from weiwan.web import formatting
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import template_globals
from weiwan.web.tables import Column, Table

#: actions that take a while: the button shows the progress indicator
LONG_ACTIONS = frozenset({"rehearse", "start", "evaluate"})
ACTION_LABELS: dict[str, Any] = {
    "rehearse": _l("Rehearse"),
    "submit": _l("Submit for approval"),
    "start": _l("Start"),
    "complete": _l("Complete"),
    "evaluate": _l("Evaluate"),
    "clone": _l("Clone"),
}


def chain_of(campaign: Campaign) -> list[str]:
    """The plan's approval chain (fixed at submission) as roles, level 1 first."""
    stored = service.loads(campaign.approval_chain)
    return list(stored) if stored else [r.value for r in service.DEFAULT_CHAIN]


def may_decide(actor: Actor, campaign: Campaign) -> bool:
    """The actor holds the current approval level of a submitted plan (the service checks it
    again)."""
    if campaign.status != SUBMITTED or not actor.permissions.may_approve:
        return False
    chain = chain_of(campaign)
    level = campaign.approval_level or 1
    role = chain[min(level, len(chain)) - 1]
    return (
        actor.role.value == role
        and actor.user_id != campaign.created_by
        and service.sees_branch(actor, campaign.branch_id)
    )


def allowed_actions(actor: Actor, campaign: Campaign) -> list[str]:
    """The state transitions this actor may ask for (buttons on the detail page)."""
    sees = service.sees_branch(actor, campaign.branch_id)
    planner = actor.role in service.PLANNERS and sees
    runner = actor.role in service.RUNNERS and sees
    found: list[str] = []
    if planner and campaign.status in service.REHEARSABLE:
        found.append("rehearse")
    if actor.role in service.SUBMITTERS and sees and campaign.status == REHEARSED:
        found.append("submit")
    if runner and campaign.status == APPROVED:
        found.append("start")
    if runner and campaign.status == RUNNING:
        found.append("complete")
    if runner and campaign.status in (COMPLETED, EVALUATED):
        found.append("evaluate")
    if planner:
        found.append("clone")
    return found


def unavailable_actions(campaign: Campaign, today: date) -> dict[str, str]:
    """Actions the plan cannot take yet, with why (the button is shown disabled with the
    reason beside it, rather than failing when pressed)."""
    reasons: dict[str, str] = {}
    if campaign.start_date is None or campaign.end_date is None:
        missing = _("Give the plan a start and an end date first (edit the plan).")
        reasons.update(rehearse=missing, start=missing)
    elif campaign.status == APPROVED and today < campaign.start_date:
        reasons["start"] = _(
            "It can be started from %(day)s.", day=formatting.format_date(campaign.start_date)
        )
    elif campaign.status == APPROVED and today > campaign.end_date:
        reasons["start"] = _(
            "The schedule ended on %(day)s; edit the plan's dates.",
            day=formatting.format_date(campaign.end_date),
        )
    return reasons


def may_edit(actor: Actor, campaign: Campaign) -> bool:
    """The plan can be edited by this actor (it goes back to draft)."""
    return (
        actor.role in service.PLANNERS
        and service.sees_branch(actor, campaign.branch_id)
        and campaign.status in service.EDITABLE
    )


def approval_steps(campaign: Campaign, history: list[Any]) -> list[dict[str, Any]]:
    """The approval chain with each level's state: approved (by whom, when), waiting, rejected
    or to come."""
    chain = chain_of(campaign)
    decided: dict[int, Any] = {}
    last_submit = max(
        (i for i, t in enumerate(history) if t.to_status == SUBMITTED and t.level is None),
        default=-1,
    )
    for entry in history[last_submit + 1 :]:
        if entry.level is not None:
            decided[entry.level] = entry
    steps: list[dict[str, Any]] = []
    for level, role in enumerate(chain, start=1):
        entry = decided.get(level)
        if entry is not None:
            state = "rejected" if entry.to_status == "rejected" else "approved"
        elif campaign.status == SUBMITTED and level == (campaign.approval_level or 1):
            state = "waiting"
        else:
            state = "pending"
        steps.append({"level": level, "role": role, "state": state, "entry": entry})
    return steps


def note_text(note: str | None) -> str:
    """The system's note on a transition (stored as data) in the reader's words."""
    figures = service.loads(note) if note else None
    if not isinstance(figures, dict):
        return ""
    number = formatting.format_number
    kind = figures.get("kind")
    if kind == "rehearsed":
        return _("%(targets)s target customers", targets=number(figures.get("targets")))
    if kind == "started":
        return _(
            "%(treated)s to treat, %(holdout)s in the hold-out, %(skipped)s skipped",
            treated=number(figures.get("treated")),
            holdout=number(figures.get("holdout")),
            skipped=number(figures.get("skipped")),
        )
    if kind == "completed":
        return _("%(expired)s open tasks expired", expired=number(figures.get("expired")))
    if kind == "edited":
        return _("Edited; back to draft")
    if kind == "cloned":
        return _("Copied from plan no. %(source)s", source=figures.get("source"))
    return ""


def rehearsal_view(
    rehearsal: dict[str, Any], policy_words: dict[str, str] | None = None
) -> dict[str, Any]:
    """Tables and the load chart of a stored rehearsal result (policies named by
    ``policy_words``)."""
    labels = template_globals()
    load_rows = [
        {
            "channel": labels["channel_label"](row["channel"]),
            "day": row["day"],
            "load": row["load"],
            "capacity": row["capacity"],
            "over": labels["yes_no"](row["over"]),
        }
        for row in rehearsal.get("load", [])
    ]
    load_table = Table(
        "rehearsal-load",
        (
            Column("channel", _l("Channel")),
            Column("day", _l("Day")),
            Column("load", _l("Planned load"), "number"),
            Column("capacity", _l("Capacity"), "int"),
            Column("over", _l("Over capacity")),
        ),
        load_rows,
        title=_("Channel load per day against capacity"),
    )
    days = sorted({row["day"] for row in rehearsal.get("load", [])})
    series: list[dict[str, Any]] = []
    for channel in dict.fromkeys(row["channel"] for row in rehearsal.get("load", [])):
        per_day = {r["day"]: r for r in rehearsal["load"] if r["channel"] == channel}
        name = labels["channel_label"](channel)
        series.append(
            {
                "name": name,
                "type": "bar",
                "data": [per_day[d]["load"] if d in per_day else None for d in days],
            }
        )
        if any(per_day[d]["capacity"] is not None for d in per_day):
            series.append(
                {
                    "name": f"{name} · {_('Capacity')}",
                    "type": "line",
                    "step": "middle",
                    "data": [per_day[d]["capacity"] if d in per_day else None for d in days],
                }
            )
    option = {
        "tooltip": {"trigger": "axis"},
        "legend": {},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value"},
        "series": series,
    }
    conflicts = rehearsal.get("contact_conflicts", {})
    conflict_table = Table(
        "rehearsal-conflicts",
        (Column("reason", _l("Blocked by")), Column("count", _l("Customers"), "int")),
        [
            {"reason": labels["contact_rule_label"](k), "count": v}
            for k, v in conflicts.get("blocked", {}).items()
        ],
        title=_("Contact-policy conflicts"),
        empty=_("No conflicts found in the checked sample."),
    )
    return {
        "load_table": load_table,
        "load_option": option,
        "conflict_table": conflict_table,
        "warnings": [warning_text(w, policy_words) for w in rehearsal.get("warnings", [])],
        "opportunity_table": opportunity_table(rehearsal.get("opportunity"), policy_words),
    }


def warning_text(warning: dict[str, Any] | str, policy_words: dict[str, str] | None = None) -> str:
    """A stored rehearsal warning in the reader's words, policies by their names in
    ``policy_words`` (one stored as text before warnings were kept as data is shown as it was
    written)."""
    if isinstance(warning, str):
        return warning
    labels, number = template_globals(), formatting.format_number
    policy_id = str(warning.get("policy_id", ""))
    policy = (policy_words or {}).get(policy_id, policy_id)
    code = warning.get("code")
    if code == "over_capacity":
        return _(
            "%(channel)s: the planned load exceeds the capacity on %(days)s day(s)",
            channel=labels["channel_label"](warning.get("channel")),
            days=number(warning.get("days")),
        )
    if code == "policy_not_valid_throughout":
        return _(
            "%(policy)s is valid %(start)s – %(end)s, not over the whole schedule",
            policy=policy,
            start=formatting.format_date(date.fromisoformat(str(warning.get("valid_from")))),
            end=formatting.format_date(date.fromisoformat(str(warning.get("valid_to")))),
        )
    if code == "policy_not_on_channel":
        return _(
            "%(policy)s is not offered through %(channels)s",
            policy=policy,
            channels=", ".join(labels["channel_label"](c) for c in warning.get("channels", [])),
        )
    if code == "in_running_campaign":
        return _(
            "%(count)s target customer(s) are already in a running campaign",
            count=number(warning.get("count")),
        )
    if code == "refuse_automated":
        return _(
            "%(count)s matching customer(s) refuse automated decisions and are left out",
            count=number(warning.get("count")),
        )
    if code == "no_target":
        return _("The filter matches no customer")
    return str(warning.get("message", code))


def opportunity_table(
    opportunity: dict[str, Any] | None, policy_words: dict[str, str] | None = None
) -> Table | None:
    """What the plan's contacts and grants take from next best action, limit by limit, at the
    shadow prices published with the latest decided day (None for a rehearsal made before);
    policies by their names in ``policy_words`` where given."""
    if opportunity is None:
        return None
    labels = template_globals()
    rows: list[dict[str, Any]] = [
        {
            "limit": _("%(channel)s capacity", channel=labels["channel_label"](c["channel"])),
            "price": c["per_contact"],
            "unit": _("per contact a day"),
            "use": _(
                "%(contacts)s contacts a day × %(days)s days",
                contacts=formatting.format_number(c["contacts_per_day"]),
                days=formatting.format_number(c["days"]),
            ),
            "taken": c["taken"],
        }
        for c in opportunity.get("channels", [])
    ]
    names = policy_words or {}
    for p in opportunity.get("policies", []):
        limit = _("%(policy)s budget", policy=names.get(p["policy_id"], p["policy_id"]))
        rows += [
            {
                "limit": limit,
                "price": p["per_grant"],
                "unit": _("per grant"),
                "use": _("%(grants)s grants", grants=formatting.format_number(p["grants"], 1)),
                "taken": p.get("taken_by_count"),
            },
            {
                "limit": limit,
                "price": p["per_yuan"],
                "unit": _("per yuan"),
                "use": formatting.format_money(p["spend"]),
                "taken": p.get("taken_by_money"),
            },
        ]
    day = opportunity.get("decided_on")
    return Table(
        "rehearsal-opportunity",
        (
            Column("limit", _l("Limit")),
            Column("price", _l("Shadow price (yuan)"), "number"),
            Column("unit", _l("Unit")),
            Column("use", _l("The plan uses")),
            Column("taken", _l("Taken from next best action"), "money"),
        ),
        rows,
        title=(
            _(
                "What the plan takes from the daily decisions (shadow prices of %(day)s)",
                day=formatting.format_date(date.fromisoformat(day)),
            )
            if day
            else _("What the plan takes from the daily decisions")
        ),
        empty=_("No decided day has been published yet: nothing to price."),
    )


def evaluation_view(figures: dict[str, Any]) -> dict[str, Any]:
    """The arms table and the retention chart of stored evaluation figures."""
    arms = figures.get("arms", {})
    names = {"treated": _("Treated"), "holdout": _("Hold-out")}
    rows = [
        {
            "arm": names.get(arm, arm),
            "members": values["members"],
            "retained": values["retained"],
            "retention_rate": values["retention_rate"],
            "contacted": values["contacted"],
            "accepted": values["accepted"],
        }
        for arm, values in sorted(arms.items(), key=lambda item: item[0] != "treated")
    ]
    table = Table(
        "evaluation-arms",
        (
            Column("arm", _l("Group")),
            Column("members", _l("Members"), "int"),
            Column("retained", _l("Retained"), "int"),
            Column("retention_rate", _l("Retention rate"), "percent"),
            Column("contacted", _l("Contacted"), "int"),
            Column("accepted", _l("Accepted"), "int"),
        ),
        rows,
        title=_("Treated against hold-out"),
    )
    # in percent, each bar labelled as the locale writes it (the page allows no script, so
    # no formatter function: the label text is given per bar)
    bars = [
        {
            "value": None if r["retention_rate"] is None else round(r["retention_rate"] * 100, 1),
            "label": {"show": True, "formatter": formatting.format_percent(r["retention_rate"])},
        }
        for r in rows
    ]
    option = {
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [r["arm"] for r in rows]},
        "yAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "series": [{"name": _("Retention rate"), "type": "bar", "data": bars}],
    }
    return {"table": table, "option": option}


def evaluation_data_day(figures: dict[str, Any], started_at: Any, tz: Any) -> dict[str, Any]:
    """The data date the evaluation measured on, and whether it comes before the campaign's
    start (then the retention it shows cannot be the campaign's effect yet)."""
    stored = figures.get("snapshot_date")
    day = date.fromisoformat(stored) if stored else None
    started = as_utc(started_at).astimezone(tz).date() if started_at else None
    return {
        "day": day,
        "started_on": started,
        "before_start": day is not None and started is not None and day < started,
    }


@dataclass(frozen=True, slots=True)
class MonitorFigure:
    """One figure of the running monitor."""

    key: str
    label: Any
    value: int


def monitor_figures(summary: dict[str, Any]) -> list[MonitorFigure]:
    """The running monitor's figures from the members summary."""
    tasks = summary.get("tasks", {})
    return [
        MonitorFigure("treated", _l("Treated members"), summary["treated"]),
        MonitorFigure("holdout", _l("Hold-out members"), summary["holdout"]),
        MonitorFigure("skipped", _l("Skipped (in another campaign)"), summary["skipped_running"]),
        MonitorFigure(
            "skipped_objecting",
            _l("Skipped (refuse automated decisions)"),
            summary["skipped_objecting"],
        ),
        MonitorFigure("tasks_open", _l("Open tasks"), int(tasks.get("open", 0))),
        MonitorFigure("tasks_done", _l("Done tasks"), int(tasks.get("done", 0))),
        MonitorFigure("contacted", _l("Treated contacted"), summary["contacted_treated"]),
        MonitorFigure("accepted", _l("Acceptances"), summary["accepted_treated"]),
        MonitorFigure("holdout_contacted", _l("Hold-out contacted"), summary["contacted_holdout"]),
    ]
