"""The menu: which pages each role sees (the routes check the role again; hiding is not
security)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weiwan.ops.org.roles import Role
from weiwan.web.i18n import lazy_gettext as _l

R = Role
ALL_ROLES = frozenset(Role)
WORKERS = frozenset({R.AGENT, R.SHIFT_LEAD, R.CENTRE_HEAD, R.DIRECTOR})
FRONT_DESK = frozenset({R.STORE_CLERK, R.HOTLINE_AGENT})
MANAGERS = frozenset({R.SHIFT_LEAD, R.CENTRE_HEAD, R.DIRECTOR})
PLANNERS = frozenset({R.CENTRE_HEAD, R.DIRECTOR, R.ANALYST})
ORG_READERS = frozenset({R.ADMIN, R.DIRECTOR, R.CENTRE_HEAD})
READERS_OF_FIGURES = frozenset({R.SHIFT_LEAD, R.CENTRE_HEAD, R.DIRECTOR, R.ANALYST})
REPORT_READERS = frozenset({R.CENTRE_HEAD, R.DIRECTOR, R.ANALYST})
#: reviewers see their scope's reports; agents, shift leads and front desk their own / team's
DATA_QUALITY_READERS = frozenset({R.ANALYST, R.CENTRE_HEAD, R.DIRECTOR}) | WORKERS | FRONT_DESK


@dataclass(frozen=True, slots=True)
class NavItem:
    """One menu entry: address, label, the group (key of GROUP_LABELS) it sits in and the
    roles that see it."""

    path: str
    label: Any
    group: str
    roles: frozenset[Role]


_WORK, _CAMPAIGNS, _FIGURES, _SETTINGS = "work", "campaigns", "figures", "settings"
_MANAGE = "manage"
GROUP_LABELS: dict[str, Any] = {
    _WORK: _l("Work"),
    _MANAGE: _l("Management"),
    _CAMPAIGNS: _l("Campaigns"),
    _FIGURES: _l("Dashboards"),
    _SETTINGS: _l("Settings"),
}

NAV: tuple[NavItem, ...] = (
    NavItem("/workbench", _l("My tasks"), _WORK, WORKERS),
    NavItem("/screen-pop", _l("Screen-pop"), _WORK, WORKERS | FRONT_DESK),
    NavItem("/self-service", _l("Self-service offers"), _WORK, WORKERS | FRONT_DESK),
    NavItem("/team", _l("Team board"), _WORK, MANAGERS),
    NavItem("/quality", _l("Quality inspection"), _WORK, MANAGERS),
    NavItem("/campaigns", _l("Campaigns"), _CAMPAIGNS, PLANNERS | {R.SHIFT_LEAD}),
    NavItem(
        "/campaigns/approvals",
        _l("Approval queue"),
        _CAMPAIGNS,
        frozenset({R.CENTRE_HEAD, R.DIRECTOR}),
    ),
    NavItem("/campaigns/library", _l("Plan library"), _CAMPAIGNS, PLANNERS),
    NavItem("/dashboards", _l("Overview"), _FIGURES, READERS_OF_FIGURES),
    NavItem("/dashboards/satisfaction", _l("Satisfaction KPIs"), _FIGURES, READERS_OF_FIGURES),
    NavItem("/dashboards/churn", _l("Churn analysis"), _FIGURES, READERS_OF_FIGURES),
    NavItem("/dashboards/models", _l("Model monitor"), _FIGURES, PLANNERS),
    NavItem("/reports", _l("Weekly and monthly reports"), _FIGURES, REPORT_READERS),
    NavItem("/reports/churn", _l("Churn analysis report"), _FIGURES, REPORT_READERS),
    NavItem("/events", _l("Real-time events"), _FIGURES, REPORT_READERS),
    NavItem("/anomalies", _l("Anomaly pool"), _MANAGE, WORKERS | {R.ANALYST}),
    NavItem("/appraisal/scorecards", _l("Scorecards"), _MANAGE, WORKERS | {R.ANALYST}),
    NavItem("/appraisal/weekly-plans", _l("Weekly plans"), _MANAGE, WORKERS),
    NavItem("/appraisal/daily-checks", _l("Daily checks"), _MANAGE, WORKERS),
    NavItem("/appraisal/targets", _l("Targets"), _MANAGE, MANAGERS | {R.ADMIN}),
    NavItem("/data-quality", _l("Data-quality reports"), _MANAGE, DATA_QUALITY_READERS),
    NavItem("/settings/policies", _l("Policy library"), _SETTINGS, PLANNERS | {R.ADMIN}),
    NavItem("/settings/target-groups", _l("Target groups"), _SETTINGS, PLANNERS | {R.ADMIN}),
    NavItem("/settings/tags", _l("Tag library"), _SETTINGS, PLANNERS | {R.ADMIN}),
    NavItem("/settings/rules", _l("Alert and care rules"), _SETTINGS, PLANNERS | {R.ADMIN}),
    NavItem("/settings/contact-policy", _l("Contact policy"), _SETTINGS, PLANNERS | {R.ADMIN}),
    NavItem("/settings/strategies", _l("Strategy comparison"), _SETTINGS, PLANNERS | {R.ADMIN}),
    NavItem("/surveys", _l("Questionnaires"), _SETTINGS, PLANNERS | {R.SHIFT_LEAD, R.ADMIN}),
    NavItem("/admin/users", _l("Users and branches"), _SETTINGS, ORG_READERS),
    NavItem("/admin/audit", _l("Audit log"), _SETTINGS, frozenset({R.ADMIN, R.DIRECTOR})),
    NavItem("/admin/runs", _l("Daily runs"), _SETTINGS, frozenset({R.ADMIN, R.DIRECTOR})),
)


def menu_for(role: Role) -> list[tuple[Any, list[NavItem]]]:
    """The menu of ``role`` as (group label, entries), groups in menu order."""
    groups: dict[str, list[NavItem]] = {}
    for item in NAV:
        if role in item.roles:
            groups.setdefault(item.group, []).append(item)
    return [(GROUP_LABELS[key], items) for key, items in groups.items()]


#: Where each role starts its day.
HOMES: dict[Role, str] = {
    R.AGENT: "/workbench",
    R.SHIFT_LEAD: "/team",
    R.CENTRE_HEAD: "/dashboards",
    R.DIRECTOR: "/dashboards",
    R.ANALYST: "/dashboards",
    R.ADMIN: "/admin/users",
    R.STORE_CLERK: "/screen-pop",
    R.HOTLINE_AGENT: "/screen-pop",
}


def home_for(role: Role) -> str:
    """Where ``role`` lands after login (its own start page, else the first of its menu)."""
    return HOMES.get(role) or next((i.path for i in NAV if role in i.roles), "/account")
