"""The z3 encoding agrees with the reference interpreter: outcome, possible outcomes and every
criterion's value, on 10,000 generated records per shipped set (with unknowns, values at and
next to every threshold) and on a set that uses every construct the encoding decides.
Constructs it cannot decide raise NotEncodableError at their position."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("z3")

import koordrules
from koordrules import CriteriaSet
from koordrules.errors import NotEncodableError
from koordrules.evaluator import Interpreter, choose
from koordrules.inputs import validate_record
from koordrules.testing.strategies import thresholds
from koordrules.verify.encode import Encoding
from koordrules.verify.records import Verdict, evaluator

RECORDS = 10_000

HEADER = """\
id: test/encodable
version: 1.0.0
title: Every construct the proof encoding decides
status: draft
effective_from: 2024-01-01
source:
  document: Test document
"""

ENCODABLE = HEADER + """\
parameters:
  limit: {value: 6}
  start: {value: 2024-01-01}
  label: {value: "mid"}
  ratio: {value: 0.5}
  two: {value: 2}
inputs:
  months: {type: number, kind: data, min: 0, max: 100}
  units: {type: integer, kind: data, min: -5, max: 20}
  big: {type: integer, kind: data}
  flag: {type: boolean, kind: data}
  other: {type: boolean, kind: judgement}
  seen: {type: date, kind: data}
  code: {type: string, kind: data}
  level: {type: enum, kind: data, values: [low, mid, high]}
  tags: {type: list, kind: data, items: string}
criteria:
  P:
    title: numbers
    when: months > limit and units * units - units >= 6 or -units > 2 or months <= ratio
  Q:
    title: dates
    when: seen + 30 days > start and seen - start >= 10 days or days_between(start, seen) < -3
  R:
    title: membership
    when: level in ["mid", "high"] and level != label or "b" in tags or level in tags
  S:
    title: functions
    when: >-
      at_least(two, flag, other, P, Q) or is_known(seen) and not any(flag)
      or count_true(flag, other) >= 1 or coalesce(flag, other, false) or at_least(1, other)
      or all(flag, not other) or at_least(2, [flag, P]) or length([flag, other]) > 2
  T:
    title: if, implies, xor, between
    when: >-
      (if flag then units > 2 else months < 1.5) implies (other xor starts_with(code, "G3"))
      or units between 3 and limit or big + big > 0 or code == "x"
  U:
    title: enum functions
    when: >-
      starts_with(level, "m") or level == "low" and code != label
      or (if other then level else "low") == "high"
outcomes:
  - {id: first, title: first, when: P and R}
  - {id: second, title: second, when: S or not T}
  - {id: third, title: third, when: U implies Q}
  - {id: rest, title: rest, otherwise: true}
