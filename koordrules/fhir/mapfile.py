"""The mapping file (``criteria/**/*.mapping.yaml``): each input of a criteria set stated as
FHIRPath — which resources, which element, a time window relative to the as-of date, and an
aggregate. See ``docs/fhir.md`` for the format; :mod:`koordrules.fhir.derive` evaluates it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from koordrules import ast
from koordrules.ast import ChangelogEntry, LocalText, Source
from koordrules.errors import CatalogError, CriteriaError, Diagnostic, KoordError
from koordrules.fhir import fhirpath
from koordrules.fhir.valuesets import ValueSet, ValueSets
from koordrules.fileformat import ID_PATTERN, SEMVER_PATTERN
from koordrules.semver import Version
from koordrules.span import Span
from koordrules.values import Duration
from koordrules.yamldoc import YamlDoc, parse_yaml, read_yaml, validate

MAPPING_SUFFIX = ".mapping.yaml"
#: Keys whose values are FHIRPath; the YAML reader keeps them as text with positions.
PATH_KEYS = ("where", "each", "each_start", "each_end", "code", "start", "end", "recorded",
             "value")

_WINDOW = r"^\s*[0-9]{1,4}\s*(day|days|week|weeks|month|months|year|years)\s*$"
Window = Annotated[str, StringConstraints(pattern=_WINDOW)]
SetId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Semver = Annotated[str, StringConstraints(pattern=SEMVER_PATTERN)]
ResourceName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z]{1,60}$")]
FhirPath = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
Scalar = bool | int | float | str

Aggregate = Literal["exists", "count", "count_distinct", "min", "max", "latest",
                    "age_years", "months_until", "classify"]

#: The value type each aggregate gives (``classify``: the type of its groups' results).
RESULT_TYPES: dict[str, tuple[str, ...]] = {
    "exists": ("boolean",), "count": ("integer", "number"),
    "count_distinct": ("integer", "number"), "age_years": ("integer", "number"),
    "months_until": ("number",), "min": ("integer", "number", "date"),
    "max": ("integer", "number", "date"), "latest": ("integer", "number", "date", "string",
                                                       "enum", "boolean"),
}


def parse_window(text: str) -> Duration:
    """``"6 months"`` → ``Duration(months=6)``."""
    amount, unit = text.split()
    return Duration.of(int(amount), unit)


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True,
                              populate_by_name=True)


class Group(_Spec):
    """For ``classify``: the result when a selected resource's code is in a value set."""

    result: Scalar
    in_: str = Field(alias="in")
    """The value set (``id`` or ``id@version``)."""


class Range(_Spec):
    """Turns a number into a boolean: true when ``min <= value <= max``."""

    min: float | None = None
    max: float | None = None


class TextFallback(_Spec):
    """Opt-in: recognise the code by its text when no coding is in a system the value set
    knows. The result warns every time it is used."""

    contains: tuple[str, ...] = Field(min_length=1)
    """Words matched case-insensitively in ``text`` or ``coding.display``."""
    exclude: tuple[str, ...] = ()
    """Words that rule a text out even when ``contains`` matches."""


