"""Test cases as data: ``*.cases.yaml`` files next to the criteria files they exercise.

A case file names one criteria set and lists cases, each with inputs and what the set must
conclude::

    set: helse-vest/anbefaling-3@1.0.0
    cases:
      - name: A and two of B–D hold
        inputs: {expected_followup_months: 12, lifelong_course: true, involved_units: 3}
        expect:
          outcome: coordinator_likely     # null = undetermined
          criteria: {A: true, C: null}    # optional, partial
          missing: [situation_indicates_need]   # optional, exact

:func:`read_case_file` parses and schema-checks a file, :func:`check_case_file` checks it
against a catalogue (unknown set, input, criterion or outcome, wrong input types: each an
error with its position), :func:`run_cases` evaluates every case and :class:`Coverage`
records which criterion values and outcomes the cases reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from koordrules import ast
from koordrules.catalog import Catalog
from koordrules.engine import evaluate
from koordrules.errors import CriteriaError, Diagnostic, KoordError
from koordrules.explain import node_lines, show_value
from koordrules.inputs import check_value
from koordrules.result import Result
from koordrules.textguard import lines_text
from koordrules.yamldoc import YamlDoc, parse_yaml, read_yaml, validate

CASES_SUFFIX = ".cases.yaml"


# --- the file format ---------------------------------------------------------------------------


class _Spec(BaseModel):
    # Attribute docstrings become the JSON Schema descriptions editors show on hover.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class CaseExpectation(_Spec):
    """What the criteria set must conclude for the case's inputs."""

    outcome: str | None
    """The expected outcome id; ``null`` means the outcome must be undetermined."""
    criteria: dict[str, StrictBool | None] | None = None
    """Expected values of some criteria (``true``, ``false``, or ``null`` for unknown)."""
    missing: list[str] | None = None
    """The exact list of unknown inputs that would decide an undetermined outcome."""


class Case(_Spec):
    """One test case: a record and the expected conclusion."""

    name: str = Field(min_length=1)
    """A short, human-readable name, unique in the file."""
    inputs: dict[str, Any] = Field(default_factory=dict)
    """The record: input name → value. Inputs left out are unknown."""
    expect: CaseExpectation
    """What the set must conclude."""


class CaseFile(_Spec):
    """A ``*.cases.yaml`` file: cases for one criteria set."""

    set: str = Field(min_length=1)
    """The criteria set, ``id@version`` (or ``id`` for the latest active version)."""
    cases: list[Case] = Field(min_length=1)
    """The cases, run in order."""


# --- reading and checking --------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedCases:
    """A case file that parsed, matched the schema and fits its criteria set."""

    spec: CaseFile
    doc: YamlDoc
    criteria_set: ast.CriteriaSet
    problems: tuple[Diagnostic, ...] = ()
    """Problems of single cases (a bad input value, an unknown outcome ...)."""
    broken: frozenset[int] = frozenset()
    """The indices of the cases with problems: reported, not run; the others run."""

    @property
    def file(self) -> str | None:
        return self.doc.file

    def case_span(self, index: int) -> Any:
        return self.doc.span(("cases", index))


def case_files(root: str | Path) -> list[Path]:
    """The case files under ``root`` (or ``root`` itself if it is a case file), sorted."""
    path = Path(root)
    if path.is_file():
        return [path] if path.name.endswith(CASES_SUFFIX) else []
    return sorted(p for p in path.rglob("*" + CASES_SUFFIX) if p.is_file())


def read_case_file(path: str | Path) -> tuple[CaseFile, YamlDoc]:
    """Read and schema-check a case file; raises :class:`CriteriaError` listing problems."""
    return _validated(read_yaml(path, raw_keys=()))


def read_case_text(text: str, *, file: str | None = None) -> tuple[CaseFile, YamlDoc]:
    """Like :func:`read_case_file`, from text."""
    return _validated(parse_yaml(text, file=file, raw_keys=()))


def _validated(doc: YamlDoc) -> tuple[CaseFile, YamlDoc]:
    spec, problems = validate(CaseFile, doc)
    if spec is None:
        raise CriteriaError(problems, file=doc.file)
    return spec, doc


def _err(doc: YamlDoc, code: str, message: str, path: tuple[str | int, ...]) -> Diagnostic:
    return Diagnostic("error", code, message, doc.span(path), doc.file)


