"""Pages and routes parse, check, call a service and render: no module under ``web/pages``
builds a SQLAlchemy query or runs one on a session, and no route module (``ops/*/api.py``)
builds one (docs/decisions/0004-web-pages.md, docs/web.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "weiwan"
#: SQLAlchemy names that build a query
QUERY_BUILDERS = frozenset({"select", "update", "insert", "delete", "text", "func"})
#: session (or connection) methods that run one
RUNNERS = frozenset({"execute", "scalar", "scalars"})


def violations(source: str, *, runs: bool) -> list[str]:
    """``line: what`` for every query construct imported or reached through the ``sqlalchemy``
    module (or one of its submodules) in ``source``, and — when ``runs`` — every call of a
    session's ``execute`` / ``scalar`` / ``scalars``."""
    tree = ast.parse(source)
    found: list[str] = []
    modules: set[str] = set()  # local names bound to sqlalchemy modules
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            for alias in node.names:
                if alias.name in QUERY_BUILDERS:
                    found.append(f"{node.lineno}: imports {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in QUERY_BUILDERS
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{node.lineno}: uses {node.value.id}.{node.attr}")
        if (
            runs
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUNNERS
        ):
            found.append(f"{node.lineno}: calls .{node.func.attr}()")
    return sorted(found, key=lambda f: int(f.split(":")[0]))


def _report(paths: list[Path], *, runs: bool) -> dict[str, list[str]]:
    out = {}
    for path in paths:
        found = violations(path.read_text(encoding="utf-8"), runs=runs)
        if found:
            out[str(path.relative_to(SRC))] = found
    return out


def test_no_page_module_builds_or_runs_sql() -> None:
    pages = sorted((SRC / "web" / "pages").rglob("*.py"))
    assert len(pages) > 20  # the pages are where we look
    assert _report(pages, runs=True) == {}


def test_no_route_module_builds_sql() -> None:
    routes = sorted((SRC / "ops").glob("*/api.py"))
    assert len(routes) > 5
    assert _report(routes, runs=False) == {}


@pytest.mark.parametrize(
    ("source", "runs", "expected"),
    [
        ("from sqlalchemy import select, and_\n", False, ["1: imports sqlalchemy.select"]),
        ("from sqlalchemy.sql import func\n", False, ["1: imports sqlalchemy.sql.func"]),
        ("import sqlalchemy as sa\nq = sa.text('x')\n", False, ["2: uses sa.text"]),
        (
            "def page(db):\n    return db.scalars(q)\n",
            True,
            ["2: calls .scalars()"],
        ),
        ("def page(db):\n    return db.scalars(q)\n", False, []),
        ("from sqlalchemy.orm import Session\nfrom sqlalchemy import and_\n", True, []),
        (
            "def f():\n    from sqlalchemy import update\n    return update\n",
            False,
            ["2: imports sqlalchemy.update"],
        ),
    ],
)
def test_the_check_finds_planted_sql(source: str, runs: bool, expected: list[str]) -> None:
    assert violations(source, runs=runs) == expected
