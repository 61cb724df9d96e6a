"""From a Bundle to a criteria set's inputs, and on to results: :func:`map_bundle`,
:func:`evaluate_bundles`.

Each result carries the mapping (id, version, content hash) beside the criteria set's, the
bundle's problems, and for every unknown input why it is unknown — including which inputs
are unknown because the bundle holds no resource of the type they read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from koordrules import ast
from koordrules.errors import CriteriaError, InputError, KoordError
from koordrules.fhir.derive import Context, Derived, derive
from koordrules.fhir.fhirpath import RESOLVER
from koordrules.fhir.identity import PatientRecord, read_patient_bundle
from koordrules.fhir.mapfile import FhirMapping, check_mapping
from koordrules.fhir.reading import iter_json_items


@dataclass(frozen=True)
class FhirRecord:
    """A criteria set's inputs derived from one FHIR bundle, with their provenance."""

    mapping: str
    """The mapping used, ``id@version``."""
    mapping_sha256: str
    as_of: dt.date
    record: dict[str, Any]
    """Input name → value (``None`` = unknown), ready for :func:`koordrules.evaluate`."""
    derived: tuple[Derived, ...]
    unmapped: dict[str, str]
    """Inputs the mapping leaves unknown, with the reason (e.g. a clinical judgement)."""
    problems: tuple[InputError, ...] = ()
    deceased: bool | None = None
    """True when the Patient resource says the patient has died (on or before the as-of
    date, when the date is given)."""

    @property
    def unknown(self) -> tuple[str, ...]:
        """Inputs without a value: unmapped ones and derivations that could not decide."""
        return tuple(sorted([d.input for d in self.derived if d.value is None]
                            + list(self.unmapped)))

    def missing_resources(self) -> dict[str, tuple[str, ...]]:
        """Resource type → the inputs left unknown because the bundle has none of it."""
        out: dict[str, list[str]] = {}
        for d in self.derived:
            if d.missing_resource and d.value is None:
                out.setdefault(d.missing_resource, []).append(d.input)
        return {k: tuple(v) for k, v in sorted(out.items())}

    def notes(self) -> tuple[str, ...]:
        """Problems and unknown facts as warning lines (they name inputs, never values)."""
        lines = [f"FHIR: {p}" for p in self.problems]
        for kind, inputs in self.missing_resources().items():
            lines.append(f"FHIR: the bundle has no {kind} resources, so "
                         f"{', '.join(inputs)} {'is' if len(inputs) == 1 else 'are'} unknown")
        lines += [f"FHIR: {d.input} is unknown: {d.reason}" for d in self.derived
                  if d.value is None and d.reason and not d.missing_resource]
        lines += [f"FHIR: {d.input}: {w}" for d in self.derived for w in d.warnings]
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
            "mapping_sha256": self.mapping_sha256,
            "as_of": self.as_of.isoformat(),
            "deceased": self.deceased,
            "derived": derived,
            "unmapped": dict(self.unmapped),
            "missing_resources": {k: list(v) for k, v in self.missing_resources().items()},
            "problems": [{"code": p.code, "message": p.message} for p in self.problems],
        }


def _death_problem(record: PatientRecord, day: dt.date) -> bool | None:
    dead, when = record.deceased()
    if dead and (when is None or when <= day):
        record.problem("the patient has died (Patient.deceased" + ("DateTime is on or before "
                       "the as-of date" if when else "Boolean") + "); the facts describe a "
                       "deceased patient", "fhir_deceased")
        return True
    if dead and when is not None and when > day:
        return False
    return dead


