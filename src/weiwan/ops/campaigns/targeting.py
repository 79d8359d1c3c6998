"""Campaign targets: the analysts' filter language compiled to SQL over ``customer_view``.

The filter structure is ``weiwan.core.filters`` (the warehouse side compiles the same structure
to Ibis in ``analytics.targets``). Here a field is one of the non-PII columns of the published
customer view (:data:`FIELDS`); a tag leaf ``{"tag": "t"}`` is ``tags LIKE '% t %'`` (the
published tag list is space-separated and space-surrounded; ``%`` and ``_`` in the tag are
escaped). Each leaf is two-valued — a NULL column never matches, not even ``!=`` or ``not_in``
— so ``not`` is the exact complement, as on the warehouse side.

Saved target groups (固定场景) are not available here: they are evaluated in the warehouse,
which the request path never reads. Copy the group's filter into the plan instead.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, not_, or_, true
from sqlalchemy.orm import InstrumentedAttribute

from weiwan.core.filters import (
    ORDERED_OPS,
    AllOf,
    AnyOf,
    FieldCondition,
    FilterError,
    Node,
    NotOf,
    TagCondition,
    TargetFilter,
    join_path,
    parse_date,
)
from weiwan.ops.customers.models import CustomerView

Kind = Literal["number", "string", "date"]
_C = CustomerView
#: filterable customer_view columns and their kind; PII (name, number, ID number, customer
#: id), the free-text reasons and the account manager's name are left out on purpose
FIELDS: dict[str, tuple[InstrumentedAttribute[Any], Kind]] = {
    "snapshot_date": (_C.snapshot_date, "date"),
    "gender": (_C.gender, "string"),
    "age": (_C.age, "number"),
    "region": (_C.region, "string"),
    "branch_code": (_C.branch_code, "string"),
    "branch_id": (_C.branch_id, "number"),
    "brand": (_C.brand, "string"),
    "payment_type": (_C.payment_type, "string"),
    "plan_id": (_C.plan_id, "string"),
    "plan_monthly_fee": (_C.plan_monthly_fee, "number"),
    "join_date": (_C.join_date, "date"),
    "tenure_months": (_C.tenure_months, "number"),
    "contract_end_date": (_C.contract_end_date, "date"),
    "status": (_C.status, "string"),
    "star_level": (_C.star_level, "number"),
    "arpu_1m": (_C.arpu_1m, "number"),
    "value_tier": (_C.value_tier, "string"),
    "lifecycle_stage": (_C.lifecycle_stage, "string"),
    "clv_quadrant": (_C.clv_quadrant, "string"),
    "future_value": (_C.future_value, "number"),
    "churn_probability": (_C.churn_probability, "number"),
    "risk_band": (_C.risk_band, "string"),
    "model_version": (_C.model_version, "string"),
}


def _column(name: str, path: str) -> tuple[InstrumentedAttribute[Any], Kind]:
    found = FIELDS.get(name)
    if found is None:
        close = difflib.get_close_matches(name, list(FIELDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FilterError(f"unknown field {name!r}{hint}", path=path)
    return found


def _value(value: Any, kind: Kind, cond: FieldCondition, path: str) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    # finite and within 64 bits: what every database can bind
    if kind == "number" and number and math.isfinite(value) and abs(value) < 2**63:
        return value
    if kind == "string" and isinstance(value, str) and "\x00" not in value:
        return value
    if kind == "date":
        day = parse_date(value)
        if day is not None and not isinstance(value, bool | int | float):
            return day
    raise FilterError(
        f"{value!r} does not fit field {cond.field!r} of kind {kind} (op {cond.op!r})", path=path
    )


def _leaf(cond: FieldCondition, path: str) -> ColumnElement[bool]:
    col, kind = _column(cond.field, join_path(path, "field"))
    where = join_path(path, "value")
    op, value = cond.op, cond.value
    if op in ("is_null", "not_null"):
        if value is not None:
            raise FilterError(f"{op} takes no value", path=where)
        return col.is_(None) if op == "is_null" else col.is_not(None)
    if op in ORDERED_OPS | {"between"} and kind == "string":
        raise FilterError(
            f"{op!r} needs a number or date field; {cond.field!r} is {kind}",
            path=join_path(path, "op"),
        )
    present = col.is_not(None)
    if op in ("between", "in", "not_in"):
        if not isinstance(value, list) or not value or (op == "between" and len(value) != 2):
            shape = "[low, high]" if op == "between" else "a non-empty list"
            raise FilterError(f"{op} needs {shape}", path=where)
        items = [_value(v, kind, cond, where) for v in value]
        if op == "between":
            return and_(present, col.between(items[0], items[1]))
        return and_(present, col.in_(items) if op == "in" else col.not_in(items))
    if value is None:
        raise FilterError(f"{op!r} needs a value (use is_null / not_null for NULL)", path=where)
    if isinstance(value, list):
        raise FilterError(f"{op!r} takes one value, not a list", path=where)
    literal = _value(value, kind, cond, where)
    compare: ColumnElement[bool] = {
        "=": lambda: col == literal,
        "!=": lambda: col != literal,
        ">": lambda: col > literal,
        ">=": lambda: col >= literal,
        "<": lambda: col < literal,
        "<=": lambda: col <= literal,
    }[op]()
    return and_(present, compare)


def _tag(cond: TagCondition, path: str) -> ColumnElement[bool]:
    tag = cond.tag.strip()
    if not tag or "\x00" in tag or any(c.isspace() for c in tag):
        raise FilterError("a tag id is one word", path=join_path(path, "tag"))
    return and_(_C.tags.is_not(None), _C.tags.contains(f" {tag} ", autoescape=True))


def _compile(node: Node, path: str) -> ColumnElement[bool]:
    if isinstance(node, AllOf | AnyOf):
        kind = "all" if isinstance(node, AllOf) else "any"
        items = node.all if isinstance(node, AllOf) else node.any
        parts = [_compile(c, join_path(path, f"{kind}[{i}]")) for i, c in enumerate(items)]
        return and_(true(), *parts) if kind == "all" else or_(false(), *parts)
    if isinstance(node, NotOf):
        return not_(_compile(node.not_, join_path(path, "not")))
    if isinstance(node, TagCondition):
        return _tag(node, path)
    return _leaf(node, path)


def parse_filter(raw: Any) -> TargetFilter:
    """Parse and check ``raw`` against the customer view (:class:`FilterError` names the path)."""
    parsed = TargetFilter.parse(raw)
    _compile(parsed.root, "")
    return parsed


def compile_filter(raw: Any) -> ColumnElement[bool]:
    """The filter as a WHERE clause over ``customer_view``; :class:`FilterError` (a 422 at the
    API) names the path of the first bad part, e.g. ``all[1].field``."""
    return _compile(TargetFilter.parse(raw).root, "")
