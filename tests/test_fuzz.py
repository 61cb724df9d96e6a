"""Fuzzing the front end: random and mutated expressions and criteria files.

Whatever the text, loading either succeeds or raises a :class:`koordrules.KoordError` (with a
position where the problem has one) — never another exception — and the size and depth limits
keep time and memory bounded. CI runs a small number of examples per test; set
``KOORDRULES_FUZZ_EXAMPLES`` for a larger run (see docs/testing.md)::

    KOORDRULES_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import koordrules
from koordrules import KoordError, ParseError, load, load_text, parse_expression, yamldoc
from koordrules import parser as parser_module
from koordrules.errors import CriteriaError, LoadError
from koordrules.testing import expression_texts, records

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "criteria").rglob("*.yaml"))
SHIPPED_TEXTS = [p.read_text(encoding="utf-8") for p in SHIPPED
                 if not p.name.endswith((".cases.yaml", ".mapping.yaml"))]
BASE_TEXT = (ROOT / "criteria" / "helse-vest" / "anbefaling-3.yaml").read_text(encoding="utf-8")

EXAMPLES = int(os.environ.get("KOORDRULES_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NAMES = ["A", "B", "x", "n", "d", "s", "flag", "units", "tall"]

# A set whose criterion ``Z`` is replaced by a fuzzed expression; every type appears in inputs.
FRAME = """\
id: fuzz/frame
version: 1.0.0
title: Fuzz
status: draft
effective_from: 2024-01-01
source: {{document: fuzz}}
parameters:
  tall: {{value: 6}}
inputs:
  x: {{type: number, kind: data, min: -1000, max: 1000}}
  n: {{type: integer, kind: data}}
  d: {{type: date, kind: data}}
  s: {{type: enum, kind: data, values: [a, b, c]}}
  flag: {{type: boolean, kind: judgement}}
  units: {{type: list, kind: data, items: string}}
criteria:
  A:
    title: A
    when: flag
  Z:
    title: Z
    when: {expr}
outcomes:
  - id: flagged
    title: flagged
    when: Z or A
  - id: other
    title: other
    otherwise: true
