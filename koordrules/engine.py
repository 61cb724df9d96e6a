"""Evaluating a criteria set for a record: the façade over checking, interpreting and tracing.

:func:`evaluate` validates the record, evaluates every criterion (dependencies first), tries the
outcome rules in order, works out which unknown inputs would decide an undecided outcome, and
returns a :class:`~koordrules.result.Result` with the trace.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from koordrules import ast
from koordrules.check import evaluation_order
from koordrules.compiler import compiled_or_none
from koordrules.errors import EvalError, KoordError
from koordrules.evaluator import Interpreter, choose
from koordrules.inputs import validate_record
from koordrules.result import Result
from koordrules.sentences import criterion_sentence, outcome_sentence
from koordrules.trace import (
    BufferTracer,
    CriterionTrace,
    RuleTrace,
    Trace,
    TraceNode,
    parameter_traces,
    reading_traces,
)
from koordrules.values import Value


def _truth(value: Value) -> bool | None:
    """A condition's value (the checker guarantees conditions are boolean or unknown)."""
    return value if value is None or isinstance(value, bool) else bool(value)


def evaluate(
    cs: ast.CriteriaSet,
    record: Mapping[str, Any],
    *,
    strict: bool = True,
    trace: bool = True,
    redact: bool = False,
    ignore: Collection[str] = frozenset(),
    reference: bool = False,
) -> Result:
    """Evaluate ``record`` under ``cs``.

    Raises :class:`~koordrules.errors.InputError` for a record that does not match the declared
    inputs (with ``strict=False``: the bad values become unknown and ``warnings`` says so).
    ``redact=True`` leaves input values out of the trace. Keys in ``ignore`` are not inputs
    (a record id, a grouping field) and are skipped.

    The set is compiled once (:func:`koordrules.compile`) and the compiled program gives the
    result; ``reference=True`` uses the reference interpreter instead (the two agree:
    tests/test_compiler.py).

    Any exception that is not a :class:`~koordrules.errors.KoordError` is translated into
    :class:`~koordrules.errors.EvalError` naming only its kind (a foreign message may quote
    the record's values, which must not reach a log).
    """
    try:
        return _evaluate(cs, record, strict, trace, redact, ignore, reference)
    except KoordError:
        raise
    except Exception as ex:  # a bug or a foreign library's error: keep values out
        kind = type(ex).__name__
    raise EvalError(f"evaluation failed ({kind}); the values are not shown",
                    code="evaluation_failed")


def _evaluate(cs: ast.CriteriaSet, record: Mapping[str, Any], strict: bool, trace: bool,
              redact: bool, ignore: Collection[str], reference: bool) -> Result:
    skip = ignore if isinstance(ignore, frozenset) else frozenset(ignore)
    if not reference:
        program = compiled_or_none(cs)
        if program is not None:
            return program.evaluate(record, strict=strict, trace=trace, redact=redact,
                                    ignore=skip)
    inputs, warnings = validate_record(cs, record, strict=strict, ignore=skip)
    tracer = BufferTracer(redact=redact) if trace else None
    interpreter = Interpreter(cs, inputs, tracer=tracer) if tracer else Interpreter(cs, inputs)

    criterion_nodes: dict[str, TraceNode] = {}
    for criterion in evaluation_order(cs):
        if tracer:
            tracer.start(criterion.source)
        interpreter.memo[criterion.name] = interpreter.evaluate(criterion.expr)
        if tracer:
            criterion_nodes[criterion.name] = tracer.finish(criterion.name)

    rule_values: list[Value] = []
    rule_nodes: list[TraceNode] = []
    for rule in cs.rules:
        assert rule.when is not None
        if tracer:
            tracer.start(rule.source or "")
        value = interpreter.evaluate(rule.when)
        rule_values.append(value)
        if tracer:
            rule_nodes.append(tracer.finish())
        if value is True:
            break
    outcome, possible = choose(cs, rule_values)

    missing: set[str] = set()
    if outcome is None:
        for rule, value in zip(cs.rules, rule_values, strict=False):
            if value is None and rule.when is not None:
                missing |= interpreter.unknown_inputs(rule.when)
    values = {c.name: _truth(interpreter.memo[c.name]) for c in cs.criteria}

    result_trace = None
    if tracer:
        result_trace = _trace(cs, values, criterion_nodes, rule_values, rule_nodes, outcome,
                              possible, sorted(missing), redact)
    return Result(
        criteria_set=cs.ref,
        outcome=outcome,
        possible_outcomes=possible,
        missing=tuple(sorted(missing)),
        criteria=values,
        warnings=tuple(warnings),
        trace=result_trace,
    )


def _trace(
    cs: ast.CriteriaSet,
    values: dict[str, bool | None],
    criterion_nodes: dict[str, TraceNode],
    rule_values: list[Value],
    rule_nodes: list[TraceNode],
    outcome: str | None,
    possible: tuple[str, ...],
    missing: list[str],
    redact: bool,
) -> Trace:
    criteria = tuple(
        CriterionTrace(name=c.name, title=c.title, value=values[c.name],
                       sentence=criterion_sentence(c, values[c.name]),
                       origin=c.origin, expression=criterion_nodes[c.name])
        for c in cs.criteria
    )
    rules = [
        RuleTrace(outcome=r.id, title=r.title, value=_truth(v), chosen=r.id == outcome,
                  origin=r.origin, expression=node)
        for r, v, node in zip(cs.rules, rule_values, rule_nodes, strict=False)
    ]
    if outcome == cs.otherwise.id or (outcome is None and cs.otherwise.id in possible):
        rules.append(RuleTrace(outcome=cs.otherwise.id, title=cs.otherwise.title,
                               value=True if outcome else None, chosen=outcome is not None,
                               origin=cs.otherwise.origin))
    passed = [r.id for r, v in zip(cs.rules, rule_values, strict=False) if v is False]
    return Trace(
        criteria=criteria,
        rules=tuple(rules),
        sentence=outcome_sentence(cs, outcome, possible, missing, passed),
        redacted=redact,
        parameters=parameter_traces(cs),
        local_readings=reading_traces(cs),
    )