class InputSpec(_Spec):
    """How one input is derived from the bundle."""

    description: str | None = None
    resource: ResourceName
    """The resource type read (``Encounter``, ``Condition``…)."""
    where: FhirPath | None = None
    """FHIRPath on each resource; only those where it is true are kept."""
    each: FhirPath | None = None
    """FHIRPath giving elements of each resource to count instead of the resource itself
    (``participant`` of a CareTeam); ``code``, ``start``, ``end``, ``value`` then apply to them."""
    each_start: FhirPath | None = None
    """With ``each``: FHIRPath to the date each element begins (``period.start`` of a
    participant); one that begins after the as-of date does not count."""
    each_end: FhirPath | None = None
    """With ``each``: FHIRPath to the date each element ends; one ended on or before the
    as-of date does not count."""
    code: FhirPath | None = None
    """FHIRPath to the CodeableConcept(s) matched against the value set ``in``."""
    in_: str | None = Field(default=None, alias="in")
    """The value set the code must be in (``id`` or ``id@version``)."""
    text_fallback: TextFallback | None = None
    status: tuple[str, ...] = ()
    """Statuses counted, as of the as-of date: the ``statusHistory`` entry whose period
    covers it (EpisodeOfCare, Encounter), else the resource's ``status``. Empty: any."""
    recorded: FhirPath | None = None
    """FHIRPath to the date the fact was recorded (``recordedDate``, ``authoredOn``): one
    recorded after the as-of date was not known then and is not counted."""
    start: FhirPath | None = None
    """FHIRPath to the date the resource begins (onset, ``period.start``, ``authoredOn``).
    A resource that begins after the as-of date is never counted."""
    end: FhirPath | None = None
    """FHIRPath to the date it ends (abatement, ``period.end``); empty = not ended."""
    undated: Literal["unknown", "count"] = "unknown"
    """A resource without a ``start`` date: it may count or not, so the input is unknown
    (default), or ``count``: it is taken to have begun before the as-of date."""
    active: bool = False
    """Only resources not ended on the as-of date (``end`` empty or after it)."""
    window: Window | None = None
    """A period before the as-of date (``6 months``): ``(as_of - window, as_of]``."""
    window_test: Literal["start", "overlap"] = "start"
    """``start``: the resource began in the window; ``overlap``: it was under way at some
    time in the window (began before the as-of date, not ended before the window)."""
    aggregate: Aggregate
    value: FhirPath | None = None
    """The element aggregated: the key for ``count_distinct``, the number or date for
    ``min``/``max``/``latest``, the birth date for ``age_years``, the end date for
    ``months_until``."""
    missing_value: Literal["unknown", "skip"] = "unknown"
    """A selected resource without ``value``: the input is unknown (default) or the
    resource is skipped with a warning. For ``count_distinct`` every value counts (an
    encounter at two wards names two)."""
    groups: tuple[Group, ...] = ()
    """For ``classify``."""
    pick: Literal["first", "max"] = "first"
    """For ``classify``: the first group listed that matches, or the largest result."""
    otherwise: Scalar | None = None
    """For ``classify``: the value when resources are selected but none is in a group."""
    open_ended: float | None = None
    """For ``months_until``: the value for a selected resource without an end date."""
    range: Range | None = None
    absent: Scalar | None = None
    """The value when the bundle holds no resource of this type (default: unknown)."""


class TargetSpec(_Spec):
    """The criteria set a mapping feeds."""

    id: SetId
    versions: str | None = None
    """Versions it fits, as comparisons (``>=1.0.0, <2.0.0``); leave out for all."""


class MappingFile(_Spec):
    """A FHIR mapping, as written in ``criteria/**/*.mapping.yaml``."""

    id: SetId
    version: Semver
    title: LocalText | str
    status: Literal["draft", "active", "retired"]
    effective_from: dt.date
    source: Source
    notes: str | None = None
    changelog: tuple[ChangelogEntry, ...] = ()
    fhir_version: Literal["R4"] = "R4"
    criteria: TargetSpec | SetId
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    unmapped: dict[str, str] = Field(default_factory=dict)
    """Inputs the record cannot hold, with the reason; they stay unknown."""


@dataclass(frozen=True)
class FhirMapping:
    """A mapping file that parsed, with the value sets it names resolved."""

    spec: MappingFile
    doc: YamlDoc
    valuesets: dict[str, ValueSet] = field(default_factory=dict)
    """Each ``in`` reference as written → the value set it resolved to."""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def key(self) -> str:
        return f"{self.spec.id}@{self.spec.version}"

    @property
    def sha256(self) -> str:
        """The content hash results record: the mapping's data and every value set it uses
        (id, version, hash), so a changed code list changes it too."""
        parts = [self.doc.canonical()]
        parts += sorted(f"{vs.key}:{vs.sha256}" for vs in self.valuesets.values())
        return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()

    @property
    def target(self) -> TargetSpec:
        c = self.spec.criteria
        return c if isinstance(c, TargetSpec) else TargetSpec(id=c)

    @property
    def file(self) -> str | None:
        return self.doc.file


