"""Bulk FHIR cohorts (issue 14): patients per second of a FHIR Bulk Data export screened
embedded (:func:`koordrules.fhir.cohort.screen_export`, 1 and N worker processes) and on
local Spark (:func:`koordrules.fhir.spark.screen_export_spark`), against a plain
``json.loads`` of every line of the same NDJSON, in one run; and a check that embedded and
Spark give the same row for every patient.

    python benchmarks/bulk_bench.py [--copies 77] [--workers 2] [--no-spark]

The export is the public 10-patient export (examples/fhir/synthea/bulk-10, 13 Patient
resources) replicated into ``--copies`` distinct copies (koordrules.fhir.replicate: new ids
and references, dates moved per copy), so 77 copies are 1,001 distinct patients. The set is
helse-vest/anbefaling-3 with its shipped mapping, as of 2022-06-01. Spark runs
``local[N]`` with the session started before the clock starts (JVM start not counted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import koordrules  # noqa: E402
from koordrules import fhir  # noqa: E402
from koordrules.fhir.cohort import export_files, screen_export  # noqa: E402
from koordrules.fhir.replicate import replicate  # noqa: E402

BULK = ROOT / "examples" / "fhir" / "synthea" / "bulk-10"
SET, MAPPING = "helse-vest/anbefaling-3", "helse-vest/anbefaling-3-fhir"
AS_OF = dt.date(2022, 6, 1)


def key(row: dict[str, Any], names: list[str]) -> tuple[Any, ...]:
    return (row["outcome"], *(row[n] for n in names), tuple(row["missing"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=77)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()
    cs = koordrules.Catalog.builtin().get(SET)
    mapping = fhir.find_mapping(MAPPING)
    names = [c.name for c in cs.criteria]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        start = time.perf_counter()
        resources = replicate(BULK, folder, args.copies)
        size = sum(p.stat().st_size for p in export_files(folder))
        print(f"{args.copies} copies: {resources:,} resources, {size / 2**20:.0f} MiB NDJSON "
              f"(replicated in {time.perf_counter() - start:.1f} s)")
        start = time.perf_counter()
        lines = 0
        for path in export_files(folder):
            with path.open("rb") as f:
                for line in f:
                    json.loads(line)
                    lines += 1
        base = time.perf_counter() - start
        print()
        print("| run | patients | s | patients/s | × json.loads | where the time goes |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        print(f"| json.loads of every line ({lines:,}) | | {base:.2f} | | 1.00 | |")
        embedded: dict[str, tuple[Any, ...]] = {}
        for workers in sorted({1, args.workers}):
            rows: list[dict[str, Any]] = []
            start = time.perf_counter()
            summary = screen_export(cs, mapping, folder, rows.extend, as_of=AS_OF,
                                    workers=workers)
            took = time.perf_counter() - start
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
            print(f"| embedded, {workers} worker(s) | {summary.patients:,} | {took:.2f} | "
                  f"{summary.patients / took:.1f} | {took / base:.1f} | {parts} |", flush=True)
            embedded = {r["patient"]: key(r, names) for r in rows}
        if args.no_spark:
            return
        from pyspark.sql import SparkSession

        from koordrules.fhir.spark import screen_export_spark

        spark = (SparkSession.builder.master(f"local[{args.workers}]")
                 .appName("koordrules-bulk-bench").config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", str(args.workers)).getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        start = time.perf_counter()
        frame, summary = screen_export_spark(SET, MAPPING, folder, as_of=AS_OF, spark=spark)
        result = [r.asDict(recursive=True) for r in frame.collect()]
        took = time.perf_counter() - start
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
        print(f"| Spark local[{args.workers}] | {len(result):,} | {took:.2f} | "
              f"{len(result) / took:.1f} | {took / base:.1f} | {phases}, Spark SQL and "
              f"collect {took - sum(summary.seconds.values()):.1f} s |")
        on_spark = {r["patient"]: key(r, names) for r in result}
        same = on_spark == embedded
        print()
        print(f"embedded and Spark rows identical for all {len(embedded):,} patients: {same}")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
