"""The seeded state of the access matrix (tests/ops/cross/test_access_matrix.py).

One organisation (the ``branches``/``people`` fixtures' shape: a city branch with two rural
sub-branches and a team, another city branch, one user per role), a few published customers
and policies, tasks, a contact, a questionnaire, an SMS template and one campaign in each
state a route acts on. Every object is in the city branch and belongs to (or is worked by) the
city agent, so it is inside the scope of every city role: a role refused a route is refused
for its role, not for its scope. Built through the services where they exist, so the state is
one the product can reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from httpx import Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from anomaly_fixtures import pool_entry
from api_helpers import PASSWORD, PEOPLE, login
from customer_fixtures import customer, policy
from event_fixtures import seed_event, seed_event_token
from strategy_fixtures import seed_strategies
from weiwan.core.db import session_scope
from weiwan.ops.campaigns.schemas import CampaignCreate
from weiwan.ops.contacts.models import Contact
from weiwan.ops.org.access import Actor, actor_for
from weiwan.ops.org.models import Branch, Team, User
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user
from weiwan.ops.reports.models import PeriodReport
from weiwan.ops.tasks.listing import list_tasks
from weiwan.ops.tasks.models import CustomerAssignment
from weiwan.ops.tasks.service import TaskSpec, create_tasks

#: the settings' default time zone (campaign schedules and contact times are local)
TZ = ZoneInfo("Asia/Shanghai")
#: customers of the city branch; the first five are managed by the city agent
CITY_CUSTOMERS = [f"S{n:05d}" for n in range(1, 11)]
OTHER_CUSTOMERS = ["S00011", "S00012"]
MANAGED = CITY_CUSTOMERS[:5]
POLICIES = ("keep168", "data10", "care_call")
#: the plans' targets: every published customer of the plan's branch is high risk
TARGETS = {"field": "risk_band", "op": "=", "value": "high"}
#: the campaign states the routes act on, in the order a plan goes through them
STATES = (
    "draft",
    "rehearsed",
    "submitted",
    "submitted_level2",
    "approved",
    "running",
    "completed",
)
QUESTIONNAIRE: dict[str, Any] = {
    "title_zh": "满意度回访",
    "questions": [
        {
            "kind": "single",
            "text_zh": "您对网络满意吗？",
            "options": [
                {"value": "yes", "label_zh": "满意"},
                {"value": "no", "label_zh": "不满意"},
            ],
        },
        {"kind": "open", "text_zh": "其他意见", "required": False},
    ],
}
#: a customer's do-not-disturb wishes (S00005 asked not to be called)
DND = "/customers/{subscriber_id}/do-not-disturb"
DND_CUSTOMER = "S00005"
DND_WISH = {"channel": "outbound_call", "reason": "客户要求勿扰"}


@dataclass(frozen=True, slots=True)
class Seeded:
    """Ids of the seeded objects the matrix's requests name."""

    today: date
    branches: dict[str, int]
    users: dict[str, int]
    #: an open outbound call of S00001 assigned to the city agent
    task_assigned: int
    #: an open store task of S00002 waiting in the city queue
    task_queued: int
    #: a sent outbound call of S00001 made by the city agent yesterday
    contact: int
    questionnaire: int
    #: the questionnaire's required single-choice question (options yes / no)
    question: int
    template: int
    #: one campaign per state of ``STATES``, all of the city branch, drafted by the analyst
    campaigns: dict[str, int]


def plan(branch_id: int, today: date, name: str) -> CampaignCreate:
    """A valid plan of ``branch_id`` whose schedule runs from yesterday for a month."""
    return CampaignCreate(
        name=name,
        branch_id=branch_id,
        target_filter=TARGETS,
        policy_ids=["keep168"],
        channels=["sms"],  # no staffed channel: starting creates no tasks
        script_zh="您好",
        start_date=today - timedelta(days=1),
        end_date=today + timedelta(days=30),
        holdout_share=0.1,
    )


def _actor(session: Session, users: dict[str, int], username: str) -> Actor:
    user = session.get(User, users[username])
    assert user is not None
    return actor_for(session, user)


