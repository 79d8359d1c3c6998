"""The expression language of the tag library (标签表达式) as text: parsing and the checks that
need no table — the allowed constructs, functions and nesting. Shared by the nightly run
(``analytics.expressions`` compiles it to Ibis over the features) and the tag editor, which
checks an expression when it is saved.
"""

from __future__ import annotations

import ast
import io
import keyword
import operator
import tokenize

from weiwan.core.errors import MAX_NESTING, WeiwanError

MAX_LENGTH = 2000
BETWEEN = "__between__"
FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min, max) number of arguments
    "isnull": (1, 1), "notnull": (1, 1), "coalesce": (2, 99), "abs": (1, 1),
    "least": (2, 99), "greatest": (2, 99), "lower": (1, 1), "between": (3, 3),
}  # fmt: skip
ARITHMETIC = {ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub),
               ast.Mult: ("*", operator.mul), ast.Div: ("/", operator.truediv)}  # fmt: skip
COMPARE = {ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne),
            ast.Lt: ("<", operator.lt), ast.LtE: ("<=", operator.le),
            ast.Gt: (">", operator.gt), ast.GtE: (">=", operator.ge)}  # fmt: skip
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Compare, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.Name, ast.Load,
    ast.Constant, ast.Call, ast.Tuple, ast.List, *ARITHMETIC, *COMPARE,
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
KIND_WORDS = {"numeric": "numbers", "string": "text", "boolean": "true/false", "null": "NULL"}


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
        elif isinstance(node, ast.Name) and node.id.startswith("_") and node.id != BETWEEN:
            raise ExpressionError(f"name {node.id!r} is not allowed (leading underscore)")
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Is | ast.IsNot) and callee(right) != BETWEEN
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


def callee(node: ast.expr) -> str | None:
    """The name of the function a call node calls (None when not a call of a name)."""
    return node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None


def _check_call(node: ast.Call) -> None:
    name = callee(node)
    if name is None:
        raise ExpressionError("calling a computed function is not allowed")
    if name not in FUNCTIONS and name != BETWEEN:
        raise ExpressionError(f"call to {name!r} is not allowed; functions: {', '.join(FUNCTIONS)}")
    low, high = FUNCTIONS.get(name, (2, 2))
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
            out += [(tokenize.NAME, BETWEEN), (tokenize.OP, "(")]
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
