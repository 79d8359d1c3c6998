"""Fixtures of the operational tests (shared with the page tests, see ops_fixtures)."""

from ops_fixtures import (  # noqa: F401
    _cheap_password_hashing,
    app,
    branches,
    empty_engine,
    engine,
    people,
)
