"""Constrained types shared by the ops schemas and routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

#: the largest value of the database's INTEGER columns (ids)
MAX_ID = 2**31 - 1

#: an id in a request body or query
IdField = Annotated[int, Field(ge=1, le=MAX_ID)]
#: an id in a path
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
