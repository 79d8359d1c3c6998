"""The dashboards' figures within the reader's data scope.

Two sources: figures the pipeline published from the warehouse (``published_metrics``: rates
stored as numerator and denominator per branch, added up over the branches the reader sees),
and live rates over the operational records of a month (contacts, outcomes, acceptances,
tasks, campaign members, survey responses), aggregated in SQL within the reader's scope.

Live definitions (a contact counts when it was ``sent``; a call is *reached* when one of its
outcomes is connected, accepted, refused or call-back, any other channel when sent):

- outbound connect rate (外呼接通率): reached calls ÷ calls;
- retention success rate (挽留成功率): retention contacts (outside campaigns) with an
  acceptance ÷ reached retention contacts;
- marketing success rate (营销成功率): campaign contacts with an acceptance ÷ campaign contacts;
- participation rate (参与率): treated members of the month's campaigns contacted in their
  campaign ÷ treated members;
- new-subscriber return visits (新入网回访), the seeds' 回访覆盖率 / 回访成功率 / 信息回馈率,
  over the month's new joins = the return-visit tasks (one per arrival, ``surveys.arrivals``)
  handed over in the month: coverage = visited (a sent contact on the visit task) ÷ new joins
  (target 100 %), success = reached on the visit ÷ new joins (target 70 %), feedback = visits
  whose contact has questionnaire answers ÷ visited (target 100 %).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from weiwan.core.errors import InvalidRequestError
from weiwan.core.months import add_months
from weiwan.core.ttl_cache import TTLCache
from weiwan.ops.campaigns.models import TREATED, Campaign, CampaignMember
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch, Team, User
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.org.service import mask_phone
from weiwan.ops.reports.models import DissatisfiedCustomer, PublishedMetric
from weiwan.ops.reports.schemas import (
    Arrow,
    BranchFigure,
    ChurnAnalysis,
    DissatisfiedList,
    DissatisfiedRow,
    Figure,
    Kpi,
    LeagueRow,
    ModelMonitor,
    Overview,
    Ratio,
    Satisfaction,
)
from weiwan.ops.scope import task_scope_clause, user_scope_clause
from weiwan.ops.surveys.arrivals import VISIT_SOURCE
from weiwan.ops.surveys.models import SurveyResponse
from weiwan.ops.tasks.models import CustomerAssignment, Task

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


# --- helpers ---------------------------------------------------------------------------------


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


def _metric_scope(actor: Actor) -> ColumnElement[bool]:
    if actor.scope is Scope.ALL:
        return true()
    if not actor.branch_ids:
        return false()
    return PublishedMetric.branch_id.in_(actor.branch_ids)


# --- published figures -------------------------------------------------------------------------


def snapshot_date(db: Session) -> date | None:
    """The snapshot the published figures come from (None before the first publish)."""
    return db.scalar(select(func.max(PublishedMetric.snapshot_date)))


def published_months(db: Session) -> list[date]:
    """Months with a published churn rate, newest first."""
    rows = db.scalars(
        select(PublishedMetric.period)
        .where(PublishedMetric.metric == "churn_rate", PublishedMetric.dimension == "total")
        .distinct()
        .order_by(PublishedMetric.period.desc())
    )
    return list(rows)


def series(
    db: Session,
    actor: Actor,
    metric: str,
    dimension: str = "total",
    *,
    period: date | None = None,
) -> list[Figure]:
    """``metric`` by period and member, added up over the branches the actor sees."""
    query = select(
        PublishedMetric.period,
        PublishedMetric.member,
        func.sum(PublishedMetric.numerator),
        func.sum(PublishedMetric.denominator),
    ).where(
        PublishedMetric.metric == metric,
        PublishedMetric.dimension == dimension,
        _metric_scope(actor),
    )
    if period is not None:
        query = query.where(PublishedMetric.period == period)
    query = query.group_by(PublishedMetric.period, PublishedMetric.member).order_by(
        PublishedMetric.period, PublishedMetric.member
    )
    scale = SCALE.get(metric, 1.0)
    return [
        Figure(
            period=p,
            member=m,
            value=ratio(n, d, scale),
            numerator=float(n) if n is not None else None,
            denominator=float(d) if d is not None else None,
        )
        for p, m, n, d in db.execute(query)
    ]


def global_series(db: Session, metric: str, dimension: str) -> list[Figure]:
    """Figures that do not add up over branches (model AUC, PSI), as published."""
    query = (
        select(
            PublishedMetric.period,
            PublishedMetric.member,
            PublishedMetric.value,
            PublishedMetric.numerator,
            PublishedMetric.denominator,
        )
        .where(
            PublishedMetric.metric == metric,
            PublishedMetric.dimension == dimension,
            PublishedMetric.branch_id.is_(None),
        )
        .order_by(PublishedMetric.period, PublishedMetric.member)
    )
    return [
        Figure(period=p, member=m, value=v, numerator=n, denominator=d)
        for p, m, v, n, d in db.execute(query)
    ]


def by_branch(
    db: Session, actor: Actor, metric: str, period: date, *, lang: str = "zh-CN"
) -> list[BranchFigure]:
    """``metric`` (dimension total) of ``period`` per branch the actor sees, highest first."""
    name = Branch.name_en if lang == "en" else Branch.name_zh
    query = (
        select(
            PublishedMetric.branch_id,
            func.coalesce(name, PublishedMetric.branch_code),
            func.sum(PublishedMetric.numerator),
            func.sum(PublishedMetric.denominator),
        )
        .outerjoin(Branch, Branch.id == PublishedMetric.branch_id)
        .where(
            PublishedMetric.metric == metric,
            PublishedMetric.dimension == "total",
            PublishedMetric.period == period,
            _metric_scope(actor),
        )
        .group_by(PublishedMetric.branch_id, name, PublishedMetric.branch_code)
    )
    scale = SCALE.get(metric, 1.0)
    rows = [
        BranchFigure(
            branch_id=b,
            branch=str(label or "—"),
            value=ratio(n, d, scale),
            numerator=n,
            denominator=d,
        )
        for b, label, n, d in db.execute(query)
    ]
    return sorted(rows, key=lambda r: (-(r.value or 0.0), r.branch))


def _published_month(months: Sequence[date], month: date) -> date | None:
    """The newest published month not after ``month`` (else the oldest one)."""
    eligible = [m for m in months if m <= month]
    if eligible:
        return max(eligible)
    return min(months) if months else None


# --- live figures ------------------------------------------------------------------------------


def _contact_scope(actor: Actor) -> ColumnElement[bool]:
    """Contacts of the users the actor sees; branch roles also see the contacts their
    branches' campaigns made through no one (campaign SMS)."""
    if actor.scope is Scope.ALL:
        return true()
    by_user = user_scope_clause(actor, Contact.user_id)
    if actor.scope is not Scope.BRANCH or not actor.branch_ids:
        return by_user
    campaigns = select(Campaign.id).where(Campaign.branch_id.in_(actor.branch_ids))
    return or_(by_user, and_(Contact.user_id.is_(None), Contact.campaign_id.in_(campaigns)))


