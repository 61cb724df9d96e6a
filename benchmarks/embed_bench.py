"""What an application that embeds koordrules pays per decision, on distinct records (issue 15).

    python benchmarks/embed_bench.py [--n 20000] [--repeat 5] [--memory-n 200000]
                                     [--skip-memory] [--out FILE]

1. **Speed** on ``n`` *distinct* records of Anbefaling 3 (``datagen.generate_records`` with a
   real-valued follow-up, so no two records are equal and nothing can be reused between them):
   hand-written Python, koordrules outcome-only (``Program.outcome``), explained (the
   ``Result`` with its trace built) and explained + JSON (``Result.to_json()``), against
   zen-engine's compiled expression and its traced decision (``ZenEngine.evaluate(key,
   record, {"trace": True})``), bare and serialised with ``json.dumps``. CPU µs per record
   (``time.process_time``), the best of ``repeat`` runs, all in this one process, the
   engines taking turns in each round.
2. **Memory**, in a fresh subprocess: ``memory-n`` distinct records spread round-robin over
   every shipped set, each evaluated with its trace, the trace built and the result written
   to JSON (what a service does). The resident set is sampled every 2 ms; the growth over the
   level after loading the catalogue must stay within the process-wide cache budget
   (``koordrules.cache.DEFAULT_BUDGET``, see docs/performance.md). It is measured once with
   the default budget and once with ``set_cache_budget(0)``.

Prints Markdown tables and the targets as met / missed; ``--out`` writes them to a file.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from datagen import Record, generate_records  # noqa: E402
from peers import (  # noqa: E402
    PeerUnavailable,
    _zen_decision,
    evaluate_python,
    zen_expression_peer,
)

import koordrules  # noqa: E402
from koordrules import ast  # noqa: E402

SET = "helse-vest/anbefaling-3"
MIB = 1024 * 1024
FLAT_MIB = 2
"""How much the resident set may still grow after the first quarter of the memory run."""


def distinct_records(n: int, seed: int) -> list[Record]:
    """``n`` records of Anbefaling 3, pairwise different: the follow-up is a real number of
    months (0-36, with a share at or just around the 6-month threshold)."""
    records = generate_records(n, seed=seed)
    rng = random.Random(seed + 7)
    for r in records:
        r["expected_followup_months"] = r["expected_followup_months"] + rng.random()
    if len({tuple(sorted(r.items())) for r in records}) != n:
        raise AssertionError("the generated records are not all distinct")
    return records


def _cpu_seconds(fn: Callable[[Record], object], records: list[Record]) -> float:
    """CPU time of one run (``time.process_time``: this process's threads only, so other
    work on a shared machine counts less)."""
    start = time.process_time()
    for r in records:
        fn(r)
    return time.process_time() - start


def _fmt(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |",
           "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(headers))) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# --- speed -------------------------------------------------------------------------------


def zen_traced() -> Callable[[Record], dict[str, Any]]:
    """zen-engine's decision graph (benchmarks/peers.py) evaluated with its trace."""
    try:
        import zen
    except ImportError as ex:
        raise PeerUnavailable("zen-engine is not installed") from ex
    key = "anbefaling-3"
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {key: _zen_decision()}}})
    evaluate = engine.evaluate

    def run(record: Record) -> dict[str, Any]:
        found: Any = evaluate(key, record, {"trace": True})
        return found

    return run


