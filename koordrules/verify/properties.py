"""Proved properties of criteria sets: for every record, or the one record where a claim fails.

Each ``prove_*`` function asks z3 about the :class:`~koordrules.verify.encode.Encoding` of a set
and returns :class:`Proof` items: ``holds`` is true when the property holds for *every* record
over the declared domains (unknowns included), and otherwise ``record`` is a counterexample
with as few known inputs as possible, re-checked with the reference interpreter, and ``case``
the ready ``*.cases.yaml`` entry for it. A construct the encoding cannot decide gives a proof
with ``decided=False`` naming it (then the sampled properties of :mod:`koordrules.testing`
apply).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.errors import NotEncodableError
from koordrules.setrelations import knowledge_inputs, touched_items
from koordrules.values import Value
from koordrules.verify.encode import Encoding, InputVar, Term
from koordrules.verify.records import record_of, to_json
from koordrules.verify.solver import z3

TIMEOUT_MS = 20_000
"""A single question to the solver gives up after this long (reported, never guessed)."""
MAX_ROUNDS = 500
"""Refinement rounds for the one quantified question (``missing`` names nothing superfluous)."""


@dataclass(frozen=True)
class Proof:
    """One property of one set: proved, refuted with a counterexample, or not decidable."""

    property: str
    """``fires``, ``shadowed``, ``constant``, ``values``, ``monotone``, ``narrows``,
    ``missing``, ``variant`` or ``equivalent``."""
    subject: str
    """What it is about: a rule, a criterion, a declaration, another set."""
    holds: bool
    message: str
    decided: bool = True
    record: dict[str, Any] | None = None
    """The counterexample (JSON form; unknown inputs left out)."""
    other: dict[str, Any] | None = None
    """The second record of a pair (monotonicity: the raised record)."""
    cases: tuple[dict[str, Any], ...] = ()
    """Ready ``*.cases.yaml`` entries that pin the counterexample."""
    warning: bool = False
    """A finding that does not make ``verify`` fail (e.g. a criterion that cannot be unknown)."""
    details: Mapping[str, Any] = field(default_factory=dict)


def witness(encs: Sequence[Encoding], *goal: Any, minimise: bool = True) -> Any:
    """A model of ``goal`` over the domains of ``encs`` with as few known inputs as possible
    (``minimise=False``: any model, for questions whose record is not shown); ``None`` when
    there is none; raises :class:`TimeoutError` when the solver gives up."""
    constraints = [c for enc in encs for c in enc.domain] + list(goal)
    plain = z3.Solver()
    plain.set("timeout", TIMEOUT_MS)
    plain.add(*constraints)
    answer = plain.check()
    if answer == z3.unsat:
        return None
    if answer != z3.sat:
        raise TimeoutError(str(plain.reason_unknown()))
    if not minimise:
        return plain.model()
    opt = z3.Optimize()
    opt.set("timeout", TIMEOUT_MS)
    opt.add(*constraints)
    seen: set[str] = set()
    variables: list[InputVar] = []
    for enc in encs:
        for var in enc.vars.values():
            key = str(var.known)
            if key not in seen:
                seen.add(key)
                variables.append(var)
                opt.add_soft(z3.Not(var.known))
    # then, in order of declaration, one canonical record among the smallest: the solver's
    # choice among equals would depend on what it was asked before
    for var in variables:
        opt.minimize(z3.If(var.known, 1, 0))
    for var in variables:
        for goal in _canonical(var):
            opt.minimize(z3.If(var.known, goal, 0))
    if opt.check() != z3.sat:  # the solver gave up minimising: the first model still holds
        return plain.model()
    return opt.model()


EPOCH = 738_886
"""2024-01-01 as a day number: dates in counterexamples are as close to it as they can be."""


def _canonical(var: InputVar) -> list[Any]:
    """What is minimised, in order, to pick one value of ``var``: the magnitude and then the
    value of a number (the one nearest 0, the negative one first), a true boolean or list
    element, the index of an enum."""
    kind = var.decl.type
    if kind == "list":
        return [z3.If(m, 1, 0) for m in (*var.members.values(), var.unknown_item)]
    if kind == "boolean":
        return [z3.If(var.value, 1, 0)]
    if kind in ("integer", "number", "date"):
        v = var.value - EPOCH if kind == "date" else var.value
        return [z3.If(v >= 0, v, -v), v]
    if kind == "enum":
        return [var.value]
    return []


def case_entry(cs: ast.CriteriaSet, name: str, record: Mapping[str, Value],
          expect: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A cases-file entry for ``record``: the outcome it gets now, or ``expect``."""
    result = evaluate(cs, record, trace=False, reference=True)
    want: dict[str, Any] = dict(expect) if expect is not None else {"outcome": result.outcome}
    return {"name": name, "inputs": to_json(record), "expect": want}