def _value_refs(spec: MappingFile) -> list[tuple[tuple[str | int, ...], str]]:
    out: list[tuple[tuple[str | int, ...], str]] = []
    for name, inp in spec.inputs.items():
        if inp.in_:
            out.append((("inputs", name, "in"), inp.in_))
        out += [(("inputs", name, "groups", i, "in"), g.in_) for i, g in enumerate(inp.groups)]
    return out


def path_span(doc: YamlDoc, path: tuple[str | int, ...], line: int, column: int) -> Span:
    """The file position of (line, column) inside the FHIRPath text at ``path``."""
    info = doc.scalars.get(path)
    if info is None:
        return doc.span(path)
    if info.style == ">" and not info.single_line:
        at_line, at_column = _folded_position(doc, info.line, line, column)
    else:
        at_line, at_column = info.position(line, column)
    return Span(file=doc.file, line=at_line, column=at_column, end_line=at_line,
                end_column=at_column + 1)


def _folded_position(doc: YamlDoc, header: int, line: int, column: int) -> tuple[int, int]:
    """File position of (line, column) in a folded (``>``) scalar whose indicator is on
    file line ``header``: its source lines are joined by single spaces."""
    lines = doc.text.splitlines()
    offset = column - 1  # folded text has one line: its lines joined by spaces
    for number in range(header, len(lines)):
        body = lines[number]
        text = body.strip()
        if not text:
            break
        if offset <= len(text):
            return number + 1, len(body) - len(body.lstrip(" ")) + offset + 1
        offset -= len(text) + 1
    return header, 1


def fhirpath_problems(doc: YamlDoc, spec: MappingFile) -> list[Diagnostic]:
    """Every FHIRPath in the mapping parsed; each mistake at its ``file:line:col``."""
    out = []
    for name, inp in spec.inputs.items():
        for key in PATH_KEYS:
            text = getattr(inp, key)
            if text is None:
                continue
            for p in fhirpath.check_expression(text):
                path = ("inputs", name, key)
                out.append(Diagnostic("error", "fhirpath_error", f"{name}.{key}: {p.message}",
                                      path_span(doc, path, p.line, p.column), doc.file))
    return out


def _self_check(doc: YamlDoc, spec: MappingFile, valuesets: ValueSets | None
                ) -> tuple[dict[str, ValueSet], list[Diagnostic]]:
    out = fhirpath_problems(doc, spec)
    target = spec.criteria
    if isinstance(target, TargetSpec) and target.versions is not None:
        try:
            _version_range(target.versions)
        except ValueError as ex:
            out.append(Diagnostic("error", "mapping_error", str(ex),
                                  doc.span(("criteria", "versions")), doc.file))
    resolved: dict[str, ValueSet] = {}
    for path, ref in _value_refs(spec):
        if valuesets is None:
            out.append(Diagnostic("error", "unknown_valueset", f"no value sets to resolve "
                                  f"{ref!r}", doc.span(path), doc.file))
            continue
        try:
            resolved[ref] = valuesets.get(ref)
        except CatalogError as ex:
            out.append(Diagnostic("error", "unknown_valueset", ex.message, doc.span(path),
                                  doc.file))
    for name, inp in spec.inputs.items():
        out += _shape_problems(doc, name, inp)
        if name in spec.unmapped:
            out.append(Diagnostic("error", "mapping_error", f"{name!r} is both mapped and "
                                  "listed under 'unmapped'", doc.span(("unmapped", name)),
                                  doc.file))
    return resolved, out


