"""One patient's resources from a Bundle: references, identity, duplicates, death.

A reference to the patient may be written three ways, and all three are recognised:
relative (``Patient/123``), as the entry's ``fullUrl`` (``urn:uuid:…``, Synthea's style) or
as an absolute URL ending in ``Patient/123``. A resource whose subject is another patient is
dropped with a problem; a resource that appears twice (same type and id, or same
``fullUrl``) is counted once. The caller's data is never changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koordrules.errors import InputError
from koordrules.fhir import fhirpath
from koordrules.fhir.reading import bundle_entries, detect_version, load_json, paging_problem

#: The elements that name the patient a resource is about.
SUBJECT_ELEMENTS = ("subject", "patient", "beneficiary")


@dataclass
class PatientRecord:
    """The resources of one patient, indexed by type; with the problems found reading them."""

    file: str | None = None
    patient: dict[str, Any] | None = None
    patient_where: str | None = None
    resources: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    """Resource type → ``[(where, resource)]``; ``where`` is ``entry[3]``."""
    problems: list[InputError] = field(default_factory=list)
    incomplete: str | None = None
    """Why the bundle is only part of the record (paging), if it is."""
    by_reference: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``Type/id``, ``urn:uuid:id`` and ``fullUrl`` → resource, for ``resolve()``."""

    def resolve(self, ref: str) -> dict[str, Any] | None:
        """The resource a reference names (relative, ``urn:uuid:``, or a full URL)."""
        found = self.by_reference.get(ref)
        if found is None and "/" in ref:
            parts = ref.rstrip("/").split("/")
            found = self.by_reference.get("/".join(parts[-2:]))
        return found

    def of(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return self.resources.get(kind, [])

    def problem(self, message: str, code: str) -> None:
        self.problems.append(InputError(message, code=code, file=self.file))

    def deceased(self) -> tuple[bool | None, dt.date | None]:
        """Whether the patient has died, and when if the record says."""
        if self.patient is None:
            return None, None
        when = self.patient.get("deceasedDateTime")
        if when is not None:
            try:
                rng = fhirpath.date_range(when)
            except fhirpath.NotADateError:
                return True, None
            return True, rng[0] if rng else None
        flag = self.patient.get("deceasedBoolean")
        return (flag, None) if isinstance(flag, bool) else (None, None)


def _keys(patient: dict[str, Any], full_url: str | None) -> set[str]:
    pid = patient.get("id")
    keys = set()
    if isinstance(pid, str) and pid:
        keys |= {f"Patient/{pid}", f"urn:uuid:{pid}"}
    if full_url:
        keys.add(full_url)
    return keys


def reference_matches(ref: str, keys: set[str]) -> bool:
    """Whether ``ref`` names the patient whose reference forms are ``keys``."""
    if ref in keys:
        return True
    return any(key.startswith("Patient/") and ref.endswith("/" + key) for key in keys)


def subject_reference(resource: dict[str, Any]) -> str | None:
    for name in SUBJECT_ELEMENTS:
        ref = resource.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return str(ref["reference"])
    return None


def _names_a_patient(ref: str) -> bool:
    return ref.startswith(("urn:uuid:", "urn:oid:")) or "Patient/" in ref


def read_patient_bundle(data: Any, *, file: str | None = None) -> PatientRecord:
    """One patient's record from a Bundle (parsed JSON). Raises
    :class:`~koordrules.errors.LoadError` for what is not an R4 Bundle, and
    :class:`~koordrules.errors.InputError` for a bundle of several patients."""
    entries = bundle_entries(data, file=file)
    record = PatientRecord(file=file)
    record.incomplete = paging_problem(data)
    if record.incomplete:
        record.problem(record.incomplete, "fhir_incomplete_bundle")
    items: list[tuple[str, str | None, dict[str, Any]]] = []
    for i, entry in enumerate(entries):
        where = f"entry[{i}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            record.problem(f"{where}: no resource (expected an object under 'resource')",
                           "fhir_missing_resource")
            continue
        if not isinstance(resource.get("resourceType"), str):
            record.problem(f"{where}.resource: no resourceType; the entry is ignored",
                           "fhir_invalid_resource")
            continue
        url = entry.get("fullUrl")
        items.append((where, url if isinstance(url, str) else None, resource))
    detect_version([r for _, _, r in items], file=file)
    return collect(items, record)


def collect(items: list[tuple[str, str | None, dict[str, Any]]],
            record: PatientRecord) -> PatientRecord:
    """Index ``(where, fullUrl, resource)`` items of one patient into ``record``."""
    patients = [(w, u, r) for w, u, r in items if r["resourceType"] == "Patient"]
    # an id that is not a non-empty string is no id (as below), whatever JSON it holds
    distinct = {r["id"] if isinstance(r.get("id"), str) and r["id"] else w
                for w, _, r in patients}
    if len(distinct) > 1:
        raise InputError(f"the bundle holds {len(distinct)} different Patient resources; a "
                         "mapping reads one patient per bundle", file=record.file,
                         code="fhir_several_patients")
    keys: set[str] = set()
    if patients:
        record.patient_where, url, record.patient = patients[0]
        keys = _keys(record.patient, url)
    seen: set[tuple[str, str]] = set()
    duplicates = 0
    for where, url, resource in items:
        kind = resource["resourceType"]
        rid = resource.get("id")
        ident = (kind, rid) if isinstance(rid, str) and rid else ("url", url) if url else None
        if ident is not None:
            if ident in seen:
                duplicates += 1
                continue
            seen.add(ident)
        if kind == "Patient":
            continue
        ref = subject_reference(resource)
        if ref is not None and keys and _names_a_patient(ref) and not reference_matches(
                ref, keys):
            record.problem(f"{where}.resource ({kind}): its subject is another patient; "
                           "ignored", "fhir_other_patient")
            continue
        record.resources.setdefault(kind, []).append((where, resource))
        if isinstance(rid, str) and rid:
            record.by_reference.setdefault(f"{kind}/{rid}", resource)
            record.by_reference.setdefault(f"urn:uuid:{rid}", resource)
        if url:
            record.by_reference.setdefault(url, resource)
    if duplicates:
        record.problem(f"{duplicates} resource(s) appear more than once (same type and id); "
                       "each is counted once", "fhir_duplicate")
    if not patients:
        record.problem("the bundle has no Patient resource", "fhir_no_patient")
    return record


def read_patient_file(path: str | Path) -> PatientRecord:
    """One patient's record from a Bundle JSON file."""
    return read_patient_bundle(load_json(path), file=str(path))