def outcome_of(cs: ast.CriteriaSet, record: Mapping[str, Value]) -> str | None:
    return evaluate(cs, record, trace=False, reference=True).outcome


def _undecided(prop: str, subject: str, ex: Exception) -> Proof:
    what = ex.message if isinstance(ex, NotEncodableError) else f"the solver gave up ({ex})"
    return Proof(prop, subject, False, what, decided=False)


# --- one set -----------------------------------------------------------------------------


def prove_outcomes(cs: ast.CriteriaSet, enc: Encoding) -> list[Proof]:
    """Every outcome can be decided for some record; no rule's condition is constant over the
    declared domains; no rule is shadowed by the rules before it."""
    out: list[Proof] = []
    for i, o in enumerate(cs.outcomes):
        model = witness([enc], enc.decided(o.id), minimise=False)
        if model is not None:
            record = record_of(enc, model)
            assert outcome_of(cs, record) == o.id, (cs.key, o.id, record)
            out.append(Proof("fires", o.id, True, f"outcome {o.id} is decided for some record",
                             record=to_json(record)))
            continue
        if i == len(cs.rules):
            out.append(Proof("fires", o.id, False, f"no record reaches the outcome {o.id}: "
                             "every record is decided by a rule before it"))
            continue
        cond = enc.rules[i]
        earlier = z3.Or(*[enc.decided(r.id) for r in cs.rules[:i]])
        can_true = (witness([enc], cond.known, cond.value, earlier) if i else None) or witness(
            [enc], cond.known, cond.value)
        if can_true is None:
            out.append(Proof("constant", o.id, False, f"the condition of {o.id} can never be "
                             "true over the declared domains: the rule never fires"))
        else:
            record = record_of(enc, can_true)
            out.append(Proof("shadowed", o.id, False, f"{o.id} is shadowed: whenever its "
                             "condition holds, a rule before it has already decided the record",
                             record=to_json(record),
                             cases=(case_entry(cs, f"{o.id} er skygget av en regel foran",
                                               record),)))
    for i, rule in enumerate(cs.rules):
        term = enc.rules[i]
        if witness([enc], term.known, z3.Not(term.value), minimise=False) is None and any(
                p.subject == rule.id and p.holds for p in out):
            out.append(Proof("constant", rule.id, False, f"the condition of {rule.id} is never "
                             "false when it is known: it is constant over the declared domains"))
    return out


def prove_criteria(cs: ast.CriteriaSet, enc: Encoding) -> list[Proof]:
    """Every criterion can be true and false (else it is constant over the declared domains),
    and unknown when an input it reads can be unknown."""
    out: list[Proof] = []
    for c in cs.criteria:
        term = enc.criteria[c.name]
        reached = {}
        for label, goal in (("true", z3.And(term.known, term.value)),
                            ("false", z3.And(term.known, z3.Not(term.value))),
                            ("unknown", z3.Not(term.known))):
            model = witness([enc], goal, minimise=False)
            reached[label] = None if model is None else to_json(record_of(enc, model))
        can = [k for k, v in reached.items() if v is not None]
        if reached["true"] is None or reached["false"] is None:
            never = "true" if reached["true"] is None else "false"
            out.append(Proof("constant", c.name, False, f"criterion {c.name} can never be "
                             f"{never} over the declared domains (it is "
                             f"{' or '.join(can) or 'never known'} for every record)",
                             details=reached))
        else:
            out.append(Proof("values", c.name, True, f"criterion {c.name} can be "
                             + ", ".join(can), details=reached,
                             warning=reached["unknown"] is None))
    return out