@dataclass(frozen=True)
class ContactFlags:
    """Per-contact 0/1 flags over ``contacts`` of [start, end) and the outer joins they need
    (the period's reached and accepted contact ids, each aggregated once and hash-joined rather
    than looked up by a subquery per contact)."""

    flags: dict[str, ColumnElement[Any]]
    reached: Any
    accepted: Any

    def joined(self, query: Select[Any]) -> Select[Any]:
        """``query`` (selecting from ``contacts``) with the joins the flags read."""
        return query.outerjoin(self.reached, self.reached.c.contact_id == Contact.id).outerjoin(
            self.accepted, self.accepted.c.contact_id == Contact.id
        )


def contact_flags(start: datetime, end: datetime) -> ContactFlags:
    """The flags of the contacts of [start, end): call, reached, accepted, … (the dashboards'
    rates and the appraisal's scorecards count them the same way)."""
    period = aliased(Contact)
    # every contact of the period has an id at least the period's smallest: outcomes are read
    # from there on (an index range; contacts are numbered as they are recorded)
    first_id = (
        select(func.min(period.id)).where(period.at >= start, period.at < end).scalar_subquery()
    )
    reached_ids = (
        select(ContactOutcome.contact_id)
        .where(ContactOutcome.outcome.in_(REACHED), ContactOutcome.contact_id >= first_id)
        .group_by(ContactOutcome.contact_id)
        .subquery("reached_contacts")
    )
    accepted_ids = (
        select(Acceptance.contact_id)
        .where(Acceptance.status != "cancelled", Acceptance.at >= start)
        .group_by(Acceptance.contact_id)
        .subquery("accepted_contacts")
    )
    reached_call = reached_ids.c.contact_id.is_not(None)
    accepted = accepted_ids.c.contact_id.is_not(None)
    is_call = Contact.channel.in_(CALL_CHANNELS)
    retention = Contact.campaign_id.is_(None)
    reached = or_(~is_call, reached_call)
    flags: dict[str, ColumnElement[Any]] = {
        "call": is_call,
        "call_reached": and_(is_call, reached_call),
        "reached": reached,
        "accepted": accepted,
        "retention_reached": and_(retention, reached),
        "retention_accepted": and_(retention, accepted),
        "campaign": Contact.campaign_id.is_not(None),
        "campaign_accepted": and_(Contact.campaign_id.is_not(None), accepted),
    }
    return ContactFlags(flags, reached_ids, accepted_ids)


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sent_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(Contact.status == "sent", Contact.at >= start, Contact.at < end)


