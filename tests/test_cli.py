"""The koordrules command: check, eval and explain, their output and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from koordrules.cli import main

SHIPPED = "helse-vest/anbefaling-3"
PATIENT = {
    "expected_followup_months": 12,
    "high_treatment_intensity": True,
    "involved_units": 3,
    "has_coordinator": False,
}


def run(*argv: str, stdin: str | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def patients(tmp_path: Path) -> Path:
    path = tmp_path / "patients.jsonl"
    rows = [PATIENT, {**PATIENT, "has_coordinator": True}, {"expected_followup_months": 2}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_check_shipped_catalogue_exits_zero() -> None:
    code, _, err = run("check", "--lang", "en", str(Path(__file__).parents[1] / "criteria"))
    assert code == 0, err
    assert "0 error(s)" in err


def test_check_reports_every_error_with_position_and_exits_one(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    source = (Path(__file__).parents[1] / "criteria/helse-vest/anbefaling-3.yaml").read_text(
        encoding="utf-8")
    source = source.replace("when: situation_indicates_need", "when: situation_indicates")
    source = source.replace("when: involved_units >= min_units_involved",
                            "when: involved_units >= true")
    broken.write_text(source, encoding="utf-8")
    code, out, _ = run("check", "--lang", "en", str(broken))
    assert code == 1
    lines = [line for line in out.splitlines() if ": warning: " not in line]
    assert len(lines) == 2
    assert lines[0].startswith(f"{broken}:") and "unknown_name" in lines[0]
    assert "type_error" in lines[1]
    line, column = lines[0].split(":")[1:3]
    assert source.splitlines()[int(line) - 1][int(column) - 1:].startswith("situation_indicates")


def test_check_missing_path_exits_one(tmp_path: Path) -> None:
    code, _, err = run("check", "--lang", "en", str(tmp_path / "nope.yaml"))
    assert code == 1
    assert "io_error" in err


def test_usage_error_exits_two() -> None:
    assert run("eval")[0] == 2
    assert run("frobnicate")[0] == 2


def test_eval_prints_one_json_result_per_record(patients: Path) -> None:
    code, out, _ = run("eval", SHIPPED, str(patients))
    assert code == 0
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["outcome"] for r in results] == [
        "coordinator_likely", "already_has_coordinator", None]
    assert results[2]["missing"] == ["has_coordinator"]
    assert all("trace" not in r for r in results)
    assert results[0]["criteria_set"]["id"] == SHIPPED


def test_eval_with_trace_and_redaction_hides_input_values(patients: Path) -> None:
    code, out, _ = run("eval", SHIPPED, str(patients), "--trace", "--redact")
    assert code == 0
    first = json.loads(out.splitlines()[0])
    assert first["trace"]["redacted"] is True
    criterion_a = first["trace"]["criteria"][0]["expression"]
    assert criterion_a["inputs"] is None
    assert criterion_a["children"][0]["text"] == "expected_followup_months"
    assert criterion_a["children"][0]["value"] == "<redacted>"
    assert criterion_a["children"][1]["value"] == 6  # a parameter, not patient data


def test_eval_reads_csv_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv_file = tmp_path / "p.csv"
    csv_file.write_text("expected_followup_months,lifelong_course,involved_units,"
                        "situation_indicates_need,has_coordinator\n8,true,1,ja,false\n",
                        encoding="utf-8")
    code, out, _ = run("eval", SHIPPED, str(csv_file))
    assert code == 0 and json.loads(out)["outcome"] == "coordinator_likely"
    code, out, _ = run("eval", SHIPPED, "-", stdin=json.dumps(PATIENT), monkeypatch=monkeypatch)
    assert code == 0 and json.loads(out)["outcome"] == "coordinator_likely"


def test_eval_bad_record_is_reported_and_others_still_evaluated(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps({"involved_units": "many"}) + "\nnot json\n"
                    + json.dumps(PATIENT) + "\n", encoding="utf-8")
    code, out, err = run("eval", SHIPPED, str(path))
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["error"]["code"] == "bad_input_value"
    assert lines[1]["error"]["code"] == "bad_json"
    assert lines[2]["outcome"] == "coordinator_likely"
    assert "many" not in err  # input values never reach stderr


def test_eval_lenient_turns_bad_values_into_unknown(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({**PATIENT, "involved_units": "many", "extra": 1}),
                    encoding="utf-8")
    code, out, _ = run("eval", SHIPPED, str(path), "--lenient")
    assert code == 0
    result = json.loads(out)
    assert result["criteria"]["D"] is None
    assert len(result["warnings"]) == 2


def test_eval_id_field_is_carried_and_not_an_input(patients: Path, tmp_path: Path) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text(json.dumps({"patient": "p1", **PATIENT}) + "\n", encoding="utf-8")
    code, out, _ = run("eval", SHIPPED, str(path), "--id-field", "patient")
    assert code == 0
    assert json.loads(out)["record_id"] == "p1"


def test_eval_unknown_set_exits_one(patients: Path) -> None:
    code, _, err = run("eval", "helse-vest/nope", str(patients))
    assert code == 1 and "not_found" in err


def test_explain_renders_bokmal_by_default_and_english_on_request(patients: Path) -> None:
    code, out, _ = run("explain", SHIPPED, str(patients))
    assert code == 0
    assert "Utfall: Koordinator er sannsynlig" in out
    assert "Oppfylt: A – Forventet langvarig oppfølging" in out
    assert "Dette kan avgjøre utfallet – spør om det" in out  # third record is undecided
    for code_name in ("at_least", "situation_indicates_need", "[JA]", ".yaml", "Teknisk"):
        assert code_name not in out  # code names and positions only with --verbose
    code, out, _ = run("explain", SHIPPED, str(patients), "--verbose")
    assert "[JA] A – Forventet langvarig oppfølging" in out
    assert "Teknisk (for den som vedlikeholder kriteriene)" in out
    assert "Opplysninger som mangler og kan avgjøre utfallet: has_coordinator" in out
    assert "(helse-vest/anbefaling-3.yaml:" in out  # relative to the catalogue
    code, out, _ = run("explain", SHIPPED, str(patients), "--lang", "en", "--verbose")
    assert "Outcome: A coordinator is likely" in out
    assert "[YES] A – Expected long-term follow-up" in out
    code, out, _ = run("explain", SHIPPED, str(patients), "--lang", "nn")
    assert code == 0
    assert "Ikkje oppfylt: A – Forventet langvarig oppfølging" in out
    assert "Nokre tekstar finst ikkje på nynorsk i kriteriefila" in out


def test_example_file_from_readme_evaluates() -> None:
    example = Path(__file__).parents[1] / "examples/anbefaling-3-patients.jsonl"
    code, out, _ = run("eval", SHIPPED, str(example), "--id-field", "patient")
    assert code == 0
    outcomes = {json.loads(line)["record_id"]: json.loads(line)["outcome"]
                for line in out.splitlines()}
    assert outcomes == {"eks-01": "coordinator_likely", "eks-02": "not_indicated",
                        "eks-03": "already_has_coordinator", "eks-04": None,
                        "eks-05": "coordinator_likely"}


def test_eval_python_backend_reads_parquet_by_its_suffix(patients: Path, tmp_path: Path
                                                         ) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [json.loads(line) for line in patients.read_text(encoding="utf-8").splitlines()]
    names = sorted({k for row in rows for k in row})
    parquet = tmp_path / "patients.parquet"
    pq.write_table(pa.Table.from_pylist([{k: row.get(k) for k in names} for row in rows]),
                   parquet)
    code, out, err = run("eval", SHIPPED, str(parquet), "--backend", "python")
    assert code == 0, err
    from_parquet = [json.loads(line) for line in out.splitlines()]
    _, out, _ = run("eval", SHIPPED, str(patients))
    assert from_parquet == [json.loads(line) for line in out.splitlines()]
    assert [r["outcome"] for r in from_parquet] == [
        "coordinator_likely", "already_has_coordinator", None]
    not_parquet = tmp_path / "text.parquet"
    not_parquet.write_text("expected_followup_months\n12\n", encoding="utf-8")
    code, _, err = run("eval", SHIPPED, str(not_parquet), "--backend", "python")
    assert code == 1 and "io_error" in err and "Parquet" in err
