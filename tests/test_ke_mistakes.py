"""The mistakes a KE editor makes, each replayed on a copy of a shipped file.

Each gives exactly one error (or the one warning it deserves), at the mistaken token, with the
likely fix in the message; later checks skip what depends on the broken item.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from koordrules import Catalog
from koordrules.cases import case_files, run_suite
from koordrules.errors import Diagnostic
from koordrules.resources import criteria_dir

BASE = "helse-vest/anbefaling-3.yaml"
VARIANT = "helse-bergen/buk-nefrologi.yaml"


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "criteria"
    for folder in ("helse-vest", "helse-bergen"):
        shutil.copytree(criteria_dir() / folder, root / folder)
    shutil.copy(criteria_dir() / "criteria.lock", root / "criteria.lock")
    return root


def edit(root: Path, rel: str, old: str, new: str) -> tuple[int, int]:
    """Replace ``old`` (once) by ``new`` in the file; return (line, column) of ``new``."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    at = text.index(old)
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def problems(root: Path, rel: str) -> list[Diagnostic]:
    return Catalog.scan(root / rel).diagnostics


def the_error(root: Path, rel: str) -> Diagnostic:
    errors = [d for d in problems(root, rel) if d.severity == "error"]
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def the_warning(root: Path, rel: str, code: str) -> Diagnostic:
    """No error, and exactly one warning with ``code`` (the set still loads, so the proofs
    can run on it)."""
    found = problems(root, rel)
    assert [d for d in found if d.severity == "error"] == [], "\n".join(map(str, found))
    (d,) = [d for d in found if d.code == code]
    assert d.severity == "warning"
    return d


def at(d: Diagnostic, line: int, column: int) -> None:
    assert d.span is not None
    assert (d.span.line, d.span.column) == (line, column), str(d)


# --- expressions ------------------------------------------------------------------------------

EXPRESSION_SLIPS = [
    # (old text, new text, offset of the mistake in new, code, fix in the message, fix in nb)
    ("involved_units >= min_units_involved", "involved_units = min_units_involved", 15,
     "single_equals", "write '=='", "skriv «==»"),
    ("A and at_least(min_of_b_to_d, B, C, D)", "A og at_least(min_of_b_to_d, B, C, D)", 2,
     "norwegian_keyword", "write 'and'", "skriv «and»"),
    ("A and at_least(min_of_b_to_d, B, C, D)", "A and at_least(min_of_b_to_d, B eller C, D)",
     32, "norwegian_keyword", "write 'or'", "skriv «or»"),
    ("A and at_least(min_of_b_to_d, B, C, D)", "ikke A and at_least(min_of_b_to_d, B, C, D)",
     0, "norwegian_keyword", "write 'not'", "skriv «not»"),
    ("A and at_least(min_of_b_to_d, B, C, D)", "A and 2 of B, C, D", 6, "n_of",
     "write 'at_least(2, B, C, D)'", "skriv «at_least(2, B, C, D)»"),
    ("expected_followup_months > long_term_months", "expected_followup_months > 6,5", 27,
     "decimal_comma", "write 6.5 instead of 6,5", "skriv 6.5 i stedet for 6,5"),
]


@pytest.mark.parametrize(("old", "new", "offset", "code", "fix", "fix_nb"), EXPRESSION_SLIPS)
def test_an_expression_slip_gives_one_error_at_the_token_with_the_fix(
        tree: Path, old: str, new: str, offset: int, code: str, fix: str, fix_nb: str) -> None:
    line, column = edit(tree, BASE, old, new)
    d = the_error(tree, BASE)
    assert d.code == code
    at(d, line, column + offset)
    assert fix in d.message
    assert fix_nb in d.text("nb")


def test_a_slip_in_a_variant_gives_one_error_not_a_cascade(tree: Path) -> None:
    # the variant's new criterion does not parse: no "unused parameter", no "unknown name N"
    line, column = edit(tree, VARIANT, "ckd_stage >= min_ckd_stage", "ckd_stage = min_ckd_stage")
    d = the_error(tree, VARIANT)
    assert d.code == "single_equals"
    at(d, line, column + 10)
    assert [w for w in problems(tree, VARIANT) if w.severity == "warning"] == []