@dataclass(frozen=True)
class _UserCounts:
    """The flags' counts of one user's contacts (user None: contacts made by no one)."""

    user_id: int | None
    name: str
    team_id: int | None
    team: str | None
    branch_id: int | None
    branch: str | None
    counts: dict[str, int]


#: seconds the live counts of a scope and period are reused (the dashboards say so)
LIVE_SECONDS = 60.0
_LIVE_ENTRIES = 256
_live: TTLCache[tuple[Any, ...], list[_UserCounts]] = TTLCache(
    LIVE_SECONDS, max_entries=_LIVE_ENTRIES
)


def forget_live_figures() -> None:
    """Drop the reused live counts (tests, or after a bulk import of contacts)."""
    _live.clear()


def _scope_key(actor: Actor) -> tuple[Any, ...]:
    """What decides which contacts the actor's live figures count."""
    return (
        actor.scope.value,
        actor.user_id if actor.scope is Scope.OWN else None,
        actor.team_id if actor.scope is Scope.TEAM else None,
        tuple(sorted(actor.branch_ids)) if actor.scope is Scope.BRANCH else None,
    )


def _user_counts(
    db: Session, actor: Actor, start: datetime, end: datetime, *, lang: str = "zh-CN"
) -> list[_UserCounts]:
    """The contacts of [start, end) in the actor's scope counted per user (see
    :func:`_count_users`), reused for :data:`LIVE_SECONDS` per database, scope and period: a
    month's contacts at a large centre take a few hundred milliseconds to count, and managers
    open the dashboards often."""
    key = (str(db.get_bind().engine.url), _scope_key(actor), start, end, lang)
    return _live.get_or_compute(key, lambda: _count_users(db, actor, start, end, lang=lang))


def _count_users(
    db: Session, actor: Actor, start: datetime, end: datetime, *, lang: str = "zh-CN"
) -> list[_UserCounts]:
    """One scan of the contacts of [start, end) in the actor's scope, counted per user: the
    live rates add all rows up, the league tables the users' rows."""
    flags_of_period = contact_flags(start, end)
    branch_name = Branch.name_en if lang == "en" else Branch.name_zh
    keys = (User.id, User.display_name, User.team_id, Team.name, User.branch_id, branch_name)
    query = (
        select(
            *keys,
            func.count().label("contacts"),
            *[_count(flag).label(name) for name, flag in flags_of_period.flags.items()],
        )
        .select_from(Contact)
        .outerjoin(User, User.id == Contact.user_id)
        .outerjoin(Team, Team.id == User.team_id)
        .outerjoin(Branch, Branch.id == User.branch_id)
    )
    query = (
        flags_of_period.joined(query)
        .where(_sent_in(start, end), _contact_scope(actor))
        .group_by(*keys)
    )
    out = []
    for row in db.execute(query):
        values = row._mapping
        out.append(
            _UserCounts(
                user_id=row[0],
                name=str(row[1] or "—"),
                team_id=row[2],
                team=row[3],
                branch_id=row[4],
                branch=row[5],
                counts={
                    name: int(values[name] or 0) for name in ("contacts", *flags_of_period.flags)
                },
            )
        )
    return out


def _rates(users: Sequence[_UserCounts]) -> list[Ratio]:
    n: dict[str, int] = {}
    for user in users:
        for name, value in user.counts.items():
            n[name] = n.get(name, 0) + value
    n.setdefault("call", 0)

    def rate(name: str, numerator: str, denominator: str) -> Ratio:
        top, bottom = n.get(numerator, 0), n.get(denominator, 0)
        return Ratio(name=name, value=ratio(top, bottom), numerator=top, denominator=bottom)

    return [
        rate("connect_rate", "call_reached", "call"),
        rate("retention_success_rate", "retention_accepted", "retention_reached"),
        rate("marketing_success_rate", "campaign_accepted", "campaign"),
    ]


