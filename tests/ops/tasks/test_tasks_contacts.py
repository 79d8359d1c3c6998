"""Tasks, the unified view, contacts, acceptance with cross-channel closure, scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from api_helpers import login
from customer_fixtures import SNAPSHOT, decision, publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.ops.appraisal.board import team_board
from weiwan.ops.consents.service import Statement, record_statements
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.contacts.state import contact_state
from weiwan.ops.customers.service import find_customer
from weiwan.ops.handover.service import hand_over
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import AuditEvent, User
from weiwan.ops.tasks.listing import TaskFilters, count_tasks
from weiwan.ops.tasks.models import CustomerAssignment, Task
from weiwan.ops.tasks.objections import OBJECTION_REASON
from weiwan.ops.tasks.service import TaskSpec, assign_customers, create_tasks, tasks_from_decisions

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=TZ).isoformat()
#: an outbound call to S00002 in the morning that nobody answered: the day's cap is then used
UNANSWERED = {
    "subscriber_id": "S00002",
    "channel": "outbound_call",
    "outcomes": [{"outcome": "not_reached"}],
    "at": MORNING,
}
RULES = {
    "channels": {
        "outbound_call": {
            "caps": {"day": 1, "week": 2},
            "quiet_hours": {"start": "21:00", "end": "09:00"},
        },
        "sms": {"caps": {"day": 1}},
        "store": {"inbound": True},
        "hotline": {"inbound": True},
        "self_service": {"inbound": True},
    },
    "cross_channel_caps": {"day": 2},
    "cool_off_days": 7,
}


@pytest.fixture
def world(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> dict[str, object]:
    """Ten customers of the city branch; S00001–S00003 managed by ``agent``."""
    ids = publish_customers(engine, branches["city"], 10)
    publish_rules(engine, RULES)
    with session_scope(engine) as session:
        for sid in ids[:3]:
            session.add(
                CustomerAssignment(
                    subscriber_id=sid, kind="retention_manager", user_id=people["agent"]
                )
            )
    return {"ids": ids}


def _tasks(engine: Engine, **where: object) -> list[Task]:
    with session_scope(engine) as session:
        query = select(Task)
        for name, value in where.items():
            query = query.where(getattr(Task, name) == value)
        return list(session.scalars(query.order_by(Task.id)))


def test_decisions_become_tasks_once_and_are_routed(
    engine: Engine, world: dict[str, object], people: dict[str, int], branches: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        session.add_all(
            [
                decision("S00001", "outbound_call"),  # retention manager → agent
                decision("S00004", "outbound_call"),  # no manager → queue
                decision("S00005", "sms"),  # no person needed
                decision("S00006", "store"),
                decision("S00007", "outbound_call", holdout=True),
                decision("S00008", "outbound_call", action=False),
            ]
        )
    with session_scope(engine) as session:
        assert tasks_from_decisions(session, SNAPSHOT, TZ) == 3
    with session_scope(engine) as session:
        assert tasks_from_decisions(session, SNAPSHOT, TZ) == 0  # re-run: nothing new
    tasks = {t.subscriber_id: t for t in _tasks(engine)}
    assert set(tasks) == {"S00001", "S00004", "S00006"}
    assert tasks["S00001"].assignee_id == people["agent"]
    assert tasks["S00004"].assignee_id is None and tasks["S00004"].branch_id == branches["city"]
    assert tasks["S00006"].channel == "store" and tasks["S00006"].assignee_id is None


def test_an_objection_to_automated_decisions_cancels_their_open_tasks(
    engine: Engine, world: dict[str, object]
) -> None:
    """Article 24 PIPL: once a customer objects to automated decisions, the open tasks a
    computer chose for them (the day's decisions, campaigns, alerts) are cancelled, a person's
    own task stays, and the hand-over of a day published before the objection makes none."""
    said = datetime.now(UTC) - timedelta(minutes=5)

    def objection(sid: str, state: str = "objection", at: datetime = said) -> Statement:
        return Statement(sid, "automated_decision", "all", state, "agent", at)

    with session_scope(engine) as session:
        session.add_all([decision(sid, "outbound_call") for sid in ("S00001", "S00002")])
        create_tasks(
            session,
            [
                TaskSpec(subscriber_id=sid, source=source, origin=f"{source}:1", channel="store")
                for sid in ("S00001", "S00002", "S00003")
                for source in ("campaign", "alert", "manual")
            ],
        )
    with session_scope(engine) as session:
        # S00002 objects after the daily run read the ledger, before the hand-over
        recorded = record_statements(session, [objection("S00002")], recorded_by=None)
        assert recorded.tasks_cancelled == 2  # its campaign and alert tasks
    assert hand_over(engine, SNAPSHOT, tz=TZ)["tasks"] == 1  # S00001's only
    with session_scope(engine) as session:
        # S00001 objects once its tasks exist; S00003's objection is older than its consent
        recorded = record_statements(
            session,
            [
                objection("S00001"),
                objection("S00003", at=said - timedelta(days=1)),
                objection("S00003", "consent"),
            ],
            recorded_by=None,
        )
        assert recorded.tasks_cancelled == 3  # S00001's decision, campaign and alert tasks
    by_status: dict[tuple[str, str], str] = {
        (t.subscriber_id, t.source): t.status for t in _tasks(engine)
    }
    for sid in ("S00001", "S00002"):
        assert by_status[(sid, "manual")] == "open"
        assert by_status[(sid, "campaign")] == by_status[(sid, "alert")] == "cancelled"
    assert by_status[("S00001", "decision")] == "cancelled"
    assert ("S00002", "decision") not in by_status
    assert {by_status[("S00003", s)] for s in ("campaign", "alert", "manual")} == {"open"}
    cancelled = _tasks(engine, status="cancelled")
    assert {t.closed_reason for t in cancelled} == {OBJECTION_REASON}
    assert all(t.closed_at is not None for t in cancelled)


def test_a_customer_meets_one_agent_per_channel(
    engine: Engine, world: dict[str, object], people: dict[str, int]
) -> None:
    """A second open outbound task of a customer (a campaign's, after the decision's) goes to
    the agent already holding the first, not to whoever the routing would pick."""
    with session_scope(engine) as session:
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id=sid,
                    source="manual",
                    origin="first",
                    channel="outbound_call",
                    assignee_id=people["agent2"],
                )
                for sid in ("S00001", "S00004")
            ],
        )
        create_tasks(
            session,
            [
                TaskSpec(subscriber_id=sid, source="campaign", origin="c:1", channel=channel)
                for sid in ("S00001", "S00004", "S00005")
                for channel in ("outbound_call", "store")
            ],
        )
    second = {(t.subscriber_id, t.channel): t.assignee_id for t in _tasks(engine, origin="c:1")}
    assert second[("S00001", "outbound_call")] == people["agent2"]  # not the manager, agent
    assert second[("S00004", "outbound_call")] == people["agent2"]  # not the queue
    assert second[("S00005", "outbound_call")] is None  # nobody holds one: the queue
    assert second[("S00001", "store")] is None  # another channel: routed as usual


def test_a_task_is_never_overdue_when_made_and_both_screens_count_alike(
    engine: Engine, world: dict[str, object], people: dict[str, int]
) -> None:
    """Deadlines end the centre's local day, counted from the day the task is made (not the
    data's snapshot, not UTC); the workbench and the team board count due today and overdue
    with one definition, which never overlap."""
    made = datetime(2026, 11, 25, 14, 11, tzinfo=TZ)  # a hand-over in the afternoon
    with session_scope(engine) as session:
        session.add(decision("S00001", "outbound_call"))
    with session_scope(engine) as session:
        assert tasks_from_decisions(session, SNAPSHOT, TZ, made) == 1
    (task,) = _tasks(engine)
    assert task.due_at is not None
    due = task.due_at.astimezone(TZ)
    assert due == datetime(2026, 11, 28, 23, 59, 59, tzinfo=TZ)  # 3 days after the 25th
    with session_scope(engine) as session:
        agent = people["agent"]
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id=sid,
                    source="manual",
                    origin=f"m:{sid}",
                    channel="account_manager_call",
                    due_at=at,
                    assignee_id=agent,
                )
                for sid, at in (
                    ("S00002", datetime(2026, 11, 25, 23, 59, 59, tzinfo=TZ)),  # tonight
                    ("S00003", datetime(2026, 11, 25, 9, 0, tzinfo=TZ)),  # this morning
                    ("S00004", datetime(2026, 11, 24, 18, 0, tzinfo=TZ)),  # yesterday
                )
            ],
        )
    with session_scope(engine) as session:
        counts, _ = count_tasks(
            session,
            actor_for(session, session.get_one(User, agent)),
            TaskFilters(view="mine"),
            TZ,
            made,
        )
        lead = actor_for(session, session.get_one(User, people["lead"]))
        (row,) = [r for r in team_board(session, lead, made.date(), TZ, made) if r.user_id == agent]
    assert (counts.due_today, counts.overdue) == (1, 2)
    assert (row.due_today, row.overdue) == (counts.due_today, counts.overdue)


def test_high_value_customers_go_to_their_account_manager(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    publish_customers(engine, branches["city"], 4, account_manager="Agent2", value_tier="diamond")
    with session_scope(engine) as session:
        counts = assign_customers(session)
        assert counts["account_manager"] == 4
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001", source="manual", origin="m:1", channel="outbound_call"
                )
            ],
        )
    (task,) = _tasks(engine)
    assert task.assignee_id == people["agent2"]


def test_arrivals_get_an_outbound_and_a_retention_manager_spread_over_agents(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    publish_customers(engine, branches["city"], 6, lifecycle_stage="onboarding")
    with session_scope(engine) as session:
        counts = assign_customers(session)
    assert counts["outbound_manager"] == counts["retention_manager"] == 6
    with session_scope(engine) as session:
        query = select(CustomerAssignment.user_id, func.count()).group_by(
            CustomerAssignment.user_id
        )
        loads = {user: count for user, count in session.execute(query)}
        assert assign_customers(session) == {
            "account_manager": 0,
            "retention_manager": 0,
            "outbound_manager": 0,
        }
    assert set(loads) == {people["agent"], people["agent2"]}  # the city branch's agents
    assert loads[people["agent"]] == loads[people["agent2"]] == 6


def test_an_agent_sees_only_own_customers_and_numbers_are_masked(
    app: FastAPI, engine: Engine, world: dict[str, object]
) -> None:
    agent = login(app, "agent")
    card = agent.get("/api/v1/customers/S00001")
    assert card.status_code == 200
    assert card.json()["customer"]["msisdn"] == "138****0001"
    assert [p["policy_id"] for p in card.json()["policies"]] == ["care_call", "data10", "keep168"]
    assert agent.get("/api/v1/customers/S00004").status_code == 404  # not theirs
    assert agent.get("/api/v1/customers/S99999").status_code == 404  # missing: same answer
    assert login(app, "outsider").get("/api/v1/customers/S00001").status_code == 404
    assert login(app, "agent2").get("/api/v1/customers/S00001").status_code == 404
    lead = login(app, "lead").get("/api/v1/customers/S00001")
    assert lead.status_code == 200  # the team's customer
    clerk = login(app, "clerk").get(
        "/api/v1/screen-pop", params={"phone": "13800000004", "channel": "store"}
    )
    assert clerk.status_code == 200 and clerk.json()["customer"]["msisdn"] == "13800000004"
    with session_scope(engine) as session:
        views = session.execute(
            select(AuditEvent.target_type, func.count())
            .where(AuditEvent.action == "pii_view")
            .group_by(AuditEvent.target_type)
        ).all()
    assert dict(views) == {"customer": 3, "customer_lookup": 4}  # the 404s are audited too


def test_acceptance_closes_the_other_channels_tasks_in_one_go(
    app: FastAPI, engine: Engine, world: dict[str, object], people: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001",
                    source="manual",
                    origin="o:1",
                    channel="outbound_call",
                    policy_id="keep168",
                ),
                TaskSpec(
                    subscriber_id="S00001",
                    source="manual",
                    origin="o:1",
                    channel="store",
                    policy_id="keep168",
                ),
                TaskSpec(
                    subscriber_id="S00001",
                    source="manual",
                    origin="o:1",
                    channel="hotline",
                    policy_id="data10",
                ),
            ],
        )
    call, store, hotline = _tasks(engine)
    agent = login(app, "agent")
    body = {
        "subscriber_id": "S00001",
        "channel": "outbound_call",
        "task_id": call.id,
        "outcomes": [{"outcome": "connected"}, {"outcome": "accepted"}],
        "note": "客户同意",
        "at": MORNING,
    }
    result = agent.post("/api/v1/contacts", json=body)
    assert result.status_code == 201, result.text
    assert result.json()["closed_task_ids"] == [store.id]
    by_id = {t.id: t for t in _tasks(engine)}
    assert by_id[call.id].status == "done"
    assert by_id[store.id].status == "closed" and "outbound_call" in (
        by_id[store.id].closed_reason or ""
    )
    assert by_id[hotline.id].status == "open"  # another policy stays open
    offered = [p["policy_id"] for p in agent.get("/api/v1/customers/S00001").json()["policies"]]
    assert offered == ["care_call", "data10"]  # the accepted offer is withdrawn everywhere
    clerk = login(app, "clerk")
    again = clerk.post(
        "/api/v1/contacts",
        json={
            "subscriber_id": "S00001",
            "channel": "store",
            "outcomes": [{"outcome": "accepted", "policy_id": "keep168"}],
            "at": MORNING,
        },
    )
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]
    pop = clerk.get("/api/v1/screen-pop", params={"phone": "13800000001"}).json()
    assert [t["task_id"] for t in pop["open_tasks"]] == [hotline.id]
    assert pop["acceptances"][0]["channel"] == "outbound_call"
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Acceptance)) == 1


def test_a_call_over_a_contact_rule_is_recorded_flagged_and_audited(
    app: FastAPI, engine: Engine, world: dict[str, object]
) -> None:
    """The rules govern the outreach: a call that took place is recorded with its outcomes
    (nothing the agent typed is lost), the rule it went over kept and audited."""
    agent = login(app, "agent")
    first = UNANSWERED
    assert agent.post("/api/v1/contacts", json=first).status_code == 201
    answered = {**first, "outcomes": [{"outcome": "connected"}], "note": "客户回电，已沟通"}
    second = agent.post("/api/v1/contacts", json=answered)
    assert second.status_code == 201, second.text
    body = second.json()
    assert body["contact"]["status"] == "sent" and body["contact"]["over_rule"] == "cap_day"
    assert [o["outcome"] for o in body["outcomes"]] == ["connected"]
    assert body["contact"]["note"] == "客户回电，已沟通"
    night = {
        **first,
        "subscriber_id": "S00003",
        "at": datetime(2026, 11, 24, 22, 30, tzinfo=TZ).isoformat(),
    }
    quiet = agent.post("/api/v1/contacts", json=night)
    assert quiet.status_code == 201 and quiet.json()["contact"]["over_rule"] == "quiet_hours"
    assert quiet.json()["next_allowed_at"].startswith("2026-11-25T09:00")
    with session_scope(engine) as session:
        rows = session.execute(select(Contact.status, Contact.over_rule).order_by(Contact.id))
        assert [tuple(r) for r in rows] == [
            ("sent", None),
            ("sent", "cap_day"),
            ("sent", "quiet_hours"),
        ]
        audited = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "contact_over_rule")
        ).all()
    assert len(audited) == 2 and '"rule": "cap_day"' in (audited[0] or "")


def test_the_contact_state_says_before_the_call_whether_and_when(
    app: FastAPI, engine: Engine, world: dict[str, object], people: dict[str, int]
) -> None:
    """今日已接触 1/1，下次 11/25 09:00: the standing the card shows before anyone calls."""
    agent = login(app, "agent")
    first = UNANSWERED
    assert agent.post("/api/v1/contacts", json=first).status_code == 201
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=TZ)
    with session_scope(engine) as session:
        actor = actor_for(session, session.get_one(User, people["agent"]))
        states = {
            s.channel: s
            for s in contact_state(
                session,
                find_customer(session, actor, "S00002"),
                ["outbound_call", "sms"],
                tz=TZ,
                now=noon,
            )
        }
        customer = find_customer(session, actor, "S00003")
        other = contact_state(session, customer, ["outbound_call"], tz=TZ, now=noon)
    call = states["outbound_call"]
    assert (call.used["day"], call.caps["day"], call.used["week"], call.caps["week"]) == (
        1,
        1,
        1,
        2,
    )
    assert not call.verdict.allowed and call.verdict.reason == "cap_day"
    assert call.next_allowed_at == datetime(2026, 11, 25, 9, 0, tzinfo=TZ)  # after quiet hours
    assert states["sms"].verdict.allowed and states["sms"].used["day"] == 0
    assert other[0].verdict.allowed and other[0].next_allowed_at is None
    listed = agent.get("/api/v1/customers/S00002/contact-state")
    assert listed.status_code == 200
    assert {s["channel"] for s in listed.json()} >= {"outbound_call", "sms", "store"}
    assert login(app, "outsider").get("/api/v1/customers/S00002/contact-state").status_code == 404


def test_a_recorded_refusal_starts_the_cool_off(app: FastAPI, world: dict[str, object]) -> None:
    agent = login(app, "agent")
    refused = {
        "subscriber_id": "S00002",
        "channel": "outbound_call",
        "outcomes": [{"outcome": "connected"}, {"outcome": "refused", "refusal_reason": "不需要"}],
        "at": MORNING,
    }
    assert agent.post("/api/v1/contacts", json=refused).status_code == 201
    sms_later = {
        "subscriber_id": "S00002",
        "channel": "sms",
        "at": datetime(2026, 11, 27, 10, tzinfo=TZ).isoformat(),
    }
    later = agent.post("/api/v1/contacts", json=sms_later)
    assert later.status_code == 201 and later.json()["contact"]["over_rule"] == "cool_off"
    after = {**sms_later, "at": datetime(2026, 12, 30, 10, tzinfo=TZ).isoformat()}
    assert agent.post("/api/v1/contacts", json=after).json()["contact"]["over_rule"] is None


@pytest.mark.parametrize(
    ("outcomes", "field"),
    [
        ([{"outcome": "refused"}], "refusal_reason"),
        ([{"outcome": "call_back"}], "call_back_at"),
        ([{"outcome": "not_reached"}, {"outcome": "accepted"}], "not_reached"),
        ([{"outcome": "bogus"}], "outcome"),
    ],
)
def test_bad_outcomes_are_422_with_a_message(
    app: FastAPI, world: dict[str, object], outcomes: list[dict[str, str]], field: str
) -> None:
    response = login(app, "agent").post(
        "/api/v1/contacts",
        json={
            "subscriber_id": "S00001",
            "channel": "outbound_call",
            "outcomes": outcomes,
            "at": MORNING,
        },
    )
    assert response.status_code == 422
    assert field in response.text


def test_accepting_a_policy_the_customer_may_not_get_is_refused(
    app: FastAPI, engine: Engine, world: dict[str, object]
) -> None:
    response = login(app, "agent").post(
        "/api/v1/contacts",
        json={
            "subscriber_id": "S00001",
            "channel": "outbound_call",
            "outcomes": [{"outcome": "accepted", "policy_id": "vip999"}],
            "at": MORNING,
        },
    )
    assert response.status_code == 422 and response.json()["field"] == "policy_id"
    with session_scope(engine) as session:  # nothing half-written
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_transfer_keeps_history_and_claim_takes_from_the_queue(
    app: FastAPI,
    engine: Engine,
    world: dict[str, object],
    people: dict[str, int],
    branches: dict[str, int],
) -> None:
    with session_scope(engine) as session:
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001", source="manual", origin="t:1", channel="outbound_call"
                ),
                TaskSpec(
                    subscriber_id="S00005", source="manual", origin="t:1", channel="outbound_call"
                ),
            ],
        )
    mine, queued = _tasks(engine)
    agent = login(app, "agent")
    assert (
        agent.post(
            f"/api/v1/tasks/{queued.id}/transfer", json={"to_user_id": people["agent2"]}
        ).status_code
        == 403
    )
    claimed = agent.post(f"/api/v1/tasks/{queued.id}/claim")
    assert claimed.status_code == 200 and claimed.json()["assignee_id"] == people["agent"]
    moved = agent.post(
        f"/api/v1/tasks/{mine.id}/transfer",
        json={"to_branch_id": branches["rural_a"], "to_channel": "store", "reason": "客户去营业厅"},
    )
    assert moved.status_code == 200 and moved.json()["assignee_id"] is None
    history = login(app, "head").get(f"/api/v1/tasks/{mine.id}/transfers").json()
    assert [(h["from_channel"], h["to_channel"]) for h in history] == [("outbound_call", "store")]
    assert agent.get(f"/api/v1/tasks/{mine.id}").status_code == 404  # no longer theirs
    mine_now = agent.get("/api/v1/tasks", params={"view": "mine"}).json()
    assert [t["id"] for t in mine_now] == [queued.id]
    assert login(app, "outsider").get(f"/api/v1/tasks/{queued.id}").status_code == 404


def test_do_not_disturb_blocks_proactive_contacts_until_lifted(
    app: FastAPI, engine: Engine, world: dict[str, object]
) -> None:
    agent = login(app, "agent")
    wish = agent.post(
        "/api/v1/customers/S00001/do-not-disturb", json={"channel": "all", "reason": "客户要求"}
    )
    assert wish.status_code == 201
    call = {"subscriber_id": "S00001", "channel": "sms", "at": MORNING}
    over = agent.post("/api/v1/contacts", json=call)
    assert over.status_code == 201 and over.json()["contact"]["over_rule"] == "dnd"
    visit = {**call, "channel": "store", "outcomes": [{"outcome": "connected"}]}
    store = login(app, "clerk").post("/api/v1/contacts", json=visit)
    assert store.status_code == 201 and store.json()["contact"]["over_rule"] is None
    assert agent.get("/api/v1/customers/S00001").json()["do_not_disturb"] == ["all"]
    assert agent.delete("/api/v1/customers/S00001/do-not-disturb/all").status_code == 403
    assert (
        login(app, "lead").delete("/api/v1/customers/S00001/do-not-disturb/all").status_code == 204
    )
    next_day = datetime(2026, 11, 25, 10, tzinfo=TZ).isoformat()
    lifted = agent.post("/api/v1/contacts", json={**call, "at": next_day})
    assert lifted.status_code == 201 and lifted.json()["contact"]["over_rule"] is None
    assert (
        agent.post("/api/v1/customers/S00004/do-not-disturb", json={"channel": "sms"}).status_code
        == 404
    )