"""


def shipped() -> list[CriteriaSet]:
    return list(koordrules.Catalog.builtin())


def _edges(cs: CriteriaSet) -> dict[str, list[Any]]:
    return {d.name: thresholds(cs, d) if d.type != "list" else [] for d in cs.inputs}


def _draw(cs: CriteriaSet, edges: dict[str, list[Any]], rng: random.Random) -> dict[str, Any]:
    """One record: inputs unknown at a rate drawn per record, values often at a threshold."""
    record: dict[str, Any] = {}
    unknown = rng.choice((0.0, 0.05, 0.2, 0.5))
    true = rng.choice((0.1, 0.5, 0.9))
    for d in cs.inputs:
        if rng.random() < unknown:
            continue
        near = edges[d.name]
        if d.type == "boolean":
            record[d.name] = rng.random() < true
        elif near and rng.random() < 0.6:
            record[d.name] = rng.choice(near)
        elif d.type in ("integer", "number"):
            lo = d.min if d.min is not None else -(2**63) if rng.random() < 0.1 else -1000
            hi = d.max if d.max is not None else 2**63 - 1 if rng.random() < 0.1 else 1000
            record[d.name] = (rng.randint(int(lo), int(hi)) if d.type == "integer"
                              else round(rng.uniform(lo, hi), rng.choice((0, 1, 6))))
        elif d.type == "enum":
            record[d.name] = rng.choice(d.values or ())
        elif d.type == "date":
            record[d.name] = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(-60, 60))
        elif d.type == "string":
            record[d.name] = rng.choice(("", "x", "G3", "G35", "g3", "other"))
        else:
            items: list[Any] = [v for v in ("a", "b", "mid", "high", "zz") if rng.random() < 0.3]
            record[d.name] = items + ([None] if rng.random() < 0.15 else [])
    return record


def reference(cs: CriteriaSet, record: dict[str, Any]) -> Verdict:
    it = Interpreter(cs, record)
    criteria = {c.name: it.criterion(c.name) for c in cs.criteria}
    outcome, possible = choose(cs, [it.evaluate(r.when) for r in cs.rules if r.when])
    return outcome, possible, criteria  # type: ignore[return-value]


def _records(cs: CriteriaSet, n: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    edges = _edges(cs)
    for _ in range(n):
        yield validate_record(cs, _draw(cs, edges, rng))[0]


def _agree(cs: CriteriaSet, n: int) -> tuple[int, set[str | None]]:
    run = evaluator(Encoding(cs))
    distinct: set[str] = set()
    outcomes: set[str | None] = set()
    for record in _records(cs, n, seed=13):
        want = reference(cs, record)
        assert run(record) == want, (cs.key, record)
        distinct.add(repr(sorted(record.items())))
        outcomes.add(want[0])
    return len(distinct), outcomes


@pytest.mark.parametrize("cs", shipped(), ids=lambda cs: cs.key)
def test_encoding_agrees_with_the_reference_on_every_shipped_set(cs: CriteriaSet) -> None:
    distinct, outcomes = _agree(cs, RECORDS)
    # the generated records are varied enough to reach every outcome and the undecided case
    assert distinct > RECORDS // 4
    assert outcomes >= {o.id for o in cs.outcomes} | {None}


def test_encoding_agrees_on_every_construct_it_decides() -> None:
    cs = koordrules.load_text(ENCODABLE, file="encodable.yaml")
    distinct, outcomes = _agree(cs, 2_000)
    assert distinct > 1_500
    assert outcomes >= {"first", "second", "third", None}


def test_the_reference_disagrees_with_a_wrong_encoding() -> None:
    """The agreement check can fail: the same records under a set with one threshold moved."""
    cs = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
    assert cs.file is not None
    moved = koordrules.load_text(Path(cs.file).read_text(encoding="utf-8").replace(
        "involved_units >= min_units_involved", "involved_units > min_units_involved"),
        file="moved.yaml")
    run = evaluator(Encoding(moved))
    assert any(run(r) != reference(cs, r) for r in _records(cs, 500, seed=1))


@pytest.mark.parametrize(("when", "what"), [
    ("months / 2 > 1", "/ on number and integer"),
    ("months + 1 > 1", "+ on number and integer"),
    ("years_between(seen, seen) > 1", "years_between()"),
    ("seen + 1 months > seen", "a date plus calendar months"),
    ("code < \"b\"", "ordering of string values"),
    ("length(tags) > 1", "length()"),
    ("3 in counts", "input 'counts'"),
])
def test_constructs_it_cannot_decide_are_reported_at_their_position(when: str, what: str) -> None:
    text = HEADER + f"""\
inputs:
  months: {{type: number, kind: data}}
  seen: {{type: date, kind: data}}
  code: {{type: string, kind: data}}
  tags: {{type: list, kind: data, items: string}}
  counts: {{type: list, kind: data, items: integer}}
criteria:
  X:
    title: x
    when: {when}
outcomes:
  - {{id: hit, title: hit, when: X}}
  - {{id: miss, title: miss, otherwise: true}}
"""
    cs = koordrules.load_text(text, file="hard.yaml")
    with pytest.raises(NotEncodableError) as info:
        Encoding(cs)
    assert info.value.code == "not_encodable"
    assert what in info.value.message
    assert info.value.span is not None and info.value.span.file == "hard.yaml"
