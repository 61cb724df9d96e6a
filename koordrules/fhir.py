"""FHIR R4 input: a declarative mapping from a FHIR Bundle to a criteria set's inputs.

A *mapping file* (``criteria/**/*.mapping.yaml``, versioned like a criteria set) names, for
each input of a set, a derivation kind and its parameters::

    inputs:
      age: {from: age_years}
      admissions: {from: count_encounters, class: [IMP], window: 6 months}
      has_coordinator: {from: care_team_role, roles: {text: [koordinator]}}
    unmapped:
      situation_indicates_need: Klinisk vurdering; spør pasienten.

:func:`map_bundle` reads a Bundle of Patient, Encounter, EpisodeOfCare, Condition, CareTeam
and ServiceRequest resources and returns a :class:`FhirRecord`: the inputs as of a date, where
each came from, and the problems found. A malformed resource never stops the mapping: it is
reported as an :class:`~koordrules.errors.InputError` naming its place in the bundle
(``entry[3].resource``), and every fact that reads that resource type is left unknown, so the
result says what to ask. Facts the record cannot hold (a clinical judgement) are listed under
``unmapped`` and stay unknown.

The FHIR models come from the optional extra ``koordrules[fhir]`` (``fhir.resources``, R4B
models, which read R4 JSON for these resources); they are imported only when a bundle is read.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from koordrules import ast
from koordrules.ast import ChangelogEntry, LocalText, Source
from koordrules.errors import (
    CatalogError,
    CriteriaError,
    Diagnostic,
    InputError,
    KoordError,
    LoadError,
)
from koordrules.fileformat import ID_PATTERN, SEMVER_PATTERN
from koordrules.semver import Version
from koordrules.values import Duration, add_duration
from koordrules.yamldoc import YamlDoc, parse_yaml, read_text_file, read_yaml, validate

MAPPING_SUFFIX = ".mapping.yaml"
MAX_BUNDLE_BYTES = 20_000_000
MAX_ENTRIES = 50_000

#: The resource types a mapping reads; other entries in a bundle are ignored.
RESOURCE_TYPES = ("Patient", "Encounter", "EpisodeOfCare", "Condition", "CareTeam",
                  "ServiceRequest")

ICD10_SYSTEMS = (
    "http://hl7.org/fhir/sid/icd-10",
    "urn:oid:2.16.578.1.12.4.1.1.7110",  # ICD-10, Norwegian edition (Direktoratet for e-helse)
)

_WINDOW = r"^\s*[0-9]{1,4}\s*(day|days|week|weeks|month|months|year|years)\s*$"
Window = Annotated[str, StringConstraints(pattern=_WINDOW)]
SetId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Semver = Annotated[str, StringConstraints(pattern=SEMVER_PATTERN)]
Scalar = bool | int | float | str

_ENCOUNTER_STATUSES = ("arrived", "triaged", "in-progress", "onleave", "finished")


def parse_window(text: str) -> Duration:
    """``"6 months"`` → ``Duration(months=6)``."""
    amount, unit = text.split()
    return Duration.of(int(amount), unit)


# --------------------------------------------------------------------------- mapping file


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True,
                              populate_by_name=True)


class CodeList(_Spec):
    """Codes that a condition's ``code.coding`` is matched against."""

    codes: tuple[str, ...] = Field(min_length=1)
    """The codes (ICD-10: ``G35``, ``N18.4``). Dots and case are ignored when matching."""
    systems: tuple[str, ...] = ICD10_SYSTEMS
    """Code systems accepted (default: ICD-10, international and Norwegian)."""
    match: Literal["prefix", "exact"] = "prefix"
    """``prefix``: ``G35`` also matches ``G35.9``; ``exact``: the code only."""
    description: str | None = None
    """What the list means, for readers."""


CodeRef = str | CodeList
"""A code list: the name of one in ``codes``, or written in place."""


class RoleMatch(_Spec):
    """How a CareTeam participant's role is recognised as a coordinator."""

    codes: tuple[str, ...] = ()
    """Role codes (``role.coding.code``), in any of ``systems``."""
    systems: tuple[str, ...] = ()
    """Code systems of ``codes``; empty means any system."""
    text: tuple[str, ...] = ()
    """Words matched case-insensitively inside ``role.text`` or ``role.coding.display``."""
    exclude_text: tuple[str, ...] = ()
    """Words that rule a role out even when ``text`` matches (``kommunal``)."""


class _Derivation(_Spec):
    absent: Scalar | None = None
    """The value when the bundle holds no resource of the kind this derivation reads
    (default: unknown). Resources present but none matching give 0 / false instead."""


class AgeYears(_Derivation):
    """Age in completed years on the as-of date, from ``Patient.birthDate``."""

    from_: Literal["age_years"] = Field(alias="from")


class AgeInRange(_Derivation):
    """True when the age in completed years is within ``min``..``max`` (inclusive)."""

    from_: Literal["age_in_range"] = Field(alias="from")
    min: int | None = None
    max: int | None = None


class _EncounterFilter(_Derivation):
    class_: tuple[str, ...] = Field(default=(), alias="class")
    """``Encounter.class`` codes (v3 ActCode: ``IMP`` inpatient, ``AMB`` outpatient,
    ``EMER`` emergency); empty means any class."""
    status: tuple[str, ...] = _ENCOUNTER_STATUSES
    """Encounter statuses counted (planned and cancelled encounters are not)."""
    window: Window | None = None
    """Count encounters that start within this period before the as-of date
    (``6 months``); leave out for the whole record."""


