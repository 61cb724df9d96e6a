"""Spark cost per record (issue 14): koordrules' spark backend on local Spark against the
embedded streaming screen (``evaluate_stream``, polars backend) over the same Parquet
cohort, in one run, as the cohort grows, so the growth is measured, not assumed.

    python benchmarks/spark_bench.py [--rows 1000000] [--sizes 10000,100000] [--master local[2]]

The cohort is stream_bench's: Anbefaling 3's inputs (``datagen.generate_records``, 10 %
unknown) with a distinct ``pid`` per row, every record distinct; the smaller cohorts are the
first rows of the largest. Both jobs read the Parquet file, validate every value (strict),
evaluate and write Parquet results with the ``pid``. The embedded job runs in its own
process (its time without imports); the Spark jobs share one session started before the
clock (the JVM start is printed once, not counted), and each is timed from
``spark.read.parquet`` to the written result. The results are compared: every row (by
``pid``) up to 100,000 records, the counts per outcome above.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from stream_bench import run_job  # noqa: E402

FULL_CHECK = 100_000


def spark_job(spark: Any, program: Any, src: Path, out: Path) -> tuple[float, float]:
    """Seconds to validate (the strict check, one Spark job, in ``evaluate_batch``) and in
    all (read, validate, evaluate, write)."""
    start = time.perf_counter()
    cohort = spark.read.parquet(str(src))
    result = program.evaluate_batch(cohort, backend="spark", id_field="pid")
    checked = time.perf_counter() - start
    result.write.mode("overwrite").parquet(str(out))
    return checked, time.perf_counter() - start


def same(embedded: Path, on_spark: Path, n: int, names: list[str]) -> bool:
    import polars as pl

    columns = ["pid", "outcome", *names, "missing"]
    a = pl.scan_parquet(embedded).select(columns)
    b = pl.scan_parquet(str(on_spark / "*.parquet")).select(columns)
    if n <= FULL_CHECK:
        left = a.sort("pid").collect()
        right = b.sort("pid").collect()
        return left.height == right.height == n and left.equals(right)
    def counts(frame: Any) -> Any:
        return frame.group_by("outcome").len().sort("outcome").collect()

    return bool(counts(a).equals(counts(b)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--chunk", type=int, default=200_000)
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | {args.rows})
    bench = ROOT / "benchmarks" / "stream_bench.py"
    from pyspark.sql import SparkSession

    import koordrules

    start = time.perf_counter()
    spark = (SparkSession.builder.master(args.master).appName("koordrules-spark-bench")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(1).count()
    print(f"Spark {spark.version} {args.master}: session started in "
          f"{time.perf_counter() - start:.1f} s (not counted below)")
    program = koordrules.compile(koordrules.Catalog.builtin().get("helse-vest/anbefaling-3"))
    names = list(program.criteria_names)
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / f"cohort-{args.rows}.parquet"
        start = time.perf_counter()
        subprocess.run([sys.executable, str(bench), "--generate", str(big), str(args.rows)],
                       check=True)
        print(f"generated {args.rows:,} distinct records in {time.perf_counter() - start:.0f} s"
              f" ({big.stat().st_size / 2**20:.0f} MiB Parquet)")
        warm = Path(tmp) / "warm-up.parquet"
        subprocess.run([sys.executable, str(bench), "--head", str(big), str(warm), "1000"],
                       check=True)
        _, first = spark_job(spark, program, warm, Path(tmp) / "warm-up-out")
        print(f"first Spark job of the session (1,000 records; code generation, JIT): "
              f"{first:.1f} s (not counted below)")
        print()
        print("| records | embedded s | embedded records/s | Spark s | of which validation | "
              "Spark records/s | Spark µs/record | Spark ÷ embedded | same results |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for n in sizes:
            src = big if n == args.rows else Path(tmp) / f"cohort-{n}.parquet"
            if n != args.rows:
                subprocess.run([sys.executable, str(bench), "--head", str(big), str(src),
                                str(n)], check=True)
            out = Path(tmp) / "embedded.parquet"
            embedded = run_job("koordrules stream polars", src, out, args.chunk)["seconds"]
            on_spark = Path(tmp) / "spark-out"
            checked, took = spark_job(spark, program, src, on_spark)
            ok = same(out, on_spark, n, names)
            print(f"| {n:,} | {embedded:.2f} | {n / embedded:,.0f} | {took:.2f} | "
                  f"{checked:.2f} | {n / took:,.0f} | {took / n * 1e6:.2f} | "
                  f"{took / embedded:.1f} | "
                  f"{'all rows' if n <= FULL_CHECK else 'outcome counts'}: {ok} |",
                  flush=True)
            if not ok:
                raise SystemExit(1)
    spark.stop()


if __name__ == "__main__":
    main()
