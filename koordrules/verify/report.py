"""Proving every property of a group of sets, and the report ``koordrules verify`` prints."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from koordrules import ast
from koordrules.setrelations import resolve_base
from koordrules.verify.properties import (
    Proof,
    prove_equivalent,
    prove_narrows,
    prove_set,
    prove_variant,
)


@dataclass(frozen=True)
class SetReport:
    """The proofs about one set, and how long they took."""

    key: str
    proofs: tuple[Proof, ...]
    seconds: float

    @property
    def failures(self) -> list[Proof]:
        return [p for p in self.proofs if p.decided and not p.holds]

    @property
    def undecided(self) -> list[Proof]:
        return [p for p in self.proofs if not p.decided]


def verify_sets(sets: Sequence[ast.CriteriaSet],
                known: Sequence[ast.CriteriaSet] = ()) -> list[SetReport]:
    """Prove each set's properties: outcomes, criteria, constant conditions, shadowed rules,
    declared monotonicity, exact ``missing``, declared ``narrows:`` and, for a variant, its
    relation to its base. Bases and narrowed sets are looked up in ``sets`` and ``known``."""
    pool = [*sets, *known]
    by_key = {cs.key: cs for cs in pool}
    reports = []
    for cs in sets:
        start = time.perf_counter()
        proofs = prove_set(cs)
        for ref in cs.narrows:
            wide = by_key.get(ref)
            if wide is not None:
                proofs.append(prove_narrows(cs, wide))
            else:
                proofs.append(Proof("narrows", f"{cs.key} within {ref}", False,
                                    f"{ref} is not in the catalogue", decided=False))
        if cs.extends:
            base = resolve_base(cs, pool)
            if base is not None:
                proofs.append(prove_variant(base, cs))
        reports.append(SetReport(cs.key, tuple(proofs), time.perf_counter() - start))
    return reports


def prove_diff(a: ast.CriteriaSet, b: ast.CriteriaSet) -> Proof:
    """``diff A B --prove``: equivalent for every record, or the record where they differ."""
    return prove_equivalent(a, b)


def _json(record: object) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def render_proof(p: Proof, *, indent: str = "  ") -> list[str]:
    tag = "ok  " if p.holds else "FAIL" if p.decided else "n/a "
    lines = [f"{indent}{tag} {p.property}: {p.subject}" + ("" if p.holds else f" — {p.message}")]
    if not p.decided:
        return lines
    pad = indent + "     "
    if not p.holds and p.record is not None:
        lines.append(f"{pad}counterexample: {_json(p.record)}")
        if p.other is not None:
            lines.append(f"{pad}changed to:     {_json(p.other)}")
    if p.cases:
        lines.append(f"{pad}as cases (paste into the set's *.cases.yaml, under cases:):")
        text = yaml.safe_dump(list(p.cases), allow_unicode=True, sort_keys=False, width=90)
        lines += [pad + "  " + line for line in text.rstrip().splitlines()]
    return lines


def render_reports(reports: Sequence[SetReport]) -> str:
    """The text report: one block per set, one line per proof that is not a plain "can be
    reached", counterexamples and ready case entries (times: :func:`render_summary`)."""
    lines: list[str] = []
    for r in reports:
        lines.append(r.key)
        for p in r.proofs:
            if p.holds and p.property in ("fires", "values") and not p.warning:
                continue
            lines += render_proof(p)
        proved = sum(1 for p in r.proofs if p.holds)
        lines.append(f"  {proved} of {len(r.proofs)} properties proved for every record"
                     + (f", {len(r.failures)} refuted" if r.failures else "")
                     + (f", {len(r.undecided)} not decidable by the solver (the sampled "
                        "properties of `koordrules test --properties` apply)"
                        if r.undecided else ""))
    return "\n".join(lines) + "\n"


def render_summary(reports: Sequence[SetReport]) -> str:
    """One line: how many sets, how long the proofs took, and whether any property failed."""
    total = sum(r.seconds for r in reports)
    failures = sum(len(r.failures) for r in reports)
    verdict = (f"{failures} property failure(s)" if failures
               else "no property refuted" if any(r.undecided for r in reports)
               else "all properties proved")
    return f"{len(reports)} set(s) proved in {total:.2f} s: {verdict}\n"