def participation(db: Session, actor: Actor, start: datetime, end: datetime) -> Ratio:
    """Treated members of campaigns running in [start, end) that were contacted in their
    campaign ÷ treated members (members of the branches the actor sees)."""
    running = select(Campaign.id).where(
        Campaign.started_at.is_not(None),
        Campaign.started_at < end,
        or_(Campaign.completed_at.is_(None), Campaign.completed_at >= start),
    )
    contacted = exists().where(
        Contact.campaign_id == CampaignMember.campaign_id,
        Contact.subscriber_id == CampaignMember.subscriber_id,
        Contact.status == "sent",
    )
    scope = (
        true()
        if actor.scope is Scope.ALL
        else CampaignMember.branch_id.in_(actor.branch_ids)
        if actor.branch_ids
        else false()
    )
    members, reached = db.execute(
        select(func.count(), _count(contacted)).where(
            CampaignMember.arm == TREATED, CampaignMember.campaign_id.in_(running), scope
        )
    ).one()
    return Ratio(
        name="participation_rate",
        value=ratio(reached, members),
        numerator=int(reached or 0),
        denominator=int(members or 0),
    )


def return_visits(db: Session, actor: Actor, start: datetime, end: datetime) -> list[Ratio]:
    """Coverage, success and feedback of the new-subscriber return visits (新入网回访) of the
    arrivals handed over in [start, end) (see the module doc; the visit tasks the actor may
    see, ``scope.task_scope_clause``), against 100 % / 70 % / 100 %."""
    on_visit = and_(Contact.task_id == Task.id, Contact.status == "sent")
    reached_call = exists().where(
        ContactOutcome.contact_id == Contact.id, ContactOutcome.outcome.in_(REACHED)
    )
    visited = exists().where(on_visit)
    reached = exists().where(on_visit, or_(Contact.channel.not_in(CALL_CHANNELS), reached_call))
    answered = exists().where(on_visit, SurveyResponse.contact_id == Contact.id)
    joins, seen, ok, feedback = (
        int(v or 0)
        for v in db.execute(
            select(func.count(), _count(visited), _count(reached), _count(answered)).where(
                Task.source == VISIT_SOURCE,
                Task.created_at >= start,
                Task.created_at < end,
                task_scope_clause(actor),
            )
        ).one()
    )
    parts = {
        "visit_coverage": (seen, joins),
        "visit_success": (ok, joins),
        "visit_feedback": (feedback, seen),
    }
    return [
        Ratio(
            name=name,
            value=ratio(numerator, denominator),
            numerator=numerator,
            denominator=denominator,
            target=TARGETS[name],
        )
        for name, (numerator, denominator) in parts.items()
    ]


def live_rates(
    db: Session,
    actor: Actor,
    month: date,
    tz: ZoneInfo,
    users: Sequence[_UserCounts] | None = None,
) -> list[Ratio]:
    """Every live rate of ``month`` (the centre's local month) in the actor's scope (``users``:
    the month's contact counts if already read)."""
    start, end = month_bounds(month, tz)
    counted = _user_counts(db, actor, start, end) if users is None else users
    return [
        *_rates(counted),
        participation(db, actor, start, end),
        *return_visits(db, actor, start, end),
    ]


@dataclass
class _Tally:
    key: int | None
    name: str
    counts: list[int]

    def row(self) -> LeagueRow:
        contacts, calls, calls_reached, reached, accepted = self.counts
        return LeagueRow(
            id=self.key,
            name=self.name,
            contacts=contacts,
            calls=calls,
            calls_reached=calls_reached,
            reached=reached,
            accepted=accepted,
            connect_rate=ratio(calls_reached, calls),
            success_rate=ratio(accepted, reached),
        )


def _ranked(tallies: Iterable[_Tally]) -> list[LeagueRow]:
    rows = [t.row() for t in tallies]
    rows.sort(key=lambda r: (-(r.success_rate or 0.0), -r.accepted, r.name))
    return rows[:LEAGUE_LIMIT]