class _Files(_Spec):
    """A case file's outer shape, each case still unchecked."""

    set: str = Field(min_length=1)
    cases: list[Any] = Field(min_length=1)


def _lenient(doc: YamlDoc) -> tuple[CaseFile, tuple[Diagnostic, ...], frozenset[int]]:
    """The file with each case schema-checked on its own: a case with a structural problem
    (a misspelt field, a missing ``expect``) is reported and stands as a placeholder in
    ``broken``, so the file's other cases still run. Problems outside the cases (``set``,
    the list itself) fail the whole file."""
    spec, _ = validate(CaseFile, doc)
    if spec is not None:
        return spec, (), frozenset()
    outer, outer_problems = validate(_Files, doc)
    if outer is None:
        raise CriteriaError(outer_problems, file=doc.file)
    cases: list[Case] = []
    found: list[Diagnostic] = []
    broken: set[int] = set()
    for i in range(len(outer.cases)):
        case, case_problems = validate(Case, doc, ("cases", i))
        if case is None:
            found += case_problems
            broken.add(i)
            case = Case(name=f"\u0000case {i + 1}", expect=CaseExpectation(outcome=None))
        cases.append(case)
    return CaseFile(set=outer.set, cases=cases), tuple(found), frozenset(broken)


def check_case_file(spec: CaseFile, doc: YamlDoc, catalog: Catalog,
                    unreadable: tuple[Diagnostic, ...] = (),
                    unread: frozenset[int] = frozenset()) -> LoadedCases:
    """Check a case file against its set. A case with a problem is listed in ``problems``
    and ``broken`` (the other cases still run); a file whose set is unknown raises
    :class:`CriteriaError`. ``unreadable``/``unread``: the schema problems and indices of
    cases that did not match the schema (see :func:`load_cases`)."""
    try:
        cs = catalog.get(spec.set)
    except KoordError as ex:
        raise CriteriaError([_err(doc, "unknown_set", ex.message, ("set",))],
                            file=doc.file) from None
    problems: list[Diagnostic] = list(unreadable)
    decls = {d.name: d for d in cs.inputs}
    outcomes = {o.id for o in cs.outcomes}
    criteria = {c.name for c in cs.criteria}
    names: dict[str, int] = {}
    broken: set[int] = set(unread)
    for i, case in enumerate(spec.cases):
        if i in unread:
            continue
        before = len(problems)
        where: tuple[str | int, ...] = ("cases", i)
        if case.name in names:
            problems.append(_err(doc, "duplicate_case",
                                 f"another case (number {names[case.name] + 1}) is also "
                                 f"named {case.name!r}", (*where, "name")))
        names.setdefault(case.name, i)
        for key, value in case.inputs.items():
            decl = decls.get(key)
            if decl is None:
                problems.append(_err(doc, "unknown_input",
                                     f"{key!r} is not an input of {cs.key}",
                                     (*where, "inputs", key)))
                continue
            try:
                check_value(decl, value)
            except ValueError as reason:
                problems.append(_err(doc, "bad_input_value", f"input {key!r} {reason}",
                                     (*where, "inputs", key)))
        expect = case.expect
        if expect.outcome is not None and expect.outcome not in outcomes:
            problems.append(_err(doc, "unknown_outcome",
                                 f"{expect.outcome!r} is not an outcome of {cs.key} (it has "
                                 + ", ".join(o.id for o in cs.outcomes) + ")",
                                 (*where, "expect", "outcome")))
        for name in expect.criteria or {}:
            if name not in criteria:
                problems.append(_err(doc, "unknown_criterion",
                                     f"{name!r} is not a criterion of {cs.key}",
                                     (*where, "expect", "criteria", name)))
        for j, name in enumerate(expect.missing or ()):
            if name not in decls:
                problems.append(_err(doc, "unknown_input",
                                     f"{name!r} is not an input of {cs.key}",
                                     (*where, "expect", "missing", j)))
            elif name in case.inputs and case.inputs[name] is not None:
                problems.append(_err(doc, "not_missing",
                                     f"{name!r} is given in the case's inputs, so it cannot "
                                     "be missing", (*where, "expect", "missing", j)))
        if len(problems) > before:
            broken.add(i)
    return LoadedCases(spec, doc, cs, tuple(problems), frozenset(broken))


