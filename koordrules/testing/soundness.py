"""Three-valued soundness: what a record with unknown inputs decides, could become, and
names as missing."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.result import Result
from koordrules.setrelations import knowledge_inputs, occurrences
from koordrules.testing.harness import (
    DEFAULT_EXAMPLES,
    Evaluator,
    State,
    Violation,
    draw,
    run_property,
)
from koordrules.testing.strategies import input_values, records, representatives

__all__ = (
    "EXHAUSTIVE_LIMIT",
    "check_soundness",
    "covered_inputs",
    "knowledge_inputs",
)


EXHAUSTIVE_LIMIT = 128
"""Soundness enumerates every completion of a record's unknowns when there are at most this many."""



def _is_constant(node: ast.Expr, params: set[str]) -> bool:
    if isinstance(node, ast.NumberLiteral | ast.StringLiteral | ast.DateLiteral
                  | ast.BooleanLiteral):
        return True
    if isinstance(node, ast.Negate):
        return _is_constant(node.operand, params)
    if isinstance(node, ast.Name):
        return node.name in params
    if isinstance(node, ast.ListExpr):
        return all(_is_constant(i, params) for i in node.items)
    return False


def covered_inputs(cs: ast.CriteriaSet) -> set[str]:
    """Inputs whose :func:`~koordrules.testing.strategies.representatives` meet every
    behaviour of the set: booleans, enums, and inputs only ever compared with constants (or
    tested for membership in a constant list)."""
    params = {p.name for p in cs.parameters}
    out = {i.name for i in cs.inputs if i.type in ("boolean", "enum")}
    simple = {i.name for i in cs.inputs if i.type in ("integer", "number", "date", "string")}
    for node, parent in occurrences(cs):
        if not isinstance(node, ast.Name) or node.name not in simple:
            continue
        ok = False
        if isinstance(parent, ast.Compare):
            other = parent.right if parent.left is node else parent.left
            ok = _is_constant(other, params)
        elif isinstance(parent, ast.In) and parent.item is node:
            ok = _is_constant(parent.container, params)
        elif parent is None:
            ok = False
        if not ok:
            simple.discard(node.name)
    return out | simple


def _used_inputs(cs: ast.CriteriaSet) -> set[str]:
    used: set[str] = set()
    for node, _ in occurrences(cs):
        if isinstance(node, ast.Name):
            used.add(node.name)
    return used


def check_soundness(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                    seed: int | None = None, evaluator: Evaluator = evaluate,
                    exhaustive_limit: int = EXHAUSTIVE_LIMIT) -> None:
    """Three-valued soundness of records with unknown inputs.

    A *completion* gives every unknown input a value. If the record is decided, every
    completion gives the same outcome. If it is undetermined, every completion gives one of
    ``possible_outcomes``, and ``missing`` is exactly the set of inputs *x* for which two
    completions differing only in *x* give different outcomes.

    When every unknown input is :func:`covered <covered_inputs>` and there are at most
    ``exhaustive_limit`` combinations of their representative values, all completions are
    enumerated and both directions of the ``missing`` claim are checked exactly. Otherwise one
    completion is drawn, and one input outside ``missing`` is changed in it: the outcome must
    not move (an input named in ``missing`` cannot be refuted by one sample). Inputs read by
    ``is_known``/``coalesce`` are left unknown (see :func:`knowledge_inputs`).
    """
    sensitive = knowledge_inputs(cs)
    covered = covered_inputs(cs)
    used = _used_inputs(cs)
    strategy = records(cs, missing=0.5)
    values = {i.name: input_values(cs, i.name) for i in cs.inputs}
    reps = {i.name: representatives(cs, i.name) for i in cs.inputs}

    def outcome_of(record: dict[str, Any]) -> str | None:
        return evaluator(cs, record, trace=False).outcome

    def body(data: st.DataObject, state: State) -> None:
        record = draw(data, state, cs, strategy)
        result = evaluator(cs, record, trace=False)
        unknown = [i.name for i in cs.inputs
                   if record.get(i.name) is None and i.name not in sensitive]
        claimed = set(result.missing) - sensitive
        if not claimed <= set(unknown):
            raise Violation(f"missing {sorted(claimed)} names inputs the record knows", record)
        if result.outcome is not None and result.missing:
            raise Violation("a decided result lists missing inputs", record)
        domains = {n: reps[n] if n in used else reps[n][:1] for n in unknown}
        size = math.prod(len(d) for d in domains.values())
        if all(n in covered or n not in used for n in unknown) and size <= exhaustive_limit:
            _exhaustive(record, result, unknown, domains, claimed, outcome_of)
            return
        completion = {n: data.draw(values[n]) for n in unknown}
        first = outcome_of({**record, **completion})
        if result.outcome is not None:
            if first != result.outcome:
                raise Violation(f"decided {result.outcome!r}, but the completion "
                                f"{completion} gives {first!r}", record)
            return
        if first is not None and first not in result.possible_outcomes:
            raise Violation(f"the completion {completion} gives {first!r}, not one of "
                            f"{list(result.possible_outcomes)}", record)
        others = [n for n in unknown if n not in claimed]
        if others:
            x = data.draw(st.sampled_from(others))
            changed = {**completion, x: data.draw(values[x])}
            second = outcome_of({**record, **changed})
            if second != first:
                raise Violation(f"{x!r} is not in missing, but changing it alone moves the "
                                f"outcome from {first!r} to {second!r} ({completion} → "
                                f"{changed})", record)

    run_property("three-valued soundness", cs, body, examples=examples, seed=seed,
                 evaluator=evaluator)


def _exhaustive(record: dict[str, Any], result: Result, unknown: list[str],
                domains: Mapping[str, list[Any]], claimed: set[str],
                outcome_of: Callable[[dict[str, Any]], str | None]) -> None:
    outcomes: dict[tuple[int, ...], str | None] = {}
    ranges = [range(len(domains[n])) for n in unknown]
    for combo in itertools.product(*ranges):
        completion = {n: domains[n][i] for n, i in zip(unknown, combo, strict=True)}
        outcome = outcome_of({**record, **completion})
        outcomes[combo] = outcome
        if result.outcome is not None and outcome != result.outcome:
            raise Violation(f"decided {result.outcome!r}, but the completion {completion} "
                            f"gives {outcome!r}", record)
        if result.outcome is None and outcome is not None and (
            outcome not in result.possible_outcomes
        ):
            raise Violation(f"the completion {completion} gives {outcome!r}, not one of "
                            f"{list(result.possible_outcomes)}", record)
    if result.outcome is not None:
        return
    relevant: set[str] = set()
    for position, name in enumerate(unknown):
        groups: dict[tuple[int, ...], set[str | None]] = {}
        for combo, outcome in outcomes.items():
            groups.setdefault(combo[:position] + combo[position + 1:], set()).add(outcome)
        if any(len(g) > 1 for g in groups.values()):
            relevant.add(name)
    if relevant != claimed:
        raise Violation(f"missing is {sorted(claimed)}, but the inputs that can change the "
                        f"outcome are {sorted(relevant)}", record)