def test_a_position_inside_a_multi_line_plain_scalar_is_exact(tree: Path) -> None:
    edit(tree, BASE, "    when: A and at_least(min_of_b_to_d, B, C, D)\n",
         "    when: A and\n      at_least(min_of_b_to_d,\n        B og C, D)\n")
    d = the_error(tree, BASE)
    text = (tree / BASE).read_text(encoding="utf-8").splitlines()
    assert d.span is not None
    assert text[d.span.line - 1][d.span.column - 1:].startswith("og C"), str(d)


def test_a_position_inside_a_folded_scalar_is_exact(tree: Path) -> None:
    edit(tree, BASE, "    when: A and at_least(min_of_b_to_d, B, C, D)\n",
         "    when: >-\n      A and\n      at_least(min_of_b_to_d, B,\n        C = D)\n")
    d = the_error(tree, BASE)
    text = (tree / BASE).read_text(encoding="utf-8").splitlines()
    assert d.span is not None
    assert text[d.span.line - 1][d.span.column - 1:].startswith("= D)"), str(d)


def test_an_unused_new_parameter_in_a_variant_is_a_warning_like_an_unused_input(
        tree: Path) -> None:
    line, _ = edit(tree, VARIANT, "inputs:\n", "  min_frailty_score:\n    value: 6\n"
                   "    description: CFS.\n\ninputs:\n")
    found = problems(tree, VARIANT)
    assert [d for d in found if d.severity == "error"] == []
    (w,) = [d for d in found if "min_frailty_score" in d.message]
    assert w.severity == "warning" and w.code == "unused_parameter"
    at(w, line, 3)


def test_overriding_a_rules_condition_does_not_silently_keep_the_base_explanation(
        tree: Path) -> None:
    line, _ = edit(tree, VARIANT, "outcomes:\n", "outcomes:\n  - id: coordinator_likely\n"
                   "    when: A and at_least(min_of_b_to_d, B, C, D, N)\n")
    found = problems(tree, VARIANT)
    assert [d for d in found if d.severity == "error"] == []
    (w,) = [d for d in found if d.code == "explanation_kept"]
    at(w, line + 1, 5)
    assert "B–D" in w.message and "skriv en forklaring" in w.text("nb")


# --- YAML and values ----------------------------------------------------------------------------

YAML_SLIPS = [
    # (old, new, (line offset, column) of the mistake relative to `new`, code, fix, fix in nb)
    ("    value: 6\n    unit: months\n", "    value: 6\n\tunit: months\n", (1, 1),
     "yaml_error", "replace the tab by spaces", "bytt tabulatoren ut med mellomrom"),
    ("    unit: months\n    from_source: false\n", "    unit months\n    from_source: false\n",
     (0, 9), "yaml_error", "write 'unit: months'", "skriv «unit: months»"),
    ("effective_from: 2026-12-03", "effective_from: 03.12.2026", (0, 17), "schema_error",
     "write 2026-12-03 instead of 03.12.2026", "skriv 2026-12-03 i stedet for 03.12.2026"),
    ("    value: 6\n", '    value: "6"\n', (0, 12), "parameter_as_text", "write value: 6",
     "skriv value: 6"),
    ("    value: 6\n", "    value: 3,5\n", (0, 12), "parameter_as_text",
     "write 3.5 instead of 3,5", "skriv 3.5 i stedet for 3,5"),
    ("    value: 6\n    unit: months\n", "    value: 3 months\n", (0, 12), "parameter_as_text",
     "write value: 3 and unit: months", "skriv value: 3 og unit: months"),
]


@pytest.mark.parametrize(("old", "new", "where", "code", "fix", "fix_nb"), YAML_SLIPS)
def test_a_yaml_or_value_slip_gives_one_error_at_the_line_with_the_fix(
        tree: Path, old: str, new: str, where: tuple[int, int], code: str, fix: str,
        fix_nb: str) -> None:
    line, _ = edit(tree, BASE, old, new)
    d = the_error(tree, BASE)
    assert d.code == code
    at(d, line + where[0], where[1])
    assert fix in d.message
    assert fix_nb in d.text("nb")


def test_a_quoted_number_in_a_variant_is_reported_at_its_value_not_at_extends(
        tree: Path) -> None:
    line, _ = edit(tree, VARIANT, "    value: 4\n", '    value: "4"\n')
    d = the_error(tree, VARIANT)
    assert d.code == "parameter_as_text"
    at(d, line, 12)


