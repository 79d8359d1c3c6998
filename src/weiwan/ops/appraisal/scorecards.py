"""Monthly scorecards (考核记分卡) per agent, team and branch: the figures, the target
attainment, the weighted score and the rank within the level (docs/appraisal.md).

The current month (and any month not closed yet) is computed live from the operational
records (the counts reused for a minute, see :data:`figures.LIVE_SECONDS`); a closed month is
read from ``scorecards`` (``weiwan appraisal close --month``, or the publish of kind
``complaints`` for the previous month). Readers see the subjects of their scope: agents
their own card; shift leads their team's agents and team; centre heads the agents, teams
and branches of their branches; directors and analysts everything.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from weiwan.core.errors import InvalidRequestError, NotFoundError
from weiwan.core.months import add_months
from weiwan.ops.base import utcnow
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import Branch, Team, User
from weiwan.ops.org.roles import Role, Scope

from .figures import COUNTS, agent_counts
from .models import LEVELS, Scorecard, ScorecardMonth
from .scheme import current_scheme

READERS = (Role.AGENT, Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST)
CLOSERS = (Role.CENTRE_HEAD, Role.DIRECTOR)
#: the figures weighted into the score, each normalised to [0, 1] (see :func:`_normalised`)
SCORED = (
    "contacts",
    "connect_rate",
    "retention_success_rate",
    "incremental_saves",
    "quality_score",
    "questionnaire_completion",
    "complaints",
    "target_attainment",
)
#: actual figure of each target metric
TARGET_ACTUALS = {"assigned": "assigned", "contacts": "contacts", "saves": "accepted"}


@dataclass(slots=True)
class Card:
    """One subject's scorecard of a month."""

    level: str
    subject_id: int
    name: str
    branch_id: int | None
    team_id: int | None
    figures: dict[str, Any]
    score: float | None = None
    rank: int = 0
    agents: list[int] = field(default_factory=list)


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month's local days as a UTC interval [start, end)."""
    start = datetime.combine(month.replace(day=1), time(), tz)
    end = datetime.combine(add_months(month.replace(day=1), 1), time(), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def working_days(month: date, until: date | None = None) -> int:
    """Monday–Friday days of ``month`` (up to ``until`` inclusive when given)."""
    last = calendar.monthrange(month.year, month.month)[1]
    days = [month.replace(day=d) for d in range(1, last + 1)]
    return sum(1 for d in days if d.weekday() < 5 and (until is None or d <= until))


def _ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom else None


def _derive(counts: dict[str, float], expected: float, targets: dict[str, float]) -> dict[str, Any]:
    """The scorecard figures of summed counts (see docs/appraisal.md)."""
    c = counts
    figures: dict[str, Any] = {key: int(c[key]) for key in COUNTS if key != "holdout_expected"}
    figures["holdout_expected"] = round(c["holdout_expected"], 6)
    figures["expected_contacts"] = int(expected)
    figures["contacts_attainment"] = _ratio(c["contacts"], expected)
    figures["connect_rate"] = _ratio(c["calls_reached"], c["calls"])
    figures["retention_success_rate"] = _ratio(c["accepted"], c["reached"])
    figures["incremental_saves"] = (
        round(c["treated_retained"] - c["holdout_expected"], 6) if c["treated_attributed"] else None
    )
    points = _ratio(c["inspection_points"], c["inspections"])
    figures["quality_score"] = None if points is None else round(points, 6)
    figures["questionnaire_completion"] = _ratio(
        c["questionnaire_answered"], c["questionnaire_contacts"]
    )
    attainment = {}
    for metric, target in targets.items():
        actual = c[TARGET_ACTUALS[metric]]
        attainment[metric] = actual / target if target else (1.0 if actual >= 0 else 0.0)
    figures["targets"] = targets
    figures["attainment"] = attainment
    figures["target_attainment"] = (
        sum(min(1.0, v) for v in attainment.values()) / len(attainment) if attainment else None
    )
    return figures


def _normalised(cards: list[Card]) -> None:
    """Each scored figure as a number in [0, 1] (None: not available for the subject)."""
    top_saves = max((max(0.0, c.figures["incremental_saves"] or 0.0) for c in cards), default=0)
    top_complaints = max((c.figures["complaints"] for c in cards), default=0)
    for card in cards:
        f = card.figures
        saves = f["incremental_saves"]
        quality = f["quality_score"]
        attainment = f["contacts_attainment"]
        f["normalised"] = {
            "contacts": None if attainment is None else min(1.0, attainment),
            "connect_rate": f["connect_rate"],
            "retention_success_rate": f["retention_success_rate"],
            "incremental_saves": (
                None if saves is None or top_saves <= 0 else max(0.0, saves) / top_saves
            ),
            "quality_score": None if quality is None else quality / 100.0,
            "questionnaire_completion": f["questionnaire_completion"],
            "complaints": 1.0 - f["complaints"] / top_complaints if top_complaints else 1.0,
            "target_attainment": f["target_attainment"],
        }


def _score(card: Card, weights: dict[str, float]) -> float | None:
    """100 × Σ weight × normalised ÷ Σ weight over the figures the subject has."""
    top = bottom = 0.0
    for metric in SCORED:
        weight = weights.get(metric, 0.0)
        value = card.figures["normalised"][metric]
        if weight > 0 and value is not None:
            top += weight * value
            bottom += weight
    return round(100.0 * top / bottom, 4) if bottom else None


def _rank(cards: list[Card]) -> list[Card]:
    """Best score first (no score last, then by name); equal scores share a rank."""
    cards.sort(key=lambda c: (c.score is None, -(c.score or 0.0), c.name, c.subject_id))
    for position, card in enumerate(cards, start=1):
        before = cards[position - 2] if position > 1 else None
        tied = before is not None and card.score is not None and before.score == card.score
        card.rank = before.rank if tied and before is not None else position
    return cards


def compute_month(
    session: Session,
    month: date,
    tz: ZoneInfo,
    *,
    now: datetime | None = None,
    reuse: bool = True,
) -> dict[str, list[Card]]:
    """Every agent's, team's and branch's card of ``month`` from the operational records.

    The standard counts the month's working days (Monday–Friday), up to today for the
    current month."""
    month = month.replace(day=1)
    start, end = month_bounds(month, tz)
    today = (now or utcnow()).astimezone(tz).date()
    days = working_days(month, today if start <= (now or utcnow()) < end else None)
    scheme = current_scheme(session)
    counts = agent_counts(session, start, end, reuse=reuse)
    agents = session.scalars(
        select(User).where(
            User.role == Role.AGENT.value,
            (User.active.is_(True)) | (User.id.in_(list(counts) or [0])),
        )
    ).all()
    teams = {t.id: t for t in session.scalars(select(Team)).all()}
    branches = {b.id: b for b in session.scalars(select(Branch)).all()}
    zero = dict.fromkeys(COUNTS, 0.0)
    sums: dict[str, dict[int, dict[str, float]]] = {"team": {}, "branch": {}}
    expected: dict[str, dict[int, float]] = {"team": {}, "branch": {}}
    members: dict[str, dict[int, list[int]]] = {"team": {}, "branch": {}}
    cards: dict[str, list[Card]] = {level: [] for level in LEVELS}
    for agent in agents:
        mine = counts.get(agent.id, zero)
        want = float(scheme.standard(agent.role) * days)
        targets = scheme.target("agent", agent.id, month)
        cards["agent"].append(
            Card(
                "agent",
                agent.id,
                agent.display_name,
                agent.branch_id,
                agent.team_id,
                _derive(mine, want, targets),
                agents=[agent.id],
            )
        )
        for level, key in (("team", agent.team_id), ("branch", agent.branch_id)):
            if key is None:
                continue
            total = sums[level].setdefault(key, dict(zero))
            for name in COUNTS:
                total[name] += mine[name]
            expected[level][key] = expected[level].get(key, 0.0) + want
            members[level].setdefault(key, []).append(agent.id)
    for key, total in sums["team"].items():
        team = teams[key]
        cards["team"].append(
            Card(
                "team",
                key,
                team.name,
                team.branch_id,
                key,
                _derive(total, expected["team"][key], scheme.target("team", key, month)),
                agents=members["team"][key],
            )
        )
    for key, total in sums["branch"].items():
        cards["branch"].append(
            Card(
                "branch",
                key,
                branches[key].name_zh,
                key,
                None,
                _derive(total, expected["branch"][key], scheme.target("branch", key, month)),
                agents=members["branch"][key],
            )
        )
    for level in LEVELS:
        _normalised(cards[level])
        for card in cards[level]:
            card.score = _score(card, scheme.weights)
        _rank(cards[level])
    return cards


def _visible(actor: Actor, card: Card) -> bool:
    scope = actor.scope
    if scope is Scope.ALL:
        return True
    if scope is Scope.BRANCH:
        return card.branch_id in actor.branch_ids
    if card.level == "agent":
        if scope is Scope.TEAM and actor.team_id is not None:
            return card.team_id == actor.team_id or card.subject_id == actor.user_id
        return card.subject_id == actor.user_id
    return scope is Scope.TEAM and card.level == "team" and card.subject_id == actor.team_id


def stored_cards(session: Session, month: date, level: str | None = None) -> list[Card]:
    query = select(Scorecard).where(Scorecard.month == month)
    if level is not None:
        query = query.where(Scorecard.level == level)
    return [_card(row) for row in session.scalars(query.order_by(Scorecard.rank, Scorecard.id))]


def _card(row: Scorecard) -> Card:
    return Card(
        row.level,
        row.subject_id,
        row.name,
        row.branch_id,
        row.team_id,
        json.loads(row.figures),
        row.score,
        row.rank,
    )


def is_closed(session: Session, month: date) -> bool:
    """Whether ``month``'s scorecards are stored."""
    return session.get(ScorecardMonth, month.replace(day=1)) is not None


def scorecards(
    session: Session, actor: Actor, month: date, level: str, tz: ZoneInfo
) -> tuple[list[Card], bool]:
    """The cards of ``level`` for ``month`` in the actor's scope, best first, and whether
    they are stored (closed) or live."""
    actor.require(*READERS)
    if level not in LEVELS:
        raise InvalidRequestError(f"use {', '.join(LEVELS)}", field="level")
    month = month.replace(day=1)
    if month > utcnow().astimezone(tz).date():
        raise InvalidRequestError("the month has not begun", field="month")
    closed = is_closed(session, month)
    cards = (
        stored_cards(session, month, level) if closed else compute_month(session, month, tz)[level]
    )
    return [c for c in cards if _visible(actor, c)], closed


def closed_months(session: Session) -> list[date]:
    """The closed months, newest first."""
    return list(session.scalars(select(ScorecardMonth.month).order_by(ScorecardMonth.month.desc())))


def history(
    session: Session, actor: Actor, level: str, subject_id: int, tz: ZoneInfo
) -> list[tuple[date, Card, bool]]:
    """A subject's card month by month (closed months, then the current month live), oldest
    first; 404 when the subject is unknown or outside the actor's scope."""
    actor.require(*READERS)
    if level not in LEVELS:
        raise InvalidRequestError(f"use {', '.join(LEVELS)}", field="level")
    rows = session.scalars(
        select(Scorecard)
        .where(Scorecard.level == level, Scorecard.subject_id == subject_id)
        .order_by(Scorecard.month)
    ).all()
    out = [(row.month, _card(row), True) for row in rows]
    current = utcnow().astimezone(tz).date().replace(day=1)
    if not is_closed(session, current):
        live = [c for c in compute_month(session, current, tz)[level] if c.subject_id == subject_id]
        out.extend((current, card, False) for card in live)
    visible = [entry for entry in out if _visible(actor, entry[1])]
    if not visible:
        raise NotFoundError(f"no scorecard of {level} {subject_id}")
    return visible


def close_month(session: Session, month: date, tz: ZoneInfo) -> int:
    """Store ``month``'s cards (replacing any stored before); only a month that has ended.
    Returns the number of cards stored."""
    month = month.replace(day=1)
    _start, end = month_bounds(month, tz)
    if end > utcnow():
        raise InvalidRequestError("only a month that has ended can be closed", field="month")
    cards = compute_month(session, month, tz, reuse=False)
    session.execute(delete(Scorecard).where(Scorecard.month == month))
    session.execute(delete(ScorecardMonth).where(ScorecardMonth.month == month))
    total = sum(len(v) for v in cards.values())
    session.add(ScorecardMonth(month=month, closed_at=utcnow(), subjects=total))
    session.flush()
    session.add_all(
        Scorecard(
            month=month,
            level=card.level,
            subject_id=card.subject_id,
            name=card.name[:200],
            branch_id=card.branch_id,
            team_id=card.team_id,
            score=card.score,
            rank=card.rank,
            figures=json.dumps(card.figures, sort_keys=True, ensure_ascii=False),
        )
        for level in LEVELS
        for card in cards[level]
    )
    session.flush()
    return total


def close_previous_month_once(session: Session, snapshot: date, tz: ZoneInfo) -> date | None:
    """Close the month before ``snapshot``'s if it is not stored yet; the month closed."""
    previous = add_months(snapshot.replace(day=1), -1)
    if is_closed(session, previous) or month_bounds(previous, tz)[1] > utcnow():
        return None
    close_month(session, previous, tz)
    return previous
