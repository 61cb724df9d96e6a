"""What would change the outcome: for one record, the smallest changes of its inputs that give
another outcome, proved with the encoding and re-checked with the reference interpreter.

For a decided record, each other outcome comes with the fewest inputs to change (and, among
those, the numbers moved least) within the declared domains; inputs the caller *pins* (facts
from the record system, ``kind: data``, that are not in question) keep their values. For an
undetermined record, the known inputs stay as they are and each possible outcome comes with
the answers to the missing inputs that lead to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.explain import show_value
from koordrules.values import Value
from koordrules.verify.encode import Encoding, InputVar
from koordrules.verify.records import equals, record_of, to_json
from koordrules.verify.solver import z3

TIMEOUT_MS = 10_000
ENUMERATE = 16
"""The smallest changes are enumerated up to this many per outcome, then sorted by the inputs'
order of declaration, so the answer does not depend on the solver's choice among equals."""

__all__ = ("Alternative", "render_alternatives", "what_would_change")


@dataclass(frozen=True)
class Alternative:
    """With the inputs in ``changes`` set to those values, the outcome is ``outcome``."""

    outcome: str
    changes: dict[str, Any]
    """The inputs that change (JSON values), in declaration order."""


def _distance(var: InputVar, value: Value) -> Any:
    """How far the variable's value is from ``value`` (numbers and dates), else ``None``."""
    if var.decl.type in ("integer", "number") and isinstance(value, int | float):
        target = Fraction(value) if var.decl.type == "number" else int(value)
    elif var.decl.type == "date" and hasattr(value, "toordinal"):
        target = value.toordinal()  # type: ignore[union-attr]
    else:
        return None
    diff = var.value - target
    return z3.If(diff >= 0, diff, -diff)


def what_would_change(cs: ast.CriteriaSet, record: Mapping[str, Value], *,
                      pinned: Collection[str] = (), per_outcome: int = 8) -> list[Alternative]:
    """For a validated ``record`` (unknown inputs left out or ``None``), the outcomes the
    record could get instead, each with up to ``per_outcome`` smallest changes that give it
    (as few inputs as possible, numbers moved as little as possible). Raises
    :class:`~koordrules.errors.NotEncodableError` for a set the encoding
    cannot decide."""
    result = evaluate(cs, record, trace=False, reference=True)
    enc = Encoding(cs)
    decided = result.outcome is not None
    fixed = set(pinned) if decided else {n for n in enc.vars if record.get(n) is not None}
    targets = [o for o in enc.outcome_ids if o != result.outcome] if decided else [
        o for o in result.possible_outcomes]
    out: list[Alternative] = []
    for target in targets:
        opt = z3.Optimize()
        opt.set("timeout", TIMEOUT_MS)
        opt.add(*enc.domain, enc.decided(target))
        distances = []
        for name, var in enc.vars.items():
            value = record.get(name)
            same = equals(var, value)
            if name in fixed:
                opt.add(same)
                continue
            if value is not None:
                opt.add(var.known)
            opt.add_soft(same)
            far = _distance(var, value)
            if far is not None:
                distances.append(z3.If(same, 0, far))
        if distances:
            opt.minimize(z3.Sum(*distances))
        size: int | None = None
        found: list[Alternative] = []
        for _ in range(ENUMERATE):
            if opt.check() != z3.sat:
                break
            changed = record_of(enc, opt.model())
            diff = {k: v for k, v in changed.items() if record.get(k) != v}
            diff.update({k: None for k, v in record.items()
                         if v is not None and k in enc.vars and k not in changed})
            if size is not None and len(diff) > size:
                break
            size = len(diff)
            new = {**{k: v for k, v in record.items() if v is not None and k not in enc.vars},
                   **changed}
            if evaluate(cs, new, trace=False, reference=True).outcome == target:
                found.append(Alternative(target, to_json(diff)))
            # the next answer changes another set of inputs (not a superset of this one)
            opt.add(z3.Or(*[equals(enc.vars[k], record.get(k)) for k in diff]))
        order = {name: i for i, name in enumerate(enc.vars)}
        found.sort(key=lambda a: [order[k] for k in a.changes])
        out += found[:per_outcome]
    return out


_SAY = {
    "nb": ("Hva ville endret utfallet:", "med {changes} ville utfallet vært «{outcome}»",
           "Hva de manglende opplysningene avgjør:", "med {changes} blir utfallet «{outcome}»",
           " og "),
    "en": ("What would change the outcome:", "with {changes} the outcome would be «{outcome}»",
           "What the missing inputs decide:", "with {changes} the outcome is «{outcome}»",
           " and "),
}


def render_alternatives(cs: ast.CriteriaSet, alternatives: list[Alternative], *,
                        decided: bool, lang: str = "nb") -> str:
    """The alternatives in words (``lang`` ``nb`` or ``en``); empty when there are none."""
    if not alternatives:
        return ""
    head, line, head_open, line_open, join = _SAY.get(lang, _SAY["nb"])
    titles = {o.id: o.title.get(lang) for o in cs.outcomes}
    lines = [head if decided else head_open]
    for alt in alternatives:
        changes = join.join(f"{k} = {_show(v, lang)}" for k, v in alt.changes.items())
        lines.append("  " + (line if decided else line_open).format(
            changes=changes, outcome=titles.get(alt.outcome, alt.outcome)))
    return "\n".join(lines) + "\n"


def _show(value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return show_value(value, lang).lower()
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)
