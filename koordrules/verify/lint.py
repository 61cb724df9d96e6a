"""The proofs ``koordrules check`` reports as warnings: a rule shadowed by the rules before it,
and a rule or criterion whose condition is constant over the declared domains.

These are the cases the syntactic checks of :mod:`koordrules.check` cannot see (``x > 9`` on an
input declared 1–9 is never true; ``A and B and C and D`` after ``A and at_least(2, B, C, D)``
never decides a record). Only proved findings are reported; what the solver cannot decide
is left out, so a warning here is never a guess.
"""

from __future__ import annotations

from collections.abc import Collection

from koordrules import ast
from koordrules.errors import Diagnostic, NotEncodableError
from koordrules.verify.encode import Encoding
from koordrules.verify.properties import prove_criteria, prove_outcomes


def proof_warnings(cs: ast.CriteriaSet, known: Collection[tuple[str, str]] = ()
                   ) -> list[Diagnostic]:
    """Warnings ``shadowed_rule`` and ``constant_condition`` for ``cs``; ``known`` holds the
    ``(code, name)`` pairs the syntactic checks already reported (not repeated here)."""
    try:
        enc = Encoding(cs)
        outcomes = prove_outcomes(cs, enc)
        criteria = prove_criteria(cs, enc)
    except (NotEncodableError, TimeoutError):
        return []
    spans = {r.id: r.span for r in (*cs.rules, cs.otherwise)}
    out: list[Diagnostic] = []
    for p in outcomes:
        if p.holds or not p.decided or ("dead_rule", p.subject) in known:
            continue
        if p.property == "constant":
            code, why = "constant_condition", ("its condition is never true over the declared "
                                               "domains of its inputs")
        else:
            code, why = "shadowed_rule", ("whenever its condition holds, a rule before it has "
                                          "already decided the record (`koordrules verify` "
                                          "shows one)")
        out.append(Diagnostic("warning", code, f"outcome {p.subject!r} can never fire: {why}",
                              spans.get(p.subject), cs.file))
    for p in criteria:
        if p.holds or not p.decided or ("constant_criterion", p.subject) in known:
            continue
        c = cs.criterion(p.subject)
        out.append(Diagnostic("warning", "constant_condition", p.message,
                              c.span if c is not None else None, cs.file))
    return out
