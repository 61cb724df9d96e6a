"""The expression grammar: every construct, Python precedence, spans and parse errors."""

from __future__ import annotations

import datetime as dt

import pytest

from koordrules import ParseError, ast, parse_expression
from koordrules.parser import MAX_DEPTH, MAX_EXPRESSION_LENGTH, MAX_NUMBER_DIGITS


def shape(node: ast.Expr) -> object:
    """A compact, position-free rendering of a tree, to assert on structure."""
    match node:
        case ast.BooleanLiteral(value=v) | ast.NumberLiteral(value=v) | ast.StringLiteral(value=v):
            return v
        case ast.DateLiteral(value=v):
            return v
        case ast.DurationLiteral(amount=amount, unit=unit):
            return ("duration", amount, unit)
        case ast.Name(name=name):
            return name
        case ast.ListExpr(items=items):
            return [shape(i) for i in items]
        case ast.Not(operand=o):
            return ("not", shape(o))
        case ast.Negate(operand=o):
            return ("neg", shape(o))
        case ast.And(operands=ops):
            return ("and", *(shape(o) for o in ops))
        case ast.Or(operands=ops):
            return ("or", *(shape(o) for o in ops))
        case ast.Compare(op=op, left=a, right=b) | ast.Arith(op=op, left=a, right=b):
            return (op, shape(a), shape(b))
        case ast.In(item=a, container=b, negated=negated):
            return ("not in" if negated else "in", shape(a), shape(b))
        case ast.Call(function=fn, args=args):
            return (fn + "()", *(shape(a) for a in args))
    raise AssertionError(node)


def parse(text: str) -> object:
    return shape(parse_expression(text))


# --- literals and names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("true", True),
        ("false", False),
        ("0", 0),
        ("42", 42),
        ("3.25", 3.25),
        ('"text"', "text"),
        ("'text'", "text"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'line\nbreak'", "line\nbreak"),
        ('"æøå ÆØÅ"', "æøå ÆØÅ"),
        ("2024-10-01", dt.date(2024, 10, 1)),
        ("2024-02-29", dt.date(2024, 2, 29)),
    ],
)
def test_literal(text: str, want: object) -> None:
    value = parse(text)
    assert value == want
    assert type(value) is type(want)


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("6 months", 6, "months"),
        ("1 month", 1, "months"),
        ("2 weeks", 2, "weeks"),
        ("1 week", 1, "weeks"),
        ("3 days", 3, "days"),
        ("1 day", 1, "days"),
        ("2 years", 2, "years"),
        ("1 year", 1, "years"),
    ],
)
def test_duration_literal_normalises_the_unit(text: str, amount: int, unit: str) -> None:
    node = parse_expression(text)
    assert isinstance(node, ast.DurationLiteral)
    assert (node.amount, node.unit) == (amount, unit)


def test_duration_needs_a_whole_number() -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("1.5 months")
    assert info.value.code == "bad_duration"


@pytest.mark.parametrize(
    "name",
    ["x", "_hidden", "high_treatment_intensity", "A", "høy_intensitet", "ærlig", "Åsane2",
     "order", "ander", "notable", "india", "truely", "days", "months"],
)
def test_name(name: str) -> None:
    assert parse(name) == name


def test_keywords_are_not_names_but_prefixes_of_names_are() -> None:
    assert parse("order or ander and notable") == ("or", "order", ("and", "ander", "notable"))


def test_unit_word_after_a_name_is_a_name() -> None:
    assert parse("weeks > days") == (">", "weeks", "days")


# --- operators ----------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_every_comparison(op: str) -> None:
    assert parse(f"a {op} 1") == (op, "a", 1)


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_every_arithmetic_operator(op: str) -> None:
    assert parse(f"a {op} b") == (op, "a", "b")


def test_and_or_not() -> None:
    assert parse("a and b") == ("and", "a", "b")
    assert parse("a or b") == ("or", "a", "b")
    assert parse("not a") == ("not", "a")
    assert parse("not not a") == ("not", ("not", "a"))


def test_chains_of_and_or_become_one_node() -> None:
    assert parse("a and b and c") == ("and", "a", "b", "c")
    assert parse("a or b or c or d") == ("or", "a", "b", "c", "d")


def test_unary_minus() -> None:
    assert parse("-x") == ("neg", "x")
    assert parse("-2") == ("neg", 2)
    assert parse("1 - -2") == ("-", 1, ("neg", 2))
    assert parse("--x") == ("neg", ("neg", "x"))


def test_in_and_not_in() -> None:
    assert parse('x in ["a", "b"]') == ("in", "x", ["a", "b"])
    assert parse("x not in [1, 2]") == ("not in", "x", [1, 2])
    assert parse("x in xs") == ("in", "x", "xs")


