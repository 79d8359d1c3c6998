"""Customer lookups: a rate limit per user across server processes, misses and bursts audited,
and the client address on every personal-data audit row."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from api_helpers import login
from customer_fixtures import publish_customers
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.base import utcnow
from weiwan.ops.org.models import AuditEvent
from weiwan.web.app import create_app

POP = "/api/v1/screen-pop"
KNOWN = "13800000001"  # S00001, in the city branch
UNKNOWN = "13900000000"


@pytest.fixture
def customers(engine: Engine, branches: dict[str, int]) -> list[str]:
    return publish_customers(engine, branches["city"], 3)


def _app(engine: Engine, tmp_path: Path, limit: int) -> FastAPI:
    settings = Settings(home=tmp_path, secret_key="test-secret", lookup_limit_per_minute=limit)
    return create_app(settings, engine)


def _audit(engine: Engine, *actions: str) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id)
        )
        return [
            {
                "user_id": r.user_id,
                "action": r.action,
                "target_type": r.target_type,
                "target_id": r.target_id,
                "detail": json.loads(r.detail) if r.detail else None,
                "ip": r.ip,
            }
            for r in rows
        ]


def test_the_lookup_after_the_limit_is_429_and_the_burst_audited_once(
    engine: Engine, people: dict[str, int], customers: list[str], tmp_path: Path
) -> None:
    hotline = login(_app(engine, tmp_path, limit=3), "hotline")
    assert hotline.get(POP, params={"phone": KNOWN}).status_code == 200
    assert hotline.get(POP, params={"phone": UNKNOWN}).status_code == 404
    assert hotline.get("/api/v1/customers/S00002").status_code == 200
    refused = hotline.get(POP, params={"phone": "13800000003"})
    assert refused.status_code == 429
    assert "more than 3 customer lookups in a minute" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert hotline.get(POP, params={"phone": KNOWN}).status_code == 429  # still refused
    assert hotline.get("/api/v1/customers").status_code == 429  # every lookup counts

    bursts = _audit(engine, "lookup_limit")
    assert bursts == [
        {
            "user_id": people["hotline"],
            "action": "lookup_limit",
            "target_type": "customer_lookups",
            "target_id": None,
            "detail": {"limit": 3, "window_seconds": 60},
            "ip": "testclient",
        }
    ]
    views = _audit(engine, "pii_view")
    assert len(views) == 3  # refused lookups show nothing and are not views
    other = login(_app(engine, tmp_path, limit=3), "clerk")  # the limit is per user
    assert other.get(POP, params={"phone": KNOWN, "channel": "store"}).status_code == 200


def test_the_limit_holds_across_server_processes(
    engine: Engine, people: dict[str, int], customers: list[str], tmp_path: Path
) -> None:
    first = login(_app(engine, tmp_path, limit=4), "hotline")
    second = login(_app(engine, tmp_path, limit=4), "hotline")  # another worker, same DB
    answers = [
        client.get(POP, params={"phone": KNOWN}).status_code
        for client in (first, second, first, second, first, second)
    ]
    assert answers == [200, 200, 200, 200, 429, 429]
    assert len(_audit(engine, "lookup_limit")) == 1


def test_a_minute_later_lookups_are_allowed_again(
    engine: Engine, people: dict[str, int], customers: list[str], tmp_path: Path
) -> None:
    app = _app(engine, tmp_path, limit=2)
    hotline = login(app, "hotline")
    for _ in range(2):
        assert hotline.get(POP, params={"phone": KNOWN}).status_code == 200
    started = utcnow()
    app.state.clock = lambda: started + timedelta(seconds=30)  # no sleeping
    refused = hotline.get(POP, params={"phone": KNOWN})
    assert refused.status_code == 429
    assert 29 <= int(refused.headers["Retry-After"]) <= 30  # the oldest lookup leaves then
    app.state.clock = lambda: started + timedelta(seconds=61)
    assert hotline.get(POP, params={"phone": KNOWN}).status_code == 200


def test_a_miss_is_audited_with_the_number_masked_as_the_role_sees_it_and_the_address(
    engine: Engine, people: dict[str, int], customers: list[str], tmp_path: Path
) -> None:
    app = _app(engine, tmp_path, limit=30)
    assert login(app, "hotline").get(POP, params={"phone": UNKNOWN}).status_code == 404
    assert login(app, "director").get(POP, params={"phone": "13900000001"}).status_code == 404
    misses = _audit(engine, "pii_view")
    assert [(m["user_id"], m["target_type"], m["target_id"], m["ip"]) for m in misses] == [
        (people["hotline"], "phone_lookup", "139****0000", "testclient"),
        (people["director"], "phone_lookup", "13900000001", "testclient"),  # sees full numbers
    ]
    assert misses[0]["detail"] == {"channel": "hotline", "found": False}


def test_card_views_customer_lists_and_self_service_lookups_are_audited_with_the_address(
    engine: Engine, people: dict[str, int], customers: list[str], tmp_path: Path
) -> None:
    app = _app(engine, tmp_path, limit=30)
    hotline = login(app, "hotline")
    assert hotline.get(POP, params={"phone": KNOWN}).status_code == 200
    head = login(app, "head")
    listed = head.get("/api/v1/customers", params={"risk_band": "high", "limit": 2})
    assert listed.status_code == 200
    clerk = login(app, "clerk")
    assert clerk.get("/api/v1/self-service/S00002/offers").status_code == 200
    assert clerk.get("/api/v1/self-service/S99999/offers").status_code == 404
    views = _audit(engine, "pii_view")
    assert [(v["user_id"], v["target_type"], v["target_id"]) for v in views] == [
        (people["hotline"], "customer", "S00001"),
        (people["head"], "customer_list", None),
        (people["clerk"], "customer", "S00002"),
        (people["clerk"], "customer_lookup", "S99999"),
    ]
    assert {v["ip"] for v in views} == {"testclient"}
    assert views[1]["detail"] == {
        "rows": len(listed.json()),
        "filters": {"risk_band": "high", "offset": 0},
    }
    assert views[2]["detail"] == {"channel": "self_service"}


def test_the_address_is_the_callers_on_every_audit_row_of_a_request(
    engine: Engine, people: dict[str, int], customers: list[str], tmp_path: Path
) -> None:
    app = _app(engine, tmp_path, limit=30)
    head = login(app, "head")
    assert head.get("/api/v1/outbound/call-list").status_code == 200  # an export
    rows = _audit(engine, "export", "login_ok")
    assert {r["action"] for r in rows} == {"export", "login_ok"}
    assert {r["ip"] for r in rows} == {"testclient"}


def test_the_self_service_api_is_audited_but_not_limited_for_the_portal_account(
    engine: Engine, people: dict[str, int], customers: list[str], tmp_path: Path
) -> None:
    portal = login(_app(engine, tmp_path, limit=2), "clerk")
    answers = [portal.get(f"/api/v1/self-service/{sid}/offers").status_code for sid in customers]
    assert answers == [200, 200, 200]
    assert len(_audit(engine, "pii_view")) == 3
    assert _audit(engine, "lookup_limit") == []


def test_a_long_searched_id_is_audited_cut_to_the_column_and_still_404(
    engine: Engine, people: dict[str, int], customers: list[str], tmp_path: Path
) -> None:
    head = login(_app(engine, tmp_path, limit=30), "head")
    assert head.get("/api/v1/customers/" + "X" * 300).status_code == 404
    [miss] = _audit(engine, "pii_view")
    assert miss["target_type"] == "customer_lookup" and miss["target_id"] == "X" * 64
