"""A FHIR Bulk Data export screened on Spark, for registry scale: the export's NDJSON lines
read by Spark, grouped by patient and mapped on the executors with the same code as the
embedded screen (:mod:`koordrules.fhir.cohort`), then evaluated by the spark backend (the
set's Spark SQL). The rows are a Spark DataFrame with ``patient``, ``outcome``, one column per
criterion and ``missing``: the rows of :func:`koordrules.fhir.cohort.screen_export` for the
same export. Needs ``koordrules[spark,fhir]`` and a Java runtime; the executors need
koordrules installed.

Nothing is dropped silently, as in the embedded screen: Spark reads each line's raw bytes
(split at ``\\n`` only, as Python reads a file), and each line gets its number in its file
from the split it was read from and the line counts of the splits before it. A line that
cannot be read (not UTF-8, not JSON, not a resource, too long) is a
:class:`~koordrules.errors.LoadError` with that file and line number; a patient that cannot
be mapped is a :class:`~koordrules.errors.KoordError` naming the patient; resources of no
patient are counted. The summary (:class:`~koordrules.fhir.cohort.ExportSummary`) has the
same counts and problems as the embedded screen's.

The grouping and mapping use Spark's RDD API: a Spark Connect session (Databricks serverless,
standard access mode) is refused with :class:`~koordrules.errors.BackendError`
``spark_connect`` before any job runs. (``evaluate_batch(..., backend="spark")`` itself uses
DataFrames and SQL only, and runs on Spark Connect.)
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from koordrules import ast
from koordrules.backends import require
from koordrules.errors import KoordError, LoadError
from koordrules.fhir.cohort import (
    MAX_PROBLEMS,
    ExportSummary,
    Job,
    export_files,
    map_patient,
    patient_of,
    read_line,
)

# the kinds of keyed line (first field of each tuple the keying step yields)
_RESOURCE, _BAD, _NO_PATIENT, _FATAL = "resource", "bad", "no patient", "fatal"
# the states of a mapped patient
_OK, _FAILED, _NONE = "ok", "failed", "none"


class SparkExport(NamedTuple):
    """What :func:`screen_export_spark` gives: the rows (a Spark DataFrame, lazy) and the
    summary of the screen (counts and problems, computed)."""

    rows: Any
    summary: ExportSummary


@functools.cache
def _job(set_ref: str, catalog: str | None, mapping_ref: str, root: str | None,
         as_of: dt.date, strict: bool) -> Job:
    """The set and the mapping on an executor, loaded once per Python worker."""
    from koordrules.catalog import Catalog
    from koordrules.fhir.mapfile import find_mapping

    if Path(set_ref).is_file():
        from koordrules.catalog import load

        cs = load(set_ref)
    else:
        cs = (Catalog.load(catalog) if catalog else Catalog.builtin()).get(set_ref)
    return Job(cs, find_mapping(mapping_ref, root=root), as_of, strict)


def _keyed(files: list[str], firsts: dict[tuple[int, int], int], rows: Iterable[Any]
           ) -> Iterator[tuple[Any, ...]]:
    """Each line of a Spark partition as ``(kind, patient id, file, line, code, message,
    text)``. A partition reads one or more splits of files, each from its start, in order:
    a line's number is the first line of its split plus its place in the split."""
    seen: dict[tuple[int, int], int] = {}
    for row in rows:
        split = (row.file, row.block)
        place = seen.get(split, 0)
        seen[split] = place + 1
        number = firsts[split] + place
        line = bytes(row.line)
        if not line.strip():
            continue
        path = Path(files[row.file])
        line = line.rstrip(b"\r\n")
        try:
            item = read_line(path, number, line)
        except KoordError as ex:  # e.g. FHIR STU3: fatal, as in the embedded screen
            yield _FATAL, None, row.file, number, ex.code, ex.message, type(ex).__name__
            continue
        if isinstance(item, LoadError):
            yield _BAD, None, row.file, number, item.code, item.message, None
            continue
        pid = patient_of(item)
        if pid is None:
            yield _NO_PATIENT, None, row.file, number, None, None, None
        else:
            yield _RESOURCE, pid, row.file, number, None, None, line.decode("utf-8")


