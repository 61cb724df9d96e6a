"""Quick timing of the peer engines on Anbefaling 3 (issue 6).

    python benchmarks/peers_bench.py [--n 20000] [--repeat 3] [--only SUBSTRING]

Each peer is built once (parse/compile not timed), warmed up on a few records, then run
over all ``n`` generated records ``repeat`` times; the median run is reported as
microseconds per record.  Record peers are called once per record from a Python loop;
batch peers get the whole table, which is built beforehand (the cost of building it
from dicts is printed as separate "conversion" rows).  Batch engines may use both cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from datagen import Record, generate_records, to_arrow, to_polars
from peers import PEERS, Peer, PeerUnavailable


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _package_version(package: str) -> str:
    if package == "-":
        return "-"
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return package


def _job(peer: Peer, evaluate: Callable[[Any], Any], records: list[Record]) -> Callable[[], Any]:
    if peer.kind == "record":

        def run_records() -> None:
            for r in records:
                evaluate(r)

        return run_records
    table = to_polars(records) if peer.kind == "polars" else to_arrow(records)
    return lambda: evaluate(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="records per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--only", default="", help="run only peers whose name contains this")
    parser.add_argument("--slow-n", type=int, default=2_000, help="records for slow peers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    records = generate_records(args.n, seed=args.seed)
    rows: list[tuple[str, str, int, float]] = []  # name, package, records, median seconds
    for peer in PEERS:
        if args.only not in peer.name:
            continue
        try:
            evaluate = peer.factory()
        except PeerUnavailable as exc:
            print(f"skip {peer.name}: {exc}")
            continue
        subset = records[: args.slow_n] if peer.slow else records
        job = _job(peer, evaluate, subset)
        _job(peer, evaluate, records[:100])()  # warm-up: first calls pay one-off costs
        seconds = median_seconds(job, args.repeat)
        rows.append((peer.name, _package_version(peer.package), len(subset), seconds))

    if not args.only:
        for name, convert, package in (
            ("conversion: dicts -> polars", to_polars, "polars"),
            ("conversion: dicts -> arrow", to_arrow, "pyarrow"),
        ):
            seconds = median_seconds(partial(convert, records), args.repeat)
            rows.append((name, _package_version(package), len(records), seconds))

    python_us = next((s / n * 1e6 for name, _, n, s in rows if name.startswith("python")), None)
    print(f"\nAnbefaling 3, {args.n} records, median of {args.repeat} runs\n")
    print(f"{'peer':<30} {'package':<35} {'records':>8} {'µs/record':>10} {'vs python':>10}")
    print("-" * 97)
    for name, package, n, seconds in rows:
        us = seconds / n * 1e6
        ratio = f"{us / python_us:.2f}x" if python_us else "-"
        print(f"{name:<30} {package:<35} {n:>8} {us:>10.3f} {ratio:>10}")


if __name__ == "__main__":
    main()
