"""Code systems and value sets as versioned data (``criteria/**/*.valueset.yaml``).

A value set lists codes as ``system|code``, grouped by system, matched exactly or by prefix
(ICD-10 ``G35`` also matches ``G35.9``), with explicit exclusions::

    id: koordrules/livslange-forlop
    version: 1.0.0
    include:
      - system: [http://hl7.org/fhir/sid/icd-10, urn:oid:2.16.578.1.12.4.1.1.7110]
        match: prefix
        codes: [G35, G40]
      - system: http://snomed.info/sct
        codes: [{code: "24700007", display: Multiple sclerosis}]
    exclude:
      - codes: ["urn:koordrules:role|kommunal-koordinator"]

:meth:`ValueSet.classify` answers three ways for a CodeableConcept: in the set, not in it
(a coding in a system the set knows, none of its codes), or *unknown* — no coding in any
system the set knows, so the set cannot tell. The derivation turns that last answer into an
unknown input with a warning, never into false.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from koordrules.ast import ChangelogEntry, LocalText, Source
from koordrules.errors import CatalogError, CriteriaError
from koordrules.fileformat import ID_PATTERN, SEMVER_PATTERN
from koordrules.semver import Version
from koordrules.yamldoc import YamlDoc, parse_yaml, read_yaml, validate

VALUESET_SUFFIX = ".valueset.yaml"

#: Well-known code systems, by the short names a value set may use for them.
SYSTEM_ALIASES: dict[str, tuple[str, ...]] = {
    "icd-10": ("http://hl7.org/fhir/sid/icd-10",),
    "icd-10-no": ("urn:oid:2.16.578.1.12.4.1.1.7110",),
    "icd-10-cm": ("http://hl7.org/fhir/sid/icd-10-cm",),
    "snomed-ct": ("http://snomed.info/sct",),
}


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True,
                              populate_by_name=True)


class CodeEntry(_Spec):
    """One code, with what it means."""

    code: str = Field(min_length=1)
    display: str | None = None
    note: str | None = None
    """Why it is in the list (the ICD-10 code it stands for, a local choice)."""


class Include(_Spec):
    """Codes of one or more code systems."""

    system: str | tuple[str, ...] | None = None
    """The system URI(s) (or a short name: ``icd-10``, ``icd-10-no``, ``icd-10-cm``,
    ``snomed-ct``). Leave out when every code is written ``system|code``."""
    match: Literal["exact", "prefix"] = "exact"
    """``prefix``: ``G35`` also matches ``G35.9``. Dots, spaces and case are ignored for
    prefix matching (ICD-10 style)."""
    codes: tuple[str | CodeEntry, ...] = Field(min_length=1)


class ValueSetFile(_Spec):
    """A value set, as written in ``*.valueset.yaml``."""

    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    version: Annotated[str, StringConstraints(pattern=SEMVER_PATTERN)]
    title: LocalText | str
    status: Literal["draft", "active", "retired"]
    effective_from: dt.date | None = None
    source: Source
    local_choice: bool
    """True when the list is koordrules' or a unit's choice, not from the source named."""
    description: str | None = None
    changelog: tuple[ChangelogEntry, ...] = ()
    include: tuple[Include, ...] = Field(min_length=1)
    exclude: tuple[Include, ...] = ()


def _norm(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def _systems(inc: Include) -> tuple[str, ...]:
    raw = (inc.system,) if isinstance(inc.system, str) else inc.system or ()
    out: list[str] = []
    for s in raw:
        out += SYSTEM_ALIASES.get(s, (s,))
    return tuple(out)


@dataclass(frozen=True)
class _Rules:
    exact: frozenset[tuple[str, str]]
    prefix: tuple[tuple[str, str], ...]

    def hit(self, system: str, code: str) -> bool:
        if (system, code) in self.exact:
            return True
        norm = _norm(code)
        return any(system == s and norm.startswith(p) for s, p in self.prefix)


def _rules(includes: tuple[Include, ...]) -> tuple[_Rules, set[str]]:
    exact: set[tuple[str, str]] = set()
    prefix: list[tuple[str, str]] = []
    systems: set[str] = set()
    for inc in includes:
        default = _systems(inc)
        for entry in inc.codes:
            code = entry.code if isinstance(entry, CodeEntry) else entry
            targets = default
            if not default:
                system, sep, code = code.rpartition("|")
                if not sep:
                    raise ValueError(f"{code!r} names no system: write system|code or give "
                                     "the include a 'system'")
                targets = SYSTEM_ALIASES.get(system, (system,))
            for system in targets:
                systems.add(system)
                if inc.match == "prefix":
                    prefix.append((system, _norm(code)))
                else:
                    exact.add((system, code))
    return _Rules(frozenset(exact), tuple(prefix)), systems


Answer = bool | None
"""True in the set, False not in it, None: no coding in a system the set knows."""


@dataclass(frozen=True)
class ValueSet:
    spec: ValueSetFile
    doc: YamlDoc | None
    include: _Rules
    exclude: _Rules
    systems: frozenset[str]
    """The code systems the set knows (included or excluded)."""

    @property
    def key(self) -> str:
        return f"{self.spec.id}@{self.spec.version}"

    @property
    def sha256(self) -> str:
        text = self.doc.canonical() if self.doc is not None else self.spec.model_dump_json()
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def classify_coding(self, system: Any, code: Any) -> Answer:
        if not isinstance(system, str) or not isinstance(code, str) or system not in self.systems:
            return None
        if self.exclude.hit(system, code):
            return False
        return self.include.hit(system, code)

    def classify(self, concept: Any) -> Answer:
        """Whether a CodeableConcept (or Coding, or a list of them) is in the set."""
        answers = [self.classify_coding(c.get("system"), c.get("code"))
                   for c in _codings(concept)]
        if any(a is False and self._excluded(c) for a, c in zip(answers, _codings(concept),
                                                                strict=True)):
            return False
        if True in answers:
            return True
        return False if False in answers else None

    def _excluded(self, coding: dict[str, Any]) -> bool:
        system, code = coding.get("system"), coding.get("code")
        return isinstance(system, str) and isinstance(code, str) and self.exclude.hit(system,
                                                                                     code)


def _codings(concept: Any) -> list[dict[str, Any]]:
    if isinstance(concept, list):
        return [c for item in concept for c in _codings(item)]
    if not isinstance(concept, dict):
        return []
    if "coding" in concept:
        codings = concept.get("coding")
        return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []
    return [concept] if "code" in concept or "system" in concept else []


def _build(spec: ValueSetFile, doc: YamlDoc | None) -> ValueSet:
    include, systems = _rules(spec.include)
    exclude, more = _rules(spec.exclude)
    return ValueSet(spec, doc, include, exclude, frozenset(systems | more))


def _validated(doc: YamlDoc) -> ValueSet:
    spec, problems = validate(ValueSetFile, doc)
    if spec is None:
        raise CriteriaError(problems, file=doc.file)
    try:
        return _build(spec, doc)
    except ValueError as ex:
        from koordrules.errors import Diagnostic

        raise CriteriaError([Diagnostic("error", "valueset_error", str(ex),
                                        doc.span(("include",)), doc.file)],
                            file=doc.file) from ex


def load_valueset(path: str | Path) -> ValueSet:
    return _validated(read_yaml(path, raw_keys=()))


def load_valueset_text(text: str, *, file: str | None = None) -> ValueSet:
    return _validated(parse_yaml(text, file=file, raw_keys=()))


def valueset_files(root: str | Path) -> list[Path]:
    base = Path(root)
    if base.is_file():
        return [base] if base.name.endswith(VALUESET_SUFFIX) else []
    return sorted(p for p in base.rglob("*" + VALUESET_SUFFIX) if p.is_file())


class ValueSets:
    """The value sets of a catalogue, by id and version."""

    def __init__(self, sets: list[ValueSet]) -> None:
        self._by_id: dict[str, dict[str, ValueSet]] = {}
        for vs in sets:
            self._by_id.setdefault(vs.spec.id, {})[vs.spec.version] = vs

    @classmethod
    def scan(cls, root: str | Path) -> ValueSets:
        return cls([load_valueset(p) for p in valueset_files(root)])

    def __iter__(self):  # type: ignore[no-untyped-def]
        for versions in self._by_id.values():
            yield from versions.values()

    def get(self, ref: str) -> ValueSet:
        """``id`` (the latest active version) or ``id@version``."""
        want, _, version = ref.partition("@")
        versions = self._by_id.get(want)
        if not versions:
            raise CatalogError(f"no value set {want!r} in the catalogue", code="not_found")
        if version:
            if version not in versions:
                raise CatalogError(f"value set {want} has no version {version!r}",
                                   code="version_not_found")
            return versions[version]
        active = [v for v in versions.values() if v.spec.status == "active"]
        if not active:
            raise CatalogError(f"value set {want} has no active version", code="not_active")
        return max(active, key=lambda v: Version.parse(v.spec.version))
