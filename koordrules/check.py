"""Set-level checks run before any evaluation.

Names and types of every expression, duplicate names, cycles between criteria, declarations
that make no sense, unused inputs/parameters/criteria (warnings), and outcome rules that can
never fire. Constant conditions are found by evaluating with every input unknown: Kleene logic
is sound, so a value decided without data is the value for every patient (``is_known`` and
``coalesce`` look at whether data is there, so that evaluation keeps them unknown).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from koordrules import ast
from koordrules.errors import Diagnostic, KoordError
from koordrules.evaluator import Interpreter
from koordrules.names import set_name_problems
from koordrules.probe import Finding, Probe
from koordrules.typecheck import check_boolean
from koordrules.types import BOOLEAN, DATE, NUMBER, STRING, Type, enum_of, list_of

_ITEM_TYPES = {"boolean": BOOLEAN, "integer": NUMBER, "number": NUMBER, "string": STRING,
               "date": DATE}


def input_type(decl: ast.InputDecl) -> Type:
    if decl.type == "enum":
        return enum_of(decl.values or ())
    if decl.type == "list":
        return list_of(_ITEM_TYPES[decl.items or "string"])
    return _ITEM_TYPES[decl.type]


def parameter_type(param: ast.Parameter) -> Type:
    value = param.value
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    return DATE


def environment(cs: ast.CriteriaSet) -> dict[str, Type]:
    return declared_names(cs.parameters, cs.inputs, [c.name for c in cs.criteria])


def declared_names(parameters: Iterable[ast.Parameter], inputs: Iterable[ast.InputDecl],
                   criteria: Iterable[str]) -> dict[str, Type]:
    """The type of every name an expression may use."""
    env: dict[str, Type] = {name: BOOLEAN for name in criteria}
    env.update({p.name: parameter_type(p) for p in parameters})
    env.update({i.name: input_type(i) for i in inputs})
    return env


def check_expressions(criteria: Iterable[ast.Criterion], rules: Iterable[ast.OutcomeRule],
                      env: dict[str, Type]) -> list[Diagnostic]:
    """Name and type problems in the criteria and outcome conditions."""
    problems: list[Diagnostic] = []
    for c in criteria:
        problems += check_boolean(c.expr, env, f"criterion {c.name!r}")
    for rule in rules:
        if rule.when is not None:
            problems += check_boolean(rule.when, env, f"the condition of {rule.id!r}")
    return problems


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _err(code: str, message: str, span: object) -> Diagnostic:
    return Diagnostic("error", code, message, span)  # type: ignore[arg-type]


def _warn(code: str, message: str, span: object) -> Diagnostic:
    return Diagnostic("warning", code, message, span)  # type: ignore[arg-type]


def _declarations(cs: ast.CriteriaSet) -> Iterable[Diagnostic]:
    owners: dict[str, str] = {}
    for kind, items in (("input", cs.inputs), ("parameter", cs.parameters),
                        ("criterion", cs.criteria)):
        for item in items:
            if item.name in owners:
                both = f"{_article(owners[item.name])} and {_article(kind)}"
                yield _err("duplicate_name", f"{item.name!r} is both {both}", item.span)
            owners.setdefault(item.name, kind)
    seen: set[str] = set()
    for rule in cs.outcomes:
        if rule.id in seen:
            yield _err("duplicate_outcome", f"outcome {rule.id!r} is defined twice", rule.span)
        seen.add(rule.id)
    for decl in cs.inputs:
        if decl.type == "enum" and not decl.values:
            yield _err("bad_input", f"enum input {decl.name!r} needs 'values'", decl.span)
        if decl.type != "enum" and decl.values is not None:
            yield _err("bad_input", f"'values' is only for enum inputs ({decl.name!r})",
                       decl.span)
        if decl.type == "list" and decl.items is None:
            yield _err("bad_input", f"list input {decl.name!r} needs 'items'", decl.span)
        if decl.min is not None and decl.max is not None and decl.min > decl.max:
            yield _err("bad_input", f"input {decl.name!r}: min is larger than max", decl.span)
        if (decl.min is not None or decl.max is not None) and decl.type not in (
            "integer", "number"
        ):
            yield _err("bad_input", f"min/max are only for numbers ({decl.name!r})", decl.span)


def criteria_order(cs: ast.CriteriaSet) -> tuple[list[str], list[Diagnostic]]:
    """Criteria names with dependencies first, and an error for each cycle."""
    deps = {c.name: sorted(ast.names(c.expr) & {d.name for d in cs.criteria})
            for c in cs.criteria}
    spans = {c.name: c.span for c in cs.criteria}
    order: list[str] = []
    state: dict[str, int] = {}
    problems: list[Diagnostic] = []

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name):], name]
            problems.append(_err("cycle", "criteria depend on each other in a cycle: "
                                 + " → ".join(cycle), spans[name]))
            return
        state[name] = 1
        for dep in deps[name]:
            visit(dep, [*path, name])
        state[name] = 2
        order.append(name)

    for name in deps:
        visit(name, [])
    return order, problems


def evaluation_order(cs: ast.CriteriaSet) -> tuple[ast.Criterion, ...]:
    """The set's own criteria, each after the criteria it refers to."""
    by_name = {c.name: c for c in cs.criteria}
    return tuple(by_name[n] for n in criteria_order(cs)[0])


