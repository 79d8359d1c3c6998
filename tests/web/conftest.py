"""Fixtures of the page tests: the operational fixtures (see ops_fixtures)."""

from ops_fixtures import (  # noqa: F401
    _cheap_password_hashing,
    _fresh_live_figures,
    app,
    branches,
    empty_engine,
    engine,
    people,
)