class CountEncounters(_EncounterFilter):
    """The number of encounters (admissions, attendances) in a window."""

    from_: Literal["count_encounters"] = Field(alias="from")


class CountReadmissions(_EncounterFilter):
    """Encounters in the window that start within ``within`` after an earlier one ended."""

    from_: Literal["count_readmissions"] = Field(alias="from")
    class_: tuple[str, ...] = Field(default=("IMP",), alias="class")
    within: Window = "30 days"
    """A readmission starts at most this long after a previous discharge."""


UnitField = Literal["serviceProvider", "location", "serviceType"]


class DistinctUnits(_EncounterFilter):
    """The number of distinct units the patient has been in contact with in the window."""

    from_: Literal["distinct_units"] = Field(alias="from")
    window: Window | None = "6 months"
    by: tuple[UnitField, ...] = ("serviceProvider", "location", "serviceType")
    """Which field names an encounter's unit; the first one present is used."""


class CountOpenReferrals(_Derivation):
    """The number of open referrals (ServiceRequest) on the as-of date."""

    from_: Literal["count_open_referrals"] = Field(alias="from")
    status: tuple[str, ...] = ("active",)
    """ServiceRequest statuses that count as open."""
    intent: tuple[str, ...] = ()
    """ServiceRequest intents counted; empty means any."""


class HasCondition(_Derivation):
    """True when a current Condition has a code in ``codes``."""

    from_: Literal["has_condition"] = Field(alias="from")
    codes: CodeRef
    recorded_within: Window | None = None
    """Only conditions with onset (or, lacking one, recorded date) this recently count
    (``12 months`` for «newly diagnosed»)."""


class CkdStage(_Derivation):
    """The highest chronic kidney disease stage among current conditions (ICD-10 N18.x)."""

    from_: Literal["ckd_stage"] = Field(alias="from")
    stages: dict[str, int] = Field(default_factory=lambda: {
        "N18.1": 1, "N18.2": 2, "N18.3": 3, "N18.4": 4, "N18.5": 5})
    """ICD-10 code → stage."""
    systems: tuple[str, ...] = ICD10_SYSTEMS
    otherwise: int | None = None
    """The value when conditions are recorded but none has a stage code (default: unknown)."""


class DiagnosisGroup(_Derivation):
    """The diagnosis-coordinator group of the patient's current conditions."""

    from_: Literal["diagnosis_group"] = Field(alias="from")
    groups: dict[str, CodeRef]
    """Group name → codes. When several match, the first group listed wins."""
    otherwise: str | None = None
    """The value when conditions are recorded but none is in a group (default: unknown)."""


class CareTeamRole(_Derivation):
    """True when an active CareTeam has a participant whose role matches ``roles``."""

    from_: Literal["care_team_role"] = Field(alias="from")
    roles: RoleMatch


class EpisodeRemainingMonths(_Derivation):
    """Months from the as-of date to the planned end of the active EpisodeOfCare(s)."""

    from_: Literal["episode_remaining_months"] = Field(alias="from")
    status: tuple[str, ...] = ("active", "waitlist")
    open_ended: float | None = None
    """The value for an active episode without a planned end (default: unknown)."""


Derivation = Annotated[
    AgeYears | AgeInRange | CountEncounters | CountReadmissions | DistinctUnits
    | CountOpenReferrals | HasCondition | CkdStage | DiagnosisGroup | CareTeamRole
    | EpisodeRemainingMonths,
    Field(discriminator="from_"),
]

#: The value type each derivation produces, as an input type of a criteria set.
RESULT_TYPES: dict[str, str] = {
    "age_years": "integer", "age_in_range": "boolean", "count_encounters": "integer",
    "count_readmissions": "integer", "distinct_units": "integer",
    "count_open_referrals": "integer", "has_condition": "boolean", "ckd_stage": "integer",
    "diagnosis_group": "string", "care_team_role": "boolean",
    "episode_remaining_months": "number",
}
_FITS = {"integer": ("integer", "number"), "number": ("number",), "boolean": ("boolean",),
         "string": ("string", "enum")}


class TargetSpec(_Spec):
    """The criteria set a mapping feeds."""

    id: SetId
    """The set's id."""
    versions: str | None = None
    """Versions it fits, as comparisons (``>=1.0.0, <2.0.0``); leave out for all."""


class MappingFile(_Spec):
    """A FHIR mapping, as written in ``criteria/**/*.mapping.yaml``."""

    id: SetId
    """The mapping's identity (``helse-vest/anbefaling-3-fhir``)."""
    version: Semver
    """Semantic version; raise it on every change."""
    title: LocalText | str
    status: Literal["draft", "active", "retired"]
    effective_from: dt.date
    source: Source
    """What the mapping is based on (the criteria set and FHIR R4)."""
    notes: str | None = None
    changelog: tuple[ChangelogEntry, ...] = ()
    fhir_version: Literal["R4"] = "R4"
    criteria: TargetSpec | SetId
    """The criteria set the mapping produces inputs for."""
    codes: dict[str, CodeList] = Field(default_factory=dict)
    """Named code lists, used by derivations as ``codes: <name>``."""
    inputs: dict[str, Derivation] = Field(default_factory=dict)
    """For each input of the set: how it is derived from the bundle."""
    unmapped: dict[str, str] = Field(default_factory=dict)
    """Inputs the record cannot hold, with the reason; they stay unknown."""