def _usage(cs: ast.CriteriaSet) -> Iterable[Diagnostic]:
    used: set[str] = set()
    for c in cs.criteria:
        used |= ast.names(c.expr)
    for rule in cs.rules:
        if rule.when is not None:
            used |= ast.names(rule.when)
    for kind, items in (("input", cs.inputs), ("parameter", cs.parameters),
                        ("criterion", cs.criteria)):
        for item in items:
            if item.name not in used:
                yield _warn(f"unused_{kind}", f"{kind} {item.name!r} is never used", item.span)


def _strip(expr: ast.Expr) -> str:
    """The expression without positions, to spot a rule that repeats an earlier one."""

    def drop(value: object) -> object:
        if isinstance(value, dict):
            return {k: drop(v) for k, v in value.items() if k != "span"}
        if isinstance(value, list):
            return [drop(v) for v in value]
        return value

    return json.dumps(drop(expr.model_dump(mode="json")), sort_keys=True)


def _dead_rules(cs: ast.CriteriaSet) -> Iterable[Diagnostic]:
    interpreter = Interpreter(cs, {}, any_record=True)
    earlier: dict[str, str] = {}
    always: str | None = None
    for rule in cs.rules:
        assert rule.when is not None
        if always is not None:
            yield _err("dead_rule", f"outcome {rule.id!r} can never fire: {always!r} before it "
                       "always fires", rule.span)
            continue
        shape = _strip(rule.when)
        if shape in earlier:
            yield _err("dead_rule", f"outcome {rule.id!r} can never fire: it has the same "
                       f"condition as {earlier[shape]!r}", rule.span)
        earlier.setdefault(shape, rule.id)
        try:
            value = interpreter.evaluate(rule.when)
        except KoordError:
            continue
        if value is False:
            yield _err("dead_rule", f"outcome {rule.id!r} can never fire: its condition is "
                       "false whatever the data", rule.span)
        elif value is True:
            always = rule.id
    if always is not None:
        yield _err("dead_rule", f"outcome {cs.otherwise.id!r} can never be reached: "
                   f"{always!r} always fires", cs.otherwise.span)
    for c in cs.criteria:
        try:
            value = interpreter.criterion(c.name)
        except KoordError:
            continue
        if value is not None:
            yield _warn("constant_criterion", f"criterion {c.name!r} is always "
                        f"{'true' if value else 'false'}, whatever the data", c.span)


def _constant_conditions(cs: ast.CriteriaSet, skip: set[str | None]) -> Iterable[Diagnostic]:
    """Conditions never true or never false for any record, and rules
    an earlier rule always takes the records from (:mod:`koordrules.probe`). ``skip``: the
    spans' items that already have a message (a dead rule, a constant criterion), and a rule
    using a criterion with a finding is left alone: one mistake, one message."""
    probe = Probe(cs)
    interpreter = Interpreter(cs, {}, any_record=True)
    flagged: set[str] = set()
    for c in cs.criteria:
        if str(c.span) in skip or _decided(interpreter, c.expr):
            continue
        found = probe.constant(c.expr)
        if found is not None:
            if found.whole or found.node is c.expr:
                flagged.add(c.name)
            yield _finding(cs, found, c.source, f"criterion {c.name!r}", f"kriterium «{c.name}»")
    for i, rule in enumerate(cs.rules):
        if (str(rule.span) in skip or rule.when is None or ast.names(rule.when) & flagged
                or _decided(interpreter, rule.when)):
            continue
        found = probe.constant(rule.when)
        if found is not None:
            yield _finding(cs, found, rule.source or "", f"the condition of {rule.id!r}",
                           f"vilkåret for «{rule.id}»")
            continue
        blocker = probe.shadowed_by(i)
        if blocker is not None:
            yield Diagnostic(
                "warning", "shadowed_rule",
                f"outcome {rule.id!r} can never be chosen: whenever its condition holds, the "
                f"condition of {blocker.id!r} before it holds too (or is unknown); move "
                f"{rule.id!r} before {blocker.id!r}, or narrow {blocker.id!r}", rule.span,
                translations=(("nb", f"utfallet «{rule.id}» kan aldri bli valgt: hver gang "
                               f"vilkåret holder, holder vilkåret for «{blocker.id}» foran det "
                               f"også (eller er ukjent); flytt «{rule.id}» foran «{blocker.id}», "
                               f"eller gjør vilkåret for «{blocker.id}» smalere"),
                              ("nn", f"utfallet «{rule.id}» kan aldri bli valt: kvar gong "
                               f"vilkåret held, held vilkåret for «{blocker.id}» framfor det "
                               f"òg (eller er ukjent); flytt «{rule.id}» framfor «{blocker.id}», "
                               f"eller gjer vilkåret for «{blocker.id}» smalare")))


