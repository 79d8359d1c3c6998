"""What the dashboards' figures share: the roles that read them, months and their bounds, ratios,
changes and arrows, and the reader's scope over published metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    false,
    true,
)

from weiwan.core.errors import InvalidRequestError
from weiwan.core.months import add_months
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.reports.models import PublishedMetric
from weiwan.ops.reports.schemas import (
    Arrow,
)

#: roles that read the dashboards; the model monitor is for planners only
DASHBOARD_ROLES = (Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST)
MODEL_ROLES = (Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST)
#: a change above this share (month on month, or against the target) shows an arrow
ARROW_THRESHOLD = 0.05
CALL_CHANNELS = ("outbound_call", "account_manager_call")
REACHED = ("connected", "accepted", "refused", "call_back")
#: value = numerator ÷ denominator × scale
SCALE = {"complaint_rate": 1000.0}
#: targets of the panorama (PRODUCT.md: satisfaction 85 %; return visits 100 / 70 / 100 %)
TARGETS: dict[str, float] = {
    "satisfaction_rate": 0.85,
    "visit_coverage": 1.0,
    "visit_success": 0.7,
    "visit_feedback": 1.0,
}
#: metrics that are better when they fall (an arrow down is good news for these)
LOWER_IS_BETTER = frozenset(
    {"dissatisfaction_rate", "complaint_rate", "complaint_hours", "churn_rate"}
)
CHURN_DIMENSIONS = ("brand", "channel", "payment_type")
ANALYSIS_PARTS = (
    ("churn_reason", "reason"),
    ("churn_reason_kind", "reason_kind"),
    ("churn_reason_control", "reason_control"),
    ("churn_destination", "destination"),
    ("churn_tenure", "leavers"),
    ("churn_tenure", "base"),
    ("churn_touchpoint", "touchpoint"),
    ("churn_cost", "cost"),
)
PANORAMA = (
    "satisfaction_rate",
    "satisfaction_score",
    "dissatisfaction_rate",
    "complaint_rate",
    "complaint_resolution_rate",
    "complaint_hours",
    "churn_rate",
)
LEAGUE_LIMIT = 200


def parse_month(value: str | None, tz: ZoneInfo) -> date:
    """``YYYY-MM`` (years 1900–2199) as the month's first day; the centre's current month
    when empty; :class:`InvalidRequestError` otherwise."""
    if not value:
        return datetime.now(tz).date().replace(day=1)
    try:
        month = date.fromisoformat(f"{value}-01")
    except ValueError:
        month = None
    if month is None or not 1900 <= month.year < 2200:
        raise InvalidRequestError(f"not a month: {value!r}; use YYYY-MM", field="month")
    return month


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month as a UTC interval [start, end) of the centre's local days."""
    start = datetime.combine(month_start(month), time(), tz)
    end = datetime.combine(add_months(month_start(month), 1), time(), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def ratio(numerator: float | None, denominator: float | None, scale: float = 1.0) -> float | None:
    """numerator ÷ denominator × scale; None without a denominator."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator * scale


def change(current: float | None, reference: float | None) -> float | None:
    """The relative change from ``reference`` to ``current`` (None when either is missing or
    the reference is zero)."""
    if current is None or reference is None or reference == 0:
        return None
    return (current - reference) / abs(reference)


def arrow(relative: float | None, threshold: float = ARROW_THRESHOLD) -> Arrow | None:
    """``up`` when the change is above the threshold, ``down`` below minus it, else None."""
    if relative is None:
        return None
    if relative > threshold:
        return "up"
    if relative < -threshold:
        return "down"
    return None


def require_dashboards(actor: Actor) -> None:
    """Raise unless the actor reads dashboards."""
    actor.require(*DASHBOARD_ROLES)


def metric_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.scope is Scope.ALL:
        return true()
    if not actor.branch_ids:
        return false()
    return PublishedMetric.branch_id.in_(actor.branch_ids)
