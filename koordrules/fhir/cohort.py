"""A FHIR Bulk Data export screened as a cohort: streamed, over several processes, one
outcome-only row per patient with the patient id.

:func:`screen_export` reads the export (one NDJSON file per resource type, as ``$export``
writes them) line by line and never whole: a first pass parses each line once, finds its
patient (a Patient's ``id``, another resource's ``subject``/``patient``) and appends the line
to one of a number of bucket files on disk, chosen by the patient id; a second pass screens
the buckets in worker processes: each groups its lines by patient, maps each patient with the
mapping (:func:`~koordrules.fhir.screen.map_bundle`, the code ``koordrules eval --from-fhir``
uses), evaluates the set and returns the rows. Memory is bounded by a bucket, not by the
export. Rows are ``patient``, ``outcome``, one column per criterion and ``missing``; they come
bucket by bucket, sorted by patient id within a bucket (sort or join on ``patient``).

A line that cannot be read is reported with its file and line number, and resources that name
no patient of the export are counted: nothing is dropped silently. The same grouping and
mapping run on Spark executors in :mod:`koordrules.fhir.spark`, with the same rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from koordrules import ast
from koordrules.errors import KoordError, LoadError
from koordrules.fhir.identity import PatientRecord, collect, subject_reference
from koordrules.fhir.mapfile import FhirMapping
from koordrules.fhir.reading import MAX_FHIR_BYTES, detect_version, parse_json

MAX_PROBLEMS = 1000
BUCKET_BYTES = 32 * 2**20


@dataclasses.dataclass(frozen=True)
class ExportSummary:
    """What a screen of an export did, and where the time went (seconds)."""

    patients: int
    unassigned: int
    """Resources naming no patient of the export (or none at all): not used."""
    problems: tuple[KoordError, ...]
    """Lines that could not be read and patients that could not be screened (the first
    :data:`MAX_PROBLEMS`), with file and line or the patient id; never a value."""
    bad_lines: int
    failed: int
    """Patients that could not be screened (e.g. two Patient resources with one id)."""
    seconds: dict[str, float]


def export_files(folder: str | Path) -> list[Path]:
    """The export's ``*.ndjson`` files (not ``log.ndjson``), by name."""
    return sorted(p for p in Path(folder).glob("*.ndjson") if p.name != "log.ndjson")


def patient_of(item: dict[str, Any]) -> str | None:
    """The id of the patient a resource belongs to: a Patient's own id, else the id its
    ``subject``/``patient`` reference names."""
    if item.get("resourceType") == "Patient":
        pid = item.get("id")
        return pid if isinstance(pid, str) else None
    ref = subject_reference(item)
    if not ref:
        return None
    return ref.rstrip("/").rsplit("/", 1)[-1].removeprefix("urn:uuid:")


def read_line(path: Path, number: int, line: bytes) -> dict[str, Any] | LoadError:
    """One NDJSON line as a resource, or the problem with its file and line number."""
    if len(line) > MAX_FHIR_BYTES:
        return LoadError(f"line {number}: longer than {MAX_FHIR_BYTES} bytes",
                         file=str(path), code="too_large")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return LoadError(f"line {number}: not UTF-8 text", file=str(path), code="bad_encoding")
    try:
        item = parse_json(text, file=str(path), line=number)
    except LoadError as ex:
        return ex
    if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
        return LoadError(f"line {number}: not a FHIR resource", file=str(path),
                         code="fhir_invalid_resource")
    detect_version([item], file=str(path))
    return item


def iter_export(folder: str | Path) -> Iterator[tuple[str, bytes, Any]]:
    """``(where, line, resource or LoadError)`` for every non-blank line of the export, one
    line at a time (``where`` is ``File.ndjson:line``)."""
    for path in export_files(folder):
        with path.open("rb") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                line = line.rstrip(b"\r\n")
                yield f"{path.name}:{number}", line, read_line(path, number, line)


@dataclasses.dataclass(frozen=True)
class Job:
    """What a worker needs: the set, the mapping, the as-of date, strictness."""

    cs: ast.CriteriaSet
    mapping: FhirMapping
    as_of: dt.date
    strict: bool = True
    folder: str = ""


def map_patient(job: Job, items: list[tuple[str, dict[str, Any]]], folder: str) -> Any:
    """One patient's :class:`~koordrules.fhir.screen.FhirRecord` from its ``(where,
    resource)`` items (``None`` when they hold no Patient resource)."""
    from koordrules.fhir.screen import map_bundle

    items = sorted(items, key=lambda wi: wi[1].get("resourceType") != "Patient")
    if not items or items[0][1].get("resourceType") != "Patient":
        return None
    record = collect([(w, None, r) for w, r in items], PatientRecord(file=folder))
    return map_bundle(job.mapping, record, as_of=job.as_of)


