"""Target selection (目标客户筛选): one filter structure over the profile table, compiled to Ibis.

A filter is JSON: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` nest; leaves are
``{"field": "arpu_1m", "op": ">=", "value": 50}`` or ``{"tag": "high_offnet_caller"}`` (the
boolean column is true). The profile is features ⨝ tags ⨝ segments ⨝ CLV (and later scores).
Each leaf is two-valued: a NULL field never matches, so ``not`` is the exact complement.

Saved target groups (固定场景) are named filters in YAML, refreshed on every pipeline run.
The filter structure and its parsing live in ``weiwan.core.filters`` (the ops side compiles the
same structure to SQL over the published customer view); this module compiles it to Ibis.
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dtypes
import ibis.expr.types as ir
from pydantic import ConfigDict

from weiwan.analytics.config_files import read_yaml
from weiwan.analytics.warehouse import empty_table
from weiwan.core.errors import ConfigError
from weiwan.core.filters import (
    OPS,
    ORDERED_OPS,
    AllOf,
    AnyOf,
    FieldCondition,
    FilterError,
    Node,
    NotOf,
    Op,
    Scalar,
    TagCondition,
    TargetFilter,
    join_path,
)
from weiwan.core.target_groups import TargetGroup, check_groups

_ORDERED = ORDERED_OPS
_join = join_path
_STRICT = ConfigDict(extra="forbid", frozen=True)
#: the filter language itself lives in ``weiwan.core.filters`` (shared with the ops side);
#: these names stay importable from here
__all__ = [
    "OPS",
    "AllOf",
    "AnyOf",
    "FieldCondition",
    "FilterError",
    "Node",
    "NotOf",
    "Op",
    "Scalar",
    "TagCondition",
    "TargetFilter",
    "TargetGroup",
    "compile_filter",
    "evaluate_groups",
    "load_target_groups",
    "preview",
]


def _column(profile: ir.Table, name: str, path: str) -> ir.Column:
    if name not in profile.columns:
        close = difflib.get_close_matches(name, profile.columns, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FilterError(f"{path}: unknown field {name!r}{hint}")
    return profile[name]


def _fits(value: Any, dtype: dtypes.DataType) -> bool:
    if dtype.is_boolean():
        return isinstance(value, bool)
    if dtype.is_numeric():
        return isinstance(value, int | float) and not isinstance(value, bool)
    if dtype.is_string():
        return isinstance(value, str)
    if dtype.is_date() or dtype.is_timestamp():
        if isinstance(value, dt.date):
            return True
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            return False
        return True
    return False


def _literal(value: Any, dtype: dtypes.DataType) -> Any:
    if (dtype.is_date() or dtype.is_timestamp()) and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _leaf(cond: FieldCondition, profile: ir.Table, path: str) -> ir.BooleanValue:
    col = _column(profile, cond.field, _join(path, "field"))
    dtype = col.type()
    where = _join(path, "value")
    op, value = cond.op, cond.value

    def check(v: Any) -> Any:
        if isinstance(v, list) or not _fits(v, dtype):
            raise FilterError(
                f"{where}: {v!r} does not fit field {cond.field!r} of type {dtype} (op {op!r})"
            )
        return _literal(v, dtype)

    if op in ("is_null", "not_null"):
        if value is not None:
            raise FilterError(f"{where}: {op} takes no value")
        return col.isnull() if op == "is_null" else col.notnull()
    if op in _ORDERED | {"between"} and not (
        dtype.is_numeric() or dtype.is_date() or dtype.is_timestamp()
    ):
        raise FilterError(
            f"{_join(path, 'op')}: {op!r} needs a number or date field; {cond.field!r} is {dtype}"
        )
    if op in ("between", "in", "not_in"):
        if not isinstance(value, list) or not value or (op == "between" and len(value) != 2):
            shape = "[low, high]" if op == "between" else "a non-empty list"
            raise FilterError(f"{where}: {op} needs {shape}")
        items = [check(v) for v in value]
        if op == "between":
            result = col.between(items[0], items[1])
        else:
            result = col.isin(items) if op == "in" else col.notin(items)
        return result.fill_null(False)
    if value is None:
        raise FilterError(f"{where}: {op!r} needs a value (use is_null / not_null for NULL)")
    literal = check(value)
    compare = {
        "=": col.__eq__,
        "!=": col.__ne__,
        ">": col.__gt__,
        ">=": col.__ge__,
        "<": col.__lt__,
        "<=": col.__le__,
    }[op]
    result = compare(literal)
    assert isinstance(result, ir.BooleanValue)
    return result.fill_null(False)


def _compile(node: Node, profile: ir.Table, path: str) -> ir.BooleanValue:
    if isinstance(node, AllOf | AnyOf):
        kind = "all" if isinstance(node, AllOf) else "any"
        items = node.all if isinstance(node, AllOf) else node.any
        parts = [_compile(c, profile, _join(path, f"{kind}[{i}]")) for i, c in enumerate(items)]
        result = parts[0]
        for part in parts[1:]:
            result = (result & part) if kind == "all" else (result | part)
        return result
    if isinstance(node, NotOf):
        return ~_compile(node.not_, profile, _join(path, "not"))
    if isinstance(node, TagCondition):
        col = _column(profile, node.tag, _join(path, "tag"))
        if not col.type().is_boolean():
            raise FilterError(
                f"{_join(path, 'tag')}: {node.tag!r} is {col.type()}, not a flag; "
                f'use {{"field": "{node.tag}", "op": "=", "value": ...}}'
            )
        return col.fill_null(False)
    return _leaf(node, profile, path)


def compile_filter(filter: dict[str, Any] | TargetFilter, profile: ir.Table) -> ir.BooleanValue:
    """The filter as a boolean expression over ``profile``; FilterError names the bad path."""
    return _compile(TargetFilter.parse(filter).root, profile, "")


def preview(
    profile: ir.Table, filter: dict[str, Any] | TargetFilter, sample: int = 20
) -> tuple[int, list[dict[str, Any]]]:
    """How many subscribers match, and the first ``sample`` of them by subscriber_id."""
    selected = profile.filter(compile_filter(filter, profile))
    count = int(selected.count().execute())
    rows = selected.order_by("subscriber_id").limit(sample).to_pyarrow().to_pylist()
    return count, rows


def load_target_groups(path: Path | None = None) -> list[TargetGroup]:
    """Read and validate a target-group file; ``None`` gives the shipped default groups. The
    checks are the shared ones (:func:`weiwan.core.target_groups.check_groups`); any problem
    is a ConfigError naming the file, the group and the field."""
    source, raw = read_yaml(path, "target_groups.yaml", "target-group file")
    entries = raw.get("groups") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: expected a top-level 'groups' list")
    problems, groups = check_groups(entries, source=source)
    duplicates = sorted({p.policy_id for p in problems if p.code == "duplicate_id"})
    if duplicates:
        raise ConfigError(f"{source}: duplicate group ids {duplicates}")
    if problems:
        first = problems[0].policy_id
        described = "; ".join(
            f"{p.field if p.field != '(policy)' else '(entry)'}: {p.message}"
            for p in problems
            if p.policy_id == first
        )
        raise ConfigError(f"{source}: group {first}: {described}")
    return groups


def evaluate_groups(profile: ir.Table, groups: list[TargetGroup]) -> ir.Table:
    """(group_id, subscriber_id) for every member of every group; FilterError names the group."""
    parts = []
    for group in groups:
        try:
            predicate = compile_filter(group.filter, profile)
        except FilterError as exc:
            raise FilterError(f"group {group.id}: {exc}") from exc
        parts.append(
            profile.filter(predicate).select(
                group_id=ibis.literal(group.id, "string"), subscriber_id=profile.subscriber_id
            )
        )
    if not parts:
        return empty_table({"group_id": "string", "subscriber_id": "string"})
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
