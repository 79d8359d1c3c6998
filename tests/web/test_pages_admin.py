"""Administration pages: users, branches and teams, the audit log."""

from __future__ import annotations

import io
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from web.page_helpers import page_login, post_login
from weiwan.core.db import session_scope
from weiwan.ops.org.models import AuditEvent, Branch, Team, User

pytestmark = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)

NEW_PASSWORD = "Fresh-pass-2026"


def test_admin_creates_a_user_who_can_log_in(
    app: FastAPI, engine: Engine, people: dict[str, int], branches: dict[str, int]
) -> None:
    admin = page_login(app, "admin", language="en")
    blank = admin.get("/admin/users").text
    assert re.search(r'<option value="agent" selected>', blank)  # never admin by default
    assert not re.search(r'<option value="admin" selected>', blank)
    form = {
        "username": "newagent",
        "display_name": "New Agent",
        "password": NEW_PASSWORD,
        "role": "agent",
        "branch_id": str(branches["city"]),
        "team_id": str(branches["team"]),
    }
    created = admin.post("/admin/users", data=form)
    assert created.status_code == 303
    page = admin.get(created.headers["location"])
    assert page.status_code == 200 and "New Agent" in page.text
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == "newagent"))
        assert user is not None and user.team_id == branches["team"]
        assert session.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == "config_change", AuditEvent.target_id == str(user.id)
            )
        )
    browser = TestClient(app, follow_redirects=False)
    login = post_login(browser, "newagent", NEW_PASSWORD)
    assert login.status_code == 303

    duplicate = admin.post("/admin/users", data=form)
    assert duplicate.status_code == 422 and 'id="user-error"' in duplicate.text
    short = admin.post("/admin/users", data={**form, "username": "other1", "password": "short"})
    assert short.status_code == 422 and "password" in short.text


def test_admin_deactivates_a_user(app: FastAPI, people: dict[str, int]) -> None:
    admin = page_login(app, "admin")
    page = admin.get(f"/admin/users/{people['agent2']}")
    assert 'id="save-user"' in page.text
    answer = admin.post(
        f"/admin/users/{people['agent2']}",
        data={"display_name": "Agent2", "role": "agent", "branch_id": _branch_of(page.text)},
    )
    assert answer.status_code == 303
    browser = TestClient(app, follow_redirects=False)
    refused = post_login(browser, "agent2")
    assert refused.status_code == 401


def test_centre_head_reads_only_the_branch(
    app: FastAPI, engine: Engine, people: dict[str, int]
) -> None:
    head = page_login(app, "head", language="en")
    page = head.get("/admin/users")
    assert page.status_code == 200
    assert 'id="read-only"' in page.text and 'id="create-user"' not in page.text
    with session_scope(engine) as session:
        visible = {b for b in session.scalars(select(Branch.id)).all()}
        users = session.scalars(select(User)).all()
        city = session.scalar(select(Branch.id).where(Branch.code == "HZ"))
        branch_ids = {
            b.id
            for b in session.scalars(select(Branch)).all()
            if b.id == city or b.parent_id == city
        }
    assert visible
    for user in users:
        shown = f">{user.username}</a>" in page.text
        assert shown == (user.branch_id in branch_ids), user.username
    assert "Ningbo" not in page.text  # the other city branch is outside the head's scope
    refused = head.post(
        "/admin/users",
        data={
            "username": "x1234",
            "display_name": "X",
            "password": NEW_PASSWORD,
            "role": "agent",
            "branch_id": str(city),
        },
    )
    assert refused.status_code == 403
    director = page_login(app, "director").get("/admin/users")
    assert ">outsider</a>" in director.text and "宁波分公司" in director.text
    for username in ("agent", "lead", "analyst"):
        assert page_login(app, username).get("/admin/users").status_code == 403
    assert head.get(f"/admin/users/{people['outsider']}").status_code == 404


def test_admin_creates_branches_and_teams(
    app: FastAPI, engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    admin = page_login(app, "admin")
    sub = admin.post(
        "/admin/branches",
        data={
            "code": "NB-XS",
            "name_zh": "象山支局",
            "name_en": "Xiangshan",
            "parent_id": str(branches["other"]),
        },
    )
    assert sub.status_code == 303
    team = admin.post("/admin/teams", data={"branch_id": str(branches["other"]), "name": "晚班"})
    assert team.status_code == 303
    page = admin.get("/admin/users")
    tree = page.text.split('id="branch-tree"', 1)[1].split('id="create-branch"', 1)[0]
    ningbo = tree.split("宁波分公司", 1)[1]
    assert "象山支局" in ningbo  # listed under its city branch
    with session_scope(engine) as session:
        made = session.scalar(select(Branch).where(Branch.code == "NB-XS"))
        assert made is not None and made.parent_id == branches["other"]
        assert session.scalar(select(Team.id).where(Team.name == "晚班"))
    again = admin.post(
        "/admin/branches", data={"code": "NB-XS", "name_zh": "重复", "name_en": "Dup"}
    )
    assert again.status_code == 422


def test_audit_log_filters_and_export(app: FastAPI, people: dict[str, int]) -> None:
    admin = page_login(app, "admin", language="en")
    admin.post(
        "/admin/teams", data={"branch_id": "1", "name": "Night shift"}
    )  # a config change to find
    page = admin.get("/admin/audit?action=config_change")
    assert page.status_code == 200
    body = page.text.split('id="audit"', 1)[1]
    assert body.count("Configuration change") >= 1 and "Login" not in body.split("</table>")[0]
    director = page_login(app, "director")
    zh = director.get("/admin/audit?action=login_ok")
    assert zh.status_code == 200 and "审计日志" in zh.text
    shown = (
        zh.text.split('id="audit"', 1)[1].split("<tbody>", 1)[1].split("</tbody>")[0].count("<tr>")
    )
    export = director.get("/admin/audit?action=login_ok&export=xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    assert sheet.max_row - 1 == shown >= 2  # the admin's and the director's logins
    assert page_login(app, "head").get("/admin/audit").status_code == 403
    assert admin.get("/admin/audit?export=xlsx").status_code == 403  # admin may not export


def _branch_of(html: str) -> str:
    marker = html.split('id="edit-branch"', 1)[1]
    return marker.split("selected", 1)[0].rsplit('value="', 1)[1].split('"', 1)[0]


def test_users_export_equals_the_page(app: FastAPI, engine: Engine, people: dict[str, int]) -> None:
    head = page_login(app, "head")
    page = head.get("/admin/users")
    assert "用户与机构" in page.text
    shown = page.text.split('id="users"', 1)[1].split("<tbody>", 1)[1].split("</tbody>")[0]
    export = head.get("/admin/users?export=xlsx&table=users")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    usernames = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert usernames and [f">{u}</a>" in shown for u in usernames] == [True] * len(usernames)
    assert len(usernames) == shown.count("<tr>")
    en = page_login(app, "director", language="en").get("/admin/users")
    assert "Users and branches" in en.text and "Hangzhou" in en.text
