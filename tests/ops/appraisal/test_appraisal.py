"""Monthly scorecards: the figures against hand-computed values of the fixture's own rows,
score and rank, the dashboards' league agreeing, closing a month, history and scope."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from api_helpers import login
from appraisal_fixtures import (
    COMPLAINTS,
    CONTACTS,
    DONE_TASKS,
    GONE,
    HOLDOUT,
    MANAGED,
    TREATED,
    TZ,
    C,
    month,
    seed,
)
from weiwan.core.db import session_scope
from weiwan.ops.appraisal.figures import forget_counts
from weiwan.ops.appraisal.models import Scorecard, ScorecardMonth
from weiwan.ops.appraisal.scheme import DEFAULT_STANDARD, DEFAULT_WEIGHTS
from weiwan.ops.appraisal.scorecards import close_month, month_bounds
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import User
from weiwan.ops.reports.live import league

CALLS = ("outbound_call", "account_manager_call")
REACHED = ("connected", "accepted", "refused", "call_back")
API = "/api/v1/appraisal"


def _ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom else None


def _working_days(first: date) -> int:
    last = calendar.monthrange(first.year, first.month)[1]
    return sum(1 for d in range(1, last + 1) if first.replace(day=d).weekday() < 5)


def _reached(c: C) -> bool:
    return c.channel not in CALLS or any(o in REACHED for o in c.outcomes)


def expected(users: set[str]) -> dict[str, Any]:
    """The figures of ``users``' contacts, computed from the fixture's constants."""
    mine = [c for c in CONTACTS if c.user in users]
    calls = [c for c in mine if c.channel in CALLS]
    scores = [c.score for c in mine if c.score is not None]
    asked = [c for c in mine if c.campaign]
    holdout_rate = sum(1 for s in HOLDOUT if s not in GONE) / len(HOLDOUT)
    first: dict[str, C] = {}
    for c in CONTACTS:  # contacts are recorded in this order
        if c.campaign:
            first.setdefault(c.subscriber, c)
    attributed = [s for s, c in first.items() if s in TREATED and c.user in users]
    managed = {s for s, u in MANAGED.items() if u in users}
    in_month = [s for s, day in COMPLAINTS if day is not None]
    return {
        "contacts": len(mine),
        "expected_contacts": DEFAULT_STANDARD * _working_days(month()) * len(users),
        "calls": len(calls),
        "calls_reached": sum(1 for c in calls if _reached(c)),
        "connect_rate": _ratio(sum(1 for c in calls if _reached(c)), len(calls)),
        "retention_success_rate": _ratio(
            sum(c.accepted for c in mine), sum(1 for c in mine if _reached(c))
        ),
        "accepted": sum(c.accepted for c in mine),
        "quality_score": sum(scores) / len(scores) if scores else None,
        "questionnaire_completion": _ratio(sum(c.answered for c in asked), len(asked)),
        "incremental_saves": (
            sum(1 for s in attributed if s not in GONE) - holdout_rate * len(attributed)
            if attributed
            else None
        ),
        "complaints": sum(1 for s in in_month if s in managed),
        "assigned": len({s for u, s in DONE_TASKS if u in users}),
    }


@pytest.fixture
def seeded(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> dict[str, int]:
    seed(engine, branches, people)
    forget_counts()
    return people


def _cards(app: FastAPI, username: str, level: str) -> dict[str, dict[str, Any]]:
    response = login(app, username).get(
        f"{API}/scorecards", params={"month": month().strftime("%Y-%m"), "level": level}
    )
    assert response.status_code == 200, response.text
    return {card["name"]: card for card in response.json()["cards"]}


def _assert_figures(card: dict[str, Any], want: dict[str, Any]) -> None:
    for key, value in want.items():
        got = card["figures"][key]
        if value is None:
            assert got is None, key
        else:
            assert got == pytest.approx(value), key


def test_agent_figures_equal_hand_computed(app: FastAPI, seeded: dict[str, int]) -> None:
    cards = _cards(app, "director", "agent")
    for username in ("agent", "agent2", "outsider"):
        _assert_figures(cards[username.title()], expected({username}))


def test_team_and_branch_add_their_agents_up(app: FastAPI, seeded: dict[str, int]) -> None:
    teams = _cards(app, "director", "team")
    assert set(teams) == {"早班"}
    _assert_figures(teams["早班"], expected({"agent", "agent2"}))
    branches = _cards(app, "director", "branch")
    _assert_figures(branches["杭州分公司"], expected({"agent", "agent2"}))
    _assert_figures(branches["宁波分公司"], expected({"outsider"}))


def _normalised(figures: dict[str, Any], level: list[dict[str, Any]]) -> dict[str, Any]:
    saves = max(max(0.0, f["incremental_saves"] or 0.0) for f in level)
    complaints = max(f["complaints"] for f in level)
    s = figures["incremental_saves"]
    return {
        "contacts": min(1.0, figures["contacts"] / figures["expected_contacts"]),
        "connect_rate": figures["connect_rate"],
        "retention_success_rate": figures["retention_success_rate"],
        "incremental_saves": None if s is None or not saves else max(0.0, s) / saves,
        "quality_score": None
        if figures["quality_score"] is None
        else figures["quality_score"] / 100,
        "questionnaire_completion": figures["questionnaire_completion"],
        "complaints": 1 - figures["complaints"] / complaints if complaints else 1.0,
        "target_attainment": None,
    }


def test_score_is_the_weighted_mean_and_ranks_follow(app: FastAPI, seeded: dict[str, int]) -> None:
    cards = _cards(app, "director", "agent")
    figures = {name: expected({name.lower()}) for name in ("Agent", "Agent2", "Outsider")}
    scores = {}
    for name, f in figures.items():
        values = _normalised(f, list(figures.values()))
        used = {k: v for k, v in values.items() if v is not None}
        scores[name] = (
            100
            * sum(DEFAULT_WEIGHTS[k] * v for k, v in used.items())
            / sum(DEFAULT_WEIGHTS[k] for k in used)
        )
        assert cards[name]["score"] == pytest.approx(scores[name], abs=1e-3)
    order = sorted(scores, key=lambda n: -scores[n])
    assert [cards[n]["rank"] for n in order] == [1, 2, 3]


def test_scorecard_agrees_with_the_dashboards_league(
    engine: Engine, seeded: dict[str, int]
) -> None:
    start, end = month_bounds(month(), TZ)
    with session_scope(engine) as session:
        director = session.get(User, seeded["director"])
        assert director is not None
        rows = {
            r.name: r for r in league(session, actor_for(session, director), "agent", start, end)
        }
    for name in ("Agent", "Agent2", "Outsider"):
        want = expected({name.lower()})
        assert rows[name].contacts == want["contacts"]
        assert rows[name].connect_rate == pytest.approx(want["connect_rate"])
        assert rows[name].success_rate == pytest.approx(want["retention_success_rate"])


def test_agent_sees_only_their_own_card(app: FastAPI, seeded: dict[str, int]) -> None:
    assert set(_cards(app, "agent", "agent")) == {"Agent"}
    assert _cards(app, "agent", "team") == {}
    assert _cards(app, "agent", "branch") == {}
    assert set(_cards(app, "lead", "agent")) == {"Agent", "Agent2"}
    assert set(_cards(app, "lead", "team")) == {"早班"}
    assert set(_cards(app, "head", "branch")) == {"杭州分公司"}
    client = login(app, "agent")
    other = client.get(f"{API}/scorecards/agent/{seeded['agent2']}/history")
    assert other.status_code == 404
    assert client.get(f"{API}/scorecards/agent/{seeded['agent']}/history").status_code == 200
    assert login(app, "clerk").get(f"{API}/scorecards").status_code == 403


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    with session_scope(engine) as session:
        rows = session.scalars(select(Scorecard).order_by(Scorecard.level, Scorecard.subject_id))
        return [
            (
                r.month,
                r.level,
                r.subject_id,
                r.name,
                r.branch_id,
                r.team_id,
                r.score,
                r.rank,
                r.figures,
            )
            for r in rows
        ]


def test_closing_twice_stores_the_same_rows(
    app: FastAPI, engine: Engine, seeded: dict[str, int]
) -> None:
    live = _cards(app, "director", "agent")
    with session_scope(engine) as session:
        stored = close_month(session, month(), TZ)
    first = _stored(engine)
    assert stored == len(first) == 3 + 1 + 2  # agents, the team, two branches
    with session_scope(engine) as session:
        close_month(session, month(), TZ)
    assert _stored(engine) == first
    with session_scope(engine) as session:
        assert session.scalars(select(ScorecardMonth.month)).all() == [month()]
    response = login(app, "director").get(
        f"{API}/scorecards", params={"month": month().strftime("%Y-%m")}
    )
    assert response.json()["closed"] is True
    closed = {c["name"]: c for c in response.json()["cards"]}
    assert {n: (c["score"], c["rank"], c["figures"]) for n, c in closed.items()} == {
        n: (c["score"], c["rank"], c["figures"]) for n, c in live.items()
    }
    history = login(app, "agent").get(f"{API}/scorecards/agent/{seeded['agent']}/history").json()
    assert next(h["month"] for h in history) == month().strftime("%Y-%m")
    assert history[0]["closed"] is True and history[-1]["closed"] is False


def test_the_current_month_cannot_be_closed(engine: Engine, seeded: dict[str, int]) -> None:
    from weiwan.core.errors import InvalidRequestError
    from weiwan.ops.base import utcnow

    with session_scope(engine) as session, pytest.raises(InvalidRequestError, match="ended"):
        close_month(session, utcnow().astimezone(TZ).date(), TZ)


def test_targets_give_attainment(app: FastAPI, seeded: dict[str, int]) -> None:
    key = month().strftime("%Y-%m")
    text = (
        "targets:\n"
        f"  - {{agent: agent, month: '{key}', contacts: 4, saves: 2, assigned: 4}}\n"
        "  - {team: 早班, contacts: 100}\n"
    )
    response = login(app, "director").put(f"{API}/settings", json={"text": text})
    assert response.status_code == 200, response.text
    cards = _cards(app, "director", "agent")
    want = expected({"agent"})
    attainment = cards["Agent"]["figures"]["attainment"]
    assert attainment["contacts"] == pytest.approx(want["contacts"] / 4)
    assert attainment["saves"] == pytest.approx(want["accepted"] / 2)
    assert attainment["assigned"] == pytest.approx(want["assigned"] / 4)
    assert cards["Agent"]["figures"]["target_attainment"] == pytest.approx(
        (min(1, want["contacts"] / 4) + want["accepted"] / 2 + want["assigned"] / 4) / 3
    )
    assert cards["Agent2"]["figures"]["target_attainment"] is None
    team = _cards(app, "director", "team")["早班"]["figures"]
    assert team["attainment"]["contacts"] == pytest.approx(
        expected({"agent", "agent2"})["contacts"] / 100
    )


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_cli_closes_a_month_twice_with_the_same_rows(
    engine: Engine, seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from weiwan.cli import app as cli
    from weiwan.core.settings import get_settings

    monkeypatch.setenv("WEIWAN_DATABASE_URL", str(engine.url))
    get_settings.cache_clear()
    key = month().strftime("%Y-%m")
    try:
        first = CliRunner().invoke(cli, ["appraisal", "close", "--month", key])
        rows = _stored(engine)
        again = CliRunner().invoke(cli, ["appraisal", "close", "--month", key])
        shown = CliRunner().invoke(cli, ["appraisal", "show", "--month", key, "--level", "team"])
        bad = CliRunner().invoke(cli, ["appraisal", "close", "--month", "2026-13"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert f"{key}: {len(rows)} scorecards stored" in first.stdout
    assert again.exit_code == 0 and _stored(engine) == rows
    assert "早班" in shown.stdout and "closed" in shown.stdout
    assert bad.exit_code != 0
