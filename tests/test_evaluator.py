"""The reference interpreter: Kleene three-valued logic, unknowns everywhere, built-ins."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest import set_with_inputs

from koordrules import EvalError, parse_expression
from koordrules.evaluator import Interpreter
from koordrules.inputs import validate_record
from koordrules.values import Duration, Value

T, F, U = True, False, None
TRUTH = (T, F, U)

SET = set_with_inputs(
    {
        "a": "boolean",
        "b": "boolean",
        "c": "boolean",
        "d": "boolean",
        "x": "number",
        "y": "number",
        "n": "integer",
        "s": "string",
        "day": "date",
        "other_day": "date",
        "xs": {"type": "list", "items": "number"},
        "flags": {"type": "list", "items": "boolean"},
    },
    parameters={"limit": 6},
)


def ev(text: str, **record: Any) -> Value:
    inputs, _ = validate_record(SET, record)
    return Interpreter(SET, inputs).evaluate(parse_expression(text))


def name(value: Value) -> str:
    return {True: "true", False: "false", None: "unknown"}[value]  # type: ignore[index]


# --- Kleene truth tables ------------------------------------------------------------------

AND = {
    (T, T): T, (T, F): F, (T, U): U,
    (F, T): F, (F, F): F, (F, U): F,
    (U, T): U, (U, F): F, (U, U): U,
}
OR = {
    (T, T): T, (T, F): T, (T, U): T,
    (F, T): T, (F, F): F, (F, U): U,
    (U, T): T, (U, F): U, (U, U): U,
}
NOT = {T: F, F: T, U: U}


@pytest.mark.parametrize(("a", "b"), list(AND), ids=lambda v: name(v))
def test_and_truth_table(a: Value, b: Value) -> None:
    assert ev("a and b", a=a, b=b) is AND[a, b]


@pytest.mark.parametrize(("a", "b"), list(OR), ids=lambda v: name(v))
def test_or_truth_table(a: Value, b: Value) -> None:
    assert ev("a or b", a=a, b=b) is OR[a, b]


@pytest.mark.parametrize("a", TRUTH, ids=name)
def test_not_truth_table(a: Value) -> None:
    assert ev("not a", a=a) is NOT[a]


@pytest.mark.parametrize("a", TRUTH, ids=name)
@pytest.mark.parametrize("b", TRUTH, ids=name)
@pytest.mark.parametrize("c", TRUTH, ids=name)
def test_n_ary_and_or_fold_the_binary_tables(a: Value, b: Value, c: Value) -> None:
    assert ev("a and b and c", a=a, b=b, c=c) is AND[AND[a, b], c]
    assert ev("a or b or c", a=a, b=b, c=c) is OR[OR[a, b], c]
    assert ev("not a or b and c", a=a, b=b, c=c) is OR[NOT[a], AND[b, c]]


def test_unknown_input_is_absent_key_or_none() -> None:
    assert ev("a") is None
    assert ev("a", a=None) is None


# --- comparisons and arithmetic with unknowns ---------------------------------------------


@pytest.mark.parametrize(
    ("op", "want"), [("==", F), ("!=", T), ("<", T), ("<=", T), (">", F), (">=", F)]
)
def test_comparison(op: str, want: bool) -> None:
    assert ev(f"x {op} y", x=1, y=2) is want
    assert ev(f"x {op} y", x=1) is None
    assert ev(f"x {op} y", y=2) is None
    assert ev(f"x {op} y") is None


def test_comparison_mixes_integers_and_floats() -> None:
    assert ev("x == n", x=2.0, n=2) is True
    assert ev("x > limit", x=6.5) is True


@pytest.mark.parametrize(("op", "want"), [("+", 8), ("-", 4), ("*", 12), ("/", 3)])
def test_arithmetic(op: str, want: float) -> None:
    assert ev(f"x {op} y", x=6, y=2) == want
    assert ev(f"x {op} y", x=6) is None
    assert ev(f"x {op} y", y=2) is None


def test_unary_minus() -> None:
    assert ev("-x * y + 1", x=2, y=3) == -5
    assert ev("-x") is None


@pytest.mark.parametrize("text", ["x / 0", "x / y", "0 / 0", "x / (y - y)"])
def test_division_by_zero_is_unknown(text: str) -> None:
    assert ev(text, x=1, y=0) is None


def test_division_by_zero_propagates_as_unknown() -> None:
    assert ev("x / y > 1", x=1, y=0) is None
    assert ev("x / y > 1 or a", x=1, y=0, a=True) is True


def test_string_comparison() -> None:
    assert ev('s == "ja"', s="ja") is True
    assert ev('s < "b"', s="a") is True
    assert ev('s == "ja"') is None


# --- in / not in --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "is_in"),
    [
        ({"x": 1, "y": 3}, T),  # found before the unknown
        ({"x": 3, "y": 3}, T),
        ({"x": 2, "y": 3}, F),
        ({"x": 1}, T),  # found: an unknown element does not matter
        ({"x": 2}, U),  # not found among the known ones, but y might be 2
        ({"y": 3}, U),  # unknown item
    ],
)
def test_in_with_unknown_element(record: dict[str, Any], is_in: Value) -> None:
    assert ev("x in [1, y]", **record) is is_in
    assert ev("x not in [1, y]", **record) is NOT[is_in]


def test_in_a_list_input() -> None:
    assert ev("2 in xs", xs=[1, 2]) is True
    assert ev("5 in xs", xs=[1, 2]) is False
    assert ev("5 in xs", xs=[1, None]) is None
    assert ev("5 in xs") is None
    assert ev("5 not in xs", xs=[]) is True


# --- built-in functions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ((T, U, U), U),  # the example: one true, two unknown cannot decide 2
        ((T, T, U), T),  # the example: two true already decide it
        ((T, T, T), T),
        ((T, F, F), F),
        ((F, F, U), F),  # at most one can be true
        ((T, F, U), U),
        ((U, U, U), U),
        ((F, F, F), F),
    ],
    ids=lambda v: "-".join(name(x) for x in v) if isinstance(v, tuple) else name(v),
)
def test_at_least_two_of_three(args: tuple[Value, ...], want: Value) -> None:
    a, b, c = args
    assert ev("at_least(2, a, b, c)", a=a, b=b, c=c) is want


def test_at_least_edge_counts() -> None:
    assert ev("at_least(0, a)") is True
    assert ev("at_least(3, a, b)", a=True, b=True) is False
    assert ev("at_least(n, a, b)", a=True, b=True) is None  # unknown count
    assert ev("at_least(n, a, b)", n=1, a=True) is True
    assert ev("at_least(limit, a)", a=True) is False


def test_at_least_over_a_list() -> None:
    assert ev("at_least(2, flags)", flags=[True, None, True]) is True
    assert ev("at_least(2, flags)", flags=[True, None, False]) is None
    assert ev("at_least(2, flags)", flags=[True, False]) is False
    assert ev("at_least(2, flags)") is None


@pytest.mark.parametrize(
    ("args", "want"),
    [((T, T, T), 3), ((T, F, T), 2), ((F, F, F), 0), ((T, T, U), U), ((U, U, U), U)],
)
def test_count_true(args: tuple[Value, ...], want: Value) -> None:
    a, b, c = args
    assert ev("count_true(a, b, c)", a=a, b=b, c=c) == want
    if want is None:
        assert ev("count_true(a, b, c)", a=a, b=b, c=c) is None


def test_count_true_over_a_list() -> None:
    assert ev("count_true(flags)", flags=[True, False, True]) == 2
    assert ev("count_true(flags)", flags=[True, None]) is None
    assert ev("count_true(flags)") is None


@pytest.mark.parametrize(
    ("a", "b", "want"), [(T, F, T), (F, T, F), (U, T, T), (U, F, F), (U, U, U), (F, U, F)]
)
def test_coalesce(a: Value, b: Value, want: Value) -> None:
    assert ev("coalesce(a, b)", a=a, b=b) is want


def test_coalesce_of_numbers_with_a_default() -> None:
    assert ev("coalesce(x, y, 0)", y=4) == 4
    assert ev("coalesce(x, y, 0)") == 0
    assert ev("coalesce(x, y, 0)", x=0, y=4) == 0


@pytest.mark.parametrize(("a", "want"), [(T, T), (F, T), (U, F)])
def test_is_known_is_never_unknown(a: Value, want: bool) -> None:
    assert ev("is_known(a)", a=a) is want
    assert ev("not is_known(a)", a=a) is (not want)


def test_is_known_of_an_unknown_computation() -> None:
    assert ev("is_known(x / 0)", x=1) is False
    assert ev("is_known(x + 1)", x=1) is True


@pytest.mark.parametrize(("args", "want"), [((T, U), T), ((F, U), U), ((F, F), F)])
def test_any(args: tuple[Value, Value], want: Value) -> None:
    assert ev("any(a, b)", a=args[0], b=args[1]) is want


@pytest.mark.parametrize(("args", "want"), [((F, U), F), ((T, U), U), ((T, T), T)])
def test_all(args: tuple[Value, Value], want: Value) -> None:
    assert ev("all(a, b)", a=args[0], b=args[1]) is want


def test_any_and_all_over_lists() -> None:
    assert ev("any(flags)", flags=[False, None, True]) is True
    assert ev("any(flags)", flags=[False, None]) is None
    assert ev("any(flags)", flags=[]) is False
    assert ev("all(flags)", flags=[]) is True
    assert ev("all(flags)", flags=[True, None]) is None
    assert ev("any(flags)") is None
    assert ev("all(flags)") is None


def test_length() -> None:
    assert ev("length(xs)", xs=[1, 2, 3]) == 3
    assert ev("length(xs)", xs=[]) == 0
    assert ev("length(xs)") is None
    assert ev("length([1, x])") == 2


# --- dates and durations ------------------------------------------------------------------


def test_date_plus_months_clamps_to_the_month_end() -> None:
    assert ev("day + 1 month", day="2024-01-31") == dt.date(2024, 2, 29)
    assert ev("day + 1 month", day="2023-01-31") == dt.date(2023, 2, 28)
    assert ev("day - 1 year", day="2024-02-29") == dt.date(2023, 2, 28)


def test_date_plus_weeks_and_days() -> None:
    assert ev("day + 2 weeks", day="2024-12-25") == dt.date(2025, 1, 8)
    assert ev("3 days + day", day="2024-12-30") == dt.date(2025, 1, 2)
    assert ev("day - 3 days", day="2024-03-01") == dt.date(2024, 2, 27)


def test_date_minus_date_is_a_duration() -> None:
    assert ev("day - other_day", day="2024-03-01", other_day="2024-02-01") == Duration(days=29)
    assert ev("day - other_day > 4 weeks", day="2024-03-01", other_day="2024-02-01") is True
    assert ev("day - other_day > 6 months", day="2024-07-01", other_day="2024-01-01") is False
    assert ev("day - other_day > 6 months", day="2024-07-03", other_day="2024-01-01") is True
    assert ev("day - other_day > 6 months", day="2024-07-03") is None


def test_durations_compare_and_add() -> None:
    assert ev("2 weeks > 10 days") is True
    assert ev("1 year == 12 months") is True
    assert ev("1 month + 2 weeks") == Duration(months=1, days=14)
    assert ev("-(2 weeks)") == Duration(days=-14)


def test_dates_compare() -> None:
    assert ev("day < 2024-10-01", day="2024-09-30") is True
    assert ev("day >= 2024-10-01", day=dt.date(2024, 10, 1)) is True
    assert ev("day < 2024-10-01") is None


def test_date_arithmetic_out_of_range_is_unknown() -> None:
    assert ev("day + 9000 years > day", day="2024-01-01") is None
    assert ev("day + 1 day > day", day="9999-12-31") is None
    assert ev("day - 1 day < day", day="0001-01-01") is None
    assert ev("a or day + 9000 years > day", a=True, day="2024-01-01") is True


@pytest.mark.parametrize(("text", "want"), [
    ("n + 1 > n", None),
    ("n + 0 == n", True),
    ("-(-n - 1) > 0", None),
    ("n * 2 > 0", None),
    ("x * 10 - x * 10 == 0", None),
    ("x * 10 > x", None),
    ("x / 0.5 > 0", None),
    ("y * 1.0 == 9007199254740993", True),
    ("1 in [1.0, 2.0]", True),
    ("0.1 + 0.2 == 0.3", False),
    ("2 - 1.1 == 0.9", False),
    ("7 / 2 == 3.5", True),
])
def test_the_numeric_model(text: str, want: Value) -> None:
    """int64 overflow and non-finite results are unknown; integers meet numbers as binary64."""
    assert ev(text, n=2**63 - 1, x=1e308, y=9007199254740993) is want


# --- names --------------------------------------------------------------------------------


def test_parameters_are_known() -> None:
    assert ev("limit") == 6
    assert ev("x > limit", x=7) is True
    assert ev("x > limit", x=6) is False


def test_an_unchecked_unknown_name_is_an_eval_error() -> None:
    with pytest.raises(EvalError) as info:
        ev("nope")
    assert info.value.code == "unknown_name"


def test_any_record_mode_keeps_knowledge_functions_unknown() -> None:
    interpreter = Interpreter(SET, {}, any_record=True)

    def run(text: str) -> Value:
        return interpreter.evaluate(parse_expression(text))

    assert run("is_known(a)") is None
    assert run("not is_known(a)") is None
    assert run("coalesce(a, false)") is None
    assert run("coalesce(false, a)") is False
    assert run("is_known(limit)") is True
    assert run("a and false") is False


def test_at_least_zero_of_an_unknown_list_is_true() -> None:
    assert ev("at_least(0, flags)") is True
    assert ev("at_least(1, flags)") is None
