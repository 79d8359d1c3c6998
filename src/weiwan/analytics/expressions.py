"""Tag expressions (标签表达式): a small, safe language analysts write, compiled to Ibis.

Written by hand because Ibis has no backend-neutral parser for string expressions, and
``eval`` or SQL text would let a tag file run anything. The text is parsed with
:mod:`ast` (``mode="eval"``) and only this subset is accepted::

    cond   := cond and cond | cond or cond | not cond
            | value (== != < <= > >= value)+          chains allowed: 0 < x <= 1
            | value [not] in (const, ...)
            | value [not] between value and value     inclusive; also between(x, lo, hi)
            | value
    value  := value (+ - * /) value | -value | (cond) | column | const | func(cond, ...)
    const  := number | "text" | True | False | None
    func   := isnull notnull coalesce abs least greatest lower between

``x between lo and hi`` is rewritten to ``x is __between__(lo, hi)`` before parsing (the
bound ends at and / or / a closing bracket / the end). ``x == None`` means ``isnull(x)``.
A NULL operand gives NULL (SQL three-valued logic; least/greatest skip NULLs as in SQL);
:func:`compile_flag` makes NULL False.
"""

from __future__ import annotations

import ast
import difflib
import functools
import operator
from typing import Any

import ibis
import ibis.expr.types as ir

from weiwan.core.expressions import (
    ARITHMETIC,
    COMPARE,
    KIND_WORDS,
    MAX_LENGTH,
    ExpressionError,
    callee,
    parse_expression,
)

__all__ = [
    "MAX_LENGTH",
    "ExpressionError",
    "compile_expression",
    "compile_flag",
    "parse_expression",
]


def compile_expression(text: str, table: ir.Table) -> ir.Value:
    """Compile ``text`` to an Ibis value over ``table``'s columns; ExpressionError if invalid."""
    return _Compiler(table).visit(parse_expression(text).body)


def compile_flag(text: str, table: ir.Table) -> ir.BooleanValue:
    """Compile a condition; NULL becomes False so a flag is always true or false."""
    value = compile_expression(text, table)
    if not value.type().is_boolean():
        raise ExpressionError(f"expression gives {value.type()}, a condition must be true/false")
    result: ir.BooleanValue = value.fill_null(False)
    return result


def _kind(value: ir.Value) -> str:
    dtype = value.type()
    for kind in ("boolean", "numeric", "string", "temporal", "null"):
        if getattr(dtype, f"is_{kind}")():
            return kind
    return str(dtype)


