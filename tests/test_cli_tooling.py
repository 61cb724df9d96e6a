"""The tooling commands: test, diff, eval --summary, lock, check with a lock, explain --result."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from koordrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
CRITERIA = ROOT / "criteria"
PILOT_OLD, PILOT_NEW = "helse-forde/pilot-2023@1.0.0", "helse-forde/pilot-2023@2.0.0"
COHORT = ROOT / "examples" / "cohort.jsonl"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the Anbefaling 3 set and its cases, locked."""
    (tmp_path / "helse-vest").mkdir()
    for name in ("anbefaling-3.yaml", "anbefaling-3.cases.yaml"):  # the published 1.0.0 files
        shutil.copyfile(CRITERIA / "helse-vest" / name.replace("-3.", "-3-1.0.0."),
                        tmp_path / "helse-vest" / name)
    code, _, err = run("lock", str(tmp_path))
    assert code == 0, err
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- koordrules test ---------------------------------------------------------------------------


def test_test_passes_on_the_shipped_catalogue_with_full_coverage() -> None:
    code, out, err = run("test", str(CRITERIA), "--coverage", "--require-full-coverage")
    assert code == 0, out + err
    assert "helse-vest/anbefaling-3@1.0.0: 16/16 items reached" in out
    assert "not reached" not in out
    assert "0 failed, 0 error(s)" in err and "full coverage for" in err


def test_test_defaults_to_the_shipped_catalogue() -> None:
    code, _, err = run("test")
    assert code == 0, err
    assert "passed, 0 failed" in err


def test_a_single_case_file_runs_against_the_catalogue_of_its_lock(tree: Path) -> None:
    variant = tree / "variants" / "v.yaml"
    variant.parent.mkdir()
    variant.write_text("id: test/v\nversion: 1.0.0\nextends: helse-vest/anbefaling-3@1.0.0\n"
                       "title: V\nstatus: draft\neffective_from: 2024-01-01\n"
                       "source: {document: T}\nparameters:\n  long_term_months: {value: 3}\n",
                       encoding="utf-8")
    (variant.parent / "v.cases.yaml").write_text(
        "set: test/v@1.0.0\ncases:\n  - name: four months is long now\n"
        "    inputs: {expected_followup_months: 4}\n    expect: {outcome: null, "
        "criteria: {A: true}}\n", encoding="utf-8")
    code, out, err = run("test", str(variant.parent / "v.cases.yaml"), "--coverage",
                         "--allow-incomplete-coverage")
    assert code == 0, out + err
    assert out.startswith("test/v@1.0.0: ") and "anbefaling-3" not in out
    assert "1 case(s) in 1 file(s): 1 passed" in err


def test_a_failing_case_prints_expected_actual_and_trace_and_exits_one(tree: Path) -> None:
    cases = tree / "helse-vest" / "anbefaling-3.cases.yaml"
    edit(cases, "      outcome: already_has_coordinator",
         "      outcome: not_indicated")
    code, out, err = run("test", str(tree), "--lang", "en")
    assert code == 1
    assert out.startswith(f"FAIL {cases}:")
    assert ": har allerede koordinator – går foran alt annet\n" in out
    assert "  outcome: expected not_indicated, got already_has_coordinator\n" in out
    assert "1. already_has_coordinator: has_coordinator → YES  ← chosen" in out
    assert "1 failed, 0 error(s)" in err


def test_case_file_errors_are_printed_with_positions_and_exit_one(tree: Path) -> None:
    cases = tree / "helse-vest" / "anbefaling-3.cases.yaml"
    edit(cases, "      lifelong_course: true\n      involved_units: 3",
         "      lifelong: true\n      involved_units: 3")
    code, out, err = run("test", str(tree))
    assert code == 1
    (line,) = out.splitlines()
    assert line.startswith(f"{cases}:") and ": unknown_input: 'lifelong'" in line
    assert "1 error(s)" in err


