"""Live rates over the operational records of a month (contacts, outcomes, acceptances,
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
from datetime import date, datetime
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

from weiwan.core.ttl_cache import TTLCache
from weiwan.ops.campaigns.models import TREATED, Campaign, CampaignMember
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch, Team, User
from weiwan.ops.org.roles import Scope
from weiwan.ops.reports.common import (
    CALL_CHANNELS,
    LEAGUE_LIMIT,
    REACHED,
    TARGETS,
    month_bounds,
    ratio,
)
from weiwan.ops.reports.schemas import (
    LeagueRow,
    Ratio,
)
from weiwan.ops.scope import task_scope_clause, user_scope_clause
from weiwan.ops.surveys.arrivals import VISIT_SOURCE
from weiwan.ops.surveys.models import SurveyResponse
from weiwan.ops.tasks.models import Task


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


def user_counts(
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
    counted = user_counts(db, actor, start, end) if users is None else users
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
    counted = user_counts(db, actor, start, end, lang=lang) if users is None else users
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
