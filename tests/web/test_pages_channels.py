"""The channel pages: the hotline / store screen-pop by phone number and the self-service
offers, reading and writing the same data as the workbench."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from web.page_helpers import page_login
from web.workbench_fixtures import world_fixture  # noqa: F401
from weiwan.core.db import session_scope
from weiwan.ops.contacts.models import Acceptance
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.tasks.models import Task

HX = {"HX-Request": "true"}
SQLITE = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)


def _statuses(engine: Engine, subscriber_id: str) -> dict[str, str]:
    with session_scope(engine) as session:
        return {
            t.channel: t.status
            for t in session.scalars(select(Task).where(Task.subscriber_id == subscriber_id))
        }


@SQLITE
@pytest.mark.usefixtures("world")
def test_screen_pop_finds_the_caller_and_masks_numbers_by_role(app: FastAPI) -> None:
    clerk = page_login(app, "clerk", "en")
    empty = clerk.get("/screen-pop")
    assert empty.status_code == 200
    assert 'id="phone"' in empty.text and "autofocus" in empty.text and 'type="tel"' in empty.text
    found = clerk.get("/screen-pop", params={"phone": "13800000002"})
    assert found.status_code == 200
    assert 'data-subscriber="S00002"' in found.text
    assert "13800000002" in found.text  # store clerks identify customers in person
    hotline = page_login(app, "hotline", "en").get("/screen-pop", params={"phone": "13800000002"})
    assert "138****0002" in hotline.text and "13800000002" not in hotline.text.replace(
        'value="13800000002"', ""
    )


@SQLITE
@pytest.mark.usefixtures("world")
def test_screen_pop_says_clearly_when_the_number_is_unknown_or_out_of_scope(
    app: FastAPI,
) -> None:
    clerk = page_login(app, "clerk", "en")
    unknown = clerk.get("/screen-pop", params={"phone": "13999999999"})
    assert unknown.status_code == 404
    assert 'id="not-found"' in unknown.text and "No customer with this number" in unknown.text
    assert "customer-card" not in unknown.text
    # an agent sees only the customers they manage
    other = page_login(app, "agent").get("/screen-pop", params={"phone": "13800000004"})
    assert other.status_code == 404 and "您的权限范围内没有该号码的客户" in other.text
    bad = clerk.get("/screen-pop", params={"phone": "12ab"})
    assert bad.status_code == 422 and 'id="not-found"' in bad.text
    for username in ("admin", "analyst"):
        response = page_login(app, username).get("/screen-pop", params={"phone": "13800000002"})
        assert response.status_code == 403


def test_acceptance_in_the_workbench_shows_on_the_screen_pop(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    """On SQLite and PostgreSQL (the card is one statement there)."""
    tasks = world["tasks"]
    pop = page_login(app, "hotline", "en")
    before = pop.get("/screen-pop", params={"phone": "13800000001"})
    assert f'id="task-{tasks[("S00001", "hotline")]}"' in before.text
    response = page_login(app, "agent").post(
        "/customers/S00001/contacts",
        data={
            "task_id": tasks[("S00001", "outbound_call")],
            "outcome": "accepted",
            "policy_id": "keep168",
        },
        headers=HX,
    )
    assert response.status_code == 200 and "已保存" in response.text
    assert _statuses(engine, "S00001") == {
        "outbound_call": "done",
        "store": "closed",
        "hotline": "closed",
    }
    after = pop.get("/screen-pop", params={"phone": "13800000001"})
    for channel in ("store", "hotline"):
        task_id = tasks[("S00001", channel)]
        assert f'id="task-{task_id}"' not in after.text
        assert f'data-task="{task_id}" data-status="closed"' in after.text
    assert 'data-outcome="accepted"' in after.text  # the contact is in the history


@SQLITE
def test_self_service_lists_and_orders_offers(
    app: FastAPI, engine: Engine, world: dict[str, Any]
) -> None:
    clerk = page_login(app, "clerk", "en")
    page = clerk.get("/self-service", params={"q": "13800000001"})
    assert page.status_code == 200
    offered = {"keep168", "data10", "care_call"}
    for policy_id in offered:
        assert f'id="order-{policy_id}"' in page.text
    assert "Hello, an offer for you" in page.text
    # the fixtures' policies are open-ended (published valid_to OPEN_END): no 9999 date shown
    assert "No end date" in page.text and "9999" not in page.text
    assert "长期有效" in page_login(app, "clerk").get("/self-service", params={"q": "S00001"}).text
    assert (
        clerk.get("/self-service", params={"q": "S00001"}).text.count('class="card h-100 offer"')
        == 3
    )
    ordered = clerk.post("/self-service/S00001/orders", data={"policy_id": "keep168"}, headers=HX)
    assert ordered.status_code == 200
    assert 'id="order-message"' in ordered.text and "Ordered" in ordered.text
    assert "3 other open tasks for this offer were closed" in ordered.text
    assert set(_statuses(engine, "S00001").values()) == {"closed"}
    with session_scope(engine) as session:
        channel = session.scalar(
            select(Acceptance.channel).where(Acceptance.policy_id == "keep168")
        )
        assert channel == "store"  # the customer walked into the store
    listed = clerk.get("/self-service", params={"q": "S00001"})
    assert 'id="order-keep168"' not in listed.text  # withdrawn once accepted
    assert 'id="order-data10"' in listed.text
    again = clerk.post("/self-service/S00001/orders", data={"policy_id": "keep168"}, headers=HX)
    assert "already accepted in store" in again.text
    missing = clerk.post("/self-service/S00001/orders", data={"policy_id": "nope"}, headers=HX)
    assert "not available" in missing.text
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Acceptance)) == 1
    unknown = clerk.get("/self-service", params={"q": "S99999"})
    assert unknown.status_code == 404 and 'id="not-found"' in unknown.text
    assert page_login(app, "agent").get("/self-service", params={"q": "S00004"}).status_code == 404
    analyst = page_login(app, "analyst")
    assert analyst.get("/self-service").status_code == 403
    refused = analyst.post("/self-service/S00001/orders", data={"policy_id": "data10"}, headers=HX)
    assert refused.status_code == 403


def _audit_rows(engine: Engine) -> list[tuple[str, str | None, str | None, str | None]]:
    with session_scope(engine) as session:
        return [
            (e.action, e.target_type, e.target_id, e.ip)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(("pii_view", "lookup_limit")))
                .order_by(AuditEvent.id)
            )
        ]


@SQLITE
@pytest.mark.usefixtures("world")
def test_lookup_pages_refuse_bulk_lookups_in_the_readers_language(
    app: FastAPI, engine: Engine
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"lookup_limit_per_minute": 2})
    hotline = page_login(app, "hotline")
    assert hotline.get("/screen-pop", params={"phone": "13800000002"}).status_code == 200
    assert hotline.get("/screen-pop", params={"phone": "13999999999"}).status_code == 404
    refused = hotline.get("/screen-pop", params={"phone": "13800000003"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "客户查询过于频繁：每分钟最多 2 次" in refused.text
    assert "customer-card" not in refused.text
    hotline.cookies.set("weiwan_lang", "en")
    card = hotline.get("/customers/S00002")
    assert card.status_code == 429
    assert "Too many customer lookups: at most 2 a minute." in card.text
    offers = hotline.get("/self-service", params={"q": "S00002"})
    assert offers.status_code == 429 and "Too many customer lookups" in offers.text
    assert _audit_rows(engine) == [
        ("pii_view", "customer", "S00002", "testclient"),
        ("pii_view", "phone_lookup", "139****9999", "testclient"),
        ("lookup_limit", "customer_lookups", None, "testclient"),
    ]


@SQLITE
@pytest.mark.usefixtures("world")
def test_self_service_lookups_are_audited_found_or_not(app: FastAPI, engine: Engine) -> None:
    clerk = page_login(app, "clerk", "en")
    assert clerk.get("/self-service", params={"q": "S00002"}).status_code == 200
    assert clerk.get("/self-service", params={"q": "13800000003"}).status_code == 200
    assert clerk.get("/self-service", params={"q": "S99999"}).status_code == 404
    assert clerk.get("/self-service", params={"q": "13999999999"}).status_code == 404
    assert _audit_rows(engine) == [
        ("pii_view", "customer", "S00002", "testclient"),
        ("pii_view", "customer", "S00003", "testclient"),
        ("pii_view", "customer_lookup", "S99999", "testclient"),
        ("pii_view", "phone_lookup", "13999999999", "testclient"),  # clerks see full numbers
    ]
