"""Running every property for a list of sets (``koordrules test --properties``).

The properties themselves live in one module each: :mod:`~koordrules.testing.outcomes`
(totality, determinism, monotonicity), :mod:`~koordrules.testing.tracecheck`,
:mod:`~koordrules.testing.soundness`, :mod:`~koordrules.testing.reachability` and
:mod:`~koordrules.testing.relations` (narrowing, variants); :mod:`~koordrules.testing.harness`
runs one of them under hypothesis.

Each ``check_*`` function runs one property for a criteria set and returns ``None`` when it
holds; when it does not, it raises :class:`PropertyFailure` with a minimal counterexample record
(hypothesis shrinks it) and that record's explanation rendered by
:func:`koordrules.explain.render_text`. They are plain functions: call them from a pytest test
(not from inside another ``@given`` test) or through :func:`run_properties`
(``koordrules test --properties``).

Every check takes ``examples`` (how many records hypothesis tries), ``seed`` (``None`` for a
random run, an int to reproduce one) and ``evaluator`` (default :func:`koordrules.evaluate`; pass
another backend with the same signature to check it instead).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TextIO

from koordrules import ast
from koordrules.setrelations import resolve_base as _resolve_base
from koordrules.testing.harness import (
    DEFAULT_EXAMPLES,
    PropertyFailure,
)
from koordrules.testing.outcomes import check_determinism, check_monotonicity, check_totality
from koordrules.testing.reachability import check_reachability
from koordrules.testing.relations import check_narrowing, check_variant
from koordrules.testing.soundness import check_soundness
from koordrules.testing.tracecheck import check_trace_agreement

__all__ = ("run_properties",)


# --- running everything --------------------------------------------------------------------


def _declared_narrowing(cs: ast.CriteriaSet) -> list[str]:
    """Refs a set declares itself narrower than (its ``narrows`` field)."""
    return list(cs.narrows)


def run_properties(
    sets: Sequence[ast.CriteriaSet],
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int | None = None,
    out: TextIO,
    narrowing: Iterable[tuple[str, str]] = (),
) -> int:
    """Run every applicable property for each set and print a report to ``out``.

    Per set: totality, determinism, trace agreement, three-valued soundness, reachability, each
    ``monotone`` declaration, and for a variant (``extends``) the variant property against its
    base when the base is among ``sets``. Narrowing is checked for each ``(narrower, wider)``
    pair of refs in ``narrowing`` and for sets that declare it; for consecutive versions of one
    id without a declaration the report says which way they relate, without failing.
    Returns 0 when everything holds, 1 otherwise.
    """
    failures = 0
    by_key = {cs.key: cs for cs in sets}

    def report(name: str, check: Callable[[], None]) -> None:
        nonlocal failures
        try:
            check()
        except PropertyFailure as ex:
            failures += 1
            print(f"  FAIL {name}", file=out)
            for line in str(ex).splitlines():
                print(f"       {line}", file=out)
        else:
            print(f"  ok   {name}", file=out)

    common: dict[str, Any] = {"examples": examples, "seed": seed}
    for cs in sets:
        print(f"{cs.key} ({examples} examples per property"
              + (f", seed {seed})" if seed is not None else ")"), file=out)
        report("totality", partial(check_totality, cs, **common))
        report("determinism", partial(check_determinism, cs, **common))
        report("trace agreement", partial(check_trace_agreement, cs, **common))
        report("three-valued soundness", partial(check_soundness, cs, **common))
        report("reachability", partial(check_reachability, cs, **common))
        for decl in cs.monotone:
            report(f"monotonicity: {decl.outcome} {decl.direction} in {', '.join(decl.inputs)}",
                   partial(check_monotonicity, cs, declarations=[decl], **common))
        if cs.extends:
            base = _resolve_base(cs, sets)
            if base is None:
                print(f"  skip variant: its base {cs.extends} is not among the sets", file=out)
            else:
                report(f"variant: differs from {base.key} only where it overrides",
                       partial(check_variant, base, cs, **common))
        for ref in _declared_narrowing(cs):
            wide = by_key.get(ref)
            if wide is None:
                print(f"  skip narrowing: {ref} is not among the sets", file=out)
                continue
            report(f"narrowing: within {ref}", partial(check_narrowing, cs, wide, **common))
    for narrow_ref, wide_ref in narrowing:
        if narrow_ref not in by_key or wide_ref not in by_key:
            print(f"skip narrowing {narrow_ref} within {wide_ref}: not among the sets", file=out)
            continue
        print(f"{narrow_ref} within {wide_ref}", file=out)
        report("narrowing", partial(check_narrowing, by_key[narrow_ref], by_key[wide_ref],
                                    **common))
    declared = {(cs.key, ref) for cs in sets for ref in _declared_narrowing(cs)}
    declared |= set(narrowing)
    ids = sorted({cs.id for cs in sets})
    for set_id in ids:
        versions = [cs for cs in sets if cs.id == set_id]
        for older, newer in itertools.pairwise(versions):
            if {(newer.key, older.key), (older.key, newer.key)} & declared:
                continue
            print(f"{newer.key} vs {older.key}: {_relation(older, newer, **common)}", file=out)
    print(f"{len(sets)} set(s): " + (f"{failures} property failure(s)" if failures
                                     else "all properties hold"), file=out)
    return 1 if failures else 0


def _relation(older: ast.CriteriaSet, newer: ast.CriteriaSet, *, examples: int,
              seed: int | None) -> str:
    """Which way two versions relate on sampled records (information only; three times the
    examples of one property, since only a counterexample settles it)."""
    examples *= 3
    narrower = wider = True
    try:
        check_narrowing(newer, older, examples=examples, seed=seed)
    except PropertyFailure:
        narrower = False
    try:
        check_narrowing(older, newer, examples=examples, seed=seed)
    except PropertyFailure:
        wider = False
    if narrower and wider:
        return "flag the same records (as far as sampled)"
    if narrower:
        return "narrower (everything the newer flags, the older flags; as far as sampled)"
    if wider:
        return "wider (everything the older flags, the newer flags; as far as sampled)"
    return "neither narrower nor wider (each flags records the other does not)"
