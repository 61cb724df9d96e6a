"""The spark backend beyond the conformance corpus: the shipped sets' case files, Spark
DataFrames as input (validation, strict and lenient), Parquet read by Spark, and
``eval --backend spark``. Runs on the conformance target's local session; skips without
pyspark or java."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from conformance import spark as local

import koordrules
from koordrules import Catalog, KoordError
from koordrules.cases import case_files, load_cases

if not local.usable():
    pytest.skip("pyspark and java are needed for the spark backend", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
CRITERIA = ROOT / "criteria"
A3 = koordrules.Catalog.load(CRITERIA).get("helse-vest/anbefaling-3")


@pytest.fixture(scope="module")
def spark() -> Any:
    return local.session()


@pytest.mark.parametrize("path", case_files(CRITERIA), ids=lambda p: p.name)
def test_the_shipped_cases_pass_on_spark(path: Path, spark: Any) -> None:
    loaded = load_cases(path, Catalog.load(CRITERIA))
    cases = loaded.spec.cases
    program = koordrules.compile(loaded.criteria_set)
    rows = local.evaluate(program, [c.inputs for c in cases])
    assert len(rows) == len(cases)
    for case, row in zip(cases, rows, strict=True):
        expect = case.expect
        assert row["outcome"] == expect.outcome, case.name
        for name, value in (expect.criteria or {}).items():
            assert row[name] is value, f"{case.name}: {name}"
        if expect.missing is not None:
            assert row["missing"] == sorted(set(expect.missing)), case.name
        assert row["outcome"] == koordrules.evaluate(loaded.criteria_set, case.inputs).outcome


def _frame(spark: Any, rows: list[dict[str, Any]], schema: str) -> Any:
    return spark.createDataFrame(rows, schema=schema)


def test_a_spark_dataframe_gives_the_interpreters_rows_with_text_dates(spark: Any) -> None:
    program = koordrules.compile(A3)
    records = [
        {"has_coordinator": False, "expected_followup_months": 12, "lifelong_course": True,
         "involved_units": 3},
        {"has_coordinator": None, "expected_followup_months": 2, "lifelong_course": None,
         "involved_units": None},
        {"has_coordinator": True, "expected_followup_months": None, "lifelong_course": False,
         "involved_units": 1},
    ]
    schema = ("has_coordinator boolean, expected_followup_months int, lifelong_course boolean,"
              " involved_units long")
    result = program.evaluate_batch(_frame(spark, records, schema), backend="spark")
    assert result.columns == ["outcome", *program.criteria_names, "missing"]
    got = [r.asDict(recursive=True) for r in result.collect()]
    for row, record in zip(got, records, strict=True):
        want = koordrules.evaluate(A3, {k: v for k, v in record.items() if v is not None})
        assert row["outcome"] == want.outcome
        assert list(row["missing"]) == list(want.missing)
        assert {n: row[n] for n in program.criteria_names} == dict(want.criteria)


def test_bad_spark_columns_are_typed_errors_or_nulls(spark: Any) -> None:
    program = koordrules.compile(A3)
    schema = "has_coordinator boolean, involved_units long, note string"
    frame = _frame(spark, [{"has_coordinator": False, "involved_units": -4, "note": "x"}],
                   schema)
    with pytest.raises(KoordError) as info:
        program.evaluate_batch(frame, backend="spark")
    assert info.value.code == "unknown_input"
    with pytest.raises(KoordError) as info:
        program.evaluate_batch(frame, backend="spark", ignore=frozenset({"note"}))
    assert info.value.code == "bad_input_value" and "-4" not in info.value.message
    lenient = program.evaluate_batch(frame, backend="spark", strict=False).collect()
    assert len(lenient) == 1
    want = koordrules.evaluate(A3, {"has_coordinator": False})
    assert lenient[0]["outcome"] == want.outcome
    typed = _frame(spark, [{"has_coordinator": "no"}], "has_coordinator string")
    with pytest.raises(KoordError) as info:
        program.evaluate_batch(typed, backend="spark")
    assert info.value.code == "bad_input_value"


def test_parquet_is_read_by_spark_and_cli_eval_writes_ndjson(tmp_path: Path,
                                                             spark: Any) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from koordrules.cli import main

    records = [json.loads(line) for line in
               (ROOT / "examples" / "anbefaling-3-patients.jsonl").read_text().splitlines()]
    inputs = [{d.name: r.get(d.name) for d in A3.inputs} for r in records]
    path = tmp_path / "cohort.parquet"
    pq.write_table(pa.Table.from_pylist(inputs), path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["eval", "helse-vest/anbefaling-3", str(path), "--backend", "spark"],
                out=out, err=err) == 0, err.getvalue()
    got = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [g["outcome"] for g in got] == [
        koordrules.evaluate(A3, {k: v for k, v in r.items() if v is not None}).outcome
        for r in inputs]


def test_spark_rows_carry_the_id_and_kept_columns(spark: Any) -> None:
    from koordrules.backends import evaluate_batch

    with (ROOT / "examples" / "cohort.jsonl").open(encoding="utf-8") as f:
        records = [json.loads(line) for _, line in zip(range(200), f, strict=False)]
    names = {d.name for d in A3.inputs}
    program = koordrules.compile(A3)
    expected = {r["patient"]: (r["unit"], koordrules.evaluate(
        A3, {k: v for k, v in r.items() if k in names}).outcome) for r in records}
    rows = [{k: v for k, v in r.items() if k in names or k in ("patient", "unit")}
            for r in records]
    frame = spark.createDataFrame(
        [{**{d.name: r.get(d.name) for d in A3.inputs}, "patient": r["patient"],
          "unit": r["unit"]} for r in rows],
        schema=", ".join([f"{d.name} {_SPARK_TYPE[d.type]}" for d in A3.inputs]
                         + ["patient string", "unit string"]))
    for data in (rows, frame):
        result = evaluate_batch(program, data, backend="spark", id_field="patient",
                                keep=["unit"])
        assert result.columns[:3] == ["patient", "unit", "outcome"]
        got = {r["patient"]: (r["unit"], r["outcome"]) for r in result.collect()}
        assert got == expected
    with pytest.raises(KoordError) as info:
        evaluate_batch(program, frame, backend="spark", id_field="patient",
                       keep=["unit", "ward"])
    assert info.value.code == "unknown_column"


_SPARK_TYPE = {"boolean": "boolean", "integer": "bigint", "number": "double"}


def test_a_bulk_fhir_export_on_spark_gives_the_embedded_rows(spark: Any) -> None:
    """issue 14 item 5: the public 10-patient export grouped by patient and mapped on the
    executors, evaluated in Spark SQL: the embedded screen's row for every patient."""
    import datetime as dt

    pytest.importorskip("fhirpathpy")
    from koordrules import fhir
    from koordrules.fhir.cohort import screen_export
    from koordrules.fhir.spark import screen_export_spark

    bulk = ROOT / "examples" / "fhir" / "synthea" / "bulk-10"
    day = dt.date(2023, 1, 1)
    names = [c.name for c in A3.criteria]
    rows: list[dict[str, Any]] = []
    screen_export(A3, fhir.find_mapping("helse-vest/anbefaling-3-fhir"), bulk, rows.extend,
                  as_of=day, workers=1)
    frame, summary = screen_export_spark(
        "helse-vest/anbefaling-3", "helse-vest/anbefaling-3-fhir", bulk, as_of=day,
        catalog=str(CRITERIA), spark=spark)
    assert (summary.patients, summary.bad_lines, summary.failed, summary.problems) == (
        13, 0, 0, ())
    assert frame.columns == ["patient", "outcome", *names, "missing"]
    got = {r["patient"]: (r["outcome"], *(r[n] for n in names), list(r["missing"]))
           for r in frame.collect()}
    assert len(got) == 13
    assert got == {r["patient"]: (r["outcome"], *(r[n] for n in names), r["missing"])
                   for r in rows}