def test_lists() -> None:
    assert parse("[]") == []
    assert parse("[1]") == [1]
    assert parse("[1, 2, 3,]") == [1, 2, 3]
    assert parse("[2024-01-01, 6 months]") == [dt.date(2024, 1, 1), ("duration", 6, "months")]


def test_parentheses_override_precedence() -> None:
    assert parse("(a or b) and c") == ("and", ("or", "a", "b"), "c")
    assert parse("(1 + 2) * 3") == ("*", ("+", 1, 2), 3)
    assert parse("((((x))))") == "x"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("any(a, b)", ("any()", "a", "b")),
        ("any(flags)", ("any()", "flags")),
        ("all(a, b, c)", ("all()", "a", "b", "c")),
        ("at_least(2, a, b, c)", ("at_least()", 2, "a", "b", "c")),
        ("count_true(a, b)", ("count_true()", "a", "b")),
        ("is_known(x)", ("is_known()", "x")),
        ("coalesce(x, false)", ("coalesce()", "x", False)),
        ("length(xs)", ("length()", "xs")),
        ("length([1, 2])", ("length()", [1, 2])),
        ("f()", ("f()",)),
        ("any(a, b,)", ("any()", "a", "b")),
        ("any(a and b, not c)", ("any()", ("and", "a", "b"), ("not", "c"))),
    ],
)
def test_function_calls(text: str, want: object) -> None:
    assert parse(text) == want


def test_comments_and_newlines_are_ignored() -> None:
    assert parse("a and  # first\n  b  # second\n") == ("and", "a", "b")


# --- precedence (as in Python) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("not a or b and c", ("or", ("not", "a"), ("and", "b", "c"))),
        ("a or b and c", ("or", "a", ("and", "b", "c"))),
        ("a and b or c and d", ("or", ("and", "a", "b"), ("and", "c", "d"))),
        ("not a and b", ("and", ("not", "a"), "b")),
        ("not a == b", ("not", ("==", "a", "b"))),
        ("not x in xs", ("not", ("in", "x", "xs"))),
        ("a < b and b < c", ("and", ("<", "a", "b"), ("<", "b", "c"))),
        ("-x*y+z", ("+", ("*", ("neg", "x"), "y"), "z")),
        ("a + b * c", ("+", "a", ("*", "b", "c"))),
        ("a * b + c", ("+", ("*", "a", "b"), "c")),
        ("a - b - c", ("-", ("-", "a", "b"), "c")),
        ("a / b / c", ("/", ("/", "a", "b"), "c")),
        ("a + 1 > b * 2", (">", ("+", "a", 1), ("*", "b", 2))),
        ("x + 1 in xs", ("in", ("+", "x", 1), "xs")),
        ("d - 2024-01-01 > 6 months", (">", ("-", "d", dt.date(2024, 1, 1)),
                                       ("duration", 6, "months"))),
    ],
)
def test_precedence_follows_python(text: str, want: object) -> None:
    assert parse(text) == want


def test_comparisons_do_not_chain() -> None:
    with pytest.raises(ParseError):
        parse_expression("a < b < c")


# --- spans --------------------------------------------------------------------------------


def _span(node: ast.Expr) -> tuple[int, int, int, int, int, int]:
    s = node.span
    assert s is not None
    return (s.line, s.column, s.end_line, s.end_column, s.start, s.end)


def test_every_node_has_a_span() -> None:
    tree = parse_expression('not (a + 1 > 2 or x in ["p"]) and any(b, c) and d >= 2024-01-01')
    assert all(node.span is not None for node in ast.walk(tree))


def test_spans_of_sub_nodes() -> None:
    text = "x > 1 and at_least(2, a, b)"
    tree = parse_expression(text)
    assert isinstance(tree, ast.And)
    compare, call = tree.operands
    assert _span(tree) == (1, 1, 1, 28, 0, 27)
    assert _span(compare) == (1, 1, 1, 6, 0, 5)
    assert isinstance(compare, ast.Compare)
    assert _span(compare.right) == (1, 5, 1, 6, 4, 5)
    assert isinstance(call, ast.Call)
    assert _span(call) == (1, 11, 1, 28, 10, 27)
    assert [text[a.span.start:a.span.end] for a in call.args] == ["2", "a", "b"]  # type: ignore[union-attr]


def test_spans_across_lines() -> None:
    text = "any(a,\n    bb)\nand c"
    tree = parse_expression(text)
    assert isinstance(tree, ast.And)
    call, c = tree.operands
    assert _span(call) == (1, 1, 2, 8, 0, 14)
    assert isinstance(call, ast.Call)
    assert _span(call.args[1]) == (2, 5, 2, 7, 11, 13)
    assert _span(c) == (3, 5, 3, 6, 19, 20)


