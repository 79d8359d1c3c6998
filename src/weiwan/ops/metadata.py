"""The metadata of every ops model, for Alembic (import each domain's models here)."""

from __future__ import annotations

from sqlalchemy import MetaData

import weiwan.ops.org.models  # noqa: F401  (registers the tables)
from weiwan.ops.base import Base

target_metadata: MetaData = Base.metadata