def _organisation(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    city = Branch(code="HZ", name_zh="杭州分公司", name_en="Hangzhou")
    other = Branch(code="NB", name_zh="宁波分公司", name_en="Ningbo")
    session.add_all([city, other])
    session.flush()
    rural_a = Branch(code="HZ-CA", name_zh="淳安支局", name_en="Chun'an", parent_id=city.id)
    rural_b = Branch(code="HZ-JD", name_zh="建德支局", name_en="Jiande", parent_id=city.id)
    session.add_all([rural_a, rural_b])
    session.flush()
    team = Team(branch_id=city.id, name="早班")
    session.add(team)
    session.flush()
    branches = {
        "city": city.id,
        "other": other.id,
        "rural_a": rural_a.id,
        "rural_b": rural_b.id,
        "team": team.id,
    }
    users: dict[str, int] = {}
    for username, (role, branch, in_team) in PEOPLE.items():
        user = create_user(
            session,
            UserCreate(
                username=username,
                display_name=username.title(),
                password=PASSWORD,
                role=role,
                branch_id=branches[branch],
                team_id=team.id if in_team else None,
            ),
        )
        users[username] = user.id
    return branches, users


def _ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _campaigns(app: FastAPI, city: int, today: date) -> dict[str, int]:
    """One plan per state, drafted by the analyst; the head submits and approves level 1,
    the director approves level 2 and runs them (the built-in chain)."""
    analyst, head, director = login(app, "analyst"), login(app, "head"), login(app, "director")
    url = "/api/v1/campaigns"
    ids: dict[str, int] = {}
    for state in STATES:
        body = plan(city, today, state).model_dump(mode="json")
        ids[state] = _ok(analyst.post(url, json=body), 201)["id"]
    for state in STATES[1:]:
        _ok(analyst.post(f"{url}/{ids[state]}/rehearse"))
    for state in STATES[2:]:
        _ok(head.post(f"{url}/{ids[state]}/submit"))
    for state in STATES[3:]:
        _ok(head.post(f"{url}/{ids[state]}/approve", json={"comment": "level 1"}))
    for state in STATES[4:]:
        _ok(director.post(f"{url}/{ids[state]}/approve", json={"comment": "level 2"}))
    for state in ("completed", "running"):  # one after the other: no member is skipped
        _ok(director.post(f"{url}/{ids[state]}/start"))
    _ok(director.post(f"{url}/{ids['completed']}/complete"))
    for state, cid in ids.items():
        assert _ok(director.get(f"{url}/{cid}"))["status"] == state.removesuffix("_level2")
    return ids


def _seed_core(engine: Engine, app: FastAPI) -> Seeded:
    """Fill the migrated database behind ``engine`` (served by ``app``): the organisation,
    customers, tasks and a contact directly, the rest through the API as its users would; the
    ids of what it holds."""
    today = datetime.now(TZ).date()
    with session_scope(engine) as session:
        branches, users = _organisation(session)
        city = branches["city"]
        session.add_all(customer(sid, city) for sid in CITY_CUSTOMERS)
        session.add_all(
            customer(sid, branches["other"], region="NB", branch_code="NB")
            for sid in OTHER_CUSTOMERS
        )
        session.add_all(
            policy(
                pid,
                valid_from=today - timedelta(days=300),
                valid_to=today + timedelta(days=400),
            )
            for pid in POLICIES
        )
        session.add_all(
            CustomerAssignment(subscriber_id=sid, kind="retention_manager", user_id=users["agent"])
            for sid in MANAGED
        )
        session.flush()
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001",
                    source="manual",
                    origin="matrix",
                    channel="outbound_call",
                    policy_id="keep168",
                    assignee_id=users["agent"],
                ),
                TaskSpec(
                    subscriber_id="S00002",
                    source="manual",
                    origin="matrix",
                    channel="store",
                    policy_id="keep168",
                ),
            ],
        )
        agent = _actor(session, users, "agent")
        (assigned,) = list_tasks(session, agent, view="mine")
        (queued,) = list_tasks(session, agent, view="queue")
        assert assigned.assignee_id == users["agent"] and queued.assignee_id is None
        contact = Contact(
            subscriber_id="S00001",
            at=datetime.now(TZ) - timedelta(days=1),
            channel="outbound_call",
            status="sent",
            task_id=assigned.id,
            policy_id="keep168",
            user_id=users["agent"],
        )
        session.add(contact)
        session.flush()
        seeded_tasks = (assigned.id, queued.id, contact.id)
    director = login(app, "director")
    questionnaire = _ok(director.post("/api/v1/questionnaires", json=QUESTIONNAIRE), 201)
    template = _ok(
        director.post(
            "/api/v1/sms/templates",
            json={"name": "关怀", "body_zh": "【维挽】尊敬的${name}，感谢您一直以来的支持。"},
        ),
        201,
    )
    if f"/api/v1{DND}" in app.openapi()["paths"]:
        dnd = "/api/v1" + DND.format(subscriber_id=DND_CUSTOMER)
        _ok(login(app, "agent").post(dnd, json=DND_WISH), 201)
    campaign_ids = _campaigns(app, branches["city"], today)
    assigned_id, queued_id, contact_id = seeded_tasks
    return Seeded(
        today=today,
        branches=branches,
        users=users,
        task_assigned=assigned_id,
        task_queued=queued_id,
        contact=contact_id,
        questionnaire=questionnaire["id"],
        question=questionnaire["questions"][0]["id"],
        template=template["id"],
        campaigns=campaign_ids,
    )


