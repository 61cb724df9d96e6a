"""The reference interpreter: evaluates checked expressions with three-valued logic.

``None`` is *unknown*. Every operator's meaning is its entry in the operator table
(:mod:`koordrules.operators`): this module only walks the tree, resolves names and records
the trace. Every other target is tested against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from koordrules import ast
from koordrules.errors import EvalError
from koordrules.operators import FUNCTIONS, OPERATORS, operator_name
from koordrules.trace import NULL_TRACER, RefKind, Tracer
from koordrules.values import Duration, Value

# Functions whose result depends on whether an argument is known, not only on its value.
_KNOWLEDGE_FUNCTIONS = frozenset({"is_known", "coalesce"})
_SEQUENCE_OPERATORS = frozenset({"and", "or"})


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
            case ast.Call(function=fn, args=args):
                values = [self.evaluate(a) for a in args]
                if self.any_record and fn in _KNOWLEDGE_FUNCTIONS and values[0] is None:
                    value = None
                else:
                    value = FUNCTIONS[fn].impl(values)
            case _:
                op = operator_name(node)
                if op is None:  # pragma: no cover - the AST is closed
                    raise EvalError(f"cannot evaluate {node.kind}", span=node.span)
                v = [self.evaluate(k) for k in ast.children(node)]
                impl = OPERATORS[op].impl
                value = impl(v) if op in _SEQUENCE_OPERATORS else impl(*v)
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
