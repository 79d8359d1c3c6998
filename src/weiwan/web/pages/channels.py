"""Pages of the channels area (see web/nav.py for who sees them)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
