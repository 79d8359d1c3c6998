"""Directory (LDAP) login against a real OpenLDAP slapd (tests/ldap_fixtures.py): the first
login creates the local mirror from the group mapping, a group change moves it at the next
login, wrong passwords count, disabled or unmapped accounts are refused with their sessions
ended, local accounts log in while the directory is down, and filter characters in a login
name find nobody. One slapd for the module; each test makes people of its own."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from api_helpers import PASSWORD, login
from ldap_fixtures import (  # noqa: F401  (slapd_fixture: the module's server, "slapd")
    GROUPS,
    PEOPLE,
    SERVICE_DN,
    SERVICE_PASSWORD,
    Slapd,
    group_dn,
    slapd_fixture,
)
from web.page_helpers import page_login, post_login
from weiwan.cli import app as cli_app
from weiwan.core.db import session_scope
from weiwan.core.settings import Settings, get_settings
from weiwan.ops.base import utcnow
from weiwan.ops.org.directory_check import DirectoryCheck, check_directory_accounts
from weiwan.ops.org.directory_login import UNUSABLE_PASSWORD
from weiwan.ops.org.ldap_directory import DirectoryUnavailableError
from weiwan.ops.org.models import AuditEvent, LoginFailure, Team, User
from weiwan.web.app import create_app

LOGIN = "/api/v1/auth/login"
#: most tests on SQLite only: the directory's side does not depend on the database (the first
#: login and a group change run on PostgreSQL too)
SQLITE_ONLY = pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
DIRECTORY_PASSWORD = "directory-pass-8c1"
MAPPING = f"""\
# first match wins
groups:
  - group: {group_dn("hz-heads")}
    role: centre_head
    branch: HZ
  - group: {group_dn("hz-agents").upper()}
    role: agent
    branch: HZ
    team: 早班
  - group: {group_dn("nb-agents")}
    role: agent
    branch: NB
