"""What a criteria set reads and what a variant changes: plain functions over the syntax tree,
shared by the sampled properties (:mod:`koordrules.testing`) and the proofs
(:mod:`koordrules.verify`), so both mean the same by "knowledge input", "touched" and "base"."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from koordrules import ast

__all__ = ("knowledge_inputs", "occurrences", "resolve_base", "touched_items")

_KNOWLEDGE = frozenset({"is_known", "coalesce"})


# --- what a set reads ---------------------------------------------------------------------


def occurrences(cs: ast.CriteriaSet) -> list[tuple[ast.Expr, ast.Expr | None]]:
    """Every (node, parent) pair of every expression in the set."""
    out: list[tuple[ast.Expr, ast.Expr | None]] = []
    roots = [c.expr for c in cs.criteria] + [r.when for r in cs.rules if r.when is not None]
    for root in roots:
        stack: list[tuple[ast.Expr, ast.Expr | None]] = [(root, None)]
        while stack:
            node, parent = stack.pop()
            out.append((node, parent))
            stack.extend((child, node) for child in ast.children(node))
    return out


def knowledge_inputs(cs: ast.CriteriaSet) -> set[str]:
    """Inputs read by ``is_known``/``coalesce``: for them "unknown" means "absent", so
    completing them is not a refinement and soundness leaves them as they are."""
    out: set[str] = set()
    inputs = {i.name for i in cs.inputs}
    criteria = {c.name: c.expr for c in cs.criteria}
    for node, _ in occurrences(cs):
        if isinstance(node, ast.Call) and node.function in _KNOWLEDGE:
            for arg in node.args:
                names = ast.names(arg)
                seen: set[str] = set()
                while names - seen:  # follow criteria to the inputs behind them
                    name = (names - seen).pop()
                    seen.add(name)
                    if name in criteria:
                        names |= ast.names(criteria[name])
                out |= names & inputs
    return out


def _shape(value: Any) -> str:
    """A JSON form of an AST item without positions, provenance or wording."""
    skip = {"span", "origin", "title", "description", "explanation", "source", "unit",
            "from_source", "kind_", "sentence"}

    def drop(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: drop(x) for k, x in v.items() if k not in skip}
        if isinstance(v, list):
            return [drop(x) for x in v]
        return v

    return json.dumps(drop(value.model_dump(mode="json")), sort_keys=True)


def touched_items(base: ast.CriteriaSet, variant: ast.CriteriaSet) -> tuple[set[str], set[str]]:
    """The criteria and outcome rules a variant's overrides touch: ``(criteria, outcomes)``.

    A parameter, input or criterion is *changed* when the variant declares it itself (its
    ``origin`` is the variant), adds it, drops it, or gives it a different definition (value,
    declaration or expression). A criterion is *touched* when it is changed or refers, directly
    or through other criteria, to a changed name. An outcome is touched when its rule is
    changed in the same sense, refers to a touched or changed name, is only in one of the two
    sets, or changes place relative to the untouched rules; ``otherwise`` is touched when its id
    or origin changes. Everything else is evaluated identically by construction, which is what
    :func:`check_variant` verifies.
    """
    def items(cs: ast.CriteriaSet) -> dict[str, Any]:
        found: list[ast.Parameter | ast.InputDecl | ast.Criterion] = [
            *cs.parameters, *cs.inputs, *cs.criteria]
        return {x.name: x for x in found}

    old, new = items(base), items(variant)
    changed = {n for n in old.keys() | new.keys()
               if n not in old or n not in new or _shape(old[n]) != _shape(new[n])
               or getattr(new[n], "origin", None) == variant.key}
    exprs = {c.name: c.expr for c in (*base.criteria, *variant.criteria)}
    touched_criteria = {c for c in exprs if c in changed}
    grew = True
    while grew:
        grew = False
        for cs in (base, variant):
            for c in cs.criteria:
                if c.name not in touched_criteria and ast.names(c.expr) & (
                    changed | touched_criteria
                ):
                    touched_criteria.add(c.name)
                    grew = True
    dirty = changed | touched_criteria
    old_rules = {r.id: r for r in base.rules}
    new_rules = {r.id: r for r in variant.rules}
    touched_rules: set[str] = set()
    for rid in old_rules.keys() | new_rules.keys():
        a, b = old_rules.get(rid), new_rules.get(rid)
        if a is None or b is None or _shape(a) != _shape(b) or b.origin == variant.key:
            touched_rules.add(rid)
            continue
        assert a.when is not None
        if ast.names(a.when) & dirty:
            touched_rules.add(rid)
    base_order = [r.id for r in base.rules if r.id not in touched_rules]
    variant_order = [r.id for r in variant.rules if r.id not in touched_rules]
    for i, (x, y) in enumerate(zip(base_order, variant_order, strict=False)):
        if x != y:
            touched_rules |= set(base_order[i:]) | set(variant_order[i:])
            break
    if (base.otherwise.id != variant.otherwise.id
            or variant.otherwise.origin == variant.key):
        touched_rules |= {base.otherwise.id, variant.otherwise.id}
    return touched_criteria, touched_rules


def resolve_base(variant: ast.CriteriaSet,
                  sets: Sequence[ast.CriteriaSet]) -> ast.CriteriaSet | None:
    """The base of a variant among ``sets``: the version its inherited items come from, else
    the version its ``extends`` names, else the newest version of the same id."""
    by_key = {cs.key: cs for cs in sets}
    found: list[ast.Parameter | ast.InputDecl | ast.Criterion | ast.OutcomeRule] = [
        *variant.parameters, *variant.inputs, *variant.criteria, *variant.outcomes]
    origins = {x.origin for x in found if x.origin and x.origin != variant.key}
    extends = variant.extends or ""
    set_id, _, version = extends.partition("@")
    for key in sorted(origins):
        if key in by_key and key.partition("@")[0] == set_id:
            return by_key[key]
    if extends in by_key:
        return by_key[extends]
    same = [cs for cs in sets if cs.id == set_id and cs.key != variant.key]
    if same and not version:
        return same[-1]
    return None
