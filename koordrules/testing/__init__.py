"""Property-based testing of criteria sets: hypothesis strategies and consistency checks.

Needs the ``testing`` extra (``pip install 'koordrules[testing]'``, which brings hypothesis);
``import koordrules`` never imports this package. Use it from your own test suite::

    from koordrules import load
    from koordrules.testing import check_all

    def test_my_criteria_are_consistent():
        check_all(load("criteria/my-set.yaml"), examples=200)

Each ``check_*`` raises :class:`PropertyFailure` (an ``AssertionError``) with a shrunk
counterexample and its explanation; :func:`run_properties` runs them all and prints a report
(``koordrules test --properties``). See ``docs/testing.md``.
"""

from __future__ import annotations

from koordrules.ast import CriteriaSet
from koordrules.engine import evaluate
from koordrules.testing.harness import DEFAULT_EXAMPLES, Evaluator, PropertyFailure
from koordrules.testing.outcomes import check_determinism, check_monotonicity, check_totality
from koordrules.testing.proofs import check_proofs
from koordrules.testing.properties import run_properties
from koordrules.testing.reachability import check_reachability
from koordrules.testing.relations import check_narrowing, check_variant, touched_items
from koordrules.testing.soundness import (
    EXHAUSTIVE_LIMIT,
    check_soundness,
    covered_inputs,
    knowledge_inputs,
)
from koordrules.testing.strategies import (
    EPSILON,
    expression_texts,
    input_values,
    records,
    representatives,
    thresholds,
)
from koordrules.testing.tracecheck import check_trace_agreement, trace_problems


def check_all(criteria_set: CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
              seed: int | None = None, evaluator: Evaluator | None = None) -> None:
    """Run every single-set property (totality, determinism, trace agreement, three-valued
    soundness, declared monotonicity, reachability); raise the first :class:`PropertyFailure`."""
    run = evaluator or evaluate
    for check in (check_totality, check_determinism, check_trace_agreement, check_soundness,
                  check_monotonicity, check_reachability):
        check(criteria_set, examples=examples, seed=seed, evaluator=run)


__all__ = (
    "DEFAULT_EXAMPLES",
    "EPSILON",
    "EXHAUSTIVE_LIMIT",
    "Evaluator",
    "PropertyFailure",
    "check_all",
    "check_determinism",
    "check_monotonicity",
    "check_narrowing",
    "check_proofs",
    "check_reachability",
    "check_soundness",
    "check_totality",
    "check_trace_agreement",
    "check_variant",
    "covered_inputs",
    "expression_texts",
    "input_values",
    "knowledge_inputs",
    "records",
    "representatives",
    "run_properties",
    "thresholds",
    "touched_items",
    "trace_problems",
)
