"""Report pages (/reports, /reports/churn): who may open them, the API's numbers, scope, the
audited export with a sheet per section, printing, both languages."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from period_report_fixtures import SNAPSHOT, build_report_warehouse
from web.page_helpers import page_login
from weiwan.core.db import session_scope
from weiwan.ops.org.models import AuditEvent
from weiwan.pipeline.publish.reports import publish_reports

pytestmark = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)


@pytest.fixture
def published(
    engine: Engine, branches: dict[str, int], people: dict[str, int], tmp_path: Path
) -> Engine:
    with build_report_warehouse(tmp_path / "wh.duckdb") as warehouse:
        publish_reports(warehouse, engine, SNAPSHOT, weeks=1, months=1)
    return engine


def _cell(html: str, table_id: str, key: str) -> list[str]:
    """The texts of one column of a rendered data table."""
    block = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [c.strip() for c in re.findall(rf'data-key="{key}">([^<]*)<', block)]


def test_only_report_readers_open_the_pages(published: Engine, app: FastAPI) -> None:
    for username in ("agent", "lead", "clerk", "admin"):
        client = page_login(app, username)
        for path in ("/reports", "/reports/churn"):
            assert client.get(path).status_code == 403, (username, path)
            assert client.get(path, params={"export": "xlsx"}).status_code == 403


def test_empty_before_the_first_publish(
    engine: Engine, branches: dict[str, int], people: dict[str, int], app: FastAPI
) -> None:
    client = page_login(app, "director", language="en")
    assert 'id="report-empty"' in client.get("/reports").text
    assert 'id="report-empty"' in client.get("/reports/churn").text


def test_period_page_shows_the_api_document(published: Engine, app: FastAPI) -> None:
    client = page_login(app, "director", language="en")
    doc = client.get("/api/v1/reports/periods/month/2026-10").json()["document"]
    page = client.get("/reports", params={"report": "month:2026-10"})
    assert page.status_code == 200
    html = page.text
    assert "Monthly report, October 2026" in html
    assert 'media="print"' in html and "reports-print.css" in html
    assert 'id="print-report"' in html
    for line in doc["findings"]["en"]:
        assert line.replace("'", "&#39;") in html
    # the summary row equals the document's totals (rates in per cent, one decimal)
    assert _cell(html, "summary", "churned") == [str(int(doc["total"]["churned"]))]
    assert _cell(html, "summary", "churn_rate") == [f"{doc['total']['churn_rate'] * 100:.1f}%"]
    branches = {r["member"]: r for r in doc["breakdowns"]["branch"]}
    assert _cell(html, "by-branch", "member") == sorted(branches)
    assert html.count("data-chart ") + html.count("data-chart>") >= 4
    # the week is listed too, and opens
    week = client.get("/reports", params={"report": "week:2026-W43"})
    assert "Weekly report, Week 43, 2026" in week.text
    chinese = page_login(app, "director").get("/reports", params={"report": "week:2026-W43"})
    assert "2026年第43周周报" in chinese.text and "2026-W43 周报" not in chinese.text
    assert "2026年10月" in chinese.text  # the month in the period list, as the locale says it
    assert client.get("/reports", params={"report": "week:2020-W01"}).status_code == 404


def test_churn_page_in_both_languages(published: Engine, app: FastAPI) -> None:
    english = page_login(app, "director", language="en")
    doc = english.get("/api/v1/reports/churn-analysis/2026-10").json()["document"]
    html = english.get("/reports/churn", params={"month": "2026-10"}).text
    assert "Churn analysis report 2026-10" in html
    assert "concentrate effort and fix it quickly" in html
    assert _cell(html, "reason-groups", "leavers") == [
        str(int(g["leavers"])) for g in doc["reason_groups"]
    ]
    chinese = page_login(app, "director").get("/reports/churn").text  # zh-CN is the default
    assert "2026-10 流失分析报告" in chinese and "集中精力迅速解决" in chinese
    for line in doc["findings"]["zh-CN"]:
        assert line in chinese


def test_head_sees_own_branches_only(published: Engine, app: FastAPI) -> None:
    head = page_login(app, "head", language="en")
    html = head.get("/reports", params={"report": "month:2026-10"}).text
    assert "Whole operator" not in html
    api = head.get("/api/v1/reports/periods/month/2026-10").json()
    assert api["scope"] == "HZ"
    assert _cell(html, "summary", "at_start") == [str(int(api["document"]["total"]["at_start"]))]
    # asking for another branch's scope falls back to the head's own
    other = head.get("/reports", params={"report": "month:2026-10", "branch": "NB"}).text
    assert _cell(other, "summary", "at_start") == _cell(html, "summary", "at_start")
    assert _cell(other, "by-branch", "member") == ["HZ", "HZ-CA"]


def test_export_has_a_sheet_per_section_and_is_audited(published: Engine, app: FastAPI) -> None:
    client = page_login(app, "director", language="en")
    response = client.get("/reports/churn", params={"month": "2026-10", "export": "xlsx"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "Reason groups",
        "Churn reasons",
        "Destinations",
        "Tenure of leavers",
        "Last touchpoints",
        "Churn cost",
        "Churn by segment",
        "Findings",
    ]
    doc = client.get("/api/v1/reports/churn-analysis/2026-10").json()["document"]
    cost = {row[0]: row[1] for row in book["Churn cost"].iter_rows(min_row=2, values_only=True)}
    assert cost["Total"] == pytest.approx(doc["costs"]["total"])
    period = client.get("/reports", params={"report": "month:2026-10", "export": "xlsx"})
    sheets = load_workbook(io.BytesIO(period.content)).sheetnames
    assert sheets[:2] == ["Key figures", "Against targets"] and len(sheets) == 7
    with session_scope(published) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
        targets = sorted(e.target_id or "" for e in events)
        details = [json.loads(e.detail or "{}") for e in events]
    assert targets == ["/reports", "/reports/churn"]
    assert any("reason-groups" in d["tables"] for d in details)