def test_a_version_bump_without_a_changelog_entry_is_an_error(tree: Path) -> None:
    line, _ = edit(tree, BASE, "\nversion: 1.0.2", "\nversion: 1.1.0")
    d = the_error(tree, BASE)
    assert d.code == "no_changelog_entry"
    at(d, line + 1, 10)
    assert "'- version: 1.1.0'" in d.message


# --- rules and conditions that can never matter ------------------------------------------------


def test_a_rule_an_earlier_rule_always_takes_is_one_warning_at_the_rule(tree: Path) -> None:
    # "A, B and C" is always also "A and at least two of B, C, D": the new rule never wins
    line, _ = edit(tree, VARIANT, "outcomes:\n", "outcomes:\n  - id: all_three\n"
                   "    title: A, B og C\n    when: A and B and C\n")
    d = the_warning(tree, VARIANT, "shadowed_rule")
    at(d, line + 1, 5)
    assert "'coordinator_likely' before it holds too" in d.message
    assert "move 'all_three' before 'coordinator_likely'" in d.message
    assert "flytt «all_three» foran «coordinator_likely»" in d.text("nb")
    assert len(problems(tree, VARIANT)) == 1


def test_a_rule_placed_before_the_rule_that_covered_it_is_fine(tree: Path) -> None:
    edit(tree, VARIANT, "outcomes:\n", "outcomes:\n  - id: all_three\n    title: A, B og C\n"
         "    when: A and B and C\n    before: coordinator_likely\n")
    assert problems(tree, VARIANT) == []


def test_a_condition_beyond_the_inputs_range_is_one_message_at_the_comparison(
        tree: Path) -> None:
    line, column = edit(tree, VARIANT, "ckd_stage >= min_ckd_stage", "ckd_stage > 5")
    d = the_warning(tree, VARIANT, "never_true")
    at(d, line, column)
    assert "can never be true: ckd_stage is at most 5 (its 'max'); did you mean '>='?" \
        in d.message
    assert "kan aldri bli sann: ckd_stage er høyst 5 (sin «max»); mente du «>=»?" in d.text("nb")


def test_a_threshold_parameter_beyond_the_range_is_reported_at_the_comparison(
        tree: Path) -> None:
    edit(tree, VARIANT, "    value: 4\n", "    value: 6\n")
    line, column = edit(tree, VARIANT, "ckd_stage >= min_ckd_stage", "ckd_stage >= min_ckd_stage")
    d = the_warning(tree, VARIANT, "never_true")
    at(d, line, column)
    assert d.message == ("'ckd_stage >= min_ckd_stage' in criterion 'N' can never be true: "
                         "ckd_stage is at most 5 (its 'max')")
    # the rule that uses N is not reported as well: one mistake, one message
    assert [p.code for p in problems(tree, VARIANT)] == ["never_true"]


def test_a_never_true_part_of_an_or_is_a_warning(tree: Path) -> None:
    line, column = edit(tree, VARIANT, "ckd_stage >= min_ckd_stage",
                        "ckd_stage >= min_ckd_stage or ckd_stage > 5")
    (w,) = problems(tree, VARIANT)
    assert (w.severity, w.code) == ("warning", "never_true")
    at(w, line, column + len("ckd_stage >= min_ckd_stage or "))


def test_a_condition_always_true_when_known_is_a_warning(tree: Path) -> None:
    line, column = edit(tree, VARIANT, "ckd_stage >= min_ckd_stage", "ckd_stage >= 1")
    found = [p for p in problems(tree, VARIANT) if p.code == "always_true"]
    assert len(found) == 1 and found[0].severity == "warning"
    at(found[0], line, column)
    assert "ckd_stage is at least 1 (its 'min')" in found[0].message


def test_the_shipped_catalogue_has_no_such_findings(tree: Path) -> None:
    codes = {"never_true", "always_true", "shadowed_rule"}
    assert [str(d) for d in Catalog.scan(tree).diagnostics if d.code in codes] == []


# --- a variant leaving out a base item --------------------------------------------------------

GERIATRIC_RULE = ("outcomes:\n  - id: coordinator_likely\n"
                  "    when: A and at_least(2, B, C, D, N)\n"
                  "    explanation: {nb: A og minst to av B–D og N.}\n")


