"""The generated-Python lowering of every operator, keyed by the names of
:data:`koordrules.operators.spec.OPERATORS`.

A lowering turns one node into a Python expression, given a :class:`PyContext` (the compiler's
code generator) that lowers the children, names temporaries and binds constants. Where an
inline form is exactly the reference semantics it is used (the Kleene connectives, ``not``,
comparisons and membership of values whose Python comparison is the model's, ``is_known``,
``at_least``); every other operator calls its reference implementation, so it cannot differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from koordrules import ast
from koordrules.operators.spec import OPERATORS, operator_name

EXACT_INT = 2**53
"""Integers up to this magnitude are exact in binary64: Python's mixed int/float comparison
with them is the model's."""

_PY_ORDERED = frozenset({"string", "date", "boolean"})
_SET_FROM = 8  # list literals at least this long are looked up in a frozenset


class PyContext(Protocol):
    def expr(self, node: ast.Expr) -> str: ...

    def temp(self) -> str: ...

    def const(self, value: Any) -> str: ...

    def type_name(self, node: ast.Expr) -> str: ...

    def constant_value(self, node: ast.Expr) -> tuple[bool, Any]: ...


Lowering = Callable[[PyContext, ast.Expr], str]


def _args(ctx: PyContext, nodes: Sequence[ast.Expr]) -> str:
    return "".join(ctx.expr(n) + ", " for n in nodes)


def reference_call(ctx: PyContext, node: ast.Expr) -> str:
    """A call of the operator's reference implementation (positional operands; the variadic
    connectives and the functions get one sequence)."""
    name = _name(node)
    impl = ctx.const(OPERATORS[name].impl)
    kids = ast.children(node)
    if isinstance(node, ast.Call | ast.And | ast.Or):
        return f"{impl}([{_args(ctx, kids)}])"
    return f"{impl}({_args(ctx, kids)})"


def _name(node: ast.Expr) -> str:
    name = operator_name(node)
    assert name is not None
    return name


def kleene(ctx: PyContext, ops: Sequence[ast.Expr], *, conjunction: bool) -> str:
    """Kleene and/or, short-circuiting on the deciding value (no operator raises)."""
    if len(ops) == 1:
        return f"({ctx.expr(ops[0])})"
    decisive, other = ("False", "True") if conjunction else ("True", "False")
    temps = [ctx.temp() for _ in ops]
    tests = " or ".join(f"({t} := {ctx.expr(o)}) is {decisive}"
                        for t, o in zip(temps, ops, strict=True))
    unknown = " or ".join(f"{t} is None" for t in temps)
    return f"({decisive} if {tests} else (None if {unknown} else {other}))"


def _exact_python(ctx: PyContext, a: ast.Expr, b: ast.Expr) -> bool:
    """Whether Python's own comparison of ``a`` and ``b`` is the model's: not numbers, or one
    side a whole-number constant that binary64 holds exactly."""
    ta, tb = ctx.type_name(a), ctx.type_name(b)
    if ta == tb and ta in _PY_ORDERED:
        return True
    if ta != "number" or tb != "number":
        return False
    for side in (a, b):
        is_const, value = ctx.constant_value(side)
        if is_const and value.__class__ is int and abs(value) <= EXACT_INT:
            return True
    return False


def compare(ctx: PyContext, node: ast.Expr) -> str:
    assert isinstance(node, ast.Compare)
    a, b, op = node.left, node.right, node.op
    if not _exact_python(ctx, a, b):
        return reference_call(ctx, node)
    checks: list[str] = []
    sides: list[str] = []
    for side in (a, b):
        if ctx.constant_value(side)[0]:
            sides.append(ctx.expr(side))
        else:
            t = ctx.temp()
            checks.append(f"({t} := {ctx.expr(side)}) is None")
            sides.append(t)
    test = f"{sides[0]} {op} {sides[1]}"
    if not checks:
        return f"({test})"
    return f"(None if {' or '.join(checks)} else {test})"


def membership(ctx: PyContext, node: ast.Expr) -> str:
    """``in`` over a list literal of known constants: one Python lookup (a frozenset for long
    lists), when Python's equality is the model's for the item's type."""
    assert isinstance(node, ast.In)
    container = node.container
    if isinstance(container, ast.ListExpr):
        consts = []
        for e in container.items:
            is_const, value = ctx.constant_value(e)
            if not is_const or value is None:
                return reference_call(ctx, node)
            consts.append(value)
        kind = ctx.type_name(node.item)
        exact = kind in _PY_ORDERED or (kind == "number" and all(
            v.__class__ is int and abs(v) <= EXACT_INT for v in consts))
        if exact:
            t = ctx.temp()
            table = ctx.const(frozenset(consts) if len(consts) >= _SET_FROM else tuple(consts))
            test = f"{t} not in {table}" if node.negated else f"{t} in {table}"
            return f"(None if ({t} := {ctx.expr(node.item)}) is None else {test})"
    return reference_call(ctx, node)


def _not(ctx: PyContext, node: ast.Expr) -> str:
    assert isinstance(node, ast.Not)
    t = ctx.temp()
    return f"(None if ({t} := {ctx.expr(node.operand)}) is None else not {t})"


def _connective(conjunction: bool) -> Lowering:
    def lower(ctx: PyContext, node: ast.Expr) -> str:
        assert isinstance(node, ast.And | ast.Or)
        return kleene(ctx, node.operands, conjunction=conjunction)
    return lower


def _any_all(conjunction: bool) -> Lowering:
    def lower(ctx: PyContext, node: ast.Expr) -> str:
        assert isinstance(node, ast.Call)
        args = node.args
        if len(args) >= 2 or (len(args) == 1 and ctx.type_name(args[0]) == "boolean"):
            return kleene(ctx, args, conjunction=conjunction)
        return reference_call(ctx, node)
    return lower


def _is_known(ctx: PyContext, node: ast.Expr) -> str:
    assert isinstance(node, ast.Call)
    is_const, value = ctx.constant_value(node.args[0])
    if is_const:
        return repr(value is not None)
    return f"({ctx.expr(node.args[0])} is not None)"


def _at_least(ctx: PyContext, node: ast.Expr) -> str:
    """``at_least(n, a, b, ...)`` with two or more conditions, inline and flat (no nesting
    that grows with the number of conditions): true when the true ones reach ``n``, false
    when the true and unknown ones cannot, else unknown."""
    assert isinstance(node, ast.Call)
    if len(node.args) < 3:
        return reference_call(ctx, node)
    n, vs, true = ctx.temp(), ctx.temp(), ctx.temp()
    values = "(" + _args(ctx, node.args[1:]) + ")"
    return (f"(None if ({n} := {ctx.expr(node.args[0])}) is None else (True if ({true} := "
            f"({vs} := {values}).count(True)) >= {n} else (False if {true} + "
            f"{vs}.count(None) < {n} else None)))")


PYTHON: dict[str, Lowering] = {name: reference_call for name in OPERATORS}
PYTHON.update({
    "and": _connective(True),
    "or": _connective(False),
    "not": _not,
    **{op: compare for op in ("==", "!=", "<", "<=", ">", ">=")},
    "in": membership,
    "not in": membership,
    "any": _any_all(False),
    "all": _any_all(True),
    "is_known": _is_known,
    "at_least": _at_least,
})
