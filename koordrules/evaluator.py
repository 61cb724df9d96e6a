"""The reference interpreter: evaluates checked expressions with three-valued logic.

``None`` is *unknown*. ``and``/``or``/``not`` are Kleene's strong connectives, as in HL7 CQL;
comparisons, arithmetic and membership with an unknown operand are unknown, and so is division
by zero (CQL returns null there too). Every other backend is tested against this one.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from typing import Any

from koordrules import ast
from koordrules.errors import EvalError
from koordrules.functions import FUNCTIONS, kleene_and, kleene_or
from koordrules.trace import NULL_TRACER, RefKind, Tracer
from koordrules.values import Duration, Value, add_duration

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

# Functions whose result depends on whether an argument is known, not only on its value.
_KNOWLEDGE_FUNCTIONS = frozenset({"is_known", "coalesce"})


def _orderable(value: Value) -> Value:
    return value.approx_days() if isinstance(value, Duration) else value


def compare(op: str, left: Value, right: Value) -> bool | None:
    if left is None or right is None:
        return None
    if op in ("==", "!="):
        return _COMPARE[op](left, right)
    return _COMPARE[op](_orderable(left), _orderable(right))


def arith(op: str, left: Value, right: Value) -> Value:
    if left is None or right is None:
        return None
    if isinstance(left, dt.date) and isinstance(right, dt.date):
        return Duration(days=(left - right).days)
    if isinstance(left, dt.date) and isinstance(right, Duration):
        return add_duration(left, -right if op == "-" else right)
    if isinstance(left, Duration) and isinstance(right, dt.date):
        return add_duration(right, left)
    if isinstance(left, Duration) and isinstance(right, Duration):
        sign = -1 if op == "-" else 1
        return Duration(left.months + sign * right.months, left.days + sign * right.days)
    a: Any = left
    b: Any = right
    if op == "+":
        return a + b  # type: ignore[no-any-return]
    if op == "-":
        return a - b  # type: ignore[no-any-return]
    if op == "*":
        return a * b  # type: ignore[no-any-return]
    if b == 0:
        return None
    return a / b  # type: ignore[no-any-return]


def membership(item: Value, container: Value, negated: bool) -> bool | None:
    """``item in container`` as the Kleene disjunction of ``item == element``."""
    if item is None or container is None:
        return None
    found = kleene_or([None if e is None else e == item for e in container])  # type: ignore[union-attr]
    if found is None or not negated:
        return found
    return not found


def choose(cs: ast.CriteriaSet, values: list[Value]) -> tuple[str | None, tuple[str, ...]]:
    """The outcome from the values of the rules tried, and the outcomes still possible.

    The first true rule wins if every rule before it is false; an unknown rule before it
    leaves the outcome open between them. If no rule can be true, ``otherwise`` wins.
    """
    possible: list[str] = []
    for rule, value in zip(cs.rules, values, strict=False):
        if value is True:
            possible.append(rule.id)
            break
        if value is None:
            possible.append(rule.id)
    else:
        possible.append(cs.otherwise.id)
    return (possible[0] if len(possible) == 1 else None), tuple(possible)


class Interpreter:
    """Evaluates expressions of one criteria set against one record.

    ``inputs`` must already be validated (see :mod:`koordrules.inputs`); absent names are
    unknown. Criterion values are memoised, so each criterion is evaluated once per record.

    With ``any_record=True`` an absent input stands for *any* value a record might give it,
    not for "absent": ``is_known(x)`` and ``coalesce(x, ...)`` of an unknown ``x`` are then
    unknown too. The checker uses this to find conditions that are constant for every record.
    """

    def __init__(
        self,
        criteria_set: ast.CriteriaSet,
        inputs: Mapping[str, Value],
        *,
        tracer: Tracer = NULL_TRACER,
        any_record: bool = False,
    ) -> None:
        self.inputs = inputs
        self.tracer = tracer
        self.any_record = any_record
        self.parameters: dict[str, Value] = {p.name: p.value for p in criteria_set.parameters}
        self.input_names = {i.name for i in criteria_set.inputs}
        self.criteria: dict[str, ast.Expr] = {c.name: c.expr for c in criteria_set.criteria}
        self.memo: dict[str, Value] = {}

    def criterion(self, name: str) -> Value:
        if name not in self.memo:
            saved, self.tracer = self.tracer, NULL_TRACER
            try:
                self.memo[name] = self.evaluate(self.criteria[name])
            finally:
                self.tracer = saved
        return self.memo[name]

    def _name(self, name: str) -> tuple[Value, RefKind]:
        if name in self.input_names:
            return self.inputs.get(name), "input"
        if name in self.parameters:
            return self.parameters[name], "parameter"
        if name in self.criteria:
            return self.criterion(name), "criterion"
        raise EvalError(f"unknown name {name!r}", code="unknown_name")

    def evaluate(self, node: ast.Expr) -> Value:
        tracer = self.tracer
        tracer.enter(node)
        ref: RefKind | None = None
        value: Value
        v: Any
        match node:
            case ast.BooleanLiteral() | ast.NumberLiteral() | ast.StringLiteral():
                value = node.value
            case ast.DateLiteral():
                value = node.value
            case ast.DurationLiteral(amount=amount, unit=unit):
                value = Duration.of(amount, unit)
            case ast.Name(name=name):
                value, ref = self._name(name)
            case ast.ListExpr(items=items):
                value = tuple(self.evaluate(i) for i in items)
            case ast.Not(operand=o):
                v = self.evaluate(o)
                value = None if v is None else not v
            case ast.Negate(operand=o):
                v = self.evaluate(o)
                value = None if v is None else -v
            case ast.And(operands=ops):
                value = kleene_and([self.evaluate(o) for o in ops])
            case ast.Or(operands=ops):
                value = kleene_or([self.evaluate(o) for o in ops])
            case ast.Compare(op=op, left=a, right=b):
                value = compare(op, self.evaluate(a), self.evaluate(b))
            case ast.Arith(op=op, left=a, right=b):
                try:
                    value = arith(op, self.evaluate(a), self.evaluate(b))
                except (OverflowError, ValueError) as ex:
                    raise EvalError(f"arithmetic out of range: {ex}", span=node.span) from ex
            case ast.In(item=item, container=container, negated=negated):
                value = membership(self.evaluate(item), self.evaluate(container), negated)
            case ast.Call(function=fn, args=args):
                values = [self.evaluate(a) for a in args]
                if self.any_record and fn in _KNOWLEDGE_FUNCTIONS and values[0] is None:
                    value = None
                else:
                    value = FUNCTIONS[fn].impl(values)
            case _:  # pragma: no cover - the AST is closed
                raise EvalError(f"cannot evaluate {node.kind}", span=node.span)
        tracer.exit(node, value, ref)
        return value

    def unknown_inputs(self, node: ast.Expr) -> set[str]:
        """The unknown inputs that make ``node`` unknown (empty when it is known).

        A node is unknown only through unknown children (a known child cannot keep a Kleene
        connective undecided), so the drivers are the union over the unknown children.
        """
        saved, self.tracer = self.tracer, NULL_TRACER
        try:
            return self._drivers(node, {})
        finally:
            self.tracer = saved

    def _drivers(self, node: ast.Expr, seen: dict[str, set[str]]) -> set[str]:
        if self.evaluate(node) is not None:
            return set()
        if isinstance(node, ast.Name):
            if node.name in self.input_names:
                return {node.name}
            if node.name in self.criteria:
                if node.name not in seen:
                    seen[node.name] = set()
                    seen[node.name] = self._drivers(self.criteria[node.name], seen)
                return seen[node.name]
            return set()
        out: set[str] = set()
        for child in ast.children(node):
            out |= self._drivers(child, seen)
        return out
