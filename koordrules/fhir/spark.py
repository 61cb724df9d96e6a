"""A FHIR Bulk Data export screened on Spark, for registry scale: the export's NDJSON lines
read by Spark, grouped by patient and mapped on the executors with the same code as the
embedded screen (:func:`koordrules.fhir.cohort.screen_items`), then evaluated by the spark
backend (the set's Spark SQL). The result is a Spark DataFrame with ``patient``,
``outcome``, one column per criterion and ``missing``: the rows of
:func:`koordrules.fhir.cohort.screen_export` for the same export. Needs
``koordrules[spark,fhir]`` and a Java runtime; the executors need koordrules installed.

Lines that cannot be read and resources of no patient are left out here; the embedded screen
reports them with file and line (run it, or count them in Spark, to see them).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from koordrules import ast
from koordrules.backends import require
from koordrules.errors import KoordError, LoadError
from koordrules.fhir.cohort import Job, export_files, map_patient, patient_of, read_line


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


def _keyed(row: Any) -> Iterator[tuple[str, tuple[str, dict[str, Any]]]]:
    path = Path(row.file.removeprefix("file://"))
    item = read_line(path, 0, row.value.encode("utf-8"))
    if isinstance(item, LoadError):
        return
    pid = patient_of(item)
    if pid is not None:
        yield pid, (path.name, item)


def _mapped(args: tuple[str, str | None, str, str | None, dt.date, bool, list[str]],
            group: tuple[str, Iterable[tuple[str, dict[str, Any]]]]
            ) -> Iterator[tuple[Any, ...]]:
    """The mapped inputs of one patient, after its id (nothing for an id with no Patient
    resource or a patient that cannot be mapped, as in the embedded screen)."""
    job = _job(*args[:6])
    pid, items = group
    try:
        mapped = map_patient(job, list(items), "")
    except KoordError:
        return
    if mapped is not None:
        yield (pid, *(mapped.record.get(name) for name in args[6]))


def screen_export_spark(set_ref: str, mapping_ref: str, folder: str | Path, *,
                        as_of: dt.date, catalog: str | None = None,
                        root: str | None = None, strict: bool = True,
                        spark: Any = None) -> Any:
    """Screen the export in ``folder`` on Spark (see the module docstring). The set and the
    mapping are named (``id`` or ``id@version``; ``catalog``/``root`` their folders), so
    each executor loads them itself."""
    from koordrules.backends.spark import input_schema, session
    from koordrules.compiler import compile_set

    T = require("pyspark.sql.types", "spark")
    F = require("pyspark.sql.functions", "spark")
    spark = spark or session()
    cs: ast.CriteriaSet = _job(set_ref, catalog, mapping_ref, root, as_of, strict).cs
    files = [str(p) for p in export_files(folder)]
    if not files:
        raise LoadError("the folder holds no *.ndjson files of a Bulk Data export",
                        file=str(folder), code="fhir_no_export")
    names = [d.name for d in cs.inputs]
    args = (set_ref, catalog, mapping_ref, root, as_of, strict, names)
    lines = spark.read.text(files).select(F.col("value"), F.input_file_name().alias("file"))
    grouped = lines.rdd.flatMap(_keyed).groupByKey()
    records = grouped.flatMap(functools.partial(_mapped, args))
    schema = T.StructType([T.StructField("patient", T.StringType()),
                           *input_schema(cs).fields])
    # kept once computed: the strict validation job and the result then share one mapping
    frame = spark.createDataFrame(records, schema=schema).cache()
    program = compile_set(cs)
    return program.evaluate_batch(frame, backend="spark", strict=strict, id_field="patient")
