"""The campaign pages: plan form with the live count, rehearse, submit, approve from the
queue, start, complete, evaluate, plan library and clone; roles; zh/en; exports."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from api_helpers import login
from campaign_fixtures import publish
from web.page_helpers import page_login
from web.team_fixtures import table_rows, workbook_rows
from weiwan.core.db import session_scope
from weiwan.ops.campaigns.evaluation import evaluation_figures
from weiwan.ops.campaigns.models import Campaign, CampaignMember, CampaignTransition
from weiwan.ops.contacts.models import Acceptance, Contact
from weiwan.ops.customers.models import CustomerView, Publication
from weiwan.ops.customers.tags import TAG_LABELS_DOCUMENT, forget_tag_labels
from weiwan.ops.offers.models import PublishedLimitPrice
from weiwan.ops.org.models import ConfigDocument
from weiwan.web import formatting
from weiwan.web.i18n import use_locale

pytestmark = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)

FILTER_FORM = {
    "filter_combine": "all",
    "filter_field": ["risk_band", "tag"],
    "filter_op": ["in", "="],
    "filter_value": ["high, medium", "usage_drop"],
}
FILTER = {
    "all": [
        {"field": "risk_band", "op": "in", "value": ["high", "medium"]},
        {"tag": "usage_drop"},
    ]
}


def _today(app: FastAPI) -> Any:
    return datetime.now(ZoneInfo(app.state.settings.timezone)).date()


def _plan_form(app: FastAPI, branch_id: int, name: str = "Q4 挽留") -> dict[str, Any]:
    today = _today(app)
    return {
        "name": name,
        "branch_id": str(branch_id),
        **FILTER_FORM,
        "policy_ids": ["keep168", "data10"],
        "channels": ["outbound_call", "sms"],
        "script_zh": "您好",
        "script_en": "Hello",
        "holdout_share": "20",
        "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=20)).isoformat(),
    }


def _kpi(html: str, key: str) -> str:
    match = re.search(
        rf'data-kpi="{key}">.*?<div class="fs-4 fw-semibold">(.*?)\s*</div>', html, re.S
    )
    assert match, key
    return match.group(1).strip()


def _state(engine: Engine, campaign_id: int) -> str:
    with session_scope(engine) as session:
        found = session.get(Campaign, campaign_id)
        assert found is not None
        return found.status


def _create_through_form(app: FastAPI, client: TestClient, branch_id: int) -> int:
    response = client.post("/campaigns/new", data=_plan_form(app, branch_id))
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/campaigns/(\d+)", response.headers["location"])
    assert match
    return int(match.group(1))


def _htmx(client: TestClient, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, data=data or {}, headers={"HX-Request": "true"})


def test_plan_rehearse_submit_and_approve_from_the_queue(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    publish(engine, branches)
    login(app, "admin").put(
        "/api/v1/campaigns/approval-chain", json={"branch_id": None, "roles": ["director"]}
    ).raise_for_status()
    head = page_login(app, "head", language="en")
    form = head.get("/campaigns/new")
    assert form.status_code == 200
    assert 'hx-post="/campaigns/preview-count"' in form.text
    for internal in ("branch_code", "branch_id", "model_version", "snapshot_date"):
        assert f'<option value="{internal}"' not in form.text  # not offered to planners
    assert '<option value="risk_band"' in form.text

    # the live count equals the API's targeting
    live = head.post(
        "/campaigns/preview-count", data={**FILTER_FORM, "branch_id": str(branches["city"])}
    )
    shown = re.search(r'data-count="(\d+)"', live.text)
    assert shown
    api = login(app, "head").post(
        "/api/v1/campaigns/preview-count", json={"filter": FILTER, "branch_id": branches["city"]}
    )
    assert int(shown.group(1)) == api.json()["count"] > 0
    # the builder takes the names the reader sees (风险等级 = 高, 中), in either language
    for values in ("高，中", "High, medium", "high、medium"):
        named = page_login(app, "head").post(
            "/campaigns/preview-count",
            data={
                **FILTER_FORM,
                "filter_value": [values, "usage_drop"],
                "branch_id": str(branches["city"]),
            },
        )
        found = re.search(r'data-count="(\d+)"', named.text)
        assert found and int(found.group(1)) == int(shown.group(1)), values
    # value pickers: each coded field offers its choices by name; tags by their names too
    zh_form = page_login(app, "head").get("/campaigns/new").text
    risk = zh_form.split('<datalist id="choices-risk_band">', 1)[1].split("</datalist>", 1)[0]
    assert '<option value="高">' in risk and "high" not in risk
    with session_scope(engine) as session:
        session.add(
            ConfigDocument(
                name=TAG_LABELS_DOCUMENT,
                content=json.dumps({"usage_drop": ["用量下滑", "Usage drop"]}),
            )
        )
    forget_tag_labels()
    named_tag = page_login(app, "head").post(
        "/campaigns/preview-count",
        data={**FILTER_FORM, "filter_value": ["high, medium", "用量下滑"],
              "branch_id": str(branches["city"])},
    )  # fmt: skip
    by_name = re.search(r'data-count="(\d+)"', named_tag.text)
    assert by_name and int(by_name.group(1)) == int(shown.group(1))
    tags = page_login(app, "head").get("/campaigns/new").text
    assert '<datalist id="choices-tag"><option value="用量下滑">' in tags
    unknown = page_login(app, "head").post(
        "/campaigns/preview-count",
        data={**FILTER_FORM, "filter_value": ["特高", "usage_drop"]},
    )
    assert "“特高”不在可选值中：高、中、低" in unknown.text
    bad = head.post(
        "/campaigns/preview-count",
        data={
            **FILTER_FORM,
            "filter_value": ["high", "x"],
            "filter_field": ["age", "tag"],
            "filter_op": ["=", "="],
        },
    )
    assert 'id="live-count-problem"' in bad.text

    campaign_id = _create_through_form(app, head, branches["city"])
    with session_scope(engine) as session:
        stored = session.get(Campaign, campaign_id)
        assert stored is not None and stored.status == "draft"
        assert stored.created_by == people["head"]
        assert stored.holdout_share == pytest.approx(0.2)
    assert (
        login(app, "head").get(f"/api/v1/campaigns/{campaign_id}").json()["target_filter"] == FILTER
    )

    done = _htmx(head, f"/campaigns/{campaign_id}/rehearse")
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/campaigns/{campaign_id}"
    assert _state(engine, campaign_id) == "rehearsed"
    page = head.get(f"/campaigns/{campaign_id}")
    rehearsal = login(app, "head").get(f"/api/v1/campaigns/{campaign_id}").json()["rehearsal"]
    with use_locale("en"):
        assert _kpi(page.text, "target_count") == formatting.format_number(
            rehearsal["target_count"]
        )
        assert _kpi(page.text, "expected_cost") == formatting.format_money(
            rehearsal["expected"]["cost"]
        )
    assert rehearsal["target_count"] == api.json()["count"]
    history = page.text[page.text.index('id="campaign-history"') :]  # the system's note in words
    with use_locale("en"):
        count = formatting.format_number(rehearsal["target_count"])
    assert f"{count} target customers" in history
    load = table_rows(page.text, "rehearsal-load")
    assert len(load) == len(rehearsal["load"])
    assert 'hx-indicator="#progress"' in page.text and "hx-disabled-elt" in page.text

    assert _htmx(head, f"/campaigns/{campaign_id}/submit").status_code == 204
    assert _state(engine, campaign_id) == "submitted"

    # neither an agent nor the analyst may approve; the head (creator, not the level) neither
    for username in ("agent", "analyst"):
        other = page_login(app, username)
        assert other.get("/campaigns/approvals").status_code == 403
        assert other.post(f"/campaigns/{campaign_id}/approve", data={}).status_code == 403
    assert head.post(f"/campaigns/{campaign_id}/approve", data={}).status_code == 403
    assert _state(engine, campaign_id) == "submitted"

    director = page_login(app, "director", language="en")
    queue = director.get("/campaigns/approvals")
    assert queue.status_code == 200
    assert [int(r["id"]) for r in table_rows(queue.text, "approval-queue")] == [campaign_id]
    assert f'id="approve-{campaign_id}"' in queue.text
    approved = director.post(
        f"/campaigns/{campaign_id}/approve",
        data={"comment": "go", "next": "/campaigns/approvals"},
    )
    assert approved.status_code == 303 and approved.headers["location"] == "/campaigns/approvals"
    assert _state(engine, campaign_id) == "approved"
    with session_scope(engine) as session:
        last = session.scalars(
            select(CampaignTransition)
            .where(CampaignTransition.campaign_id == campaign_id)
            .order_by(CampaignTransition.id.desc())
        ).first()
        assert last is not None
        assert (last.user_id, last.to_status, last.comment) == (
            people["director"],
            "approved",
            "go",
        )
    assert table_rows(director.get("/campaigns/approvals").text, "approval-queue") == []


def _approved_campaign(app: FastAPI, engine: Engine, branches: dict[str, int]) -> int:
    publish(engine, branches)
    login(app, "admin").put(
        "/api/v1/campaigns/approval-chain", json={"branch_id": None, "roles": ["director"]}
    ).raise_for_status()
    head = page_login(app, "head")
    campaign_id = _create_through_form(app, head, branches["city"])
    for action in ("rehearse", "submit"):
        assert _htmx(head, f"/campaigns/{campaign_id}/{action}").status_code == 204
    director = page_login(app, "director")
    assert director.post(f"/campaigns/{campaign_id}/approve", data={}).status_code == 303
    return campaign_id


def test_run_evaluate_library_and_clone(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    campaign_id = _approved_campaign(app, engine, branches)
    head = page_login(app, "head", language="en")
    assert _htmx(head, f"/campaigns/{campaign_id}/start").status_code == 204
    assert _state(engine, campaign_id) == "running"
    with session_scope(engine) as session:
        members = session.execute(
            select(CampaignMember.subscriber_id, CampaignMember.arm)
            .where(CampaignMember.campaign_id == campaign_id)
            .order_by(CampaignMember.subscriber_id)
        ).all()
        treated = [s for s, arm in members if arm == "treated"]
        holdout = [s for s, arm in members if arm == "holdout"]
        assert treated and holdout
        for n, subscriber in enumerate(treated[:4]):
            contact = Contact(
                subscriber_id=subscriber,
                channel="outbound_call",
                status="sent",
                campaign_id=campaign_id,
                user_id=people["agent"],
            )
            session.add(contact)
            session.flush()
            if n < 2:
                session.add(
                    Acceptance(
                        subscriber_id=subscriber,
                        policy_id="keep168",
                        campaign_id=campaign_id,
                        contact_id=contact.id,
                        channel="outbound_call",
                        user_id=people["agent"],
                        status="active",
                        cost=120.0,
                    )
                )
        gone = treated[4:6] + holdout[:3]
        session.execute(
            update(CustomerView)
            .where(CustomerView.subscriber_id.in_(gone))
            .values(status="churned")
        )
    running = head.get(f"/campaigns/{campaign_id}")
    assert 'id="monitor"' in running.text
    assert re.search(
        r'data-monitor="treated">.*?fs-4 fw-semibold">' + str(len(treated)), running.text, re.S
    )

    assert _htmx(head, f"/campaigns/{campaign_id}/complete").status_code == 204
    assert _htmx(head, f"/campaigns/{campaign_id}/evaluate").status_code == 204
    assert _state(engine, campaign_id) == "evaluated"
    with session_scope(engine) as session:
        figures = evaluation_figures(session, campaign_id)
    page = head.get(f"/campaigns/{campaign_id}")
    with use_locale("en"):
        assert _kpi(page.text, "retention_uplift") == formatting.format_percent(
            figures["retention_uplift"]
        )
        assert _kpi(page.text, "incremental_saves") == formatting.format_number(
            figures["incremental_saves"]
        )  # people: whole
        assert _kpi(page.text, "cost") == formatting.format_money(figures["cost"]) == "CN¥240"
        assert _kpi(page.text, "roi") == formatting.format_percent(figures["roi"])
        assert _kpi(page.text, "marketing_success_rate") == formatting.format_percent(0.5)
        assert _kpi(page.text, "participation_rate") == formatting.format_percent(4 / len(treated))
    # the bars are labelled as percentages, never a raw share like 0.9243951612903226
    treated_rate = figures["arms"]["treated"]["retention_rate"]
    assert (
        f'"formatter": "{formatting.format_percent(treated_rate)}"'
        in page.text.replace("&#34;", '"')
        or f'"formatter":"{formatting.format_percent(treated_rate)}"' in page.text
    )
    assert repr(treated_rate) not in page.text or treated_rate in (0.0, 1.0)
    # the data date as the locale writes it; data from before the start says it cannot tell yet
    day = date.fromisoformat(figures["snapshot_date"])
    with use_locale("en"):
        assert f"data of {formatting.format_date(day)}" in page.text
    with session_scope(engine) as session:
        started = session.get(Campaign, campaign_id).started_at  # type: ignore[union-attr]
    assert started is not None
    early = 'id="evaluation-too-early"' in page.text
    if abs((started.date() - day).days) > 1:  # a day apart: the centre's zone may decide
        assert early == (day < started.date())
    arms = table_rows(page.text, "evaluation-arms")
    assert [int(r["members"]) for r in arms] == [len(treated), len(holdout)]
    assert [int(r["retained"]) for r in arms] == [
        figures["arms"]["treated"]["retained"],
        figures["arms"]["holdout"]["retained"],
    ]
    book = workbook_rows(
        head.get(f"/campaigns/{campaign_id}?export=xlsx&table=evaluation-arms").content
    )
    assert [r[1] for r in book[1:]] == [len(treated), len(holdout)]

    # the plan library, its export and clone
    library = head.get("/campaigns/library")
    rows = table_rows(library.text, "plan-library")
    assert [int(r["id"]) for r in rows] == [campaign_id]
    exported = workbook_rows(head.get("/campaigns/library?export=xlsx").content)
    assert [r[0] for r in exported[1:]] == [campaign_id]
    assert exported[1][9] == pytest.approx(figures["incremental_saves"])
    cloned = _htmx(head, f"/campaigns/{campaign_id}/clone")
    assert cloned.status_code == 204
    match = re.fullmatch(r"/campaigns/(\d+)/edit", cloned.headers["HX-Redirect"])
    assert match
    copy_id = int(match.group(1))
    with session_scope(engine) as session:
        copy = session.get(Campaign, copy_id)
        assert copy is not None
        assert (copy.status, copy.cloned_from, copy.start_date) == ("draft", campaign_id, None)
    edit = head.get(f"/campaigns/{copy_id}/edit")
    assert edit.status_code == 200 and 'value="usage_drop"' in edit.text


def test_lists_texts_exports_and_roles(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    publish(engine, branches)
    head_en = page_login(app, "head", language="en")
    first = _create_through_form(app, head_en, branches["city"])
    second = _create_through_form(app, head_en, branches["rural_a"])
    listing = head_en.get("/campaigns")
    rows = table_rows(listing.text, "campaigns")
    assert [int(r["id"]) for r in rows] == [second, first]
    assert {r["status"] for r in rows} == {"Draft"}
    book = workbook_rows(head_en.get("/campaigns?export=xlsx").content)
    assert book[0][:3] == ["No.", "Plan name", "State"]
    assert [[r[0], r[1], r[2]] for r in book[1:]] == [
        [int(r["id"]), r["name"], r["status"]] for r in rows
    ]

    head_zh = page_login(app, "head")
    zh = head_zh.get(f"/campaigns/{first}")
    assert "草稿" in zh.text and "预演" in zh.text and "目标客户筛选条件" in zh.text
    assert "营销活动" in head_zh.get("/campaigns").text
    en = head_en.get(f"/campaigns/{first}")
    assert "Rehearse" in en.text and "Target filter" in en.text

    # the form refuses what the service refuses, and says why
    bad = head_en.post(
        "/campaigns/new", data={**_plan_form(app, branches["city"]), "policy_ids": ["nope"]}
    )
    assert bad.status_code == 422 and 'id="plan-problem"' in bad.text and "nope" in bad.text
    # an agent sees no drafts and cannot plan
    agent = page_login(app, "agent")
    assert agent.get(f"/campaigns/{first}").status_code == 404
    assert agent.get("/campaigns/new").status_code == 403
    assert agent.post("/campaigns/new", data=_plan_form(app, branches["city"])).status_code == 403
    # an agent of another branch does not see it either
    assert page_login(app, "outsider").get(f"/campaigns/{second}").status_code == 404
    # editing goes through the service: a rehearsed plan goes back to draft
    assert _htmx(head_en, f"/campaigns/{first}/rehearse").status_code == 204
    edited = head_en.post(
        f"/campaigns/{first}/edit", data=_plan_form(app, branches["city"], "renamed")
    )
    assert edited.status_code == 303
    with session_scope(engine) as session:
        plan = session.get(Campaign, first)
        assert plan is not None and (plan.name, plan.status, plan.rehearsal) == (
            "renamed",
            "draft",
            None,
        )
    history = head_en.get(f"/campaigns/{first}").text.split('id="campaign-history"')[1]
    assert "Edited; back to draft" in history


def test_two_level_chain_shows_where_it_stands(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    """Built-in chain: centre head, then director. The analyst drafts and rehearses, the head
    submits and approves level 1, the director rejects level 2 with a comment."""
    publish(engine, branches)
    analyst = page_login(app, "analyst", language="en")
    campaign_id = _create_through_form(app, analyst, branches["city"])
    assert _htmx(analyst, f"/campaigns/{campaign_id}/rehearse").status_code == 204
    assert "action-submit" not in analyst.get(f"/campaigns/{campaign_id}").text
    assert _htmx(analyst, f"/campaigns/{campaign_id}/submit").status_code == 403

    head = page_login(app, "head", language="en")
    assert _htmx(head, f"/campaigns/{campaign_id}/submit").status_code == 204
    queue = head.get("/campaigns/approvals")
    assert [int(r["id"]) for r in table_rows(queue.text, "approval-queue")] == [campaign_id]
    assert (
        table_rows(page_login(app, "director").get("/campaigns/approvals").text, "approval-queue")
        == []
    )
    assert head.post(f"/campaigns/{campaign_id}/approve", data={"comment": "ok"}).status_code == 303
    assert _state(engine, campaign_id) == "submitted"
    page = head.get(f"/campaigns/{campaign_id}")
    states = re.findall(r'data-level="(\d)" data-step-state="(\w+)"', page.text)
    assert states == [("1", "approved"), ("2", "waiting")]
    assert table_rows(head.get("/campaigns/approvals").text, "approval-queue") == []

    director = page_login(app, "director", language="en")
    assert 'id="action-reject"' in director.get(f"/campaigns/{campaign_id}").text
    assert (
        director.post(f"/campaigns/{campaign_id}/reject", data={"comment": ""}).status_code == 422
    )
    zh = page_login(app, "director")
    silent = _htmx(zh, f"/campaigns/{campaign_id}/reject", {"comment": " "})
    assert silent.status_code == 422 and silent.headers["HX-Retarget"] == "#messages"
    assert "驳回时请在意见中写明原因" in silent.text and "comment:" not in silent.text
    assert _state(engine, campaign_id) == "submitted"
    rejected = _htmx(director, f"/campaigns/{campaign_id}/reject", {"comment": "too costly"})
    assert rejected.status_code == 204
    assert _state(engine, campaign_id) == "rejected"
    states = re.findall(
        r'data-level="(\d)" data-step-state="(\w+)"', director.get(f"/campaigns/{campaign_id}").text
    )
    assert states == [("1", "approved"), ("2", "rejected")]


def test_unavailable_actions_say_why_and_refusals_reach_the_page_translated(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    """A plan without dates cannot be rehearsed, an approved plan not started before its start
    date: the buttons are disabled with the reason beside them, and a request sent anyway is
    answered with the reason in the reader's language, retargeted to the page's messages."""
    campaign_id = _approved_campaign(app, engine, branches)
    later = _today(app) + timedelta(days=3)
    with session_scope(engine) as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(start_date=later, end_date=later + timedelta(days=10))
        )
    head = page_login(app, "head")
    page = head.get(f"/campaigns/{campaign_id}")
    assert re.search(r'id="action-start" type="button" disabled', page.text)
    assert "起可启动" in page.text
    refused = _htmx(head, f"/campaigns/{campaign_id}/start")
    assert refused.status_code == 409
    assert refused.headers["HX-Retarget"] == "#messages"
    assert "当天起才能启动" in refused.text and "scheduled to start" not in refused.text
    assert _state(engine, campaign_id) == "approved"
    draft = page_login(app, "head", language="en").post(
        "/campaigns/new",
        data={**_plan_form(app, branches["city"]), "start_date": "", "end_date": ""},
    )
    assert draft.status_code == 303
    draft_id = int(draft.headers["location"].rsplit("/", 1)[1])
    shown = page_login(app, "head", language="en").get(f"/campaigns/{draft_id}")
    assert re.search(r'id="action-rehearse" type="button" disabled', shown.text)
    assert "Give the plan a start and an end date first" in shown.text
    rehearse = _htmx(head, f"/campaigns/{draft_id}/rehearse")
    assert rehearse.status_code == 422 and "请先为计划填写开始日期" in rehearse.text
    assert "start_date:" not in rehearse.text


def test_the_rehearsal_reads_in_the_readers_words_and_prices_the_limits_it_uses(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    """The rehearsal's warnings and contact-rule reasons are stored as codes and shown in the
    page's language; the limits the plan uses are priced at the latest decided day's shadow
    prices (and exported with the page)."""
    publish(engine, branches)
    decided = date(2026, 11, 30)
    rules = {"channels": {"outbound_call": {"caps": {"week": 1}, "capacity": {"per_day": 1}}}}
    with session_scope(engine) as session:
        session.add(ConfigDocument(name="contact_rules", content=json.dumps(rules)))
        session.add(Publication(kind="decisions", snapshot_date=decided, rows=1))
        session.add(
            PublishedLimitPrice(
                snapshot_date=decided, limit_kind="channel", limit_name="outbound_call", yuan=7.25
            )
        )
        targets = session.scalars(select(CustomerView.subscriber_id)).all()
        yesterday = datetime.now(ZoneInfo("UTC")) - timedelta(days=1)
        session.add_all(
            Contact(subscriber_id=s, at=yesterday, channel="outbound_call", status="sent")
            for s in targets
        )
    head = page_login(app, "head")
    campaign_id = _create_through_form(app, head, branches["city"])
    assert _htmx(head, f"/campaigns/{campaign_id}/rehearse").status_code == 204
    rehearsal = login(app, "head").get(f"/api/v1/campaigns/{campaign_id}").json()["rehearsal"]
    assert rehearsal["contact_conflicts"]["blocked"].get("cap_week", 0) > 0
    days = (_today(app) + timedelta(days=20) - _today(app)).days + 1

    zh = head.get(f"/campaigns/{campaign_id}").text
    warnings = zh[zh.index('id="rehearsal-warnings"') :].split("</div>", 1)[0]
    assert f"外呼：计划工作量有 {days} 天超出产能" in warnings
    assert "exceeds" not in warnings
    assert [r["reason"] for r in table_rows(zh, "rehearsal-conflicts")] == ["已达每周上限"]
    priced = {r["limit"]: r for r in table_rows(zh, "rehearsal-opportunity")}
    call = priced["外呼产能"]
    assert call["price"] == "7.25"
    treated = rehearsal["treated"]
    with use_locale("zh-CN"):
        assert call["taken"] == formatting.format_money(7.25 * treated)
    assert priced["短信产能"]["price"] == "—"  # SMS capacity did not bind
    # each policy twice, by its name: one more grant and one more yuan of its budget
    budgets = [r["limit"] for r in table_rows(zh, "rehearsal-opportunity")][2:]
    assert budgets == ["政策keep168预算"] * 2 + ["政策data10预算"] * 2

    en = page_login(app, "head", language="en").get(f"/campaigns/{campaign_id}").text
    assert f"Outbound call: the planned load exceeds the capacity on {days} day(s)" in en
    assert "shadow prices of" in en
    exported = head.get(
        f"/campaigns/{campaign_id}", params={"export": "xlsx", "table": "rehearsal-opportunity"}
    )
    assert exported.status_code == 200
    assert any("外呼产能" in str(cell) for row in workbook_rows(exported.content) for cell in row)
