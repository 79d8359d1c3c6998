"""Dashboard pages: who may open them, the same numbers as the API, scope, arrows, exports,
texts in both languages."""

from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine

from report_fixtures import seed
from web.page_helpers import page_login

pytestmark = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)

PAGES = ("/dashboards", "/dashboards/satisfaction", "/dashboards/churn", "/dashboards/models")


@pytest.fixture
def seeded(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> Engine:
    seed(engine, branches, people)
    return engine


def _month() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


def _sheet(content: bytes) -> list[list[object]]:
    book = load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_agents_may_not_open_dashboards(seeded: Engine, app: FastAPI) -> None:
    agent = page_login(app, "agent")
    for path in (*PAGES, "/dashboards/satisfaction/dissatisfied"):
        assert agent.get(path).status_code == 403, path
    lead = page_login(app, "lead")
    assert lead.get("/dashboards/models").status_code == 403
    for path in PAGES[:3]:
        page = lead.get(path)
        assert page.status_code == 200, path
        assert "export-xlsx" not in page.text  # a shift lead may not export
        assert lead.get(path, params={"export": "xlsx"}).status_code == 403
    assert "export-xlsx" in page_login(app, "director").get("/dashboards/churn").text


def test_overview_shows_the_api_numbers(seeded: Engine, app: FastAPI) -> None:
    client = page_login(app, "director", language="en")
    month = _month()
    api = client.get("/api/v1/reports/overview", params={"month": month, "lang": "en"}).json()
    page = client.get("/dashboards", params={"month": month})
    assert page.status_code == 200
    html = page.text
    assert 'id="chart-churn-trend"' in html and "Show data" in html
    assert "Outbound connect rate" in html and "85.7%" in html  # 6 of 7 calls reached
    # the churn trend table exported from the page equals the API's figures
    export = client.get(
        "/dashboards", params={"month": month, "export": "xlsx", "table": "churn-trend"}
    )
    rows = _sheet(export.content)
    assert rows[0] == ["Month", "Churn rate", "Churned", "Subscribers at month start"]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        (f["period"][:7], pytest.approx(f["value"])) for f in api["churn_trend"]
    ]
    leagues = client.get(
        "/dashboards", params={"month": month, "export": "xlsx", "table": "league-agents"}
    )
    exported = _sheet(leagues.content)[1:]
    assert [r[1] for r in exported] == [a["name"] for a in api["agents"]] == ["Outsider", "Agent"]
    # the page's own league table shows the exported rows
    table = html[html.index('id="league-agents"') :]
    table = table[: table.index("</table>")]
    shown = re.findall(r'data-key="name">([^<]*)</td>', table)
    contacts = re.findall(r'data-key="contacts">([^<]*)</td>', table)
    assert shown == [r[1] for r in exported]
    assert contacts == [str(r[2]) for r in exported]
    assert client.get("/dashboards", params={"month": "2026-13"}).status_code == 422


def test_shift_lead_sees_only_the_team_in_league_tables(seeded: Engine, app: FastAPI) -> None:
    html = page_login(app, "lead", language="en").get("/dashboards").text
    table = html[html.index('id="league-agents"') :]
    table = table[: table.index("</table>")]
    assert "Agent" in table and "Outsider" not in table


def test_satisfaction_arrows_and_drill_down(seeded: Engine, app: FastAPI) -> None:
    client = page_login(app, "director", language="en")
    html = client.get("/dashboards/satisfaction", params={"month": "2026-10"}).text
    cards = dict(re.findall(r'data-metric="(\w+)" data-arrow="(\w*)"', html))
    assert cards["satisfaction_rate"] == "up"
    assert cards["dissatisfaction_rate"] == "down"
    assert cards["complaint_rate"] == ""
    # satisfaction up and dissatisfaction down are both good news: both green
    for metric, sign in (("satisfaction_rate", "▲"), ("dissatisfaction_rate", "▼")):
        card = html.split(f'data-metric="{metric}"', 1)[1].split('data-metric="', 1)[0]
        assert 'class="kpi-arrow kpi-good" data-good="true" title="' in card
        assert sign in card
    assert 'href="/dashboards/satisfaction/dissatisfied"' in html
    export = client.get(
        "/dashboards/satisfaction",
        params={"month": "2026-10", "export": "xlsx", "table": "kpi-panorama"},
    )
    rows = _sheet(export.content)
    by_metric = {r[0]: r for r in rows[1:]}
    assert by_metric["Satisfaction rate"][2] == pytest.approx(0.70)
    assert by_metric["Satisfaction rate"][5] == "▲"


def test_dissatisfied_list_masks_numbers_for_the_analyst(seeded: Engine, app: FastAPI) -> None:
    html = page_login(app, "analyst", language="en").get("/dashboards/satisfaction/dissatisfied")
    assert html.status_code == 200
    assert "138****0001" in html.text and "13800000001" not in html.text
    assert 'href="/customers/S00001"' in html.text
    head = page_login(app, "head", language="en").get("/dashboards/satisfaction/dissatisfied")
    assert "S00001" in head.text and "S00003" not in head.text  # the other branch's customer


def test_churn_and_model_pages(seeded: Engine, app: FastAPI) -> None:
    client = page_login(app, "analyst", language="en")
    churn = client.get("/dashboards/churn").text
    assert "Churn reasons" in churn and 'id="chart-churn-reason-reason"' in churn
    export = client.get("/dashboards/churn", params={"export": "xlsx", "table": "churn-cost"})
    assert _sheet(export.content)[1][:2] == ["Direct: monthly revenue lost", 1200]
    models = client.get("/dashboards/models").text
    assert "AUC over time" in models and "ARPU last month" in models  # features by name
    assert "arpu_1m" not in models


def test_pages_in_chinese(seeded: Engine, app: FastAPI) -> None:
    client = page_login(app, "director")
    assert "满意度" in client.get("/dashboards/satisfaction").text
    assert "流失原因" in client.get("/dashboards/churn").text
    overview = client.get("/dashboards").text
    assert "外呼接通率" in overview and "排行榜" in overview