def test_incomplete_coverage_lists_unreached_items_and_can_fail(tree: Path) -> None:
    cases = tree / "helse-vest" / "anbefaling-3.cases.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text[: text.index("  - name: A, B og D")], encoding="utf-8")
    code, out, err = run("test", str(tree), "--coverage", "--allow-incomplete-coverage")
    assert code == 0, err
    assert "helse-vest/anbefaling-3@1.0.0: 5/16 items reached by 1 case(s)" in out
    assert "not reached by any case: criterion A = false;" in out
    assert "full coverage for 0/1 set(s)" in err
    for options in ((), ("--require-full-coverage",)):  # failing is the default
        code, out, _ = run("test", str(tree), *options)
        assert code == 1
        assert "outcome coordinator_likely" in out


def test_a_set_without_cases_is_incomplete(tree: Path) -> None:
    (tree / "helse-vest" / "anbefaling-3.cases.yaml").unlink()
    code, out, err = run("test", str(tree))
    assert code == 1
    assert "0/16 items reached by 0 case(s)" in out
    assert "0 case(s) in 0 file(s)" in err


def test_properties_without_the_testing_module_exit_two(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "koordrules.testing", None)
    code, _, err = run("test", str(tree), "--properties")
    assert code == 2
    assert "--properties needs koordrules.testing" in err


def test_properties_are_run_on_the_catalogue_sets(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls: list[tuple[list[str], int, int | None]] = []

    def fake(sets, *, examples, seed, out):  # type: ignore[no-untyped-def]
        calls.append(([cs.key for cs in sets], examples, seed))
        out.write("properties: ok\n")
        return 1

    module = types.ModuleType("koordrules.testing")
    module.run_properties = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "koordrules.testing", module)
    code, out, _ = run("test", str(tree), "--properties", "--examples", "7", "--seed", "3")
    assert calls == [(["helse-vest/anbefaling-3@1.0.0"], 7, 3)]
    assert code == 1 and "properties: ok" in out


# --- koordrules diff / eval --summary ----------------------------------------------------------


@pytest.fixture
def two_versions(tree: Path) -> Path:
    source = tree / "helse-vest" / "anbefaling-3.yaml"
    newer = tree / "helse-vest" / "anbefaling-3-v1.1.yaml"
    newer.write_text(source.read_text(encoding="utf-8").replace(
        "version: 1.0.0", "version: 1.1.0").replace("    value: 6\n", "    value: 12\n"),
        encoding="utf-8")
    return tree


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    rows = [
        {"id": "r1", "unit": "x", "has_coordinator": False, "expected_followup_months": 9,
         "lifelong_course": True, "involved_units": 3},
        {"id": "r2", "unit": "y", "has_coordinator": False, "expected_followup_months": 24,
         "lifelong_course": True, "involved_units": 3},
        {"id": "r3", "unit": "y", "has_coordinator": True},
    ]
    path = tmp_path / "cohort.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_diff_prints_matrix_shares_groups_and_changed_criteria(
        two_versions: Path, cohort: Path) -> None:
    code, out, err = run("diff", "helse-vest/anbefaling-3@1.0.0", "helse-vest/anbefaling-3@1.1.0",
                         str(cohort), "--catalog", str(two_versions), "--by", "unit",
                         "--id-field", "id", "--lang", "en")
    assert code == 0, err
    assert out.startswith("Revision impact: helse-vest/anbefaling-3 1.0.0 → 1.1.0, 3 record(s)")
    row = next(line for line in out.splitlines() if line.startswith("  2 A coordinator"))
    assert row.split()[-5:] == ["0", "1", "1", "0", "2"]
    assert "  flagged          3 (100.0%)  2 (66.7%)" in out
    assert "By unit:" in out
    assert ("  r1 [x]: A coordinator is likely → The criteria are not met; A: true → false"
            in out)
    assert max(len(line) for line in out.splitlines()) <= 80
    code, out, err = run("diff", "helse-vest/anbefaling-3@1.0.0", "helse-vest/anbefaling-3@1.1.0",
                         str(cohort), "--catalog", str(two_versions), "--id-field", "id")
    assert out.startswith("Konsekvenser av endringen: helse-vest/anbefaling-3 1.0.0 → 1.1.0, "
                          "3 pasient(er)")
    assert "  r1: Koordinator er sannsynlig → Kriteriene er ikke oppfylt; A: ja → nei" in out