def leagues(
    db: Session,
    actor: Actor,
    start: datetime,
    end: datetime,
    *,
    lang: str = "zh-CN",
    users: Sequence[_UserCounts] | None = None,
) -> dict[str, list[LeagueRow]]:
    """League tables (排行榜) by ``agent``, ``team`` and ``branch``: contacts, calls, reached,
    accepted, connect and success rate of the users in the actor's scope, best success rate
    first (ties: more acceptances); agents added up into teams and branches."""
    counted = _user_counts(db, actor, start, end, lang=lang) if users is None else users
    agents: list[_Tally] = []
    teams: dict[int | None, _Tally] = {}
    branches: dict[int | None, _Tally] = {}
    for user in counted:
        if user.user_id is None:  # campaign SMS: in the rates, in no one's league
            continue
        c = user.counts
        numbers = [c["contacts"], c["call"], c["call_reached"], c["reached"], c["accepted"]]
        agents.append(_Tally(user.user_id, user.name, numbers))
        for groups, key, label in (
            (teams, user.team_id, user.team),
            (branches, user.branch_id, user.branch),
        ):
            tally = groups.setdefault(key, _Tally(key, str(label or "—"), [0] * len(numbers)))
            tally.counts = [a + b for a, b in zip(tally.counts, numbers, strict=True)]
    return {
        "agent": _ranked(agents),
        "team": _ranked(teams.values()),
        "branch": _ranked(branches.values()),
    }


def league(
    db: Session,
    actor: Actor,
    level: str,
    start: datetime,
    end: datetime,
    *,
    lang: str = "zh-CN",
) -> list[LeagueRow]:
    """One league table (``agent``, ``team`` or ``branch``), see :func:`leagues`."""
    return leagues(db, actor, start, end, lang=lang)[level]


# --- pages -------------------------------------------------------------------------------------


def overview(
    db: Session, actor: Actor, month: date, tz: ZoneInfo, *, lang: str = "zh-CN"
) -> Overview:
    """The overview dashboard of ``month``: churn trend and breakdowns (the newest published
    month not after it), live rates and league tables of the month."""
    require_dashboards(actor)
    month = month_start(month)
    published = _published_month(published_months(db), month)
    start, end = month_bounds(month, tz)
    churn_by: dict[str, list[Figure]] = {}
    branches: list[BranchFigure] = []
    if published is not None:
        for dimension in CHURN_DIMENSIONS:
            churn_by[dimension] = series(db, actor, "churn_rate", dimension, period=published)
        branches = by_branch(db, actor, "churn_rate", published, lang=lang)
    users = _user_counts(db, actor, start, end, lang=lang)
    tables = leagues(db, actor, start, end, users=users)
    return Overview(
        month=month,
        published_month=published,
        snapshot_date=snapshot_date(db),
        churn_trend=series(db, actor, "churn_rate"),
        churn_by=churn_by,
        churn_by_branch=branches,
        rates=live_rates(db, actor, month, tz, users),
        agents=tables["agent"],
        teams=tables["team"],
        branches=tables["branch"],
    )


def _kpi(
    name: str,
    source: str,
    period: date | None,
    value: float | None,
    previous: float | None,
) -> Kpi:
    target = TARGETS.get(name)
    moved = change(value, previous)
    gap = change(value, target)
    return Kpi(
        name=name,
        source="live" if source == "live" else "published",
        period=period,
        value=value,
        previous=previous,
        change=moved,
        arrow=arrow(moved),
        target=target,
        target_gap=gap,
        target_arrow=arrow(gap),
    )


def satisfaction(db: Session, actor: Actor, month: date, tz: ZoneInfo) -> Satisfaction:
    """The satisfaction KPI panorama of ``month``: each metric with its month-on-month change
    and its gap to the target, arrows beyond ±5 %."""
    require_dashboards(actor)
    month = month_start(month)
    published = _published_month(published_months(db), month)
    kpis: list[Kpi] = []
    for metric in PANORAMA:
        figures = {f.period: f.value for f in series(db, actor, metric)}
        current = figures.get(published) if published else None
        previous = figures.get(add_months(published, -1)) if published else None
        kpis.append(_kpi(metric, "published", published, current, previous))
    now = {r.name: r.value for r in return_visits(db, actor, *month_bounds(month, tz))}
    earlier = month_bounds(add_months(month, -1), tz)
    before = {r.name: r.value for r in return_visits(db, actor, *earlier)}
    for name in ("visit_coverage", "visit_success", "visit_feedback"):
        kpis.append(_kpi(name, "live", month, now.get(name), before.get(name)))
    return Satisfaction(
        month=month,
        kpis=kpis,
        trend=series(db, actor, "satisfaction_rate"),
        by_touchpoint=series(db, actor, "satisfaction_rate", "touchpoint", period=published)
        if published
        else [],
    )