def test_cli_screens_an_export_folder_on_spark(spark: Any) -> None:
    pytest.importorskip("fhirpathpy")
    from koordrules.cli import main

    out, err = io.StringIO(), io.StringIO()
    bulk = ROOT / "examples" / "fhir" / "synthea" / "bulk-10"
    base = ["eval", "helse-vest/anbefaling-3", str(bulk), "--from-fhir",
            "helse-vest/anbefaling-3-fhir", "--as-of", "2023-01-01"]
    assert main([*base, "--backend", "spark"], out=out, err=err) == 0, err.getvalue()
    embedded = io.StringIO()
    assert main([*base, "--workers", "1"], out=embedded, err=io.StringIO()) == 0
    assert sorted(out.getvalue().splitlines()) == sorted(embedded.getvalue().splitlines())
    assert len(out.getvalue().splitlines()) == 13


def _broken_export(folder: Path) -> dict[str, int]:
    """A copy of the public 10-patient export with bad lines injected in the middle of a
    file and at its end, a blank line, a CRLF line and a resource of no patient of the
    export. Returns the line numbers of the bad lines."""
    import shutil

    shutil.copytree(ROOT / "examples" / "fhir" / "synthea" / "bulk-10", folder)
    encounters = folder / "Encounter.000.ndjson"
    lines = encounters.read_bytes().split(b"\n")
    assert lines[-1] == b""  # the file ends with a newline
    lines[599] = lines[599] + b"\r"  # a CRLF line: read as the same resource
    lines.insert(700, b"{\"resourceType\": \"Encounter\", \"id\": ")  # cut short
    lines.insert(701, b"")  # blank: skipped, but counted in the line numbers
    lines.insert(900, b"{\"resourceType\": \"Encounter\", \"subject\": \"\xff\xfe\"}")
    lines.insert(1000, b"[1, 2]")
    lines.insert(1001, b"{\"resourceType\": \"Encounter\", \"id\": \"x\", \"subject\": "
                       b"{\"reference\": \"Patient/nobody\"}}")
    lines[-1:] = [b"{not json", b""]
    encounters.write_bytes(b"\n".join(lines))
    return {"json_error": 701, "bad_encoding": 901, "fhir_invalid_resource": 1001,
            "end": len(lines) - 1}


