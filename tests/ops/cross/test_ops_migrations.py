"""Migrations build the schema from an empty database, identical to the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from weiwan.ops.metadata import target_metadata
from weiwan.ops.migrate import current, downgrade, head, upgrade


def test_upgrade_empty_database_to_head(empty_engine: Engine) -> None:
    assert current(empty_engine) is None
    upgrade(empty_engine)
    assert head() == "0030_uplift_persistence"
    assert current(empty_engine) == head()
    tables = set(inspect(empty_engine).get_table_names())
    assert {
        "branches",
        "teams",
        "users",
        "audit_events",
        "user_sessions",
        "login_failures",
    } <= tables
    upgrade(empty_engine)  # idempotent at head
    assert current(empty_engine) == head()


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, target_metadata)
    assert diff == []


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    downgrade(engine, "base")
    assert current(engine) is None
    assert "users" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current(engine) == head()
