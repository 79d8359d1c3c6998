"""Champion–challenger on the operational side: the evaluation as published, and promoting a
challenger — refused unless found significantly better (or overridden with a reason), saved as
decide.yaml's pending edit with the challenger as champion and no challenger share, audited,
and in effect once the next daily run applies it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from api_helpers import login
from strategy_fixtures import EVALUATED_ON, decide_text, seed_strategies
from weiwan.analytics.decide.config import load_decide_config
from weiwan.core.db import session_scope
from weiwan.core.errors import InvalidRequestError
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.org.config import check_text, pending_name
from weiwan.ops.org.models import AuditEvent, ConfigDocument
from weiwan.pipeline.publish.rule_documents import apply_pending, rule_document_paths

API = "/api/v1/strategies"


@pytest.fixture
def seeded(engine: Engine, people: dict[str, int]) -> Engine:
    seed_strategies(engine)
    return engine


def test_the_evaluation_lists_the_champion_first_with_its_intervals(
    app: FastAPI, seeded: Engine
) -> None:
    answer = login(app, "director").get(API)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["snapshot_date"] == EVALUATED_ON.isoformat()
    arms = {a["arm"]: a for a in body["arms"]}
    assert body["arms"][0]["arm"] == "current" and arms["current"]["champion"]
    assert arms["bold"]["significant"] and arms["bold"]["gain_low"] > 0
    assert not arms["tidy"]["significant"]
    assert login(app, "agent").get(API).status_code == 403


def test_an_empty_evaluation_is_not_an_error(app: FastAPI, people: dict[str, int]) -> None:
    answer = login(app, "analyst").get(API)
    assert answer.status_code == 200 and answer.json() == {
        "snapshot_date": None,
        "arms": [],
        "learned_on": None,
        "offer_types": [],
    }


def test_promoting_a_significant_challenger_takes_effect_at_the_next_run(
    app: FastAPI, seeded: Engine, tmp_path: Path
) -> None:
    admin = login(app, "admin")
    reason = {"reason": "秋季实验：挑战者流失率低5个百分点"}
    assert admin.post(f"{API}/bold/promote", json={}).status_code == 422  # no reason
    assert admin.post(f"{API}/nobody/promote", json=reason).status_code == 404
    assert admin.post(f"{API}/current/promote", json=reason).status_code == 409  # champion
    refused = admin.post(f"{API}/tidy/promote", json=reason)
    assert refused.status_code == 409 and "significant" in refused.json()["detail"]
    assert login(app, "director").post(f"{API}/bold/promote", json=reason).status_code == 403
    with session_scope(seeded) as session:
        assert session.get(ConfigDocument, pending_name("decide")) is None  # nothing saved yet
    done = admin.post(f"{API}/bold/promote", json=reason)
    assert done.status_code == 200, done.text
    assert done.json()["previous_champion"] == "current" and done.json()["significant"]
    with session_scope(seeded) as session:
        document = session.get(ConfigDocument, pending_name("decide"))
        assert document is not None
        pending = json.loads(document.content)
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "strategy_promote")
        ).all()
        assert [(e.target_type, e.target_id) for e in events] == [("strategy_arm", "bold")]
        detail = json.loads(events[0].detail or "{}")
    assert detail["from"] == "current" and detail["gain_low"] == pytest.approx(0.03)
    assert detail["reason"] == reason["reason"] and detail["override"] is False
    section = load_yaml(pending["text"])["strategies"]
    assert section["champion"] == "bold" and section["experiment"] == "autumn"
    assert all("share" not in spec for spec in section["arms"].values())
    assert section["arms"]["bold"] == {"uplift": "prior", "allocation": "greedy"}
    # the next daily run applies it: every subscriber is decided by the former challenger
    verdicts = apply_pending(seeded, tmp_path)
    assert verdicts["decide"]["status"] == "applied", verdicts
    config = load_decide_config(rule_document_paths(tmp_path).decide)
    assert config.strategies.shares() == {"bold": 1.0, "current": 0.0, "tidy": 0.0}
    assert config.for_arm("bold").allocation == "greedy"


def test_a_challenger_not_found_better_is_promoted_only_with_override(
    app: FastAPI, seeded: Engine
) -> None:
    admin = login(app, "admin")
    body = {"reason": "业务决定采用更简洁的策略", "override": True}
    done = admin.post(f"{API}/tidy/promote", json=body)
    assert done.status_code == 200, done.text
    assert not done.json()["significant"]
    with session_scope(seeded) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "strategy_promote")
        ).one()
        assert json.loads(event.detail or "{}")["override"] is True


def test_an_edit_with_a_bad_strategies_section_is_refused_with_its_field() -> None:
    text = decide_text().replace("bold: {share: 0.5", "bold: {share: 0.7")
    text = text.replace("tidy: {description: retired}", "tidy: {share: 0.6}")
    with pytest.raises(InvalidRequestError, match="more than 1") as refused:
        check_text("decide", text)
    assert refused.value.field == "strategies.(file)"
    champion_share = decide_text().replace("current: {}", "current: {share: 0.2}")
    with pytest.raises(InvalidRequestError, match="give it no share"):
        check_text("decide", champion_share)
    assert check_text("decide", decide_text())["strategies"]["champion"] == "current"
