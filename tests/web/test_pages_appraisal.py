"""The appraisal pages: scorecards (same numbers as the API, scope, export audited), the
settings editor's messages, weekly plans and daily checks, in Chinese and English."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from api_helpers import login
from appraisal_fixtures import month, seed
from web.page_helpers import page_login
from web.team_fixtures import table_rows, workbook_rows
from weiwan.core.db import session_scope
from weiwan.ops.appraisal.figures import forget_counts
from weiwan.ops.appraisal.models import DailyCheck, WeeklyPlan
from weiwan.ops.appraisal.scheme import DEFAULT_TEXT, current_text
from weiwan.ops.org.models import AuditEvent

SQLITE = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
TZ = ZoneInfo("Asia/Shanghai")
PAGES = (
    ("/appraisal/scorecards", "director", "考核记分卡", "Scorecards"),
    ("/appraisal/weekly-plans", "agent", "周计划", "Weekly plans"),
    ("/appraisal/daily-checks", "lead", "每日抽查", "Daily checks"),
    ("/appraisal/targets", "head", "目标与考核设置", "Targets and appraisal settings"),
)


@pytest.fixture
def seeded(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> dict[str, int]:
    seed(engine, branches, people)
    forget_counts()
    return people


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("%", ""))


def test_scorecards_page_shows_the_api_numbers(app: FastAPI, seeded: dict[str, int]) -> None:
    key = month().strftime("%Y-%m")
    cards = login(app, "director").get(
        "/api/v1/appraisal/scorecards", params={"month": key, "level": "agent"}
    )
    by_name = {c["name"]: c for c in cards.json()["cards"]}
    html = page_login(app, "director", "en").get(f"/appraisal/scorecards?month={key}").text
    rows = table_rows(html, "scorecards-agent")
    assert {r["name"] for r in rows} == set(by_name)
    for row in rows:
        card = by_name[row["name"]]
        assert int(row["rank"]) == card["rank"]
        assert _number(row["score"]) == pytest.approx(card["score"], abs=0.01)
        assert _number(row["contacts"]) == card["figures"]["contacts"]
        assert _number(row["complaints"]) == card["figures"]["complaints"]
        assert _number(row["connect_rate"]) == pytest.approx(
            100 * card["figures"]["connect_rate"], abs=0.05
        )
    assert "chart-scorecard-history" in html


def test_agent_sees_only_their_card_and_history(app: FastAPI, seeded: dict[str, int]) -> None:
    key = month().strftime("%Y-%m")
    client = page_login(app, "agent", "en")
    rows = table_rows(client.get(f"/appraisal/scorecards?month={key}").text, "scorecards-agent")
    assert [r["name"] for r in rows] == ["Agent"]
    other = client.get(f"/appraisal/scorecards?month={key}&subject={seeded['agent2']}")
    assert other.status_code == 404
    assert client.get(f"/appraisal/scorecards?month={key}&export=xlsx").status_code == 403


@pytest.mark.parametrize(("path", "username", "zh", "en"), PAGES)
def test_pages_render_in_both_languages(
    app: FastAPI, seeded: dict[str, int], path: str, username: str, zh: str, en: str
) -> None:
    chinese = page_login(app, username).get(path)
    assert chinese.status_code == 200, chinese.text
    assert zh in chinese.text
    english = page_login(app, username, "en").get(path)
    assert english.status_code == 200 and en in english.text


def test_scorecard_export_is_audited(app: FastAPI, engine: Engine, seeded: dict[str, int]) -> None:
    key = month().strftime("%Y-%m")
    response = page_login(app, "director", "en").get(
        f"/appraisal/scorecards?month={key}&level=team&export=xlsx"
    )
    assert response.status_code == 200
    sheet = workbook_rows(response.content)
    assert sheet[0][:3] == ["Rank", "Name", "Score"] and sheet[1][1] == "早班"
    with session_scope(engine) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [e.target_id for e in events] == ["/appraisal/scorecards"]


def test_targets_editor_names_the_wrong_entry(
    app: FastAPI, engine: Engine, seeded: dict[str, int]
) -> None:
    client = page_login(app, "director", "en")
    bad = client.post(
        "/appraisal/targets",
        data={"text": "targets:\n  - {team: 夜班, contacts: 5}\nweights:\n  contacts: lots\n"},
    )
    assert bad.status_code == 422
    assert 'data-entry="targets[0]" data-field="team"' in bad.text
    assert 'data-entry="weights" data-field="contacts"' in bad.text
    with session_scope(engine) as session:
        assert current_text(session) == DEFAULT_TEXT
    good = client.post(
        "/appraisal/targets", data={"text": "targets:\n  - {team: 早班, saves: 5}\n"}
    )
    assert good.status_code == 303
    page = client.get("/appraisal/targets?saved=1").text
    assert table_rows(page, "appraisal-targets")[0]["name"] == "早班"
    assert page_login(app, "lead").post("/appraisal/targets", data={"text": ""}).status_code == 403


@SQLITE
def test_plan_comment_and_check_through_the_pages(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    today = datetime.now(TZ).date()
    week = (today - timedelta(days=today.weekday())).strftime("%G-W%V")
    agent = page_login(app, "agent", "en")
    saved = agent.post(
        "/appraisal/weekly-plans",
        data={"week": week, "goals": "十位客户", "target_customers": "10", "notes": ""},
    )
    assert saved.status_code == 303
    lead = page_login(app, "lead", "en")
    rows = table_rows(lead.get(f"/appraisal/weekly-plans?week={week}").text, "weekly-plans")
    assert [(r["user"], r["goals"]) for r in rows] == [("Agent", "十位客户")]
    comment = lead.post(
        f"/appraisal/weekly-plans/{people['agent']}/{week}/comment", data={"comment": "很好"}
    )
    assert comment.status_code == 303
    assert "很好" in agent.get("/appraisal/weekly-plans").text
    check = lead.post(
        "/appraisal/daily-checks",
        data={
            "agent_id": str(people["agent"]),
            "day": today.isoformat(),
            "records_checked": "8",
            "result": "ok",
            "findings": "",
        },
    )
    assert check.status_code == 303
    seen = table_rows(agent.get("/appraisal/daily-checks").text, "daily-checks")
    assert [(r["checker"], r["records_checked"], r["result"]) for r in seen] == [
        ("Lead", "8", "OK")
    ]
    assert (
        table_rows(page_login(app, "agent2").get("/appraisal/daily-checks").text, "daily-checks")
        == []
    )
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(WeeklyPlan)) == 1
        assert session.scalar(select(func.count()).select_from(DailyCheck)) == 1


def test_every_appraisal_text_has_chinese() -> None:
    from web.i18n_catalog import missing_chinese

    mine = {k: v for k, v in missing_chinese().items() if any("appraisal" in w for w in v)}
    assert not mine, mine
