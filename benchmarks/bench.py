"""koordrules against hand-written code and peer engines, all in one run (issue 6).

    python benchmarks/bench.py [--n 20000] [--repeat 3] [--unknown-rate 0.1]
                               [--scaling 10000,100000,1000000] [--skip-scaling] [--out FILE]

Sections (µs per record, median of ``repeat`` runs, on the same generated records of
``datagen.generate_records``):

1. single record — hand-written Python, koordrules outcome-only (``Program.outcome``),
   ``evaluate(trace=False)`` (a full ``Result``), traced (trace built, then discarded; with the
   trace-node cache, and cold without it), the reference interpreter, and the record peers;
2. cohort — hand-written polars, hand-written DuckDB SQL (connect + Arrow hand-over included,
   as in ``peers.py``), and koordrules' python / polars / duckdb backends (validation and the
   ``missing`` column included);
3. the same with unknowns (``--unknown-rate``): koordrules against ``polars with unknowns``;
4. scaling: 10k / 100k / 1M records per backend, each in a fresh subprocess: time and peak
   memory (resident set sampled every 2 ms, minus the level before the call), against the
   input table's size;
5. catalogue: load + check + compile of every shipped set in a fresh process (parser built
   once), and again warm.

Prints Markdown tables; ``--out`` also writes them to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from datagen import generate_records, to_arrow, to_polars  # noqa: E402
from peers import PEERS, PeerUnavailable, evaluate_python  # noqa: E402
from peers_bench import median_seconds  # noqa: E402

import koordrules  # noqa: E402

SET = "helse-vest/anbefaling-3"


def per_record(fn: Callable[[Any], object], records: list[Any]) -> Callable[[], None]:
    def run() -> None:
        for r in records:
            fn(r)

    return run


def pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |",
           "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(headers))) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def us(seconds: float, n: int) -> float:
    return seconds / n * 1e6


def fmt(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


# --- sections ---------------------------------------------------------------------------


def single_record(n: int, repeat: int, seed: int) -> tuple[str, dict[str, float]]:
    cs = koordrules.Catalog.builtin().get(SET)
    program = koordrules.compile(cs)
    records = generate_records(n, seed=seed)
    few = records[: max(1, n // 20)]
    jobs: list[tuple[str, Callable[[Any], object], list[Any]]] = [
        ("python (hand-written)", evaluate_python, records),
        ("koordrules outcome-only (Program.outcome)", program.outcome, records),
        ("koordrules evaluate(trace=False) → Result",
         lambda r: program.evaluate(r, trace=False), records),
        ("koordrules traced (lazy trace, not read)", program.evaluate, records),
        ("koordrules traced, trace built", lambda r: program.evaluate(r).trace, records),
        ("koordrules traced + JSON", lambda r: program.evaluate(r).to_json(), records),
        ("koordrules reference interpreter, traced",
         lambda r: koordrules.evaluate(cs, r, reference=True), few),
        ("koordrules reference interpreter, no trace",
         lambda r: koordrules.evaluate(cs, r, trace=False, reference=True), few),
    ]
    for peer in PEERS:
        if peer.kind != "record" or peer.name.startswith("python"):
            continue
        try:
            fn = peer.factory()
        except PeerUnavailable:
            continue
        jobs.append((f"{peer.name} ({peer.package} {pkg(peer.package)})", fn,
                     few if peer.slow or "json-logic" in peer.name or "rule-engine" in peer.name
                     else records))
    results: dict[str, float] = {}
    rows = []
    for name, fn, data in jobs:
        per_record(fn, data[:200])()  # warm-up
        seconds = median_seconds(per_record(fn, data), repeat)
        results[name] = us(seconds, len(data))
    base = results["python (hand-written)"]
    for name, value in results.items():
        rows.append([name, fmt(value), f"{value / base:.1f}×"])
    return table(["single record", "µs/record", "× hand-written Python"], rows), results


def cohort(n: int, repeat: int, seed: int, unknown_rate: float) -> tuple[str, dict[str, float]]:
    from peers import duckdb_peer, polars_peer, polars_unknowns_peer

    cs = koordrules.Catalog.builtin().get(SET)
    program = koordrules.compile(cs)
    records = generate_records(n, seed=seed, unknown_rate=unknown_rate)
    frame = to_polars(records)
    arrow = to_arrow(records)
    jobs: list[tuple[str, Callable[[], object]]] = []
    if unknown_rate == 0:
        jobs.append(("polars (hand-written)", lambda: polars_peer()(frame)))
        jobs.append(("duckdb SQL (hand-written, incl. connect)", lambda: duckdb_peer()(arrow)))
    jobs.append(("polars with unknowns (hand-written, Kleene)",
                 lambda: polars_unknowns_peer()(frame)))
    jobs += [
        ("koordrules polars backend (DataFrame in)",
         lambda: program.evaluate_batch(frame, backend="polars")),
        ("koordrules duckdb backend (Arrow in, incl. connect)",
         lambda: program.evaluate_batch(arrow, backend="duckdb")),
        ("koordrules python backend (dicts in)",
         lambda: program.evaluate_batch(records, backend="python")),
    ]
    results: dict[str, float] = {}
    for name, job in jobs:
        job()
        results[name] = us(median_seconds(job, repeat), n)
    rows = []
    for name, value in results.items():
        ref = results.get("polars (hand-written)") or results[
            "polars with unknowns (hand-written, Kleene)"]
        rows.append([name, fmt(value), f"{value / ref:.1f}×"])
    unknowns = "no unknowns" if not unknown_rate else f"{unknown_rate:.0%} unknown"
    title = f"cohort of {n} ({unknowns})"
    return table([title, "µs/record", "× hand-written polars"], rows), results


SCALING_CHILD = r"""
import json, os, sys, threading, time
sys.path.insert(0, {here!r}); sys.path.insert(0, {root!r})
backend, path = sys.argv[1], sys.argv[2]
import koordrules, pyarrow.parquet as pq
cs = koordrules.Catalog.builtin().get({set!r})
program = koordrules.compile(cs)
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
table = pq.read_table(path)
if backend == 'polars':
    import polars as pl
    data = pl.from_arrow(table)
