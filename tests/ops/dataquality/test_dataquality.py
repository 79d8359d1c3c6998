"""Data-quality feedback through the API: filing (value in the data from the customer view,
checked reported value, duplicates refused), scope, masking, counts, review and export."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from api_helpers import PASSWORD, login
from dataquality_fixtures import URL, dq_world, file
from weiwan.analytics.contract import SUBSCRIBERS
from weiwan.core.db import session_scope
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.dataquality.fields import FIELDS, ID_NUMBER_PATTERN, MSISDN_PATTERN
from weiwan.ops.dataquality.models import DataQualityReport
from weiwan.ops.org.models import AuditEvent
from weiwan.ops.org.roles import Role
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user


@pytest.fixture
def world(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> None:
    dq_world(engine, branches, people)


def _rows(engine: Engine) -> list[DataQualityReport]:
    with session_scope(engine) as session:
        return list(session.scalars(select(DataQualityReport).order_by(DataQualityReport.id)))


def _audits(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == action, AuditEvent.target_type == "data_quality_reports"
                )
                .order_by(AuditEvent.id)
            )
        )


def test_field_mapping_names_columns_of_the_contract() -> None:
    columns = {c.name: c for c in SUBSCRIBERS.columns}
    for code, source in FIELDS.items():
        assert source.table == SUBSCRIBERS.name
        if source.column is not None:
            assert source.column in columns, code
            assert hasattr(CustomerView, source.view_column or ""), code
    assert MSISDN_PATTERN.pattern == columns["msisdn"].pattern
    assert ID_NUMBER_PATTERN.pattern == (columns["id_number"].pattern or "").replace("Xx", "X")


def test_report_stores_the_value_in_the_data_not_the_callers(
    app: FastAPI, engine: Engine, world: None, people: dict[str, int]
) -> None:
    agent = login(app, "agent")
    forged = file(agent, "S00001", "msisdn", "139 1234 5678", data_value="13000000000")
    assert forged.status_code == 422  # the value in the data is never taken from the caller
    response = file(agent, "S00001", "msisdn", "+86 139-1234-5678", note="客户说号码已换")
    assert response.status_code == 201, response.text
    body = response.json()
    (row,) = _rows(engine)
    with session_scope(engine) as session:
        view = session.get(CustomerView, "S00001")
        assert view is not None
        assert row.data_value == view.msisdn
    assert row.reported_value == "13912345678"  # normalised
    assert (row.source_table, row.source_column, row.status) == ("subscribers", "msisdn", "new")
    assert row.reported_by == people["agent"] and row.branch_code == "HZ"
    assert body["reported_value"] == "139****5678"  # agents see masked numbers
    plan = file(agent, "S00002", "plan_id", "TC128")
    assert plan.status_code == 201 and plan.json()["data_value"] == "TC096"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"field": "colour", "reported_value": "red"}, "field"),
        ({"field": "msisdn", "reported_value": "12345"}, "reported_value"),
        ({"field": "msisdn", "reported_value": "23812345678"}, "reported_value"),
        ({"field": "id_number", "reported_value": "45010219900101123"}, "reported_value"),
        ({"field": "plan_id", "reported_value": "TC 128"}, "reported_value"),
        ({"field": "plan_id", "reported_value": "TC096"}, "reported_value"),  # same as the data
        ({"field": "name", "reported_value": "x", "contact_id": 999}, "contact_id"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    app: FastAPI, engine: Engine, world: None, body: dict[str, Any], field: str
) -> None:
    response = login(app, "agent").post(f"{URL}/reports", json={"subscriber_id": "S00001", **body})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert _rows(engine) == []


def test_duplicate_open_report_is_refused_until_closed(
    app: FastAPI, engine: Engine, world: None
) -> None:
    agent, head = login(app, "agent"), login(app, "head")
    first = file(agent, "S00001", "name", "王小明")
    assert first.status_code == 201
    again = file(agent, "S00001", "name", " 王小明 ")
    assert again.status_code == 409 and str(first.json()["id"]) in again.json()["detail"]
    assert file(login(app, "agent2"), "S00001", "name", "王小明").status_code == 404  # scope
    assert len(_rows(engine)) == 1
    rid = first.json()["id"]
    assert head.post(f"{URL}/reports/{rid}/reject", json={"note": "核实无误"}).status_code == 200
    assert file(agent, "S00001", "name", "王小明").status_code == 201  # closed: may file again
    assert [r.status for r in _rows(engine)] == ["rejected", "new"]


def _file_some(app: FastAPI) -> dict[str, int]:
    agent, agent2, outsider = login(app, "agent"), login(app, "agent2"), login(app, "outsider")
    ids = {}
    for key, (client, sid, field, value) in {
        "a_phone": (agent, "S00001", "msisdn", "13912345678"),
        "a_name": (agent, "S00002", "name", "李四"),
        "a_rural": (agent, "S00021", "plan_id", "TC199"),
        "a_other": (agent, "S00003", "other", "地址已变更"),
        "b_id": (agent2, "S00004", "id_number", "45010219900101999X"),
        "o_plan": (outsider, "S00031", "plan_id", "TC058"),
    }.items():
        response = file(client, sid, field, value)
        assert response.status_code == 201, response.text
        ids[key] = response.json()["id"]
    return ids


def test_scope_of_the_list_and_of_one_report(
    app: FastAPI, engine: Engine, world: None, branches: dict[str, int]
) -> None:
    ids = _file_some(app)

    def listed(username: str) -> set[int]:
        response = login(app, username).get(f"{URL}/reports")
        assert response.status_code == 200, response.text
        return {r["id"] for r in response.json()}

    agent_own = {ids["a_phone"], ids["a_name"], ids["a_rural"], ids["a_other"]}
    assert listed("agent") == agent_own
    assert listed("agent2") == {ids["b_id"]}
    assert listed("lead") == agent_own | {ids["b_id"]}  # the team's
    assert listed("head") == set(ids.values()) - {ids["o_plan"]}  # own branches
    assert listed("analyst") == listed("director") == set(ids.values())
    assert login(app, "admin").get(f"{URL}/reports").status_code == 403
    agent2 = login(app, "agent2")
    assert agent2.get(f"{URL}/reports/{ids['a_phone']}").status_code == 404
    assert agent2.get(f"{URL}/reports/{ids['b_id']}").status_code == 200
    head = login(app, "head")
    assert head.get(f"{URL}/reports/{ids['o_plan']}").status_code == 404
    assert head.post(f"{URL}/reports/{ids['o_plan']}/confirm").status_code == 404
    assert login(app, "agent").post(f"{URL}/reports/{ids['a_name']}/confirm").status_code == 403
    city = head.get(f"{URL}/reports", params={"branch_id": branches["rural_a"]}).json()
    assert [r["id"] for r in city] == [ids["a_rural"]]


def test_numbers_masked_for_roles_without_full_numbers_and_list_audited(
    app: FastAPI, engine: Engine, world: None
) -> None:
    ids = _file_some(app)
    by_role = {
        u: {r["id"]: r for r in login(app, u).get(f"{URL}/reports").json()}
        for u in ("analyst", "head")
    }
    phone, id_number = ids["a_phone"], ids["b_id"]
    assert by_role["analyst"][phone]["reported_value"] == "139****5678"
    assert by_role["analyst"][phone]["data_value"] == "138****0001"
    assert by_role["analyst"][id_number]["reported_value"] == "450102********999X"
    assert by_role["analyst"][ids["a_name"]]["reported_value"] == "李四"  # not a number
    assert by_role["head"][phone]["reported_value"] == "13912345678"
    assert by_role["head"][phone]["data_value"] == "13800000001"
    views = _audits(engine, "pii_view")
    assert len(views) == 2 and json.loads(views[0].detail or "{}")["rows"] == 6


def test_counts_by_source_table_and_branch_equal_the_rows(
    app: FastAPI, engine: Engine, world: None
) -> None:
    ids = _file_some(app)
    head = login(app, "head")
    head.post(f"{URL}/reports/{ids['a_name']}/confirm")
    for username in ("analyst", "head"):
        summary = login(app, username).get(f"{URL}/summary")
        assert summary.status_code == 200
        listed = login(app, username).get(f"{URL}/reports").json()
        expected = Counter((r["source_table"], r["branch_code"], r["status"]) for r in listed)
        got = Counter(
            {
                (c["source_table"], c["branch_code"], status): c[status]
                for c in summary.json()
                for status in ("new", "confirmed", "rejected", "exported")
                if c[status]
            }
        )
        assert got == expected
        assert sum(c["total"] for c in summary.json()) == len(listed)
    with session_scope(engine) as session:
        stored = session.scalar(select(func.count()).select_from(DataQualityReport))
    assert stored == sum(c["total"] for c in login(app, "director").get(f"{URL}/summary").json())
    rural = login(app, "head").get(f"{URL}/summary", params={"field": "plan_id"}).json()
    assert [(c["branch_code"], c["total"]) for c in rural] == [("HZ-CA", 1)]
    bad = login(app, "head").get(f"{URL}/summary", params={"status": "open"})
    assert bad.status_code == 422 and bad.json()["field"] == "status"


def test_review_transitions(app: FastAPI, engine: Engine, world: None) -> None:
    ids = _file_some(app)
    head = login(app, "head")
    rid = ids["a_name"]
    first = head.post(f"{URL}/reports/{rid}/confirm", json={"note": "已核实"})
    assert first.status_code == 200 and first.json()["status"] == "confirmed"
    again = head.post(f"{URL}/reports/{rid}/confirm")
    assert again.status_code == 200 and again.json()["reviewed_at"] == first.json()["reviewed_at"]
    assert head.post(f"{URL}/reports/{rid}/reject").json()["status"] == "rejected"
    assert head.post(f"{URL}/reports/{rid}/confirm").status_code == 409


def test_export_marks_exported_and_is_audited(app: FastAPI, engine: Engine, world: None) -> None:
    ids = _file_some(app)
    analyst, director = login(app, "analyst"), login(app, "director")
    for key in ("a_phone", "a_name", "a_rural", "b_id", "o_plan"):
        assert analyst.post(f"{URL}/reports/{ids[key]}/confirm").status_code == 200
    analyst.post(f"{URL}/reports/{ids['o_plan']}/reject")
    assert login(app, "agent").post(f"{URL}/export").status_code == 403
    # the analyst may not see full numbers: phone and ID reports stay for the director
    response = analyst.post(f"{URL}/export")
    assert response.status_code == 200 and response.headers["X-Withheld-Reports"] == "2"
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0]) == [
        "subscriber_id",
        "table",
        "column",
        "current_value",
        "reported_value",
        "reported_at",
    ]
    assert {(r["subscriber_id"], r["column"], r["reported_value"]) for r in rows} == {
        ("S00002", "name", "李四"),
        ("S00021", "plan_id", "TC199"),
    }
    assert all(r["current_value"] and r["reported_at"] for r in rows)
    response = director.post(f"{URL}/export")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r["reported_value"] for r in rows} == {"13912345678", "45010219900101999X"}
    assert response.headers["X-Withheld-Reports"] == "0"
    status = {r.id: r.status for r in _rows(engine)}
    assert status == {
        ids["a_phone"]: "exported",
        ids["a_name"]: "exported",
        ids["a_rural"]: "exported",
        ids["b_id"]: "exported",
        ids["a_other"]: "new",
        ids["o_plan"]: "rejected",
    }
    again = director.post(f"{URL}/export")  # nothing left: nothing marked twice
    assert again.content.decode("utf-8-sig").count("\n") == 1
    exports = _audits(engine, "export")
    assert [json.loads(e.detail or "{}")["rows"] for e in exports] == [2, 2, 0]
    assert sorted(json.loads(exports[0].detail or "{}")["report_ids"]) == sorted(
        [ids["a_name"], ids["a_rural"]]
    )
    exported = director.post(f"{URL}/reports/{ids['a_name']}/reject")
    assert exported.status_code == 409


def _add_user(engine: Engine, username: str, role: Role, branch_id: int) -> None:
    with session_scope(engine) as session:
        create_user(
            session,
            UserCreate(
                username=username,
                display_name=username.title(),
                password=PASSWORD,
                role=role,
                branch_id=branch_id,
            ),
        )


def _batch_audits(engine: Engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.target_type == "data_quality_export_batch")
                .order_by(AuditEvent.id)
            )
        )


def test_export_batch_downloads_again_same_rows_audited_and_scoped(
    app: FastAPI, engine: Engine, world: None, branches: dict[str, int]
) -> None:
    ids = _file_some(app)
    director, head = login(app, "director"), login(app, "head")
    for key in ("a_phone", "a_name", "a_rural", "o_plan"):
        assert director.post(f"{URL}/reports/{ids[key]}/confirm").status_code == 200
    first = head.post(f"{URL}/export")  # the city's three (the other branch is not in view)
    assert first.status_code == 200
    city_batch = int(first.headers["X-Export-Batch"])
    first_rows = list(csv.DictReader(io.StringIO(first.content.decode("utf-8-sig"))))
    assert {r["subscriber_id"] for r in first_rows} == {"S00001", "S00002", "S00021"}
    other = director.post(f"{URL}/export")
    other_batch = int(other.headers["X-Export-Batch"])
    assert "X-Export-Batch" not in director.post(f"{URL}/export").headers  # nothing: no batch

    # the lost download again: the same file, audited as an export with the client address
    again = head.get(f"{URL}/exports/{city_batch}")
    assert again.status_code == 200, again.text
    assert again.content == first.content
    audits = _batch_audits(engine)
    assert [(a.action, a.target_id) for a in audits] == [("export", str(city_batch))]
    assert audits[0].ip and json.loads(audits[0].detail or "{}")["rows"] == 3

    listed = head.get(f"{URL}/exports")
    assert listed.status_code == 200
    assert [(b["id"], b["rows"]) for b in listed.json()] == [(city_batch, 3)]
    assert {b["id"] for b in director.get(f"{URL}/exports").json()} == {city_batch, other_batch}

    # another branch's batch: not found for the city's head; the city's for the other's head
    assert head.get(f"{URL}/exports/{other_batch}").status_code == 404
    _add_user(engine, "nb_head", Role.CENTRE_HEAD, branches["other"])
    nb_head = login(app, "nb_head")
    assert nb_head.get(f"{URL}/exports/{city_batch}").status_code == 404
    assert nb_head.get(f"{URL}/exports/{other_batch}").status_code == 200
    assert [b["id"] for b in nb_head.get(f"{URL}/exports").json()] == [other_batch]
    # full phone numbers in the batch: not for the analyst; no export right: 403
    assert login(app, "analyst").get(f"{URL}/exports/{city_batch}").status_code == 404
    assert login(app, "lead").get(f"{URL}/exports/{city_batch}").status_code == 403
    # only the two downloads given were audited
    assert [a.target_id for a in _batch_audits(engine)] == [str(city_batch), str(other_batch)]


def test_correction_file_writes_a_formula_as_text(
    app: FastAPI, engine: Engine, world: None
) -> None:
    evil = '=HYPERLINK("http://evil","x")'
    report = file(login(app, "agent"), "S00003", "other", evil)
    assert report.status_code == 201, report.text
    director = login(app, "director")
    director.post(f"{URL}/reports/{report.json()['id']}/confirm")
    rows = list(csv.DictReader(io.StringIO(director.post(f"{URL}/export").text.lstrip("\ufeff"))))
    assert [r["reported_value"] for r in rows] == [f"'{evil}"]