def _shape_problems(doc: YamlDoc, name: str, inp: InputSpec) -> list[Diagnostic]:
    """Combinations of fields an aggregate needs or cannot use."""
    need_value = {"count_distinct", "min", "max", "latest", "age_years", "months_until"}
    problems = []

    def bad(message: str, key: str) -> None:
        problems.append(Diagnostic("error", "mapping_error", f"{name}: {message}",
                                   doc.span(("inputs", name, key)), doc.file))

    if inp.aggregate in need_value and inp.value is None:
        bad(f"aggregate {inp.aggregate} needs 'value' (the element it reads)", "aggregate")
    if inp.aggregate == "classify" and not inp.groups:
        bad("aggregate classify needs 'groups'", "aggregate")
    if inp.groups and inp.aggregate != "classify":
        bad("'groups' is only for aggregate classify", "groups")
    if (inp.code is None) != (inp.in_ is None) and inp.aggregate != "classify":
        bad("'code' and 'in' go together (the element and the value set it must be in)",
            "code" if inp.code else "in")
    if inp.aggregate == "classify" and inp.code is None:
        bad("aggregate classify needs 'code' (the element matched against the groups)",
            "aggregate")
    if (inp.each_start or inp.each_end) and inp.each is None:
        bad("'each_start'/'each_end' need 'each'", "each_start" if inp.each_start else "each_end")
    if inp.text_fallback is not None and inp.code is None:
        bad("'text_fallback' needs 'code'", "text_fallback")
    if (inp.window is not None or inp.active) and inp.start is None:
        bad("a 'window' or 'active' needs 'start' (the date that places a resource in time)",
            "window" if inp.window else "active")
    if inp.window_test == "overlap" and inp.end is None:
        bad("window_test overlap needs 'end'", "window_test")
    if inp.active and inp.end is None:
        bad("'active' needs 'end' (empty = not ended)", "active")
    return problems


def _validated(doc: YamlDoc, valuesets: ValueSets | None) -> FhirMapping:
    spec, problems = validate(MappingFile, doc)
    if spec is None:
        raise CriteriaError([_tidy(p) for p in problems], file=doc.file)
    resolved, problems = _self_check(doc, spec, valuesets)
    if any(p.severity == "error" for p in problems):
        raise CriteriaError(problems, file=doc.file)
    return FhirMapping(spec, doc, resolved)


def _tidy(d: Diagnostic) -> Diagnostic:
    message = d.message.replace("'in_' | 'in'", "'in'").replace("found using", "in")
    return Diagnostic(d.severity, d.code, message, d.span, d.file)


def _catalogue_root(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / "criteria.lock").is_file() or (parent / "valuesets").is_dir():
            return parent
    return None


def default_valuesets(near: str | Path | None = None) -> ValueSets:
    """The value sets of the catalogue a file sits in (the nearest folder up with a
    ``criteria.lock`` or a ``valuesets/``), else the shipped ones."""
    from koordrules.resources import criteria_dir

    root = _catalogue_root(Path(near)) if near is not None else None
    return ValueSets.scan(root or criteria_dir())


def load_mapping(path: str | Path, *, valuesets: ValueSets | None = None) -> FhirMapping:
    """Read and check a mapping file; raises :class:`~koordrules.errors.CriteriaError`
    (``file:line:col`` for each problem) or :class:`~koordrules.errors.LoadError`."""
    doc = read_yaml(path, raw_keys=PATH_KEYS)
    return _validated(doc, valuesets if valuesets is not None else default_valuesets(path))


def load_mapping_text(text: str, *, file: str | None = None,
                      valuesets: ValueSets | None = None) -> FhirMapping:
    """Like :func:`load_mapping`, from text (value sets default to the shipped ones)."""
    doc = parse_yaml(text, file=file, raw_keys=PATH_KEYS)
    return _validated(doc, valuesets if valuesets is not None else default_valuesets(file))


def _version_range(text: str) -> list[tuple[str, Version]]:
    out = []
    for part in text.split(","):
        m = re.match(r"^\s*(>=|<=|>|<|==|=)?\s*(\S+)\s*$", part)
        if not m:
            raise ValueError(f"{part.strip()!r} is not a version comparison")
        out.append((m.group(1) or "==", Version.parse(m.group(2))))
    return out