def test_diff_json_is_the_report_model(two_versions: Path, cohort: Path) -> None:
    code, out, _ = run("diff", "helse-vest/anbefaling-3@1.0.0", "helse-vest/anbefaling-3@1.1.0",
                       str(cohort), "--catalog", str(two_versions), "--format", "json",
                       "--by", "unit")
    assert code == 0
    data = json.loads(out)
    assert data["changed"] == 1 and data["old"]["flagged"] == 3 and data["new"]["flagged"] == 2
    assert [g["group"] for g in data["groups"]] == ["x", "y"]
    assert data["changed_records"][0]["criteria"] == [
        {"name": "A", "old": True, "new": False, "only_in": None}]


def test_diff_accepts_files_and_reports_unreadable_records(tree: Path, tmp_path: Path) -> None:
    cohort = tmp_path / "c.csv"
    cohort.write_text("id,involved_units,has_coordinator\na,2,false\nb,many,false\n",
                      encoding="utf-8")
    path = str(tree / "helse-vest" / "anbefaling-3.yaml")
    code, out, err = run("diff", path, path, str(cohort))
    assert code == 1
    assert f"{cohort}:3:1: bad_input_value" in err and "many" not in err
    assert ", 1 pasient(er)" in out.splitlines()[0]


def test_eval_summary_counts_outcomes_by_group(cohort: Path) -> None:
    code, out, err = run("eval", "helse-vest/anbefaling-3", str(cohort), "--summary",
                         "--by", "unit")
    assert code == 0, err
    assert out.startswith("helse-vest/anbefaling-3@1.0.2: 3 record(s)\n")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:9] if line}
    assert rows["coordinator_likely"] == ["2", "66.7%"]
    assert rows["already_has_coordinator"] == ["1", "33.3%"]
    assert rows["flagged"] == ["3", "100.0%"]
    assert "By unit:" in out


@pytest.mark.skipif(not COHORT.exists() or not (CRITERIA / "helse-forde").exists(),
                    reason="the Førde pilot sets and example cohort are not in the tree yet")
def test_pilot_two_flags_fewer_patients_than_pilot_one() -> None:
    code, out, err = run("diff", PILOT_OLD, PILOT_NEW, str(COHORT), "--catalog", str(CRITERIA),
                         "--format", "json", "--id-field", "patient", "--by", "unit")
    assert code == 0, err
    data = json.loads(out)
    assert data["new"]["flagged"] < data["old"]["flagged"]
    assert data["changed_records"] and all(c["criteria"] for c in data["changed_records"])
    assert all(c["id"] for c in data["changed_records"])
    # 2.0.0 is narrower: nobody goes from not flagged under 1.0.0 to flagged under 2.0.0
    flagged_old, flagged_new = data["old"]["flagged_outcomes"], data["new"]["flagged_outcomes"]
    assert not [t for t in data["transitions"] if t["count"] and t["new"] in flagged_new
                and t["old"] not in flagged_old]
    code, out, _ = run("diff", PILOT_OLD, PILOT_NEW, str(COHORT), "--catalog", str(CRITERIA),
                       "--id-field", "patient", "--limit", "3", "--lang", "en")
    assert "Changed records (3 / " in out and "more changed record(s) not shown" in out


# --- lock, check, explain --result -------------------------------------------------------------


