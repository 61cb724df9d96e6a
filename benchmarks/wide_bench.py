"""Cost against expression width (issue 11, "Bounded cost").

    python benchmarks/wide_bench.py [--records 2000] [--timeout 180] [--quick] [--out FILE]

Five families of generated sets, each at growing width, as in the issue's reports:

* ``and``: one criterion ``a and b and … `` over 26 boolean inputs, up to 1,660 terms (the
  10,000-character limit of an expression);
* ``in``: ``i in [0, 1, …]`` with up to 3,300 items;
* ``at_least``: ``at_least(3, a, b, …)`` over up to 3,300 names;
* ``rules``: up to 200 outcome rules, each ``x0 > r or … or x19 > r`` over 20 inputs;
* ``int_chain``: ``i + 1 + … + 1 > 0``, nested (not wide) integer arithmetic to depth 32,
  where a lowering that writes an operand twice grows exponentially.

For each width, one child process loads and checks the set (``load``), compiles it
(``compile``), prints it as DuckDB SQL (``to_sql``, with its size), and evaluates
``--records`` distinct generated records with the python, polars and DuckDB backends. A child
that runs past ``--timeout`` seconds is stopped; what it had not finished is shown as
``> T``.

Times are wall-clock seconds on a shared machine: read the growth, not the digits. The growth
is given as ratios against a baseline measured in the same run, the narrowest width of the
family: ``per unit`` is (time / width) divided by the baseline's (time / width), so 1.0 is
linear growth, below 1 means fixed costs still dominate, and 4.0 means a width 16 times the
baseline costs 64 times as much; ``slope`` is log(time ratio) / log(width ratio) over the
widest doubling (1 = linear, 2 = quadratic). The first calls (imports of sqlglot, polars,
DuckDB) are made on a narrow set before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LETTERS = string.ascii_lowercase
STAGES = ("load", "compile", "to_sql", "python", "polars", "duckdb")
FAMILIES: dict[str, tuple[int, ...]] = {
    "and": (100, 415, 830, 1660),
    "in": (200, 825, 1650, 3300),
    "at_least": (200, 825, 1650, 3300),
    "rules": (25, 50, 100, 200),
    "int_chain": (4, 8, 16, 32),
}
QUICK: dict[str, tuple[int, ...]] = {"and": (100, 400), "in": (200, 800),
                                     "at_least": (200, 800), "rules": (10, 40),
                                     "int_chain": (4, 8)}

HEADER = """\
id: bench/wide-{kind}
version: 1.0.0
title: Wide {kind}
status: draft
effective_from: 2024-01-01
source:
  document: Benchmark (generated)
"""
ONE_CRITERION = """\
criteria:
  Wide:
    title: wide
    when: {expr}
outcomes:
  - {{id: hit, title: hit, when: Wide}}
  - {{id: rest, title: rest, otherwise: true}}
