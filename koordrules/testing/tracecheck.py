"""Trace agreement: a result's trace recomputes to its criteria and outcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.inputs import validate_record
from koordrules.operators import FUNCTIONS
from koordrules.operators.reference import kleene_and, kleene_or
from koordrules.result import Result
from koordrules.testing.harness import (
    DEFAULT_EXAMPLES,
    Evaluator,
    State,
    Violation,
    draw,
    extra_keys,
    run_property,
)
from koordrules.testing.strategies import records
from koordrules.trace import REDACTED, TraceNode
from koordrules.values import to_json

__all__ = (
    "check_trace_agreement",
    "trace_problems",
)


# --- trace agreement -----------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _recompute(expr: ast.Expr, node: TraceNode) -> tuple[bool, Any]:
    """(known, value) of ``expr`` recomputed from its children's trace values."""
    kids: list[Any] = [k.value for k in node.children]
    if any(k == REDACTED for k in kids):
        return False, None
    match expr:
        case ast.Not():
            return True, None if kids[0] is None else not kids[0]
        case ast.And():
            return True, kleene_and(kids)
        case ast.Or():
            return True, kleene_or(kids)
        case ast.Compare(op=op, left=left, right=right):
            a, b = kids
            if a is None or b is None:
                return True, None
            durationish = any(isinstance(x, ast.DurationLiteral | ast.Arith)
                              for x in (left, right))
            if op in ("==", "!=") and not durationish:
                return True, (a == b) == (op == "==")
            if (_number(a) and _number(b)) or (
                isinstance(a, str) and isinstance(b, str) and not durationish
            ):
                return True, {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
            return False, None
        case ast.Call(function=fn) if fn in ("any", "all", "at_least", "count_true", "is_known"):
            args = [tuple(k) if isinstance(k, list) else k for k in kids]
            return True, FUNCTIONS[fn].impl(args)
    return False, None


def _node_problems(expr: ast.Expr, node: TraceNode, where: str, criteria: Mapping[str, Any],
                   inputs: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    children = ast.children(expr)
    if node.kind != expr.kind or len(node.children) != len(children):
        return [f"{where}: the trace of {node.text!r} does not mirror the expression"]
    problems: list[str] = []
    if isinstance(expr, ast.Name) and node.value != REDACTED:
        if node.ref == "criterion":
            expected: Any = criteria.get(expr.name)
        elif node.ref == "input":
            expected = inputs.get(expr.name)
        elif node.ref == "parameter":
            expected = params.get(expr.name)
        else:
            return [f"{where}: {expr.name!r} has no reference kind in the trace"]
        if node.value != expected:
            problems.append(f"{where}: {expr.name} is {node.value!r} in the trace, "
                            f"but the {node.ref} is {expected!r}")
    known, value = _recompute(expr, node)
    if known and node.value != value:
        problems.append(f"{where}: {node.text!r} is {node.value!r} in the trace, but its "
                        f"operands give {value!r}")
    for child_expr, child in zip(children, node.children, strict=False):
        problems += _node_problems(child_expr, child, where, criteria, inputs, params)
    return problems


def trace_problems(cs: ast.CriteriaSet, record: Mapping[str, Any], result: Result) -> list[str]:
    """Every disagreement between ``result``, its trace and a recomputation from the trace's own
    values: each node's value from its operands, names from the record and parameters, each
    criterion from its expression's root, each rule from its root, and the outcome, the possible
    outcomes and the chosen mark from the rules' values (first true rule after false ones)."""
    trace = result.trace
    if trace is None:
        return ["the result has no trace"]
    problems: list[str] = []
    inputs, _ = validate_record(cs, record, strict=False, ignore=extra_keys(cs, record))
    inputs_json = {k: to_json(v) for k, v in inputs.items()}
    params = {p.name: to_json(p.value) for p in cs.parameters}
    traced = {c.name: c.value for c in trace.criteria}
    if list(traced) != [c.name for c in cs.criteria]:
        problems.append("the trace does not list the set's criteria in order")
    if traced != dict(result.criteria):
        problems.append(f"criteria in the trace {traced} differ from the result's "
                        f"{dict(result.criteria)}")
    for c in trace.criteria:
        criterion = cs.criterion(c.name)
        if c.value != c.expression.value:
            problems.append(f"criterion {c.name} is {c.value!r} but its expression is "
                            f"{c.expression.value!r}")
        if criterion is not None:
            problems += _node_problems(criterion.expr, c.expression, f"criterion {c.name}",
                                       traced, inputs_json, params)
    tried = [r for r in trace.rules if r.expression is not None]
    expected_ids = [r.id for r in cs.rules[: len(tried)]]
    if [r.outcome for r in tried] != expected_ids:
        problems.append(f"rules tried {[r.outcome for r in tried]}, expected {expected_ids}")
    values = [r.value for r in tried]
    for rule_trace, rule in zip(tried, cs.rules, strict=False):
        if rule_trace.expression is not None and rule_trace.value != rule_trace.expression.value:
            problems.append(f"rule {rule_trace.outcome} is {rule_trace.value!r} but its "
                            f"expression is {rule_trace.expression.value!r}")
        if rule.when is not None and rule_trace.expression is not None:
            problems += _node_problems(rule.when, rule_trace.expression,
                                       f"rule {rule.id}", traced, inputs_json, params)
    if True in values[:-1]:
        problems.append("a rule was tried after a true rule")
    if len(tried) < len(cs.rules) and (not values or values[-1] is not True):
        problems.append("rules stopped before a true rule")
    possible: list[str] = []
    for rule_trace in tried:
        if rule_trace.value is True:
            possible.append(rule_trace.outcome)
            break
        if rule_trace.value is None:
            possible.append(rule_trace.outcome)
    else:
        possible.append(cs.otherwise.id)
    outcome = possible[0] if len(possible) == 1 else None
    if outcome != result.outcome:
        problems.append(f"the rules' values give outcome {outcome!r}, the result says "
                        f"{result.outcome!r}")
    if tuple(possible) != tuple(result.possible_outcomes):
        problems.append(f"the rules' values give possible outcomes {possible}, the result "
                        f"says {list(result.possible_outcomes)}")
    chosen = [r.outcome for r in trace.rules if r.chosen]
    if chosen != ([outcome] if outcome is not None else []):
        problems.append(f"the trace marks {chosen} as chosen, expected {outcome!r}")
    if outcome is not None and result.missing:
        problems.append("a decided result lists missing inputs")
    declared = {i.name for i in cs.inputs}
    if any(m not in declared or inputs.get(m) is not None for m in result.missing):
        problems.append(f"missing {list(result.missing)} names inputs that are not unknown")
    return problems


def check_trace_agreement(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                          seed: int | None = None, evaluator: Evaluator = evaluate) -> None:
    """The trace's values recompute to the reported criteria and outcome (see
    :func:`trace_problems`)."""
    strategy = records(cs, missing=0.3)

    def body(data: st.DataObject, state: State) -> None:
        record = draw(data, state, cs, strategy)
        problems = trace_problems(cs, record, evaluator(cs, record))
        if problems:
            raise Violation("; ".join(problems[:3]), record)

    run_property("trace agreement", cs, body, examples=examples, seed=seed, evaluator=evaluator)