def churn_analysis(db: Session, actor: Actor) -> ChurnAnalysis:
    """The published churn analysis (reasons, destinations, tenure of leavers vs the base,
    touchpoints before leaving, churn cost) over the branches the actor sees."""
    require_dashboards(actor)
    parts = {
        f"{metric}:{dimension}": series(db, actor, metric, dimension)
        for metric, dimension in ANALYSIS_PARTS
    }
    reasons = parts["churn_reason:reason"]
    leavers = max((f.denominator or 0.0 for f in reasons), default=0.0)
    period = reasons[0].period if reasons else None
    return ChurnAnalysis(
        period=period, snapshot_date=snapshot_date(db), leavers=leavers, parts=parts
    )


def model_monitor(db: Session, actor: Actor) -> ModelMonitor:
    """Realised AUC per scored snapshot, hold-out AUC per model version, the score's PSI over
    time and every feature's PSI at the newest drift snapshot (highest first)."""
    actor.require(*MODEL_ROLES)
    psi = global_series(db, "psi", "feature")
    latest = max((f.period for f in psi), default=None)
    drift = sorted(
        (f for f in psi if f.period == latest and f.member != "score"),
        key=lambda f: -(f.value or 0.0),
    )
    return ModelMonitor(
        auc=global_series(db, "model_auc", "realised"),
        holdout_auc=global_series(db, "model_auc", "holdout"),
        score_psi=[f for f in psi if f.member == "score"],
        drift_period=latest,
        drift=drift,
    )


def _dissatisfied_scope(actor: Actor) -> ColumnElement[bool]:
    """The customers ``scope.customer_scope_clause`` lets the actor see, decided
    on the list's own columns (no scan of the customer view): everyone, the published branch
    for branch roles, else the customers the users in scope manage or hold a task for."""
    if actor.scope is Scope.ALL:
        return true()
    if actor.scope is Scope.BRANCH:
        if not actor.branch_ids:
            return false()
        return DissatisfiedCustomer.branch_id.in_(actor.branch_ids)
    listed = aliased(DissatisfiedCustomer)
    managed = (
        select(listed.id)
        .join(CustomerAssignment, CustomerAssignment.subscriber_id == listed.subscriber_id)
        .where(user_scope_clause(actor, CustomerAssignment.user_id))
    )
    tasked = (
        select(listed.id)
        .join(Task, Task.subscriber_id == listed.subscriber_id)
        .where(Task.assignee_id.is_not(None), user_scope_clause(actor, Task.assignee_id))
    )
    # the list's rows joined to their customers' managers and tasks: a few lookups per row
    return DissatisfiedCustomer.id.in_(managed.union(tasked))


def dissatisfied(
    db: Session, actor: Actor, *, limit: int = 200, offset: int = 0
) -> DissatisfiedList:
    """The dissatisfied customers (低分客户) the actor may see, newest answer first; phone
    numbers masked unless the role may see them."""
    require_dashboards(actor)
    scope = _dissatisfied_scope(actor)
    # the page's rows first (sorted on the list alone, with the count of every row in scope in
    # the same pass), then their customers by key
    page = (
        select(DissatisfiedCustomer, func.count().over().label("total"))
        .where(scope)
        .order_by(DissatisfiedCustomer.survey_time.desc(), DissatisfiedCustomer.subscriber_id)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    query = (
        select(
            page.c.subscriber_id,
            CustomerView.name,
            CustomerView.msisdn,
            func.coalesce(CustomerView.branch_code, page.c.branch_code),
            page.c.survey_time,
            page.c.touchpoint,
            page.c.score,
            page.c.total,
        )
        .select_from(page)
        .outerjoin(CustomerView, CustomerView.subscriber_id == page.c.subscriber_id)
        .order_by(page.c.survey_time.desc(), page.c.subscriber_id)
    )
    found = db.execute(query).all()
    rows = [
        DissatisfiedRow(
            subscriber_id=sid,
            name=name,
            msisdn=mask_phone(msisdn, actor.role) if msisdn else None,
            branch=branch,
            survey_time=at,
            touchpoint=touchpoint,
            score=score,
        )
        for sid, name, msisdn, branch, at, touchpoint, score, _total in found
    ]
    if found:
        total = int(found[0][-1])
    elif offset:  # past the end: the count alone
        total = int(
            db.scalar(select(func.count()).select_from(DissatisfiedCustomer).where(scope)) or 0
        )
    else:
        total = 0
    return DissatisfiedList(total=total, rows=rows)
