"""Reachability: every outcome and every criterion value is reached by some record."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import Phase, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.evaluator import Interpreter
from koordrules.inputs import validate_record
from koordrules.result import Result
from koordrules.testing.harness import (
    DEFAULT_EXAMPLES,
    Evaluator,
    PropertyFailure,
    State,
    draw,
    hypothesis_settings,
    run_property,
)
from koordrules.testing.strategies import records, representatives

__all__ = (
    "check_reachability",
)


# --- reachability --------------------------------------------------------------------------


def check_reachability(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                       seed: int | None = None, evaluator: Evaluator = evaluate) -> None:
    """Every outcome is the decided outcome of some record, and every criterion is true for
    some record and false for another.

    A sweep over ``examples`` records collects what is reached. For each goal still open a
    targeted search follows (``3 * examples`` records, no shrinking): for an outcome it steers
    hypothesis (``hypothesis.target``) towards records for which more of the rules before it
    are false and more of its own conditions true (see ``false_before``); then a coordinate
    ascent over each input's :func:`~koordrules.testing.strategies.representatives` with the
    same score (three restarts). Goals no search reaches are reported as dead.
    """
    goals: set[tuple[str, Any]] = {("outcome", o.id) for o in cs.outcomes}
    goals |= {(c.name, v) for c in cs.criteria for v in (True, False)}
    rule_index = {o.id: i for i, o in enumerate(cs.outcomes)}

    def reached(result: Result) -> set[tuple[str, Any]]:
        out: set[tuple[str, Any]] = {("outcome", result.outcome)}
        out |= {(name, v) for name, v in result.criteria.items() if v is not None}
        return out

    seen: set[tuple[str, Any]] = set()
    sweeping, complete = records(cs, missing=0.1), records(cs)

    def sweep(data: st.DataObject, state: State) -> None:
        record = draw(data, state, cs, sweeping)
        seen.update(reached(evaluator(cs, record, trace=False)))

    run_property("reachability", cs, sweep, examples=examples, seed=seed, evaluator=evaluator)

    criteria = {c.name: c for c in cs.criteria}

    def behind(exprs: list[ast.Expr]) -> set[str]:
        """The criteria ``exprs`` read, and the criteria behind those."""
        read: set[str] = set()
        for expr in exprs:
            read |= ast.names(expr) & set(criteria)
        frontier = set(read)
        while frontier:
            more = ast.names(criteria[frontier.pop()].expr) & set(criteria) - read
            read |= more
            frontier |= more
        return read

    def false_before(record: Mapping[str, Any], index: int) -> int:
        """How close a record is to reaching rule ``index``. First, the rules before it that are
        false (weight 1000). Then the disjuncts of those rules that are false, and the conjuncts
        of rule ``index`` that are true (weight 10 each), so that a rule ``a or b or c`` counts
        as nearer to false when fewer operands hold. Last, the criteria only those earlier rules
        read that are false, and the criteria rule ``index`` reads that are true. Counting the
        shared criteria as false would steer away from the goal, because rule ``index`` needs
        them true (Anbefaling 2's refer_to_ke reads A–D, and so does coordinator_likely)."""
        interpreter = Interpreter(cs, validate_record(cs, record)[0])
        rules = [rule.when for rule in cs.rules[:index] if rule.when is not None]
        goal = cs.rules[index].when if index < len(cs.rules) else None  # None: otherwise
        goal_read = behind([goal]) if goal is not None else set()
        before_read = behind(rules) - goal_read
        false_rules = sum(1 for when in rules if interpreter.evaluate(when) is False)
        false_parts = sum(1 for when in rules for part in _operands(when, ast.Or, "any")
                          if interpreter.evaluate(part) is False)
        true_parts = (sum(1 for part in _operands(goal, ast.And, "all")
                          if interpreter.evaluate(part) is True) if goal is not None else 0)
        false_criteria = sum(1 for name in before_read if interpreter.criterion(name) is False)
        true_criteria = sum(1 for name in goal_read if interpreter.criterion(name) is True)
        return (1000 * false_rules + 10 * (false_parts + true_parts)
                + false_criteria + true_criteria)

    def searcher(goal: tuple[str, Any]) -> Callable[[st.DataObject], None]:
        def search(data: st.DataObject) -> None:
            record = data.draw(complete if goal[0] == "outcome" else sweeping)
            got = reached(evaluator(cs, record, trace=False))
            seen.update(got)
            if goal in got:
                raise _Found
            if goal[0] == "outcome":
                target(false_before(record, rule_index[goal[1]]))

        return search

    domains = {i.name: representatives(cs, i.name) for i in cs.inputs}
    rng = random.Random(seed)

    def climb(goal: tuple[str, Any], restarts: int = 3, passes: int = 4) -> None:
        """Coordinate ascent over representative values, steered like the search above."""
        def score(record: dict[str, Any]) -> int:
            return false_before(record, rule_index[goal[1]]) if goal[0] == "outcome" else 0

        for _ in range(restarts):
            record = {n: rng.choice(values) for n, values in domains.items()}
            best = score(record)
            for _ in range(passes):
                improved = False
                for name, values in domains.items():
                    for value in values:
                        candidate = {**record, name: value}
                        got = reached(evaluator(cs, candidate, trace=False))
                        seen.update(got)
                        if goal in got:
                            return
                        if (points := score(candidate)) > best:
                            record, best, improved = candidate, points, True
                if not improved:
                    break

    for goal in sorted(goals, key=str):
        if goal in seen:
            continue
        runner = settings(hypothesis_settings(3 * examples), phases=[Phase.generate, Phase.target])(
                      given(st.data())(searcher(goal)))
        if seed is not None:
            runner = hypothesis_seed(seed)(runner)
        try:
            runner()
        except _Found:
            continue
        if goal not in seen:
            climb(goal)
    dead = [f"outcome {value!r} is never reached" if kind == "outcome"
            else f"criterion {kind} is never {str(value).lower()}"
            for kind, value in sorted(goals - seen, key=str)]
    if dead:
        raise PropertyFailure("reachability", cs.key,
                              f"dead after searching {3 * examples} records per goal: "
                              + "; ".join(dead))


def _operands(expr: ast.Expr, node: type[ast.And] | type[ast.Or], call: str
              ) -> list[ast.Expr]:
    """The operands of ``expr`` as one flat list, when ``expr`` is built with ``node`` or the
    function ``call`` (``a or any(b, c)`` gives ``a, b, c``); ``expr`` itself otherwise."""
    out: list[ast.Expr] = []
    stack = [expr]
    while stack:
        current = stack.pop()
        if isinstance(current, node):
            stack.extend(reversed(current.operands))
        elif isinstance(current, ast.Call) and current.function == call:
            stack.extend(reversed(current.args))
        else:
            out.append(current)
    return out


class _Found(Exception):
    """Ends a reachability search early."""