def test_check_fails_when_a_locked_set_changes_without_a_new_version(tree: Path) -> None:
    source = tree / "helse-vest" / "anbefaling-3.yaml"
    assert run("check", "--lang", "en", str(tree))[0] == 0
    edit(source, "    value: 6\n", "    value: 9\n")
    code, out, err = run("check", "--lang", "en", str(tree))
    assert code == 1
    assert f"{source}:16:10: version_not_bumped:" in out
    assert "1 error(s)" in err
    code, out, err = run("lock", str(tree))
    assert code == 1 and "version_not_bumped" in out and "not written" in err


def test_check_lists_sets_missing_from_the_lock(tree: Path) -> None:
    edit(tree / "helse-vest" / "anbefaling-3.yaml", "version: 1.0.0", "version: 1.0.1")
    edit(tree / "helse-vest" / "anbefaling-3.yaml", "  - version: 1.0.0", "  - version: 1.0.1")
    code, out, _ = run("check", "--lang", "en", str(tree))
    assert code == 1
    assert "lock_missing: helse-vest/anbefaling-3@1.0.1 is not in" in out
    assert "warning: lock_stale: helse-vest/anbefaling-3@1.0.0" in out
    code, out, _ = run("lock", str(tree))
    assert code == 0 and out == "added helse-vest/anbefaling-3@1.0.1\n"
    assert run("check", "--lang", "en", str(tree), "-q")[0] == 0


def test_explain_result_re_explains_under_the_stored_version(
        tree: Path, tmp_path: Path) -> None:
    record = tmp_path / "p.jsonl"
    record.write_text(json.dumps({"id": "p1", "has_coordinator": False,
                                  "expected_followup_months": 12, "lifelong_course": True,
                                  "involved_units": 3}) + "\n", encoding="utf-8")
    stored = tmp_path / "stored.json"
    code, out, _ = run("eval", "helse-vest/anbefaling-3", str(record), "--catalog", str(tree),
                       "--id-field", "id")
    assert code == 0
    stored.write_text(out, encoding="utf-8")
    code, out, err = run("explain", "--result", str(stored), str(record), "--catalog",
                         str(tree), "--id-field", "id", "--lang", "en")
    assert code == 0, err
    assert out.startswith("record p1\nRe-explained under helse-vest/anbefaling-3@1.0.0")
    assert "every stored field verified" in out and "A coordinator is likely" in out

    # the file changes without a new version: the stored result no longer matches
    edit(tree / "helse-vest" / "anbefaling-3.yaml", "    value: 6\n", "    value: 9\n")
    code, out, err = run("explain", "--result", str(stored), str(record), "--catalog",
                         str(tree), "--id-field", "id")
    assert code == 1 and out == ""
    assert err.startswith(f"{stored}: hash_mismatch: the stored result was made with "
                          "helse-vest/anbefaling-3@1.0.0 with sha256")

    # the version is gone
    edit(tree / "helse-vest" / "anbefaling-3.yaml", "version: 1.0.0", "version: 2.0.0")
    edit(tree / "helse-vest" / "anbefaling-3.yaml", "  - version: 1.0.0", "  - version: 2.0.0")
    code, _, err = run("explain", "--result", str(stored), str(record), "--catalog",
                       str(tree))
    assert code == 1
    assert "version_gone" in err and "it has 2.0.0" in err


def test_explain_result_flags_a_record_that_is_not_the_stored_one(
        tree: Path, tmp_path: Path) -> None:
    record = tmp_path / "p.json"
    record.write_text(json.dumps({"has_coordinator": True}), encoding="utf-8")
    stored = tmp_path / "stored.json"
    stored.write_text(run("eval", "helse-vest/anbefaling-3", str(record))[1], encoding="utf-8")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"has_coordinator": False}), encoding="utf-8")
    code, _, err = run("explain", "--result", str(stored), str(other))
    assert code == 1 and "result_differs" in err and "outcome" in err


def test_explain_needs_a_set_or_a_stored_result(tmp_path: Path) -> None:
    code, _, err = run("explain", str(tmp_path / "x.json"))
    assert code == 2 and "give either SET INPUT, or --result STORED INPUT" in err
