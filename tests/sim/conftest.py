"""Fixtures of the simulator tests: the simulated operator (see sim_fixtures)."""

from .sim_fixtures import sim_db, sim_run  # noqa: F401
