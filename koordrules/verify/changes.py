"""Proved changes between two versions (``koordrules diff A B --prove``): for every pair of
outcomes, whether some record moves from one to the other, with the record that does.

No cohort is needed: the question is asked over every record of the declared domains, unknowns
included. Two sets with the same answers for every record are *equivalent* (a pure refactor);
otherwise each possible change comes with the record with the fewest known inputs that makes it
(a threshold moved from ``>=`` to ``>``: the record at the boundary), re-checked with the
reference interpreter.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from koordrules import ast
from koordrules.errors import NotEncodableError
from koordrules.verify.encode import Encoding
from koordrules.verify.properties import Proof, case_entry, outcome_of, shared_inputs, witness
from koordrules.verify.records import record_of, to_json


@dataclass(frozen=True)
class Change:
    """Records that get ``old`` under the first set get ``new`` under the second
    (``None``: undetermined); ``record`` is one of them."""

    old: str | None
    new: str | None
    record: dict[str, Any]
    case: dict[str, Any]


@dataclass(frozen=True)
class ChangeProof:
    """Every change of outcome between two sets, proved over every record."""

    old: str
    new: str
    decided: bool
    changes: tuple[Change, ...] = ()
    message: str = ""
    seconds: float = 0.0
    never: tuple[tuple[str | None, str | None], ...] = field(default=())
    """The pairs of different outcomes no record moves between."""

    @property
    def equivalent(self) -> bool:
        return self.decided and not self.changes


def _choice(enc: Encoding, outcome: str | None) -> Any:
    return enc.undecided() if outcome is None else enc.decided(outcome)


def prove_changes(a: ast.CriteriaSet, b: ast.CriteriaSet) -> ChangeProof:
    """For each pair of different outcomes (undetermined included), a record that moves from
    the first under ``a`` to the second under ``b``, or the proof that none does."""
    start = time.perf_counter()
    try:
        shared_inputs(a, b)
        ea, eb = Encoding(a), Encoding(b)
        changes: list[Change] = []
        never: list[tuple[str | None, str | None]] = []
        for old in (*ea.outcome_ids, None):
            for new in (*eb.outcome_ids, None):
                if old == new:
                    continue
                model = witness([ea, eb], _choice(ea, old), _choice(eb, new))
                if model is None:
                    never.append((old, new))
                    continue
                record = record_of(ea, model)
                record.update({k: v for k, v in record_of(eb, model).items()
                               if k not in record})
                assert (outcome_of(a, record), outcome_of(b, record)) == (old, new), record
                changes.append(Change(old, new, to_json(record), case_entry(
                    b, f"{_nb(old)} i {a.key}, {_nb(new)} i {b.key}", record)))
    except (NotEncodableError, TimeoutError) as ex:
        what = ex.message if isinstance(ex, NotEncodableError) else f"the solver gave up ({ex})"
        return ChangeProof(a.key, b.key, False, message=what,
                           seconds=time.perf_counter() - start)
    return ChangeProof(a.key, b.key, True, tuple(changes), seconds=time.perf_counter() - start,
                       never=tuple(never))


def _nb(outcome: str | None) -> str:
    return "ikke avgjort" if outcome is None else outcome


def _label(outcome: str | None) -> str:
    return "undetermined" if outcome is None else outcome


def as_proof(p: ChangeProof) -> Proof:
    """The same answer as an ``equivalent`` :class:`Proof` (the first change as its record)."""
    subject = f"{p.old} and {p.new}"
    if not p.decided:
        return Proof("equivalent", subject, False, p.message, decided=False)
    if not p.changes:
        return Proof("equivalent", subject, True, "equivalent for every record")
    first = p.changes[0]
    return Proof("equivalent", subject, False, f"they differ: {p.old} gives {_label(first.old)}, "
                 f"{p.new} gives {_label(first.new)}", record=first.record, cases=(first.case,))


def render_changes(p: ChangeProof) -> str:
    """The text ``diff --prove`` prints."""
    head = f"{p.old} → {p.new}"
    if not p.decided:
        return f"{head}: not decidable by the solver: {p.message}\n"
    if not p.changes:
        return f"{head}: equivalent for every record\n"
    lines = [f"{head}: not equivalent; over every record, {len(p.changes)} change(s) of "
             "outcome are possible"]
    width = max(len(f"{_label(c.old)} → {_label(c.new)}") for c in p.changes)
    for c in p.changes:
        pair = f"{_label(c.old)} → {_label(c.new)}"
        lines.append(f"  {pair:<{width}}  e.g. "
                     + json.dumps(c.record, ensure_ascii=False, sort_keys=True))
    lines.append(f"  no record makes any other change ({len(p.never)} proved impossible)")
    lines.append("  as cases (paste into the new version's *.cases.yaml, under cases:):")
    text = yaml.safe_dump([c.case for c in p.changes], allow_unicode=True, sort_keys=False,
                          width=90)
    lines += ["    " + line for line in text.rstrip().splitlines()]
    return "\n".join(lines) + "\n"