def _where(files: list[str], item: tuple[Any, ...]) -> tuple[str, tuple[str, str]]:
    """A resource line as ``(patient id, (File.ndjson:line, text))``."""
    return item[1], (f"{Path(files[item[2]]).name}:{item[3]}", item[6])


def _mapped(args: tuple[str, str | None, str, str | None, dt.date, bool, list[str], str],
            group: tuple[str, Iterable[tuple[str, str]]]
            ) -> Iterator[tuple[Any, ...]]:
    """One patient id's state (mapped, failed, or no Patient resource), the error, the
    resources not used, and the mapped inputs, after the id (as
    :func:`koordrules.fhir.cohort.screen_items`)."""
    job = _job(*args[:6])
    pid, where_text = group
    items = [(where, json.loads(text)) for where, text in where_text]
    blank = [None] * len(args[6])
    try:
        mapped = map_patient(job, items, args[7])
    except KoordError as ex:  # e.g. several Patient resources with one id
        yield (pid, _FAILED, ex.code, f"patient {pid}: {ex.message}", 0, *blank)
        return
    if mapped is None:
        yield (pid, _NONE, None, None, len(items), *blank)
    else:
        yield (pid, _OK, None, None, 0, *(mapped.record.get(name) for name in args[6]))


def _first_lines(lines: Any) -> dict[tuple[int, int], int]:
    """The number of the first line of each split ``(file, start byte)`` of the files."""
    counts = sorted((r["file"], r["block"], r["count"])
                    for r in lines.groupBy("file", "block").count().collect())
    firsts: dict[tuple[int, int], int] = {}
    file, after = -1, 0
    for f, block, count in counts:
        if f != file:
            file, after = f, 0
        firsts[(f, block)] = after + 1
        after += count
    return firsts


