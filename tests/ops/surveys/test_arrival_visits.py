"""New-subscriber return visits (新入网回访): the hand-over creates one visit per arrival,
routed to its outbound manager, due after joining, with the return-visit questionnaire; the
visits worked make the coverage, success and feedback rates (the seeds' definitions)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from customer_fixtures import SNAPSHOT, customer, publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.handover.service import hand_over
from weiwan.ops.org.access import Actor, actor_for
from weiwan.ops.org.models import User
from weiwan.ops.reports import live as reports_live
from weiwan.ops.surveys.answers import record_answers
from weiwan.ops.surveys.library import archive_questionnaire, clone_questionnaire, questions_of
from weiwan.ops.surveys.return_visit import (
    default_questionnaire,
    return_visit_questionnaire,
)
from weiwan.ops.surveys.schemas import AnswerIn
from weiwan.ops.tasks.models import CustomerAssignment, Task
from weiwan.ops.tasks.service import transfer_task

TZ = ZoneInfo("Asia/Shanghai")
OPEN_RULES = {"channels": {"store": {"inbound": True}, "hotline": {"inbound": True}}}


def _visits(engine: Engine) -> dict[str, Task]:
    with session_scope(engine) as session:
        tasks = session.scalars(select(Task).where(Task.source == "arrival")).all()
        session.expunge_all()
    return {t.subscriber_id: t for t in tasks}


def _arrivals(engine: Engine, branch: int, count: int, joined: date) -> list[str]:
    return publish_customers(
        engine, branch, count, lifecycle_stage="onboarding", tenure_months=0, join_date=joined
    )


def _actor(session: Session, user_id: int) -> Actor:
    user = session.get(User, user_id)
    assert user is not None
    return actor_for(session, user)


def test_the_hand_over_creates_one_visit_per_arrival_for_its_outbound_manager(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    ids = _arrivals(engine, branches["city"], 4, SNAPSHOT - timedelta(days=2))
    with session_scope(engine) as session:
        # a long-standing customer gets no visit
        session.add(customer("S00009", branches["city"], lifecycle_stage="maturity"))
        # an arrival no agent can take still gets its visit: unassigned, it counts as not done
        session.add(customer("S00008", branches["city"], lifecycle_stage="onboarding"))
        session.execute(
            update(CustomerView)
            .where(CustomerView.subscriber_id == "S00008")
            .values(branch_id=None)
        )
    counts = hand_over(engine, SNAPSHOT)
    assert counts["outbound_manager"] == 4 and counts["return_visits"] == 5
    visits = _visits(engine)
    assert sorted(visits) == [*ids, "S00008"]
    unassigned = visits.pop("S00008")
    assert unassigned.assignee_id is None and unassigned.status == "open"
    with session_scope(engine) as session:
        managers = dict(
            session.execute(
                select(CustomerAssignment.subscriber_id, CustomerAssignment.user_id).where(
                    CustomerAssignment.kind == "outbound_manager"
                )
            ).all()
        )
    for sid, task in visits.items():
        assert task.assignee_id == managers[sid]
        assert task.channel == "outbound_call" and task.status == "open"
        assert task.branch_id == branches["city"]
        assert (task.title_zh, task.title_en) == ("新入网回访", "New-subscriber return visit")
    assert {t.assignee_id for t in visits.values()} <= {people["agent"], people["agent2"]}
    # re-running the day, or the next day, creates none — even for a visit moved elsewhere
    assert hand_over(engine, SNAPSHOT)["return_visits"] == 0
    with session_scope(engine) as session:
        task = visits["S00001"]
        transfer_task(session, _actor(session, people["lead"]), task.id, to_channel="store")
    assert hand_over(engine, SNAPSHOT + timedelta(days=1))["return_visits"] == 0
    assert len(_visits(engine)) == 5
    # a new arrival the next day gets its visit
    with session_scope(engine) as session:
        session.add(
            customer(
                "S00010",
                branches["city"],
                lifecycle_stage="onboarding",
                join_date=SNAPSHOT + timedelta(days=1),
            )
        )
    assert hand_over(engine, SNAPSHOT + timedelta(days=1))["return_visits"] == 1
    assert "S00010" in _visits(engine)


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_a_visit_is_due_the_set_days_after_joining(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    assert Settings().arrival_visit_due_days == 7
    assert Settings(arrival_visit_due_days=3).arrival_visit_due_days == 3
    with session_scope(engine) as session:
        session.add_all(
            [
                customer(
                    "S00001",
                    branches["city"],
                    lifecycle_stage="onboarding",
                    join_date=SNAPSHOT - timedelta(days=1),
                ),
                # joined before it was handed over: due on the hand-over day
                customer(
                    "S00002",
                    branches["city"],
                    lifecycle_stage="onboarding",
                    join_date=SNAPSHOT - timedelta(days=20),
                ),
            ]
        )
    tz = ZoneInfo("Asia/Shanghai")
    handed_at = datetime.combine(SNAPSHOT + timedelta(days=1), time(14, 11), tz)
    hand_over(engine, SNAPSHOT, visit_due_days=3, tz=tz, now=handed_at)
    visits = _visits(engine)

    def due(sid: str) -> datetime:
        at = visits[sid].due_at
        assert at is not None
        return at.astimezone(tz)

    def end_of(day: date) -> datetime:  # the last second of the centre's local day
        return datetime.combine(day, time(23, 59, 59), tz)

    assert due("S00001") == end_of(SNAPSHOT + timedelta(days=2))  # joined yesterday, 3 days
    assert due("S00002") == end_of(SNAPSHOT + timedelta(days=1))  # the hand-over's own day
    assert due("S00002") > handed_at


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_only_recent_arrivals_get_a_visit(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    """On a first install the stage holds months of arrivals: only those who joined within the
    window get a welcome call (a wider window, set by the centre, reaches further back)."""
    assert Settings().arrival_visit_window_days == 30
    joined = {"S00001": 0, "S00002": 30, "S00003": 31, "S00004": 150}
    with session_scope(engine) as session:
        session.add_all(
            customer(
                sid,
                branches["city"],
                lifecycle_stage="onboarding",
                join_date=SNAPSHOT - timedelta(days=days),
            )
            for sid, days in joined.items()
        )
    assert hand_over(engine, SNAPSHOT)["return_visits"] == 2
    assert set(_visits(engine)) == {"S00001", "S00002"}
    assert hand_over(engine, SNAPSHOT, visit_window_days=60)["return_visits"] == 1
    assert set(_visits(engine)) == {"S00001", "S00002", "S00003"}


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_the_shipped_questionnaire_is_installed_once_and_the_centre_can_replace_it(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        assert return_visit_questionnaire(session) is None
    _arrivals(engine, branches["city"], 2, SNAPSHOT)
    hand_over(engine, SNAPSHOT)
    with session_scope(engine) as session:
        shipped = return_visit_questionnaire(session)
        assert shipped is not None and shipped.title_zh == "新入网回访"
        assert len(questions_of(session, shipped.id)) == len(default_questionnaire().questions)
        first = shipped.id
        session.add(customer("S00003", branches["city"], lifecycle_stage="onboarding"))
    hand_over(engine, SNAPSHOT)
    with session_scope(engine) as session:
        again = return_visit_questionnaire(session)
        assert again is not None and again.id == first  # not installed twice
        # the shipped questionnaire serves every branch: a director replaces it (a branch's
        # centre head may clone it but not archive it, see test_surveys)
        director = _actor(session, people["director"])
        clone = clone_questionnaire(session, director, first)
        archive_questionnaire(session, director, first)
        followed = return_visit_questionnaire(session)
        assert followed is not None and followed.id == clone.id  # the visits follow the clone


def _call(session: Session, user_id: int, task: Task, *outcomes: str, answer: bool = False) -> None:
    actor = _actor(session, user_id)
    record = record_call(
        session,
        actor,
        CallIn(
            subscriber_id=task.subscriber_id,
            channel=task.channel,
            task_id=task.id,
            outcomes=[OutcomeIn(outcome=o) for o in outcomes],
        ),
        tz=TZ,
    )
    session.flush()
    if answer:
        questionnaire = return_visit_questionnaire(session)
        assert questionnaire is not None
        answers = [  # the first option of every required question
            AnswerIn(question_id=q.id, value=json.loads(q.options)[0]["value"])
            for q in questions_of(session, questionnaire.id)
            if q.required
        ]
        record_answers(session, actor, record.contact.id, questionnaire.id, answers)


def _rates(engine: Engine, user_id: int) -> dict[str, tuple[int, int]]:
    reports_live.forget_live_figures()
    with session_scope(engine) as session:
        reader = _actor(session, user_id)
        rates = reports_live.live_rates(session, reader, datetime.now(TZ).date(), TZ)
    return {r.name: (r.numerator, r.denominator) for r in rates if r.name.startswith("visit_")}


def test_working_the_visits_moves_coverage_success_and_feedback(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    _arrivals(engine, branches["city"], 4, SNAPSHOT)
    publish_rules(engine, OPEN_RULES)
    hand_over(engine, SNAPSHOT)
    director = people["director"]
    assert _rates(engine, director) == {
        "visit_coverage": (0, 4),
        "visit_success": (0, 4),
        "visit_feedback": (0, 0),
    }
    visits = _visits(engine)
    one, two = visits["S00001"], visits["S00002"]
    with session_scope(engine) as session:
        _call(session, one.assignee_id or 0, one, "not_reached")  # visited, not reached
    assert _rates(engine, director) == {
        "visit_coverage": (1, 4),
        "visit_success": (0, 4),
        "visit_feedback": (0, 1),
    }
    with session_scope(engine) as session:
        _call(session, two.assignee_id or 0, two, "connected", answer=True)
    assert _rates(engine, director) == {
        "visit_coverage": (2, 4),
        "visit_success": (1, 4),
        "visit_feedback": (1, 2),
    }
    with session_scope(engine) as session:  # reached on the second try, without answers
        _call(session, one.assignee_id or 0, one, "connected")
    assert _rates(engine, director) == {
        "visit_coverage": (2, 4),
        "visit_success": (2, 4),
        "visit_feedback": (1, 2),
    }
    after = _visits(engine)
    assert after["S00001"].status == "done" and after["S00002"].status == "done"
    assert after["S00003"].status == "open"
    # a contact outside the visit task (a retention call) is not a visit
    with session_scope(engine) as session:
        three = visits["S00003"]
        actor = _actor(session, three.assignee_id or 0)
        record_call(
            session,
            actor,
            CallIn(
                subscriber_id="S00003",
                channel="outbound_call",
                outcomes=[OutcomeIn(outcome="connected")],
            ),
            tz=TZ,
        )
    assert _rates(engine, director)["visit_coverage"] == (2, 4)
    # the agent's own view: their visits only
    agent = people["agent"]
    mine = sum(1 for t in visits.values() if t.assignee_id == agent)
    assert _rates(engine, agent)["visit_coverage"][1] == mine
