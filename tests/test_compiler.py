"""The compiled path agrees with the reference interpreter: outcome-only and traced modes,
on every shipped set and on a set that uses every construct of the language, over hypothesis
records with unknowns, plus invalid records (same errors, same warnings)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import koordrules
from koordrules import CriteriaSet, InputError, ast
from koordrules.compiler import Program, compile_set, compiled_or_none
from koordrules.engine import evaluate
from koordrules.testing.strategies import records as shared_records

HEADER = """\
id: test/all-constructs
version: 1.0.0
title: Every construct
status: draft
effective_from: 2024-01-01
source:
  document: Test document
"""

ALL_CONSTRUCTS = HEADER + """\
parameters:
  limit: {value: 6}
  start: {value: 2024-01-01}
  label: {value: "x"}
  ratio: {value: 0.5}
inputs:
  months: {type: number, kind: data, min: 0, max: 1000}
  units: {type: integer, kind: data, min: 0, max: 50}
  flag: {type: boolean, kind: data}
  other: {type: boolean, kind: judgement}
  seen: {type: date, kind: data}
  code: {type: string, kind: data}
  level: {type: enum, kind: data, values: [low, mid, high]}
  tags: {type: list, kind: data, items: string}
  scores: {type: list, kind: data, items: number}
criteria:
  P:
    title: arithmetic
    when: months * 2 - units / 2 > limit and -months < 0 or months / units >= ratio
  Q:
    title: dates
    when: seen + 6 months > start and seen - start >= 30 days or seen < 2020-02-29 + 1 years
  R:
    title: membership
    when: level in ["mid", "high"] and code not in ["a", label] or "t" in tags
  S:
    title: functions
    when: >-
      at_least(2, flag, other, P, Q) or is_known(seen) and not any(tags == [], flag)
      or count_true(flag, other) >= 1 or coalesce(flag, other, false)
      or length(scores) > 2 or all(flag, not other) or at_least(1, other)
  T:
    title: nesting
    when: (P or Q) and (R or not S) and any(P, Q, R) and all(flag)
outcomes:
  - id: first
    title: first
    when: P and R
  - id: second
    title: second
    when: S or T
  - id: third
    title: third
    when: not Q
  - id: rest
    title: rest
    otherwise: true
"""


NEW_CONSTRUCTS = HEADER.replace("all-constructs", "new-constructs") + """\
parameters:
  as_of: {value: 2024-06-30}
inputs:
  born: {type: date, kind: data}
  seen: {type: date, kind: data}
  n: {type: integer, kind: data}
  x: {type: number, kind: data}
  flag: {type: boolean, kind: data}
  other: {type: boolean, kind: judgement}
  code: {type: string, kind: data}
criteria:
  Adult:
    title: calendar age
    when: years_between(born, as_of) >= 18 or months_between(seen, as_of) between 1 and 6
  Choice:
    title: if, implies, xor
    when: (if flag then n > 2 else x < 1.5) implies (other xor starts_with(code, "G3"))
  Range:
    title: between and overflow
    when: n * n between -5 and 100 or x + n > 3 or days_between(born, seen) > 30
outcomes:
  - {id: first, title: first, when: Adult and Choice}
  - {id: second, title: second, when: Range xor flag}
  - {id: rest, title: rest, otherwise: true}
"""


def _sets() -> list[CriteriaSet]:
    return [*koordrules.Catalog.builtin(), koordrules.load_text(NEW_CONSTRUCTS, file="new.yaml"),
            koordrules.load_text(ALL_CONSTRUCTS, file="all.yaml")]


SETS = _sets()
IDS = [cs.key for cs in SETS]
A3 = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")


def _value(decl: ast.InputDecl, extremes: bool = False) -> st.SearchStrategy[Any]:
    kind = decl.items if decl.type == "list" else decl.type
    lo = decl.min if decl.min is not None else -1000
    hi = decl.max if decl.max is not None else 1000
    scalar: st.SearchStrategy[Any] = {
        "boolean": st.booleans(),
        "integer": st.integers(int(lo), int(hi)) if not extremes or decl.min is not None
        or decl.max is not None
        else st.one_of(st.integers(-1000, 1000), st.sampled_from([2**63 - 1, -(2**63)])),
        "number": st.one_of(st.integers(int(lo), int(hi)),
                            st.floats(lo, hi, allow_nan=False).map(lambda f: f or 0.0)),
        "date": st.one_of(st.dates(dt.date(2018, 1, 1), dt.date(2026, 1, 1)),
                          st.sampled_from([dt.date.min, dt.date.max]))
        if extremes else st.dates(dt.date(2018, 1, 1), dt.date(2026, 1, 1)),
        "string": st.sampled_from(["", "a", "x", "t", "other"]),
        "enum": st.sampled_from(decl.values or ("",)),
    }[kind or "string"]
    if decl.type == "list":
        return st.lists(st.one_of(st.none(), scalar), max_size=4)
    return scalar


def records(cs: CriteriaSet, *, extremes: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Records with some unknowns: the shared strategy, and a local one (which puts explicit
    ``None`` values in, and date strings; with ``extremes`` also int64 and date limits)."""
    local = st.fixed_dictionaries(
        {}, optional={d.name: st.one_of(st.none(), _value(d, extremes)) for d in cs.inputs})

    def iso(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in record.items()}

    return st.one_of(local, local.map(iso), shared_records(cs, missing=0.3))


