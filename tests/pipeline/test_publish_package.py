"""The publish package keeps one transport and one bookkeeping: the kinds' modules write the
``publications`` row only through ``bookkeeping.record_publication`` and reach the database
dialects only through the transport (``transport``, and its COPY and Spark-executor parts
``copy`` and ``executors``)."""

from __future__ import annotations

import ast
from pathlib import Path

import weiwan.pipeline.publish as publishing

PACKAGE = Path(publishing.__file__).parent
#: the transport's modules: the one way the kinds reach the database
TRANSPORT = frozenset({"transport.py", "copy.py", "executors.py"})
#: name → the only modules of the package that may use it
OWNERS = {
    "Publication": frozenset({"bookkeeping.py"}),  # the publications model
    "__table__": frozenset({"transport.py"}),  # table_of
    "sqlalchemy.dialects": frozenset({"transport.py"}),  # upsert per dialect
    "psycopg": TRANSPORT,  # COPY, from the driver or the Spark executors
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
        if path.name not in OWNERS[name]
    )
    assert strays == []


def test_the_check_sees_a_module_that_writes_publications_itself() -> None:
    planted = "from weiwan.ops.customers.models import Publication\nPublication.__table__\n"
    assert _uses(ast.parse(planted)) == {"Publication", "__table__"}
