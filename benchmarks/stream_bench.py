"""Streaming cohorts from Parquet (issue 14): time and peak memory of koordrules'
``evaluate_stream`` (polars and duckdb backends, Parquet in, Parquet out) against a
hand-written polars lazy query over the same file in the same run, and the cost per record
as the cohort grows.

    python benchmarks/stream_bench.py [--rows 10000000] [--sizes 10000,100000,1000000]
                                      [--chunk 200000] [--repeat 3] [--cohort FILE]
                                      [--check]

The cohort is Anbefaling 3's inputs (``datagen.generate_records``, 10 % unknown), written
in parts of 500,000 rows with a different seed each, plus a distinct ``pid`` per row, so
every record is distinct (generated in a separate process). Each job runs in its own
process; its peak memory is that process's maximum resident set size (``wait4``), its time
the run without imports (polars, pyarrow, duckdb, sqlglot) and loading the set. With
``--repeat``, each job runs that many times, interleaved with the others, and the fastest
run counts (the peak memory is the largest of all runs): on a shared machine the load
changes from minute to minute. The hand-written query is
``pl.scan_parquet(...).select(pid, outcome, A, two-of-BCD).sink_parquet(...)`` with Kleene
logic on unknowns (``peers.polars_unknowns_peer``); the hand-written DuckDB job is the same
query in SQL, ``COPY (SELECT … FROM read_parquet(...)) TO ... (FORMAT parquet)``, DuckDB
reading and writing the files itself. koordrules also validates every value,
computes every criterion and ``missing``. ``--check`` exits 1 unless, at the largest size,
both backends stay under 1 GB and within 2× the hand-written query.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
PART = 500_000
GB = 1024**3

JOB = r"""
import json, sys, time
sys.path.insert(0, {bench!r})
kind, src, out, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import polars as pl
if kind == "hand-written polars lazy":
    from peers import _polars_exprs, ALREADY, LIKELY, NOT_INDICATED
    start = time.perf_counter()
    hc, a, two = _polars_exprs(pl)
    likely = a & two
    outcome = (pl.when(hc.eq_missing(True)).then(pl.lit(ALREADY))
               .when(hc.is_null()).then(pl.lit(None, dtype=pl.String))
               .when(likely.eq_missing(True)).then(pl.lit(LIKELY))
               .when(likely.eq_missing(False)).then(pl.lit(NOT_INDICATED))
               .otherwise(pl.lit(None, dtype=pl.String)).alias("outcome"))
    (pl.scan_parquet(src).select(pl.col("pid"), outcome, a.alias("A"), two.alias("BCD"))
     .sink_parquet(out))
    rows = pl.scan_parquet(out).select(pl.len()).collect().item()
elif kind == "hand-written duckdb COPY":
    import duckdb
    from peers import ALREADY, LIKELY, NOT_INDICATED, B_FACTORS, LONG_TERM_MONTHS
    start = time.perf_counter()
    b = "(" + " OR ".join(B_FACTORS) + ")"
    c, d = "situation_indicates_need", "(involved_units >= 2)"
    a = f"(expected_followup_months > {{LONG_TERM_MONTHS}})"
    two = f"(({{b}} AND {{c}}) OR ({{b}} AND {{d}}) OR ({{c}} AND {{d}}))"
    likely = f"({{a}} AND {{two}})"
    sql = (f"COPY (SELECT pid, CASE WHEN has_coordinator IS NULL THEN NULL "
           f"WHEN has_coordinator THEN '{{ALREADY}}' WHEN {{likely}} IS NULL THEN NULL "
           f"WHEN {{likely}} THEN '{{LIKELY}}' ELSE '{{NOT_INDICATED}}' END AS outcome, "
           f"{{a}} AS A, {{two}} AS BCD FROM read_parquet('{{src}}')) "
           f"TO '{{out}}' (FORMAT parquet)")
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")  # it would print on stdout
        con.sql(sql)
    rows = pl.scan_parquet(out).select(pl.len()).collect().item()
else:
    import koordrules
    import duckdb, pyarrow.parquet, sqlglot  # imported once, as in a service
    program = koordrules.compile(koordrules.Catalog.builtin().get("helse-vest/anbefaling-3"))
    start = time.perf_counter()  # the set loaded and compiled once, as in a service
    summary = program.evaluate_stream(src, out, backend=kind.split()[-1], id_field="pid",
                                      chunk_size=chunk)
    rows = summary.written
