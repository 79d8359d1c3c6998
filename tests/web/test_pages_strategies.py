"""The strategy comparison page (/settings/strategies): the arms' evaluation as the daily run
publishes it, in both languages and in Excel; promoting a challenger from the page
(administrators, CSRF, refused without significance unless confirmed); decide.yaml's editor."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from strategy_fixtures import seed_strategies
from web.page_helpers import page_login
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import session_scope
from weiwan.ops.org.config import pending_name
from weiwan.ops.org.models import AuditEvent, ConfigDocument
from weiwan.pipeline.decision_steps import STRATEGY_ARMS_ARROW, UPLIFT_LEVELS_ARROW
from weiwan.pipeline.publish.decisions import publish_decisions

pytestmark = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
PAGE = "/settings/strategies"


@pytest.fixture
def seeded(engine: Engine, people: dict[str, int]) -> Engine:
    seed_strategies(engine)
    return engine


def test_readers_see_the_arms_and_only_administrators_may_promote(
    app: FastAPI, seeded: Engine
) -> None:
    director = page_login(app, "director")
    page = director.get(PAGE)
    assert page.status_code == 200, page.text
    assert "策略对比" in page.text and "显著更优" in page.text and "无显著差异" in page.text
    assert 'id="promote"' not in page.text  # reads, never promotes
    english = page_login(app, "analyst", language="en").get(PAGE).text
    assert "Significantly better" in english and "[+3.00, +7.00]" in english
    assert page_login(app, "agent").get(PAGE).status_code == 403
    admin = page_login(app, "admin", language="en").get(PAGE).text
    assert 'id="promote-bold"' in admin and 'id="promote-tidy"' in admin
    assert 'id="override-tidy"' in admin and 'id="override-bold"' not in admin
    assert 'id="editor-decide"' in admin
    workbook = load_workbook(io.BytesIO(director.get(PAGE + "?export=xlsx").content))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["current", "bold", "tidy"]


def test_a_challenger_is_promoted_from_the_page(app: FastAPI, seeded: Engine) -> None:
    admin = page_login(app, "admin", language="en")
    token = admin.headers.pop("X-CSRF-Token")
    form = {"reason": "autumn test: 5 points less churn", "csrf_token": token}
    assert admin.post(f"{PAGE}/bold/promote", data={"reason": "x"}).status_code == 403  # CSRF
    refused = admin.post(f"{PAGE}/tidy/promote", data=form)
    assert refused.status_code == 409 and 'id="promote-error"' in refused.text
    assert "not been found significantly better" in refused.text
    with session_scope(seeded) as session:
        assert session.get(ConfigDocument, pending_name("decide")) is None
    done = admin.post(f"{PAGE}/bold/promote", data=form)
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?promoted=bold"
    shown = admin.get(done.headers["location"]).text
    assert "bold becomes the champion at the next daily run" in shown
    assert 'id="pending-decide"' in shown
    confirmed = admin.post(f"{PAGE}/tidy/promote", data={**form, "override": "true"})
    assert confirmed.status_code == 303
    with session_scope(seeded) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "strategy_promote")
        ).all()
        assert [e.target_id for e in events] == ["bold", "tidy"]
        assert json.loads(events[1].detail or "{}")["override"] is True
    audit = page_login(app, "admin", language="en").get("/admin/audit").text
    assert "Challenger promoted to champion" in audit


def test_the_daily_runs_evaluation_is_published_for_the_page(
    app: FastAPI, engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    day = date(2026, 11, 30)
    row: dict[str, object] = {name: None for name in STRATEGY_ARMS_ARROW.names}
    row |= {"arm": "default", "champion": True, "share": 1.0, "subscribers": 1200,
            "churned": 180, "churn_rate": 0.15, "churn_low": 0.13, "churn_high": 0.17,
            "holdout_subscribers": 130, "holdout_churned": 31, "holdout_churn_rate": 0.238,
            "uplift": 0.088, "uplift_low": 0.02, "uplift_high": 0.17,
            "uplift_significant": True, "saves": 105.6, "acted": 900, "spend": 8000.0,
            "cost_per_save": 75.76, "gain": float("nan"), "significant": False, "pending": 40,
            "first_day": date(2026, 6, 1), "last_day": day, "snapshot_date": day}  # fmt: skip
    table = pa.Table.from_pandas(pd.DataFrame([row]), STRATEGY_ARMS_ARROW, preserve_index=False)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        wh.replace_snapshot("strategy_arms", ibis.memtable(table), day)
        publish_decisions(wh, engine, day)
    body = page_login(app, "head", language="en").get(PAGE).text
    assert "Champion" in body and "8.80" in body and "1,200" in body
    api = page_login(app, "director").get("/api/v1/strategies").json()
    assert api["snapshot_date"] == day.isoformat() and api["arms"][0]["gain"] is None


def _levels(
    day: date, *rows: tuple[str, float, float], persisting: dict[str, float] | None = None
) -> pa.Table:
    """``uplift_levels`` rows of ``day``: (offer type, level, tree weight); ``persisting``:
    the persistence of some (the others' left blank, as a day stored before it was)."""
    return pa.Table.from_pylist(
        [
            {
                "persistence": (persisting or {}).get(name),
                "offer_type": name,
                "level": level,
                "scale": level,
                "tree_weight": weight,
                "prior_uplift": 0.15,
                "mean_uplift": 0.15 * level,
                "treated": 640,
                "treated_churned": 51,
                "controls": 310,
                "controls_churned": 33,
                "snapshot_date": day,
            }
            for name, level, weight in rows
        ],
        schema=UPLIFT_LEVELS_ARROW,
    )


def test_what_the_outcomes_taught_the_latest_day_is_published_for_the_page_and_the_api(
    app: FastAPI, engine: Engine, people: dict[str, int], tmp_path: Path
) -> None:
    """Each learned offer type's level of its prior, worded for the reader; a later decided
    day that learned nothing shows nothing learned (the offers are valued by their priors)."""
    day, later = date(2026, 11, 30), date(2026, 12, 1)
    director = page_login(app, "director")
    assert "尚未学习" in director.get(PAGE).text
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        levels = _levels(
            day, ("discount", 0.42, 0.0), ("care_call", -0.1, 0.25), persisting={"discount": 0.35}
        )
        wh.replace_snapshot("uplift_levels", ibis.memtable(levels), day)
        publish_decisions(wh, engine, day)
        body = director.get(PAGE).text
        assert "话费优惠" in body and "效果低于先验" in body and "未显示降低流失" in body
        english = page_login(app, "analyst", language="en").get(PAGE).text
        assert "What the outcomes taught the decisions of" in english
        assert "Works less than its prior" in english and "Care call" in english
        api = director.get("/api/v1/strategies").json()
        assert api["learned_on"] == day.isoformat()
        found = {r["offer_type"]: r for r in api["offer_types"]}
        assert found["discount"]["level"] == 0.42 and found["care_call"]["tree_weight"] == 0.25
        # how much of the effect lasts past the first month; a day stored before it: none
        assert (found["discount"]["persistence"], found["care_call"]["persistence"]) == (0.35, 0)
        assert found["care_call"]["window_months"] == 3  # stored before windows were recorded
        assert "首月后效果延续比例" in body
        sheets = load_workbook(io.BytesIO(director.get(PAGE + "?export=xlsx").content))
        assert len(sheets.sheetnames) == 2
        assert page_login(app, "agent").get("/api/v1/strategies").status_code == 403
        publish_decisions(wh, engine, later)  # decided, nothing learned that day
    api = director.get("/api/v1/strategies").json()
    assert api["learned_on"] is None and api["offer_types"] == []
    assert "尚未学习" in director.get(PAGE).text
