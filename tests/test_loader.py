"""Loading criteria files: safe YAML, schema errors, positions in the file, content hash."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import HEADER, HEADER_LINES, write_set

from koordrules import CriteriaError, KoordError, LoadError, ast, load, load_text
from koordrules.catalog import load_with_warnings

MakeSet = Callable[..., Path]

BODY = """\
parameters:
  limit: {value: 6}
inputs:
  flag: {type: boolean, kind: data}
  months: {type: number, kind: data}
criteria:
  K:
    title: K
    when: flag and months > limit
outcomes:
  - id: yes_k
    title: Likely
    when: K
  - id: neither
    title: Neither
    otherwise: true
"""
LINE_OF_K_WHEN = HEADER_LINES + 9
LOCATION = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[a-z_]+): .+$")


def error_of(path: Path) -> KoordError:
    with pytest.raises(KoordError) as info:
        load(path)
    return info.value


def location(err: KoordError) -> tuple[str, int, int]:
    """(code, line, column) of the first line of ``str(err)``, checking its format."""
    first = str(err).splitlines()[0]
    match = LOCATION.match(first)
    assert match, first
    return match["code"], int(match["line"]), int(match["col"])


def codes(err: KoordError) -> list[str]:
    assert isinstance(err, CriteriaError)
    return [d.code for d in err.diagnostics]


# --- valid files --------------------------------------------------------------------------


def test_minimal_set_loads(make_set: MakeSet) -> None:
    cs = load(make_set(BODY))
    assert cs.key == "test/set@1.0.0"
    assert [c.name for c in cs.criteria] == ["K"]
    assert [r.id for r in cs.rules] == ["yes_k"]
    assert cs.otherwise.id == "neither"
    assert cs.parameter("limit") is not None
    assert cs.input("months") is not None and cs.input("months").type == "number"  # type: ignore[union-attr]


def test_shipped_set_loads_without_warnings(shipped_set_path: Path) -> None:
    cs, warnings = load_with_warnings(shipped_set_path)
    assert warnings == []
    assert cs.id == "helse-vest/anbefaling-3"
    assert [c.name for c in cs.criteria] == ["A", "B", "C", "D"]
    assert [o.id for o in cs.outcomes] == ["already_has_coordinator", "coordinator_likely",
                                          "not_indicated"]


def test_load_text_names_the_file_in_messages() -> None:
    with pytest.raises(CriteriaError) as info:
        load_text(HEADER + BODY.replace("months > limit", "monts > limit"), file="mem.yaml")
    assert str(info.value).startswith(f"mem.yaml:{LINE_OF_K_WHEN}:20: unknown_name:")


def test_every_expression_node_knows_its_file_position(make_set: MakeSet) -> None:
    path = make_set(BODY)
    cs = load(path)
    expr = cs.criteria[0].expr
    assert isinstance(expr, ast.And)
    flag, compare = expr.operands
    assert flag.span is not None and compare.span is not None
    assert (flag.span.file, flag.span.line, flag.span.column) == (str(path), LINE_OF_K_WHEN, 11)
    assert (compare.span.line, compare.span.column, compare.span.end_column) == (
        LINE_OF_K_WHEN, 20, 34)


def test_quoted_expression_positions_skip_the_quote(make_set: MakeSet) -> None:
    cs = load(make_set(BODY.replace("when: flag and months > limit",
                                    'when: "flag and months > limit"')))
    expr = cs.criteria[0].expr
    assert isinstance(expr, ast.And)
    assert expr.operands[1].span is not None
    assert expr.operands[1].span.column == 21


MULTI_LINE = BODY.replace(
    "    when: flag and months > limit\n",
    "    when: |\n"
    "      flag\n"
    "        and months > limit  # a comment\n",
)


def test_block_scalar_expression_maps_to_file_lines_and_columns(make_set: MakeSet) -> None:
    cs = load(make_set(MULTI_LINE))
    expr = cs.criteria[0].expr
    assert isinstance(expr, ast.And)
    flag, compare = expr.operands
    assert isinstance(compare, ast.Compare)
    first = LINE_OF_K_WHEN + 1
    assert flag.span is not None and (flag.span.line, flag.span.column) == (first, 7)
    assert compare.right.span is not None
    assert (compare.right.span.line, compare.right.span.column) == (first + 1, 22)
    assert (compare.span.line, compare.span.column, compare.span.end_line,  # type: ignore[union-attr]
            compare.span.end_column) == (first + 1, 13, first + 1, 27)  # type: ignore[union-attr]


def test_block_scalar_with_a_leading_blank_line(make_set: MakeSet) -> None:
    cs = load(make_set(MULTI_LINE.replace("when: |\n", "when: |\n\n")))
    expr = cs.criteria[0].expr
    assert isinstance(expr, ast.And)
    flag = expr.operands[0]
    assert flag.span is not None
    assert (flag.span.line, flag.span.column) == (LINE_OF_K_WHEN + 2, 7)


def test_shipped_multi_line_criterion_b_maps_to_its_file_lines(
    shipped_set: ast.CriteriaSet, shipped_set_path: Path
) -> None:
    lines = shipped_set_path.read_text(encoding="utf-8").splitlines()
    b = shipped_set.criterion("B")
    assert b is not None and isinstance(b.expr, ast.Call)
    for arg in b.expr.args:
        assert isinstance(arg, ast.Name) and arg.span is not None
        line = lines[arg.span.line - 1]
        assert line[arg.span.column - 1:arg.span.end_column - 1] == arg.name
    assert b.expr.args[2].span is not None and b.expr.args[2].span.line == (
        b.expr.args[0].span.line + 1)  # type: ignore[union-attr]


def test_type_error_in_a_block_scalar_points_into_the_file(make_set: MakeSet) -> None:
    err = error_of(make_set(MULTI_LINE.replace("months > limit", "months > true")))
    assert location(err) == ("type_error", LINE_OF_K_WHEN + 2, 13)


def test_parse_error_in_a_block_scalar_points_into_the_file(make_set: MakeSet) -> None:
    err = error_of(make_set(MULTI_LINE.replace("months > limit", "months >> limit")))
    assert location(err) == ("parse_error", LINE_OF_K_WHEN + 2, 21)


def test_parse_error_at_the_end_of_a_block_scalar_stays_on_its_last_line(
    make_set: MakeSet,
) -> None:
    err = error_of(make_set(MULTI_LINE.replace("months > limit  # a comment", "months >")))
    code, line, _ = location(err)
    assert (code, line) == ("parse_error", LINE_OF_K_WHEN + 2)


# --- YAML problems ------------------------------------------------------------------------


def test_malformed_yaml_has_line_and_column(tmp_path: Path) -> None:
    path = write_set(tmp_path, BODY + "extra: [1, 2\n", header=True)
    err = error_of(path)
    assert isinstance(err, LoadError)
    assert err.code == "yaml_error"
    assert str(err).startswith(str(path) + ":")
    assert location(err)[0] == "yaml_error"
    assert err.__cause__ is not None and type(err).__module__ == "koordrules.errors"


def test_bad_indentation_is_a_yaml_error_with_its_line(tmp_path: Path) -> None:
    err = error_of(write_set(tmp_path, BODY.replace("  months:", " months:"), header=True))
    code, line, _ = location(err)
    assert code == "yaml_error"
    assert line == HEADER_LINES + 5


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    err = error_of(write_set(tmp_path, text))
    assert isinstance(err, LoadError)
    assert location(err) == ("empty_file", 1, 1)


def test_a_yaml_list_instead_of_a_mapping(tmp_path: Path) -> None:
    err = error_of(write_set(tmp_path, "- id: x\n- id: y\n"))
    assert isinstance(err, CriteriaError)
    assert codes(err) == ["schema_error"]
    assert "must be a mapping" in str(err)
    assert location(err) == ("schema_error", 1, 1)


def test_a_scalar_document_is_not_a_mapping(tmp_path: Path) -> None:
    err = error_of(write_set(tmp_path, "just text\n"))
    assert codes(err) == ["schema_error"]


def test_unknown_top_level_field(make_set: MakeSet) -> None:
    err = error_of(make_set(BODY + "colour: blue\n"))
    assert codes(err) == ["schema_error"]
    assert "unknown field 'colour'" in str(err)
    assert location(err)[1:] == (HEADER_LINES + BODY.count("\n") + 1, 1)


def test_unknown_nested_field_points_at_the_key(make_set: MakeSet) -> None:
    err = error_of(make_set(BODY.replace("    title: K\n", "    title: K\n    wen: x\n")))
    assert "unknown field 'criteria.K.wen'" in str(err)
    assert location(err)[1:] == (HEADER_LINES + 9, 5)


def test_missing_field(tmp_path: Path) -> None:
    err = error_of(write_set(tmp_path, HEADER.replace("version: 1.0.0\n", "") + BODY))
    assert codes(err) == ["schema_error"]
    assert "missing field 'version'" in str(err)


def test_missing_nested_field(make_set: MakeSet) -> None:
    err = error_of(make_set(BODY.replace("  flag: {type: boolean, kind: data}",
                                         "  flag: {type: boolean}")))
    assert "missing field 'inputs.flag.kind'" in str(err)
    assert location(err)[1] == HEADER_LINES + 4


def test_every_schema_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = HEADER.replace("status: draft", "status: sketch") + BODY + "colour: blue\n"
    err = error_of(write_set(tmp_path, text.replace("version: 1.0.0", "version: one")))
    assert isinstance(err, CriteriaError)
    messages = [d.message for d in err.diagnostics]
    assert len(messages) == 3
    assert any("version" in m for m in messages)
    assert any("status" in m for m in messages)
    assert any("colour" in m for m in messages)
    lines = [d.span.line for d in err.diagnostics if d.span]
    assert lines == sorted(lines)


def test_duplicate_key(make_set: MakeSet) -> None:
    err = error_of(make_set(BODY.replace("    title: K\n", "    title: K\n    title: L\n")))
    assert isinstance(err, LoadError)
    assert location(err) == ("duplicate_key", HEADER_LINES + 9, 5)
    assert "'title' appears twice" in str(err)


def test_duplicate_criterion_name_is_a_duplicate_key(make_set: MakeSet) -> None:
    body = BODY.replace("criteria:\n", "criteria:\n  K:\n    title: K0\n    when: flag\n")
    assert error_of(make_set(body)).code == "duplicate_key"


@pytest.mark.parametrize(
    "value",
    ["!!python/object:os.system {}", "!!python/object/apply:os.system ['echo hi']",
     "!!binary aGVsbG8=", "!custom x", "!!set {a: null}"],
)
def test_custom_tags_are_rejected(make_set: MakeSet, value: str) -> None:
    err = error_of(make_set(BODY + f"notes: {value}\n"))
    assert isinstance(err, LoadError)
    assert location(err) == ("yaml_tag", HEADER_LINES + BODY.count("\n") + 1, 8)


def test_anchors_and_aliases_are_rejected(make_set: MakeSet) -> None:
    body = BODY.replace("    title: Likely\n", "    title: &t Yes\n").replace(
        "    title: Neither\n", "    title: *t\n")
    err = error_of(make_set(body))
    assert isinstance(err, LoadError)
    code, line, _ = location(err)
    assert code == "yaml_alias"
    assert str(err).startswith(str(err.file) + ":")
    assert line > HEADER_LINES


def test_alias_bomb_is_rejected_quickly(make_set: MakeSet) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    assert error_of(make_set(bomb, header=False)).code == "yaml_alias"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + BODY).encode("utf-8"))
    assert load(path).key == "test/set@1.0.0"


def test_tabs_for_indentation_are_a_yaml_error(make_set: MakeSet) -> None:
    err = error_of(make_set(BODY.replace("  months:", "\tmonths:")))
    assert isinstance(err, LoadError)
    assert location(err) == ("yaml_error", HEADER_LINES + 5, 1)
    assert "tab" in err.message and "spaces" in err.message


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes((HEADER + BODY.replace("title: Likely", "title: Bl\u00e5")).encode("latin-1"))
    err = error_of(path)
    assert isinstance(err, LoadError)
    assert err.code == "encoding_error"
    assert str(err).startswith(f"{path}: encoding_error: the file is not UTF-8")


def test_missing_file(tmp_path: Path) -> None:
    err = error_of(tmp_path / "nope.yaml")
    assert isinstance(err, LoadError) and err.code == "io_error"


def test_several_documents_are_rejected(make_set: MakeSet) -> None:
    assert error_of(make_set(BODY + "---\nid: other\n")).code == "yaml_error"


def test_nan_is_rejected(make_set: MakeSet) -> None:
    err = error_of(make_set(BODY.replace("limit: {value: 6}", "limit: {value: .nan}")))
    assert err.code == "yaml_value"


def test_non_scalar_key_is_rejected(make_set: MakeSet) -> None:
    assert error_of(make_set(BODY + "? [a, b]\n: c\n")).code == "yaml_error"


# --- file shape beyond the schema ---------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("  - id: neither\n    title: Neither\n    otherwise: true\n", "",
         "the last outcome, and only it, must be 'otherwise: true'"),
        ("    otherwise: true\n", "    otherwise: true\n    when: flag\n",
         "needs exactly one of 'when' and 'otherwise: true'"),
        ("    title: Likely\n", "", "outcome 'yes_k' needs a title"),
        ("    title: Likely\n", "    title: Likely\n    before: neither\n",
         "'before' is only allowed in a variant"),
        ("id: test/set", "id: Test Set", "id: String should match pattern"),
        ("version: 1.0.0", 'version: "1.0"', "version: String should match pattern"),
        ("  limit: {value: 6}", "  1limit: {value: 6}", "'1limit' is not a valid name"),
        ("  - id: yes_k", "  - id: yes-k", "outcomes.0.id: String should match pattern"),
    ],
)
def test_file_shape_errors(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    text = HEADER + BODY
    assert old in text
    err = error_of(write_set(tmp_path, text.replace(old, new)))
    assert isinstance(err, CriteriaError)
    assert any(fragment in d.message for d in err.diagnostics), str(err)
    assert location(err)[0] == "schema_error"


def test_a_set_without_outcomes(make_set: MakeSet) -> None:
    err = error_of(make_set(BODY[: BODY.index("outcomes:")]))
    assert "the set has no outcomes" in str(err)


def test_a_variant_resolves_against_a_catalogue_that_has_its_base(make_set: MakeSet) -> None:
    err = error_of(make_set("extends: test/base@1.0.0\n" + BODY))
    assert location(err) == ("unknown_base", HEADER_LINES + 1, 10)


def test_errors_in_several_expressions_are_all_reported_sorted(make_set: MakeSet) -> None:
    body = (BODY.replace("flag and months > limit", "flag and monts > limit")
            .replace("when: K", "when: K and (")
            .replace("criteria:\n", "criteria:\n  J:\n    title: J\n    when: months + 1\n"))
    err = error_of(make_set(body))
    assert isinstance(err, CriteriaError)
    found = [(d.code, d.span.line) for d in err.diagnostics if d.span]
    assert [c for c, _ in found] == ["type_error", "unknown_name", "parse_error"]
    assert [line for _, line in found] == sorted(line for _, line in found)
    assert str(err).count("\n") == 2
    for line in str(err).splitlines():
        assert LOCATION.match(line), line


# --- content hash -------------------------------------------------------------------------


def sha(tmp_path: Path, text: str, name: str) -> str:
    return load(write_set(tmp_path, text, name=name)).sha256


def test_same_file_gives_the_same_hash(tmp_path: Path, shipped_set_path: Path) -> None:
    text = shipped_set_path.read_text(encoding="utf-8")
    first = load(shipped_set_path).sha256
    assert load(shipped_set_path).sha256 == first
    assert sha(tmp_path, text, "copy.yaml") == first
    assert re.fullmatch(r"[0-9a-f]{64}", first)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("parameters:\n", "# a new comment\nparameters:\n"),
        ("    when: K\n", "    when: K   # trailing comment\n"),
        ("  limit: {value: 6}\n", "  limit:\n    value: 6\n"),
        ("    title: Likely\n    when: K\n", "    when: K\n    title: Likely\n"),
        ("    title: Likely\n", '    title: "Likely"\n'),
        ("    title: Likely\n", "    title: 'Likely'\n"),
        ("status: draft\n", "status:    draft\n"),
        ("effective_from: 2024-01-01", 'effective_from: "2024-01-01"'),
        ("inputs:\n  flag: {type: boolean, kind: data}\n  months: {type: number, kind: data}\n",
         "inputs:\n    months: {kind: data, type: number}\n"
         "    flag: {kind: data, type: boolean}\n"),
    ],
    ids=["comment", "trailing-comment", "block-style", "key-order", "double-quotes",
         "single-quotes", "spacing", "quoted-date", "input-order-and-indent"],
)
def test_layout_and_comments_do_not_change_the_hash(tmp_path: Path, old: str, new: str) -> None:
    text = HEADER + BODY
    assert old in text
    assert sha(tmp_path, text.replace(old, new), "b.yaml") == sha(tmp_path, text, "a.yaml")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("limit: {value: 6}", "limit: {value: 7}"),
        ("months > limit", "months >= limit"),
        ("version: 1.0.0", "version: 1.0.1"),
        ("    title: Likely\n", "    title: Ja\n"),
        ("  months: {type: number, kind: data}", "  months: {type: number, kind: judgement}"),
        ("  months: {type: number, kind: data}",
         "  months: {type: number, kind: data, max: 100}"),
        ("  - id: neither", "  - id: nothing"),
    ],
)
def test_any_semantic_edit_changes_the_hash(tmp_path: Path, old: str, new: str) -> None:
    text = HEADER + BODY
    assert old in text
    assert sha(tmp_path, text.replace(old, new), "b.yaml") != sha(tmp_path, text, "a.yaml")


def test_the_hash_is_part_of_the_set_reference(shipped_set: ast.CriteriaSet) -> None:
    ref = shipped_set.ref
    assert (ref.id, ref.version, ref.sha256) == ("helse-vest/anbefaling-3", "1.0.2",
                                                  shipped_set.sha256)


def test_unknown_field_with_a_block_value_points_at_the_key(make_set: MakeSet) -> None:
    err = error_of(make_set(BODY + "extras:\n  colour: blue\n"))
    assert location(err)[1:] == (HEADER_LINES + BODY.count("\n") + 1, 1)
