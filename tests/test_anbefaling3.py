"""Helse Vest Anbefaling 3 as shipped: A and at least two of B–D, unless a coordinator exists."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from koordrules import CriteriaSet, Result, evaluate

B_FACTORS = (
    "high_treatment_intensity",
    "individually_adapted_pathway",
    "newly_diagnosed_chronic",
    "lifelong_course",
    "transition_child_to_adult",
)
LIKELY, NOT_INDICATED, HAS = "coordinator_likely", "not_indicated", "already_has_coordinator"


def patient(*, a: bool | None = True, b: bool | None = True, c: bool | None = True,
            d: bool | None = True, has: bool | None = False) -> dict[str, Any]:
    """A record that makes each criterion true, false or unknown (``None``)."""
    record: dict[str, Any] = {"has_coordinator": has}
    if a is not None:
        record["expected_followup_months"] = 12 if a else 3
    if b is not None:
        record.update(dict.fromkeys(B_FACTORS, False))
        record["lifelong_course"] = b
    if c is not None:
        record["situation_indicates_need"] = c
    if d is not None:
        record["involved_units"] = 3 if d else 1
    return record


def run(cs: CriteriaSet, record: dict[str, Any]) -> Result:
    return evaluate(cs, record)


# --- criterion B: any of five factors -----------------------------------------------------


@pytest.mark.parametrize("factors", list(itertools.product((False, True), repeat=5)),
                         ids=lambda f: "".join("1" if x else "0" for x in f))
def test_b_is_any_of_its_five_factors(shipped_set: CriteriaSet,
                                      factors: tuple[bool, ...]) -> None:
    record = {**patient(b=None), **dict(zip(B_FACTORS, factors, strict=True))}
    result = run(shipped_set, record)
    assert result.criteria["B"] is any(factors)
    # A, C and D hold, so the outcome does not depend on B
    assert result.outcome == LIKELY


@pytest.mark.parametrize("factors", list(itertools.product((False, True), repeat=5)),
                         ids=lambda f: "".join("1" if x else "0" for x in f))
def test_b_decides_when_only_one_other_criterion_holds(shipped_set: CriteriaSet,
                                                      factors: tuple[bool, ...]) -> None:
    record = {**patient(b=None, c=True, d=False), **dict(zip(B_FACTORS, factors, strict=True))}
    result = run(shipped_set, record)
    assert result.outcome == (LIKELY if any(factors) else NOT_INDICATED)
    assert result.missing == ()


def test_b_with_one_true_factor_and_the_rest_unknown_is_true(shipped_set: CriteriaSet) -> None:
    record = {**patient(b=None), "transition_child_to_adult": True}
    assert run(shipped_set, record).criteria["B"] is True


def test_b_with_false_and_unknown_factors_is_unknown(shipped_set: CriteriaSet) -> None:
    record = {**patient(b=None), "transition_child_to_adult": False}
    assert run(shipped_set, record).criteria["B"] is None


# --- criterion A and D thresholds ---------------------------------------------------------


@pytest.mark.parametrize(("months", "a"), [(0, False), (6, False), (6.0, False), (6.5, True),
                                           (7, True), (1200, True)])
def test_a_means_strictly_more_than_six_months(shipped_set: CriteriaSet, months: float,
                                               a: bool) -> None:
    result = run(shipped_set, {**patient(), "expected_followup_months": months})
    assert result.criteria["A"] is a
    assert result.outcome == (LIKELY if a else NOT_INDICATED)


@pytest.mark.parametrize(("units", "d"), [(0, False), (1, False), (2, True), (3, True)])
def test_d_means_at_least_two_units(shipped_set: CriteriaSet, units: int, d: bool) -> None:
    result = run(shipped_set, {**patient(c=False), "involved_units": units})
    assert result.criteria["D"] is d
    assert result.outcome == (LIKELY if d else NOT_INDICATED)


# --- the outcome over every known combination ---------------------------------------------


@pytest.mark.parametrize("abcd", list(itertools.product((False, True), repeat=4)),
                         ids=lambda v: "".join("ABCD"[i] if x else "-" for i, x in enumerate(v)))
def test_outcome_is_a_and_at_least_two_of_b_to_d(shipped_set: CriteriaSet,
                                                 abcd: tuple[bool, ...]) -> None:
    a, b, c, d = abcd
    result = run(shipped_set, patient(a=a, b=b, c=c, d=d))
    assert result.criteria == {"A": a, "B": b, "C": c, "D": d}
    want = LIKELY if a and (b + c + d) >= 2 else NOT_INDICATED
    assert (result.outcome, result.possible_outcomes, result.missing) == (want, (want,), ())


@pytest.mark.parametrize("abcd", list(itertools.product((False, True), repeat=4)))
def test_an_existing_coordinator_wins_first(shipped_set: CriteriaSet,
                                            abcd: tuple[bool, ...]) -> None:
    a, b, c, d = abcd
    result = run(shipped_set, patient(a=a, b=b, c=c, d=d, has=True))
    assert result.outcome == HAS
    assert result.missing == ()


# --- unknown inputs -----------------------------------------------------------------------


A_INPUTS = ("expected_followup_months",)
C_INPUTS = ("situation_indicates_need",)
D_INPUTS = ("involved_units",)


@pytest.mark.parametrize(
    ("criteria", "outcome", "possible", "missing"),
    [
        # the example: A, B and D already give two of B–D, C does not matter
        ({"a": True, "b": True, "c": None, "d": True}, LIKELY, (LIKELY,), ()),
        ({"a": True, "b": True, "c": True, "d": None}, LIKELY, (LIKELY,), ()),
        ({"a": True, "b": None, "c": True, "d": True}, LIKELY, (LIKELY,), ()),
        # A false decides "not indicated" whatever B–D are
        ({"a": False, "b": None, "c": None, "d": None}, NOT_INDICATED, (NOT_INDICATED,), ()),
        # two of B–D false: at most one left, so not indicated
        ({"a": None, "b": False, "c": None, "d": False}, NOT_INDICATED, (NOT_INDICATED,), ()),
        # undecided: exactly the inputs that could still decide it are missing
        ({"a": None, "b": True, "c": True, "d": True}, None, (LIKELY, NOT_INDICATED), A_INPUTS),
        ({"a": True, "b": None, "c": True, "d": False}, None, (LIKELY, NOT_INDICATED),
         B_FACTORS),
        ({"a": True, "b": True, "c": None, "d": False}, None, (LIKELY, NOT_INDICATED),
         C_INPUTS),
        ({"a": True, "b": False, "c": True, "d": None}, None, (LIKELY, NOT_INDICATED),
         D_INPUTS),
        ({"a": True, "b": True, "c": None, "d": None}, None, (LIKELY, NOT_INDICATED),
         C_INPUTS + D_INPUTS),
        ({"a": None, "b": None, "c": None, "d": None}, None, (LIKELY, NOT_INDICATED),
         A_INPUTS + B_FACTORS + C_INPUTS + D_INPUTS),
    ],
)
def test_unknown_criteria(shipped_set: CriteriaSet, criteria: dict[str, bool | None],
                          outcome: str | None, possible: tuple[str, ...],
                          missing: tuple[str, ...]) -> None:
    result = run(shipped_set, patient(**criteria))
    assert result.criteria == {k.upper(): v for k, v in criteria.items()}
    assert result.outcome == outcome
    assert result.decided is (outcome is not None)
    assert result.possible_outcomes == possible
    assert result.missing == tuple(sorted(missing))


def test_unknown_coordinator_leaves_the_outcome_open(shipped_set: CriteriaSet) -> None:
    result = run(shipped_set, patient(has=None))
    assert result.outcome is None
    assert result.possible_outcomes == (HAS, LIKELY)
    assert result.missing == ("has_coordinator",)


def test_unknown_coordinator_and_criteria_not_met(shipped_set: CriteriaSet) -> None:
    result = run(shipped_set, patient(a=False, has=None))
    assert result.possible_outcomes == (HAS, NOT_INDICATED)
    assert result.missing == ("has_coordinator",)


def test_unknown_coordinator_and_unknown_criteria(shipped_set: CriteriaSet) -> None:
    result = run(shipped_set, patient(a=None, has=None))
    assert result.possible_outcomes == (HAS, LIKELY, NOT_INDICATED)
    assert result.missing == ("expected_followup_months", "has_coordinator")


def test_empty_record_is_undecided_and_everything_is_missing(shipped_set: CriteriaSet) -> None:
    result = run(shipped_set, {})
    assert result.outcome is None
    assert result.criteria == {"A": None, "B": None, "C": None, "D": None}
    assert set(result.missing) == {d.name for d in shipped_set.inputs}


def test_missing_inputs_once_filled_decide_the_outcome(shipped_set: CriteriaSet) -> None:
    """Filling in what ``missing`` names, with any values, always gives a decided outcome."""
    partial = patient(a=True, b=True, c=None, d=None)
    result = run(shipped_set, partial)
    assert result.missing == tuple(sorted(C_INPUTS + D_INPUTS))
    for c, units in itertools.product((False, True), (0, 5)):
        filled = run(shipped_set, {**partial, "situation_indicates_need": c,
                                   "involved_units": units})
        assert filled.outcome in result.possible_outcomes


def test_shipped_set_reference(shipped_set: CriteriaSet) -> None:
    result = run(shipped_set, patient())
    assert result.criteria_set == shipped_set.ref
    assert result.criteria_set.id == "helse-vest/anbefaling-3"