def screen_patient(job: Job, pid: str, items: list[tuple[str, dict[str, Any]]],
                   folder: str) -> dict[str, Any] | None:
    """One patient's row (``None`` when the items hold no Patient resource)."""
    from koordrules.engine import evaluate

    mapped = map_patient(job, items, folder)
    if mapped is None:
        return None
    result = evaluate(job.cs, mapped.record, strict=job.strict, trace=False)
    row: dict[str, Any] = {"patient": pid, "outcome": result.outcome}
    row.update(result.criteria)
    row["missing"] = sorted(result.missing)
    return row


def screen_items(job: Job, pid: str, items: list[tuple[str, dict[str, Any]]],
                 folder: str) -> tuple[dict[str, Any] | KoordError | None, int]:
    """``(row, or the patient's error, or None; resources not used)`` for one patient id's
    items."""
    try:
        row = screen_patient(job, pid, items, folder)
    except KoordError as ex:  # e.g. several Patient resources with one id
        return KoordError(f"patient {pid}: {ex.message}", code=ex.code), 0
    return row, (len(items) if row is None else 0)


_JOB: Job | None = None  # set in the parent before the workers fork


Bucket = tuple[list[dict[str, Any]], list[KoordError], int]


def _screen_bucket(path: str) -> Bucket:
    """A bucket's rows, the errors of its patients, and the resources not used."""
    assert _JOB is not None
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    with open(path, "rb") as f:
        for line in f:
            key, where, text = line.rstrip(b"\n").split(b"\t", 2)
            groups.setdefault(key.decode(), []).append((where.decode(), json.loads(text)))
    rows: list[dict[str, Any]] = []
    errors: list[KoordError] = []
    unused = 0
    for pid in sorted(groups):
        row, left = screen_items(_JOB, pid, groups[pid], _JOB.folder)
        unused += left
        if isinstance(row, KoordError):
            errors.append(row)
        elif row is not None:
            rows.append(row)
    return rows, errors, unused


def screen_export(cs: ast.CriteriaSet, mapping: FhirMapping, folder: str | Path,
                  output: Callable[[list[dict[str, Any]]], None], *,
                  as_of: dt.date | None = None, strict: bool = True,
                  workers: int | None = None, buckets: int | None = None,
                  on_problem: Callable[[KoordError], None] | None = None) -> ExportSummary:
    """Screen the export in ``folder``; ``output`` gets the rows, a bucket at a time.

    ``workers`` processes (default: the CPUs) screen ``buckets`` buckets (default: one per
    32 MB of NDJSON, at least two per worker). See the module docstring."""
    global _JOB
    from koordrules.fhir.mapfile import check_mapping

    errors = [d for d in check_mapping(mapping, cs) if d.severity == "error"]
    if errors:
        from koordrules.errors import CriteriaError

        raise CriteriaError(errors, file=mapping.file)
    files = export_files(folder)
    if not files:
        raise LoadError("the folder holds no *.ndjson files of a Bulk Data export",
                        file=str(folder), code="fhir_no_export")
    workers = max(1, workers or os.cpu_count() or 1)
    size = sum(p.stat().st_size for p in files)
    buckets = max(1, buckets or max(2 * workers, size // BUCKET_BYTES + 1))
    seconds: dict[str, float] = {}
    problems: list[KoordError] = []
    bad = failed = 0
    patients = 0
    unused = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="koordrules-export-") as tmp:
        with contextlib.ExitStack() as stack:
            handles = [stack.enter_context(open(Path(tmp) / f"bucket-{i:05d}", "wb"))
                       for i in range(buckets)]
            for where, line, item in iter_export(folder):
                if isinstance(item, LoadError):
                    bad += 1
                    if len(problems) < MAX_PROBLEMS:
                        problems.append(item)
                    if on_problem is not None:
                        on_problem(item)
                    continue
                pid = patient_of(item)
                if pid is None:
                    unused += 1
                    continue
                key = pid.encode()
                handles[zlib.crc32(key) % buckets].write(
                    key + b"\t" + where.encode() + b"\t" + line + b"\n")
        seconds["read and partition"] = time.perf_counter() - start
        start = time.perf_counter()
        paths = [str(Path(tmp) / f"bucket-{i:05d}") for i in range(buckets)]
        _JOB = Job(cs, mapping, as_of or dt.date.today(), strict, str(folder))

        def take(bucket: Bucket) -> None:
            nonlocal patients, unused, failed
            rows, errors, left = bucket
            patients, unused, failed = patients + len(rows), unused + left, failed + len(errors)
            for error in errors:
                if len(problems) < MAX_PROBLEMS:
                    problems.append(error)
                if on_problem is not None:
                    on_problem(error)
            output(rows)

        try:
            if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
                for path in paths:
                    take(_screen_bucket(path))
            else:  # forked workers share the set and the mapping, nothing is pickled
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    for bucket in pool.imap_unordered(_screen_bucket, paths):
                        take(bucket)
        finally:
            _JOB = None
        seconds["map and evaluate"] = time.perf_counter() - start
    return ExportSummary(patients, unused, tuple(problems), bad, failed, seconds)