def version_fits(version: str, spec: str | None) -> bool:
    """Whether ``version`` satisfies comparisons like ``>=1.0.0, <2.0.0``."""
    if spec is None:
        return True
    v = Version.parse(version)
    ops = {">=": v.__ge__, "<=": v.__le__, ">": v.__gt__, "<": v.__lt__, "==": v.__eq__,
           "=": v.__eq__}
    return all(ops[op](bound) for op, bound in _version_range(spec))


def result_types(mapping: FhirMapping, inp: InputSpec) -> tuple[str, ...]:
    """The input types the derivation can fill."""
    if inp.range is not None:
        return ("boolean",)
    if inp.aggregate == "classify":
        values = [g.result for g in inp.groups] + [inp.otherwise]
        if all(isinstance(v, bool) or v is None for v in values):
            return ("boolean",)
        if all((isinstance(v, int) and not isinstance(v, bool)) or v is None for v in values):
            return ("integer", "number")
        return ("string", "enum")
    return RESULT_TYPES[inp.aggregate]


def check_mapping(mapping: FhirMapping, cs: ast.CriteriaSet) -> list[Diagnostic]:
    """Problems using ``mapping`` for ``cs``: wrong set or version, inputs the set does not
    declare, aggregates whose value type does not fit, inputs neither mapped nor listed
    under ``unmapped``. Each diagnostic points into the mapping file."""
    from koordrules.inputs import check_value

    doc, spec, out = mapping.doc, mapping.spec, []
    target = mapping.target

    def error(code: str, message: str, path: tuple[str | int, ...], *, key: bool = False,
              severity: Literal["error", "warning"] = "error") -> None:
        span = doc.key_span(path) if key else doc.span(path)
        out.append(Diagnostic(severity, code, message, span, doc.file))

    ids = {cs.id, cs.extends.partition("@")[0]} if cs.extends else {cs.id}
    if target.id not in ids:
        error("mapping_mismatch", f"the mapping is for {target.id}, not {cs.id}",
              ("criteria",))
    elif target.id == cs.id and not version_fits(cs.version, target.versions):
        error("mapping_mismatch",
              f"the mapping fits {target.id} {target.versions}, not version {cs.version}",
              ("criteria",))
    decls = {d.name: d for d in cs.inputs}
    for name, inp in spec.inputs.items():
        decl = decls.get(name)
        if decl is None:
            error("unknown_input", f"{name!r} is not an input of {cs.key}", ("inputs", name),
                  key=True)
            continue
        produced = result_types(mapping, inp)
        if decl.type not in produced:
            error("type_mismatch", f"{inp.aggregate} gives a {produced[0]}, but {name!r} is "
                  f"a {decl.type}", ("inputs", name, "aggregate"))
            continue
        fixed = [("absent", inp.absent), ("otherwise", inp.otherwise),
                 ("open_ended", inp.open_ended)]
        fixed += [(f"groups[{i}]", g.result) for i, g in enumerate(inp.groups)]
        for label, value in fixed:
            if value is None:
                continue
            try:
                check_value(decl, value)
            except ValueError as ex:
                error("type_mismatch", f"{label}: {name!r} {ex}", ("inputs", name))
        if decl.kind == "judgement":
            error("judgement_mapped", f"{name!r} is a judgement; deriving it from the record "
                  "replaces the clinician's assessment", ("inputs", name), key=True,
                  severity="warning")
    for name in spec.unmapped:
        if name not in decls:
            error("unknown_input", f"{name!r} is not an input of {cs.key}",
                  ("unmapped", name), key=True)
    for decl in cs.inputs:
        if decl.name not in spec.inputs and decl.name not in spec.unmapped:
            error("not_mapped", f"input {decl.name!r} is neither mapped nor listed under "
                  "'unmapped'", ("inputs",), key=True)
    return sorted(out, key=Diagnostic.sort_key)