def _pair(cs: ast.CriteriaSet, a: Encoding, b: Encoding, free: str) -> list[Any]:
    """Records ``a`` and ``b`` equal on every input but ``free``."""
    same = []
    for name, va in a.vars.items():
        if name == free:
            continue
        vb = b.vars[name]
        same.append(va.known == vb.known)
        same.append(z3.Implies(va.known, _equal(va, vb)))
    return same


def _equal(va: InputVar, vb: InputVar) -> Any:
    if va.decl.type == "list":
        parts = [m == vb.members[k] for k, m in va.members.items()]
        parts.append(va.unknown_item == vb.unknown_item)
        return z3.And(*parts)
    return va.value == vb.value


def prove_monotone(cs: ast.CriteriaSet, enc: Encoding) -> list[Proof]:
    """Each ``monotone`` declaration, for boolean and numeric inputs: raising one listed input
    (false to true, or to a larger number; the reverse for ``decreasing``) never moves a record
    out of the outcome, whatever the other inputs are, unknowns included."""
    out: list[Proof] = []
    if not cs.monotone:
        return out
    after = Encoding(cs, prefix="raised.")
    for decl in cs.monotone:
        subject = f"{decl.outcome} {decl.direction} in {', '.join(decl.inputs)}"
        failure: Proof | None = None
        for name in decl.inputs:
            va, vb = enc.vars[name], after.vars[name]
            low, high = (va, vb) if decl.direction == "increasing" else (vb, va)
            if va.decl.type == "boolean":
                step = z3.And(z3.Not(low.value), high.value)
            else:
                step = low.value < high.value
            model = witness([enc, after], enc.decided(decl.outcome),
                            z3.Not(after.decided(decl.outcome)), va.known, vb.known, step,
                            *_pair(cs, enc, after, name))
            if model is None:
                continue
            before_rec, after_rec = record_of(enc, model), record_of(after, model)
            moved = outcome_of(cs, after_rec)
            assert outcome_of(cs, before_rec) == decl.outcome and moved != decl.outcome
            word = "raising" if decl.direction == "increasing" else "lowering"
            failure = Proof(
                "monotone", subject, False,
                f"{word} {name} from {_show(before_rec.get(name))} to "
                f"{_show(after_rec.get(name))} moves the record from {decl.outcome} to "
                f"{moved if moved is not None else 'undecided'}",
                record=to_json(before_rec), other=to_json(after_rec),
                cases=(case_entry(cs, f"monotont i {name}: utgangspunktet", before_rec),
                       case_entry(cs, f"monotont i {name}: {name} endret, samme utfall ventet",
                             after_rec, {"outcome": decl.outcome})))
            break
        out.append(failure or Proof("monotone", subject, True, f"{decl.outcome} is "
                                    f"{decl.direction} in {', '.join(decl.inputs)} for every "
                                    "record"))
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "unknown" if value is None else str(value)


