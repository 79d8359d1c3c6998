"""The ops domains import each other without a cycle, and the shared ground imports no domain.

The import graph is read with :mod:`ast` from every module under ``src/weiwan/ops`` (imports
inside functions count too). A module ``ops/<domain>/...`` belongs to ``<domain>``; the
top-level modules ``ops/*.py`` (scope, base, deps, bulk, guard, ...) are the shared ground:
every domain may import them, and they import no domain except the two pieces every domain
stands on (see docs/decisions/0010-ops-domains.md): the tables (``ops/<domain>/models.py``)
and the identity domain ``org`` (users, roles, sessions, the actor). Following the imports
module by module from the ground, ``org`` and the tables, no module may import another
domain's code (tables and ``org`` excepted), so no cycle can pass through the ground.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

OPS = Path(__file__).resolve().parents[1] / "src" / "weiwan" / "ops"
PREFIX = ("weiwan", "ops")
NOT_CODE = frozenset({"migrations"})  # Alembic's scripts, not a domain
FOUNDATION = frozenset({"org"})  # the identity domain: every domain and the ground use it
TABLES = "models"  # ops/<domain>/models.py: the tables, imported by the ground (metadata)


def _module_name(path: Path) -> tuple[str, ...]:
    parts = path.relative_to(OPS.parent.parent).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(tree: ast.AST, package: tuple[str, ...]) -> Iterable[tuple[str, ...]]:
    """Every module (or module.name) an import statement anywhere in ``tree`` names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield tuple(alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = (*base, *node.module.split(".")) if node.module else base
            yield module
            for alias in node.names:
                yield (*module, alias.name)


def ops_imports() -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    """Each ops module (dotted parts) -> the ``weiwan.ops`` names it imports."""
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for path in sorted(OPS.rglob("*.py")):
        name = _module_name(path)
        if name[2:3] and name[2] in NOT_CODE:
            continue
        package = name if path.name == "__init__.py" else name[:-1]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {m for m in _imported(tree, package) if m[:2] == PREFIX and len(m) > 2}
    return graph


def domain_of(module: tuple[str, ...]) -> str | None:
    """The domain of an ops module, or ``None`` for the shared ground (``ops/*.py``)."""
    if len(module) > 3 and (OPS / module[2]).is_dir() and module[2] not in NOT_CODE:
        return module[2]
    if len(module) == 3 and (OPS / module[2]).is_dir() and module[2] not in NOT_CODE:
        return module[2]  # the domain package itself
    return None


def domain_graph(imports: Mapping[tuple[str, ...], set[tuple[str, ...]]]) -> dict[str, set[str]]:
    """Domain -> the other domains its modules import."""
    graph: dict[str, set[str]] = {}
    for module, targets in imports.items():
        source = domain_of(module)
        if source is None:
            continue
        graph.setdefault(source, set())
        for target in targets:
            other = domain_of(target)
            if other is not None and other != source:
                graph[source].add(other)
    return graph


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle of ``graph`` as its nodes in order, first node repeated at the end; or
    ``None`` when the graph has none (depth-first search, nodes visited in sorted order)."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start)
            if found:
                return found
    return None


def _is_tables(module: tuple[str, ...]) -> bool:
    return domain_of(module) is not None and TABLES in module[3:5]


def _module_of(target: tuple[str, ...], modules: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """The module an imported name lives in (``ops.tasks.models.Task`` -> ``ops.tasks.models``)."""
    known = set(modules)
    for end in range(len(target), 2, -1):
        if target[:end] in known:
            return target[:end]
    return target


def ground_violations(imports: Mapping[tuple[str, ...], set[tuple[str, ...]]]) -> list[str]:
    """Imports that would let a cycle pass through the shared ground: following imports
    module by module from the ground, the foundation and the tables, a module importing
    another domain's code (tables and ``org`` excepted; for a shared module, any domain's)."""
    start = [m for m in imports if domain_of(m) is None or domain_of(m) in FOUNDATION]
    todo = start + [m for m in imports if _is_tables(m)]
    seen = set(todo)
    wrong = []
    while todo:
        module = todo.pop()
        source = domain_of(module)
        for target in sorted(imports.get(module, ())):
            other = domain_of(target)
            if not (other is None or other in FOUNDATION or other == source or _is_tables(target)):
                wrong.append(f"{'.'.join(module)} imports {'.'.join(target)}")
                continue
            reached = _module_of(target, imports)
            if reached not in seen:
                seen.add(reached)
                todo.append(reached)
    return sorted(set(wrong))


def test_ops_domains_form_no_import_cycle() -> None:
    graph = domain_graph(ops_imports())
    assert len(graph) >= 10, sorted(graph)  # the walk found the domains
    cycle = find_cycle(graph)
    assert cycle is None, "ops domains import each other in a cycle: " + " -> ".join(cycle or [])


def test_the_shared_ground_imports_no_domain_code() -> None:
    imports = ops_imports()
    assert ("weiwan", "ops", "scope") in imports  # the walk found the ground
    assert ground_violations(imports) == []


def test_the_checker_names_a_planted_cycle() -> None:
    graph = {"org": set(), "tasks": {"org", "customers"}, "customers": {"org", "contacts"}}
    assert find_cycle(graph) is None
    graph["contacts"] = {"org", "tasks"}
    assert find_cycle(graph) == ["contacts", "tasks", "customers", "contacts"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_graph_counts_imports_inside_functions_and_relative_ones() -> None:
    source = "def f():\n    from weiwan.ops.tasks import service\nfrom ..offers.models import X\n"
    package = ("weiwan", "ops", "contacts")
    named = set(_imported(ast.parse(source), package))
    imports: dict[tuple[str, ...], set[tuple[str, ...]]] = {
        (*package, "records"): {m for m in named if m[:2] == PREFIX}
    }
    assert domain_graph(imports) == {"contacts": {"tasks", "offers"}}


def test_the_ground_check_flags_a_shared_module_importing_domain_code() -> None:
    imports: dict[tuple[str, ...], set[tuple[str, ...]]] = {
        ("weiwan", "ops", "scope"): {
            ("weiwan", "ops", "tasks", "models", "Task"),
            ("weiwan", "ops", "org", "access", "Actor"),
        },
        ("weiwan", "ops", "bulk"): {("weiwan", "ops", "tasks", "service", "claim")},
        ("weiwan", "ops", "org", "admin"): {("weiwan", "ops", "contacts", "service", "f")},
    }
    assert ground_violations(imports) == [
        "weiwan.ops.bulk imports weiwan.ops.tasks.service.claim",
        "weiwan.ops.org.admin imports weiwan.ops.contacts.service.f",
    ]


def test_the_ground_check_follows_imports_through_the_tables() -> None:
    dq = ("weiwan", "ops", "dataquality")
    imports: dict[tuple[str, ...], set[tuple[str, ...]]] = {
        ("weiwan", "ops", "metadata"): {(*dq, "models")},
        (*dq, "models"): {(*dq, "fields", "FIELD_CODES")},
        (*dq, "fields"): {(*dq, "rules", "check")},
        (*dq, "rules"): {("weiwan", "ops", "contacts", "models", "Contact")},
    }
    assert ground_violations(imports) == []  # own helpers, other domains' tables: no way back
    imports[(*dq, "rules")].add(("weiwan", "ops", "contacts", "service", "record_call"))
    assert ground_violations(imports) == [
        "weiwan.ops.dataquality.rules imports weiwan.ops.contacts.service.record_call"
    ]
