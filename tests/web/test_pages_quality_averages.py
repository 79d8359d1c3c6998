"""The /quality page's averages: one row per agent, even when two agents share a name."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from web.page_helpers import page_login
from web.team_fixtures import ContactRow, add_contacts, table_rows
from weiwan.core.db import session_scope
from weiwan.ops.org.models import User


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_agents_sharing_a_display_name_keep_their_own_average(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    now = datetime.now(ZoneInfo(app.state.settings.timezone))
    with session_scope(engine) as session:
        session.get_one(User, people["agent2"]).display_name = "Agent"  # as the first agent
    first, second = add_contacts(
        engine,
        [
            ContactRow(people["agent"], now - timedelta(minutes=2)),
            ContactRow(people["agent2"], now - timedelta(minutes=1)),
        ],
    )
    client = page_login(app, "lead", language="en")
    for contact, score in ((first, "90"), (second, "60")):
        scored = client.post(f"/quality/{contact}/inspect", data={"score": score})
        assert scored.status_code == 303
    averages = table_rows(client.get("/quality").text, "quality-averages")
    assert sorted((r["agent"], r["inspections"], r["average"]) for r in averages) == [
        ("Agent", "1", "60.00"),
        ("Agent", "1", "90.00"),
    ]