print(json.dumps({{"seconds": time.perf_counter() - start, "rows": rows}}))
"""


def make_cohort(path: Path, rows: int) -> None:
    """``rows`` distinct records in Parquet, written part by part (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datagen import generate_records, to_arrow

    writer = None
    done = 0
    part = 0
    while done < rows:
        n = min(PART, rows - done)
        table = to_arrow(generate_records(n, seed=1000 + part, unknown_rate=0.1))
        ids = pa.array([f"P{done + i:09d}" for i in range(n)], pa.string())
        table = table.add_column(0, "pid", ids)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=100_000)
        done += n
        part += 1
    assert writer is not None
    writer.close()


def head(src: Path, dst: Path, rows: int) -> None:
    import polars as pl

    pl.scan_parquet(src).head(rows).sink_parquet(dst)


def run_job(kind: str, src: Path, out: Path, chunk: int) -> dict[str, float]:
    """One job in a fresh process: seconds, rows, and the process's peak RSS in bytes."""
    code = JOB.format(bench=str(ROOT / "benchmarks"))
    proc = subprocess.Popen([sys.executable, "-c", code, kind, str(src), str(out), str(chunk)],
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed ({proc.returncode})")
    result = json.loads(text)
    result["peak_bytes"] = usage.ru_maxrss * 1024  # kilobytes on Linux
    return dict(result)


KINDS = ("hand-written polars lazy", "koordrules stream polars", "hand-written duckdb COPY",
         "koordrules stream duckdb")


def main() -> None:
    if sys.argv[1:2] == ["--head"]:
        head(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return
    if sys.argv[1:2] == ["--generate"]:
        make_cohort(Path(sys.argv[2]), int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="smaller cohorts (the first rows of the big one), comma-separated")
    ap.add_argument("--chunk", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each job this many times, interleaved; the fastest counts")
    ap.add_argument("--cohort", type=Path,
                    help="a cohort made earlier by --generate, instead of a new one")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | {args.rows})
    with tempfile.TemporaryDirectory() as tmp:
        big = args.cohort or Path(tmp) / f"cohort-{args.rows}.parquet"
        start = time.perf_counter()
        if args.cohort is None:
            subprocess.run([sys.executable, __file__, "--generate", str(big),
                            str(args.rows)], check=True)
            print(f"generated {args.rows:,} distinct records in "
                  f"{time.perf_counter() - start:.0f} s")
        print(f"{args.rows:,} distinct records, {big.stat().st_size / 2**20:.0f} MiB Parquet; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
              f"fastest of {args.repeat} interleaved runs per job")
        print()
        print("| records | Parquet MiB | job | s | µs/record | × hand-written polars "
              "| × hand-written, same engine | peak RSS MiB |")
        print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        last: dict[str, dict[str, float]] = {}
        for n in sizes:
            src = big if n == args.rows else Path(tmp) / f"cohort-{n}.parquet"
            if n != args.rows:
                subprocess.run([sys.executable, __file__, "--head", str(big), str(src),
                                str(n)], check=True)
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.repeat):
                for kind in KINDS:
                    out = Path(tmp) / "out.parquet"
                    r = run_job(kind, src, out, args.chunk)
                    assert int(r["rows"]) == n, (kind, r["rows"])
                    out.unlink()
                    if kind not in best or r["seconds"] < best[kind]["seconds"]:
                        best[kind] = {**r, "peak_bytes": max(
                            r["peak_bytes"], best.get(kind, r)["peak_bytes"])}
                    else:
                        best[kind]["peak_bytes"] = max(best[kind]["peak_bytes"],
                                                       r["peak_bytes"])
            base = best[KINDS[0]]["seconds"]
            for kind in KINDS:
                r = best[kind]
                same = best[KINDS[2] if "duckdb" in kind else KINDS[0]]["seconds"]
                print(f"| {n:,} | {src.stat().st_size / 2**20:.0f} | {kind} | "
                      f"{r['seconds']:.2f} | {r['seconds'] / n * 1e6:.3f} | "
                      f"{r['seconds'] / base:.2f} | {r['seconds'] / same:.2f} | "
                      f"{r['peak_bytes'] / 2**20:.0f} |", flush=True)
                last[kind] = r
    if args.check:
        hand = last[KINDS[0]]["seconds"]
        bad = [k for k in KINDS if k.startswith("koordrules") and (last[k]["peak_bytes"] >= GB
               or last[k]["seconds"] > 2 * hand)]
        if bad:
            raise SystemExit(f"targets missed at {args.rows:,} records: {', '.join(bad)}")


if __name__ == "__main__":
    main()
