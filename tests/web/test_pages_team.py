"""The shift lead's pages: team board, reassignment and quality inspection."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import Engine, select

from web.page_helpers import page_login
from web.team_fixtures import (
    ContactRow,
    TaskRow,
    add_contacts,
    add_tasks,
    at_local,
    table_rows,
    workbook_rows,
)
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings
from weiwan.ops.appraisal.board import DAILY_CONTACT_STANDARD, REACHED_OUTCOMES
from weiwan.ops.contacts.models import QualityInspection
from weiwan.ops.tasks.models import Task, TaskTransfer

#: most tests on SQLite only; the board's counting SQL also runs on PostgreSQL
SQLITE = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)


def _tz(app: FastAPI) -> ZoneInfo:
    return ZoneInfo(app.state.settings.timezone)


def _workload(
    engine: Engine, app: FastAPI, people: dict[str, int], branches: dict[str, int]
) -> tuple[list[TaskRow], list[ContactRow]]:
    tz = _tz(app)
    now = datetime.now(tz)
    agent, agent2, outsider = people["agent"], people["agent2"], people["outsider"]
    tasks = [
        TaskRow(agent, due_at=at_local(tz, -1, 12)),  # overdue
        TaskRow(agent, due_at=at_local(tz, 0, 0, 1)),  # due today, already overdue
        TaskRow(agent, due_at=at_local(tz, 0, 23)),  # due today, maybe not overdue
        TaskRow(agent, due_at=at_local(tz, 3, 9)),
        TaskRow(agent, status="done", closed_at=now - timedelta(seconds=5)),
        TaskRow(agent, status="done", closed_at=at_local(tz, -1, 12)),
        TaskRow(agent2, due_at=at_local(tz, 1, 9)),
        TaskRow(agent2, status="done", closed_at=now - timedelta(seconds=3)),
        TaskRow(outsider, due_at=at_local(tz, 0, 1)),
    ]
    contacts = [
        *(ContactRow(agent, now - timedelta(seconds=i)) for i in range(1, 12)),  # 11: standard met
        ContactRow(agent, now - timedelta(seconds=30), outcomes=("not_reached",)),
        ContactRow(agent, now - timedelta(seconds=40), status="blocked", outcomes=()),
        ContactRow(agent, at_local(tz, -1, 12)),  # yesterday
        ContactRow(
            agent2, now - timedelta(seconds=2), outcomes=("connected", "accepted"), accepted=True
        ),
        ContactRow(agent2, now - timedelta(seconds=4), outcomes=("wrong_number",)),
        ContactRow(outsider, now - timedelta(seconds=2)),
    ]
    add_tasks(engine, branches["city"], tasks[:-1])
    add_tasks(engine, branches["other"], tasks[-1:])
    add_contacts(engine, contacts)
    return tasks, contacts


def _expected(
    user_id: int, tasks: list[TaskRow], contacts: list[ContactRow], tz: ZoneInfo
) -> dict[str, int]:
    now = datetime.now(tz)
    start = at_local(tz)
    end = at_local(tz, 1)
    mine = [t for t in tasks if t.assignee == user_id]
    today = [
        c for c in contacts if c.user_id == user_id and c.status == "sent" and start <= c.at < end
    ]
    return {
        "open_tasks": sum(t.status == "open" for t in mine),
        "due_today": sum(  # still ahead today: the workbench's definition, never overdue too
            t.status == "open" and t.due_at is not None and max(start, now) <= t.due_at < end
            for t in mine
        ),
        "overdue": sum(
            t.status == "open" and t.due_at is not None and t.due_at < now for t in mine
        ),
        "done_today": sum(
            t.status == "done" and t.closed_at is not None and start <= t.closed_at < end
            for t in mine
        ),
        "contacts_today": len(today),
        "reached": sum(any(o in REACHED_OUTCOMES for o in c.outcomes) for c in today),
        "acceptances_today": sum(c.accepted for c in today),
    }


def test_team_board_counts_follow_the_rows_and_the_team(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    tasks, contacts = _workload(engine, app, people, branches)
    tz = _tz(app)
    client = page_login(app, "lead", language="en")
    response = client.get("/team")
    assert response.status_code == 200
    rows = table_rows(response.text, "team-board")
    by_agent = {int(r["_attrs"]["data-agent"]): r for r in rows if "data-agent" in r["_attrs"]}
    assert set(by_agent) == {people["agent"], people["agent2"]}  # not the outsider
    for user_id, row in by_agent.items():
        expected = _expected(user_id, tasks, contacts, tz)
        for key in ("open_tasks", "due_today", "overdue", "done_today", "acceptances_today"):
            assert int(row[key]) == expected[key], (user_id, key)
        assert row["contacts_today"].split()[0] == str(expected["contacts_today"])
        rate = expected["reached"] / expected["contacts_today"]
        assert row["connect_rate"] == f"{rate * 100:.1f}%"
        below = expected["contacts_today"] < DAILY_CONTACT_STANDARD
        assert ("data-below-standard" in row["_attrs"]) is below
    assert "data-below-standard" not in by_agent[people["agent"]]["_attrs"]  # 11 contacts
    assert "data-below-standard" in by_agent[people["agent2"]]["_attrs"]  # 2 contacts
    total = next(r for r in rows if r["_attrs"].get("id") == "team-total")
    assert int(total["open_tasks"]) == sum(
        _expected(u, tasks, contacts, tz)["open_tasks"] for u in by_agent
    )
    assert "Daily standard: at least 10 customer contacts per agent." in response.text
    assert "Outsider" not in response.text

    # the director sees every agent, and may export exactly the page's rows
    director = page_login(app, "director", language="en")
    page = director.get("/team")
    shown = table_rows(page.text, "team-board")
    assert people["outsider"] in {int(r["_attrs"].get("data-agent", 0)) for r in shown}
    export = director.get("/team?export=xlsx")
    assert export.status_code == 200
    sheet = workbook_rows(export.content)
    assert sheet[0][0] == "Agent"
    assert [r[0] for r in sheet[1:]] == [r["display_name"] for r in shown]
    assert [r[1] for r in sheet[1:]] == [int(r["open_tasks"]) for r in shown]
    # the shift lead may not export (permission table)
    assert client.get("/team?export=xlsx").status_code == 403


@SQLITE
def test_board_is_in_chinese_by_default_and_refused_to_agents(
    app: FastAPI, people: dict[str, int]
) -> None:
    lead = page_login(app, "lead")
    page = lead.get("/team")
    assert page.status_code == 200
    assert "值班看板" in page.text or "班组看板" in page.text
    assert "每日标准" in page.text
    for username in ("agent", "analyst", "clerk"):
        client = page_login(app, username)
        assert client.get("/team").status_code == 403
        assert client.get("/quality").status_code == 403


@SQLITE
def test_reassignment_moves_the_tasks_and_keeps_history(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    tz = _tz(app)
    ids = add_tasks(
        engine,
        branches["city"],
        [TaskRow(people["agent"], due_at=at_local(tz, 1, 9)) for _ in range(3)],
    )
    client = page_login(app, "lead", language="en")
    panel = client.get(f"/team?agent={people['agent']}")
    assert all(f'value="{i}"' in panel.text for i in ids)
    response = client.post(
        "/team/reassign",
        data={
            "task_id": [str(ids[0]), str(ids[1])],
            "to_user_id": str(people["agent2"]),
            "from_agent": str(people["agent"]),
            "reason": "sick leave",
        },
    )
    assert response.status_code == 303
    assert "moved=2" in response.headers["location"]
    with session_scope(engine) as session:
        owners = dict(
            session.execute(select(Task.id, Task.assignee_id).where(Task.id.in_(ids))).all()
        )
        transfers = session.scalars(select(TaskTransfer).order_by(TaskTransfer.id)).all()
        assert owners == {
            ids[0]: people["agent2"],
            ids[1]: people["agent2"],
            ids[2]: people["agent"],
        }
        assert [
            (t.task_id, t.from_user_id, t.to_user_id, t.by_user_id, t.reason) for t in transfers
        ] == [
            (ids[0], people["agent"], people["agent2"], people["lead"], "sick leave"),
            (ids[1], people["agent"], people["agent2"], people["lead"], "sick leave"),
        ]
    # an agent outside the team cannot receive them
    refused = client.post(
        "/team/reassign",
        data={"task_id": [str(ids[2])], "to_user_id": str(people["outsider"])},
    )
    assert refused.status_code == 422
    nothing = page_login(app, "lead").post(
        "/team/reassign",
        data={"to_user_id": str(people["agent2"])},
        headers={"HX-Request": "true"},
    )  # in place, in the reader's words, no field code
    assert nothing.status_code == 422 and nothing.headers["HX-Retarget"] == "#messages"
    assert "请至少选择一个任务" in nothing.text and "task_id" not in nothing.text
    with session_scope(engine) as session:
        kept = session.get(Task, ids[2])
        assert kept is not None and kept.assignee_id == people["agent"]


@SQLITE
def test_quality_sample_and_scoring(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    tz = _tz(app)
    now = datetime.now(tz)
    team_contacts = add_contacts(
        engine,
        [ContactRow(people["agent"], now - timedelta(minutes=i)) for i in range(1, 8)]
        + [ContactRow(people["agent2"], now - timedelta(minutes=i)) for i in range(1, 3)],
    )
    outsider_contacts = add_contacts(engine, [ContactRow(people["outsider"], now)])
    unanswered = add_contacts(  # nothing to listen to: never sampled
        engine,
        [
            ContactRow(people["agent2"], now - timedelta(minutes=i), outcomes=("not_reached",))
            for i in range(3, 9)
        ],
    )
    app.state.settings = app.state.settings.model_copy(
        update={"recording_url": "https://rec.example/play?call={contact_id}&at={at}"}
    )
    client = page_login(app, "lead", language="en")
    page = client.get("/quality?size=3")
    assert page.status_code == 200
    sample = table_rows(page.text, "quality-sample")
    sampled = [int(r["contact_id"]) for r in sample]
    assert len(sampled) == 3 + 2  # 3 of agent's 7, both of agent2's
    assert set(sampled) <= set(team_contacts)
    assert not set(sampled) & set(outsider_contacts)
    assert not set(sampled) & set(unanswered)
    link = f'id="recording-link-{sampled[0]}"'
    assert link in page.text and f"https://rec.example/play?call={sampled[0]}&amp;at=" in page.text
    assert client.get("/quality?size=3").text.count("data-contact=") == 5
    assert [
        int(r["contact_id"])
        for r in table_rows(client.get("/quality?size=3").text, "quality-sample")
    ] == sampled

    target = sampled[0]
    scored = client.post(
        f"/quality/{target}/inspect",
        data={"score": "85", "comments": "clear offer", "recording_ref": "rec/2026/001.wav"},
        headers={"HX-Request": "true"},
    )
    assert scored.status_code == 200
    assert "Scored 85" in scored.text
    with session_scope(engine) as session:
        stored = session.scalars(select(QualityInspection)).all()
        assert [
            (i.contact_id, i.score, i.comments, i.recording_ref, i.inspector_id) for i in stored
        ] == [(target, 85, "clear offer", "rec/2026/001.wav", people["lead"])]
    page = client.get("/quality?size=3")
    assert f'id="inspected-{target}"' in page.text  # shown as scored after a reload
    assert f'id="score-{target}"' not in page.text and f'id="score-{sampled[1]}"' in page.text
    averages = table_rows(page.text, "quality-averages")
    assert len(averages) == 1 and averages[0]["average"] == "85.00"
    assert (
        client.post(f"/quality/{outsider_contacts[0]}/inspect", data={"score": "50"}).status_code
        == 404
    )
    assert client.post(f"/quality/{target}/inspect", data={"score": "101"}).status_code == 422

    # the centre head exports the sample and the inspections as shown
    head = page_login(app, "head", language="en")
    shown = table_rows(head.get("/quality?size=3&seed=7").text, "quality-inspections")
    book = head.get("/quality?size=3&seed=7&export=xlsx&table=quality-inspections")
    rows = workbook_rows(book.content)
    assert [r[3] for r in rows[1:]] == [int(r["score"]) for r in shown] == [85]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",  # only http(s)
        "https://rec.example/{password}",  # an unknown placeholder
        "https://rec.example/{contact_id",  # unbalanced
    ],
)
def test_a_bad_recording_url_is_refused_when_the_settings_load(url: str) -> None:
    with pytest.raises(ValidationError, match="recording_url"):
        Settings(recording_url=url)
    assert Settings(recording_url="https://rec.example/{agent}/{at}").recording_url