elif backend == 'duckdb':
    data = table
else:
    data = path
warm = table.slice(0, 100)
program.evaluate_batch(warm if backend != 'python' else warm.to_pylist(), backend=backend)
peak = [0]; done = [False]
def sample():
    while not done[0]:
        peak[0] = max(peak[0], rss()); time.sleep(0.002)
before = rss(); peak[0] = before
t = threading.Thread(target=sample, daemon=True); t.start()
start = time.perf_counter()
result = program.evaluate_batch(data, backend=backend)
seconds = time.perf_counter() - start
done[0] = True; t.join()
print(json.dumps({{"seconds": seconds, "peak_increase": max(peak[0], rss()) - before,
                  "input_bytes": table.nbytes, "rows": result.height,
                  "result_bytes": result.estimated_size()}}))
"""


def scaling(sizes: list[int], seed: int) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"cohort-{n}.parquet"
            import pyarrow.parquet as pq

            pq.write_table(to_arrow(generate_records(n, seed=seed, unknown_rate=0.1)), path)
            for backend in ("python", "polars", "duckdb"):
                code = SCALING_CHILD.format(here=str(HERE), root=str(HERE.parent), set=SET)
                proc = subprocess.run([sys.executable, "-c", code, backend, str(path)],
                                      capture_output=True, text=True, timeout=3600)
                if proc.returncode != 0:
                    rows.append([f"{n:,}", backend, "failed", proc.stderr.strip()[-200:],
                                 "", "", ""])
                    continue
                m = json.loads(proc.stdout.strip().splitlines()[-1])
                mib = 1024 * 1024
                rows.append([f"{n:,}", backend, f"{m['seconds']:.2f}",
                             fmt(us(m["seconds"], n)), f"{m['input_bytes'] / mib:.1f}",
                             f"{m['peak_increase'] / mib:.1f}",
                             f"{m['peak_increase'] / m['input_bytes']:.2f}×"])
    return table(["records", "backend", "seconds", "µs/record", "input table MiB",
                  "peak RSS increase MiB", "peak / input"], rows)


CATALOGUE_CHILD = r"""
import sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
import koordrules
from koordrules.resources import criteria_dir
imported = time.perf_counter()
catalog = koordrules.Catalog.load(criteria_dir())
loaded = time.perf_counter()
for cs in catalog:
    koordrules.compile(cs)
compiled = time.perf_counter()
from koordrules.compiler import Program
again = time.perf_counter()
catalog2 = koordrules.Catalog.load(criteria_dir())
for cs in catalog2:
    Program(cs)