def speed(n: int, repeat: int, seed: int) -> tuple[str, dict[str, float]]:
    records = distinct_records(n, seed)
    program = koordrules.compile(koordrules.Catalog.builtin().get(SET))
    for r in records:  # the same answers, or the comparison means nothing
        if program.outcome(r).outcome != evaluate_python(r):
            raise AssertionError("koordrules and the hand-written Python disagree")
    jobs: list[tuple[str, Callable[[Record], object]]] = [
        ("python (hand-written)", evaluate_python),
        ("koordrules outcome-only (Program.outcome)", program.outcome),
        ("koordrules explained (Result, trace built)", lambda r: program.evaluate(r).trace),
        ("koordrules explained + JSON (Result.to_json)", lambda r: program.evaluate(r).to_json()),
    ]
    try:
        zen_expr = zen_expression_peer()
        traced = zen_traced()
        jobs += [
            ("zen-engine expression", zen_expr),
            ("zen-engine traced decision", traced),
            ("zen-engine traced decision + JSON (json.dumps)",
             lambda r: json.dumps(traced(r), ensure_ascii=False)),
        ]
        for r in records[:1000]:
            if traced(r)["result"]["outcome"] != evaluate_python(r):
                raise AssertionError("zen-engine and the hand-written Python disagree")
    except PeerUnavailable:
        pass
    for _, fn in jobs:
        for r in records[:200]:
            fn(r)
    runs: dict[str, list[float]] = {name: [] for name, _ in jobs}
    for _ in range(repeat):  # in turns, so a change of load hits every engine alike
        for name, fn in jobs:
            runs[name].append(_cpu_seconds(fn, records))
    results = {name: min(times) / n * 1e6 for name, times in runs.items()}
    py = results["python (hand-written)"]
    rows = [[name, _fmt(v), f"{v / py:.1f}×"] for name, v in results.items()]
    sizes = [["koordrules Result.to_json", len(program.evaluate(records[0]).to_json())]]
    if "zen-engine traced decision" in results:
        sizes.append(["zen-engine traced decision, json.dumps",
                      len(json.dumps(zen_traced()(records[0]), ensure_ascii=False))])
    text = (table([f"{n:,} distinct records", "µs/record", "× hand-written Python"], rows)
            + "\n\n" + table(["JSON of the first record", "characters"], sizes))
    return text, results


# --- memory ------------------------------------------------------------------------------


def set_records(cs: ast.CriteriaSet, seed: int) -> Iterator[dict[str, Any]]:
    """An endless stream of distinct valid records for ``cs``: the index ``j`` is written
    into the widest numeric inputs (mixed radix), every other input is random (10 % unknown)."""
    rng = random.Random(seed)
    numeric = sorted((i for i in cs.inputs if i.type in ("integer", "number")),
                     key=lambda i: -((i.max or 1000) - (i.min or 0)))
    keys = numeric[:2]
    j = 0
    while True:
        record: dict[str, Any] = {}
        rest = j
        for decl in cs.inputs:
            if decl in keys:
                low, high = int(decl.min or 0), int(decl.max if decl.max is not None else 10**6)
                if decl.type == "number":  # low + digit + a fraction stays below high
                    rest, digit = divmod(rest, max(high - low, 1))
                    value: Any = low + digit + rng.random() * 0.999
                else:
                    rest, digit = divmod(rest, high - low + 1)
                    value = low + digit
                record[decl.name] = value
                continue
            if rng.random() < 0.1:
                record[decl.name] = None
                continue
            record[decl.name] = _random_value(decl, rng)
        j += 1
        yield record


def _random_value(decl: ast.InputDecl, rng: random.Random) -> Any:
    low = decl.min if decl.min is not None else 0
    high = decl.max if decl.max is not None else 100
    if decl.type == "boolean":
        return rng.random() < 0.4
    if decl.type == "integer":
        return int(low + rng.random() * (min(high, low + 40) - low + 1))
    if decl.type == "number":
        return low + rng.random() * (min(high, low + 40) - low)
    if decl.type == "enum" and decl.values:
        return decl.values[int(rng.random() * len(decl.values))]
    if decl.type == "date":
        import datetime as dt

        return (dt.date(2020, 1, 1) + dt.timedelta(days=int(rng.random() * 2000))).isoformat()
    if decl.type == "list":
        return []
    return f"x{int(rng.random() * 1000)}"


MEMORY_CHILD = r"""
import json, os, sys, threading, time
sys.path.insert(0, {here!r}); sys.path.insert(0, {root!r})
n, budget = int(sys.argv[1]), sys.argv[2]
import koordrules
from koordrules.cache import DEFAULT_BUDGET, cache_info, set_cache_budget
from embed_bench import set_records
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
sets = list(koordrules.Catalog.builtin())
streams = [set_records(cs, 11 + i) for i, cs in enumerate(sets)]
if budget != 'default':
    set_cache_budget(int(budget))
programs = [koordrules.compile(cs) for cs in sets]  # held by the application, as a service does
for k, program in enumerate(programs):
    program.evaluate(next(streams[k])).to_json()
before = rss()
peak = [before]; done = [False]
def sample():
    while not done[0]:
        peak[0] = max(peak[0], rss()); time.sleep(0.002)
t = threading.Thread(target=sample, daemon=True); t.start()
checkpoints = []
chars = 0
start = time.perf_counter()
for j in range(n):
    k = j % len(sets)
    result = programs[k].evaluate(next(streams[k]))
    result.trace
    chars += len(result.to_json())
    if (j + 1) % (n // 4) == 0:
        checkpoints.append(rss() - before)
seconds = time.perf_counter() - start
done[0] = True; t.join()
info = cache_info()
print(json.dumps({{"sets": len(sets), "seconds": seconds, "before": before,
                  "peak_increase": max(peak[0], rss()) - before, "checkpoints": checkpoints,
                  "budget": info.budget, "used": info.used, "entries": info.entries,
                  "evictions": info.evictions, "chars": chars}}))
"""


