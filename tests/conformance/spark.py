"""The ``spark`` conformance target: one local Spark session for the whole test run
(``local[1]``, one shuffle partition, UI off), started on first use."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from typing import Any

from koordrules.compiler import Program


def usable() -> bool:
    """pyspark installed and a Java runtime on the path. With ``KOORDRULES_SPARK=require``
    (set by ``.ci/run``) a missing one is an error, so CI cannot pass with Spark skipped."""
    found = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
    if not found and os.environ.get("KOORDRULES_SPARK") == "require":
        raise RuntimeError("KOORDRULES_SPARK=require, but pyspark or a Java runtime (java on "
                           "the PATH) is missing: the spark target cannot run")
    return found


@functools.cache
def session() -> Any:
    from pyspark.sql import SparkSession

    # Python work on the executors (the bulk FHIR mapping) runs this interpreter
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    return (SparkSession.builder.master("local[1]").appName("koordrules-conformance")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC")
            .getOrCreate())


def evaluate(program: Program, data: Any, *, strict: bool = True) -> list[dict[str, Any]]:
    """The rows of ``program.evaluate_batch(data, backend="spark")``, in input order."""
    session()
    result = program.evaluate_batch(data, backend="spark", strict=strict)
    rows = []
    for row in result.collect():
        d = row.asDict(recursive=True)
        d["missing"] = list(d["missing"])
        rows.append(d)
    return rows
