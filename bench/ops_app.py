"""The uvicorn factory bench/bench_ops_api.py serves: the real app on the benchmark's database.

``python -m uvicorn --factory --app-dir bench ops_app:create`` with ``WEIWAN_BENCH_DATABASE_URL``
(a SQLAlchemy URL) and ``WEIWAN_BENCH_HOME`` (a scratch directory) in the environment. The
engine is the one production uses (``weiwan.core.db.make_engine``: the settings' default
pool, recycled), and the app is made as ``weiwan serve`` makes it (``serve_app``).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from weiwan.core.db import make_engine
from weiwan.core.settings import Settings
from weiwan.web.app import serve_app

SECRET_KEY = "bench"


def create() -> FastAPI:
    """The application on the database named by ``WEIWAN_BENCH_DATABASE_URL``."""
    url = os.environ["WEIWAN_BENCH_DATABASE_URL"]
    settings = Settings(
        home=Path(os.environ["WEIWAN_BENCH_HOME"]), database_url=url, secret_key=SECRET_KEY
    )
    return serve_app(settings, make_engine(url))
