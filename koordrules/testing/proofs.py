"""The proofs of :mod:`koordrules.verify` for downstream test suites (the ``verify`` extra).

:func:`check_proofs` proves every property of a set for *every* record (z3) and raises
:class:`~koordrules.testing.harness.PropertyFailure` with the first counterexample, like the
sampled ``check_*`` functions. z3 is imported only when it is called, so
``import koordrules.testing`` works without the extra.
"""

from __future__ import annotations

from collections.abc import Sequence

from koordrules import ast
from koordrules.testing.harness import PropertyFailure

__all__ = ("check_proofs",)


def check_proofs(criteria_set: ast.CriteriaSet, *,
                 known: Sequence[ast.CriteriaSet] = ()) -> None:
    """Prove every property ``koordrules verify`` proves for ``criteria_set`` (its bases and
    the sets it narrows are looked up in ``known``); raise :class:`PropertyFailure` with the
    counterexample of the first one refuted. Properties the solver cannot decide are not
    failures (the sampled checks apply to them)."""
    from koordrules.verify.report import verify_sets

    [report] = verify_sets([criteria_set], known)
    for proof in report.failures:
        raise PropertyFailure(f"{proof.property} ({proof.subject})", criteria_set.key,
                              proof.message, record=proof.record)