def test_span_text_of_a_unicode_name() -> None:
    text = "a and ærlig_vurdering"
    tree = parse_expression(text)
    assert isinstance(tree, ast.And)
    s = tree.operands[1].span
    assert s is not None
    assert text[s.start:s.end] == "ærlig_vurdering"
    assert (s.column, s.end_column) == (7, 22)


# --- parse errors -------------------------------------------------------------------------


def parse_error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    return info.value


def test_unexpected_token_has_its_position() -> None:
    err = parse_error("a and\n  b c")
    assert err.code == "parse_error"
    assert err.span is not None
    assert (err.span.line, err.span.column) == (2, 5)
    assert "unexpected 'c'" in err.message
    assert str(err).startswith("<expr>:2:5: parse_error: unexpected 'c'; expected ")


def test_unexpected_character_has_its_position() -> None:
    err = parse_error("a $ b")
    assert err.code == "parse_error"
    assert err.span is not None
    assert (err.span.line, err.span.column) == (1, 3)
    assert "unexpected character '$'" in err.message


def test_end_of_input_points_just_after_the_last_character() -> None:
    err = parse_error("a and")
    assert "end of expression" in err.message
    assert err.span is not None
    assert (err.span.line, err.span.column) == (1, 6)


def test_end_of_input_ignores_trailing_newlines() -> None:
    err = parse_error("a and\n  (b or\n\n")
    assert err.span is not None
    assert (err.span.line, err.span.column) == (2, 8)


def test_unclosed_parenthesis_and_call() -> None:
    assert "end of expression" in parse_error("(a or b").message
    assert "end of expression" in parse_error("any(a, b").message


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty_expression(text: str) -> None:
    err = parse_error(text)
    assert err.code == "empty_expression"
    assert err.span is not None and (err.span.line, err.span.column) == (1, 1)


def test_comment_only_expression_is_a_parse_error() -> None:
    assert "end of expression" in parse_error("# just a comment").message


def test_too_long_expression() -> None:
    err = parse_error("a or " * (MAX_EXPRESSION_LENGTH // 5) + "b")
    assert err.code == "expression_too_long"


def test_too_deep_nesting() -> None:
    err = parse_error("not " * (MAX_DEPTH + 1) + "a")
    assert err.code == "expression_too_deep"
    assert err.span is not None


def test_nesting_just_under_the_limit_parses() -> None:
    tree = parse_expression("not " * (MAX_DEPTH - 2) + "a")
    assert isinstance(tree, ast.Not)


def test_many_parentheses_do_not_count_as_depth() -> None:
    assert parse("(" * 500 + "x" + ")" * 500) == "x"


def test_too_many_digits() -> None:
    err = parse_error("x > " + "9" * (MAX_NUMBER_DIGITS + 1))
    assert err.code == "number_too_large"
    assert err.span is not None and err.span.column == 5
    digits = "9" * (MAX_NUMBER_DIGITS - 1) + ".5"
    assert parse(digits) == float(digits)


def test_whole_numbers_are_int64() -> None:
    assert parse("9223372036854775807") == 2**63 - 1
    err = parse_error("x > 9223372036854775808")
    assert err.code == "number_too_large"
    assert err.span is not None and err.span.column == 5


@pytest.mark.parametrize("text", ["2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10"])
def test_bad_date(text: str) -> None:
    err = parse_error(f"d > {text}")
    assert err.code == "bad_date"
    assert err.span is not None and err.span.column == 5


@pytest.mark.parametrize(
    "text",
    ["a b", "a and or b", "1 2", "x in", "[1, 2", "f(,)", "a not b", "6 monthsx", "1.", ".5",
     "a = b", "a && b", "true false", "not", ")"],
)
def test_malformed_expressions_raise_parse_error(text: str) -> None:
    assert parse_error(text).span is not None


def test_non_text_is_rejected() -> None:
    with pytest.raises(ParseError):
        parse_expression(42)  # type: ignore[arg-type]


def test_parse_error_is_not_a_lark_exception() -> None:
    err = parse_error("a b")
    assert err.__cause__ is not None
    assert type(err).__module__ == "koordrules.errors"


def test_ast_round_trips_through_json() -> None:
    from pydantic import TypeAdapter

    adapter: TypeAdapter[ast.Expr] = TypeAdapter(ast.Expr)
    tree = parse_expression('not (a + 1 > 2 or x in ["p"]) and d >= 2024-01-01 - 6 months')
    assert adapter.validate_json(adapter.dump_json(tree)) == tree