"""


@pytest.fixture(scope="module")
def directory(slapd: Slapd) -> Slapd:
    """The module's slapd with its groups, and a directory person named like a local account
    (``agent``) whose directory password is not the local one."""
    for name in ("hz-heads", "hz-agents", "nb-agents", "canteen"):
        slapd.add_group(name)
    slapd.add_person("agent", DIRECTORY_PASSWORD, "Directory Agent", ["hz-heads"])
    return slapd


def ldap_settings(home: Path, url: str, **overrides: Any) -> Settings:
    """Settings with directory login on ``url`` and the test mapping."""
    mapping = home / "groups.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    values: dict[str, Any] = {
        "home": home,
        "secret_key": "test-secret",
        "ldap_url": url,
        "ldap_bind_dn": SERVICE_DN,
        "ldap_bind_password": SERVICE_PASSWORD,
        "ldap_user_base": PEOPLE,
        "ldap_group_base": GROUPS,
        "ldap_group_mapping": mapping,
        "ldap_timeout_seconds": 2,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def ldap_app(engine: Engine, people: dict[str, int], directory: Slapd, tmp_path: Path) -> FastAPI:
    """The app on the test database (one local user per role) with directory login on."""
    return create_app(ldap_settings(tmp_path, directory.url), engine)


def person(directory: Slapd, *groups: str, name: str = "Wang Fang") -> str:
    """A new directory person (a fresh uid: the directory outlives each test's database)."""
    uid = f"wang{uuid.uuid4().hex[:8]}"
    directory.add_person(uid, DIRECTORY_PASSWORD, name, groups)
    return uid


def api_login(app: FastAPI, username: str, password: str = DIRECTORY_PASSWORD) -> Any:
    """``POST /api/v1/auth/login`` from a fresh client; the response."""
    return TestClient(app).post(LOGIN, json={"username": username, "password": password})


def mirror(engine: Engine, username: str) -> User | None:
    """The local user ``username`` as stored."""
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            session.expunge(user)
        return user


def login_events(engine: Engine) -> list[dict[str, Any]]:
    """The login audit events, oldest first: action and detail."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.detail, AuditEvent.user_id)
            .where(AuditEvent.action.in_(["login_ok", "login_failed", "locked"]))
            .order_by(AuditEvent.id)
        ).all()
    return [
        {"action": action, "user_id": user_id, **json.loads(detail or "{}")}
        for action, detail, user_id in rows
    ]


def failures(engine: Engine, username: str) -> int:
    """Failed logins the throttle counts for ``username``."""
    with session_scope(engine) as session:
        return int(
            session.scalar(select(func.count()).where(LoginFailure.username == username)) or 0
        )


def test_first_login_creates_the_user_from_its_group(
    ldap_app: FastAPI, engine: Engine, directory: Slapd, branches: dict[str, int]
) -> None:
    uid = person(directory, "canteen", "hz-agents", "nb-agents")  # hz-agents comes first
    response = api_login(ldap_app, uid)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["auth_source"] == "ldap"
    user = mirror(engine, uid)
    assert user is not None
    assert (user.auth_source, user.role, user.branch_id) == ("ldap", "agent", branches["city"])
    assert user.team_id == branches["team"] and user.display_name == "Wang Fang"
    assert user.directory_dn == f"uid={uid},{PEOPLE}" and user.active
    assert user.password_hash == UNUSABLE_PASSWORD  # never a local login
    assert login_events(engine)[-1] == {
        "action": "login_ok",
        "user_id": user.id,
        "account_source": "ldap",
        "created": True,
        "role": "agent",
    }
    # the name in other capitals is the same directory entry, so the same local user
    again = api_login(ldap_app, uid.upper())
    assert again.status_code == 200 and again.json()["user"]["id"] == user.id
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).where(User.auth_source == "ldap")) == 1


def test_a_changed_group_changes_the_role_at_the_next_login(
    ldap_app: FastAPI, engine: Engine, directory: Slapd, branches: dict[str, int]
) -> None:
    uid = person(directory, "hz-agents")
    assert api_login(ldap_app, uid).status_code == 200
    directory.leave(uid, "hz-agents")
    directory.join(uid, "nb-agents")
    moved = api_login(ldap_app, uid)
    assert moved.status_code == 200
    user = mirror(engine, uid)
    assert user is not None
    assert (user.role, user.branch_id, user.team_id) == ("agent", branches["other"], None)
    assert login_events(engine)[-1]["changed"] == {"branch_id": branches["other"], "team_id": None}
    directory.join(uid, "hz-heads")  # listed first in the mapping: it wins
    assert api_login(ldap_app, uid).status_code == 200
    user = mirror(engine, uid)
    assert user is not None and (user.role, user.branch_id) == ("centre_head", branches["city"])


@SQLITE_ONLY
def test_a_wrong_password_is_refused_counted_and_audited(
    engine: Engine, people: dict[str, int], directory: Slapd, tmp_path: Path
) -> None:
    app = create_app(ldap_settings(tmp_path, directory.url, login_lockout_failures=2), engine)
    uid = person(directory, "hz-agents")
    assert api_login(app, uid, "not-the-password").status_code == 401  # no local user yet
    assert mirror(engine, uid) is None
    assert failures(engine, uid) == 1
    assert login_events(engine)[-1] == {
        "action": "login_failed",
        "user_id": None,
        "reason": "bad_password",
        "username": uid,
    }
    assert api_login(app, uid).status_code == 200  # the right one clears the count
    assert failures(engine, uid) == 0
    for _ in range(2):
        assert api_login(app, uid, "not-the-password").status_code == 401
    user = mirror(engine, uid)
    assert user is not None and user.failed_logins == 2 and user.locked_until is not None
    assert [e["action"] for e in login_events(engine)[-3:]] == [
        "login_failed",
        "login_failed",
        "locked",
    ]
    # locked here: even the right password is refused, and the directory is not asked
    assert api_login(app, uid).status_code == 401
    assert login_events(engine)[-1]["reason"] == "locked"


@SQLITE_ONLY
@pytest.mark.parametrize("how", ["password policy lock", "employeeType disabled"])
def test_disabled_in_the_directory_is_refused_and_its_session_ends(
    ldap_app: FastAPI, engine: Engine, directory: Slapd, how: str
) -> None:
    uid = person(directory, "hz-agents")
    client = login(ldap_app, uid, DIRECTORY_PASSWORD)
    assert client.get("/api/v1/auth/me").status_code == 200
    if how == "password policy lock":
        directory.lock(uid)
    else:
        directory.set_employee_type(uid, "disabled")
    assert api_login(ldap_app, uid).status_code == 401
    user = mirror(engine, uid)
    assert user is not None and not user.active and user.directory_refused
    event = login_events(engine)[-1]
    assert event["reason"] == "directory_disabled" and event["user_id"] == user.id
    assert event["sessions_ended"] == 1 and event["deactivated"] is True
    assert client.get("/api/v1/auth/me").status_code == 401  # the open session has ended
    assert failures(engine, uid) == 1  # counted for the throttle like a local refusal
    # enabled again in the directory: the next login activates the local user again
    if how == "password policy lock":
        directory.unlock(uid)
    else:
        directory.set_employee_type(uid, "staff")
    assert api_login(ldap_app, uid).status_code == 200
    user = mirror(engine, uid)
    assert user is not None and user.active and not user.directory_refused


@SQLITE_ONLY
def test_in_no_mapped_group_is_refused(ldap_app: FastAPI, engine: Engine, directory: Slapd) -> None:
    outsider = person(directory, "canteen")
    assert api_login(ldap_app, outsider).status_code == 401
    assert mirror(engine, outsider) is None  # nobody is created
    assert login_events(engine)[-1]["reason"] == "directory_refused"
    # a known user taken out of every mapped group: refused, deactivated, sessions ended
    uid = person(directory, "hz-agents")
    client = login(ldap_app, uid, DIRECTORY_PASSWORD)
    directory.leave(uid, "hz-agents")
    assert api_login(ldap_app, uid).status_code == 401
    user = mirror(engine, uid)
    assert user is not None and not user.active
    assert login_events(engine)[-1]["reason"] == "directory_refused"
    assert client.get("/api/v1/auth/me").status_code == 401


@SQLITE_ONLY
def test_local_accounts_are_checked_locally_never_by_the_directory(
    ldap_app: FastAPI, engine: Engine, directory: Slapd, people: dict[str, int]
) -> None:
    # the directory has an "agent" too, with another password: the local account decides
    assert api_login(ldap_app, "agent", DIRECTORY_PASSWORD).status_code == 401
    assert api_login(ldap_app, "agent", PASSWORD).status_code == 200
    # another spelling reaches the directory, whose name is the local account's: refused
    assert api_login(ldap_app, "AGENT", DIRECTORY_PASSWORD).status_code == 401
    assert login_events(engine)[-1]["reason"] == "directory_local_name"
    user = mirror(engine, "agent")
    assert user is not None and user.auth_source == "local" and user.role == "agent"


@SQLITE_ONLY
def test_with_directory_login_off_a_directory_account_cannot_log_in(
    ldap_app: FastAPI, engine: Engine, directory: Slapd, tmp_path: Path
) -> None:
    uid = person(directory, "hz-agents")
    assert api_login(ldap_app, uid).status_code == 200
    local_only = create_app(Settings(home=tmp_path, secret_key="test-secret"), engine)
    assert api_login(local_only, uid).status_code == 401
    assert login_events(engine)[-1]["reason"] == "directory_off"
    assert api_login(local_only, "admin", PASSWORD).status_code == 200


@SQLITE_ONLY
def test_an_administrator_cannot_set_a_password_on_a_directory_account(
    ldap_app: FastAPI, engine: Engine, directory: Slapd
) -> None:
    uid = person(directory, "hz-agents")
    user_id = api_login(ldap_app, uid).json()["user"]["id"]
    admin = login(ldap_app, "admin")
    refused = admin.patch(f"/api/v1/users/{user_id}", json={"password": "a-new-password-1"})
    assert refused.status_code == 422 and refused.json()["field"] == "password"
    user = mirror(engine, uid)
    assert user is not None and user.password_hash == UNUSABLE_PASSWORD
    page = page_login(ldap_app, "admin").get(f"/admin/users/{user_id}")
    assert 'id="directory-account"' in page.text and 'name="password"' not in page.text
    # an administrator's deactivation stands: the directory's yes does not undo it
    assert admin.patch(f"/api/v1/users/{user_id}", json={"active": False}).status_code == 200
    assert api_login(ldap_app, uid).status_code == 401
    assert login_events(engine)[-1]["reason"] == "inactive"


#: login names with LDAP filter characters: unescaped, each would find someone or break the
#: filter (``*`` alone would find every person, which the login refuses as ambiguous)
FILTER_NAMES = ("*", "wang*", "*)(uid=*", ")(", "agent)(|(uid=*", "x\\2a", "(uid=*)", "a\x00b")


@SQLITE_ONLY
def test_filter_characters_in_a_login_name_find_nobody(
    ldap_app: FastAPI, engine: Engine, directory: Slapd
) -> None:
    person(directory, "hz-agents")  # someone an unescaped wildcard would find
    for name in FILTER_NAMES:
        assert api_login(ldap_app, name).status_code == 401, name
        event = login_events(engine)[-1]
        assert (event["reason"], event["username"]) == ("unknown_user", name)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).where(User.auth_source == "ldap")) == 0


@SQLITE_ONLY
def test_the_login_page_logs_a_directory_user_in(
    ldap_app: FastAPI, engine: Engine, directory: Slapd
) -> None:
    uid = person(directory, "hz-agents")
    client = TestClient(ldap_app, follow_redirects=False)
    response = post_login(client, uid, DIRECTORY_PASSWORD)
    assert response.status_code == 303, response.text
    assert client.get("/account").status_code == 200
    user = mirror(engine, uid)
    assert user is not None and user.auth_source == "ldap"


@pytest.fixture
def stopped_directory(directory: Slapd) -> Iterator[Slapd]:
    """The module's slapd stopped for the test, started again after."""
    directory.stop()
    try:
        yield directory
    finally:
        directory.start()


@SQLITE_ONLY
def test_with_the_directory_stopped_local_admins_log_in_and_directory_users_are_told(
    engine: Engine,
    people: dict[str, int],
    directory: Slapd,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    uid = person(directory, "hz-agents")
    app = create_app(ldap_settings(tmp_path, directory.url), engine)
    assert api_login(app, uid).status_code == 200  # a mirror exists
    request.getfixturevalue("stopped_directory")
    assert api_login(app, "admin", PASSWORD).status_code == 200  # local: no directory needed
    answer = api_login(app, uid)
    assert answer.status_code == 503 and "directory" in answer.json()["detail"]
    assert answer.headers["Retry-After"] == "30"
    event = login_events(engine)[-1]
    assert event["reason"] == "directory_unreachable"
    assert failures(engine, uid) == 0  # not counted as a wrong password
    user = mirror(engine, uid)
    assert user is not None and user.active and user.failed_logins == 0
    page = post_login(TestClient(app, follow_redirects=False), uid, DIRECTORY_PASSWORD)
    assert page.status_code == 503
    assert "无法连接目录服务" in page.text  # the default language's message
    english = TestClient(app, follow_redirects=False)
    english.cookies.set("weiwan_lang", "en")
    page = post_login(english, uid, DIRECTORY_PASSWORD)
    assert page.status_code == 503 and "cannot be reached" in page.text


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An LDAP URL whose server accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()


@SQLITE_ONLY
def test_a_directory_that_does_not_answer_times_out_as_unreachable(
    engine: Engine, people: dict[str, int], silent_server: str, tmp_path: Path
) -> None:
    app = create_app(ldap_settings(tmp_path, silent_server, ldap_timeout_seconds=1), engine)
    answer = api_login(app, "wang-someone")
    assert answer.status_code == 503
    assert login_events(engine)[-1]["reason"] == "directory_unreachable"


@SQLITE_ONLY
def test_the_team_of_a_rule_must_exist(
    engine: Engine, people: dict[str, int], directory: Slapd, tmp_path: Path
) -> None:
    """A rule naming a team the branch does not have refuses the login (audited), not 500."""
    with session_scope(engine) as session:
        for team in session.scalars(select(Team)):
            team.name = "晚班"
    app = create_app(ldap_settings(tmp_path, directory.url), engine)
    uid = person(directory, "hz-agents")
    assert api_login(app, uid).status_code == 401
    assert login_events(engine)[-1]["reason"] == "directory_mapping"
    assert mirror(engine, uid) is None


@SQLITE_ONLY
def test_the_session_of_a_directory_user_works_like_a_local_one(
    ldap_app: FastAPI, directory: Slapd
) -> None:
    uid = person(directory, "hz-heads")
    client = login(ldap_app, uid, DIRECTORY_PASSWORD)
    me = client.get("/api/v1/auth/me").json()
    assert me["user"]["role"] == "centre_head" and me["permissions"]["scope"] == "branch"
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


@SQLITE_ONLY
@pytest.mark.parametrize("how", ["StartTLS", "ldaps"])
def test_over_tls_with_the_directorys_ca(
    engine: Engine,
    people: dict[str, int],
    directory: Slapd,
    tmp_path: Path,
    how: str,
) -> None:
    url, start_tls = (directory.url, True) if how == "StartTLS" else (directory.ldaps_url, False)
    trusted = ldap_settings(tmp_path, url, ldap_start_tls=start_tls, ldap_ca_file=directory.ca_file)
    uid = person(directory, "hz-agents")
    assert api_login(create_app(trusted, engine), uid).status_code == 200
    # the system's CAs do not know the test CA: the certificate is refused, so unreachable
    untrusted = ldap_settings(tmp_path, url, ldap_start_tls=start_tls)
    assert api_login(create_app(untrusted, engine), uid).status_code == 503
    assert login_events(engine)[-1]["reason"] == "directory_unreachable"


def directory_checks(engine: Engine) -> list[dict[str, Any]]:
    """The ``directory_check`` audit events, oldest first: target user id and detail."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEvent.target_id, AuditEvent.detail)
            .where(AuditEvent.action == "directory_check")
            .order_by(AuditEvent.id)
        ).all()
    return [{"user_id": int(str(target)), **json.loads(detail or "{}")} for target, detail in rows]


def run_check(app: FastAPI, engine: Engine) -> DirectoryCheck:
    """One directory check of the app's directory on the test database."""
    with session_scope(engine) as session:
        return check_directory_accounts(session, app.state.directory.config, now=utcnow())


def test_the_directory_check_ends_sessions_and_follows_groups_between_logins(
    ldap_app: FastAPI, engine: Engine, directory: Slapd
) -> None:
    """An open session does not ask the directory; the check every few minutes does: disabled
    or out of every mapped group ends the sessions at once, a new group moves the user, the
    rest and local accounts are left alone; a second check changes nothing."""
    disabled, dropped, promoted, kept = (person(directory, "hz-agents") for _ in range(4))
    clients = {uid: login(ldap_app, uid, DIRECTORY_PASSWORD) for uid in (disabled, dropped)}
    clients |= {uid: login(ldap_app, uid, DIRECTORY_PASSWORD) for uid in (promoted, kept)}
    local = login(ldap_app, "head")
    directory.set_employee_type(disabled, "disabled")
    directory.leave(dropped, "hz-agents")
    directory.leave(promoted, "hz-agents")
    directory.join(promoted, "hz-heads")
    # before the check the sessions still work (what the check is for)
    assert clients[disabled].get("/api/v1/auth/me").status_code == 200

    result = run_check(ldap_app, engine)
    assert result.checked == 4 and result.unresolved == 0
    assert dict(result.deactivated) == {"directory_disabled": 1, "directory_refused": 1}
    assert result.moved == 1 and result.sessions_ended == 2
    for uid in (disabled, dropped):
        assert clients[uid].get("/api/v1/auth/me").status_code == 401
        user = mirror(engine, uid)
        assert user is not None and not user.active and user.directory_refused
    me = clients[promoted].get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["user"]["role"] == "centre_head"
    assert clients[kept].get("/api/v1/auth/me").json()["user"]["role"] == "agent"
    assert local.get("/api/v1/auth/me").status_code == 200
    events = {e["user_id"]: e for e in directory_checks(engine)}
    ids = {uid: mirror(engine, uid).id for uid in (disabled, dropped, promoted)}  # type: ignore[union-attr]
    assert events[ids[disabled]]["reason"] == "directory_disabled"
    assert events[ids[dropped]]["sessions_ended"] == 1
    assert events[ids[promoted]]["changed"] == {"role": "centre_head", "team_id": None}
    assert len(events) == 3

    again = run_check(ldap_app, engine)
    assert again.checked == 2 and again.moved == 0 and not again.deactivated
    assert len(directory_checks(engine)) == 3
    # enabled again in the directory: the next login activates the user, as before
    directory.set_employee_type(disabled, "staff")
    assert api_login(ldap_app, disabled).status_code == 200


@SQLITE_ONLY
def test_the_directory_check_changes_nothing_when_the_directory_cannot_be_asked(
    ldap_app: FastAPI, engine: Engine, directory: Slapd
) -> None:
    uid = person(directory, "hz-agents")
    client = login(ldap_app, uid, DIRECTORY_PASSWORD)
    directory.set_employee_type(uid, "disabled")
    directory.stop()
    try:
        with pytest.raises(DirectoryUnavailableError):
            run_check(ldap_app, engine)
    finally:
        directory.start()
    assert client.get("/api/v1/auth/me").status_code == 200  # an outage ends nobody's work
    assert directory_checks(engine) == []
    assert run_check(ldap_app, engine).deactivated == {"directory_disabled": 1}


def test_the_directory_check_command_without_a_directory_has_nothing_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIWAN_HOME", str(tmp_path))
    monkeypatch.delenv("WEIWAN_LDAP_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["users", "directory-check"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "WEIWAN_LDAP_URL" in result.output
