"""check, test, lock and diff find the catalogue a path belongs to; --catalog everywhere;
case files lose no case to a neighbour's mistake; coverage gaps fail by default."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from koordrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
CRITERIA = ROOT / "criteria"
COHORT = ROOT / "examples" / "cohort.jsonl"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped catalogue as ``criteria/`` in the working directory."""
    shutil.copytree(CRITERIA, tmp_path / "criteria")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "criteria"


def test_check_a_folder_whose_variants_extend_a_set_in_another_folder(shipped: Path) -> None:
    # helse-bergen's variants extend helse-vest/anbefaling-3; before, this said unknown_base
    code, out, err = run("check", "--lang", "en", "criteria/helse-bergen")
    assert (code, out) == (0, ""), out + err
    sets = [p for p in (shipped / "helse-bergen").glob("*.yaml")
            if not p.name.endswith((".cases.yaml", ".mapping.yaml"))]
    assert len(sets) >= 2
    assert err == f"{len(sets)} set(s) checked: 0 error(s), 0 warning(s)\n"


def test_check_a_variant_file_and_from_inside_its_folder(
        shipped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("check", "--lang", "en", "criteria/helse-bergen/spinalenheten.yaml")[0] == 0
    monkeypatch.chdir(shipped / "helse-bergen")
    code, out, err = run("check", "--lang", "en", ".")
    assert (code, out) == (0, ""), out + err


def test_check_reports_only_the_problems_of_the_path_with_relative_paths(shipped: Path) -> None:
    path = shipped / "helse-bergen" / "spinalenheten.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("extends:", "extend:", 1), encoding="utf-8")
    code, out, _ = run("check", "--lang", "en", "criteria/helse-bergen")
    assert code == 1
    assert out.startswith("criteria/helse-bergen/spinalenheten.yaml:")
    assert str(shipped) not in out
    # the same catalogue error is not reported for another folder
    code, out, _ = run("check", "--lang", "en", "criteria/helse-vest")
    assert (code, out) == (0, ""), out


def test_check_catalog_names_the_catalogue(shipped: Path, tmp_path: Path) -> None:
    # a variant kept outside the catalogue: --catalog says where its base is
    outside = tmp_path / "utkast"
    outside.mkdir()
    shutil.copyfile(shipped / "helse-bergen" / "spinalenheten.yaml", outside / "v.yaml")
    (shipped / "helse-bergen" / "spinalenheten.yaml").unlink()
    code, out, _ = run("check", "--lang", "en", "--catalog", "criteria", "utkast/v.yaml")
    assert code == 0, out


def test_test_a_folder_whose_variants_extend_a_set_in_another_folder(shipped: Path) -> None:
    code, out, err = run("test", "criteria/helse-bergen")
    assert (code, out) == (0, ""), out + err
    files = len(list((shipped / "helse-bergen").glob("*.cases.yaml")))  # one per set
    assert files >= 2
    assert f"in {files} file(s):" in err and "0 failed, 0 error(s)" in err
    assert f"full coverage for {files}/{files} set(s)" in err


def test_lock_from_a_sub_folder_locks_its_catalogue(shipped: Path) -> None:
    code, _, err = run("lock", "criteria/helse-bergen")
    assert code == 0, err
    assert err.startswith("criteria/criteria.lock: unchanged")
    assert not (shipped / "helse-bergen" / "criteria.lock").exists()
    code, _, err = run("lock", "--catalog", "criteria/helse-vest")
    assert code == 0 and err.startswith("criteria/criteria.lock: unchanged"), err


def test_one_bad_case_is_reported_and_the_other_cases_still_run(shipped: Path) -> None:
    cases = shipped / "helse-vest" / "anbefaling-3.cases.yaml"
    text = cases.read_text(encoding="utf-8")
    total = text.count("  - name: ")
    cases.write_text(text.replace("involved_units: 5", 'involved_units: "5"', 1),
                     encoding="utf-8")
    code, out, err = run("test", "criteria/helse-vest", "--allow-incomplete-coverage")
    assert code == 1
    (line,) = [x for x in out.splitlines() if "bad_input_value" in x]
    assert line.startswith("criteria/helse-vest/anbefaling-3.cases.yaml:16:23: ")
    assert line.endswith("input 'involved_units' must be a number, got text (write the number "
                         "without quotes, with a point for decimals)")
    files = sorted((shipped / "helse-vest").glob("*.cases.yaml"))
    others = sum(1 for p in files
                 if p != cases for x in p.read_text(encoding="utf-8").splitlines()
                 if x.startswith("  - name: "))
    assert f"{total - 1 + others} case(s) in {len(files)} file(s):" in err
    assert "1 error(s)" in err


def test_coverage_gaps_fail_by_default(shipped: Path) -> None:
    cases = shipped / "helse-bergen" / "spinalenheten.cases.yaml"
    sets = len(list((shipped / "helse-bergen").glob("*.cases.yaml")))  # one per set
    cases.unlink()
    code, out, err = run("test", "criteria/helse-bergen")
    assert code == 1
    assert "helse-bergen/spinalenheten@" in out and "0 case(s)" in out
    assert f"full coverage for {sets - 1}/{sets} set(s)" in err
    code, _, _ = run("test", "criteria/helse-bergen", "--allow-incomplete-coverage")
    assert code == 0


def test_diff_finds_ids_in_the_catalogue_of_a_file(shipped: Path) -> None:
    code, out, err = run("diff", "helse-forde/pilot-2023@1.0.0",
                         "criteria/helse-forde/pilot-2023-2.0.0.yaml", str(COHORT), "--lang",
                         "en")
    assert code == 0, err
    assert out.startswith("Revision impact: helse-forde/pilot-2023 1.0.0 → 2.0.0, ")


@pytest.mark.parametrize("command", [
    ("diff", "helse-forde/pilot-2023@1.0.0", "helse-forde/pilot-2023@2.0.0", str(COHORT)),
    ("eval", "--summary", "helse-forde/pilot-2023@1.0.0", str(COHORT)),
])
def test_by_a_field_no_record_has_is_an_error_with_the_likely_field(
        command: tuple[str, ...]) -> None:
    code, out, err = run(*command, "--by", "unti")
    assert (code, out) == (1, "")
    assert err.startswith("--by unti: no record has a field 'unti' (the records have: ")
    assert err.endswith("; did you mean 'unit'?\n")
    assert run(*command, "--by", "unit")[0] == 0
