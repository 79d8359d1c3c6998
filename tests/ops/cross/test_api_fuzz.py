"""Schemathesis against the OpenAPI document: generated requests for every operation, as
several roles, on PostgreSQL; no response may be a server error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from sqlalchemy import Engine, text

from api_helpers import PASSWORD, PEOPLE, login
from customer_fixtures import publish_customers, publish_rules
from weiwan.core.db import make_engine, session_scope
from weiwan.core.settings import Settings
from weiwan.ops.migrate import upgrade
from weiwan.ops.org.models import Branch, Team
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user
from weiwan.ops.org.sessions import CSRF_HEADER
from weiwan.ops.tasks.models import CustomerAssignment
from weiwan.ops.tasks.service import TaskSpec, create_tasks
from weiwan.web.app import create_app

pytestmark = pytest.mark.postgres
ROLES = ("director", "agent", "admin")


@pytest.fixture(scope="module")
def fuzz_engine(postgres_url: str) -> Iterator[Engine]:
    """A PostgreSQL database with an organisation, customers, tasks and contact rules."""
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine)
    with session_scope(engine) as session:
        city, other = (
            Branch(code="HZ", name_zh="杭州", name_en="Hangzhou"),
            Branch(code="NB", name_zh="宁波", name_en="Ningbo"),
        )
        session.add_all([city, other])
        session.flush()
        team = Team(branch_id=city.id, name="早班")
        session.add(team)
        session.flush()
        branch_ids = {"city": city.id, "other": other.id}
        for username, (role, branch, in_team) in PEOPLE.items():
            create_user(
                session,
                UserCreate(
                    username=username,
                    display_name=username,
                    password=PASSWORD,
                    role=role,
                    branch_id=branch_ids[branch],
                    team_id=team.id if in_team else None,
                ),
            )
    ids = publish_customers(engine, branch_ids["city"], 30)
    publish_rules(engine, {"channels": {"outbound_call": {"caps": {"day": 3}}}})
    with session_scope(engine) as session:
        agent_id = session.execute(text("SELECT id FROM users WHERE username = 'agent'")).scalar()
        for sid in ids[:10]:
            session.add(
                CustomerAssignment(subscriber_id=sid, kind="retention_manager", user_id=agent_id)
            )
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id=sid,
                    source="manual",
                    origin="fuzz",
                    channel="outbound_call",
                    policy_id="keep168",
                )
                for sid in ids
            ],
        )
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    home: Path = tmp_path_factory.mktemp("fuzz")
    return create_app(Settings(home=home, secret_key="fuzz", api_docs_public=True), fuzz_engine)


@pytest.fixture(scope="module")
def credentials(fuzz_app: FastAPI) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """(headers, cookies) of a logged-in session per role."""
    out = {}
    for role in ROLES:
        client = login(fuzz_app, role)
        out[role] = ({CSRF_HEADER: client.headers[CSRF_HEADER]}, dict(client.cookies.items()))
    return out


def _operations(app: FastAPI) -> list[APIOperation[Any, Any, Any, Any]]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    # logging out would end the sessions the other cases use
    return [op for op in operations if not op.path.endswith("/auth/logout")]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(
    fuzz_app: FastAPI,
    credentials: dict[str, tuple[dict[str, str], dict[str, str]]],
    mode: GenerationMode,
) -> None:
    """Valid (positive) and invalid (negative) requests to every operation, as each role."""
    operations = _operations(fuzz_app)
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same cases on every run: CI is not flaky
        )
        def run(case: Any) -> None:
            for headers, cookies in credentials.values():  # each role: other scopes and 403s
                case.call_and_validate(
                    headers=headers, cookies=cookies, checks=[not_a_server_error]
                )

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE
