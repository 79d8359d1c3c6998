"""Campaigns through the API: plan → rehearse → submit → approve ×2 → start → complete →
evaluate, rejection, illegal transitions, roles and scope, clone, approval chains."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select, update

from api_helpers import PASSWORD, login
from campaign_fixtures import POLICIES, publish
from weiwan.core.db import session_scope
from weiwan.ops.campaigns.execution import treated_members
from weiwan.ops.campaigns.models import Campaign, CampaignMember
from weiwan.ops.campaigns.rehearsal import UPLIFT, in_holdout
from weiwan.ops.consents.service import Statement, record_statements
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.customers.models import CustomerView, Publication
from weiwan.ops.offers.models import PublishedLimitPrice
from weiwan.ops.org.models import AuditEvent, ConfigDocument
from weiwan.ops.org.roles import Role
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user
from weiwan.ops.tasks.models import Task

API = "/api/v1/campaigns"
#: the plans' targets: customers of the city tree at some risk
FILTER: dict[str, Any] = {
    "all": [
        {"field": "churn_probability", "op": ">=", "value": 0.05},
        {"not": {"field": "value_tier", "op": "=", "value": "mass"}},
    ]
}


@pytest.fixture
def world(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> dict[str, Any]:
    """Customers and policies, plus a centre head of the other city branch."""
    rows = publish(engine, branches)
    with session_scope(engine) as session:
        create_user(
            session,
            UserCreate(
                username="head_nb",
                display_name="Head NB",
                password=PASSWORD,
                role=Role.CENTRE_HEAD,
                branch_id=branches["other"],
            ),
        )
    return {"rows": rows, "branches": branches, "people": people}


def _today(app: FastAPI) -> date:
    return datetime.now(ZoneInfo(app.state.settings.timezone)).date()


def _plan(app: FastAPI, branches: dict[str, int], **overrides: Any) -> dict[str, Any]:
    start = _today(app)
    body: dict[str, Any] = {
        "name": "高危客户挽留",
        "description": "high-risk customers of the city",
        "branch_id": branches["city"],
        "target_filter": FILTER,
        "policy_ids": ["keep168", "data10"],
        "channels": ["outbound_call", "sms"],
        "script_zh": "您好",
        "script_en": "Hello",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=13)).isoformat(),
        "holdout_share": 0.2,
        "questionnaire_id": 7,
    }
    body.update(overrides)
    return body


def _create(client: TestClient, body: dict[str, Any]) -> int:
    response = client.post(API, json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _ok(response: Any, status: str | None = None) -> Any:
    assert response.status_code in (200, 201), response.text
    body = response.json()
    if status is not None:
        assert body["status"] == status
    return body


def _targets(world: dict[str, Any]) -> list[dict[str, Any]]:
    b = world["branches"]
    tree = {b["city"], b["rural_a"], b["rural_b"]}
    return [
        r
        for r in world["rows"]
        if r["branch_id"] in tree and r["churn_probability"] >= 0.05 and r["value_tier"] != "mass"
    ]


def _approved(app: FastAPI, world: dict[str, Any], **overrides: Any) -> int:
    """A plan drafted by the analyst, submitted by the head, approved by head and director."""
    analyst, head, director = login(app, "analyst"), login(app, "head"), login(app, "director")
    cid = _create(analyst, _plan(app, world["branches"], **overrides))
    _ok(analyst.post(f"{API}/{cid}/rehearse"), "rehearsed")
    _ok(head.post(f"{API}/{cid}/submit"), "submitted")
    _ok(head.post(f"{API}/{cid}/approve", json={"comment": "ok"}), "submitted")
    _ok(director.post(f"{API}/{cid}/approve"), "approved")
    return cid


def test_full_happy_path(app: FastAPI, engine: Engine, world: dict[str, Any]) -> None:
    publish_rules = {
        "channels": {"outbound_call": {"caps": {"week": 1}, "capacity": {"per_day": 5}}}
    }
    targets = _targets(world)
    ids = sorted(r["subscriber_id"] for r in targets)
    called = ids[:20]  # contacted yesterday: the weekly cap blocks them at the start
    with session_scope(engine) as session:
        session.add(ConfigDocument(name="contact_rules", content=json.dumps(publish_rules)))
        yesterday = datetime.now(ZoneInfo("UTC")) - timedelta(days=1)
        session.add_all(
            Contact(subscriber_id=s, at=yesterday, channel="outbound_call", status="sent")
            for s in called
        )

    analyst, head, director = login(app, "analyst"), login(app, "head"), login(app, "director")
    cid = _create(analyst, _plan(app, world["branches"]))

    # rehearsal: exact count, contact conflicts, expected cost and saves, load vs capacity
    rehearsal = _ok(analyst.post(f"{API}/{cid}/rehearse"), "rehearsed")["rehearsal"]
    treated = [r for r in targets if not in_holdout(cid, r["subscriber_id"], 0.2)]
    assert rehearsal["target_count"] == len(targets)
    assert rehearsal["sample_size"] == len(targets)
    assert rehearsal["treated"] == len(treated)
    assert rehearsal["overlap_running"] == 0
    blocked = sum(1 for r in treated if r["subscriber_id"] in called)
    assert rehearsal["contact_conflicts"]["blocked"] == {"cap_week": blocked}
    take = 1 - (1 - 0.12) * (1 - 0.03)
    uplift = (UPLIFT["discount"] + UPLIFT["bonus_data"]) / 2
    mean_cost = (POLICIES["keep168"]["total_cost"] + POLICIES["data10"]["total_cost"]) / 2
    assert rehearsal["expected"]["cost"] == pytest.approx(len(treated) * take * mean_cost, 0.01)
    saves = sum(r["churn_probability"] for r in treated) * uplift
    assert rehearsal["expected"]["saves"] == pytest.approx(saves, abs=0.01)
    outbound = [d for d in rehearsal["load"] if d["channel"] == "outbound_call"]
    assert len(outbound) == 14
    assert outbound[0]["capacity"] == 5
    assert outbound[0]["load"] == pytest.approx(len(treated) / 14, abs=0.1)
    assert all(d["over"] for d in outbound)
    over = [w for w in rehearsal["warnings"] if w["code"] == "over_capacity"]
    assert over == [
        {
            "code": "over_capacity",
            "channel": "outbound_call",
            "days": 14,
            "message": "outbound_call: planned load exceeds capacity on 14 day(s)",
        }
    ]
    # no decisions published yet: no limit has a price, the plan takes nothing measurable
    assert rehearsal["opportunity"]["decided_on"] is None
    assert rehearsal["opportunity"]["taken"] == 0

    # the analyst may not submit; the head submits, head and director approve
    assert analyst.post(f"{API}/{cid}/submit").status_code == 403
    submitted = _ok(head.post(f"{API}/{cid}/submit"), "submitted")
    assert submitted["approval_chain"] == ["centre_head", "director"]
    assert submitted["approval_level"] == 1
    assert director.post(f"{API}/{cid}/approve").status_code == 403  # level 1 is the head's
    assert _ok(head.post(f"{API}/{cid}/approve"), "submitted")["approval_level"] == 2
    _ok(director.post(f"{API}/{cid}/approve", json={"comment": "go"}), "approved")

    # start: members by hash, tasks for the treated in the staffed channel only
    started = _ok(head.post(f"{API}/{cid}/start"), "running")
    summary = started["start_summary"]
    assert summary["members"] == len(targets)
    assert summary["treated"] == len(treated)
    assert summary["skipped_running"] == 0
    assert abs(summary["holdout"] / summary["members"] - 0.2) < 0.08
    with session_scope(engine) as session:
        tasks = session.execute(
            select(Task.subscriber_id, Task.channel, Task.due_at).where(Task.campaign_id == cid)
        ).all()
        arms = dict(
            session.execute(
                select(CampaignMember.subscriber_id, CampaignMember.arm).where(
                    CampaignMember.campaign_id == cid
                )
            ).all()
        )
    treated_ids = {s for s, arm in arms.items() if arm == "treated"}
    assert treated_ids == {r["subscriber_id"] for r in treated}
    assert {s for s, _, _ in tasks} == treated_ids
    assert {c for _, c, _ in tasks} == {"outbound_call"}
    assert len(tasks) == len(treated_ids) == summary["tasks_created"]
    assert treated_members is not None
    # starting twice: 409 and no new tasks
    assert head.post(f"{API}/{cid}/start").status_code == 409
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).where(Task.campaign_id == cid)) == len(tasks)
        assert treated_members(session, cid) == sorted(treated_ids)

    # running: agents of the branch see it read-only, the other branch's agent does not
    agent = login(app, "agent")
    assert [c["id"] for c in agent.get(API).json()] == [cid]
    assert agent.post(f"{API}/{cid}/complete").status_code == 403
    assert login(app, "outsider").get(API).json() == []
    members = _ok(head.get(f"{API}/{cid}/members"))
    assert members["treated"] == len(treated_ids)
    assert members["tasks"] == {"open": len(tasks)}

    # a second plan over the same customers sees the overlap
    other = _create(analyst, _plan(app, world["branches"], name="second"))
    overlap = _ok(analyst.post(f"{API}/{other}/rehearse"))["rehearsal"]["overlap_running"]
    assert overlap == len(targets)

    # complete: open tasks expire
    _ok(head.post(f"{API}/{cid}/complete"), "completed")
    with session_scope(engine) as session:
        statuses = set(session.scalars(select(Task.status).where(Task.campaign_id == cid)))
    assert statuses == {"expired"}

    # construct the outcome: who left, who was contacted, who accepted
    t = sorted(treated_ids)
    h = sorted(s for s, arm in arms.items() if arm == "holdout")
    left_h = h[: len(h) // 2]
    with session_scope(engine) as session:
        session.execute(
            delete(CustomerView).where(CustomerView.subscriber_id.in_([t[0], t[1], *left_h]))
        )
        session.execute(
            update(CustomerView)
            .where(CustomerView.subscriber_id == t[2])
            .values(status="disconnected")
        )
        contacts = {}
        for s in t[:10]:
            contact = Contact(
                subscriber_id=s, channel="outbound_call", status="sent", campaign_id=cid
            )
            session.add(contact)
            contacts[s] = contact
        session.add(
            Contact(subscriber_id=t[10], channel="outbound_call", status="blocked", campaign_id=cid)
        )
        session.flush()
        for s in t[:4]:
            session.add(
                Acceptance(
                    subscriber_id=s,
                    policy_id="keep168",
                    campaign_id=cid,
                    contact_id=contacts[s].id,
                    channel="outbound_call",
                    status="active",
                    cost=100.0,
                )
            )
        session.add(
            Acceptance(
                subscriber_id=t[4],
                policy_id="data10",
                campaign_id=cid,
                contact_id=contacts[t[4]].id,
                channel="outbound_call",
                status="cancelled",
                cost=999.0,
            )
        )

    evaluation = _ok(head.post(f"{API}/{cid}/evaluate"), "evaluated")["evaluation"]
    n_t, n_h = len(t), len(h)
    rate_t = (n_t - 3) / n_t
    rate_h = (n_h - len(left_h)) / n_h
    saves = (rate_t - rate_h) * n_t
    by_id = {r["subscriber_id"]: r for r in world["rows"]}
    mean_value = sum(by_id[s]["future_value"] for s in t) / n_t
    assert evaluation["arms"]["treated"]["retention_rate"] == pytest.approx(rate_t)
    assert evaluation["arms"]["holdout"]["retention_rate"] == pytest.approx(rate_h)
    assert evaluation["incremental_saves"] == pytest.approx(saves)
    assert evaluation["cost"] == pytest.approx(400.0)
    assert evaluation["value_saved"] == pytest.approx(saves * mean_value)
    assert evaluation["roi"] == pytest.approx((saves * mean_value - 400.0) / 400.0)
    assert evaluation["marketing_success_rate"] == pytest.approx(4 / 10)
    assert evaluation["participation_rate"] == pytest.approx(10 / n_t)
    assert evaluation["holdout_contacted"] == 0

    # the plan library shows it; approvals were audited
    library = _ok(director.get(f"{API}/library"))
    assert [c["id"] for c in library] == [cid]
    assert library[0]["evaluation"]["cost"] == pytest.approx(400.0)
    detail = _ok(director.get(f"{API}/{cid}"))
    assert [e["to_status"] for e in detail["history"]] == [
        "draft",
        "rehearsed",
        "submitted",
        "submitted",
        "approved",
        "running",
        "completed",
        "evaluated",
    ]
    with session_scope(engine) as session:
        approvals = session.scalar(
            select(func.count()).where(
                AuditEvent.action == "approval", AuditEvent.target_id == str(cid)
            )
        )
    assert approvals == 2


def test_rejection_and_edit_back_to_draft(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    analyst, head = login(app, "analyst"), login(app, "head")
    cid = _create(analyst, _plan(app, world["branches"]))
    _ok(analyst.post(f"{API}/{cid}/rehearse"))
    _ok(head.post(f"{API}/{cid}/submit"), "submitted")
    assert head.post(f"{API}/{cid}/reject", json={}).status_code == 422  # a reason is required
    rejected = _ok(head.post(f"{API}/{cid}/reject", json={"comment": "too costly"}), "rejected")
    assert rejected["approval_level"] is None
    assert head.post(f"{API}/{cid}/submit").status_code == 409
    edited = _ok(analyst.patch(f"{API}/{cid}", json={"holdout_share": 0.3}), "draft")
    assert edited["rehearsal"] is None and edited["holdout_share"] == 0.3
    history = _ok(head.get(f"{API}/{cid}"))["history"]
    assert history[-2]["to_status"] == "rejected" and history[-2]["comment"] == "too costly"
    # editing a rehearsed plan also sends it back to draft
    _ok(analyst.post(f"{API}/{cid}/rehearse"), "rehearsed")
    _ok(analyst.patch(f"{API}/{cid}", json={"name": "renamed"}), "draft")
    with session_scope(engine) as session:
        detail = session.scalar(
            select(AuditEvent.detail).where(
                AuditEvent.action == "approval", AuditEvent.target_id == str(cid)
            )
        )
    assert detail is not None and json.loads(detail)["decision"] == "rejected"


def test_illegal_transitions_are_409(app: FastAPI, world: dict[str, Any]) -> None:
    head, director = login(app, "head"), login(app, "director")
    cid = _create(head, _plan(app, world["branches"]))
    assert head.post(f"{API}/{cid}/submit").status_code == 409  # not rehearsed
    assert director.post(f"{API}/{cid}/approve").status_code == 409
    assert head.post(f"{API}/{cid}/start").status_code == 409
    assert head.post(f"{API}/{cid}/complete").status_code == 409
    assert head.post(f"{API}/{cid}/evaluate").status_code == 409
    approved = _approved(app, world)
    assert login(app, "analyst").patch(f"{API}/{approved}", json={"name": "x"}).status_code == 409
    assert head.post(f"{API}/{approved}/rehearse").status_code == 409
    assert head.post(f"{API}/{approved}/evaluate").status_code == 409


def test_start_before_schedule_is_409(app: FastAPI, world: dict[str, Any]) -> None:
    later = _today(app) + timedelta(days=3)
    cid = _approved(
        app,
        world,
        start_date=later.isoformat(),
        end_date=(later + timedelta(days=5)).isoformat(),
    )
    response = login(app, "head").post(f"{API}/{cid}/start")
    assert response.status_code == 409 and "scheduled to start" in response.json()["detail"]


def test_roles_and_scope(app: FastAPI, world: dict[str, Any]) -> None:
    branches = world["branches"]
    agent, head, director = login(app, "agent"), login(app, "head"), login(app, "director")
    assert agent.post(API, json=_plan(app, branches)).status_code == 403
    assert login(app, "admin").post(API, json=_plan(app, branches)).status_code == 403
    # a centre head plans only for the branches they see
    assert head.post(API, json=_plan(app, branches, branch_id=branches["other"])).status_code == 403
    cid = _create(head, _plan(app, branches))
    _ok(head.post(f"{API}/{cid}/rehearse"))
    _ok(head.post(f"{API}/{cid}/submit"))
    assert agent.post(f"{API}/{cid}/approve").status_code == 403  # agents may not approve
    assert head.post(f"{API}/{cid}/approve").status_code == 403  # the creator may not
    # the other city's head does not even see the plan
    head_nb = login(app, "head_nb")
    assert head_nb.post(f"{API}/{cid}/approve").status_code == 404
    assert head_nb.get(f"{API}/{cid}").status_code == 404
    assert [c["id"] for c in head_nb.get(API).json()] == []
    assert agent.get(f"{API}/{cid}").status_code == 404  # agents see running campaigns only
    assert [c["id"] for c in director.get(API).json()] == [cid]
    assert director.post(f"{API}/{cid}/approve").status_code == 403  # level 1 is the head's


def test_validation_errors_are_422_with_fields(app: FastAPI, world: dict[str, Any]) -> None:
    branches = world["branches"]
    head = login(app, "head")

    def field_of(**overrides: Any) -> Any:
        response = head.post(API, json=_plan(app, branches, **overrides))
        assert response.status_code == 422, response.text
        body = response.json()
        return body.get("field") or body["detail"][0]["loc"][-1]

    assert field_of(policy_ids=["nope"]) == "policy_ids"
    assert field_of(holdout_share=0.6) == "holdout_share"
    assert field_of(holdout_share=0) == "holdout_share"
    assert field_of(channels=["pigeon"]) == 0
    end_before = field_of(end_date=(_today(app) - timedelta(days=1)).isoformat())
    assert end_before in ("body", "end_date")
    assert (
        field_of(target_filter={"all": [{"tag": "a"}, {"field": "nope", "op": "=", "value": 1}]})
        == "target_filter.all[1].field"
    )
    assert field_of(branch_id=999_999) == "branch_id"
    cid = _create(head, _plan(app, branches))
    response = head.patch(f"{API}/{cid}", json={"end_date": "2020-01-01"})
    assert response.status_code == 422 and response.json()["field"] == "end_date"


def test_clone_and_library(app: FastAPI, engine: Engine, world: dict[str, Any]) -> None:
    head, director = login(app, "head"), login(app, "director")
    cid = _approved(app, world)
    _ok(head.post(f"{API}/{cid}/start"))
    _ok(head.post(f"{API}/{cid}/complete"))
    assert [c["id"] for c in _ok(head.get(f"{API}/library"))] == [cid]
    copy = _ok(head.post(f"{API}/{cid}/clone"), "draft")
    original = _ok(head.get(f"{API}/{cid}"))
    assert copy["name"] == original["name"] + " (copy)"
    assert copy["cloned_from"] == cid and copy["created_by"] == world["people"]["head"]
    for key in ("target_filter", "policy_ids", "channels", "script_zh", "holdout_share"):
        assert copy[key] == original[key]
    assert copy["questionnaire_id"] == 7
    assert copy["start_date"] is None and copy["end_date"] is None
    # a new schedule is needed before rehearsal (and so before submission)
    response = head.post(f"{API}/{copy['id']}/rehearse")
    assert response.status_code == 422 and response.json()["field"] == "start_date"
    start = _today(app)
    schedule = {
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=7)).isoformat(),
    }
    _ok(head.patch(f"{API}/{copy['id']}", json=schedule), "draft")
    _ok(head.post(f"{API}/{copy['id']}/rehearse"), "rehearsed")
    assert login(app, "agent").post(f"{API}/{cid}/clone").status_code == 404
    assert director.get(f"{API}/library").json()[0]["id"] == cid


def test_approval_chain_configuration(app: FastAPI, engine: Engine, world: dict[str, Any]) -> None:
    branches = world["branches"]
    admin, head, director = login(app, "admin"), login(app, "head"), login(app, "director")
    default = _ok(admin.get(f"{API}/approval-chain"))
    assert default["source"] == "built_in" and default["roles"] == ["centre_head", "director"]
    chain_url = f"{API}/approval-chain"
    assert head.put(chain_url, json={"roles": ["centre_head"]}).status_code == 403
    bad = admin.put(chain_url, json={"branch_id": branches["city"], "roles": ["director", "agent"]})
    assert bad.status_code == 422 and bad.json()["field"] == "roles[1]"
    city = _ok(admin.put(chain_url, json={"branch_id": branches["city"], "roles": ["centre_head"]}))
    assert city["source"] == "branch" and city["roles"] == ["centre_head"]
    rural = _ok(director.get(chain_url, params={"branch_id": branches["rural_a"]}))
    assert rural["source"] == "parent" and rural["configured_for"] == branches["city"]
    assert _ok(director.get(chain_url, params={"branch_id": branches["other"]}))["source"] == (
        "built_in"
    )
    with session_scope(engine) as session:
        changes = session.scalar(
            select(func.count()).where(
                AuditEvent.action == "config_change", AuditEvent.target_type == "approval_chain"
            )
        )
    assert changes == 1
    # a city plan now needs the centre head only
    analyst = login(app, "analyst")
    cid = _create(analyst, _plan(app, branches))
    _ok(analyst.post(f"{API}/{cid}/rehearse"))
    assert _ok(head.post(f"{API}/{cid}/submit"))["approval_chain"] == ["centre_head"]
    _ok(head.post(f"{API}/{cid}/approve"), "approved")
    # removing the branch chain falls back to the built-in one
    assert _ok(admin.put(chain_url, json={"branch_id": branches["city"], "roles": []}))[
        "source"
    ] == ("built_in")


def test_start_skips_members_of_running_campaigns(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    head = login(app, "head")
    first = _approved(
        app, world, target_filter={"field": "churn_probability", "op": ">=", "value": 0.3}
    )
    _ok(head.post(f"{API}/{first}/start"))
    second = _approved(app, world)
    summary = _ok(head.post(f"{API}/{second}/start"))["start_summary"]
    with session_scope(engine) as session:
        in_first = set(
            session.scalars(
                select(CampaignMember.subscriber_id).where(CampaignMember.campaign_id == first)
            )
        )
        in_second = set(
            session.scalars(
                select(CampaignMember.subscriber_id).where(CampaignMember.campaign_id == second)
            )
        )
        statuses = dict(session.execute(select(Campaign.id, Campaign.status)).all())
    expected = {r["subscriber_id"] for r in _targets(world)}
    assert summary["skipped_running"] == len(expected & in_first) > 0
    assert in_second == expected - in_first
    assert statuses[first] == statuses[second] == "running"


def test_objectors_to_automated_decisions_are_left_out(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    """Article 24 PIPL: a campaign's filter picks its targets by computer from their profile,
    so a customer who refuses automated decisions is counted at rehearsal, left out at the
    start, and one who objects after the start gets none of its SMS sends."""
    targets = sorted(r["subscriber_id"] for r in _targets(world))
    said = datetime.now(ZoneInfo("UTC")) - timedelta(hours=1)

    def objects(ids: list[str]) -> None:
        with session_scope(engine) as session:
            statements = [
                Statement(s, "automated_decision", "all", "objection", "crm_import", said)
                for s in ids
            ]
            record_statements(session, statements, recorded_by=None)

    before, after = targets[:3], targets[3:5]
    objects(before)
    analyst, head, director = login(app, "analyst"), login(app, "head"), login(app, "director")
    cid = _create(analyst, _plan(app, world["branches"]))
    rehearsal = _ok(analyst.post(f"{API}/{cid}/rehearse"))["rehearsal"]
    assert rehearsal["objecting_automated"] == len(before)
    assert rehearsal["target_count"] == len(targets) - len(before)
    refusing = [w for w in rehearsal["warnings"] if w["code"] == "refuse_automated"]
    assert [w["count"] for w in refusing] == [len(before)]
    assert "refuse automated decisions" in refusing[0]["message"]
    _ok(head.post(f"{API}/{cid}/submit"))
    _ok(head.post(f"{API}/{cid}/approve"))
    _ok(director.post(f"{API}/{cid}/approve"), "approved")
    summary = _ok(head.post(f"{API}/{cid}/start"))["start_summary"]
    assert summary["skipped_objecting"] == len(before)
    assert summary["members"] == len(targets) - len(before)
    with session_scope(engine) as session:
        members = set(
            session.scalars(
                select(CampaignMember.subscriber_id).where(CampaignMember.campaign_id == cid)
            )
        )
        tasked = set(session.scalars(select(Task.subscriber_id).where(Task.campaign_id == cid)))
    assert members == set(targets) - set(before)
    assert not tasked & set(before)
    assert _ok(head.get(f"{API}/{cid}/members"))["skipped_objecting"] == len(before)
    # objecting after the start: no longer among the treated the campaign's SMS go to
    with session_scope(engine) as session:
        treated = set(treated_members(session, cid))
    late = [s for s in after if s in treated]
    assert late, "a later objector must have been treated for the check to mean anything"
    objects(late)
    with session_scope(engine) as session:
        assert set(treated_members(session, cid)) == treated - set(late)
        statuses = dict(
            session.execute(
                select(Task.subscriber_id, Task.status).where(Task.campaign_id == cid)
            ).all()
        )
    # and their open tasks of the campaign are cancelled; the others' stay open
    assert {statuses[s] for s in late} == {"cancelled"}
    assert "open" in {v for k, v in statuses.items() if k not in late}


def test_the_rehearsal_prices_what_the_plan_takes_from_the_daily_decisions(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    """The shadow prices of the latest decided day (an older day's are ignored) price the
    plan's contacts per channel and its expected grants per policy; limits that did not bind
    are blank."""
    decided, older = date(2026, 11, 30), date(2026, 11, 29)
    with session_scope(engine) as session:
        session.add_all(
            [
                Publication(kind="decisions", snapshot_date=older, rows=10),
                Publication(kind="decisions", snapshot_date=decided, rows=10),
                PublishedLimitPrice(
                    snapshot_date=older, limit_kind="channel", limit_name="sms", yuan=99.0
                ),
                PublishedLimitPrice(
                    snapshot_date=decided,
                    limit_kind="channel",
                    limit_name="outbound_call",
                    yuan=4.5,
                ),
                PublishedLimitPrice(
                    snapshot_date=decided,
                    limit_kind="policy_count",
                    limit_name="keep168",
                    yuan=12.0,
                ),
                PublishedLimitPrice(
                    snapshot_date=decided,
                    limit_kind="policy_money",
                    limit_name="keep168",
                    yuan=0.25,
                ),
            ]
        )
    analyst = login(app, "analyst")
    cid = _create(analyst, _plan(app, world["branches"]))
    rehearsal = _ok(analyst.post(f"{API}/{cid}/rehearse"), "rehearsed")["rehearsal"]
    opportunity = rehearsal["opportunity"]
    assert opportunity["decided_on"] == decided.isoformat()
    treated = rehearsal["treated"]
    channels = {c["channel"]: c for c in opportunity["channels"]}
    call, sms = channels["outbound_call"], channels["sms"]
    assert call["per_contact"] == 4.5 and call["days"] == 14
    assert call["contacts_per_day"] == pytest.approx(treated / 14, abs=0.05)
    assert call["taken"] == pytest.approx(4.5 * treated, rel=1e-3)
    assert sms["per_contact"] is None and sms["taken"] is None  # the older day's price is gone
    policies = {p["policy_id"]: p for p in opportunity["policies"]}
    keep, data = policies["keep168"], policies["data10"]
    grants = rehearsal["expected"]["accepting"] / 2
    assert keep["grants"] == pytest.approx(grants, abs=0.05)
    cost = POLICIES["keep168"]["total_cost"]  # the rehearsal's figures are rounded: 0.05 grant
    assert keep["spend"] == pytest.approx(grants * cost, abs=0.05 * cost)
    assert keep["taken_by_count"] == pytest.approx(12.0 * grants, abs=0.05 * 12)
    assert keep["taken_by_money"] == pytest.approx(0.25 * keep["spend"], abs=0.01)
    assert keep["taken"] == pytest.approx(keep["taken_by_count"] + keep["taken_by_money"])
    assert data["per_grant"] is None and data["per_yuan"] is None and data["taken"] is None
    assert opportunity["taken"] == pytest.approx(call["taken"] + keep["taken"], abs=0.01)
