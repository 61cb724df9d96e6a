"""The operator table: every operator and function of the language, defined once.

Each :class:`OpSpec` names an operator, gives its arity, its three-valued (null) rule in words
and its reference implementation (:mod:`koordrules.operators.reference`). The reference
interpreter evaluates with these implementations, the checker types calls with the function
table, and every other target lowers the same names: the generated Python in
:mod:`koordrules.operators.python`; polars, SQL and Spark in their backend modules, each a
``Mapping[str, lowering]`` keyed by these names (:func:`missing` lists what one lacks).

Keys: the connectives and operators by their spelling (``and``, ``==``, ``not in``), unary minus
as ``neg``, and the functions by name. :func:`operator_name` maps a node to its key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from koordrules import ast
from koordrules.operators import reference as ref
from koordrules.operators.functions import FUNCTIONS

NullRule = Literal["strict", "kleene", "knowledge", "condition"]
"""``strict``: unknown if any operand is unknown. ``kleene``: unknown only when the known
operands cannot decide (the connectives, ``in``, ``between``, ``at_least``). ``knowledge``: looks
at whether an operand is known (``is_known``, ``coalesce``). ``condition``: ``if``, unknown when
its condition is unknown, else the chosen branch."""


@dataclass(frozen=True, slots=True)
class OpSpec:
    name: str
    arity: str
    """``"1"``, ``"2"``, ``"3"`` or ``"n"`` (variadic)."""
    null_rule: NullRule
    doc: str
    impl: Callable[..., Any]
    """The reference implementation, called with the evaluated operands (positionally; the
    variadic connectives with one sequence; functions with one sequence of arguments)."""


def _compare(op: str) -> Callable[[Any, Any], Any]:
    return lambda a, b: ref.compare(op, a, b)


def _arith(op: str) -> Callable[[Any, Any], Any]:
    return lambda a, b: ref.arith(op, a, b)


_NODE_OPERATORS: tuple[OpSpec, ...] = (
    OpSpec("and", "n", "kleene", "false if any operand is false, else unknown if any is "
           "unknown, else true", ref.kleene_and),
    OpSpec("or", "n", "kleene", "true if any operand is true, else unknown if any is unknown, "
           "else false", ref.kleene_or),
    OpSpec("not", "1", "strict", "negation", ref.not_),
    OpSpec("neg", "1", "strict", "unary minus of a number or duration (int64 overflow: "
           "unknown)", ref.negate),
    *(OpSpec(op, "2", "strict", f"comparison {op}; an integer meeting a number is compared "
             "as binary64; durations are ordered with a month of 30.436875 days",
             _compare(op)) for op in ("==", "!=", "<", "<=", ">", ">=")),
    *(OpSpec(op, "2", "strict", f"arithmetic {op} on numbers, dates and durations; results "
             "outside int64, binary64 or 0001-9999 are unknown; x / 0 is unknown",
             _arith(op)) for op in ("+", "-", "*", "/")),
    OpSpec("in", "2", "kleene", "Kleene or of item == element; unknown item or list: unknown",
           lambda item, container: ref.membership(item, container, False)),
    OpSpec("not in", "2", "kleene", "not (item in list)",
           lambda item, container: ref.membership(item, container, True)),
    OpSpec("if", "3", "condition", "the then-branch if the condition is true, the else-branch "
           "if it is false, unknown if it is unknown", ref.if_),
    OpSpec("implies", "2", "kleene", "not left or right (Kleene)", ref.implies),
    OpSpec("xor", "2", "strict", "exactly one side is true", ref.xor),
    OpSpec("between", "3", "kleene", "operand >= low and operand <= high (Kleene, inclusive)",
           ref.between),
)

_NULL_RULES: dict[str, NullRule] = {"any": "kleene", "all": "kleene", "at_least": "kleene",
                                    "is_known": "knowledge", "coalesce": "knowledge"}

OPERATORS: dict[str, OpSpec] = {
    **{op.name: op for op in _NODE_OPERATORS},
    **{f.name: OpSpec(f.name, "n", _NULL_RULES.get(f.name, "strict"), f.doc, f.impl)
       for f in FUNCTIONS.values()},
}


def operator_name(node: ast.Expr) -> str | None:
    """The :data:`OPERATORS` key of ``node``; ``None`` for literals, names and lists."""
    match node:
        case ast.And():
            return "and"
        case ast.Or():
            return "or"
        case ast.Not():
            return "not"
        case ast.Negate():
            return "neg"
        case ast.Compare(op=op) | ast.Arith(op=op):
            return op
        case ast.In(negated=negated):
            return "not in" if negated else "in"
        case ast.Call(function=fn):
            return fn
        case ast.If() | ast.Implies() | ast.Xor() | ast.Between():
            return node.kind
    return None


def missing(table: Mapping[str, object] | Iterable[str]) -> set[str]:
    """The operator names a target's lowering table does not cover."""
    return set(OPERATORS) - set(table)
