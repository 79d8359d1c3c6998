"""Data-quality feedback on the pages: the "data is wrong" part of the outcome form (one
submit stores the contact and the report) and the /data-quality list (filters, counts, review,
exports) in both languages."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from api_helpers import login
from dataquality_fixtures import dq_world, file
from web.i18n_catalog import missing_chinese
from web.page_helpers import page_login
from weiwan.core.db import session_scope
from weiwan.ops.contacts.models import Contact, ContactOutcome
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.dataquality.models import DataQualityReport
from weiwan.ops.org.models import AuditEvent

SQLITE = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
HX = {"HX-Request": "true"}
OWN_FILES = ("dataquality", "customer/_work.html", "customer_actions.py")


@pytest.fixture
def world(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> None:
    dq_world(engine, branches, people)


def _reports(engine: Engine) -> list[DataQualityReport]:
    with session_scope(engine) as session:
        return list(session.scalars(select(DataQualityReport).order_by(DataQualityReport.id)))


def _contacts(engine: Engine) -> list[tuple[int, str, list[str]]]:
    with session_scope(engine) as session:
        out = []
        for contact in session.scalars(select(Contact).order_by(Contact.id)):
            kinds = session.scalars(
                select(ContactOutcome.outcome).where(ContactOutcome.contact_id == contact.id)
            )
            out.append((contact.id, contact.subscriber_id, list(kinds)))
        return out


def _outcome(**extra: Any) -> dict[str, Any]:
    return {"channel": "outbound_call", "outcome": "connected", "view_channel": "workbench"} | extra


def test_outcome_form_files_the_report_with_the_contact_in_one_submit(
    app: FastAPI, engine: Engine, world: None, people: dict[str, int]
) -> None:
    agent = page_login(app, "agent", "en")
    card = agent.get("/customers/S00001")
    assert 'name="dq_field"' in card.text and 'id="data-wrong-free"' in card.text
    form = _outcome(dq_field="plan_id", dq_value="TC128", dq_note="客户已改套餐")
    response = agent.post("/customers/S00001/contacts", data=form, headers=HX)
    assert response.status_code == 200
    assert "Data error reported" in response.text
    ((contact_id, sid, kinds),) = _contacts(engine)
    (report,) = _reports(engine)
    with session_scope(engine) as session:
        view = session.get(CustomerView, "S00001")
        assert view is not None
        assert report.data_value == view.plan_id  # from customer_view, not from the form
    assert (sid, kinds) == ("S00001", ["connected"])
    assert report.contact_id == contact_id and report.reported_by == people["agent"]
    assert (report.field, report.reported_value, report.note) == (
        "plan_id",
        "TC128",
        "客户已改套餐",
    )


def test_wrong_number_reports_the_phone_number_without_choosing_the_field(
    app: FastAPI, engine: Engine, world: None
) -> None:
    agent = page_login(app, "agent", "en")
    form = _outcome(outcome="wrong_number", dq_value="139 1234 5678")
    agent.post("/customers/S00002/contacts", data=form, headers=HX)
    (report,) = _reports(engine)
    assert (report.field, report.reported_value, report.data_value) == (
        "msisdn",
        "13912345678",
        "13800000002",
    )
    # the same report again from another contact: the contact is kept, the report not doubled
    again = agent.post("/customers/S00002/contacts", data=form, headers=HX)
    assert "already reported" in again.text
    assert len(_contacts(engine)) == 2 and len(_reports(engine)) == 1


def test_plain_outcome_files_nothing_and_bad_values_store_nothing(
    app: FastAPI, engine: Engine, world: None
) -> None:
    agent = page_login(app, "agent", "en")
    plain = agent.post("/customers/S00001/contacts", data=_outcome(), headers=HX)
    assert "Saved: Connected." in plain.text
    assert len(_contacts(engine)) == 1 and _reports(engine) == []
    bad_phone = _outcome(dq_field="msisdn", dq_value="12345")
    refused = agent.post("/customers/S00001/contacts", data=bad_phone, headers=HX)
    assert "A phone number has 11 digits" in refused.text
    no_field = agent.post("/customers/S00001/contacts", data=_outcome(dq_value="x"), headers=HX)
    assert "Choose which data is wrong." in no_field.text
    same = _outcome(dq_field="plan_id", dq_value="TC096")  # what the data already holds
    assert (
        "Please check the right value."
        in agent.post("/customers/S00001/contacts", data=same, headers=HX).text
    )
    assert len(_contacts(engine)) == 1 and _reports(engine) == []  # nothing half-written


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_list_page_in_both_languages_with_counts_and_masking(
    app: FastAPI, engine: Engine, world: None, language: str
) -> None:
    file(login(app, "agent"), "S00001", "msisdn", "13912345678")
    file(login(app, "agent"), "S00021", "plan_id", "TC199")
    file(login(app, "outsider"), "S00031", "name", "张三")
    analyst = page_login(app, "analyst", language)
    page = analyst.get("/data-quality")
    assert page.status_code == 200
    assert page.text.count('data-report="') == 3
    assert "139****5678" in page.text and "13912345678" not in page.text
    assert ("数据质量反馈" if language == "zh-CN" else "Data-quality reports") in page.text
    counts = page.text.split('id="dq-counts"')[1].split("</table>")[0]
    assert counts.count("<tr>") == 1 + 3  # header and one row per (table, branch)
    head = page_login(app, "head", language).get("/data-quality")
    assert head.text.count('data-report="') == 2 and "13912345678" in head.text
    filtered = analyst.get("/data-quality?field=plan_id")
    assert filtered.text.count('data-report="') == 1
    with session_scope(engine) as session:
        views = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "pii_view", AuditEvent.target_type == "data_quality_reports"
            )
        ).all()
    assert [json.loads(v or "{}")["rows"] for v in views] == [3, 2, 1]


def test_every_text_of_the_data_quality_pages_has_chinese() -> None:
    missing = {
        msgid: where
        for msgid, where in missing_chinese().items()
        if any(own in place for place in where for own in OWN_FILES)
    }
    assert missing == {}


@SQLITE
def test_review_and_exports_from_the_page(app: FastAPI, engine: Engine, world: None) -> None:
    agent_api = login(app, "agent")
    phone = file(agent_api, "S00001", "msisdn", "13912345678").json()["id"]
    name = file(agent_api, "S00002", "name", "李四").json()["id"]
    head = page_login(app, "head", "en")
    confirmed = head.post(f"/data-quality/{name}/confirm", data={"query": "status=new"})
    assert (
        confirmed.status_code == 303 and confirmed.headers["location"] == "/data-quality?status=new"
    )
    head.post(f"/data-quality/{phone}/confirm", data={"note": "ok"})
    agent = page_login(app, "agent", "en")
    assert agent.post(f"/data-quality/{name}/reject", data={}).status_code == 403
    assert page_login(app, "agent2").get("/data-quality").text.count('data-report="') == 0
    assert page_login(app, "admin").get("/data-quality").status_code == 403
    page = head.get("/data-quality")
    assert 'id="dq-export-corrections"' in page.text
    assert 'id="dq-export-corrections"' not in agent.get("/data-quality").text
    xlsx = page_login(app, "analyst").get("/data-quality?export=xlsx&table=dq-reports")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row == 3  # heading and two reports
    exported = head.post("/data-quality/export", data={})
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {r["reported_value"] for r in rows} == {"13912345678", "李四"}
    assert {r.status for r in _reports(engine)} == {"exported"}
    with session_scope(engine) as session:
        exports = session.scalars(
            select(AuditEvent.target_type).where(AuditEvent.action == "export")
        )
        assert sorted(t or "" for t in exports) == ["data_quality_reports", "page"]
    # the batch is listed on the page and downloads again, the same file, audited
    batch = exported.headers["X-Export-Batch"]
    page = head.get("/data-quality")
    assert 'id="dq-batches"' in page.text and f'href="/data-quality/exports/{batch}"' in page.text
    again = head.get(f"/data-quality/exports/{batch}")
    assert again.status_code == 200 and again.content == exported.content
    assert agent.get(f"/data-quality/exports/{batch}").status_code == 403
    with session_scope(engine) as session:
        assert (
            session.scalar(
                select(AuditEvent.target_id).where(
                    AuditEvent.target_type == "data_quality_export_batch"
                )
            )
            == batch
        )
