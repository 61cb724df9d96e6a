"""How long the proofs of ``koordrules verify`` take on every shipped set (issue 13).

    python benchmarks/verify_bench.py [--repeat 3] [--out FILE]

For each shipped set: encoding, outcomes (fires / shadowed / constant), criteria (true, false,
unknown), declared monotonicity, ``missing`` exact (both directions; the refinement rounds of
the quantified direction are counted) and the two-set properties (``narrows:``, a variant's
relation to its base), in seconds, the median of ``repeat`` runs in one process. The target
(issue 13): every shipped set in under 10 s in total on a 2-core machine.
Prints a Markdown table; ``--out`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import koordrules  # noqa: E402
from koordrules.setrelations import resolve_base  # noqa: E402
from koordrules.verify.encode import Encoding  # noqa: E402
from koordrules.verify.properties import (  # noqa: E402
    prove_criteria,
    prove_missing,
    prove_monotone,
    prove_narrows,
    prove_outcomes,
    prove_variant,
)

COLUMNS = ("encode", "outcomes", "criteria", "monotone", "missing", "narrows/variant")


CPU: list[float] = []
"""Processor seconds of every timed call (z3 runs in this process, so they count)."""


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    value = fn()
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - start, value


def one_run(sets: list[koordrules.CriteriaSet]) -> tuple[dict[str, dict[str, float]],
                                                        dict[str, int], int]:
    """Seconds per set and column, refinement rounds per set, and refuted properties."""
    by_key = {cs.key: cs for cs in sets}
    times: dict[str, dict[str, float]] = {}
    rounds: dict[str, int] = {}
    refuted = 0
    for cs in sets:
        row: dict[str, float] = {}
        row["encode"], enc = _timed(lambda cs=cs: Encoding(cs))
        proofs = []
        for column, prove in (("outcomes", prove_outcomes), ("criteria", prove_criteria),
                              ("monotone", prove_monotone), ("missing", prove_missing)):
            row[column], found = _timed(lambda prove=prove, cs=cs, enc=enc: prove(cs, enc))
            proofs += found
        rounds[cs.key] = sum(int(p.details.get("rounds", 0)) for p in proofs)

        def pairs(cs: koordrules.CriteriaSet = cs) -> list[Any]:
            out = [prove_narrows(cs, by_key[ref]) for ref in cs.narrows if ref in by_key]
            base = resolve_base(cs, sets) if cs.extends else None
            if base is not None:
                out.append(prove_variant(base, cs))
            return out

        row["narrows/variant"], found = _timed(pairs)
        proofs += found
        refuted += sum(1 for p in proofs if p.decided and not p.holds)
        times[cs.key] = row
    return times, rounds, refuted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    sets = list(koordrules.Catalog.builtin())
    load = os.getloadavg()[0]
    runs = []
    cpu = []
    for _ in range(args.repeat):
        CPU.clear()
        runs.append(one_run(sets))
        cpu.append(sum(CPU))
    median = {key: {c: statistics.median(r[0][key][c] for r in runs) for c in COLUMNS}
              for key in runs[0][0]}
    totals = [sum(sum(row.values()) for row in r[0].values()) for r in runs]
    lines = [
        "## Proofs (`koordrules verify`, issue 13)",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average at start "
        f"{load:.1f}",
        f"- Python {platform.python_version()}, z3-solver {version('z3-solver')}, "
        f"koordrules {koordrules.__version__}",
        f"- {len(sets)} shipped sets, median of {args.repeat} run(s) in one process; "
        f"refuted properties: {runs[0][2]}",
        "",
        "| set | " + " | ".join(COLUMNS) + " | total | refinement rounds |",
        "| --- |" + " ---: |" * (len(COLUMNS) + 2),
    ]
    for key, row in median.items():
        lines.append(f"| {key} | " + " | ".join(f"{row[c]:.2f}" for c in COLUMNS)
                     + f" | {sum(row.values()):.2f} | {runs[0][1][key]} |")
    column_totals = [sum(row[c] for row in median.values()) for c in COLUMNS]
    lines.append("| **all sets** | " + " | ".join(f"{t:.2f}" for t in column_totals)
                 + f" | **{statistics.median(totals):.2f}** | |")
    lines += ["", f"Total per run, wall clock (s): {', '.join(f'{t:.2f}' for t in totals)}; "
              f"processor time (s): {', '.join(f'{t:.2f}' for t in cpu)}, load average at "
              f"the end {os.getloadavg()[0]:.1f}. On a busy machine the wall clock includes "
              "waiting for a core; the processor time is what the proofs cost."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