def screen_export_spark(set_ref: str, mapping_ref: str, folder: str | Path, *,
                        as_of: dt.date, catalog: str | None = None,
                        root: str | None = None, strict: bool = True,
                        spark: Any = None,
                        on_problem: Callable[[KoordError], None] | None = None
                        ) -> SparkExport:
    """Screen the export in ``folder`` on Spark (see the module docstring). The set and the
    mapping are named (``id`` or ``id@version``; ``catalog``/``root`` their folders), so
    each executor loads them itself. ``on_problem`` gets every problem, bad lines in file
    and line order, then the patients not screened (the summary keeps the first
    :data:`~koordrules.fhir.cohort.MAX_PROBLEMS`). A FHIR version other than R4 raises
    :class:`~koordrules.errors.FhirVersionError`, as in the embedded screen."""
    from pyspark import StorageLevel

    from koordrules.backends.spark import input_schema, session
    from koordrules.compiler import compile_set
    from koordrules.fhir.mapfile import check_mapping

    T = require("pyspark.sql.types", "spark")
    F = require("pyspark.sql.functions", "spark")
    spark = spark or session()
    if type(spark).__module__.startswith("pyspark.sql.connect"):
        from koordrules.errors import BackendError

        raise BackendError(
            "the bulk FHIR screen maps each patient on the executors with Spark's RDD API, "
            "which a Spark Connect session (Databricks serverless or standard access mode) "
            "does not have; run it on a classic session (spark-submit, a dedicated cluster) "
            "or embedded (koordrules.fhir.cohort.screen_export)", code="spark_connect")
    job = _job(set_ref, catalog, mapping_ref, root, as_of, strict)
    cs: ast.CriteriaSet = job.cs
    errors = [d for d in check_mapping(job.mapping, cs) if d.severity == "error"]
    if errors:
        from koordrules.errors import CriteriaError

        raise CriteriaError(errors, file=job.mapping.file)
    files = [str(p) for p in export_files(folder)]
    if not files:
        raise LoadError("the folder holds no *.ndjson files of a Bulk Data export",
                        file=str(folder), code="fhir_no_export")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    # raw bytes split at \n only; the split a line was read from, to number it
    lines = functools.reduce(lambda a, b: a.unionAll(b), [
        spark.read.text(path, lineSep="\n").select(
            F.lit(i).alias("file"), F.col("_metadata.file_block_start").alias("block"),
            F.col("value").cast("binary").alias("line"))
        for i, path in enumerate(files)])
    firsts = _first_lines(lines)
    keyed = lines.rdd.mapPartitions(functools.partial(_keyed, files, firsts)).persist(
        StorageLevel.MEMORY_AND_DISK)
    kinds = keyed.map(lambda t: t[0]).countByValue()
    if kinds.get(_FATAL):
        fatal = keyed.filter(lambda t: t[0] == _FATAL).takeOrdered(1, key=lambda t: t[2:4])[0]
        keyed.unpersist()
        from koordrules import errors as koord_errors

        kind = getattr(koord_errors, fatal[6], LoadError)
        raise kind(fatal[5], file=files[fatal[2]], code=fatal[4])
    problems: list[KoordError] = []

    def report(problem: KoordError) -> None:
        if len(problems) < MAX_PROBLEMS:
            problems.append(problem)
        if on_problem is not None:
            on_problem(problem)

    bad = kinds.get(_BAD, 0)
    if bad:
        ordered = keyed.filter(lambda t: t[0] == _BAD).map(lambda t: t[2:6])
        found = (ordered.sortBy(lambda t: t[:2]).toLocalIterator() if on_problem
                 else iter(ordered.takeOrdered(MAX_PROBLEMS, key=lambda t: t[:2])))
        for f, _number, code, message in found:
            report(LoadError(message, file=files[f], code=code))
    seconds["read and partition"] = time.perf_counter() - start
    start = time.perf_counter()
    names = [d.name for d in cs.inputs]
    args = (set_ref, catalog, mapping_ref, root, as_of, strict, names, str(folder))
    grouped = keyed.filter(lambda t: t[0] == _RESOURCE).map(
        functools.partial(_where, files)).groupByKey()
    states = grouped.flatMap(functools.partial(_mapped, args))
    schema = T.StructType([
        T.StructField("patient", T.StringType()),
        T.StructField("_koordrules_state", T.StringType()),
        T.StructField("_koordrules_code", T.StringType()),
        T.StructField("_koordrules_message", T.StringType()),
        T.StructField("_koordrules_unused", T.LongType()),
        *input_schema(cs).fields])
    # kept once computed: the counts, the strict validation job and the rows share one
    # mapping
    mapped = spark.createDataFrame(states, schema=schema).persist(
        StorageLevel.MEMORY_AND_DISK)
    counts = {r["_koordrules_state"]: (r["n"], r["unused"] or 0) for r in
              mapped.groupBy("_koordrules_state").agg(
                  F.count(F.lit(1)).alias("n"),
                  F.sum("_koordrules_unused").alias("unused")).collect()}
    keyed.unpersist()
    failed = counts.get(_FAILED, (0, 0))[0]
    if failed:
        fails = mapped.filter(F.col("_koordrules_state") == _FAILED).select(
            "patient", "_koordrules_code", "_koordrules_message").orderBy("patient")
        for r in (fails.toLocalIterator() if on_problem else fails.limit(MAX_PROBLEMS)
                  .collect()):
            report(KoordError(r["_koordrules_message"], code=r["_koordrules_code"]))
    records = mapped.filter(F.col("_koordrules_state") == _OK).select("patient", *names)
    program = compile_set(cs)
    rows = program.evaluate_batch(records, backend="spark", strict=strict,
                                  id_field="patient")
    seconds["map and evaluate"] = time.perf_counter() - start
    summary = ExportSummary(
        patients=counts.get(_OK, (0, 0))[0],
        unassigned=kinds.get(_NO_PATIENT, 0) + counts.get(_NONE, (0, 0))[1],
        problems=tuple(problems), bad_lines=bad, failed=failed, seconds=seconds)
    return SparkExport(rows, summary)