def mapping_files(root: str | Path) -> list[Path]:
    """The mapping files under ``root`` (or ``root`` itself), sorted."""
    base = Path(root)
    if base.is_file():
        return [base] if base.name.endswith(MAPPING_SUFFIX) else []
    return sorted(p for p in base.rglob("*" + MAPPING_SUFFIX) if p.is_file())


def find_mapping(ref: str, *, root: str | Path | None = None) -> FhirMapping:
    """A mapping named by a file path, or by ``id`` / ``id@version`` in the catalogue under
    ``root`` (default: the shipped ``criteria/``). ``id`` alone gives the latest active one."""
    path = Path(ref)
    if path.is_file():
        return load_mapping(path)
    if root is None:
        from koordrules.resources import criteria_dir

        root = criteria_dir()
    valuesets = ValueSets.scan(root)
    want_id, _, want_version = ref.partition("@")
    found = []
    for p in mapping_files(root):
        try:
            m = load_mapping(p, valuesets=valuesets)
        except KoordError:
            continue
        if m.id == want_id:
            found.append(m)
    if not found:
        raise CatalogError(f"no FHIR mapping {want_id!r} in the catalogue (and no such file)",
                           code="not_found")
    if want_version:
        for m in found:
            if m.version == want_version:
                return m
        raise CatalogError(f"{want_id} has no version {want_version!r}; it has "
                           + ", ".join(m.version for m in found), code="version_not_found")
    active = [m for m in found if m.spec.status == "active"]
    if not active:
        raise CatalogError(f"{want_id} has no active version", code="not_active")
    return max(active, key=lambda m: Version.parse(m.version))


def check_mapping_files(root: str | Path, *, catalog: Any = None) -> list[Diagnostic]:
    """``koordrules check``: every mapping and value set file under ``root`` loaded, every
    FHIRPath parsed, and (with ``catalog``) each mapping checked against the set it names;
    each problem with its position. Without ``fhirpathpy`` installed there is nothing to
    check and this raises :class:`~koordrules.errors.LoadError` (``missing_extra``)."""
    if not mapping_files(root) and not valueset_files_under(root):
        return []
    fhirpath.check_expression("x")  # raises LoadError when the extra is missing
    from koordrules.fhir.valuesets import load_valueset, valueset_files

    out: list[Diagnostic] = []
    for p in valueset_files(root):
        try:
            load_valueset(p)
        except CriteriaError as ex:
            out += ex.diagnostics
        except KoordError as ex:
            out.append(Diagnostic("error", ex.code, ex.message, ex.span, str(p)))
    for p in mapping_files(root):
        try:
            mapping = load_mapping(p)
            if catalog is not None:
                out += _against_set(mapping, catalog)
        except CriteriaError as ex:
            out += ex.diagnostics
        except KoordError as ex:
            out.append(Diagnostic("error", ex.code, ex.message, ex.span, str(p)))
    return sorted(out, key=Diagnostic.sort_key)


def valueset_files_under(root: str | Path) -> list[Path]:
    from koordrules.fhir.valuesets import valueset_files

    return valueset_files(root)


def _against_set(mapping: FhirMapping, catalog: Any) -> list[Diagnostic]:
    """The mapping checked against every version of its set in ``catalog`` it fits."""
    out: list[Diagnostic] = []
    target = mapping.target
    versions = catalog.versions(target.id)
    if not versions:
        if any(d.severity == "error" for d in getattr(catalog, "diagnostics", ())):
            return []  # the set may be one that did not build: its error is the message
        return [Diagnostic("error", "mapping_mismatch", f"the mapping is for {target.id}, "
                           "which is not in the catalogue", mapping.doc.span(("criteria",)),
                           mapping.file)]
    for cs in versions:
        if version_fits(cs.version, target.versions):
            out += [d for d in check_mapping(mapping, cs) if d not in out]
    return out
