"""The import direction between the packages of ``src/weiwan``, checked on the source.

Every module is parsed with ``ast``; every import (at module level or inside a function,
relative ones resolved) is checked against ``RULES``, the same rules as the layout in
README ("Layout") and docs/decisions/0009-code-layout.md.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "weiwan"

#: package -> the weiwan packages it must never import
FORBIDDEN: dict[str, frozenset[str]] = {
    "core": frozenset({"analytics", "ops", "web", "pipeline", "sim", "demo", "cli"}),
    "analytics": frozenset({"ops", "web", "pipeline", "sim", "demo", "cli"}),
    "ops": frozenset({"analytics", "pipeline", "web", "sim", "demo", "cli"}),
    "web": frozenset({"analytics", "pipeline", "sim", "demo", "cli"}),
    "sim": frozenset({"ops", "web", "pipeline", "demo", "cli"}),
    "pipeline": frozenset({"ops", "web", "sim", "demo", "cli"}),
    "demo": frozenset(),
    "cli": frozenset(),
}

#: (importing modules, imported package) allowed despite ``FORBIDDEN``: the two bridges
#: between the warehouse and the operational DB, publish (out) and collect (in)
ALLOWED: tuple[tuple[tuple[str, ...], str], ...] = (
    (("weiwan.pipeline.publish",), "weiwan.ops"),
    (("weiwan.pipeline.collect",), "weiwan.ops"),
)

#: the only analytics module sim may use (the data contract the simulator writes)
SIM_ANALYTICS: tuple[str, ...] = ("weiwan.analytics.contract",)


@dataclass(frozen=True)
class Violation:
    """One import against the rules: where it is and what it imports."""

    path: str
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def module_name(path: Path, src: Path = SRC) -> str:
    """The dotted name of the module at ``path`` under ``src``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The absolute names an import statement brings in (``from a import b`` counts ``a.b``,
    which may be a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    return [f"{target}.{alias.name}" if alias.name != "*" else target for alias in node.names]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def _within(name: str, prefix: str) -> bool:
    """``name`` is ``prefix`` or inside it."""
    return name == prefix or name.startswith(prefix + ".")


def _allowed(importer: str, imported: str) -> bool:
    importer_layer, imported_layer = _layer(importer), _layer(imported)
    if importer_layer is None or imported_layer is None or importer_layer == imported_layer:
        return True
    if imported_layer not in FORBIDDEN.get(importer_layer, frozenset()):
        if importer_layer == "sim" and imported_layer == "analytics":
            return any(_within(imported, allowed) for allowed in SIM_ANALYTICS)
        return True
    return any(
        any(_within(importer, a) for a in importers) and _within(imported, package)
        for importers, package in ALLOWED
    )


def check_source(
    source: str, module: str, path: str, *, is_package: bool = False
) -> list[Violation]:
    """The imports in ``source`` (the text of ``module``, shown as ``path``) that break the
    rules, including imports inside functions and relative ones."""
    violations = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for imported in _imported(node, module, is_package):
            if not _allowed(module, imported):
                violations.append(Violation(path, node.lineno, module, imported))
    return violations


def check_tree(src: Path = SRC) -> list[Violation]:
    """Every import against the rules in the modules under ``src/weiwan``."""
    violations = []
    for path in sorted((src / PACKAGE).rglob("*.py")):
        violations += check_source(
            path.read_text(encoding="utf-8"),
            module_name(path, src),
            str(path.relative_to(src.parent)),
            is_package=path.name == "__init__.py",
        )
    return violations


def test_every_package_imports_only_what_the_layers_allow() -> None:
    violations = check_tree()
    assert not violations, "imports against the layers:\n" + "\n".join(map(str, violations))


def test_every_top_level_package_and_module_has_rules() -> None:
    names = {
        p.stem
        for p in (SRC / PACKAGE).iterdir()
        if ((p / "__init__.py").exists() or p.suffix == ".py") and not p.stem.startswith("__")
    }
    assert names <= set(FORBIDDEN), f"without rules: {sorted(names - set(FORBIDDEN))}"


def test_a_planted_wrong_import_is_reported_with_its_line() -> None:
    source = (
        '"""Planted."""\n\nfrom weiwan.core.settings import Settings\nfrom weiwan.ops import x\n'
    )
    violations = check_source(source, "weiwan.analytics.planted", "src/weiwan/analytics/planted.py")
    assert [str(v) for v in violations] == [
        "src/weiwan/analytics/planted.py:4: weiwan.analytics.planted imports weiwan.ops.x"
    ]


def test_imports_inside_functions_and_relative_ones_are_checked() -> None:
    source = (
        "from . import contract\n"
        "from ..analytics import contract as c\n"
        "def f() -> None:\n"
        "    from ..ops.tasks import service\n"
        "    import weiwan.pipeline.run\n"
    )
    violations = check_source(source, "weiwan.sim.planted", "src/weiwan/sim/planted.py")
    assert [(v.line, v.imported) for v in violations] == [
        (4, "weiwan.ops.tasks.service"),
        (5, "weiwan.pipeline.run"),
    ]


def test_sim_may_use_only_the_analytics_contract() -> None:
    ok = check_source("from weiwan.analytics.contract import X\n", "weiwan.sim.a", "a.py")
    bad = check_source("from weiwan.analytics import features\n", "weiwan.sim.a", "a.py")
    assert ok == []
    assert [v.imported for v in bad] == ["weiwan.analytics.features"]


def test_only_the_publish_and_collect_bridges_of_pipeline_may_import_ops() -> None:
    source = "from weiwan.ops.customers.models import Publication\n"
    bridges = (
        "weiwan.pipeline.publish",
        "weiwan.pipeline.publish.metrics",
        "weiwan.pipeline.publish.transport",
        "weiwan.pipeline.collect",
    )
    for bridge in bridges:
        assert check_source(source, bridge, "x.py") == [], bridge
    for other in (
        "weiwan.pipeline.run",
        "weiwan.pipeline.collector",
        "weiwan.pipeline.collect_x",
        "weiwan.pipeline.publish_x",
    ):
        assert [v.importer for v in check_source(source, other, "x.py")] == [other]