@dataclass(frozen=True)
class FhirMapping:
    """A mapping file that parsed and matched the schema."""

    spec: MappingFile
    doc: YamlDoc

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
    def target(self) -> TargetSpec:
        c = self.spec.criteria
        return c if isinstance(c, TargetSpec) else TargetSpec(id=c)

    @property
    def file(self) -> str | None:
        return self.doc.file

    def code_list(self, ref: CodeRef) -> CodeList:
        return ref if isinstance(ref, CodeList) else self.spec.codes[ref]


def _validated(doc: YamlDoc) -> FhirMapping:
    spec, problems = validate(MappingFile, doc)
    if spec is None:
        raise CriteriaError([_tidy(p) for p in problems], file=doc.file)
    mapping = FhirMapping(spec, doc)
    problems = _self_check(mapping)
    if any(p.severity == "error" for p in problems):
        raise CriteriaError(problems, file=doc.file)
    return mapping


def _tidy(d: Diagnostic) -> Diagnostic:
    message = d.message.replace("'from_' | 'from'", "'from'").replace(
        "found using", "in")
    return Diagnostic(d.severity, d.code, message, d.span, d.file)


def load_mapping(path: str | Path) -> FhirMapping:
    """Read and schema-check a mapping file; raises :class:`~koordrules.errors.CriteriaError`
    (``file:line:col`` for each problem) or :class:`~koordrules.errors.LoadError`."""
    return _validated(read_yaml(path, raw_keys=()))


def load_mapping_text(text: str, *, file: str | None = None) -> FhirMapping:
    """Like :func:`load_mapping`, from text."""
    return _validated(parse_yaml(text, file=file, raw_keys=()))


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


def _self_check(mapping: FhirMapping) -> list[Diagnostic]:
    """Problems inside the mapping file alone: unknown code lists, bad version ranges."""
    doc, spec, out = mapping.doc, mapping.spec, []
    target = mapping.target
    if target.versions is not None:
        try:
            _version_range(target.versions)
        except ValueError as ex:
            out.append(Diagnostic("error", "mapping_error", str(ex),
                                  doc.span(("criteria", "versions")), doc.file))
    for name, derivation in spec.inputs.items():
        refs: list[tuple[tuple[str | int, ...], CodeRef]] = []
        if isinstance(derivation, HasCondition):
            refs.append((("inputs", name, "codes"), derivation.codes))
        elif isinstance(derivation, DiagnosisGroup):
            refs += [(("inputs", name, "groups", g), c) for g, c in derivation.groups.items()]
        for path, ref in refs:
            if isinstance(ref, str) and ref not in spec.codes:
                out.append(Diagnostic("error", "unknown_code_list",
                                      f"no code list {ref!r} under 'codes'", doc.span(path),
                                      doc.file))
        if name in spec.unmapped:
            out.append(Diagnostic("error", "mapping_error",
                                  f"{name!r} is both mapped and listed under 'unmapped'",
                                  doc.span(("unmapped", name)), doc.file))
    return out


def _key_span(doc: YamlDoc, path: tuple[str | int, ...]) -> Any:
    if path in doc.keys:
        line, column = doc.keys[path]
        from koordrules.span import Span

        return Span(file=doc.file, line=line, column=column, end_line=line,
                    end_column=column + len(str(path[-1])))
    return doc.span(path)


def check_mapping(mapping: FhirMapping, cs: ast.CriteriaSet) -> list[Diagnostic]:
    """Problems using ``mapping`` for ``cs``: wrong set or version, inputs the set does not
    declare, derivations whose value type does not fit, inputs neither mapped nor listed
    under ``unmapped``. Each diagnostic points into the mapping file."""
    doc, spec, out = mapping.doc, mapping.spec, []
    target = mapping.target

    def error(code: str, message: str, path: tuple[str | int, ...], *, key: bool = False,
              severity: Literal["error", "warning"] = "error") -> None:
        span = _key_span(doc, path) if key else doc.span(path)
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
    for name, derivation in spec.inputs.items():
        decl = decls.get(name)
        if decl is None:
            error("unknown_input", f"{name!r} is not an input of {cs.key}", ("inputs", name),
                  key=True)
            continue
        produced = RESULT_TYPES[derivation.from_]
        if decl.type not in _FITS[produced]:
            error("type_mismatch", f"{derivation.from_} gives a {produced}, but {name!r} is "
                  f"a {decl.type}", ("inputs", name, "from"))
            continue
        if decl.type == "enum" and isinstance(derivation, DiagnosisGroup):
            allowed = set(decl.values or ())
            for value in [*derivation.groups, derivation.otherwise]:
                if value is not None and value not in allowed:
                    error("type_mismatch", f"{value!r} is not a value of {name!r} (one of "
                          f"{', '.join(decl.values or ())})", ("inputs", name))
        for field_name in ("absent", "otherwise", "open_ended"):
            value = getattr(derivation, field_name, None)
            if value is None:
                continue
            from koordrules.inputs import check_value

            try:
                check_value(decl, value)
            except ValueError as ex:
                error("type_mismatch", f"{field_name}: {name!r} {ex}",
                      ("inputs", name, field_name))
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
        return [base]
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
    want_id, _, want_version = ref.partition("@")
    found = [m for m in (load_mapping(p) for p in mapping_files(root)) if m.id == want_id]
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