# --- data-quality feedback (issue 9) -------------------------------------------------------
#: the one data-quality report the matrix seeds: the city agent's, of S00001 (its id is the
#: table's first; ``test_access_matrix`` names it)
DATA_QUALITY_REPORT_ID = 1


#: the one correction export batch the matrix seeds: a second report of the city agent (a
#: name, no full number), confirmed and exported by the director
DATA_QUALITY_BATCH_ID = 1


def _seed_data_quality(engine: Engine, app: FastAPI, seeded: Seeded) -> None:
    """A data-quality report filed by the city agent, and an export batch of another one."""
    body = {"subscriber_id": "S00001", "field": "plan_id", "reported_value": "TC128"}
    agent = login(app, "agent")
    report = _ok(agent.post("/api/v1/data-quality/reports", json=body), 201)
    assert report["id"] == DATA_QUALITY_REPORT_ID, report
    body = {"subscriber_id": "S00002", "field": "name", "reported_value": "赵六"}
    second = _ok(agent.post("/api/v1/data-quality/reports", json=body), 201)
    director = login(app, "director")
    _ok(director.post(f"/api/v1/data-quality/reports/{second['id']}/confirm", json={}), 200)
    exported = director.post("/api/v1/data-quality/export", params={"field": "name"})
    assert exported.headers["X-Export-Batch"] == str(DATA_QUALITY_BATCH_ID), exported.text


# --- anomaly pool (issue 9) -----------------------------------------------------------------
#: the one pool entry the matrix seeds: new, of S00001 (city branch, managed by the city agent),
#: the table's first row (``test_access_matrix`` names it)
ANOMALY_ID = 1


def _seed_anomalies(engine: Engine, app: FastAPI, seeded: Seeded) -> None:
    """A new anomaly-pool entry of S00001."""
    with session_scope(engine) as session:
        entry = pool_entry("S00001", seeded.branches["city"])
        session.add(entry)
        session.flush()
        assert entry.id == ANOMALY_ID, entry.id


# --- targets and appraisal (issue 9) -------------------------------------------------------
def appraisal_week(today: date) -> str:
    """The ISO week of ``today`` (the city agent's seeded plan), e.g. ``2026-W48``."""
    year, week, _day = today.isocalendar()
    return f"{year}-W{week:02d}"


def _seed_appraisal(engine: Engine, app: FastAPI, seeded: Seeded) -> None:
    """The city agent's weekly plan of this week."""
    body = {"goals": "回访高价值客户", "target_customers": 10}
    path = f"/api/v1/appraisal/weekly-plans/{appraisal_week(seeded.today)}"
    _ok(login(app, "agent").put(path, json=body))


# --- period reports and the churn analysis report (issue 9) ---------------------------------
#: published documents the matrix reads: the week and the month's churn analysis report, each
#: for the whole operator (``*``) and for the city branch (``HZ``, the centre head's)
REPORT_WEEK, REPORT_MONTH = "2026-W44", "2026-10"


def _seed_period_reports(engine: Engine, app: FastAPI, seeded: Seeded) -> None:
    """Published week and churn analysis documents."""
    periods = (
        ("week", REPORT_WEEK, date(2026, 10, 26), date(2026, 11, 1)),
        ("churn", REPORT_MONTH, date(2026, 10, 1), date(2026, 10, 31)),
    )
    with session_scope(engine) as session:
        for kind, key, start, last_day in periods:
            for scope, branch_id in (("*", None), ("HZ", seeded.branches["city"])):
                session.add(
                    PeriodReport(
                        kind=kind,
                        key=key,
                        scope=scope,
                        branch_id=branch_id,
                        start=start,
                        last_day=last_day,
                        snapshot_date=date(2026, 11, 1),
                        published_at=datetime.now(UTC),
                        document=json.dumps({"kind": kind, "key": key, "scope": scope}),
                    )
                )


def seed(engine: Engine, app: FastAPI) -> Seeded:
    """The whole seeded state: the core above plus each retention-management part's rows."""
    seeded = _seed_core(engine, app)
    for part in (_seed_data_quality, _seed_anomalies, _seed_appraisal, _seed_period_reports):
        part(engine, app, seeded)
    seed_strategies(engine)  # champion–challenger (issue 19)
    seed_event_token(engine)  # real-time events (issue 20): a source and one event of S00001
    seed_event(engine, "seeded-1", "S00001")
    return seeded
