"""The publish package keeps one transport and one bookkeeping: the kinds' modules write the
``publications`` row only through ``bookkeeping.record_publication`` and reach the database
dialects only through ``transport``."""

from __future__ import annotations

import ast
from pathlib import Path

import weiwan.pipeline.publish as publishing

PACKAGE = Path(publishing.__file__).parent
#: name → the only module of the package that may use it
OWNERS = {
    "Publication": "bookkeeping.py",  # the publications model
    "__table__": "transport.py",  # table_of
    "sqlalchemy.dialects": "transport.py",  # COPY / upsert per dialect
    "psycopg": "transport.py",
}


def _uses(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in OWNERS for use in found if use == name or use.startswith(name)}


def test_the_kinds_share_one_transport_and_one_bookkeeping() -> None:
    strays = sorted(
        (path.name, name)
        for path in PACKAGE.glob("*.py")
        for name in _uses(ast.parse(path.read_text("utf-8")))
        if OWNERS[name] != path.name
    )
    assert strays == []


def test_the_check_sees_a_module_that_writes_publications_itself() -> None:
    planted = "from weiwan.ops.customers.models import Publication\nPublication.__table__\n"
    assert _uses(ast.parse(planted)) == {"Publication", "__table__"}
