"""Warehouse values in the published models' column types (Ibis)."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import sqlalchemy as sa


def ibis_type(column: sa.Column[Any]) -> dt.DataType:
    """The Ibis type of a model column."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return dt.boolean
    if isinstance(kind, sa.Integer):
        return dt.int64
    if isinstance(kind, sa.Float):
        return dt.float64
    if isinstance(kind, sa.DateTime):
        return dt.timestamp
    if isinstance(kind, sa.Date):
        return dt.date
    return dt.string


def typed(value: ir.Value, column: sa.Column[Any]) -> ir.Value:
    """``value`` as the model column's type; NaN (and ±inf) become NULL."""
    if value.type().is_floating():
        number: ir.FloatingValue = value
        value = ibis.cases((number.isnan() | number.isinf(), ibis.null(value.type())), else_=number)
    return value.cast(ibis_type(column))


def null_of(column: sa.Column[Any]) -> ir.Value:
    """A NULL of the model column's type."""
    return ibis.null(ibis_type(column))
