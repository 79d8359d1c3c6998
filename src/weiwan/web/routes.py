"""The API routers of every operational domain, in the order they appear in the OpenAPI doc."""

from __future__ import annotations

from fastapi import APIRouter

from weiwan.ops.org.api import router as org_router

API_ROUTERS: tuple[APIRouter, ...] = (org_router,)
