"""Variants: a criteria file with ``extends: <id>@<version or range>`` resolved onto its base.

A variant never copies its base. It names the base and says what differs:

- ``parameters``: a name the base has is overridden (the value, and ``unit``/``description``
  when given; the rest is inherited); a new name adds a parameter.
- ``inputs``: new inputs only (redeclaring a base input is an error).
- ``criteria``: a name the base has replaces that criterion; a new name adds one.
- ``outcomes``: an entry whose ``id`` the base has changes that rule: ``when`` replaces its
  condition, ``title``/``explanation`` its wording, ``before``/``after`` moves it (an entry with
  only ``id`` and ``before``/``after`` just moves it). A new ``id`` with ``when`` and ``title``
  adds a rule, placed by ``before``/``after`` (default: just before ``otherwise``). An entry
  with ``otherwise: true`` replaces the base's ``otherwise``.
- ``monotone``: when written, replaces the base's declarations (``monotone: []`` drops them).
- ``drop``: base ``parameters``, ``criteria`` or ``inputs`` the variant leaves out (an error
  while something in the set still uses one).

The result is one flat :class:`~koordrules.ast.CriteriaSet`, checked like any other. Every item
keeps ``origin`` = the ``id@version`` of the file it came from; ``extends`` records the exact
base ``id@version``; ``sha256`` covers the variant's content and the base's hash, so it changes
when either changes. Problems a base change causes in a variant are reported at the variant's
position, with the base file's position in the message.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from koordrules import ast
from koordrules.check import check_expressions, check_set, declared_names
from koordrules.errors import Diagnostic
from koordrules.fileformat import OutcomeSpec, local_text
from koordrules.loader import (
    SetFile,
    build_criterion,
    build_input,
    build_parameter,
    changelog_problems,
    parameter_problems,
    parse_at,
)
from koordrules.semver import Range, Version
from koordrules.span import Span

#: Codes of expression errors that may come from a name the base declares (or no longer does).
_NAME_CODES = ("type_error", "unknown_name")


@dataclass
class Resolution:
    """What the catalogue knows while resolving variants.

    ``files``: every readable criteria file by ``id@version``; ``sets``: the sets built so far;
    ``failed``: keys of files that did not build; ``base_problems``: each set's own diagnostics
    (so a variant does not repeat its base's warnings); ``pinned``: for each published variant,
    the exact base ``id@version`` it was locked with (see :func:`pick_base`).
    """

    files: Mapping[str, SetFile]
    pinned: Mapping[str, str] = field(default_factory=dict)
    sets: dict[str, ast.CriteriaSet] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    base_problems: dict[str, list[Diagnostic]] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    _stack: list[str] = field(default_factory=list)

    def versions(self, set_id: str) -> list[SetFile]:
        return [f for f in self.files.values() if f.spec.id == set_id]


def _error(code: str, message: str, span: Span | None, file: str | None) -> Diagnostic:
    return Diagnostic("error", code, message, span, file)


def pick_base(extends: str, candidates: Iterable[SetFile], *, pinned: SetFile | None = None
              ) -> tuple[SetFile | None, str | None]:
    """The file ``extends`` names among ``candidates`` (the base id's versions).

    An exact version matches whatever its status; a range picks the highest matching version
    that is not a draft — except for a published variant: ``pinned`` is the base version it
    was locked with, and it stays on that base while the range still admits it, so a newer
    base version never changes a published variant (give the variant a new version to move
    it onto the new base). Returns ``(file, None)`` or ``(None, why not)``.
    """
    set_id, _, wanted = extends.partition("@")
    if not wanted.strip():
        return None, (f"'extends: {extends}' needs a version or range after '@' "
                      f"(e.g. {set_id}@1.0.0 or {set_id}@^1.0.0)")
    try:
        rng = Range.parse(wanted)
    except ValueError as ex:
        return None, f"'extends: {extends}': {ex}"
    found = list(candidates)
    if (pinned is not None and pinned.spec.id == set_id and pinned in found
            and rng.matches(pinned.spec.version)):
        return pinned, None
    if not found:
        return None, f"there is no criteria set {set_id!r} in the catalogue"
    by_version = {Version.parse(f.spec.version): f for f in found}
    if rng.exact is not None:
        eligible = list(by_version)
    else:
        eligible = [v for v, f in by_version.items() if f.spec.status != "draft"]
    best = rng.best(eligible)
    if best is None:
        have = ", ".join(f"{v}" + (" (draft)" if by_version[v].spec.status == "draft" else "")
                         for v in sorted(by_version))
        return None, f"no version of {set_id} matches {wanted!r}; the catalogue has {have}"
    return by_version[best], None


def resolve_all(res: Resolution, variants: Iterable[SetFile]) -> None:
    """Resolve every variant (variants of variants too), adding sets and problems to ``res``."""
    for setfile in variants:
        _resolve_key(res, setfile.key)


def _resolve_key(res: Resolution, key: str) -> ast.CriteriaSet | None:
    if key in res.sets:
        return res.sets[key]
    if key in res.failed:
        return None
    setfile = res.files[key]
    doc = setfile.doc
    where = doc.span(("extends",))
    extends = setfile.spec.extends or ""
    if key in res._stack:
        cycle = [*res._stack[res._stack.index(key):], key]
        for member in cycle[:-1]:
            f = res.files[member]
            res.problems.append(_error("extends_cycle", "variants extend each other in a cycle: "
                                       + " → ".join(cycle), f.doc.span(("extends",)), f.doc.file))
            res.failed.add(member)
        return None
    base_file, why = pick_base(extends, res.versions(extends.partition("@")[0]),
                               pinned=res.files.get(res.pinned.get(key, "")))
    if base_file is None:
        res.problems.append(_error("unknown_base", why or "", where, doc.file))
        res.failed.add(key)
        return None
    res._stack.append(key)
    try:
        base = _resolve_key(res, base_file.key) if base_file.spec.extends else res.sets.get(
            base_file.key)
    finally:
        res._stack.pop()
    if key in res.failed:  # marked while resolving a cycle through this variant
        return None
    if base is None:
        res.problems.append(_error(
            "base_has_errors",
            f"the base {base_file.key} has errors ({base_file.doc.span(('id',))}); "
            "fix it first", where, doc.file))
        res.failed.add(key)
        return None
    cs, problems = resolve(setfile, base, base_file,
                           base_problems=res.base_problems.get(base.key, ()))
    res.problems += problems
    if cs is None or any(p.severity == "error" for p in problems):
        res.failed.add(key)
        return None
    res.sets[key] = cs
    res.base_problems[key] = problems
    return cs


class _Builder:
    """Applies one variant file to its resolved base."""

    def __init__(self, setfile: SetFile, base: ast.CriteriaSet, base_file: SetFile) -> None:
        self.setfile = setfile
        self.doc = setfile.doc
        self.origin = setfile.key
        self.base = base
        self.base_file = base_file
        self.problems: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.broken: set[str] = set()
        """Names of the variant's criteria that did not parse: later checks skip them."""
        self.still_used: set[str] = set()
        """Names the variant drops although something still uses them (reported once)."""

    # -- messages ----------------------------------------------------------------------------

    def error(self, code: str, message: str, span: Span) -> None:
        self.problems.append(_error(code, message, span, self.doc.file))

    def warn(self, code: str, message: str, span: Span) -> None:
        self.warnings.append(Diagnostic("warning", code, message, span, self.doc.file))

    def base_where(self, section: str) -> str:
        """Where ``section`` (``parameters``, ``outcomes`` …) is in the base file."""
        return str(self.base_file.doc.key_span((section,)))

    def not_in_base(self, kind: str, name: str, known: Iterable[str], section: str,
                    more: str = "") -> str:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (f"{kind} {name!r} is not in the base {self.base.key} "
                f"({self.base_where(section)}){more}{hint}")

    # -- sections ----------------------------------------------------------------------------

    def dropped(self, section: str, base_names: list[str]) -> set[str]:
        """The names the variant's ``drop`` lists under ``section``; an error for a name the
        base does not have."""
        drop = self.setfile.spec.drop
        names = getattr(drop, section) if drop is not None else ()
        kind = {"parameters": "parameter", "criteria": "criterion", "inputs": "input"}[section]
        for i, name in enumerate(names):
            if name not in base_names:
                self.error("not_in_base", "drop: " + self.not_in_base(
                    kind, name, base_names, section), self.doc.span(("drop", section, i)))
        return set(names)

    def parameters(self) -> tuple[ast.Parameter, ...]:
        out = {p.name: p for p in self.base.parameters}
        for name in self.dropped("parameters", list(out)):
            out.pop(name, None)
        for name, spec in self.setfile.spec.parameters.items():
            mine = build_parameter(name, spec, self.doc, self.origin)
            self.problems += parameter_problems(name, spec, self.doc)
            old = out.get(name)
            if old is not None:
                given = spec.model_fields_set
                same_value = type(old.value) is type(spec.value) and old.value == spec.value
                mine = mine.model_copy(update={
                    "unit": spec.unit if "unit" in given else old.unit,
                    "description": spec.description if "description" in given
                    else old.description,
                    "from_source": spec.from_source if "from_source" in given
                    else (old.from_source and same_value),
                })
            out[name] = mine
        return tuple(out.values())

    def inputs(self) -> tuple[ast.InputDecl, ...]:
        gone = self.dropped("inputs", [i.name for i in self.base.inputs])
        out = [i for i in self.base.inputs if i.name not in gone]
        for name, spec in self.setfile.spec.inputs.items():
            old = self.base.input(name)
            if old is not None:
                self.error("input_redeclared",
                           f"input {name!r} is already declared in the base {self.base.key} "
                           f"({old.span}); a variant can only add inputs",
                           self.doc.key_span(("inputs", name)))
                continue
            out.append(build_input(name, spec, self.doc, self.origin))
        return tuple(out)

    def criteria(self) -> list[ast.Criterion]:
        out = {c.name: c for c in self.base.criteria}
        for name in self.dropped("criteria", list(out)):
            out.pop(name, None)
        for name, spec in self.setfile.spec.criteria.items():
            criterion, problems = build_criterion(name, spec, self.doc, self.origin)
            self.problems += problems
            if criterion is not None:
                out[name] = criterion
            else:
                self.broken.add(name)
        return list(out.values())

    def outcomes(self) -> tuple[list[ast.OutcomeRule], ast.OutcomeRule]:
        rules = list(self.base.rules)
        otherwise = self.base.otherwise
        for i, spec in enumerate(self.setfile.spec.outcomes):
            rules, otherwise = self.outcome(i, spec, rules, otherwise)
        return rules, otherwise

    def outcome(self, i: int, spec: OutcomeSpec, rules: list[ast.OutcomeRule],
                otherwise: ast.OutcomeRule) -> tuple[list[ast.OutcomeRule], ast.OutcomeRule]:
        path = ("outcomes", i)
        span = self.doc.span(path)
        if spec.before is not None and spec.after is not None:
            self.error("bad_placement", f"outcome {spec.id!r}: give 'before' or 'after', "
                       "not both", self.doc.span((*path, "after")))
            return rules, otherwise
        moves = spec.before is not None or spec.after is not None
        ids = [r.id for r in rules]
        wording = self._wording(spec)
        if spec.otherwise or spec.id == otherwise.id:
            if spec.when is not None:
                message = (f"outcome {spec.id!r} is the 'otherwise' outcome; it cannot get a "
                           "condition" if not spec.otherwise else
                           f"outcome {spec.id!r} needs exactly one of 'when' and "
                           "'otherwise: true'")
                self.error("schema_error", message, span)
            elif moves:
                self.error("bad_placement", f"outcome {spec.id!r}: the 'otherwise' outcome "
                           "is always last and cannot be moved", span)
            elif spec.id in ids:
                old = rules[ids.index(spec.id)]
                self.error("schema_error", f"outcome {spec.id!r} is a rule in the base "
                           f"({old.span}); it cannot become the 'otherwise' outcome", span)
            elif spec.id != otherwise.id and spec.title is None:
                self.error("schema_error", f"outcome {spec.id!r} needs a title", span)
            elif spec.otherwise or wording:
                same = spec.id == otherwise.id
                otherwise = ast.OutcomeRule(
                    id=spec.id,
                    title=wording.get("title", otherwise.title if same else None),
                    explanation=wording.get("explanation", otherwise.explanation if same
                                            else None),
                    when=None, source=None, origin=self.origin, span=span)
            return rules, otherwise
        if spec.id in ids:
            at = ids.index(spec.id)
            rule = rules[at]
            updates: dict[str, object] = dict(wording)
            if spec.when is not None:
                expr, problems = parse_at(spec.when, self.doc, (*path, "when"))
                self.problems += problems
                if expr is None:
                    return rules, otherwise
                updates.update(when=expr, source=spec.when)
                if spec.explanation is None and rule.explanation is not None:
                    self._explanation_kept(rule, span)
            if updates:
                updates.update(origin=self.origin, span=span)
                rule = rule.model_copy(update=updates)
            rules = rules[:at] + rules[at + 1:]
            place = self._place(i, spec, rules, otherwise) if moves else at
            if place is None:
                return [*rules[:at], rule, *rules[at:]], otherwise
            return [*rules[:place], rule, *rules[place:]], otherwise
        if spec.when is None:
            self.error("unknown_base_outcome", self.not_in_base(
                "outcome", spec.id, [*ids, otherwise.id], "outcomes",
                "; a new outcome needs 'when' and 'title'"), span)
            return rules, otherwise
        if spec.title is None:
            self.error("schema_error", self.not_in_base(
                "outcome", spec.id, [*ids, otherwise.id], "outcomes",
                "; a new outcome needs a title"), span)
            return rules, otherwise
        expr, problems = parse_at(spec.when, self.doc, (*path, "when"))
        self.problems += problems
        if expr is None:
            return rules, otherwise
        rule = ast.OutcomeRule(id=spec.id, title=local_text(spec.title),
                               explanation=wording.get("explanation"), source=spec.when,
                               when=expr, origin=self.origin, span=span)
        place = self._place(i, spec, rules, otherwise) if moves else len(rules)
        if place is None:
            return rules, otherwise
        return [*rules[:place], rule, *rules[place:]], otherwise

    def _explanation_kept(self, rule: ast.OutcomeRule, span: Span) -> None:
        assert rule.explanation is not None
        said = rule.explanation.nb
        short = said if len(said) <= 60 else said[:57] + "…"
        self.warnings.append(Diagnostic(
            "warning", "explanation_kept",
            f"outcome {rule.id!r}: the condition changes but the explanation is still the "
            f"base's («{short}»): write an explanation that says the new rule",
            span, self.doc.file,
            (("nb", f"utfallet «{rule.id}»: regelen endres, men forklaringen er fortsatt den "
                    f"fra grunnsettet («{short}»): skriv en forklaring som sier den nye "
                    "regelen"),
             ("nn", f"utfallet «{rule.id}»: regelen blir endra, men forklaringa er framleis "
                    f"den frå grunnsettet («{short}»): skriv ei forklaring som seier den nye "
                    "regelen"))))

    @staticmethod
    def _wording(spec: OutcomeSpec) -> dict[str, ast.LocalText]:
        out: dict[str, ast.LocalText] = {}
        if spec.title is not None:
            out["title"] = local_text(spec.title)
        if spec.explanation is not None:
            out["explanation"] = local_text(spec.explanation)
        return out

    def _place(self, i: int, spec: OutcomeSpec, rules: list[ast.OutcomeRule],
               otherwise: ast.OutcomeRule) -> int | None:
        """Where ``before``/``after`` puts the rule in ``rules`` (``None``: an error)."""
        anchor = spec.before if spec.before is not None else spec.after
        key = "before" if spec.before is not None else "after"
        assert anchor is not None
        span = self.doc.span(("outcomes", i, key))
        ids = [r.id for r in rules]
        if anchor == otherwise.id:
            if key == "before":
                return len(rules)
            self.error("bad_placement", f"outcome {spec.id!r} cannot come after the "
                       f"'otherwise' outcome {anchor!r}", span)
            return None
        if anchor == spec.id:
            self.error("bad_placement", f"outcome {spec.id!r} cannot be placed {key} itself",
                       span)
            return None
        if anchor not in ids:
            self.error("unknown_base_outcome", f"{key}: "
                       + self.not_in_base("outcome", anchor, [*ids, otherwise.id], "outcomes"),
                       span)
            return None
        at = ids.index(anchor)
        return at if key == "before" else at + 1

    # -- the whole set -----------------------------------------------------------------------

    def build(self) -> ast.CriteriaSet | None:
        spec = self.setfile.spec
        self.problems += changelog_problems(self.setfile)
        parameters = self.parameters()
        inputs = self.inputs()
        criteria = self.criteria()
        rules, otherwise = self.outcomes()
        monotone = spec.monotone if "monotone" in spec.model_fields_set else self.base.monotone
        if not self.problems:
            self._still_used(criteria, rules)
        if not self.problems:
            self._unused_additions(parameters, criteria, rules)
        if self.problems:
            env = declared_names(parameters, inputs, [*(c.name for c in criteria),
                                                      *sorted(self.broken)])
            self.problems += check_expressions(
                [c for c in criteria if c.origin == self.origin
                 and not ast.names(c.expr) & self.still_used],
                [r for r in rules if r.origin == self.origin and r.when is not None
                 and not ast.names(r.when) & self.still_used], env)
            return None
        sha = hashlib.sha256(
            (self.doc.canonical() + "\n" + self.base.sha256).encode("utf-8")).hexdigest()
        return ast.CriteriaSet(
            id=spec.id, version=spec.version, title=local_text(spec.title), status=spec.status,
            effective_from=spec.effective_from, source=spec.source, notes=spec.notes,
            changelog=spec.changelog, extends=self.base.key, parameters=parameters,
            inputs=inputs, criteria=tuple(criteria), rules=tuple(rules), otherwise=otherwise,
            monotone=monotone, narrows=spec.narrows, file=self.doc.file, sha256=sha)

    def _still_used(self, criteria: list[ast.Criterion], rules: list[ast.OutcomeRule]) -> None:
        """A dropped name something still uses: one error at the ``drop`` entry, naming the
        user (the "unknown name" errors it would cause are not reported)."""
        drop = self.setfile.spec.drop
        if drop is None:
            return
        users = [(f"criterion {c.name!r}", c.expr) for c in criteria]
        users += [(f"the condition of {r.id!r}", r.when) for r in rules if r.when is not None]
        for section in ("parameters", "criteria", "inputs"):
            for i, name in enumerate(getattr(drop, section)):
                user = next((who for who, expr in users if name in ast.names(expr)), None)
                if user is not None:
                    self.error("still_used", f"drop: {name!r} cannot be dropped: {user} "
                               "still uses it", self.doc.span(("drop", section, i)))
                    self.still_used.add(name)

    def _unused_additions(self, parameters: Iterable[ast.Parameter],
                          criteria: list[ast.Criterion], rules: list[ast.OutcomeRule]) -> None:
        """A parameter or criterion the variant adds but nothing uses may have been meant to
        override one the base has (or had): a warning naming the base, as for an unused
        input. Only run when everything parsed (else "nothing uses it" may be false)."""
        used: set[str] = set()
        for c in criteria:
            used |= ast.names(c.expr)
        for r in rules:
            if r.when is not None:
                used |= ast.names(r.when)
        spec = self.setfile.spec
        base_params = [p.name for p in self.base.parameters]
        for name in spec.parameters:
            if name not in base_params and name not in used:
                self.warn("unused_parameter", self.not_in_base(
                    "parameter", name, base_params, "parameters", ", and nothing uses it"),
                    self.doc.key_span(("parameters", name)))
        base_criteria = [c.name for c in self.base.criteria]
        for name in spec.criteria:
            if name not in base_criteria and name not in used:
                self.warn("unused_criterion", self.not_in_base(
                    "criterion", name, base_criteria, "criteria", ", and nothing uses it"),
                    self.doc.key_span(("criteria", name)))


def resolve(setfile: SetFile, base: ast.CriteriaSet, base_file: SetFile, *,
            base_problems: Iterable[Diagnostic] = ()) -> tuple[ast.CriteriaSet | None,
                                                             list[Diagnostic]]:
    """Apply the variant ``setfile`` to ``base`` (read from ``base_file``) and check the result.

    Returns the flat set (``None`` when it has errors) and every problem, errors and warnings.
    Problems found in the base's part of the set are reported at the variant's ``extends``
    with the base position in the message; ``base_problems`` (the base's own diagnostics) are
    not repeated.
    """
    builder = _Builder(setfile, base, base_file)
    cs = builder.build()
    if cs is None:
        return None, _rehome(builder, builder.problems, ())
    hinted = {(w.code, w.span) for w in builder.warnings}
    problems = [d for d in check_set(cs) if (d.code, d.span) not in hinted]
    return cs, _rehome(builder, problems + builder.warnings, base_problems, cs)


def _rehome(builder: _Builder, problems: Iterable[Diagnostic],
            base_problems: Iterable[Diagnostic],
            cs: ast.CriteriaSet | None = None) -> list[Diagnostic]:
    doc = builder.doc
    extends_span = doc.span(("extends",))
    known = {(d.code, d.message, d.span) for d in base_problems}
    out: list[Diagnostic] = []
    for d in problems:
        if d.span is None:
            out.append(Diagnostic(d.severity, d.code, d.message, extends_span, doc.file))
        elif d.span.file != doc.file:
            if (d.code, d.message, d.span) in known:
                continue
            out.append(Diagnostic(d.severity, d.code,
                                  f"{d.message} (in the base {builder.base.key} at {d.span})"
                                  + _drop_hint(d), extends_span, doc.file))
        elif d.severity == "error" and d.code in _NAME_CODES and cs is not None:
            out.append(Diagnostic(d.severity, d.code, d.message + _base_names(builder, cs, d),
                                  d.span, doc.file))
        else:
            out.append(d)
    unique = {(d.severity, d.code, d.message, d.span): d for d in out}
    return sorted(unique.values(), key=Diagnostic.sort_key)


_SECTIONS = {"unused_parameter": "parameters", "unused_criterion": "criteria",
             "unused_input": "inputs"}


def _drop_hint(d: Diagnostic) -> str:
    """For a base item the variant no longer uses: how the variant leaves it out."""
    section = _SECTIONS.get(d.code)
    name = d.message.split("'")[1] if section and d.message.count("'") >= 2 else None
    if section is None or name is None:
        return ""
    return f"; if the variant does not need it, leave it out with 'drop: {{{section}: [{name}]}}'"


def _base_names(builder: _Builder, cs: ast.CriteriaSet, d: Diagnostic) -> str:
    """For an expression error in the variant: where the base declares the names involved."""
    assert d.span is not None
    exprs = [c.expr for c in cs.criteria if c.origin == builder.origin]
    exprs += [r.when for r in cs.rules if r.origin == builder.origin and r.when is not None]
    names: set[str] = set()
    for expr in exprs:
        for node in ast.walk(expr):
            s = node.span
            if isinstance(node, ast.Name) and s is not None and _inside(s, d.span):
                names.add(node.name)
    notes: list[str] = []
    for name in sorted(names):
        item: ast.InputDecl | ast.Parameter | ast.Criterion | None = (
            cs.input(name) or cs.parameter(name) or cs.criterion(name))
        if item is not None and item.origin != builder.origin and item.span is not None:
            notes.append(f"{name!r} is declared in the base at {item.span}")
    if d.code == "unknown_name" and not notes:
        notes.append(f"the base {builder.base.key} ({builder.base_where('inputs')}) does not "
                     "declare it")
    return ("; " + "; ".join(notes)) if notes else ""


def _inside(inner: Span, outer: Span) -> bool:
    return ((outer.line, outer.column) <= (inner.line, inner.column)
            and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)) or (
        (inner.line, inner.column) <= (outer.line, outer.column)
        and (outer.end_line, outer.end_column) <= (inner.end_line, inner.end_column))