def _drivers(enc: Encoding, node: ast.Expr, memo: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """For each input, whether the engine names it as missing for ``node``
    (:meth:`koordrules.evaluator.Interpreter.unknown_inputs`, encoded)."""
    if isinstance(node, ast.ListExpr):
        return {}
    term: Term = enc.expr(node)
    unknown = z3.Not(term.known)
    if isinstance(node, ast.Name):
        if node.name in enc.vars:
            return {node.name: unknown}
        if node.name in enc.criteria:
            if node.name not in memo:
                memo[node.name] = {}
                c = enc.cs.criterion(node.name)
                assert c is not None
                memo[node.name] = _drivers(enc, c.expr, memo)
            return {k: z3.And(unknown, v) for k, v in memo[node.name].items()}
        return {}
    found: dict[str, list[Any]] = {}
    for child in ast.children(node):
        for k, v in _drivers(enc, child, memo).items():
            found.setdefault(k, []).append(v)
    return {k: z3.And(unknown, z3.Or(*v)) for k, v in found.items()}


def claimed(enc: Encoding) -> dict[str, Any]:
    """For each input, whether :attr:`Result.missing` names it (the engine's rule, encoded)."""
    undecided = enc.undecided()
    memo: dict[str, dict[str, Any]] = {}
    parts: dict[str, list[Any]] = {}
    tried: list[Any] = []  # rules after a true rule are not tried
    for rule, term in zip(enc.cs.rules, enc.rules, strict=True):
        assert rule.when is not None
        for k, v in _drivers(enc, rule.when, memo).items():
            parts.setdefault(k, []).append(z3.And(*tried, z3.Not(term.known), v))
        tried.append(z3.Not(z3.And(term.known, term.value)))
    return {k: z3.And(undecided, z3.Or(*v)) for k, v in parts.items()}


def _fill(p: Encoding, free: Encoding, sensitive: set[str], swap: str | None = None,
          alt: Encoding | None = None) -> list[tuple[Any, Any]]:
    """The substitution that turns ``free``'s variables into a completion of the partial record
    ``p``: known inputs keep their value, unknown ones take ``free``'s (inputs read by
    ``is_known``/``coalesce`` stay unknown, as in the sampled soundness property). With ``swap``
    that one input takes ``alt``'s value instead (known whenever it is unknown in ``p``)."""
    pairs: list[tuple[Any, Any]] = []
    for name, vf in free.vars.items():
        vp = p.vars[name]
        src = alt.vars[name] if swap == name and alt is not None else vf
        known = vp.known if name in sensitive else z3.BoolVal(True)
        pairs.append((vf.known, known))
        if vf.decl.type == "list":
            for key, m in vf.members.items():
                pairs.append((m, z3.If(vp.known, vp.members[key], src.members[key])))
            pairs.append((vf.unknown_item, z3.If(vp.known, vp.unknown_item, src.unknown_item)))
        elif vf.value is not None:
            pairs.append((vf.value, z3.If(vp.known, vp.value, src.value)))
    return pairs


def _differ(a: Encoding, b: Encoding) -> Any:
    """The two records get different outcomes (``a`` and ``b`` may be two sets)."""
    ids = dict.fromkeys(a.outcome_ids + b.outcome_ids)
    return z3.Or(*[(a.decided(o) if o in a.outcome_ids else z3.BoolVal(False))
                   != (b.decided(o) if o in b.outcome_ids else z3.BoolVal(False)) for o in ids])


def _outcomes(enc: Encoding) -> list[Any]:
    return [enc.decided(o) for o in enc.outcome_ids]


def _free_vars(enc: Encoding, only: str | None = None) -> list[Any]:
    return [v for name, var in enc.vars.items() if only is None or name == only
            for v in (var.value, *var.members.values(), var.unknown_item) if v is not None]


def _known_vars(enc: Encoding) -> list[Any]:
    return [var.known for var in enc.vars.values()]


def _values(model: Any, variables: Sequence[Any]) -> list[tuple[Any, Any]]:
    return [(v, model.eval(v, model_completion=True)) for v in variables]


def _superfluous(p: Encoding, named: Any, differ: Any, templates: Sequence[Encoding]
                 ) -> tuple[Any, int]:
    """A partial record (a model of ``p``) where ``named`` holds but no completion pair makes
    ``differ`` true, or ``None`` when there is none; and the number of refinement rounds.

    That question has a quantifier (*no* pair), so it is answered by refinement instead: the
    candidate solver proposes a partial record; the checking solver looks for a pair of
    completions of that one record that changes the outcome; if it finds one, the pair's
    values become a constraint on the candidates (no later candidate may be changed by the
    same pair) and the loop goes on; if not, the candidate is the counterexample."""
    candidates = z3.Solver()
    candidates.set("timeout", TIMEOUT_MS)
    candidates.add(*p.domain, named)
    pvars = [*_known_vars(p), *_free_vars(p)]
    tvars = [v for t in templates for v in _free_vars(t)]
    check = z3.Solver()
    check.set("timeout", TIMEOUT_MS)
    for t in templates:
        check.add(*t.domain, *_known_vars(t))
    check.add(differ)
    for used in range(MAX_ROUNDS):
        answer = candidates.check()
        if answer == z3.unsat:
            return None, used
        if answer != z3.sat:
            raise TimeoutError(str(candidates.reason_unknown()))
        model = candidates.model()
        check.push()
        check.add(*[v == x for v, x in _values(model, pvars)])
        found = check.check()
        if found == z3.unsat:
            return model, used + 1
        if found != z3.sat:
            raise TimeoutError(str(check.reason_unknown()))
        pair = _values(check.model(), tvars)
        check.pop()
        candidates.add(z3.Not(z3.substitute(differ, *pair)))
    raise TimeoutError(f"no answer after {MAX_ROUNDS} refinement rounds")


def prove_missing(cs: ast.CriteriaSet, enc: Encoding) -> list[Proof]:
    """``missing`` is exact: for every partial record, an unknown input is named exactly when
    two completions that differ only in it give different outcomes."""
    sensitive = knowledge_inputs(cs)
    claim = claimed(enc)
    free, alt = Encoding(cs, prefix="free."), Encoding(cs, prefix="alt.")
    outcomes = _outcomes(free)
    first = [z3.substitute(o, *_fill(enc, free, sensitive)) for o in outcomes]
    rounds = 0
    for name in enc.vars:
        if name in sensitive:
            continue
        second = [z3.substitute(o, *_fill(enc, free, sensitive, name, alt)) for o in outcomes]
        differ = z3.Or(*[x != y for x, y in zip(first, second, strict=True)])
        named = claim.get(name, z3.BoolVal(False))
        unknown = z3.Not(enc.vars[name].known)
        domain = [*free.domain, *_known_vars(free), *alt.domain, alt.vars[name].known]
        model = witness([enc], z3.Not(named), unknown, differ, *domain)
        if model is not None:
            record = record_of(enc, model)
            a, b = record_of(free, model), record_of(alt, model)
            result = evaluate(cs, record, trace=False, reference=True)
            assert name not in result.missing, (cs.key, name, record)
            expect = {"outcome": result.outcome, "missing": sorted({*result.missing, name})}
            said = ("the record is decided" if result.outcome is not None
                    else "missing does not name it")
            return [Proof("missing", name, False,
                          f"{name} is unknown and can change the outcome (for example "
                          f"{_show(a.get(name))} or {_show(b.get(name))}), but {said}",
                          record=to_json(record),
                          cases=(case_entry(cs, f"missing skal nevne {name}", record, expect),))]
        if name not in claim:
            continue
        model, used = _superfluous(enc, named, differ, [free, alt])
        rounds += used
        if model is not None:
            record = record_of(enc, model)
            result = evaluate(cs, record, trace=False, reference=True)
            assert name in result.missing, (cs.key, name, record)
            expect = {"outcome": result.outcome,
                      "missing": sorted(set(result.missing) - {name})}
            return [Proof("missing", name, False,
                          f"missing names {name}, but no value of it can change the outcome",
                          record=to_json(record),
                          cases=(case_entry(cs, f"missing skal ikke nevne {name}", record,
                                            expect),))]
    return [Proof("missing", "every partial record", True, "missing names exactly the unknown "
                  "inputs that can change the outcome, for every partial record",
                  details={"rounds": rounds})]


def prove_set(cs: ast.CriteriaSet) -> list[Proof]:
    """Every single-set property of ``cs``."""
    try:
        enc = Encoding(cs)
    except NotEncodableError as ex:
        return [_undecided("encoding", cs.key, ex)]
    out: list[Proof] = []
    for prove in (prove_outcomes, prove_criteria, prove_monotone, prove_missing):
        try:
            out += prove(cs, enc)
        except (NotEncodableError, TimeoutError) as ex:
            out.append(_undecided(prove.__name__.removeprefix("prove_"), cs.key, ex))
    return out


# --- two sets ----------------------------------------------------------------------------


def shared_inputs(a: ast.CriteriaSet, b: ast.CriteriaSet) -> None:
    for decl in a.inputs:
        other = b.input(decl.name)
        if other is not None and (other.type, other.items) != (decl.type, decl.items):
            raise NotEncodableError(f"the input {decl.name!r} has another type in {b.key}",
                                    span=other.span)


def _flagged(enc: Encoding) -> Any:
    return z3.Or(*[enc.decided(r.id) for r in enc.cs.rules]) if enc.cs.rules else z3.BoolVal(
        False)


def prove_narrows(narrow: ast.CriteriaSet, wide: ast.CriteriaSet) -> Proof:
    """Every record ``narrow`` flags (decides a rule's outcome, not ``otherwise``), ``wide``
    flags too: over all records, unknowns included."""
    subject = f"{narrow.key} within {wide.key}"
    try:
        shared_inputs(narrow, wide)
        n, w = Encoding(narrow), Encoding(wide)
        model = witness([n, w], _flagged(n), z3.Not(_flagged(w)))
    except (NotEncodableError, TimeoutError) as ex:
        return _undecided("narrows", subject, ex)
    if model is None:
        return Proof("narrows", subject, True, f"every record {narrow.key} flags, {wide.key} "
                     "flags too")
    record = record_of(n, model)
    a, b = outcome_of(narrow, record), outcome_of(wide, record)
    return Proof("narrows", subject, False, f"{narrow.key} flags the record ({a}) but "
                 f"{wide.key} does not ({b if b is not None else 'undecided'})",
                 record=to_json(record),
                 cases=(case_entry(narrow, f"smalere enn {wide.key}? flagges her", record),))


def prove_equivalent(a: ast.CriteriaSet, b: ast.CriteriaSet) -> Proof:
    """The two sets give every record the same outcome (or are both undecided); otherwise
    the record with the fewest known inputs where they differ."""
    subject = f"{a.key} and {b.key}"
    try:
        shared_inputs(a, b)
        ea, eb = Encoding(a), Encoding(b)
        model = witness([ea, eb], _differ(ea, eb))
    except (NotEncodableError, TimeoutError) as ex:
        return _undecided("equivalent", subject, ex)
    if model is None:
        return Proof("equivalent", subject, True, "equivalent for every record")
    record = record_of(ea, model)
    oa, ob = outcome_of(a, record), outcome_of(b, record)
    assert oa != ob
    return Proof("equivalent", subject, False, f"they differ: {a.key} gives "
                 f"{oa if oa is not None else 'undecided'}, {b.key} gives "
                 f"{ob if ob is not None else 'undecided'}", record=to_json(record),
                 cases=(case_entry(b, f"ulikt {a.key}", record),))


def prove_variant(base: ast.CriteriaSet, variant: ast.CriteriaSet) -> Proof:
    """The variant differs from its base only on records its overrides touch (the relation
    :func:`koordrules.testing.check_variant` samples): for every other record both give the
    same outcome, the same possible outcomes and the same untouched criteria."""
    subject = f"{variant.key} over {base.key}"
    touched_criteria, touched_rules = touched_items(base, variant)
    try:
        shared_inputs(variant, base)
        eb, ev = Encoding(base), Encoding(variant)
        untouched = [z3.Not(e.possible(o)) for e in (eb, ev) for o in e.outcome_ids
                     if o in touched_rules]
        same = [eb.possible(o) == (ev.possible(o) if o in ev.outcome_ids else False)
                for o in eb.outcome_ids]
        same += [ev.possible(o) == False for o in ev.outcome_ids  # noqa: E712
                 if o not in eb.outcome_ids]
        same += [_same_value(eb.criteria[c], ev.criteria[c]) for c in eb.criteria
                 if c in ev.criteria and c not in touched_criteria]
        model = witness([eb, ev], *untouched, z3.Or(_differ(eb, ev), z3.Not(z3.And(*same))))
    except (NotEncodableError, TimeoutError) as ex:
        return _undecided("variant", subject, ex)
    if model is None:
        return Proof("variant", subject, True, "the variant agrees with its base on every "
                     "record its overrides do not touch")
    record = record_of(ev, model)
    return Proof("variant", subject, False, "no override touches the record, but the variant "
                 f"and its base disagree on it ({outcome_of(base, record)} vs "
                 f"{outcome_of(variant, record)})", record=to_json(record),
                 cases=(case_entry(variant, f"som {base.key} (ikke berørt av endringene)", record,
                              {"outcome": outcome_of(base, record)}),))


def _same_value(x: Term, y: Term) -> Any:
    return z3.And(x.known == y.known, z3.Implies(x.known, x.value == y.value))