def map_bundle(
    mapping: FhirMapping,
    bundle: PatientRecord | Any,
    *,
    as_of: dt.date | None = None,
    cs: ast.CriteriaSet | None = None,
) -> FhirRecord:
    """Derive the inputs of ``mapping`` from ``bundle`` (a :class:`PatientRecord` or the
    parsed JSON of a Bundle, which is not changed) as of ``as_of`` (default: today).

    With ``cs``, the mapping is first checked against the set (:func:`check_mapping`) and a
    :class:`~koordrules.errors.CriteriaError` is raised if it does not fit. Problems in the
    bundle never raise (except a wrong FHIR version or several patients): they are in
    ``problems`` and the facts they touch are unknown.
    """
    if cs is not None:
        errors = [p for p in check_mapping(mapping, cs) if p.severity == "error"]
        if errors:
            raise CriteriaError(errors, file=mapping.file)
    record = bundle if isinstance(bundle, PatientRecord) else read_patient_bundle(bundle)
    day = as_of or dt.date.today()
    before = len(record.problems)
    deceased = _death_problem(record, day)
    ctx = Context(record=record, as_of=day, mapping=mapping)
    token = RESOLVER.set(record.resolve)
    try:
        derived = tuple(derive(ctx, name, inp) for name, inp in mapping.spec.inputs.items())
    finally:
        RESOLVER.reset(token)
    problems = tuple(record.problems)
    del record.problems[before:]  # a record may be mapped again under another mapping
    return FhirRecord(
        mapping=mapping.key,
        mapping_sha256=mapping.sha256,
        as_of=day,
        record={d.input: d.value for d in derived},
        derived=derived,
        unmapped=dict(mapping.spec.unmapped),
        problems=problems,
        deceased=deceased,
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
    """Evaluate every bundle in ``path`` (one Bundle, a JSON array, or NDJSON) under ``cs``;
    a folder is read as a FHIR Bulk Data export (one NDJSON file per resource type), grouped
    by patient, and yields ``(patient id, Result)``.

    Yields ``(number, Result)`` — the result records the mapping and its ``warnings`` carry
    the bundle's problems and why each underived fact is unknown — or ``(number,
    KoordError)`` for a bundle that could not be read. Raises
    :class:`~koordrules.errors.CriteriaError` first if the mapping does not fit the set.
    """
    from koordrules.engine import evaluate

    problems = [d for d in check_mapping(mapping, cs) if d.severity == "error"]
    if problems:
        raise CriteriaError(problems, file=mapping.file)
    if Path(path).is_dir():
        yield from _screen_export(cs, mapping, path, as_of=as_of, strict=strict, trace=trace,
                                  redact=redact)
        return
    for number, data in iter_json_items(path):
        if isinstance(data, KoordError):
            yield number, data
            continue
        try:
            record = read_patient_bundle(data, file=str(path))
            mapped = map_bundle(mapping, record, as_of=as_of)
            result = evaluate(cs, mapped.record, strict=strict, trace=trace, redact=redact)
        except KoordError as ex:
            yield number, ex
            continue
        yield number, with_mapping(result, mapped)


def _screen_export(cs: ast.CriteriaSet, mapping: FhirMapping, folder: str | Path, *,
                   as_of: dt.date | None, strict: bool, trace: bool, redact: bool
                   ) -> Iterator[tuple[Any, Any]]:
    """A Bulk Data export folder: ``(patient id, Result)`` per patient, in id order; the
    export's problems (bad lines, resources of no patient) come first as errors/warnings."""
    from koordrules.engine import evaluate
    from koordrules.fhir.bulk import patient_records, read_export

    export = read_export(folder)
    for problem in export.problems:
        yield problem.file or str(folder), problem
    notes: tuple[str, ...] = ()
    if export.unassigned:
        notes = (f"FHIR: {export.unassigned} resource(s) of the export name no patient of "
                 "the export; they are not used",)
    for pid, record in patient_records(export):
        try:
            mapped = map_bundle(mapping, record, as_of=as_of)
            result = evaluate(cs, mapped.record, strict=strict, trace=trace, redact=redact)
        except KoordError as ex:
            yield pid, ex
            continue
        result = with_mapping(result, mapped)
        if notes:
            result = result.replace(warnings=(*result.warnings, *notes))
        yield pid, result


def with_mapping(result: Any, mapped: FhirRecord) -> Any:
    """``result`` with the mapping recorded beside the set and the bundle's notes added."""
    from koordrules.result import MappingRef

    mid, _, version = mapped.mapping.partition("@")
    return result.replace(warnings=(*result.warnings, *mapped.notes()),
                          mapping=MappingRef(id=mid, version=version,
                                             sha256=mapped.mapping_sha256, as_of=mapped.as_of))


def stored_mapping(ref: Any, *, root: str | Path | None = None) -> FhirMapping:
    """The mapping a stored result names, exactly: same id, version and content hash (which
    covers its value sets). Raises :class:`~koordrules.errors.CatalogError` ``version_gone``
    or ``hash_mismatch``."""
    from koordrules.errors import CatalogError
    from koordrules.fhir.mapfile import find_mapping

    key = f"{ref.id}@{ref.version}"
    try:
        mapping = find_mapping(key, root=root)
    except CatalogError as ex:
        raise CatalogError(f"the stored result was made with the mapping {key}, which is not "
                           f"in the catalogue: {ex.message}", code="version_gone") from None
    if mapping.sha256 != ref.sha256:
        raise CatalogError(
            f"the stored result was made with the mapping {key} with sha256 "
            f"{ref.sha256[:12]}…, but the catalogue's {key} (with its value sets) has sha256 "
            f"{mapping.sha256[:12]}…: it was changed without a new version, so the result "
            "cannot be re-explained under exactly the mapping that produced it",
            code="hash_mismatch")
    return mapping


def reexplain(stored: Any, cs: ast.CriteriaSet, mapping: FhirMapping, bundle: Any) -> Any:
    """Derive ``bundle`` again with the stored result's mapping and as-of date, evaluate it
    under ``cs`` and check that every stored field is what that gives. Returns the fresh
    result; raises :class:`~koordrules.errors.AuditError` ``result_differs``."""
    from koordrules.engine import evaluate
    from koordrules.errors import AuditError

    ref = stored.mapping
    mapped = map_bundle(mapping, bundle, as_of=ref.as_of)
    redact = stored.trace.redacted if stored.trace is not None else False
    fresh = with_mapping(evaluate(cs, mapped.record, trace=stored.trace is not None,
                                  redact=redact), mapped)
    mine, theirs = fresh.to_dict(), stored.to_dict()
    differs = [k for k in mine if mine[k] != theirs.get(k)]
    if differs:
        raise AuditError("the stored result does not match its re-evaluation in: "
                         + ", ".join(differs) + ": it was edited, or this is not the bundle "
                         "that was stored", code="result_differs")
    return fresh
