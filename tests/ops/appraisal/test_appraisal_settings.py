"""Appraisal settings: refused with the entry and field named and nothing saved; saved,
audited, used by the team board; centre heads limited to their branches."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from api_helpers import login
from weiwan.core.db import session_scope
from weiwan.ops.appraisal.board import team_board
from weiwan.ops.appraisal.scheme import DEFAULT_TEXT
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import AuditEvent, User

API = "/api/v1/appraisal/settings"
TZ = ZoneInfo("Asia/Shanghai")

BAD = [
    (
        "targets:\n  - {agent: agent, contacts: 5}\n  - {team: 夜班, contacts: 5}\n",
        "targets[1]",
        "team",
    ),
    ("targets:\n  - {branch: XX, saves: 1}\n", "targets[0]", "branch"),
    ("targets:\n  - {agent: nobody, saves: 1}\n", "targets[0]", "agent"),
    ("targets:\n  - {agent: agent, calls: 3}\n", "targets[0]", "calls"),
    ("targets:\n  - {agent: agent, saves: -1}\n", "targets[0]", "saves"),
    ("targets:\n  - {agent: agent, month: 2026-13, saves: 1}\n", "targets[0]", "month"),
    ("weights:\n  contacts: abc\n", "weights", "contacts"),
    ("weights:\n  contacts: -2\n", "weights", "contacts"),
    ("weights:\n  charm: 2\n", "weights", "charm"),
    ("weights:\n  contacts: 0\n  connect_rate: 0\n", "weights", ""),
    ("daily_contact_standard:\n  agent: ten\n", "daily_contact_standard", "agent"),
    ("daily_contact_standard:\n  pilot: 3\n", "daily_contact_standard", "pilot"),
]


def _audits(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(
            session.scalar(select(func.count()).where(AuditEvent.action == "config_change")) or 0
        )


@pytest.mark.parametrize(("text", "entry", "field"), BAD)
def test_bad_settings_are_refused_naming_entry_and_field(
    app: FastAPI, engine: Engine, people: dict[str, int], text: str, entry: str, field: str
) -> None:
    client = login(app, "director")
    response = client.put(API, json={"text": text})
    assert response.status_code == 422, response.text
    body = response.json()
    assert {"entry": entry, "field": field} in [
        {"entry": e["entry"], "field": e["field"]} for e in body["errors"]
    ]
    assert entry in body["detail"]
    assert client.get(API).json()["text"] == DEFAULT_TEXT  # nothing saved
    assert _audits(engine) == 0


def test_every_problem_is_listed_at_once(app: FastAPI, people: dict[str, int]) -> None:
    text = "weights:\n  contacts: x\ntargets:\n  - {team: 夜班, saves: 1}\n  - {agent: agent}\n"
    body = login(app, "director").put(API, json={"text": text}).json()
    assert [(e["entry"], e["field"]) for e in body["errors"]] == [
        ("weights", "contacts"),
        ("targets[0]", "team"),
        ("targets[1]", ""),
    ]


def test_saved_settings_are_audited_and_set_the_board_standard(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    client = login(app, "admin")
    text = "daily_contact_standard:\n  agent: 0\n"
    response = client.put(API, json={"text": text})
    assert response.status_code == 200, response.text
    assert response.json()["settings"]["standards"]["agent"] == 0
    assert client.put(API, json={"text": text}).status_code == 200  # same text: no new event
    assert _audits(engine) == 1
    with session_scope(engine) as session:
        lead = session.get(User, people["lead"])
        assert lead is not None
        board = team_board(session, actor_for(session, lead), datetime.now(TZ).date(), TZ)
    assert board and all(row.standard == 0 and not row.below_standard for row in board)


def test_centre_head_edits_only_their_branches(app: FastAPI, people: dict[str, int]) -> None:
    director = login(app, "director")
    base = "targets:\n  - {agent: outsider, saves: 3}\n"
    assert director.put(API, json={"text": base}).status_code == 200
    head = login(app, "head")
    mine = base + "  - {agent: agent, saves: 2}\n  - {branch: HZ, contacts: 300}\n"
    assert head.put(API, json={"text": mine}).status_code == 200
    theirs = "targets:\n  - {agent: outsider, saves: 9}\n"
    refused = head.put(API, json={"text": theirs})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["entry"] == "targets[0]"
    weights = mine + "weights:\n  contacts: 1\n"
    assert head.put(API, json={"text": weights}).json()["errors"][0]["entry"] == "weights"
    assert login(app, "lead").get(API).json()["editable"] is False
    assert login(app, "lead").put(API, json={"text": base}).status_code == 403
    assert login(app, "agent").get(API).status_code == 403