@pytest.mark.parametrize("cs", SETS, ids=IDS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_results_equal_the_interpreters(cs: CriteriaSet, data: st.DataObject) -> None:
    record = data.draw(records(cs, extremes=True))
    for trace in (False, True):
        for redact in (False, True):
            expected = evaluate(cs, record, trace=trace, redact=redact, reference=True)
            got = compile_set(cs).evaluate(record, trace=trace, redact=redact)
            assert got == expected
            assert got.to_json() == expected.to_json()
    fast = compile_set(cs).outcome(record)
    assert (fast.outcome, fast.possible_outcomes, fast.missing, fast.criteria) == (
        expected.outcome, expected.possible_outcomes, expected.missing, expected.criteria)


@pytest.mark.parametrize("cs", SETS, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_invalid_records_fail_and_warn_like_the_interpreter(
        cs: CriteriaSet, data: st.DataObject) -> None:
    record = data.draw(records(cs))
    names = [d.name for d in cs.inputs]
    bad = data.draw(st.sampled_from(["wrong_type", "unknown_key", "out_of_range", "ignored"]))
    name = data.draw(st.sampled_from(names))
    if bad == "wrong_type":
        record[name] = data.draw(st.sampled_from([1.5, "text", True, [1], {"a": 1}, 10**6]))
    elif bad == "unknown_key":
        record["not_an_input"] = 1
    elif bad == "out_of_range":
        record[name] = -10**9
    ignore = frozenset({name, "not_an_input"}) if bad == "ignored" else frozenset()
    for strict in (True, False):
        for trace in (False, True):
            try:
                expected: Any = evaluate(cs, record, strict=strict, trace=trace, ignore=ignore,
                                         reference=True)
            except InputError as ex:
                expected = (ex.code, str(ex))
            try:
                got: Any = compile_set(cs).evaluate(record, strict=strict, trace=trace,
                                                    ignore=ignore)
            except InputError as ex:
                got = (ex.code, str(ex))
            assert got == expected


def test_engine_evaluate_uses_the_compiled_program() -> None:
    cs = A3
    assert compiled_or_none(cs) is compile_set(cs)
    assert isinstance(koordrules.compile(cs), Program)
    record = {"has_coordinator": False}
    assert evaluate(cs, record) == evaluate(cs, record, reference=True)


def test_ignored_keys_do_not_stand_in_for_absent_inputs() -> None:
    cs = A3
    record: dict[str, Any] = {d.name: None for d in cs.inputs}
    del record["has_coordinator"]
    record["patient"] = "p1"
    ignore = frozenset({"patient"})
    for trace in (False, True):
        expected = evaluate(cs, record, ignore=ignore, trace=trace, reference=True)
        assert compile_set(cs).evaluate(record, ignore=ignore, trace=trace) == expected
    assert compile_set(cs).outcome(record, ignore=ignore).missing == expected.missing


def test_programs_are_cached_per_set() -> None:
    cs = SETS[-1]
    assert compile_set(cs) is compile_set(cs)


def test_generated_source_holds_no_text_from_the_file() -> None:
    cs = SETS[-1]
    source = compile_set(cs).source
    for criterion in cs.criteria:
        assert criterion.source not in source
        assert criterion.title.nb not in source
    assert "import" not in source and "exec" not in source and "eval" not in source


def test_a_set_that_was_not_checked_falls_back_to_the_interpreter() -> None:
    cs = SETS[-1]
    broken = cs.model_copy(update={"criteria": (
        cs.criteria[0].model_copy(update={"expr": ast.Name(name="nowhere")}),
        *cs.criteria[1:])})
    assert compiled_or_none(broken) is None


def test_overflowing_date_arithmetic_is_unknown_as_in_the_interpreter() -> None:
    cs = SETS[-1]
    record = {"seen": dt.date(9999, 12, 1)}
    expected = evaluate(cs, record, reference=True)
    assert compile_set(cs).evaluate(record) == expected
    assert compile_set(cs).evaluate(record, trace=False).outcome == expected.outcome
    assert compile_set(cs).outcome(record).outcome == expected.outcome


def test_traces_are_produced_lazily() -> None:
    cs = A3
    records_ = ({"has_coordinator": i % 2 == 0} for i in range(5))
    traces = compile_set(cs).traces(records_)
    first = next(traces)
    assert first.trace is not None and first.outcome == "already_has_coordinator"
    assert len(list(traces)) == 4


WIDE = HEADER.replace("all-constructs", "wide") + """\
inputs:
  a: {type: boolean, kind: data}
  b: {type: boolean, kind: data}
criteria:
  Many:
    title: many conditions
    when: %s
outcomes:
  - {id: many, title: many, when: Many}
  - {id: few, title: few, otherwise: true}
"""


@pytest.mark.parametrize("expr", [
    "at_least(3, " + ", ".join(["a"] * 3299) + ", b)",
    " and ".join(["a"] * 1659) + " and b",
    " or ".join(["a"] * 1659) + " or b",
], ids=["at_least-3300", "and-1660", "or-1660"])
def test_wide_expressions_compile_without_recursion_limits(expr: str) -> None:
    assert len(expr) < 10_000
    cs = koordrules.load_text(WIDE % expr, file="wide.yaml")
    program = compile_set(cs)
    for record in ({"a": True, "b": True}, {"a": False}, {"b": True}, {}):
        assert program.evaluate(record) == evaluate(cs, record, reference=True)
        assert program.outcome(record).outcome == evaluate(cs, record, reference=True).outcome