def test_a_base_parameter_the_variant_no_longer_uses_says_how_to_drop_it(tree: Path) -> None:
    edit(tree, VARIANT, "outcomes:\n", GERIATRIC_RULE)
    (w,) = problems(tree, VARIANT)
    assert w.severity == "warning" and w.code == "unused_parameter"
    assert "leave it out with 'drop: {parameters: [min_of_b_to_d]}'" in w.message
    edit(tree, VARIANT, "inputs:\n", "drop:\n  parameters: [min_of_b_to_d]\n\ninputs:\n")
    assert problems(tree, VARIANT) == []
    cs = Catalog.load(tree).get("helse-bergen/buk-nefrologi")
    assert cs.parameter("min_of_b_to_d") is None
    assert Catalog.load(tree).get("helse-vest/anbefaling-3").parameter("min_of_b_to_d")


def test_dropping_what_is_still_used_is_one_error_at_the_drop(tree: Path) -> None:
    line, _ = edit(tree, VARIANT, "inputs:\n", "drop:\n  parameters: [min_of_b_to_d]\n\n"
                   "inputs:\n")
    d = the_error(tree, VARIANT)
    assert d.code == "still_used"
    at(d, line + 1, 16)
    assert d.message == ("drop: 'min_of_b_to_d' cannot be dropped: the condition of "
                         "'coordinator_likely' still uses it")


def test_dropping_a_name_the_base_lacks_suggests_the_close_one(tree: Path) -> None:
    edit(tree, VARIANT, "outcomes:\n", GERIATRIC_RULE)
    line, _ = edit(tree, VARIANT, "inputs:\n", "drop:\n  parameters: [min_of_b_to_e]\n\n"
                   "inputs:\n")
    d = the_error(tree, VARIANT)
    assert d.code == "not_in_base"
    at(d, line + 1, 16)
    assert "did you mean 'min_of_b_to_d'?" in d.message


def test_drop_in_a_file_that_is_not_a_variant_is_an_error(tree: Path) -> None:
    line, _ = edit(tree, BASE, "\nparameters:\n", "\ndrop:\n  parameters: [x]\n\nparameters:\n")
    d = the_error(tree, BASE)
    assert d.code == "schema_error" and "only allowed in a variant" in d.message
    at(d, line + 1, 1)


# --- case files ---------------------------------------------------------------------------------

CASES = "helse-vest/anbefaling-3.cases.yaml"


def _suite(root: Path) -> Any:
    return run_suite(Catalog.load(root), case_files(root / CASES))


@pytest.mark.parametrize(("old", "new", "where", "fix"), [
    ("      outcome: coordinator_likely\n      criteria: {A: true, B: true, C: null, D: true}",
     "      outcom: coordinator_likely\n      criteria: {A: true, B: true, C: null, D: true}",
     (0, 7), "did you mean 'outcome'?"),
    ("  - name: A, B og D – C er ikke vurdert ennå\n    inputs:",
     "  - name: A, B og D – C er ikke vurdert ennå\n    input:", (1, 5),
     "did you mean 'inputs'?"),
    ("    expect:\n      outcome: coordinator_likely\n      criteria: {A: true, B: true, C: null",
     "    expectt:\n      outcome: coordinator_likely\n      criteria: {A: true, B: true, C: null",
     (0, 5), "did you mean 'expect'?"),
])
def test_a_structural_error_in_one_case_is_one_error_and_the_other_cases_run(
        tree: Path, old: str, new: str, where: tuple[int, int], fix: str) -> None:
    total = len(_suite(tree).results)
    text = (tree / CASES).read_text(encoding="utf-8")
    assert text.count(old) == 1
    at_char = text.index(old)
    (tree / CASES).write_text(text.replace(old, new), encoding="utf-8")
    suite = _suite(tree)
    (d,) = suite.diagnostics
    assert d.code == "schema_error" and fix in d.message, str(d)
    at(d, text.count("\n", 0, at_char) + 1 + where[0], where[1])
    assert len(suite.results) == total - 1 and not suite.failures


