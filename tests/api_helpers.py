"""Helpers of the ops API tests: the people fixture's users and a logged-in client."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from weiwan.ops.org.roles import Role
from weiwan.ops.org.sessions import CSRF_HEADER

PASSWORD = "correct-horse-battery-9"
#: one user per role (two agents in the same team, one agent in another branch)
PEOPLE: dict[str, tuple[Role, str, bool]] = {
    # username: (role, branch key, in the city team)
    "admin": (Role.ADMIN, "city", False),
    "director": (Role.DIRECTOR, "city", False),
    "head": (Role.CENTRE_HEAD, "city", False),
    "lead": (Role.SHIFT_LEAD, "city", True),
    "agent": (Role.AGENT, "city", True),
    "agent2": (Role.AGENT, "city", True),
    "outsider": (Role.AGENT, "other", False),
    "analyst": (Role.ANALYST, "city", False),
    "clerk": (Role.STORE_CLERK, "city", False),
    "hotline": (Role.HOTLINE_AGENT, "city", False),
}


def login(app: FastAPI, username: str, password: str = PASSWORD) -> TestClient:
    """A client logged in as ``username`` that sends its CSRF token on every request."""
    client = TestClient(app)
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers[CSRF_HEADER] = response.json()["csrf_token"]
    return client
