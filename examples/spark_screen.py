"""Screen a Parquet cohort on a Spark cluster with koordrules' spark backend.

    spark-submit spark_screen.py SET COHORT.parquet RESULTS.parquet

COHORT has a ``patient`` and a ``unit`` column and one column per input of SET (other
columns are ignored); RESULTS gets patient, unit, outcome, the criteria and missing.
"""

import sys
from typing import Any

from pyspark.sql import SparkSession

import koordrules

set_ref, source, target = sys.argv[1:4]
spark = SparkSession.builder.appName("koordrules-screen").getOrCreate()
program = koordrules.compile(koordrules.Catalog.builtin().get(set_ref))
cohort = spark.read.parquet(source)
result: Any = program.evaluate_batch(  # a Spark DataFrame
    cohort.select("patient", "unit", *program.input_names),
    backend="spark", id_field="patient", keep=["unit"])
result.write.mode("overwrite").parquet(target)
result.groupBy("outcome").count().orderBy("outcome").show()