def memory_run(n: int, budget: str) -> dict[str, Any]:
    code = MEMORY_CHILD.format(here=str(HERE), root=str(HERE.parent))
    proc = subprocess.run([sys.executable, "-c", code, str(n), budget], capture_output=True,
                          text=True, timeout=3600, check=True)
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def memory(n: int) -> tuple[str, list[dict[str, Any]]]:
    runs = [("default", memory_run(n, "default")), ("0", memory_run(n, "0"))]
    rows = []
    for label, m in runs:
        quarter = ", ".join(f"{c / MIB:.1f}" for c in m["checkpoints"])
        rows.append([f"budget {m['budget'] / MIB:.0f} MiB" if label == "default"
                     else "budget 0 (set_cache_budget(0))",
                     f"{n:,} over {m['sets']} sets", f"{m['seconds']:.1f}",
                     f"{m['before'] / MIB:.1f}", quarter, f"{m['peak_increase'] / MIB:.1f}",
                     f"{m['used'] / MIB:.2f} ({m['entries']} entries)"])
    text = table(["cache budget", "distinct records", "seconds", "RSS before MiB",
                  "RSS growth at ¼, ½, ¾, end MiB", "peak RSS growth MiB",
                  "cache used MiB"], rows)
    return text, [m for _, m in runs]


# --- targets -----------------------------------------------------------------------------


def targets(speed_us: dict[str, float], mem: list[dict[str, Any]]) -> str:
    rows = []
    py = speed_us["python (hand-written)"]
    outcome = speed_us["koordrules outcome-only (Program.outcome)"]
    rows.append(["outcome-only ≤ 3 × hand-written Python", f"{outcome / py:.1f}×",
                 "met" if outcome <= 3 * py else "missed"])
    zen = speed_us.get("zen-engine traced decision + JSON (json.dumps)")
    if zen is not None:
        ours = speed_us["koordrules explained + JSON (Result.to_json)"]
        rows.append(["explained + JSON ≤ zen-engine traced decision + JSON",
                     f"{_fmt(ours)} vs {_fmt(zen)} µs ({ours / zen:.2f}×)",
                     "met" if ours <= zen else "missed"])
    for m in mem:
        budget = f"budget {m['budget'] / MIB:.0f} MiB"
        if m["budget"]:
            rows.append([f"peak RSS growth ≤ the cache budget ({budget})",
                         f"{m['peak_increase'] / MIB:.1f} MiB",
                         "met" if m["peak_increase"] <= m["budget"] else "missed"])
        drift = m["checkpoints"][-1] - m["checkpoints"][0]
        rows.append([f"flat: RSS growth from ¼ to the end ≤ {FLAT_MIB} MiB ({budget})",
                     f"{drift / MIB:.1f} MiB", "met" if drift <= FLAT_MIB * MIB else "missed"])
    return table(["target", "measured", ""], rows)


def environment() -> str:
    import os
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} cores, "
            f"load average at start {load:.1f}\n"
            f"- Python {platform.python_version()}, koordrules {koordrules.__version__}, "
            f"pydantic {pkg('pydantic')}, zen-engine {pkg('zen-engine')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-n", type=int, default=200_000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    parts = ["## Environment", environment()]
    text, speed_us = speed(args.n, args.repeat, args.seed)
    parts += ["## Speed", text]
    print("\n\n".join(parts), flush=True)
    mem: list[dict[str, Any]] = []
    if not args.skip_memory:
        text, mem = memory(args.memory_n)
        parts += ["## Memory", text]
        print(text, flush=True)
    text = targets(speed_us, mem)
    parts += ["## Targets", text]
    print(text, flush=True)
    if args.out:
        args.out.write_text("\n\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
