"""Properties between two sets: narrowing between versions and a variant against its base."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.errors import InputError
from koordrules.inputs import validate_record
from koordrules.result import Result
from koordrules.setrelations import touched_items
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

__all__ = (
    "check_narrowing",
    "check_variant",
    "touched_items",
)


# --- narrowing and variants ----------------------------------------------------------------


def _pair_records(first: ast.CriteriaSet, second: ast.CriteriaSet,
                  missing: float) -> st.SearchStrategy[dict[str, Any]]:
    """Records over both sets' inputs; shared inputs take ``first``'s declaration."""
    return st.builds(lambda a, b: {**b, **a}, records(first, missing=missing),
                     records(second, missing=missing))


def _valid_for(cs: ast.CriteriaSet, record: Mapping[str, Any]) -> bool:
    try:
        validate_record(cs, record, ignore=extra_keys(cs, record))
    except InputError:
        return False
    return True


def check_narrowing(narrow: ast.CriteriaSet, wide: ast.CriteriaSet, *,
                    flagged: Collection[str] | None = None,
                    examples: int = DEFAULT_EXAMPLES, seed: int | None = None,
                    evaluator: Evaluator = evaluate) -> None:
    """Every complete record flagged by ``narrow`` is flagged by ``wide``.

    A record is *flagged* when its outcome is in ``flagged`` (default: any outcome rule of that
    set, i.e. anything but its ``otherwise``). Records cover both sets' inputs; each set
    ignores the inputs it does not declare.
    """
    flagged_narrow = set(flagged) if flagged is not None else {r.id for r in narrow.rules}
    flagged_wide = set(flagged) if flagged is not None else {r.id for r in wide.rules}
    strategy = _pair_records(narrow, wide, 0.0)

    def body(data: st.DataObject, state: State) -> None:
        record = draw(data, state, narrow, strategy)
        assume(_valid_for(wide, record))
        n = evaluator(narrow, record, trace=False, ignore=extra_keys(narrow, record)).outcome
        if n not in flagged_narrow:
            return
        w = evaluator(wide, record, trace=False, ignore=extra_keys(wide, record)).outcome
        if w not in flagged_wide:
            raise Violation(f"{narrow.key} flags it ({n!r}) but {wide.key} does not ({w!r})",
                            record, narrow)

    run_property(f"narrowing ({narrow.key} within {wide.key})", narrow, body, examples=examples,
                 seed=seed, evaluator=evaluator)


def check_variant(base: ast.CriteriaSet, variant: ast.CriteriaSet, *,
                  examples: int = DEFAULT_EXAMPLES, seed: int | None = None,
                  evaluator: Evaluator = evaluate) -> None:
    """A variant differs from its base only on records its overrides touch.

    A record *touches* the overrides when, under the base or under the variant, a touched
    outcome rule (see :func:`touched_items`) is tried and is not false, or the outcome could be a
    touched ``otherwise``. For every other record (unknowns included) both sets give the same
    outcome and possible outcomes, and every untouched criterion has the same value.
    """
    touched_criteria, touched_rules = touched_items(base, variant)

    def touches(result: Result) -> bool:
        assert result.trace is not None
        return any(r.outcome in touched_rules and (r.value is not False or r.chosen)
                   for r in result.trace.rules) or any(
            o in touched_rules for o in result.possible_outcomes)

    strategy = _pair_records(variant, base, 0.2)

    def body(data: st.DataObject, state: State) -> None:
        record = draw(data, state, variant, strategy)
        assume(_valid_for(base, record))
        b = evaluator(base, record, ignore=extra_keys(base, record))
        v = evaluator(variant, record, ignore=extra_keys(variant, record))
        if touches(b) or touches(v):
            return
        if (b.outcome, tuple(b.possible_outcomes)) != (v.outcome, tuple(v.possible_outcomes)):
            raise Violation(f"no override touches the record, but {base.key} gives "
                            f"{b.outcome!r} and {variant.key} gives {v.outcome!r}", record,
                            variant)
        for name, value in b.criteria.items():
            if name not in touched_criteria and name in v.criteria and (
                v.criteria[name] != value
            ):
                raise Violation(f"criterion {name} is not touched, but it is {value!r} in "
                                f"the base and {v.criteria[name]!r} in the variant", record,
                                variant)

    run_property(f"variant ({variant.key} over {base.key})", variant, body, examples=examples,
                 seed=seed, evaluator=evaluator)