def test_bad_lines_of_a_bulk_export_on_spark_are_the_embedded_screens_problems(
        spark: Any, tmp_path: Path) -> None:
    """issue 14: every bad line of an export screened on Spark is a typed error with its
    file and line number, counted, as in the embedded screen; lines are numbered across
    the splits Spark reads a file in (here 64 KB each)."""
    import datetime as dt

    pytest.importorskip("fhirpathpy")
    from koordrules import fhir
    from koordrules.fhir.cohort import screen_export
    from koordrules.fhir.spark import screen_export_spark

    folder = tmp_path / "export"
    at = _broken_export(folder)
    day = dt.date(2023, 1, 1)
    names = [c.name for c in A3.criteria]
    rows: list[dict[str, Any]] = []
    embedded: list[KoordError] = []
    summary = screen_export(A3, fhir.find_mapping("helse-vest/anbefaling-3-fhir"), folder,
                            rows.extend, as_of=day, workers=1, on_problem=embedded.append)
    found: list[KoordError] = []
    spark.conf.set("spark.sql.files.maxPartitionBytes", "64k")
    try:
        frame, got = screen_export_spark(
            "helse-vest/anbefaling-3", "helse-vest/anbefaling-3-fhir", folder, as_of=day,
            catalog=str(CRITERIA), spark=spark, on_problem=found.append)
        assert frame.rdd.getNumPartitions() > 1
        spark_rows = {r["patient"]: (r["outcome"], *(r[n] for n in names),
                                     list(r["missing"])) for r in frame.collect()}
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    bad = str(folder / "Encounter.000.ndjson")
    lines = [(p.code, p.file, p.message.split(":")[0]) for p in found[:4]]
    assert lines == [("json_error", bad, f"line {at['json_error']}"),
                     ("bad_encoding", bad, f"line {at['bad_encoding']}"),
                     ("fhir_invalid_resource", bad, f"line {at['fhir_invalid_resource']}"),
                     ("json_error", bad, f"line {at['end']}")]
    assert [(p.code, p.file, p.message) for p in found] == [
        (p.code, p.file, p.message) for p in embedded]
    assert (got.patients, got.bad_lines, got.failed, got.unassigned) == (
        summary.patients, summary.bad_lines, summary.failed, summary.unassigned) == (
        13, 4, 0, 88)  # 87 Organizations and Locations, and Patient/nobody's Encounter
    assert [(p.code, p.message) for p in got.problems] == [
        (p.code, p.message) for p in found]
    assert set(got.seconds) == set(summary.seconds)
    assert spark_rows == {r["patient"]: (r["outcome"], *(r[n] for n in names),
                                         r["missing"]) for r in rows}
    assert len(spark_rows) == 13


