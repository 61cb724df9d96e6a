"""The expression checker: types of every construct, and each error with its position."""

from __future__ import annotations

import pytest

from koordrules import parse_expression
from koordrules.errors import Diagnostic
from koordrules.typecheck import check_boolean, infer
from koordrules.types import (
    ANY,
    BOOLEAN,
    DATE,
    DURATION,
    NUMBER,
    STRING,
    Type,
    enum_of,
    list_of,
)

ENV: dict[str, Type] = {
    "flag": BOOLEAN,
    "other": BOOLEAN,
    "n": NUMBER,
    "m": NUMBER,
    "name": STRING,
    "born": DATE,
    "seen": DATE,
    "wait": DURATION,
    "status": enum_of(("active", "paused", "closed")),
    "flags": list_of(BOOLEAN),
    "codes": list_of(STRING),
    "counts": list_of(NUMBER),
}


def type_of(text: str) -> Type:
    t, problems = infer(parse_expression(text), ENV)
    assert problems == [], problems
    return t


def problems_of(text: str) -> list[Diagnostic]:
    _, problems = infer(parse_expression(text), ENV)
    assert problems, f"expected a problem in {text!r}"
    return problems


def only_problem(text: str) -> Diagnostic:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def at(d: Diagnostic) -> tuple[int, int]:
    assert d.span is not None
    return (d.span.line, d.span.column)


# --- well-typed expressions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("true", BOOLEAN),
        ("1.5", NUMBER),
        ('"x"', STRING),
        ("2024-01-01", DATE),
        ("6 months", DURATION),
        ("flag and not other or n > 1", BOOLEAN),
        ("n + m * 2 - -n / 3", NUMBER),
        ("born + 6 months", DATE),
        ("6 months + born", DATE),
        ("born - 2 weeks", DATE),
        ("seen - born", DURATION),
        ("3 days + 2 weeks", DURATION),
        ("-wait", DURATION),
        ("seen - born > 6 months", BOOLEAN),
        ("born < 2024-01-01", BOOLEAN),
        ('name <= "m"', BOOLEAN),
        ('status == "active"', BOOLEAN),
        ('"paused" != status', BOOLEAN),
        ('status in ["active", "paused"]', BOOLEAN),
        ('"A1" in codes', BOOLEAN),
        ("n not in [1, 2, 3]", BOOLEAN),
        ("[1, 2]", list_of(NUMBER)),
        ("[]", list_of(ANY)),
        ("any(flag, other)", BOOLEAN),
        ("any(flags)", BOOLEAN),
        ("all(flag, n > 1)", BOOLEAN),
        ("all(flags)", BOOLEAN),
        ("at_least(2, flag, other, n > 1)", BOOLEAN),
        ("at_least(n, flags)", BOOLEAN),
        ("count_true(flag, other)", NUMBER),
        ("count_true(flag, other) >= 1", BOOLEAN),
        ("is_known(n)", BOOLEAN),
        ("coalesce(flag, false)", BOOLEAN),
        ("coalesce(n, m, 0)", NUMBER),
        ("length(codes)", NUMBER),
        ("length(codes) > 2", BOOLEAN),
    ],
)
def test_type_of_well_typed_expression(text: str, want: Type) -> None:
    assert type_of(text) == want


# --- unknown names and functions ----------------------------------------------------------


def test_unknown_name_suggests_a_close_match() -> None:
    d = only_problem("flag and othr")
    assert d.code == "unknown_name"
    assert d.message == "unknown name 'othr'; did you mean 'other'?"
    assert at(d) == (1, 10)


def test_unknown_name_without_a_close_match() -> None:
    d = only_problem("zzzzzz")
    assert d.code == "unknown_name"
    assert "did you mean" not in d.message


def test_unknown_function_suggests_a_close_match() -> None:
    d = only_problem("n > 1 and atleast(2, flag, other)")
    assert d.code == "unknown_function"
    assert "did you mean 'at_least'?" in d.message
    assert at(d) == (1, 11)


