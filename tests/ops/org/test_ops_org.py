"""Users, login with lock-out, audit, masking and data scope on real databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from weiwan.core.db import session_scope
from weiwan.ops.org.models import AuditEvent, User
from weiwan.ops.org.roles import PERMISSIONS, Role, Scope, permissions, scope_of
from weiwan.ops.org.schemas import UserCreate, UserOut
from weiwan.ops.org.service import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    AuditAction,
    DuplicateUsernameError,
    OrgError,
    audit,
    authenticate,
    create_user,
    hash_password,
    mask_id_number,
    mask_phone,
    needs_rehash,
    verify_password,
    visible_branch_ids,
)

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _user(
    engine: Engine,
    branch_id: int,
    role: Role = Role.AGENT,
    username: str = "li.wei",
    team_id: int | None = None,
) -> int:
    data = UserCreate(
        username=username,
        display_name="李伟",
        password=PASSWORD,
        role=role,
        branch_id=branch_id,
        team_id=team_id,
    )
    with session_scope(engine) as session:
        return create_user(session, data).id


def _events(engine: Engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def _login(engine: Engine, password: str, now: datetime, username: str = "li.wei") -> bool:
    with session_scope(engine) as session:
        return authenticate(session, username, password, now=now, ip="10.0.0.7") is not None


def test_password_is_stored_as_argon2_hash(engine: Engine, branches: dict[str, int]) -> None:
    user_id = _user(engine, branches["city"], team_id=branches["team"])
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert verify_password(user.password_hash, PASSWORD)
        assert not verify_password(user.password_hash, PASSWORD + "!")
        out = UserOut.model_validate(user)
        assert out.role is Role.AGENT
        assert "password_hash" not in out.model_dump()


def test_verify_password_rejects_malformed_hash() -> None:
    assert not verify_password("not-a-hash", PASSWORD)
    assert verify_password(hash_password("x" * 12), "x" * 12)


def test_password_policy() -> None:
    with pytest.raises(ValidationError, match="at least 10"):
        UserCreate(username="zhang", display_name="张", password="short", role="agent", branch_id=1)
    with pytest.raises(ValidationError, match="username"):
        UserCreate(
            username="zhangsan",
            display_name="张三",
            password="zhangsan2026!",
            role="agent",
            branch_id=1,
        )


def test_duplicate_username_is_refused(engine: Engine, branches: dict[str, int]) -> None:
    _user(engine, branches["city"])
    with pytest.raises(DuplicateUsernameError, match=r"'li\.wei' is already taken"):
        _user(engine, branches["other"])
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_team_must_belong_to_branch(engine: Engine, branches: dict[str, int]) -> None:
    with pytest.raises(OrgError, match="not a team of branch"):
        _user(engine, branches["other"], team_id=branches["team"])


def test_login_ok_and_failed_are_audited(engine: Engine, branches: dict[str, int]) -> None:
    user_id = _user(engine, branches["city"])
    assert _login(engine, PASSWORD, T0)
    assert not _login(engine, "wrong password", T0)
    events = _events(engine)
    assert [(e.action, e.user_id, e.ip) for e in events] == [
        ("login_ok", user_id, "10.0.0.7"),
        ("login_failed", user_id, "10.0.0.7"),
    ]
    assert json.loads(events[1].detail or "{}") == {"reason": "bad_password"}
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.last_login_at is not None
        assert user.failed_logins == 1


def test_lockout_after_five_failures(engine: Engine, branches: dict[str, int]) -> None:
    user_id = _user(engine, branches["city"])
    for i in range(MAX_FAILED_LOGINS):
        assert not _login(engine, f"wrong {i}", T0 + timedelta(seconds=i))
    locked_at = T0 + timedelta(seconds=MAX_FAILED_LOGINS - 1)
    # the 6th attempt fails even with the right password while locked
    assert not _login(engine, PASSWORD, locked_at + timedelta(minutes=1))
    assert not _login(engine, PASSWORD, locked_at + LOCKOUT - timedelta(seconds=1))
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.failed_logins == MAX_FAILED_LOGINS
    # once the lock has expired the right password works and resets the counter
    assert _login(engine, PASSWORD, locked_at + LOCKOUT)
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.failed_logins == 0
        assert user.locked_until is None
    actions = [e.action for e in _events(engine)]
    assert actions == [
        *["login_failed"] * MAX_FAILED_LOGINS,
        "locked",
        "login_failed",
        "login_failed",
        "login_ok",
    ]
    assert all(e.user_id == user_id for e in _events(engine))


def test_unknown_user_is_audited(engine: Engine, branches: dict[str, int]) -> None:
    _user(engine, branches["city"])
    assert not _login(engine, PASSWORD, T0, username="nobody")
    (event,) = _events(engine)
    assert event.action == AuditAction.LOGIN_FAILED
    assert event.user_id is None
    assert json.loads(event.detail or "{}") == {"username": "nobody", "reason": "unknown_user"}


def test_inactive_user_cannot_log_in(engine: Engine, branches: dict[str, int]) -> None:
    user_id = _user(engine, branches["city"])
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        user.active = False
    assert not _login(engine, PASSWORD, T0)
    assert json.loads(_events(engine)[0].detail or "{}") == {"reason": "inactive"}


def test_audit_records_pii_view(engine: Engine, branches: dict[str, int]) -> None:
    user_id = _user(engine, branches["city"])
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        audit(session, user, "pii_view", "customer", "C0001", {"fields": ["手机号"]}, "::1")
    (event,) = _events(engine)
    assert (event.action, event.target_type, event.target_id) == ("pii_view", "customer", "C0001")
    assert json.loads(event.detail or "{}") == {"fields": ["手机号"]}
    assert event.at is not None


@pytest.mark.parametrize(
    ("role", "phone", "id_number"),
    [
        (Role.AGENT, "138****5678", "330102********123X"),
        (Role.HOTLINE_AGENT, "138****5678", "330102********123X"),
        (Role.ADMIN, "138****5678", "330102********123X"),
        (Role.ANALYST, "138****5678", "330102********123X"),
        (Role.DIRECTOR, "13812345678", "33010219900101123X"),
        (Role.CENTRE_HEAD, "13812345678", "33010219900101123X"),
        (Role.SHIFT_LEAD, "138****5678", "330102********123X"),
        # the clerk sees the phone whole, the ID masked like the hotline: the card is in hand
        (Role.STORE_CLERK, "13812345678", "330102********123X"),
    ],
)
def test_masking_per_role(role: Role, phone: str, id_number: str) -> None:
    assert mask_phone("13812345678", role) == phone
    assert mask_id_number("33010219900101123X", role) == id_number


def test_masking_short_values() -> None:
    assert mask_phone("10086", Role.AGENT) == "***86"
    assert mask_id_number("", Role.AGENT) == ""


def test_role_table() -> None:
    assert set(PERMISSIONS) == set(Role)
    assert scope_of("agent") is Scope.OWN
    assert scope_of(Role.SHIFT_LEAD) is Scope.TEAM
    assert scope_of(Role.CENTRE_HEAD) is Scope.BRANCH
    assert scope_of(Role.DIRECTOR) is Scope.ALL
    assert permissions(Role.DIRECTOR).may_approve
    assert permissions(Role.ADMIN).may_configure
    assert not permissions(Role.AGENT).may_export


def test_visible_branch_ids(engine: Engine, branches: dict[str, int]) -> None:
    city, other = branches["city"], branches["other"]
    rural = {branches["rural_a"], branches["rural_b"]}
    ids = {
        role: _user(engine, city, role, username=f"u.{role.value}")
        for role in (
            Role.CENTRE_HEAD,
            Role.DIRECTOR,
            Role.ADMIN,
            Role.AGENT,
            Role.SHIFT_LEAD,
            Role.HOTLINE_AGENT,
        )
    }
    rural_head = _user(engine, branches["rural_a"], Role.CENTRE_HEAD, username="u.rural")
    with session_scope(engine) as session:

        def visible(user_id: int) -> frozenset[int]:
            user = session.get(User, user_id)
            assert user is not None
            return visible_branch_ids(session, user)

        everything = {city, other, *rural}
        assert visible(ids[Role.CENTRE_HEAD]) == {city, *rural}
        assert visible(ids[Role.DIRECTOR]) == everything
        assert visible(ids[Role.ADMIN]) == everything
        assert visible(ids[Role.AGENT]) == {city}
        assert visible(ids[Role.SHIFT_LEAD]) == {city}
        assert visible(ids[Role.HOTLINE_AGENT]) == {city, *rural}  # any caller may ring
        assert visible(rural_head) == {branches["rural_a"]}


def test_login_rehashes_outdated_parameters(engine: Engine, branches: dict[str, int]) -> None:
    user_id = _user(engine, branches["city"])
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        user.password_hash = old
    assert _login(engine, PASSWORD, T0)
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.password_hash != old
        assert not needs_rehash(user.password_hash)
        assert verify_password(user.password_hash, PASSWORD)
