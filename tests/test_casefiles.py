"""Case files (*.cases.yaml): checking against the set, running, coverage, failure text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from koordrules import Catalog, CriteriaError
from koordrules.cases import (
    CaseFile,
    case_files,
    check_case_file,
    read_case_text,
    render_failure,
    run_cases,
    run_suite,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "criteria" / "helse-vest"

HEAD = "set: helse-vest/anbefaling-3@1.0.0\ncases:\n"
LIKELY = """\
  - name: likely
    inputs: {has_coordinator: false, expected_followup_months: 12, lifelong_course: true,
             involved_units: 3}
    expect: {outcome: coordinator_likely}
"""


@pytest.fixture(scope="module")
def shipped_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Anbefaling 3 and its case file, alone in a folder."""
    folder = tmp_path_factory.mktemp("a3")
    for name in ("anbefaling-3-1.0.0.yaml", "anbefaling-3-1.0.0.cases.yaml"):
        shutil.copyfile(SHIPPED / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def catalog(shipped_dir: Path) -> Catalog:
    return Catalog.load(shipped_dir)


def problems(text: str, catalog: Catalog) -> list[str]:
    spec, doc = read_case_text(text, file="x.cases.yaml")
    try:
        loaded = check_case_file(spec, doc, catalog)
    except CriteriaError as ex:
        return [str(d) for d in ex.diagnostics]
    assert loaded.problems, "expected problems"
    return [str(d) for d in loaded.problems]


def test_shipped_cases_pass_with_full_coverage(catalog: Catalog, shipped_dir: Path) -> None:
    suite = run_suite(catalog, case_files(shipped_dir))
    assert suite.diagnostics == []
    assert len(suite.results) >= 8
    assert suite.failures == []
    (cov,) = suite.coverage()
    assert cov.complete, cov.unreached()


def test_unknown_input_is_an_error_at_its_key(catalog: Catalog) -> None:
    text = HEAD + LIKELY.replace("lifelong_course", "lifelong")
    (message,) = problems(text, catalog)
    assert message.startswith("x.cases.yaml:4:78: unknown_input:")
    assert "'lifelong'" in message


def test_wrong_input_type_is_an_error_with_position(catalog: Catalog) -> None:
    text = HEAD + LIKELY.replace("involved_units: 3", "involved_units: three")
    (message,) = problems(text, catalog)
    assert message.startswith("x.cases.yaml:5:30: bad_input_value: input 'involved_units'")


def test_unknown_set_is_an_error_at_the_set_field(catalog: Catalog) -> None:
    text = HEAD.replace("@1.0.0", "@9.0.0") + LIKELY
    (message,) = problems(text, catalog)
    assert message.startswith("x.cases.yaml:1:6: unknown_set:")
    assert "no version '9.0.0'" in message


def test_unknown_outcome_criterion_and_missing_input_are_errors(catalog: Catalog) -> None:
    text = HEAD + """\
  - name: bad expectations
    inputs: {}
    expect:
      outcome: likely
      criteria: {A: true, E: false}
      missing: [nothing_here]
"""
    found = problems(text, catalog)
    assert [m.split(": ")[1] for m in found] == ["unknown_outcome", "unknown_criterion",
                                                 "unknown_input"]
    assert found[0].startswith("x.cases.yaml:6:16:")
    assert found[1].startswith("x.cases.yaml:7:30:")
    assert found[2].startswith("x.cases.yaml:8:17:")


def test_duplicate_case_names_are_an_error(catalog: Catalog) -> None:
    found = problems(HEAD + LIKELY + LIKELY, catalog)
    assert len(found) == 1 and "duplicate_case" in found[0]


def test_schema_errors_have_positions() -> None:
    with pytest.raises(CriteriaError) as info:
        read_case_text(HEAD + "  - name: x\n    expect: {outcome: a, extra: 1}\n",
                       file="x.cases.yaml")
    assert [str(d) for d in info.value.diagnostics] == [
        "x.cases.yaml:4:26: schema_error: unknown field 'cases.0.expect.extra'"]


def test_expected_outcome_is_required_but_may_be_null() -> None:
    with pytest.raises(CriteriaError, match="missing field"):
        read_case_text(HEAD + "  - name: x\n    expect: {criteria: {A: true}}\n")
    spec, _ = read_case_text(HEAD + "  - name: x\n    expect: {outcome: null}\n")
    assert spec.cases[0].expect.outcome is None


def test_criterion_expectations_are_strict_booleans() -> None:
    with pytest.raises(CriteriaError, match="schema_error"):
        read_case_text(HEAD + "  - name: x\n    expect: {outcome: null, criteria: {A: 1}}\n")


def test_failures_name_expected_and_actual_and_show_the_differing_trace(
        catalog: Catalog) -> None:
    text = HEAD + LIKELY.replace("outcome: coordinator_likely",
                                 "outcome: not_indicated, criteria: {D: false, A: true}")
    spec, doc = read_case_text(text, file="x.cases.yaml")
    (run,) = run_cases(check_case_file(spec, doc, catalog))
    assert not run.passed
    assert [(m.what, m.name, m.expected, m.actual) for m in run.mismatches] == [
        ("outcome", None, "not_indicated", "coordinator_likely"),
        ("criterion", "D", False, True),
    ]
    text = render_failure(run, lang="en")
    assert text.startswith("FAIL x.cases.yaml:3:5: helse-vest/anbefaling-3@1.0.0: likely\n")
    assert "  outcome: expected not_indicated, got coordinator_likely\n" in text
    assert "  criterion D: expected false, got true\n" in text
    assert "trace of criterion D" in text and "involved_units = 3" in text
    assert "trace of criterion A" not in text  # A matched its expectation
    assert "2. coordinator_likely: A and at_least(min_of_b_to_d, B, C, D) → YES  ← chosen" in text


def test_missing_is_compared_exactly(catalog: Catalog) -> None:
    text = HEAD + """\
  - name: C decides
    inputs: {has_coordinator: false, expected_followup_months: 12, lifelong_course: true,
             involved_units: 1}
    expect: {outcome: null, missing: [situation_indicates_need, involved_units]}
"""
    loaded = check_case_file(*read_case_text(text), catalog)
    assert [d.code for d in loaded.problems] == ["not_missing"]
    assert run_cases(loaded) == []
    text = text.replace(", involved_units]", ", lifelong_course]").replace(
        "lifelong_course: true,", "")
    (run,) = run_cases(check_case_file(*read_case_text(text), catalog))
    assert [(m.what, m.expected, m.actual) for m in run.mismatches] == [
        ("missing", ["lifelong_course", "situation_indicates_need"],
         ["high_treatment_intensity", "individually_adapted_pathway", "lifelong_course",
          "newly_diagnosed_chronic", "situation_indicates_need", "transition_child_to_adult"])]


def test_coverage_lists_what_no_case_reaches(tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / "one.cases.yaml").write_text(HEAD + LIKELY, encoding="utf-8")
    suite = run_suite(catalog, case_files(tmp_path))
    assert suite.failures == []
    (cov,) = suite.coverage()
    assert not cov.complete
    unreached = cov.unreached()
    assert "criterion A = true" not in unreached
    assert "criterion A = false" in unreached and "criterion C = unknown" not in unreached
    assert "outcome already_has_coordinator" in unreached
    assert "outcome not_indicated" in unreached and "an undetermined outcome" in unreached
    lines = cov.lines()
    assert lines[0] == "helse-vest/anbefaling-3@1.0.0: 5/16 items reached by 1 case(s)"
    assert lines[-1].startswith("  not reached by any case: criterion A = false;")


def test_a_set_without_cases_reaches_nothing(tmp_path: Path, catalog: Catalog) -> None:
    suite = run_suite(catalog, [])
    (cov,) = suite.coverage()
    assert cov.cases == 0 and len(cov.unreached()) == cov.total == 16


def test_case_file_errors_do_not_stop_other_files(tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / "a.cases.yaml").write_text(HEAD + LIKELY, encoding="utf-8")
    (tmp_path / "b.cases.yaml").write_text("set: [1\n", encoding="utf-8")
    suite = run_suite(catalog, case_files(tmp_path))
    assert len(suite.results) == 1 and suite.results[0].passed
    assert [d.code for d in suite.diagnostics] == ["yaml_error"]
    assert suite.diagnostics[0].file is not None
    assert suite.diagnostics[0].file.endswith("b.cases.yaml")


def test_case_files_finds_only_case_files(tmp_path: Path, shipped_dir: Path) -> None:
    shutil.copytree(shipped_dir, tmp_path / "c")
    assert [p.name for p in case_files(tmp_path)] == ["anbefaling-3-1.0.0.cases.yaml"]
    assert case_files(tmp_path / "c" / "anbefaling-3-1.0.0.yaml") == []


def test_case_file_json_schema_describes_the_fields() -> None:
    schema = CaseFile.model_json_schema()
    assert schema["required"] == ["set", "cases"]
    assert schema["additionalProperties"] is False
    text = json.dumps(schema)
    assert "means the outcome must be undetermined" in text
