"""koordrules.testing.strategies: records valid for a set, edges favoured, unknowns on demand."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from koordrules import Catalog, CriteriaSet, KoordError, ParseError, evaluate, load_text
from koordrules.inputs import validate_record
from koordrules.testing import (
    EPSILON,
    expression_texts,
    input_values,
    records,
    representatives,
    thresholds,
)

FAST = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

ALL_TYPES = """\
id: test/all-types
version: 1.0.0
title: All types
status: draft
effective_from: 2024-01-01
source: {document: test}
parameters:
  limit: {value: 2.5}
  cutoff: {value: 2024-03-01}
inputs:
  flag: {type: boolean, kind: data}
  count: {type: integer, kind: data, min: -3, max: 40}
  amount: {type: number, kind: data}
  when_seen: {type: date, kind: data}
  ward: {type: enum, kind: data, values: [north, south]}
  note: {type: string, kind: judgement}
  codes: {type: list, kind: data, items: string}
criteria:
  C1:
    title: c1
    when: flag and count > 7 and amount <= limit
  C2:
    title: c2
    when: when_seen >= cutoff or ward == "north" or note == "urgent" or "N18" in codes
outcomes:
  - id: hit
    title: hit
    when: C1 or C2
  - id: miss
    title: miss
    otherwise: true
"""


@pytest.fixture(scope="module")
def all_types() -> CriteriaSet:
    return load_text(ALL_TYPES)


@pytest.fixture(scope="module")
def anbefaling() -> CriteriaSet:
    return Catalog.builtin().get("helse-vest/anbefaling-3")


SHIPPED = list(Catalog.builtin())


@pytest.mark.parametrize("cs", SHIPPED, ids=lambda cs: cs.key)
def test_records_are_valid_for_every_shipped_set(cs: CriteriaSet) -> None:
    @FAST
    @given(records(cs, missing=0.3))
    def check(record: dict[str, object]) -> None:
        validate_record(cs, record)  # strict: raises on any invalid value or key

    check()


def test_records_cover_every_input_type_and_stay_in_range(all_types: CriteriaSet) -> None:
    @FAST
    @given(records(all_types))
    def check(record: dict[str, object]) -> None:
        assert set(record) == {i.name for i in all_types.inputs}
        validate_record(all_types, record)
        assert -3 <= record["count"] <= 40  # type: ignore[operator]
        assert record["ward"] in ("north", "south")
        assert isinstance(record["when_seen"], dt.date)
        assert isinstance(record["codes"], list)
        evaluate(all_types, record)

    check()


def test_missing_true_makes_some_inputs_unknown(anbefaling: CriteriaSet) -> None:
    partial = find(records(anbefaling, missing=True),
                   lambda r: 0 < len(r) < len(anbefaling.inputs))
    assert all(k in {i.name for i in anbefaling.inputs} for k in partial)


def test_missing_one_leaves_every_input_unknown(anbefaling: CriteriaSet) -> None:
    @FAST
    @given(records(anbefaling, missing=1.0))
    def check(record: dict[str, object]) -> None:
        assert record == {}

    check()


def test_missing_false_knows_every_input(anbefaling: CriteriaSet) -> None:
    @FAST
    @given(records(anbefaling, missing=False))
    def check(record: dict[str, object]) -> None:
        assert len(record) == len(anbefaling.inputs)

    check()


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_missing_must_be_a_probability(anbefaling: CriteriaSet, bad: float) -> None:
    with pytest.raises(ValueError, match="probability"):
        records(anbefaling, missing=bad)


def test_fixed_pins_values_and_unknowns(anbefaling: CriteriaSet) -> None:
    @FAST
    @given(records(anbefaling, fixed={"has_coordinator": True, "lifelong_course": None}))
    def check(record: dict[str, object]) -> None:
        assert record["has_coordinator"] is True
        assert "lifelong_course" not in record

    check()


def test_thresholds_surround_parameters_and_bounds(anbefaling: CriteriaSet) -> None:
    months = thresholds(anbefaling, anbefaling.input("expected_followup_months"))  # type: ignore[arg-type]
    assert {0, 6, 6 - EPSILON, 6 + EPSILON, 1200} <= set(months)
    units = thresholds(anbefaling, anbefaling.input("involved_units"))  # type: ignore[arg-type]
    assert {0, 1, 2, 3, 100} <= set(units)
    assert all(isinstance(u, int) for u in units)


def test_thresholds_of_dates_strings_and_enums(all_types: CriteriaSet) -> None:
    dates = thresholds(all_types, all_types.input("when_seen"))  # type: ignore[arg-type]
    assert {dt.date(2024, 2, 29), dt.date(2024, 3, 1), dt.date(2024, 3, 2)} <= set(dates)
    assert "urgent" in thresholds(all_types, all_types.input("note"))  # type: ignore[arg-type]
    assert thresholds(all_types, all_types.input("ward")) == ["north", "south"]  # type: ignore[arg-type]
    count = thresholds(all_types, all_types.input("count"))  # type: ignore[arg-type]
    assert {-3, 6, 7, 8, 40} <= set(count) and max(count) == 40


def test_edge_values_are_favoured(anbefaling: CriteriaSet) -> None:
    # a uniform float draw would practically never hit 6 - 1e-6; the edge list does at once
    just_below = find(input_values(anbefaling, "expected_followup_months"),
                      lambda v: v == 6 - EPSILON, settings=settings(max_examples=200))
    assert just_below == 6 - EPSILON


def test_values_outside_the_declared_range_are_never_drawn(anbefaling: CriteriaSet) -> None:
    with pytest.raises(NoSuchExample):
        find(input_values(anbefaling, "involved_units"), lambda v: v < 0 or v > 100,
             settings=settings(max_examples=300, database=None))


def test_representatives_meet_every_threshold(anbefaling: CriteriaSet) -> None:
    months = representatives(anbefaling, "expected_followup_months")
    assert any(v > 6 for v in months) and any(v <= 6 for v in months)
    assert representatives(anbefaling, "has_coordinator") == [False, True]
    units = representatives(anbefaling, "involved_units")
    assert 1 in units and 2 in units


def test_unknown_input_name_is_a_key_error(anbefaling: CriteriaSet) -> None:
    with pytest.raises(KeyError):
        input_values(anbefaling, "nope")
    with pytest.raises(KeyError):
        representatives(anbefaling, "nope")


@FAST
@given(expression_texts(["a", "b", "n"]))
def test_expression_texts_are_grammatical(text: str) -> None:
    try:
        parse_expression_or_limit(text)
    except ParseError as ex:
        assert ex.code in ("number_too_large", "expression_too_deep", "expression_too_long",
                           "bad_date", "bad_duration"), str(ex)


def parse_expression_or_limit(text: str) -> None:
    from koordrules import parse_expression

    parse_expression(text)


@FAST
@given(st.data())
def test_expression_texts_with_free_names(data: st.DataObject) -> None:
    text = data.draw(expression_texts(max_leaves=5))
    try:
        parse_expression_or_limit(text)
    except KoordError as ex:
        assert isinstance(ex, ParseError)