def load_cases(path: str | Path, catalog: Catalog) -> LoadedCases:
    """Read a case file and check it against ``catalog``: every problem of a single case is
    reported and that case is not run, the others are; raises :class:`CriteriaError` when
    the file as a whole cannot be used (not YAML, no ``set``, an unknown set)."""
    doc = read_yaml(path, raw_keys=())
    spec, unreadable, unread = _lenient(doc)
    return check_case_file(spec, doc, catalog, unreadable, unread)


# --- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One way a result differs from what the case expected."""

    what: str
    """``outcome``, ``criterion``, ``missing`` or ``error``."""
    name: str | None
    expected: Any
    actual: Any


@dataclass(frozen=True)
class CaseResult:
    """A case run: the result (``None`` if evaluation failed) and any mismatches."""

    case: Case
    file: str | None
    set_key: str
    location: str
    result: Result | None
    mismatches: tuple[Mismatch, ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches


def run_case(case: Case, cs: ast.CriteriaSet, *, file: str | None = None,
             location: str = "") -> CaseResult:
    """Evaluate one case under ``cs`` and compare with its expectation."""
    try:
        result = evaluate(cs, case.inputs, strict=True, trace=True)
    except KoordError as ex:
        return CaseResult(case, file, cs.key, location, None,
                          (Mismatch("error", ex.code, None, ex.message),))
    expect = case.expect
    found: list[Mismatch] = []
    if result.outcome != expect.outcome:
        found.append(Mismatch("outcome", None, expect.outcome, result.outcome))
    for name, value in (expect.criteria or {}).items():
        actual = result.criteria.get(name)
        if actual is not value:
            found.append(Mismatch("criterion", name, value, actual))
    if expect.missing is not None and sorted(set(expect.missing)) != list(result.missing):
        found.append(Mismatch("missing", None, sorted(set(expect.missing)),
                              list(result.missing)))
    return CaseResult(case, file, cs.key, location, result, tuple(found))


def run_cases(loaded: LoadedCases) -> list[CaseResult]:
    """Run every case of a checked case file (not those with problems)."""
    return [run_case(case, loaded.criteria_set, file=loaded.file,
                     location=str(loaded.case_span(i)))
            for i, case in enumerate(loaded.spec.cases) if i not in loaded.broken]


# --- coverage ----------------------------------------------------------------------------------

UNDETERMINED = "undetermined"
_VALUE_WORDS = {True: "true", False: "false", None: "unknown"}


@dataclass
class Coverage:
    """What the cases of one set reached: criterion values seen and outcomes produced."""

    criteria_set: ast.CriteriaSet
    cases: int = 0
    criteria: dict[str, set[bool | None]] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    undetermined: int = 0

    def add(self, result: Result) -> None:
        """Record what one result reached."""
        self.cases += 1
        for name, value in result.criteria.items():
            self.criteria.setdefault(name, set()).add(value)
        if result.outcome is None:
            self.undetermined += 1
        else:
            self.outcomes[result.outcome] = self.outcomes.get(result.outcome, 0) + 1

    def unreached(self) -> list[str]:
        """What no case reached: ``criterion A = unknown``, ``outcome x``, ``undetermined``."""
        missing = []
        for c in self.criteria_set.criteria:
            seen = self.criteria.get(c.name, set())
            missing += [f"criterion {c.name} = {_VALUE_WORDS[v]}" for v in (True, False, None)
                        if v not in seen]
        missing += [f"outcome {o.id}" for o in self.criteria_set.outcomes
                    if o.id not in self.outcomes]
        if not self.undetermined:
            missing.append("an undetermined outcome")
        return missing

    @property
    def total(self) -> int:
        """The number of coverage items: three values per criterion, each outcome, undetermined."""
        return 3 * len(self.criteria_set.criteria) + len(self.criteria_set.outcomes) + 1

    @property
    def complete(self) -> bool:
        return not self.unreached()

    def lines(self) -> list[str]:
        """The coverage as text lines (no trailing newline)."""
        cs = self.criteria_set
        unreached = self.unreached()
        reached = self.total - len(unreached)
        out = [f"{cs.key}: {reached}/{self.total} items reached by {self.cases} case(s)"]
        rows: list[tuple[str, str]] = []
        for c in cs.criteria:
            seen = self.criteria.get(c.name, set())
            rows.append((f"criterion {c.name}", "  ".join(
                f"{_VALUE_WORDS[v]} {'✓' if v in seen else '✗'}" for v in (True, False, None))))
        for o in cs.outcomes:
            n = self.outcomes.get(o.id, 0)
            label = "otherwise" if o.when is None else "outcome"
            rows.append((f"{label} {o.id}", f"{'✓' if n else '✗'} {n} case(s)"))
        rows.append(("undetermined", f"{'✓' if self.undetermined else '✗'} "
                                     f"{self.undetermined} case(s)"))
        width = max(len(label) for label, _ in rows)
        out += [f"  {label:<{width}}  {marks}" for label, marks in rows]
        if unreached:
            out.append("  not reached by any case: " + "; ".join(unreached))
        return out


def coverage(sets: Iterable[ast.CriteriaSet], results: Iterable[CaseResult]) -> list[Coverage]:
    """Coverage per set, for every set in ``sets`` (a set without cases reaches nothing)."""
    by_key = {cs.key: Coverage(cs) for cs in sets}
    for run in results:
        if run.result is not None and run.set_key in by_key:
            by_key[run.set_key].add(run.result)
    return [by_key[k] for k in sorted(by_key)]


# --- the whole suite ---------------------------------------------------------------------------


@dataclass
class Suite:
    """Every case file under a path, run against a catalogue."""

    catalog: Catalog
    files: list[Path] = field(default_factory=list)
    loaded: list[LoadedCases] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    results: list[CaseResult] = field(default_factory=list)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def coverage(self) -> list[Coverage]:
        return coverage(self.catalog, self.results)


def run_suite(catalog: Catalog, files: Sequence[Path]) -> Suite:
    """Check and run every case file in ``files`` against ``catalog``."""
    suite = Suite(catalog, list(files))
    for path in files:
        try:
            loaded = load_cases(path, catalog)
        except CriteriaError as ex:
            suite.diagnostics += ex.diagnostics
            continue
        except KoordError as ex:
            suite.diagnostics.append(ex.diagnostic())
            continue
        suite.loaded.append(loaded)
        suite.diagnostics += loaded.problems
        suite.results += run_cases(loaded)
    suite.diagnostics.sort(key=Diagnostic.sort_key)
    return suite


# --- reporting ---------------------------------------------------------------------------------


def _word(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    if value is None or isinstance(value, bool):
        return _VALUE_WORDS[value]
    return str(value)


def render_failure(run: CaseResult, *, lang: str = "nb") -> str:
    """A failed case as text: expected vs actual, then the trace of the part that differs.

    For a criterion that differs, its expression tree; for an outcome that differs, the
    rules tried and the expression tree of the rule that was expected (or chosen).
    """
    out = [f"FAIL {run.location}: {run.set_key}: {run.case.name}"]
    for m in run.mismatches:
        if m.what == "error":
            out.append(f"  error: {m.name}: {m.actual}")
        elif m.what == "criterion":
            out.append(f"  criterion {m.name}: expected {_word(m.expected)}, "
                       f"got {_word(m.actual)}")
        elif m.what == "outcome":
            out.append(f"  outcome: expected {m.expected or UNDETERMINED}, "
                       f"got {m.actual or UNDETERMINED}")
        else:
            out.append(f"  missing: expected {_word(m.expected)}, "
                       f"got {_word(m.actual)}")
    trace = run.result.trace if run.result else None
    if trace is None:
        return lines_text(out)
    differing = {m.name for m in run.mismatches if m.what == "criterion"}
    outcome_differs = any(m.what in ("outcome", "missing") for m in run.mismatches)
    for c in trace.criteria:
        if c.name in differing:
            out.append(f"  trace of criterion {c.name} ({c.sentence.get(lang)}):")
            out += node_lines(c.expression, lang, 2, top=True)
    if outcome_differs:
        values = "  ".join(f"{c.name}={show_value(c.value, lang)}" for c in trace.criteria)
        out.append(f"  criteria: {values}")
        out.append("  rules tried:")
        focus = {m.expected for m in run.mismatches if m.what == "outcome"}
        for i, r in enumerate(trace.rules, start=1):
            condition = " ".join(r.expression.text.split()) if r.expression else "otherwise"
            mark = "  ← chosen" if r.chosen else ""
            out.append(f"    {i}. {r.outcome}: {condition} → {show_value(r.value, lang)}{mark}")
            if r.expression is not None and (r.outcome in focus or r.value is None):
                out += node_lines(r.expression, lang, 4)[1:]
    return lines_text(out)
