"""The demo's working day: the demo agents work part of their tasks through the same service
the pages use, so the workbench, team board and dashboards show a day in progress.

Outcomes are drawn from a seeded random generator (not from the simulator's ground truth, which
product code never reads): this is a stand-in for people, used only by ``weiwan demo``. Agents
work their tasks due first (then by priority), so new subscribers'
return visits are worked like the rest, and a reached visit gets the return-visit
questionnaire's answers (an option of every choice question) as an agent would record them.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from weiwan.core.db import session_scope
from weiwan.ops.contacts.models import Contact
from weiwan.ops.contacts.records import CallRecord
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor, actor_for
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role
from weiwan.ops.surveys.answers import record_answers
from weiwan.ops.surveys.arrivals import VISIT_SOURCE
from weiwan.ops.surveys.library import questions_of
from weiwan.ops.surveys.models import Questionnaire
from weiwan.ops.surveys.return_visit import return_visit_questionnaire
from weiwan.ops.surveys.schemas import AnswerIn
from weiwan.ops.tasks.models import Task

#: (share, outcomes) of a worked task; "accepted" takes the task's policy.
_OUTCOMES: tuple[tuple[float, tuple[str, ...]], ...] = (
    (0.30, ("not_reached",)),
    (0.20, ("connected", "refused")),
    (0.25, ("connected", "accepted")),
    (0.15, ("connected",)),
    (0.05, ("connected", "call_back")),
    (0.05, ("wrong_number",)),
)
_REFUSALS = ("price", "competitor_offer", "not_interested", "moving")


def working_hours(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The stretch of today's office hours (09:00–18:00 local) that has passed; yesterday's
    whole day before 10:00."""
    local = now.astimezone(tz)
    day = local.date() if local.time() >= time(10) else local.date() - timedelta(days=1)
    start = datetime.combine(day, time(9), tz)
    end = min(datetime.combine(day, time(18), tz), local)
    return start.astimezone(UTC), end.astimezone(UTC)


def _offer_for(session: Session, task: Task) -> str | None:
    """The task's policy, else the first policy the customer may get (care calls carry none)."""
    if task.policy_id:
        return task.policy_id
    eligible = session.scalar(
        select(CustomerView.eligible_policies).where(
            CustomerView.subscriber_id == task.subscriber_id
        )
    )
    return next(iter((eligible or "").split()), None)


def _outcomes(rng: random.Random, policy: str | None, at: datetime) -> list[OutcomeIn]:
    draw, cumulative = rng.random(), 0.0
    chosen: tuple[str, ...] = _OUTCOMES[-1][1]
    for share, kinds in _OUTCOMES:
        cumulative += share
        if draw < cumulative:
            chosen = kinds
            break
    if "accepted" in chosen and policy is None:
        chosen = ("connected",)
    result = []
    for kind in chosen:
        if kind == "refused":
            result.append(OutcomeIn(outcome="refused", refusal_reason=rng.choice(_REFUSALS)))
        elif kind == "call_back":
            result.append(OutcomeIn(outcome="call_back", call_back_at=at + timedelta(days=1)))
        elif kind == "accepted":
            result.append(OutcomeIn(outcome="accepted", policy_id=policy))
        else:
            result.append(OutcomeIn(outcome=kind))
    return result


def _answer_visit(
    session: Session,
    actor: Actor,
    record: CallRecord,
    questionnaire: Questionnaire | None,
    rng: random.Random,
) -> int:
    """Answer the return-visit questionnaire on a reached visit call; 1 if answered."""
    reached = {o.outcome for o in record.outcomes} & {"connected", "accepted", "refused"}
    if questionnaire is None or record.contact.status != "sent" or not reached:
        return 0
    answers = []
    for question in questions_of(session, questionnaire.id):
        values = [str(o["value"]) for o in json.loads(question.options or "[]")]
        if question.kind == "single":
            answers.append(AnswerIn(question_id=question.id, value=rng.choice(values)))
        elif question.kind == "multiple":
            answers.append(AnswerIn(question_id=question.id, value=[rng.choice(values)]))
    record_answers(session, actor, record.contact.id, questionnaire.id, answers)
    return 1


def work_the_day(
    engine: Engine, tz: ZoneInfo, *, share: float = 0.6, seed: int = 7, now: datetime | None = None
) -> dict[str, int]:
    """Each demo agent works ``share`` of their open tasks at times spread over today's
    office hours, unless contacts of that stretch exist already; counts of contacts recorded,
    blocked by the contact policy, accepted, and return visits answered."""
    rng = random.Random(seed)
    start, end = working_hours(now or datetime.now(UTC), tz)
    span = max((end - start).total_seconds(), 60.0)
    counts = {"contacts": 0, "blocked": 0, "accepted": 0, "visits_answered": 0}
    with session_scope(engine) as session:
        if session.scalar(select(Contact.id).where(Contact.at >= start).limit(1)) is not None:
            return counts  # the day was worked already: running the demo again adds nothing
        questionnaire = return_visit_questionnaire(session)
        agents = session.scalars(
            select(User).where(User.role == Role.AGENT.value, User.active.is_(True))
        ).all()
        for user in agents:
            actor = actor_for(session, user)
            tasks = session.scalars(
                select(Task)
                .where(Task.assignee_id == user.id, Task.status == "open")
                .order_by(Task.due_at.asc().nulls_last(), Task.priority.desc(), Task.id)
            ).all()
            worked = tasks[: int(len(tasks) * share)]
            times = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in worked)
            for task, at in zip(worked, times, strict=True):
                if task.status != "open":  # closed by an acceptance earlier in the loop
                    continue
                body = CallIn(
                    subscriber_id=task.subscriber_id,
                    channel=task.channel,
                    task_id=task.id,
                    outcomes=_outcomes(rng, _offer_for(session, task), at),
                    at=at,
                )
                record = record_call(session, actor, body, tz=tz)
                counts["contacts"] += 1
                counts["blocked"] += int(record.contact.status == "blocked")
                counts["accepted"] += int(record.acceptance is not None)
                if task.source == VISIT_SOURCE:
                    counts["visits_answered"] += _answer_visit(
                        session, actor, record, questionnaire, rng
                    )
                session.flush()
                session.expire(task)
    return counts
