"""The organisation API: login, sessions, CSRF, user administration, audit log."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_helpers import PASSWORD, login
from weiwan.ops.org.sessions import CSRF_HEADER


def test_login_me_and_logout(app: FastAPI, people: dict[str, int]) -> None:
    client = login(app, "agent")
    me = client.get("/api/v1/auth/me").json()
    assert me["user"]["username"] == "agent"
    assert me["permissions"]["scope"] == "own"
    assert me["permissions"]["may_see_full_numbers"] is False
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_and_unknown_user_answer_alike(app: FastAPI, people: dict[str, int]) -> None:
    client = TestClient(app)
    wrong = client.post("/api/v1/auth/login", json={"username": "agent", "password": "nope"})
    unknown = client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_lockout_after_five_failures_even_with_the_right_password(
    app: FastAPI, people: dict[str, int]
) -> None:
    client = TestClient(app)
    for _ in range(5):
        client.post("/api/v1/auth/login", json={"username": "agent2", "password": "bad"})
    right = client.post("/api/v1/auth/login", json={"username": "agent2", "password": PASSWORD})
    assert right.status_code == 401
    admin = login(app, "admin")
    unlocked = admin.patch(f"/api/v1/users/{people['agent2']}", json={"unlock": True})
    assert unlocked.status_code == 200
    assert login(app, "agent2").get("/api/v1/auth/me").status_code == 200


def test_unsafe_requests_need_the_csrf_token(app: FastAPI, people: dict[str, int]) -> None:
    client = login(app, "admin")
    body = {"code": "SX", "name_zh": "绍兴分公司", "name_en": "Shaoxing"}
    token = client.headers.pop(CSRF_HEADER)
    assert client.post("/api/v1/branches", json=body).status_code == 403
    client.headers[CSRF_HEADER] = token + "x"
    assert client.post("/api/v1/branches", json=body).status_code == 403
    client.headers[CSRF_HEADER] = token
    assert client.post("/api/v1/branches", json=body).status_code == 201
    assert client.post("/api/v1/branches", json=body).status_code == 409


def test_only_the_admin_manages_users_and_it_is_audited(
    app: FastAPI, people: dict[str, int], branches: dict[str, int]
) -> None:
    new = {
        "username": "newbie",
        "display_name": "New",
        "password": "a-long-enough-pass",
        "role": "agent",
        "branch_id": branches["city"],
    }
    assert login(app, "director").post("/api/v1/users", json=new).status_code == 403
    admin = login(app, "admin")
    created = admin.post("/api/v1/users", json=new)
    assert created.status_code == 201
    assert "password" not in created.text
    assert admin.post("/api/v1/users", json=new).status_code == 409
    bad = admin.post("/api/v1/users", json={**new, "username": "x y", "password": "short"})
    assert bad.status_code == 422
    fields = {tuple(e["loc"]) for e in bad.json()["detail"]}
    assert ("body", "username") in fields and ("body", "password") in fields
    log = login(app, "director").get("/api/v1/audit", params={"action": "config_change"})
    assert any(e["target_id"] == str(created.json()["id"]) for e in log.json())
    assert login(app, "agent").get("/api/v1/audit").status_code == 403


def test_password_reset_ends_existing_sessions(app: FastAPI, people: dict[str, int]) -> None:
    agent = login(app, "agent")
    assert agent.get("/api/v1/auth/me").status_code == 200
    reset = login(app, "admin").patch(
        f"/api/v1/users/{people['agent']}", json={"password": "another-long-pass-1"}
    )
    assert reset.status_code == 200
    assert agent.get("/api/v1/auth/me").status_code == 401
    assert login(app, "agent", "another-long-pass-1").get("/api/v1/auth/me").status_code == 200


def test_users_list_follows_scope(app: FastAPI, people: dict[str, int]) -> None:
    def names(username: str) -> set[str]:
        return {u["username"] for u in login(app, username).get("/api/v1/users").json()}

    assert names("agent") == {"agent"}
    assert names("lead") == {"lead", "agent", "agent2"}
    assert "outsider" not in names("head")
    assert "outsider" in names("director")
    assert login(app, "agent").get(f"/api/v1/users/{people['agent2']}").status_code == 404