def test_check_speaks_bokmal_by_default_and_english_with_lang_en(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """People read bokmål: ``check`` gives its messages and its last line in bokmål unless
    ``--lang en`` is given; the message's code and position are the same in both."""
    from koordrules.cli import main

    tree = tmp_path / "criteria"
    shutil.copytree(criteria_dir(), tree)
    line, _ = edit(tree, BASE, "    value: 6\n    unit: months\n",
                   '    value: "6"\n    unit: months\n')
    assert main(["check", str(tree)]) == 1
    nb = capsys.readouterr()
    assert main(["check", "--lang", "en", str(tree)]) == 1
    en = capsys.readouterr()
    [nb_line] = [x for x in nb.out.splitlines() if "parameter_as_text" in x]
    [en_line] = [x for x in en.out.splitlines() if "parameter_as_text" in x]
    assert f"anbefaling-3.yaml:{line}:12: parameter_as_text:" in nb_line
    assert nb_line.split(": parameter_as_text:")[0] == en_line.split(": parameter_as_text:")[0]
    assert "skriv value: 6" in nb_line and "write value: 6" in en_line
    # one mistake in the base, one message: not also a base_has_errors in each variant
    assert nb.out.splitlines() == [nb_line]
    assert nb.err.endswith("sett kontrollert: 1 feil, 0 advarsler\n"), nb.err
    assert en.err.endswith("set(s) checked: 1 error(s), 0 warning(s)\n"), en.err


NEVER_DECIDES = [
    # (edits, the text the error is at (None: the new rule's item), code, fix)
    ([("outcomes:\n", "outcomes:\n  - id: all_three\n    title: A, B og C\n"
       "    when: A and B and C\n")], None, "shadowed_rule",
     "move 'all_three' before 'coordinator_likely'"),
    ([("    value: 4\n", "    value: 6\n")], "ckd_stage >= min_ckd_stage", "never_true",
     "ckd_stage is at most 5 (its 'max')"),
    ([("    value: 4\n", "    value: 1\n")], "ckd_stage >= min_ckd_stage", "always_true",
     "it decides nothing"),
]


@pytest.mark.parametrize(("edits", "token", "code", "fix"), NEVER_DECIDES)
def test_check_reports_a_rule_or_condition_that_decides_nothing_as_one_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], edits: list[tuple[str, str]],
        token: str | None, code: str, fix: str) -> None:
    """A shadowed rule, a comparison never true or always true: ``check`` gives exactly one
    error (exit 1), at the rule or the comparison, with the fix; the Python API gives the
    same finding as a warning so that the set loads and the proofs can run on it."""
    from koordrules.cli import main

    root = tmp_path / "criteria"
    shutil.copytree(criteria_dir(), root)
    for old, new in edits:
        line, column = edit(root, VARIANT, old, new)
    if token is None:  # the new rule: its "- id:" item, one line after "outcomes:"
        line, column = line + 1, 5
    else:
        line, column = edit(root, VARIANT, token, token)
    assert main(["check", "--lang", "en", str(root / VARIANT)]) == 1
    captured = capsys.readouterr()
    [message] = captured.out.splitlines()
    assert f"buk-nefrologi.yaml:{line}:{column}: {code}: " in message, message
    assert fix in message
    assert captured.err.endswith("1 set(s) checked: 1 error(s), 0 warning(s)\n")
    assert [d.severity for d in problems(root, VARIANT) if d.code == code] == ["warning"]


@pytest.mark.parametrize(("old", "new", "where", "code", "fix", "fix_nb"),
                         YAML_SLIPS + [(o, n, (0, off + 1), c, f, nb)
                                       for o, n, off, c, f, nb in EXPRESSION_SLIPS])
def test_check_prints_one_message_for_one_slip_and_no_false_lock_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str,
        where: tuple[int, int], code: str, fix: str, fix_nb: str) -> None:
    """The same slips through ``koordrules check`` on the whole catalogue, in bokmål: one
    line (not also a ``lock_stale`` or a ``base_has_errors`` per variant), with the fix."""
    from koordrules.cli import main

    root = tmp_path / "criteria"
    shutil.copytree(criteria_dir(), root)
    line, _ = edit(root, BASE, old, new)
    assert main(["check", str(root)]) == 1
    captured = capsys.readouterr()
    [message] = captured.out.splitlines()
    assert f"anbefaling-3.yaml:{line + where[0]}:" in message and f": {code}: " in message
    assert fix_nb in message
    assert captured.err.endswith(" 1 feil, 0 advarsler\n"), captured.err
