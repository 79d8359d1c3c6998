"""Alembic migrations of the operational database (run via ``weiwan.ops.migrate``)."""
