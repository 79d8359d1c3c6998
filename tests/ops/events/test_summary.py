"""The events page and its API: counts by status and type, latency percentiles, and per event
rule the customers acted for against those held out — tasks, contacts, acceptances, who left;
in the reader's scope, in both languages and in Excel."""

from __future__ import annotations

import io

from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine, select, update

from api_helpers import login
from event_fixtures import event
from web.page_helpers import page_login
from weiwan.core.db import session_scope
from weiwan.ops.contacts.models import Contact, ContactOutcome
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.tasks.models import Task

from .test_processing import HELD, REACHED, _post, city, publish_alert_rules  # noqa: F401

API = "/api/v1/event-summary"


def _story(app: FastAPI, engine: Engine) -> None:
    """Three port-out requests (two customers acted for, one held out) and a refused event; the
    first customer accepted an offer on the task's call, the held-out one has since left."""
    publish_alert_rules(engine)
    _post(app, event("s-1", REACHED[0]), event("s-2", REACHED[1]), event("s-3", HELD),
          event("s-4", REACHED[2], type="store_visit", attributes={}), {"bad": 1})  # fmt: skip
    with session_scope(engine) as session:
        task = session.scalars(select(Task).where(Task.subscriber_id == REACHED[0])).one()
        contact = Contact(subscriber_id=REACHED[0], channel="outbound_call", status="sent",
                          task_id=task.id)  # fmt: skip
        session.add(contact)
        session.flush()
        session.add(ContactOutcome(contact_id=contact.id, outcome="accepted"))
        session.execute(
            update(CustomerView)
            .where(CustomerView.subscriber_id == HELD)
            .values(status="ported_out")
        )


def test_the_api_counts_what_became_of_the_events(app: FastAPI, city: Engine) -> None:  # noqa: F811
    _story(app, city)
    body = login(app, "director").get(API).json()
    assert body["received"] == 4 and body["rejected"] == 1 and body["backlog"] == 0
    assert body["by_status"] == {"processed": 3, "ignored": 1}
    assert body["by_type"] == {"port_out_code_request": 3, "store_visit": 1}
    assert sum(h["events"] for h in body["per_hour"]) == 4
    latency = body["latency"]["processing"]
    assert latency["p50"] is not None and 0 <= latency["p50"] <= latency["p99"] < 60
    (rule,) = body["rules"]
    assert rule["rule_id"] == "port_out_code_request"
    assert (rule["fired"], rule["acted"], rule["held_out"], rule["tasks"]) == (3, 2, 1, 2)
    assert (rule["contacted"], rule["accepted"]) == (1, 1)
    assert (rule["left_acted"], rule["left_held_out"]) == (0, 1)
    assert rule["left_rate_held_out"] == 1.0 and rule["left_rate_acted"] == 0.0
    head = login(app, "head").get(API).json()
    assert head["received"] == 4 and head["rejected"] == 0  # dead letters: whole operator only
    assert login(app, "agent").get(API).status_code == 403


def test_the_page_in_both_languages_and_in_excel(app: FastAPI, city: Engine) -> None:  # noqa: F811
    _story(app, city)
    chinese = page_login(app, "analyst").get("/events")
    assert chinese.status_code == 200, chinese.text
    assert "实时事件" in chinese.text and "携号转网授权码申请" in chinese.text
    english = page_login(app, "director", language="en").get("/events?hours=168").text
    assert "Port-out code requested" in english and "Left (held out)" in english
    workbook = load_workbook(
        io.BytesIO(page_login(app, "director").get("/events?export=xlsx").content)
    )
    assert len(workbook.worksheets) == 4  # counts, latency, rules, hours
    cells = {c for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row}
    assert "携号转网授权码申请" in cells and 3 in cells
    assert page_login(app, "agent").get("/events").status_code == 403
