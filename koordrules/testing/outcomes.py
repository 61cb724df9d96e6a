"""Properties of one set's outcomes: totality, determinism and declared monotonicity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.errors import KoordError
from koordrules.testing.harness import (
    DEFAULT_EXAMPLES,
    Evaluator,
    State,
    Violation,
    draw,
    run_property,
)
from koordrules.testing.strategies import input_values, records

__all__ = (
    "check_determinism",
    "check_monotonicity",
    "check_totality",
)


# --- totality ------------------------------------------------------------------------------


def check_totality(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                   seed: int | None = None, evaluator: Evaluator = evaluate) -> None:
    """Every valid record (unknowns included) evaluates without error to exactly one outcome of
    the set, or to *undetermined* with at least two possible outcomes; every criterion gets a
    value (true, false or unknown)."""
    ids = [o.id for o in cs.outcomes]
    names = [c.name for c in cs.criteria]
    strategy = records(cs, missing=0.3)

    def body(data: st.DataObject, state: State) -> None:
        record = draw(data, state, cs, strategy)
        try:
            result = evaluator(cs, record, trace=False)
        except KoordError as ex:
            raise Violation(f"a valid record raised {type(ex).__name__}: {ex}", record) from ex
        if result.outcome is not None:
            if result.outcome not in ids:
                raise Violation(f"outcome {result.outcome!r} is not an outcome of the set",
                                record)
            if tuple(result.possible_outcomes) != (result.outcome,):
                raise Violation("a decided result lists other possible outcomes", record)
        else:
            possible = list(result.possible_outcomes)
            if len(possible) < 2 or any(p not in ids for p in possible):
                raise Violation(f"undetermined with possible outcomes {possible}", record)
        if list(result.criteria) != names or any(
            v not in (True, False, None) for v in result.criteria.values()
        ):
            raise Violation("the criteria values do not match the set's criteria", record)

    run_property("totality", cs, body, examples=examples, seed=seed, evaluator=evaluator)


# --- determinism ---------------------------------------------------------------------------


def check_determinism(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                      seed: int | None = None, evaluator: Evaluator = evaluate) -> None:
    """The same record gives the same result and the same trace: evaluated twice, and with its
    keys in reverse order."""
    strategy = records(cs, missing=0.3)

    def body(data: st.DataObject, state: State) -> None:
        record = draw(data, state, cs, strategy)
        first = evaluator(cs, record).to_dict()
        again = evaluator(cs, dict(record)).to_dict()
        reordered = evaluator(cs, dict(reversed(list(record.items())))).to_dict()
        for other, how in ((again, "a second evaluation"), (reordered, "reordered keys")):
            if other != first:
                keys = sorted(k for k in first if first[k] != other.get(k))
                raise Violation(f"{how} gives a different result (differs in {keys})", record)

    run_property("determinism", cs, body, examples=examples, seed=seed, evaluator=evaluator)


# --- declared monotonicity -----------------------------------------------------------------


def check_monotonicity(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                       seed: int | None = None, evaluator: Evaluator = evaluate,
                       declarations: Sequence[ast.Monotonicity] | None = None) -> None:
    """Each ``monotone`` declaration of the set holds on complete records: with
    ``direction: increasing``, turning any listed boolean input from false to true, or raising
    a listed integer or number input, never moves a record out of the outcome
    (``decreasing``: from true to false, or lowering the number)."""
    for decl in cs.monotone if declarations is None else declarations:
        low, high = (False, True) if decl.direction == "increasing" else (True, False)
        pinned = {name: records(cs, fixed={name: low}) for name in decl.inputs
                  if _type(cs, name) == "boolean"}
        whole = records(cs)

        def body(data: st.DataObject, state: State, decl: ast.Monotonicity = decl,
                 low: bool = low, high: bool = high,
                 pinned: dict[str, st.SearchStrategy[dict[str, Any]]] = pinned,
                 whole: st.SearchStrategy[dict[str, Any]] = whole) -> None:
            name = data.draw(st.sampled_from(decl.inputs))
            record = draw(data, state, cs, pinned.get(name, whole))
            if evaluator(cs, record, trace=False).outcome != decl.outcome:
                return
            if name in pinned:
                turned = {**record, name: high}
                change = f"turning {name} from {str(low).lower()} to {str(high).lower()}"
            else:
                other = data.draw(input_values(cs, name))
                before = record[name]
                if other == before or (other > before) != (decl.direction == "increasing"):
                    return
                turned = {**record, name: other}
                word = "raising" if other > before else "lowering"
                change = f"{word} {name}"
            after = evaluator(cs, turned, trace=False).outcome
            if after != decl.outcome:
                raise Violation(f"{change} moves the record from {decl.outcome!r} "
                                f"to {after!r}", record)

        run_property(f"monotonicity of {decl.outcome} ({decl.direction})", cs, body,
                     examples=examples, seed=seed, evaluator=evaluator)


def _type(cs: ast.CriteriaSet, name: str) -> str | None:
    decl = cs.input(name)
    return None if decl is None else decl.type
