"""pytest-benchmark suite: koordrules against hand-written code and the peers (issue 6).

    pytest benchmarks/test_bench.py --benchmark-group-by=group [--benchmark-only]

Not part of the default test run (``benchmarks/`` is outside ``testpaths``). The groups
compare like with like on the same generated records: ``single`` (µs per record, one record
at a time) and ``cohort`` (a whole table). Peers that are not installed are skipped; so are
the polars / DuckDB rows without those packages. ``benchmarks/bench.py`` prints the same
comparison as a table, with scaling and the catalogue timing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402
from datagen import generate_records, to_arrow, to_polars  # noqa: E402
from peers import PEERS, PeerUnavailable, evaluate_python  # noqa: E402

import koordrules  # noqa: E402
from koordrules.compiler import Program  # noqa: E402

N_SINGLE = 2_000
N_COHORT = 100_000

CS = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
PROGRAM = koordrules.compile(CS)
RECORDS = generate_records(N_SINGLE, seed=0)


def loop(fn: Callable[[Any], object]) -> Callable[[], None]:
    def run() -> None:
        for r in RECORDS:
            fn(r)

    return run


SINGLE: list[tuple[str, Callable[[Any], object]]] = [
    ("python hand-written", evaluate_python),
    ("koordrules outcome-only", PROGRAM.outcome),
    ("koordrules evaluate trace=False", lambda r: PROGRAM.evaluate(r, trace=False)),
    ("koordrules traced (lazy trace)", PROGRAM.evaluate),
    ("koordrules traced, trace built", lambda r: PROGRAM.evaluate(r).trace),
    ("koordrules traced + JSON", lambda r: PROGRAM.evaluate(r).to_json()),
]


@pytest.mark.parametrize(("name", "fn"), SINGLE, ids=[n for n, _ in SINGLE])
def test_single(benchmark: Any, name: str, fn: Callable[[Any], object]) -> None:
    benchmark.group = f"single record × {N_SINGLE}"
    benchmark(loop(fn))


RECORD_PEERS = [p for p in PEERS if p.kind == "record" and not p.slow
                and not p.name.startswith("python")]


@pytest.mark.parametrize("peer", RECORD_PEERS, ids=[p.name for p in RECORD_PEERS])
def test_single_peer(benchmark: Any, peer: Any) -> None:
    try:
        fn = peer.factory()
    except PeerUnavailable as ex:
        pytest.skip(str(ex))
    benchmark.group = f"single record × {N_SINGLE}"
    benchmark(loop(fn))


@pytest.fixture(scope="module", params=[0.0, 0.1], ids=["known", "10% unknown"])
def cohort(request: pytest.FixtureRequest) -> dict[str, Any]:
    pytest.importorskip("polars")
    pytest.importorskip("duckdb")
    records = generate_records(N_COHORT, seed=0, unknown_rate=request.param)
    return {"rate": request.param, "records": records, "polars": to_polars(records),
            "arrow": to_arrow(records)}


def _peer(factory: Callable[[], Callable[[Any], object]], kind: str
          ) -> Callable[[dict[str, Any]], Callable[[], object]]:
    def job(c: dict[str, Any]) -> Callable[[], object]:
        fn = factory()
        return lambda: fn(c[kind])

    return job


def _ours(backend: str, kind: str) -> Callable[[dict[str, Any]], Callable[[], object]]:
    return lambda c: lambda: PROGRAM.evaluate_batch(c[kind], backend=backend)


COHORT_JOBS: list[tuple[str, Callable[[dict[str, Any]], Callable[[], object]]]] = [
    ("polars hand-written", _peer(peers.polars_peer, "polars")),
    ("polars hand-written with unknowns", _peer(peers.polars_unknowns_peer, "polars")),
    ("duckdb hand-written", _peer(peers.duckdb_peer, "arrow")),
    ("koordrules polars", _ours("polars", "polars")),
    ("koordrules duckdb", _ours("duckdb", "arrow")),
    ("koordrules python", _ours("python", "records")),
]


@pytest.mark.parametrize(("name", "job"), COHORT_JOBS, ids=[n for n, _ in COHORT_JOBS])
def test_cohort(benchmark: Any, cohort: dict[str, Any], name: str,
                job: Callable[[dict[str, Any]], Callable[[], object]]) -> None:
    if cohort["rate"] and name in ("polars hand-written", "duckdb hand-written"):
        pytest.skip("the hand-written peer has no three-valued logic")
    benchmark.group = f"cohort × {N_COHORT}, {cohort['rate']:.0%} unknown"
    benchmark.pedantic(job(cohort), rounds=3, iterations=1, warmup_rounds=1)


def test_catalogue_load_check_compile(benchmark: Any) -> None:
    from koordrules.resources import criteria_dir

    def run() -> None:
        for cs in koordrules.Catalog.load(criteria_dir()):
            Program(cs)

    benchmark.group = "catalogue"
    benchmark.pedantic(run, rounds=3, iterations=1)