# --------------------------------------------------------------------------- the bundle


@dataclass
class Bundle:
    """The resources of one bundle that a mapping reads, validated one by one."""

    file: str | None = None
    resources: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    """Resource type → ``[(where, resource)]``; ``where`` is ``entry[3]``."""
    malformed: set[str] = field(default_factory=set)
    """Resource types with at least one entry that did not validate."""
    problems: list[InputError] = field(default_factory=list)

    def of(self, kind: str) -> list[tuple[str, Any]]:
        return self.resources.get(kind, [])

    def problem(self, message: str, code: str) -> None:
        self.problems.append(InputError(message, code=code, file=self.file))


def _fhir_models() -> Any:
    try:
        return importlib.import_module("fhir.resources.R4B")
    except ImportError as ex:
        raise LoadError("reading FHIR needs the optional extra: pip install "
                        "'koordrules[fhir]'", code="missing_extra") from ex


def _model(kind: str) -> Any:
    _fhir_models()
    module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
    return getattr(module, kind)


def _safe_message(err: Mapping[str, Any]) -> str:
    """A pydantic error message without the offending value (input values stay private)."""
    message = str(err.get("msg", "invalid"))
    value = err.get("input")
    if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
        message = message.replace(str(value), "…")
    return " ".join(message.split())


def read_bundle(data: Any, *, file: str | None = None) -> Bundle:
    """Validate a Bundle (parsed JSON). Raises :class:`~koordrules.errors.LoadError` if it is
    not a Bundle at all; a malformed entry becomes a problem and marks its resource type."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise LoadError(f"expected a FHIR Bundle, found {found!r}", file=file,
                        code="fhir_not_bundle")
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise LoadError("Bundle.entry must be a list", file=file, code="fhir_invalid_bundle")
    if len(entries) > MAX_ENTRIES:
        raise LoadError(f"the bundle has more than {MAX_ENTRIES} entries", file=file,
                        code="too_large")
    bundle = Bundle(file=file)
    for i, entry in enumerate(entries):
        where = f"entry[{i}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            bundle.problem(f"{where}: no resource (expected an object under 'resource')",
                           "fhir_missing_resource")
            continue
        kind = resource.get("resourceType")
        if not isinstance(kind, str):
            bundle.problem(f"{where}.resource: no resourceType; the entry is ignored",
                           "fhir_invalid_resource")
            continue
        if kind not in RESOURCE_TYPES:
            continue
        try:
            model = _model(kind).model_validate(resource)
        except ValidationError as ex:
            bundle.malformed.add(kind)
            first = ex.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or kind
            more = f" (and {len(ex.errors()) - 1} more)" if len(ex.errors()) > 1 else ""
            reason = _safe_message(first).rstrip(".")
            bundle.problem(f"{where}.resource ({kind}): {loc}: {reason}{more}; "
                           f"facts read from {kind} resources are left unknown",
                           "fhir_invalid_resource")
            continue
        bundle.resources.setdefault(kind, []).append((where, model))
    _check_subjects(bundle)
    return bundle


def _check_subjects(bundle: Bundle) -> None:
    """Drop resources that belong to another patient than the bundle's one."""
    patients = bundle.of("Patient")
    if len(patients) > 1:
        raise InputError(f"the bundle holds {len(patients)} Patient resources; a mapping "
                         "reads one patient per bundle", file=bundle.file,
                         code="fhir_several_patients")
    if not patients:
        return
    pid = patients[0][1].id
    if not pid:
        return
    for kind in RESOURCE_TYPES[1:]:
        kept = []
        for where, resource in bundle.of(kind):
            ref = _subject_reference(resource)
            if ref and ref.startswith("Patient/") and ref != f"Patient/{pid}":
                bundle.problem(f"{where}.resource ({kind}): refers to another patient; "
                               "ignored", "fhir_other_patient")
                continue
            kept.append((where, resource))
        if kind in bundle.resources:
            bundle.resources[kind] = kept


def _subject_reference(resource: Any) -> str | None:
    for name in ("subject", "patient"):
        ref = getattr(resource, name, None)
        if ref is not None and getattr(ref, "reference", None):
            return str(ref.reference)
    return None


def read_bundle_file(path: str | Path) -> Bundle:
    """Read one Bundle from a JSON file (``-`` is not supported here)."""
    return read_bundle(load_json(path), file=str(path))


def load_json(path: str | Path) -> Any:
    """A JSON file (UTF-8, at most ``MAX_BUNDLE_BYTES``); errors are :class:`LoadError`."""
    text = read_text_file(path, max_bytes=MAX_BUNDLE_BYTES)
    try:
        return json.loads(text)
    except json.JSONDecodeError as ex:
        raise LoadError(f"invalid JSON at line {ex.lineno}, column {ex.colno}: {ex.msg}",
                        file=str(path), code="json_error") from ex


def iter_bundles(path: str | Path) -> Iterator[tuple[int, Any]]:
    """The bundles in a file: one Bundle, a JSON array of Bundles, or JSON lines."""
    file = str(path)
    if file.lower().endswith((".jsonl", ".ndjson")):
        try:
            lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
        except OSError as ex:
            raise LoadError(f"cannot read the file: {ex.strerror}", file=file,
                            code="io_error") from ex
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as ex:
                    yield number, LoadError(f"line {number}: invalid JSON: {ex.msg}",
                                            file=file, code="json_error")
        return
    data = load_json(path)
    if isinstance(data, list):
        yield from enumerate(data, start=1)
    else:
        yield 1, data


