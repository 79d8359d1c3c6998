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
import io
import keyword
import operator
import tokenize
from typing import Any

import ibis
import ibis.expr.types as ir

from weiwan.core.errors import MAX_NESTING, WeiwanError

MAX_LENGTH = 2000
_BETWEEN = "__between__"
_FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min, max) number of arguments
    "isnull": (1, 1), "notnull": (1, 1), "coalesce": (2, 99), "abs": (1, 1),
    "least": (2, 99), "greatest": (2, 99), "lower": (1, 1), "between": (3, 3),
}  # fmt: skip
_ARITHMETIC = {ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub),
               ast.Mult: ("*", operator.mul), ast.Div: ("/", operator.truediv)}  # fmt: skip
_COMPARE = {ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne),
            ast.Lt: ("<", operator.lt), ast.LtE: ("<=", operator.le),
            ast.Gt: (">", operator.gt), ast.GtE: (">=", operator.ge)}  # fmt: skip
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Compare, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.Name, ast.Load,
    ast.Constant, ast.Call, ast.Tuple, ast.List, *_ARITHMETIC, *_COMPARE,
)  # fmt: skip
_CONSTRUCTS = {
    "Attribute": "attribute access (a.b)", "Subscript": "subscript (x[i])", "Lambda": "lambda",
    "IfExp": "conditional expression (a if c else b)", "NamedExpr": "assignment (:=)",
    "Dict": "dict literal", "Set": "set literal (use a tuple)", "JoinedStr": "f-string",
    "Starred": "star argument", "keyword": "keyword argument (f(x=1))",
    "ListComp": "comprehension", "SetComp": "comprehension", "DictComp": "comprehension",
    "GeneratorExp": "comprehension", "Mod": "operator %", "Pow": "operator **",
    "FloorDiv": "operator //", "MatMult": "operator @", "BitAnd": "operator & (use and)",
    "BitOr": "operator | (use or)", "BitXor": "operator ^", "Invert": "operator ~ (use not)",
    "LShift": "operator <<", "RShift": "operator >>",
}  # fmt: skip
_KIND_WORDS = {"numeric": "numbers", "string": "text", "boolean": "true/false", "null": "NULL"}


class ExpressionError(WeiwanError):
    """An expression that cannot be parsed or compiled; the message says what and why."""


def parse_expression(text: str) -> ast.Expression:
    """Parse ``text`` and reject every construct outside the language (no table needed)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(_rewrite_between(text.strip()), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"expression {text!r} is too deeply nested") from None
    _check_depth(tree)
    nodes = list(ast.walk(tree))
    for node in nodes:
        if not isinstance(node, _ALLOWED):
            name = type(node).__name__
            raise ExpressionError(f"{_CONSTRUCTS.get(name, name)} is not allowed in {text!r}")
    for node in nodes:
        if isinstance(node, ast.Call):
            _check_call(node)
        elif isinstance(node, ast.Name) and node.id.startswith("_") and node.id != _BETWEEN:
            raise ExpressionError(f"name {node.id!r} is not allowed (leading underscore)")
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Is | ast.IsNot) and _callee(right) != _BETWEEN
            for op, right in zip(node.ops, node.comparators, strict=True)
        ):
            raise ExpressionError("'is' is not supported; use == or isnull(x)")
    return tree


def _check_depth(tree: ast.Expression, limit: int = MAX_NESTING) -> None:
    """ExpressionError when operators, ``not`` and calls nest more than ``limit`` deep (the
    compiler and Ibis recurse once or more per level); walked without recursion."""
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise ExpressionError(
                f"expression is nested more than {limit} levels deep (not, operators, calls); "
                "split it into simpler tags"
            )
        children = ast.iter_child_nodes(node)
        stack.extend((child, depth + 1) for child in children if isinstance(child, ast.expr))


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


def _callee(node: ast.expr) -> str | None:
    return node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None


def _check_call(node: ast.Call) -> None:
    name = _callee(node)
    if name is None:
        raise ExpressionError("calling a computed function is not allowed")
    if name not in _FUNCTIONS and name != _BETWEEN:
        raise ExpressionError(
            f"call to {name!r} is not allowed; functions: {', '.join(_FUNCTIONS)}"
        )
    low, high = _FUNCTIONS.get(name, (2, 2))
    if not low <= len(node.args) <= high:
        want = str(low) if low == high else f"at least {low}"
        raise ExpressionError(f"{name}() takes {want} argument(s), got {len(node.args)}")


def _rewrite_between(text: str) -> str:
    """``x [not] between a and b`` → ``x is [not] __between__(a, b)``."""
    try:
        tokens = [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)]
    except (tokenize.TokenError, SyntaxError):
        return text  # ast.parse reports the error
    infix = {
        i for i, t in enumerate(tokens) if t == (tokenize.NAME, "between") and _infix(tokens, i)
    }
    if not infix:
        return text
    out: list[tuple[int, str]] = []
    pending: list[tuple[int, str]] = []  # (bracket depth, "low" | "high") of open clauses
    depth = 0
    for i, (kind, string) in enumerate(tokens):
        if string in ("and", "or", ")", "]", ",") or kind in (tokenize.NEWLINE, tokenize.ENDMARKER):
            while pending and pending[-1] == (depth, "high"):
                pending.pop()
                out.append((tokenize.OP, ")"))
        depth += (string in ("(", "[")) - (string in (")", "]"))
        if i in infix:
            negated = bool(out) and out[-1][1] == "not"
            out[len(out) - negated :] = [(tokenize.NAME, "is not" if negated else "is")]
            out += [(tokenize.NAME, _BETWEEN), (tokenize.OP, "(")]
            pending.append((depth, "low"))
        elif string == "and" and pending and pending[-1] == (depth, "low"):
            pending[-1] = (depth, "high")
            out.append((tokenize.OP, ","))
        else:
            out.append((kind, string))
    if pending:
        raise ExpressionError(f"'between' needs 'x between LOW and HIGH' in {text!r}")
    return tokenize.untokenize(out).strip()


def _infix(tokens: list[tuple[int, str]], i: int) -> bool:
    """Whether ``between`` at ``i`` follows an operand (else it is the function form)."""
    i -= tokens[i - 1][1] == "not" if i else 0
    kind, string = tokens[i - 1] if i else (tokenize.OP, "")
    if kind == tokenize.NAME:
        return not keyword.iskeyword(string)
    return kind in (tokenize.NUMBER, tokenize.STRING) or string in (")", "]")


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
        symbol, op = _ARITHMETIC[type(node.op)]
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
        symbol, compare = _COMPARE[type(op)]
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
        name = _callee(node)
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
            got = f"{_KIND_WORDS.get(_kind(value), _kind(value))} ({ast.unparse(node)})"
            raise ExpressionError(f"{word} needs {_KIND_WORDS[kinds[0]]}, got {got}")
        return value


def _same_kind(word: str, *values: Any) -> None:
    kinds = {_kind(v) for v in values} - {"null"}
    if len(kinds) > 1:
        mixed = " and ".join(_KIND_WORDS.get(k, k) for k in sorted(kinds))
        hint = '; put text in quotes, e.g. "prepaid"' if "string" in kinds else ""
        raise ExpressionError(f"cannot mix {mixed} in {word}{hint}")