def test_cli_reports_bad_lines_of_an_export_on_spark(spark: Any, tmp_path: Path) -> None:
    pytest.importorskip("fhirpathpy")
    from koordrules.cli import main

    folder = tmp_path / "export"
    at = _broken_export(folder)
    base = ["eval", "helse-vest/anbefaling-3", str(folder), "--from-fhir",
            "helse-vest/anbefaling-3-fhir", "--as-of", "2023-01-01"]
    out, err = io.StringIO(), io.StringIO()
    assert main([*base, "--backend", "spark"], out=out, err=err) == 1, err.getvalue()
    embedded_out, embedded_err = io.StringIO(), io.StringIO()
    assert main([*base, "--workers", "1"], out=embedded_out, err=embedded_err) == 1
    assert sorted(out.getvalue().splitlines()) == sorted(embedded_out.getvalue().splitlines())
    assert err.getvalue() == embedded_err.getvalue()
    assert f"Encounter.000.ndjson: json_error: line {at['json_error']}:" in err.getvalue()
    assert "13 patients screened, 4 bad lines, 0 patients not screened, 88 resources" in (
        err.getvalue())


def test_an_older_fhir_version_stops_a_spark_screen_as_it_stops_the_embedded_one(
        spark: Any, tmp_path: Path) -> None:
    import datetime as dt
    import shutil

    pytest.importorskip("fhirpathpy")
    from koordrules import fhir
    from koordrules.errors import FhirVersionError
    from koordrules.fhir.cohort import screen_export
    from koordrules.fhir.spark import screen_export_spark

    folder = tmp_path / "export"
    shutil.copytree(ROOT / "examples" / "fhir" / "synthea" / "bulk-10", folder)
    with (folder / "Condition.000.ndjson").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"resourceType": "Condition", "clinicalStatus": "active",
                            "subject": {"reference": "Patient/x"}}) + "\n")
    day = dt.date(2023, 1, 1)
    with pytest.raises(FhirVersionError) as embedded:
        screen_export(A3, fhir.find_mapping("helse-vest/anbefaling-3-fhir"), folder,
                      [].extend, as_of=day, workers=1)
    with pytest.raises(FhirVersionError) as on_spark:
        screen_export_spark("helse-vest/anbefaling-3", "helse-vest/anbefaling-3-fhir",
                            folder, as_of=day, catalog=str(CRITERIA), spark=spark)
    assert (on_spark.value.code, on_spark.value.file, on_spark.value.message) == (
        embedded.value.code, embedded.value.file, embedded.value.message)


def test_a_csv_file_on_spark_is_read_as_every_other_backend_reads_it(
        spark: Any, tmp_path: Path) -> None:
    """CSV cells are typed by the set's declarations (``ja``/``nei``, ``1``/``0``, blank =
    unknown, spaces trimmed), not by Spark's own inference: the spark backend gives the
    polars backend's rows for the same file, and a bad cell is the same typed error."""
    import csv

    names = [d.name for d in A3.inputs]
    with (ROOT / "examples" / "cohort.csv").open(encoding="utf-8") as f:
        rows = [{k: r[k] for k in ["patient", *names]} for r in
                itertools.islice(csv.DictReader(f), 200)]
    for i, r in enumerate(rows):
        r["has_coordinator"] = {"true": "ja", "false": "nei"}.get(r["has_coordinator"], "")
        r["lifelong_course"] = {"true": " 1", "false": "0 "}.get(r["lifelong_course"], "")
        r["situation_indicates_need"] = ""  # unknown for everyone: no type to infer
        r["involved_units"] = f" {r['involved_units']}" if i % 2 else r["involved_units"]
    path = tmp_path / "admitted.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["patient", *names])
        writer.writeheader()
        writer.writerows(rows)
    program = koordrules.compile(A3)
    criteria = [c.name for c in A3.criteria]

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["outcome"], *(r[n] for n in criteria), list(r["missing"]))

    embedded = program.evaluate_batch(path, backend="polars", id_field="patient")
    on_spark = program.evaluate_batch(path, backend="spark", id_field="patient")
    expected = {r["patient"]: key(r) for r in embedded.iter_rows(named=True)}
    assert {r["patient"]: key(r.asDict(recursive=True)) for r in on_spark.collect()} == expected
    assert len(expected) == 200
    rows[5]["involved_units"] = "two"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["patient", *names])
        writer.writeheader()
        writer.writerows(rows)
    errors = []
    for backend in ("polars", "spark"):
        with pytest.raises(KoordError) as info:
            program.evaluate_batch(path, backend=backend, id_field="patient")
        errors.append((info.value.code, info.value.message))
    assert errors[0] == errors[1]
    assert "two" not in errors[1][1]