# --------------------------------------------------------------------------- dates


DateRange = tuple[dt.date, dt.date]
"""The earliest and latest day a (possibly partial) FHIR date can be."""


def _date_range(value: Any) -> DateRange | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date(), value.date()
    if isinstance(value, dt.date):
        return value, value
    text = str(value)
    try:
        if re.fullmatch(r"\d{4}", text):
            year = int(text)
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            first = dt.date(int(text[:4]), int(text[5:7]), 1)
            return first, add_duration(first, Duration(months=1)) - dt.timedelta(days=1)
        return _date_range(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _and(a: bool | None, b: bool | None) -> bool | None:
    """Kleene conjunction."""
    if a is False or b is False:
        return False
    return True if a and b else None


def _months_between(start: dt.date, end: dt.date) -> float:
    """Calendar months from ``start`` to ``end`` (whole months, then the part of the next
    one), to one decimal."""
    whole = (end.year - start.year) * 12 + end.month - start.month
    while whole > 0 and add_duration(start, Duration(months=whole)) > end:
        whole -= 1
    base = add_duration(start, Duration(months=whole))
    following = add_duration(start, Duration(months=whole + 1))
    return round(whole + (end - base).days / (following - base).days, 1)


def _years_between(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _tri_in(rng: DateRange, lo: dt.date | None, hi: dt.date) -> bool | None:
    """Whether a day in ``rng`` falls in ``(lo, hi]``: True, False or unknown."""
    earliest, latest = rng
    inside_all = earliest > lo if lo else True
    inside_all = inside_all and latest <= hi
    outside_all = earliest > hi or (lo is not None and latest <= lo)
    if inside_all:
        return True
    if outside_all:
        return False
    return None


# --------------------------------------------------------------------------- derivations


@dataclass(frozen=True)
class Derived:
    """One input derived from the bundle."""

    input: str
    kind: str
    value: Any
    """The value (``None`` = unknown)."""
    sources: tuple[str, ...] = ()
    """The bundle entries it was derived from (``entry[3]``)."""
    reason: str | None = None
    """Why the value is unknown, or a note on how it was found."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.kind, "value": self.value,
                               "sources": list(self.sources)}
        if self.reason:
            out["reason"] = self.reason
        return out


class _Unknown(Exception):
    """A derivation cannot decide its value; the message says why."""


@dataclass
class _Context:
    bundle: Bundle
    as_of: dt.date
    mapping: FhirMapping


def _codings(concept: Any) -> list[Any]:
    return list(getattr(concept, "coding", None) or []) if concept is not None else []


def _code_of(concept: Any) -> str | None:
    codings = _codings(concept)
    return str(codings[0].code) if codings and codings[0].code else None


def _norm(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def _matches(code_list: CodeList, concept: Any) -> bool:
    wanted = [_norm(c) for c in code_list.codes]
    for coding in _codings(concept):
        if not coding.code or (code_list.systems and coding.system not in code_list.systems):
            continue
        code = _norm(str(coding.code))
        if any(code == w or (code_list.match == "prefix" and code.startswith(w))
               for w in wanted):
            return True
    return False


def _need(ctx: _Context, kind: str) -> list[tuple[str, Any]]:
    """The resources of ``kind``; raise unknown if any is malformed."""
    if kind in ctx.bundle.malformed:
        article = "an" if kind[0] in "AEIOU" else "a"
        raise _Unknown(f"{article} {kind} resource in the bundle is malformed (see the problems)")
    return ctx.bundle.of(kind)


def _patient_birth(ctx: _Context) -> tuple[DateRange, str]:
    if "Patient" in ctx.bundle.malformed:
        raise _Unknown("the Patient resource is malformed")
    patients = ctx.bundle.of("Patient")
    if not patients:
        raise _Unknown("the bundle has no Patient resource")
    where, patient = patients[0]
    rng = _date_range(patient.birthDate)
    if rng is None:
        raise _Unknown("Patient.birthDate is missing")
    if rng[0] > ctx.as_of:
        raise _Unknown("Patient.birthDate is after the as-of date")
    return rng, where


def _age(ctx: _Context) -> tuple[int, int, str]:
    (earliest, latest), where = _patient_birth(ctx)
    return (_years_between(latest, ctx.as_of), _years_between(earliest, ctx.as_of), where)


def _encounter_start(resource: Any) -> DateRange | None:
    period = getattr(resource, "period", None)
    return _date_range(period.start) if period is not None else None


def _encounter_end(resource: Any) -> DateRange | None:
    period = getattr(resource, "period", None)
    return _date_range(period.end) if period is not None else None


def _encounters(ctx: _Context, d: _EncounterFilter) -> list[tuple[str, Any]]:
    out = []
    for where, enc in _need(ctx, "Encounter"):
        cls = getattr(enc, "class_fhir", None)
        if d.class_ and (cls is None or cls.code not in d.class_):
            continue
        if enc.status not in d.status:
            continue
        out.append((where, enc))
    return out


def _window_start(ctx: _Context, window: str | None) -> dt.date | None:
    if window is None:
        return None
    duration = parse_window(window)
    return add_duration(ctx.as_of, -duration)


class _Count:
    """Counts with three-valued membership: exact when every maybe is resolved."""

    def __init__(self) -> None:
        self.sure: list[str] = []
        self.maybe: list[str] = []

    def add(self, member: bool | None, where: str) -> None:
        if member is True:
            self.sure.append(where)
        elif member is None:
            self.maybe.append(where)

    def result(self, what: str) -> tuple[int, tuple[str, ...]]:
        if self.maybe:
            raise _Unknown(f"the dates of {len(self.maybe)} {what} cannot place them "
                           "inside or outside the window")
        return len(self.sure), tuple(self.sure)


def _count_encounters(ctx: _Context, d: CountEncounters) -> tuple[Any, tuple[str, ...]]:
    lo = _window_start(ctx, d.window)
    count = _Count()
    for where, enc in _encounters(ctx, d):
        start = _encounter_start(enc)
        count.add(_tri_in(start, lo, ctx.as_of) if start else None, where)
    return count.result("encounters")


def _count_readmissions(ctx: _Context, d: CountReadmissions) -> tuple[Any, tuple[str, ...]]:
    lo = _window_start(ctx, d.window)
    within = parse_window(d.within)
    encounters = _encounters(ctx, d)
    ends = [(where, _encounter_end(enc)) for where, enc in encounters]
    count = _Count()
    for where, enc in encounters:
        start = _encounter_start(enc)
        if start is None:
            count.add(None, where)
            continue
        in_window = _tri_in(start, lo, ctx.as_of)
        if in_window is False:
            continue
        after: bool | None = False
        for other, end in ends:
            if other == where or end is None:
                continue
            # the other stay ended before this one started, at most `within` before it
            if end[1] <= start[0] and start[1] <= add_duration(end[0], within):
                after = True
                break
            if not (start[1] < end[0] or start[0] > add_duration(end[1], within)):
                after = None
        count.add(_and(in_window, after), where)
    return count.result("admissions")


def _unit_key(enc: Any, by: tuple[UnitField, ...]) -> str | None:
    for name in by:
        if name == "serviceProvider":
            ref = getattr(enc, "serviceProvider", None)
            key = getattr(ref, "reference", None) or getattr(ref, "display", None)
        elif name == "location":
            locs = getattr(enc, "location", None) or []
            ref = locs[0].location if locs else None
            key = getattr(ref, "reference", None) or getattr(ref, "display", None)
        else:
            concept = getattr(enc, "serviceType", None)
            codings = _codings(concept)
            key = (f"{codings[0].system}|{codings[0].code}" if codings and codings[0].code
                   else getattr(concept, "text", None))
        if key:
            return f"{name}:{key}"
    return None


def _distinct_units(ctx: _Context, d: DistinctUnits) -> tuple[Any, tuple[str, ...]]:
    lo = _window_start(ctx, d.window)
    sure: dict[str, str] = {}
    maybe: set[str] = set()
    unnamed = 0
    for where, enc in _encounters(ctx, d):
        start = _encounter_start(enc)
        end = _encounter_end(enc)
        # a stay counts if it overlaps the window: it started before the as-of date and
        # had not ended before the window began
        began = _tri_in(start, None, ctx.as_of) if start else None
        ongoing = True if end is None or lo is None else _tri_in(end, lo, dt.date.max)
        member = _and(began, ongoing)
        if member is False:
            continue
        key = _unit_key(enc, d.by)
        if key is None:
            unnamed += 1
            continue
        if member:
            sure.setdefault(key, where)
        else:
            maybe.add(key)
    if maybe - set(sure):
        raise _Unknown("the dates of some encounters cannot place them inside or outside "
                       "the window")
    if unnamed:
        ctx.bundle.problem(f"{unnamed} encounter(s) name no unit ({', '.join(d.by)}); they "
                           "are not counted", "fhir_no_unit")
    return len(sure), tuple(sorted(sure.values()))


def _count_referrals(ctx: _Context, d: CountOpenReferrals) -> tuple[Any, tuple[str, ...]]:
    sources = []
    for where, req in _need(ctx, "ServiceRequest"):
        if req.status not in d.status or (d.intent and req.intent not in d.intent):
            continue
        authored = _date_range(getattr(req, "authoredOn", None))
        if authored is not None and authored[0] > ctx.as_of:
            continue
        sources.append(where)
    return len(sources), tuple(sources)


_ACTIVE_CLINICAL = {"active", "recurrence", "relapse"}
_EXCLUDED_VERIFICATION = {"refuted", "entered-in-error"}


def _current_conditions(ctx: _Context) -> list[tuple[str, Any]]:
    out = []
    for where, cond in _need(ctx, "Condition"):
        clinical = _code_of(getattr(cond, "clinicalStatus", None))
        if clinical is not None and clinical not in _ACTIVE_CLINICAL:
            continue
        if _code_of(getattr(cond, "verificationStatus", None)) in _EXCLUDED_VERIFICATION:
            continue
        onset = _date_range(getattr(cond, "onsetDateTime", None)
                            or getattr(cond, "recordedDate", None))
        if onset is not None and onset[0] > ctx.as_of:
            continue
        out.append((where, cond))
    return out


def _has_condition(ctx: _Context, d: HasCondition) -> tuple[Any, tuple[str, ...]]:
    codes = ctx.mapping.code_list(d.codes)
    lo = _window_start(ctx, d.recorded_within)
    found: list[str] = []
    undecided = False
    for where, cond in _current_conditions(ctx):
        if not _matches(codes, cond.code):
            continue
        if lo is not None:
            onset = _date_range(getattr(cond, "onsetDateTime", None)
                                or getattr(cond, "recordedDate", None))
            inside = _tri_in(onset, lo, ctx.as_of) if onset else None
            if inside is None:
                undecided = True
                continue
            if not inside:
                continue
        found.append(where)
    if found:
        return True, tuple(found)
    if undecided:
        raise _Unknown("a matching condition has no onset or recorded date")
    return False, ()


def _ckd_stage(ctx: _Context, d: CkdStage) -> tuple[Any, tuple[str, ...]]:
    best: tuple[int, str] | None = None
    stages = {_norm(k): v for k, v in d.stages.items()}
    for where, cond in _current_conditions(ctx):
        for coding in _codings(cond.code):
            if coding.code and (not d.systems or coding.system in d.systems):
                stage = stages.get(_norm(str(coding.code)))
                if stage is not None and (best is None or stage > best[0]):
                    best = (stage, where)
    if best is None:
        if d.otherwise is None:
            raise _Unknown("no condition with a stage code")
        return d.otherwise, ()
    return best[0], (best[1],)


def _diagnosis_group(ctx: _Context, d: DiagnosisGroup) -> tuple[Any, tuple[str, ...]]:
    conditions = _current_conditions(ctx)
    for group, ref in d.groups.items():
        codes = ctx.mapping.code_list(ref)
        hits = tuple(where for where, cond in conditions if _matches(codes, cond.code))
        if hits:
            return group, hits
    if d.otherwise is None:
        raise _Unknown("no condition in any of the groups")
    return d.otherwise, ()


def _role_matches(roles: RoleMatch, concept: Any) -> bool:
    words = [w.lower() for w in roles.text]
    texts = [str(getattr(concept, "text", "") or "").lower()]
    coded = False
    for coding in _codings(concept):
        texts.append(str(coding.display or "").lower())
        if coding.code in roles.codes and (not roles.systems or coding.system in roles.systems):
            coded = True
    if any(w.lower() in t for w in roles.exclude_text for t in texts):
        return False
    return coded or any(w in t for w in words for t in texts)


def _period_covers(period: Any, day: dt.date) -> bool | None:
    if period is None:
        return True
    start = _date_range(getattr(period, "start", None))
    end = _date_range(getattr(period, "end", None))
    if (start and start[0] > day) or (end and end[1] < day):
        return False
    if (start and start[1] > day) or (end and end[0] < day):
        return None
    return True


def _care_team_role(ctx: _Context, d: CareTeamRole) -> tuple[Any, tuple[str, ...]]:
    undecided = False
    for where, team in _need(ctx, "CareTeam"):
        if team.status not in (None, "active"):
            continue
        team_on = _period_covers(getattr(team, "period", None), ctx.as_of)
        if team_on is False:
            continue
        for participant in team.participant or []:
            if not any(_role_matches(d.roles, role) for role in participant.role or []):
                continue
            on = _period_covers(getattr(participant, "period", None), ctx.as_of)
            if on and team_on:
                return True, (where,)
            if on is not False:
                undecided = True
    if undecided:
        raise _Unknown("a coordinator's period cannot be placed on the as-of date")
    return False, ()


def _episode_months(ctx: _Context, d: EpisodeRemainingMonths) -> tuple[Any, tuple[str, ...]]:
    best: float | None = None
    sources = []
    for where, episode in _need(ctx, "EpisodeOfCare"):
        if episode.status not in d.status:
            continue
        period = getattr(episode, "period", None)
        start = _date_range(getattr(period, "start", None)) if period else None
        if start is not None and start[0] > ctx.as_of:
            continue
        end = _date_range(getattr(period, "end", None)) if period else None
        if end is None:
            if d.open_ended is None:
                raise _Unknown("an active EpisodeOfCare has no planned end")
            months = d.open_ended
        else:
            if end[1] < ctx.as_of:
                continue
            months = _months_between(ctx.as_of, end[1])
        sources.append(where)
        best = months if best is None else max(best, months)
    if best is None:
        raise _Unknown("no active EpisodeOfCare")
    return best, tuple(sources)


def _age_years(ctx: _Context, d: AgeYears) -> tuple[Any, tuple[str, ...]]:
    low, high, where = _age(ctx)
    if low != high:
        raise _Unknown("Patient.birthDate is too imprecise for the age")
    return low, (where,)


def _age_in_range(ctx: _Context, d: AgeInRange) -> tuple[Any, tuple[str, ...]]:
    low, high, where = _age(ctx)
    results = {(d.min is None or age >= d.min) and (d.max is None or age <= d.max)
               for age in (low, high)}
    if len(results) > 1:
        raise _Unknown("Patient.birthDate is too imprecise for the age")
    return results.pop(), (where,)


#: Each derivation kind: the resource type it reads, and the function that derives it.
_DERIVATIONS: dict[str, tuple[str, Callable[[_Context, Any], tuple[Any, tuple[str, ...]]]]] = {
    "age_years": ("Patient", _age_years),
    "age_in_range": ("Patient", _age_in_range),
    "count_encounters": ("Encounter", _count_encounters),
    "count_readmissions": ("Encounter", _count_readmissions),
    "distinct_units": ("Encounter", _distinct_units),
    "count_open_referrals": ("ServiceRequest", _count_referrals),
    "has_condition": ("Condition", _has_condition),
    "ckd_stage": ("Condition", _ckd_stage),
    "diagnosis_group": ("Condition", _diagnosis_group),
    "care_team_role": ("CareTeam", _care_team_role),
    "episode_remaining_months": ("EpisodeOfCare", _episode_months),
}


def _derive(ctx: _Context, name: str, d: Any) -> Derived:
    kind = d.from_
    reads, derive = _DERIVATIONS[kind]
    if reads != "Patient" and reads not in ctx.bundle.malformed and not ctx.bundle.of(reads):
        reason = f"the bundle has no {reads} resources"
        return Derived(name, kind, d.absent, (), reason if d.absent is None else
                       f"{reason}; the mapping's 'absent' value is used")
    try:
        value, sources = derive(ctx, d)
    except _Unknown as ex:
        return Derived(name, kind, None, (), str(ex))
    return Derived(name, kind, value, sources)


@dataclass(frozen=True)
class FhirRecord:
    """A criteria set's inputs derived from one FHIR bundle, with their provenance."""

    mapping: str
    """The mapping used, ``id@version``."""
    as_of: dt.date
    record: dict[str, Any]
    """Input name → value (``None`` = unknown), ready for :func:`koordrules.evaluate`."""
    derived: tuple[Derived, ...]
    unmapped: dict[str, str]
    """Inputs the mapping leaves unknown, with the reason (e.g. a clinical judgement)."""
    problems: tuple[InputError, ...] = ()

    @property
    def unknown(self) -> tuple[str, ...]:
        """Inputs without a value: unmapped ones and derivations that could not decide."""
        return tuple(sorted([d.input for d in self.derived if d.value is None]
                            + list(self.unmapped)))

    def notes(self) -> tuple[str, ...]:
        """Problems and unknown facts as warning lines (they name inputs, never values)."""
        lines = [f"FHIR: {p}" for p in self.problems]
        lines += [f"FHIR: {d.input} is unknown: {d.reason}" for d in self.derived
                  if d.value is None and d.reason]
        lines += [f"FHIR: {name} is not in the record: {why.strip()}"
                  for name, why in self.unmapped.items()]
        return tuple(lines)

    def to_dict(self, *, values: bool = True) -> dict[str, Any]:
        """JSON-ready provenance; ``values=False`` leaves the derived values out."""
        derived = {}
        for d in self.derived:
            entry = d.to_dict()
            if not values:
                entry.pop("value")
            derived[d.input] = entry
        return {
            "mapping": self.mapping,
            "as_of": self.as_of.isoformat(),
            "derived": derived,
            "unmapped": dict(self.unmapped),
            "problems": [{"code": p.code, "message": p.message} for p in self.problems],
        }


def map_bundle(
    mapping: FhirMapping,
    bundle: Bundle | Any,
    *,
    as_of: dt.date | None = None,
    cs: ast.CriteriaSet | None = None,
) -> FhirRecord:
    """Derive the inputs of ``mapping`` from ``bundle`` (a :class:`Bundle` or parsed JSON)
    as of ``as_of`` (default: today).

    With ``cs``, the mapping is first checked against the set (:func:`check_mapping`) and a
    :class:`~koordrules.errors.CriteriaError` is raised if it does not fit. Problems in the
    bundle never raise: they are in ``problems`` and the facts they touch are unknown.
    """
    if cs is not None:
        problems = [p for p in check_mapping(mapping, cs) if p.severity == "error"]
        if problems:
            raise CriteriaError(problems, file=mapping.file)
    if not isinstance(bundle, Bundle):
        bundle = read_bundle(bundle)
    day = as_of or dt.date.today()
    ctx = _Context(bundle=bundle, as_of=day, mapping=mapping)
    derived = tuple(_derive(ctx, name, d) for name, d in mapping.spec.inputs.items())
    if not bundle.of("Patient") and "Patient" not in bundle.malformed:
        bundle.problem("the bundle has no Patient resource", "fhir_no_patient")
    return FhirRecord(
        mapping=mapping.key,
        as_of=day,
        record={d.input: d.value for d in derived},
        derived=derived,
        unmapped=dict(mapping.spec.unmapped),
        problems=tuple(bundle.problems),
    )


def evaluate_bundles(
    cs: ast.CriteriaSet,
    mapping: FhirMapping,
    path: str | Path,
    *,
    as_of: dt.date | None = None,
    strict: bool = True,
    trace: bool = True,
    redact: bool = False,
) -> Iterator[tuple[int, Any]]:
    """Evaluate every bundle in ``path`` (see :func:`iter_bundles`) under ``cs``.

    Yields ``(number, Result)`` — the result's ``warnings`` carry the bundle's problems and
    why each underived fact is unknown — or ``(number, KoordError)`` for a bundle that could
    not be read. Raises :class:`~koordrules.errors.CriteriaError` first if the mapping does
    not fit the set.
    """
    from koordrules.engine import evaluate

    problems = [d for d in check_mapping(mapping, cs) if d.severity == "error"]
    if problems:
        raise CriteriaError(problems, file=mapping.file)
    for number, data in iter_bundles(path):
        if isinstance(data, KoordError):
            yield number, data
            continue
        try:
            mapped = map_bundle(mapping, read_bundle(data, file=str(path)), as_of=as_of)
            result = evaluate(cs, mapped.record, strict=strict, trace=trace, redact=redact)
        except KoordError as ex:
            yield number, ex
            continue
        fields = {name: getattr(result, name) for name in type(result).model_fields}
        fields["warnings"] = (*result.warnings, *mapped.notes())
        yield number, type(result)(**fields)