"""


def _yaml_block(expr: str) -> str:
    """The expression as a YAML literal block (any text is valid there)."""
    lines = expr.splitlines() or [""]
    return "|-\n" + "".join(f"      {line}\n" for line in lines)


def _assert_koord_error(ex: BaseException) -> None:
    assert isinstance(ex, KoordError), f"{type(ex).__name__}: {ex}"
    assert str(ex)
    if isinstance(ex, CriteriaError):
        assert ex.diagnostics
        for d in ex.diagnostics:
            assert d.span is not None or d.file is not None, str(d)


def _load_text(text: str) -> koordrules.CriteriaSet | None:
    try:
        return load_text(text, file="fuzz.yaml")
    except Exception as ex:
        _assert_koord_error(ex)
        if isinstance(ex, LoadError) and ex.code in ("yaml_error", "yaml_tag", "yaml_alias",
                                                     "duplicate_key", "yaml_value"):
            assert ex.span is not None, f"{ex.code} without a position: {ex}"
        return None


# --- mutations ---------------------------------------------------------------------------

SNIPPETS = [
    "\t", "\ufeff", "&a ", "*a", "<<: *a\n", "!!python/object:os.system ",
    "!!python/object/apply:os.system ['true']", "!!binary ", "!custom ", "---\n", "...\n",
    "{", "}", "[", "]", ":", ": ", "- ", "#", "'", '"', "\\", "|", ">", "\n", "\r\n", "\x00",
    "\x85", "\u2028", "é", "ø", "名前", "🙂", "9" * 40, "1e999", "-.inf", ".nan", "0x1F",
    "2024-13-45", "null", "~", "true", "no", "on", "((((", "))))", "not not not", " and ",
    " or ", "at_least(", "is_known(", "coalesce(", "\"\"\"", "''", "% ", "@", "`",
]

mutation = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.sampled_from(SNIPPETS)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.text(max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 40)),
    st.tuples(st.just("duplicate"), st.integers(0, 10**6), st.integers(1, 200)),
    st.tuples(st.just("replace"), st.integers(0, 10**6), st.text(min_size=1, max_size=3)),
)


def _mutate(text: str, steps: list[tuple[str, int, Any]]) -> str:
    for op, where, arg in steps:
        i = where % (len(text) + 1)
        if op == "insert":
            text = text[:i] + arg + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + arg:]
        elif op == "duplicate":
            text = text[:i] + text[i:i + arg] * 2 + text[i + arg:]
        else:
            text = text[:i] + arg + text[i + len(arg):]
    return text


# --- expressions -------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=200))
def test_random_text_parses_or_raises_parse_error(text: str) -> None:
    try:
        parse_expression(text)
    except ParseError as ex:
        assert ex.span is not None, str(ex)


@FUZZ
@given(expression_texts(NAMES), st.lists(mutation, max_size=3))
def test_mutated_expression_parses_or_raises_parse_error(text: str, steps: list[Any]) -> None:
    try:
        parse_expression(_mutate(text, steps))
    except ParseError as ex:
        assert ex.span is not None, str(ex)


@FUZZ
@given(expression_texts(NAMES), st.data())
def test_fuzzed_criterion_loads_and_evaluates_or_raises_koord_error(
    text: str, data: st.DataObject
) -> None:
    cs = _load_text(FRAME.format(expr=_yaml_block(text)))
    if cs is None:
        return
    record = data.draw(records(cs, missing=0.3))
    try:
        result = koordrules.evaluate(cs, record)
    except Exception as ex:
        _assert_koord_error(ex)
        return
    assert result.outcome in ("flagged", "other", None)


# --- criteria files ----------------------------------------------------------------------


@FUZZ
@given(st.sampled_from(SHIPPED_TEXTS), st.lists(mutation, min_size=1, max_size=6))
def test_mutated_criteria_file_loads_or_raises_koord_error(text: str, steps: list[Any]) -> None:
    _load_text(_mutate(text, steps))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_file_loads_or_raises_koord_error(raw: bytes) -> None:
    # read from disk, so decoding (BOM, invalid UTF-8) is fuzzed too
    path = Path(tempfile.gettempdir()) / f"koordrules-fuzz-{os.getpid()}.yaml"
    path.write_bytes(raw)
    try:
        load(path)
    except Exception as ex:
        _assert_koord_error(ex)
    finally:
        path.unlink(missing_ok=True)


@FUZZ
@given(st.binary(max_size=60), st.integers(0, 10**6))
def test_random_bytes_spliced_into_a_file_load_or_raise_koord_error(
    raw: bytes, where: int
) -> None:
    data = BASE_TEXT.encode("utf-8")
    i = where % (len(data) + 1)
    path = Path(tempfile.gettempdir()) / f"koordrules-fuzz-splice-{os.getpid()}.yaml"
    path.write_bytes(data[:i] + raw + data[i:])
    try:
        load(path)
    except Exception as ex:
        _assert_koord_error(ex)
    finally:
        path.unlink(missing_ok=True)


unicode_names = st.text(st.characters(categories=("Lu", "Ll", "Lo", "Nd", "Mn", "Pc")),
                        min_size=1, max_size=12)


@FUZZ
@given(unicode_names, st.integers(-(10**60), 10**60))
def test_unicode_names_and_huge_numbers(name: str, number: int) -> None:
    text = FRAME.replace("  tall: {{value: 6}}", f"  {name}: {{{{value: {number}}}}}")
    _load_text(text.format(expr=f"x > {name}" if name.isidentifier() else "x > tall"))


# --- specific hostile inputs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a: &x [1, 2]\nb: *x\n", "yaml_alias"),
        ("a: !!python/object/apply:os.system ['echo hi']\n", "yaml_tag"),
        ("a: !!python/object:builtins.dict {}\n", "yaml_tag"),
        ("a: 1\na: 2\n", "duplicate_key"),
        ("a:\n\t- 1\n", "yaml_error"),
        ("a: .nan\n", "yaml_value"),
        ("", "empty_file"),
        ("a: [1, 2\n", "yaml_error"),
    ],
)
def test_hostile_yaml_is_a_load_error_with_code(text: str, code: str) -> None:
    with pytest.raises(LoadError) as info:
        load_text(text, file="hostile.yaml")
    assert info.value.code == code
    assert info.value.file == "hostile.yaml"


def test_billion_laughs_is_rejected_before_expansion() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    with pytest.raises(LoadError) as info:
        load_text("\n".join(lines) + "\n")
    assert info.value.code == "yaml_alias"


def test_bom_is_accepted() -> None:
    assert load_text("\ufeff" + BASE_TEXT).id == "helse-vest/anbefaling-3"


def test_deeply_nested_yaml_is_a_load_error() -> None:
    with pytest.raises(LoadError) as info:
        load_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert info.value.code in ("too_large", "yaml_error")


def test_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    big = "# " + "x" * yamldoc.MAX_FILE_BYTES + "\n"
    with pytest.raises(LoadError) as info:
        load_text(big)
    assert info.value.code == "too_large"
    path = tmp_path / "big.yaml"
    path.write_text(big, encoding="utf-8")
    with pytest.raises(LoadError) as info:
        load(path)
    assert info.value.code == "too_large"


def test_node_limit_is_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamldoc, "MAX_NODES", 50)
    with pytest.raises(LoadError) as info:
        load_text("a: [" + ", ".join("1" for _ in range(60)) + "]\n")
    assert info.value.code == "too_large"
    assert info.value.span is not None


def test_expression_length_limit() -> None:
    text = " or ".join(["flag"] * (parser_module.MAX_EXPRESSION_LENGTH // 8 + 1))
    assert len(text) > parser_module.MAX_EXPRESSION_LENGTH
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    assert info.value.code == "expression_too_long"


@pytest.mark.parametrize(
    "text",
    [
        "not " * 200 + "x",
        "-" * 200 + "x",
        "[" * 200 + "]" * 200,
        "any(" * 200 + "x" + ")" * 200,
    ],
)
def test_expression_depth_limit(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_expression(text)
    assert info.value.code == "expression_too_deep"
    assert info.value.span is not None


def test_redundant_parentheses_do_not_nest_the_tree() -> None:
    # "(" expr ")" is inlined by the grammar and lark's LALR parser keeps its stack on the heap
    assert parse_expression("(" * 2_000 + "x" + ")" * 2_000).kind == "name"


def test_depth_just_under_the_limit_parses() -> None:
    depth = parser_module.MAX_DEPTH // 4
    assert parse_expression("(" * depth + "x" + ")" * depth).kind == "name"


def test_long_flat_expression_within_limits_evaluates() -> None:
    # wide rather than deep: 1,000 operands stay within the length limit and do not recurse
    text = " or ".join(["flag"] * 1_000)
    cs = load_text(FRAME.format(expr=_yaml_block(text)))
    assert koordrules.evaluate(cs, {"flag": True}).outcome == "flagged"


def test_number_with_too_many_digits() -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("x > " + "9" * (parser_module.MAX_NUMBER_DIGITS + 1))
    assert info.value.code == "number_too_large"


def test_control_character_is_a_load_error_at_its_position() -> None:
    # found by fuzzing: PyYAML's ReaderError has no mark, only an offset
    with pytest.raises(LoadError) as info:
        load_text("a: 1\nb: x\x1fy\n", file="ctrl.yaml")
    assert info.value.code == "yaml_error"
    assert info.value.span is not None
    assert (info.value.span.line, info.value.span.column) == (2, 5)
    assert "#x001f" in info.value.message


def test_set_level_problem_without_a_span_names_the_file() -> None:
    # found by fuzzing: a bad ``monotone`` entry was reported without file or position
    text = BASE_TEXT.replace("      - lifelong_course\n", "      - lifelong_coursX\n")
    with pytest.raises(CriteriaError) as info:
        load_text(text, file="bad-monotone.yaml")
    bad = [d for d in info.value.diagnostics if d.code == "bad_property"]
    assert bad and all(d.file == "bad-monotone.yaml" for d in bad)