warm = time.perf_counter()
print(len(catalog), imported - start, loaded - imported, compiled - loaded, warm - again)
"""


def catalogue() -> str:
    code = CATALOGUE_CHILD.format(root=str(HERE.parent))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    sets, imported, loaded, compiled, warm = int(out[0]), *map(float, out[1:])
    rows = [
        ["import koordrules", f"{imported * 1000:.0f}"],
        [f"load + check {sets} set(s) (cold: parser built once)", f"{loaded * 1000:.0f}"],
        [f"compile {sets} set(s)", f"{compiled * 1000:.0f}"],
        ["load + check + compile, total (cold)", f"{(loaded + compiled) * 1000:.0f}"],
        ["load + check + compile again (warm parser)", f"{warm * 1000:.0f}"],
    ]
    return table(["shipped catalogue", "ms"], rows)


def environment() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    versions = ", ".join(f"{p} {pkg(p)}" for p in (
        "polars", "pyarrow", "duckdb", "sqlglot", "pydantic", "zen-engine",
        "common-expression-language", "rule-engine", "panzi-json-logic", "jsonlogic-rs"))
    return (f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}\n"
            f"- machine: {cpu}, {os.cpu_count()} cores, load average at start {load:.1f}\n"
            f"- Python {platform.python_version()} ({platform.python_implementation()}), "
            f"koordrules {koordrules.__version__}\n- {versions}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--cohort-n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unknown-rate", type=float, default=0.1)
    parser.add_argument("--scaling", default="10000,100000,1000000")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    parts = ["## Environment", environment()]
    text, single = single_record(args.n, args.repeat, args.seed)
    parts += ["## Single record", text]
    print("\n\n".join(parts), flush=True)
    text, plain = cohort(args.cohort_n, args.repeat, args.seed, 0.0)
    parts += ["## Cohort", text]
    print(text, flush=True)
    text, unknown = cohort(args.cohort_n, args.repeat, args.seed, args.unknown_rate)
    parts += [text]
    print(text, flush=True)
    if not args.skip_scaling:
        text = scaling([int(s) for s in args.scaling.split(",")], args.seed)
        parts += ["## Scaling (10 % unknown)", text]
        print(text, flush=True)
    text = catalogue()
    parts += ["## Catalogue", text]
    print(text, flush=True)
    ratios = targets(single, plain, unknown)
    parts += ["## Targets", ratios]
    print(ratios, flush=True)
    if args.out:
        args.out.write_text("\n\n".join(parts) + "\n", encoding="utf-8")


def targets(single: dict[str, float], plain: dict[str, float],
            unknown: dict[str, float]) -> str:
    py = single["python (hand-written)"]
    outcome = single["koordrules outcome-only (Program.outcome)"]
    traced = single["koordrules traced (trace built, discarded)"]
    zen = next((v for k, v in single.items() if k.startswith("zen-engine expression")), None)
    rows = [["outcome-only ≤ 3 × hand-written Python", f"{outcome / py:.1f}×",
             "met" if outcome <= 3 * py else "missed"]]
    if zen:
        rows.append(["outcome-only faster than zen-engine expression",
                     f"{outcome / zen:.2f}× zen", "met" if outcome < zen else "missed"])
        rows.append(["traced ≤ 2.5 × zen-engine expression", f"{traced / zen:.1f}× zen",
                     "met" if traced <= 2.5 * zen else "missed"])
    hp = plain["polars (hand-written)"]
    kp = plain["koordrules polars backend (DataFrame in)"]
    rows.append(["polars backend ≤ 1.5 × hand-written polars (no unknowns)",
                 f"{kp / hp:.1f}×", "met" if kp <= 1.5 * hp else "missed"])
    hu = unknown["polars with unknowns (hand-written, Kleene)"]
    ku = unknown["koordrules polars backend (DataFrame in)"]
    rows.append(["polars backend ≤ 1.5 × hand-written polars with unknowns",
                 f"{ku / hu:.1f}×", "met" if ku <= 1.5 * hu else "missed"])
    hd = plain["duckdb SQL (hand-written, incl. connect)"]
    kd = plain["koordrules duckdb backend (Arrow in, incl. connect)"]
    rows.append(["duckdb backend ≤ 2 × hand-written DuckDB SQL", f"{kd / hd:.1f}×",
                 "met" if kd <= 2 * hd else "missed"])
    return table(["target", "measured", ""], rows)


if __name__ == "__main__":
    main()
