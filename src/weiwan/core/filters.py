"""The target filter language (目标客户筛选条件) as data: parsing and validation only.

A filter is JSON: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` nest; leaves are
``{"field": "arpu_1m", "op": ">=", "value": 50}`` or ``{"tag": "high_offnet_caller"}``.
Ops: ``= != > >= < <= between in not_in is_null not_null``.

Shared by the warehouse side (``analytics.targets`` compiles it to Ibis over the profile) and the
operational side (``ops.campaigns.targeting`` compiles it to SQL over ``customer_view``), so an
analyst's filter means the same thing in both. No engine here: each side checks field names and
types against its own table. Both compile a leaf two-valued (a NULL field never matches), so
``not`` is the exact complement.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weiwan.core.errors import MAX_NESTING, InvalidRequestError, localisable

Op = Literal["=", "!=", ">", ">=", "<", "<=", "between", "in", "not_in", "is_null", "not_null"]
OPS: tuple[str, ...] = Op.__args__  # type: ignore[attr-defined]
#: ops that need an ordered (number or date) field
ORDERED_OPS = frozenset({">", ">=", "<", "<="})
Scalar = bool | int | float | str | dt.date
_STRICT = ConfigDict(extra="forbid", frozen=True)


class FilterError(InvalidRequestError):
    """A filter is malformed or does not fit the table; the message names the path in it.

    ``path`` (also ``field``) is the place in the filter, e.g. ``all[1].field``, when the
    raiser gave it separately; ``reason`` is the message without the path.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        self.reason = message
        super().__init__(message, field=path)


class FieldCondition(BaseModel):
    """A leaf comparing one field with a value."""

    model_config = _STRICT
    field: str
    op: Op
    value: Scalar | list[Scalar] | None = None


class TagCondition(BaseModel):
    """A leaf true when the subscriber carries the tag."""

    model_config = _STRICT
    tag: str


class AllOf(BaseModel):
    """All children hold."""

    model_config = _STRICT
    all: list[Node]


class AnyOf(BaseModel):
    """At least one child holds."""

    model_config = _STRICT
    any: list[Node]


class NotOf(BaseModel):
    """The child does not hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    not_: Node = Field(alias="not")


Node = FieldCondition | TagCondition | AllOf | AnyOf | NotOf
for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()
_KEYS: dict[str, type[BaseModel]] = {
    "all": AllOf,
    "any": AnyOf,
    "not": NotOf,
    "tag": TagCondition,
    "field": FieldCondition,
}


class TargetFilter(BaseModel):
    """A whole filter; build it with :meth:`parse` for messages that name the path."""

    model_config = _STRICT
    root: Node

    @classmethod
    def parse(cls, raw: Any) -> TargetFilter:
        """Validate ``raw`` (JSON-like); :class:`FilterError` names the bad path."""
        if isinstance(raw, TargetFilter):
            return raw
        check_depth(raw)
        return cls(root=_parse(raw, ""))


#: the message of a filter nested too deeply (English id; the web shows its translation)
DEPTH_MESSAGE = "nested more than %(limit)s levels deep (all / any / not); make the filter flatter"


def check_depth(raw: Any, limit: int = MAX_NESTING) -> None:
    """:class:`FilterError` naming the path where ``raw`` nests all / any / not more than
    ``limit`` levels deep; checked without recursion, before anything recurses over it."""
    stack: list[tuple[Any, str, int]] = [(raw, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        children: list[tuple[Any, str]] = []
        for kind in ("all", "any"):
            if isinstance(node.get(kind), list):
                items = node[kind]
                children += [(c, join_path(path, f"{kind}[{i}]")) for i, c in enumerate(items)]
        if "not" in node:
            children.append((node["not"], join_path(path, "not")))
        if children and depth > limit:
            error = FilterError(DEPTH_MESSAGE % {"limit": limit}, path=path or "(filter)")
            raise localisable(error, DEPTH_MESSAGE, limit=limit)
        stack.extend((child, where, depth + 1) for child, where in children)


def join_path(path: str, key: str) -> str:
    """``all[0]`` + ``field`` → ``all[0].field``; ``""`` + ``all[0]`` → ``all[0]``."""
    return f"{path}.{key}" if path and not key.startswith("[") else f"{path}{key}"


def _parse(raw: Any, path: str) -> Node:
    where = path or "(filter)"
    if not isinstance(raw, dict):
        raise FilterError(f"expected an object, got {type(raw).__name__}", path=where)
    kinds = [k for k in _KEYS if k in raw]
    if len(kinds) != 1:
        raise FilterError(
            "expected exactly one of all / any / not / tag / field, got "
            f"{', '.join(map(repr, raw)) or 'nothing'}",
            path=where,
        )
    kind = kinds[0]
    if kind in ("all", "any"):
        extra = set(raw) - {kind}
        if extra:
            raise FilterError(f"unexpected keys {sorted(extra)}", path=where)
        items = raw[kind]
        if not isinstance(items, list) or not items:
            raise FilterError("expected a non-empty list of conditions", path=join_path(path, kind))
        children = [_parse(item, join_path(path, f"{kind}[{i}]")) for i, item in enumerate(items)]
        return AllOf(all=children) if kind == "all" else AnyOf(any=children)
    if kind == "not":
        if set(raw) != {"not"}:
            raise FilterError(f"unexpected keys {sorted(set(raw) - {'not'})}", path=where)
        return NotOf(not_=_parse(raw["not"], join_path(path, "not")))
    model = _KEYS[kind]
    try:
        leaf = model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"][:1]) or kind
        raise FilterError(str(err["msg"]), path=join_path(path, loc)) from exc
    assert isinstance(leaf, FieldCondition | TagCondition)
    return leaf


def parse_date(value: Any) -> dt.date | None:
    """``value`` as a date (a date, or an ISO string), else ``None``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None
