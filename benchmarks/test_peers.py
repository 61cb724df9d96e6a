"""Each peer must agree with the hand-written Python on generated records.

Run with ``pytest benchmarks/test_peers.py``; a peer whose library is missing is skipped.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from datagen import FIELDS, Record, generate_records, to_arrow, to_polars
from peers import (
    ALREADY,
    B_FACTORS,
    LIKELY,
    NOT_INDICATED,
    PEERS,
    Peer,
    PeerUnavailable,
    evaluate_python,
    polars_unknowns_peer,
)

N = 1000


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return generate_records(N, seed=0)


def _build(factory: Callable[[], Callable[[Any], Any]]) -> Callable[[Any], Any]:
    try:
        return factory()
    except PeerUnavailable as exc:
        pytest.skip(str(exc))


def _run(peer: Peer, evaluate: Callable[[Any], Any], records: list[Record]) -> list[Any]:
    if peer.kind == "record":
        return [evaluate(r) for r in records]
    if peer.kind == "polars":
        return list(evaluate(to_polars(records)).to_list())
    return list(evaluate(to_arrow(records)).to_pylist())


def test_generated_records_cover_all_outcomes(records: list[Record]) -> None:
    counts = Counter(evaluate_python(r) for r in records)
    assert set(counts) == {ALREADY, LIKELY, NOT_INDICATED}
    assert min(counts.values()) > N // 20
    assert any(r["expected_followup_months"] == 6 for r in records)  # the boundary


def test_generation_is_deterministic() -> None:
    assert generate_records(50, seed=3) == generate_records(50, seed=3)
    masked = generate_records(50, seed=3, unknown_rate=0.3)
    full = generate_records(50, seed=3)
    assert any(v is None for r in masked for v in r.values())
    for m, f in zip(masked, full, strict=True):
        assert all(m[k] is None or m[k] == f[k] for k in FIELDS)


@pytest.mark.parametrize("peer", PEERS, ids=[p.name for p in PEERS])
def test_peer_agrees_with_python(peer: Peer, records: list[Record]) -> None:
    evaluate = _build(peer.factory)
    expected = [evaluate_python(r) for r in records]
    assert _run(peer, evaluate, records) == expected


def _completions(record: Record) -> list[Record]:
    """All ways to fill the unknowns that matter (booleans both ways; followup and
    units on either side of their thresholds)."""
    choices: dict[str, tuple[Any, ...]] = {name: (False, True) for name in FIELDS}
    choices["expected_followup_months"] = (0, 7)
    choices["involved_units"] = (0, 2)
    unknown = [k for k in FIELDS if record[k] is None]
    out = []
    for values in itertools.product(*(choices[k] for k in unknown)):
        out.append({**record, **dict(zip(unknown, values, strict=True))})
    return out


def _supervaluation(record: Record) -> str | None:
    """The outcome if every completion of the record agrees on it, else None."""
    outcomes = {evaluate_python(r) for r in _completions(record)}
    return outcomes.pop() if len(outcomes) == 1 else None


def test_polars_unknowns_is_exact_three_valued() -> None:
    evaluate = _build(polars_unknowns_peer)
    records = generate_records(2000, seed=1, unknown_rate=0.2)
    got = evaluate(to_polars(records)).to_list()
    assert got == [_supervaluation(r) for r in records]
    assert None in got
    assert len(B_FACTORS) == 5