def _decided(interpreter: Interpreter, expr: ast.Expr) -> bool:
    """Whether ``expr`` has a value without any data (the checks above report that)."""
    try:
        return interpreter.evaluate(expr) is not None
    except KoordError:
        return True


def _finding(cs: ast.CriteriaSet, found: Finding, source: str, owner: str,
             owner_nb: str) -> Diagnostic:
    """A condition that is never true or never false (a warning), at its token,
    with the bound of the input that makes it so and the likely fix."""
    span = found.node.span
    text = " ".join(source[span.start:span.end].split()) if span and source else owner
    why, why_nb, fix, fix_nb = _bound(cs, found)
    if found.never:
        # a warning, like a constant criterion: the set still loads, so the proofs
        # (koordrules verify) can be run on it and give a record
        return Diagnostic(
            "warning", "never_true",
            f"{text!r} in {owner} can never be true{why}{fix}", span,
            translations=(("nb", f"«{text}» i {owner_nb} kan aldri bli sann{why_nb}{fix_nb}"),
                          ("nn", f"«{text}» i {owner_nb} kan aldri bli sann{why_nb}{fix_nb}")))
    return Diagnostic(
        "warning", "always_true", f"{text!r} in {owner} is true for every record that has "
        f"the information{why}; it decides nothing", span,
        translations=(("nb", f"«{text}» i {owner_nb} er sann for alle pasienter der "
                       f"opplysningen finnes{why_nb}; den avgjør ingenting"),
                      ("nn", f"«{text}» i {owner_nb} er sann for alle pasientar der "
                       f"opplysninga finst{why_nb}; ho avgjer ingenting")))


_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}


def _bound(cs: ast.CriteriaSet, found: Finding) -> tuple[str, str, str, str]:
    """Why a comparison of an input with a number is constant (its declared min or max),
    and the fix when the comparison only misses the bound (``> 9`` on a scale up to 9)."""
    node = found.node
    if not isinstance(node, ast.Compare) or node.op not in _FLIP:
        return "", "", "", ""
    left, op, right = node.left, str(node.op), node.right
    if not isinstance(left, ast.Name) or cs.input(left.name) is None:
        left, op, right = right, _FLIP[op], left
    decl = cs.input(left.name) if isinstance(left, ast.Name) else None
    try:
        value = Interpreter(cs, {}).evaluate(right)
    except KoordError:
        return "", "", "", ""
    if decl is None or not isinstance(value, int | float) or isinstance(value, bool):
        return "", "", "", ""
    # never true: the bound it passes; true whenever known: the bound that guarantees it
    up = (op in (">", ">=")) == found.never
    limit = decl.max if up else decl.min
    if limit is None:
        return "", "", "", ""
    word, word_nb = ("at most", "høyst") if up else ("at least", "minst")
    key = "max" if up else "min"
    why = f": {decl.name} is {word} {limit:g} (its '{key}')"
    why_nb = f": {decl.name} er {word_nb} {limit:g} (sin «{key}»)"
    if found.never and op in (">", "<") and value == limit:
        better = op + "="
        return why, why_nb, f"; did you mean '{better}'?", f"; mente du «{better}»?"
    return why, why_nb, "", ""


def _monotone(cs: ast.CriteriaSet) -> Iterable[Diagnostic]:
    outcomes = {o.id for o in cs.outcomes}
    for decl in cs.monotone:
        if decl.outcome not in outcomes:
            yield _err("bad_property", f"monotone: unknown outcome {decl.outcome!r}", None)
        for name in decl.inputs:
            found = cs.input(name)
            if found is None or found.type not in ("boolean", "integer", "number"):
                yield _err("bad_property", f"monotone: {name!r} is not a boolean, integer or "
                           "number input", None)


def check_set(cs: ast.CriteriaSet) -> list[Diagnostic]:
    """Every problem in a built set, errors and warnings, sorted by position."""
    problems = list(_declarations(cs))
    problems += set_name_problems(cs)
    problems += check_expressions(cs.criteria, cs.rules, environment(cs))
    _, cycles = criteria_order(cs)
    problems += cycles
    problems += _monotone(cs)
    if not any(p.severity == "error" for p in problems):
        problems += _usage(cs)
        dead = list(_dead_rules(cs))
        problems += dead
        problems += _constant_conditions(cs, {str(d.span) for d in dead})
    return sorted(problems, key=Diagnostic.sort_key)