class _Compiler:
    """Walks a checked syntax tree, building the Ibis expression and checking names and types."""

    def __init__(self, table: ir.Table) -> None:
        self.table = table

    def visit(self, node: ast.expr) -> Any:
        return getattr(self, f"visit_{type(node).__name__}")(node)

    def visit_Name(self, node: ast.Name) -> Any:  # noqa: N802
        if node.id in self.table.columns:
            return self.table[node.id]
        close = difflib.get_close_matches(node.id, list(self.table.columns), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ExpressionError(f"unknown column {node.id!r}{hint}")

    def visit_Constant(self, node: ast.Constant) -> Any:  # noqa: N802
        if isinstance(node.value, bool | int | float | str):
            return ibis.literal(node.value)
        if node.value is None:
            return ibis.null()
        raise ExpressionError(f"constant {node.value!r} is not allowed")

    def visit_Tuple(self, node: ast.expr) -> Any:  # noqa: N802
        raise ExpressionError("a list (a, b, ...) is only allowed after 'in' / 'not in'")

    visit_List = visit_Tuple  # noqa: N815

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:  # noqa: N802
        word = "and" if isinstance(node.op, ast.And) else "or"
        values = [self.typed(v, ("boolean", "null"), f"'{word}'") for v in node.values]
        return functools.reduce(operator.and_ if word == "and" else operator.or_, values)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:  # noqa: N802
        if isinstance(node.op, ast.Not):
            return ~self.typed(node.operand, ("boolean", "null"), "'not'")
        operand = self.typed(node.operand, ("numeric",), "unary minus")
        return -operand if isinstance(node.op, ast.USub) else operand

    def visit_BinOp(self, node: ast.BinOp) -> Any:  # noqa: N802
        symbol, op = ARITHMETIC[type(node.op)]
        left = self.typed(node.left, ("numeric",), symbol)
        return op(left, self.typed(node.right, ("numeric",), symbol))

    def visit_Compare(self, node: ast.Compare) -> Any:  # noqa: N802
        parts = []
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                parts.append(self.membership(left, isinstance(op, ast.NotIn), right_node))
            elif isinstance(op, ast.Is | ast.IsNot):
                between = self.between(left, *right_node.args)  # type: ignore[attr-defined]
                parts.append(~between if isinstance(op, ast.IsNot) else between)
            else:
                right = self.visit(right_node)
                parts.append(self.comparison(left, op, right))
                left = right
        return functools.reduce(operator.and_, parts)

    def comparison(self, left: Any, op: ast.cmpop, right: Any) -> Any:
        symbol, compare = COMPARE[type(op)]
        kinds = (_kind(left), _kind(right))
        if symbol in ("==", "!=") and "null" in kinds:
            other = right if kinds[0] == "null" else left
            return other.isnull() if symbol == "==" else other.notnull()
        _same_kind(f"'{symbol}'", left, right)
        if symbol not in ("==", "!=") and "boolean" in kinds:
            raise ExpressionError(f"cannot order true/false values with {symbol}")
        return compare(left, right)

    def membership(self, left: Any, negated: bool, node: ast.expr) -> Any:
        word = "not in" if negated else "in"
        if not isinstance(node, ast.Tuple | ast.List) or not all(
            isinstance(e, ast.Constant) and e.value is not None for e in node.elts
        ):
            raise ExpressionError(f"'{word}' needs a list of constants, e.g. x {word} ('a', 'b')")
        _same_kind(f"'{word}'", left, *(self.visit(e) for e in node.elts))
        values = [e.value for e in node.elts]  # type: ignore[attr-defined]
        return left.notin(values) if negated else left.isin(values)

    def between(self, x: Any, lo: ast.expr, hi: ast.expr) -> Any:
        low, high = self.visit(lo), self.visit(hi)
        _same_kind("'between'", x, low, high)
        return x.between(low, high)

    def visit_Call(self, node: ast.Call) -> Any:  # noqa: N802
        name = callee(node)
        if name == "between":
            return self.between(self.visit(node.args[0]), *node.args[1:])
        if name == "abs":
            return self.typed(node.args[0], ("numeric",), "abs()").abs()
        if name == "lower":
            return self.typed(node.args[0], ("string",), "lower()").lower()
        args = [self.visit(a) for a in node.args]
        if name in ("isnull", "notnull"):
            return args[0].isnull() if name == "isnull" else args[0].notnull()
        if name in ("coalesce", "least", "greatest"):
            _same_kind(f"{name}()", *args)
            return getattr(ibis, name)(*args)
        raise ExpressionError("'between' needs a value before it: x between LOW and HIGH")

    def typed(self, node: ast.expr, kinds: tuple[str, ...], word: str) -> Any:
        value = self.visit(node)
        if _kind(value) not in kinds:
            got = f"{KIND_WORDS.get(_kind(value), _kind(value))} ({ast.unparse(node)})"
            raise ExpressionError(f"{word} needs {KIND_WORDS[kinds[0]]}, got {got}")
        return value


def _same_kind(word: str, *values: Any) -> None:
    kinds = {_kind(v) for v in values} - {"null"}
    if len(kinds) > 1:
        mixed = " and ".join(KIND_WORDS.get(k, k) for k in sorted(kinds))
        hint = '; put text in quotes, e.g. "prepaid"' if "string" in kinds else ""
        raise ExpressionError(f"cannot mix {mixed} in {word}{hint}")