def test_every_problem_in_an_expression_is_reported() -> None:
    text = "fleg and\n  any(othr, n)\n  and nn > true"
    found = sorted((at(p), p.code) for p in problems_of(text))
    assert found == [((1, 1), "unknown_name"), ((2, 3), "type_error"), ((2, 7), "unknown_name"),
                     ((3, 7), "unknown_name")]


def test_one_mistake_is_reported_once() -> None:
    # an unknown name is typed `any`, so the comparison and `and` above it are not reported
    problems = problems_of("nope > 3 and nope2 + 1 == 2")
    assert [(p.code, at(p)) for p in problems] == [("unknown_name", (1, 1)),
                                                   ("unknown_name", (1, 14))]


# --- type errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("n == true", 1, "cannot compare number with boolean"),
        ("flag != 1", 1, "cannot compare boolean with number"),
        ('n == "1"', 1, "cannot compare number with string"),
        ("n > true", 1, "cannot order number and boolean"),
        ("flag < other", 1, "cannot order boolean and boolean"),
        ("born > 3", 1, "cannot order date and number"),
        ("born - 1", 1, "cannot subtract date and number"),
        ("born + n", 1, "cannot add date and number"),
        ("born + born", 1, "cannot add date and date"),
        ("wait * 2", 1, "cannot multiply duration and number"),
        ('name + "x"', 1, "cannot add string and string"),
        ("flag + 1", 1, "cannot add boolean and number"),
        ("-flag", 1, "cannot negate a boolean"),
        ("-born", 1, "cannot negate a date"),
        ("not n", 5, "'not' needs a boolean, got number"),
        ("flag and n", 10, "'and' needs booleans, got number"),
        ("name or flag", 1, "'or' needs booleans, got string"),
        ("n in 3", 6, "'in' needs a list on the right, got number"),
        ("n in codes", 1, "cannot look for a number in a list of string"),
        ("[1, true]", 5, "list items must have one type"),
        ("any(flag, n)", 1, "argument 2 must be boolean, got number"),
        ("any(codes)", 1, "expects a list of booleans"),
        ("all()", 1, "needs at least one argument"),
        ("at_least(flag, other)", 1, "the count) must be a number"),
        ("at_least(2)", 1, "needs a count and at least one condition"),
        ("count_true(n)", 1, "argument 1 must be boolean"),
        ("is_known(n, m)", 1, "takes exactly one argument"),
        ("coalesce(n)", 1, "needs at least two arguments"),
        ("coalesce(n, flag)", 1, "must all have the same type"),
        ("length(n)", 1, "takes one list"),
    ],
)
def test_type_error(text: str, column: int, fragment: str) -> None:
    d = only_problem(text)
    assert d.code == "type_error"
    assert fragment in d.message
    assert at(d) == (1, column)


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ('status == "open"', 11),
        ('"open" == status', 1),
        ('status != "paused " ', 11),
        ('status in ["active", "open"]', 22),
        ('status not in ["gone"]', 16),
    ],
)
def test_enum_literal_not_in_values(text: str, column: int) -> None:
    d = only_problem(text)
    assert d.code == "type_error"
    assert "is not one of active, paused, closed" in d.message
    assert at(d) == (1, column)


def test_error_inside_a_multi_line_expression_has_its_line() -> None:
    d = only_problem("flag and\n   (n > 1 or\n    born - 1 > wait)")
    assert at(d) == (3, 5)


# --- criteria must be conditions ----------------------------------------------------------


def test_non_boolean_criterion_is_an_error() -> None:
    problems = check_boolean(parse_expression("n + 1"), ENV, "criterion 'X'")
    assert [(p.code, p.message) for p in problems] == [
        ("type_error", "criterion 'X' must be a condition (boolean), got number")
    ]


def test_boolean_criterion_is_fine() -> None:
    assert check_boolean(parse_expression("n > 1"), ENV, "criterion 'X'") == []


def test_unknown_name_is_not_also_reported_as_non_boolean() -> None:
    problems = check_boolean(parse_expression("nope"), ENV, "criterion 'X'")
    assert [p.code for p in problems] == ["unknown_name"]
