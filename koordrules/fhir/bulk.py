"""A FHIR Bulk Data export (a folder of ``Type.000.ndjson`` files) grouped by patient.

Every line is one resource. Patients come from ``Patient*.ndjson``; every other resource is
given to the patient its ``subject``/``patient`` names (``Patient/123``, ``urn:uuid:123`` or a
full URL). Resources that name no patient in the export are counted and reported once, and a
bad line is reported with its file and line number while reading goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koordrules.errors import LoadError
from koordrules.fhir.identity import PatientRecord, collect, subject_reference
from koordrules.fhir.reading import detect_version, iter_ndjson


@dataclass
class Export:
    """An export read into memory: each patient's items, and the problems found."""

    folder: str
    patients: dict[str, list[tuple[str, str | None, dict[str, Any]]]] = field(
        default_factory=dict)
    problems: list[LoadError] = field(default_factory=list)
    unassigned: int = 0
    """Resources naming no patient of the export (or none at all)."""


def _patient_id(ref: str) -> str:
    return ref.rstrip("/").rsplit("/", 1)[-1].removeprefix("urn:uuid:")


def read_export(folder: str | Path) -> Export:
    """Read every ``*.ndjson`` in ``folder`` (not ``log.ndjson``) and group it by patient."""
    base = Path(folder)
    files = sorted(p for p in base.glob("*.ndjson") if p.name != "log.ndjson")
    export = Export(str(base))
    others: list[tuple[str, dict[str, Any]]] = []
    for path in files:
        for number, item in iter_ndjson(path):
            where = f"{path.name}:{number}"
            if isinstance(item, LoadError):
                export.problems.append(item)
                continue
            if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
                export.problems.append(LoadError(f"line {number}: not a FHIR resource",
                                                 file=str(path), code="fhir_invalid_resource"))
                continue
            detect_version([item], file=str(path))
            if item["resourceType"] == "Patient" and isinstance(item.get("id"), str):
                export.patients.setdefault(item["id"], []).insert(0, (where, None, item))
            else:
                others.append((where, item))
    for where, item in others:
        ref = subject_reference(item)
        pid = _patient_id(ref) if ref else None
        if pid is None or pid not in export.patients:
            export.unassigned += 1
            continue
        export.patients[pid].append((where, None, item))
    return export


def patient_records(export: Export) -> Iterator[tuple[str, PatientRecord]]:
    """``(patient id, record)`` for each patient of the export, in id order."""
    for pid in sorted(export.patients):
        record = PatientRecord(file=export.folder)
        yield pid, collect(export.patients[pid], record)
