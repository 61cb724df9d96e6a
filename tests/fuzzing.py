"""A bounded fuzzing harness: every surface koordrules reads, one generator and one runner.

The surfaces are in tests/fuzz_files.py (expressions, criteria files, case files, the lock
file) and tests/fuzz_data.py (record files, FHIR bundles, batch backends), with the shared
generators in tests/fuzz_common.py; this module holds the list of surfaces and the runner.

Each *surface* turns a seeded :class:`random.Random` into one hostile input (a mutated
shipped file, random tokens, random bytes, a record file with hostile values …) and runs it
through the library. The only allowed results are a value or a
:class:`koordrules.KoordError`; anything else — another exception, an input that takes longer
than the time bound, memory beyond the bound — is a finding, reported with the surface, seed
and index that reproduce it.

CI runs a few inputs per surface (tests/test_fuzz_inputs.py). A large run, one surface per
process, with the time and memory bounds enforced::

    python tests/fuzzing.py --surface records-jsonl --examples 100000 --seed 1
    python tests/fuzzing.py --all --examples 100000 --seed 16 --progress 5000 --report fuzz.jsonl

Input ``i`` of a surface depends only on the seed, the surface and ``i``, so a run can be
split: ``--start 60000 --examples 40000`` runs the inputs 60,000 to 99,999.

``KOORDRULES_FUZZ_EXAMPLES`` sets the number of inputs per surface in the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from fuzz_common import expression  # (fuzz_common puts this repository first on sys.path)
from fuzz_data import (
    backends,
    fhir_bundle,
    records_csv,
    records_json,
    records_jsonl,
    run_backends,
    run_fhir_bundle,
    run_records,
)
from fuzz_files import (
    cases_file,
    criteria_bytes,
    criteria_file,
    criteria_tokens,
    criterion,
    lock_file,
    run_cases_file,
    run_criteria_bytes,
    run_criteria_text,
    run_criterion,
    run_expression,
    run_lock_file,
)

from koordrules import KoordError

TIME_LIMIT = float(os.environ.get("KOORDRULES_FUZZ_SECONDS", "10"))
"""Seconds one input may take (generous: CI machines are shared)."""
MEMORY_MB = int(os.environ.get("KOORDRULES_FUZZ_MEMORY_MB", "1500"))
"""Peak resident memory of the whole run."""


class Hang(BaseException):
    """An input ran past the time bound (a BaseException, so no ``except Exception`` hides it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang(f"more than {TIME_LIMIT} s")



@dataclass(frozen=True)
class Surface:
    generate: Callable[[random.Random], Any]
    run: Callable[[Any], str | tuple[str, Counter[str]]]
    """The input's result code; a record surface adds the result code of each record."""


SURFACES: dict[str, Surface] = {
    "expression": Surface(expression, run_expression),
    "criterion": Surface(criterion, run_criterion),
    "criteria-file": Surface(criteria_file, run_criteria_text),
    "criteria-tokens": Surface(criteria_tokens, run_criteria_text),
    "criteria-bytes": Surface(criteria_bytes, run_criteria_bytes),
    "records-json": Surface(records_json, run_records(".json")),
    "records-jsonl": Surface(records_jsonl, run_records(".jsonl")),
    "records-csv": Surface(records_csv, run_records(".csv")),
    "cases-file": Surface(cases_file, run_cases_file),
    "lock-file": Surface(lock_file, run_lock_file),
    "fhir-bundle": Surface(fhir_bundle, run_fhir_bundle),
    "backends": Surface(backends, run_backends),
}


# --- running -----------------------------------------------------------------------------


@dataclass
class Stats:
    surface: str
    seed: int
    start: int = 0
    inputs: int = 0
    results: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    records: Counter[str] = field(default_factory=Counter)
    slowest_s: float = 0.0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {"surface": self.surface, "seed": self.seed, "start": self.start,
                "inputs": self.inputs,
                "findings": len(self.findings), "first_findings": self.findings[:5],
                "results": dict(self.results.most_common(12)),
                **({"records": dict(self.records.most_common(16))} if self.records else {}),
                "slowest_input_s": round(self.slowest_s, 3), "seconds": round(self.seconds, 1),
                "peak_rss_mb": round(self.peak_rss_mb, 1)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_surface(name: str, examples: int, seed: int, *, max_findings: int = 20,
                progress: int = 0, start: int = 0) -> Stats:
    """Run ``examples`` inputs of surface ``name`` from index ``start``; every finding is
    kept (up to a limit)."""
    surface = SURFACES[name]
    stats = Stats(name, seed, start)
    previous = signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    try:
        for index in range(start, start + examples):
            rng = random.Random(f"{seed}:{name}:{index}")
            item = surface.generate(rng)
            begin = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
            try:
                try:
                    result = surface.run(item)
                finally:  # disarmed before any handler runs: a late alarm is still caught
                    signal.setitimer(signal.ITIMER_REAL, 0)
                if isinstance(result, tuple):
                    outcome, per_record = result
                    stats.records.update(per_record)
                else:
                    outcome = result
            except KoordError as ex:
                outcome = ex.code
                str(ex).encode("utf-8")  # a message must be printable
            except (Exception, Hang) as ex:  # any other exception is a finding
                outcome = "FINDING"
                where = traceback.extract_tb(ex.__traceback__)[-1]
                stats.findings.append(f"{name} seed={seed} index={index}: "
                                      f"{type(ex).__name__} at {Path(where.filename).name}:"
                                      f"{where.lineno}: {str(ex)[:200]!r}")
            stats.slowest_s = max(stats.slowest_s, time.perf_counter() - begin)
            stats.inputs += 1
            stats.results[outcome] += 1
            if _peak_rss_mb() > MEMORY_MB:
                stats.findings.append(f"{name} seed={seed} index={index}: peak memory "
                                      f"{_peak_rss_mb():.0f} MB over {MEMORY_MB} MB")
                break
            if len(stats.findings) >= max_findings:
                break
            if progress and stats.inputs % progress == 0:
                stats.seconds = time.perf_counter() - started
                stats.peak_rss_mb = _peak_rss_mb()
                print(json.dumps(stats.summary()), file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGALRM, previous)
        stats.seconds = time.perf_counter() - started
        stats.peak_rss_mb = _peak_rss_mb()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surface", action="append", choices=sorted(SURFACES))
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, metavar="I",
                        help="the index of the first input (default 0)")
    parser.add_argument("--report", help="append one JSON line per surface to this file")
    parser.add_argument("--progress", type=int, default=0, metavar="N",
                        help="print the figures so far to standard error every N inputs")
    args = parser.parse_args(argv)
    names = sorted(SURFACES) if args.all else (args.surface or [])
    failed = 0
    for name in names:
        stats = run_surface(name, args.examples, args.seed, progress=args.progress,
                            start=args.start)
        line = json.dumps(stats.summary(), ensure_ascii=True)
        print(line, flush=True)
        if args.report:
            with open(args.report, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        failed += len(stats.findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