"""


def _booleans() -> str:
    return "inputs:\n" + "".join(f"  {c}: {{type: boolean, kind: data}}\n" for c in LETTERS)


def criteria_text(family: str, width: int) -> str:
    """The generated criteria file of ``family`` at ``width``."""
    head = HEADER.format(kind=family.replace("_", "-"))
    if family == "and":
        expr = " and ".join(LETTERS[i % 26] for i in range(width))
        return head + _booleans() + ONE_CRITERION.format(expr=expr)
    if family == "in":
        items = ", ".join(str(i % 10) for i in range(width))
        return (head + "inputs:\n  i: {type: integer, kind: data}\n"
                + ONE_CRITERION.format(expr=f"i in [{items}]"))
    if family == "at_least":
        names = ", ".join(LETTERS[i % 26] for i in range(width))
        return head + _booleans() + ONE_CRITERION.format(expr=f"at_least(3, {names})")
    if family == "rules":
        inputs = "".join(f"  x{j}: {{type: integer, kind: data}}\n" for j in range(20))
        whens = [" or ".join(f"x{j} > {r}" for j in range(20)) for r in range(width)]
        rules = "".join(f"  - {{id: r{r}, title: r{r}, when: {when}}}\n"
                        for r, when in enumerate(whens))
        return (head + "inputs:\n" + inputs + "criteria:\n  Wide:\n    title: wide\n"
                "    when: x0 > 0\noutcomes:\n" + rules
                + "  - {id: rest, title: rest, otherwise: true}\n")
    if family == "int_chain":  # nested, not wide: i + 1 + ... + 1 > 0, depth = width
        return (head + "inputs:\n  i: {type: integer, kind: data}\n"
                + ONE_CRITERION.format(expr="i" + " + 1" * width + " > 0"))
    raise ValueError(family)


def records(family: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct records (a few values unknown) for ``family``."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for k in range(n):
        if family == "in":
            out.append({"i": k % 20} if k % 17 else {})
        elif family == "int_chain":
            out.append({"i": rng.randrange(-2**62, 2**62)} if k % 17 else {})
        elif family == "rules":
            out.append({f"x{j}": rng.randrange(-50, 250) for j in range(20) if rng.random() > 0.05})
        else:  # mostly true, so an and-chain is decided late
            out.append({c: rng.random() < 0.97 for c in LETTERS if rng.random() > 0.02})
    return out


def child(family: str, width: int, n: int) -> None:
    """Run every stage at one width, one JSON line per finished stage."""
    import koordrules
    from koordrules.backends.sql import to_sql

    def emit(stage: str, seconds: float, **extra: Any) -> None:
        print(json.dumps({"stage": stage, "seconds": seconds, **extra}), flush=True)

    # first calls import sqlglot, polars, DuckDB: paid here, on a narrow set, not timed
    warm = koordrules.load_text(criteria_text(family, 4), file="warm.yaml")
    to_sql(warm, dialect="duckdb")
    for backend in ("python", "polars", "duckdb"):
        koordrules.compile(warm).evaluate_batch(records(family, 4), backend=backend)
    text = criteria_text(family, width)
    t = time.perf_counter()
    cs = koordrules.load_text(text, file=f"wide-{family}.yaml")
    emit("load", time.perf_counter() - t, chars=len(text))
    t = time.perf_counter()
    program = koordrules.compile(cs)
    emit("compile", time.perf_counter() - t)
    t = time.perf_counter()
    sql = to_sql(cs, dialect="duckdb")
    emit("to_sql", time.perf_counter() - t, sql_bytes=len(sql.encode()))
    data = records(family, n)
    want = None
    for backend in ("python", "polars", "duckdb"):
        t = time.perf_counter()
        table = program.evaluate_batch(data, backend=backend)
        seconds = time.perf_counter() - t
        got = [r["outcome"] for r in (table.to_dicts() if hasattr(table, "to_dicts")
                                      else table)]
        want = got if want is None else want
        emit(backend, seconds, agrees=got == want)


def measure(family: str, width: int, n: int, timeout: float) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", family, str(width), "--records", str(n)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        timed_out = True
    row: dict[str, Any] = {"family": family, "width": width, "timed_out": timed_out}
    for line in out.splitlines():
        item = json.loads(line)
        row[item.pop("stage")] = item
    return row


def _cell(row: dict[str, Any], stage: str, timeout: float) -> str:
    item = row.get(stage)
    return f"{item['seconds']:.3f}" if item else f"> {timeout:.0f}"


def growth(rows: list[dict[str, Any]], stage: str) -> tuple[str, str]:
    """For one stage: the per-unit ratio of the widest width to the narrowest (the baseline),
    and the slope over the widest doubling, where the fixed costs weigh least."""
    first, before, last = rows[0], rows[-2], rows[-1]
    if any(stage not in r for r in (first, before, last)):
        return "–", "–"
    t0, t1, t2 = (r[stage]["seconds"] for r in (first, before, last))
    w0, w1, w2 = (r["width"] for r in (first, before, last))
    if min(t0, t1, t2) <= 0:
        return "–", "–"
    ratio = (t2 / w2) / (t0 / w0)
    return f"{ratio:.2f}", f"{math.log(t2 / t1) / math.log(w2 / w1):.2f}"


def report(results: dict[str, list[dict[str, Any]]], n: int, timeout: float) -> str:
    lines = [f"records per backend: {n} (distinct); times in seconds; "
             f"child timeout {timeout:.0f} s", ""]
    for family, rows in results.items():
        lines.append(f"### {family}")
        lines.append("")
        lines.append("| width | chars | " + " | ".join(STAGES) + " | SQL bytes | backends agree |")
        lines.append("| ---: | ---: | " + " | ".join("---:" for _ in STAGES) + " | ---: | --- |")
        for row in rows:
            chars = row.get("load", {}).get("chars", "–")
            sql = row.get("to_sql", {}).get("sql_bytes", "–")
            agree = all(row[b]["agrees"] for b in ("polars", "duckdb") if b in row)
            lines.append(f"| {row['width']} | {chars} | "
                         + " | ".join(_cell(row, s, timeout) for s in STAGES)
                         + f" | {sql} | {'yes' if agree else 'NO'} |")
        per_unit = [growth(rows, s) for s in STAGES]
        lines.append("| per unit, widest / narrowest | | " + " | ".join(g[0] for g in per_unit)
                     + " | | |")
        lines.append("| slope over the widest doubling | | "
                     + " | ".join(g[1] for g in per_unit) + " | | |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--quick", action="store_true", help="two small widths per family")
    ap.add_argument("--family", choices=tuple(FAMILIES), action="append")
    ap.add_argument("--out", type=Path, help="also write the report to FILE")
    ap.add_argument("--child", nargs=2, metavar=("FAMILY", "WIDTH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.records)
        return 0
    widths = QUICK if args.quick else FAMILIES
    results: dict[str, list[dict[str, Any]]] = {}
    for family in args.family or tuple(FAMILIES):
        results[family] = []
        for width in widths[family]:
            row = measure(family, width, args.records, args.timeout)
            results[family].append(row)
            print(f"{family} {width}: " + ", ".join(
                f"{s} {_cell(row, s, args.timeout)}" for s in STAGES), file=sys.stderr)
    text = report(results, args.records, args.timeout)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
