"""Bulk FHIR cohorts (issue 14 item 5): the public 10-patient Bulk Data export
(examples/fhir/synthea/bulk-10, Apache-2.0) streamed and screened over worker processes,
with the same rows as ``eval --from-fhir`` per patient; distinct synthetic copies of it
(koordrules.fhir.replicate). Spark: tests/test_spark.py."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import koordrules
from koordrules import fhir
from koordrules.errors import KoordError
from koordrules.fhir.cohort import screen_export
from koordrules.fhir.replicate import new_id, replicate

pytest.importorskip("fhirpathpy")

ROOT = Path(__file__).resolve().parent.parent
BULK = ROOT / "examples" / "fhir" / "synthea" / "bulk-10"
A3 = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
MAPPING = fhir.find_mapping("helse-vest/anbefaling-3-fhir")
AS_OF = dt.date(2023, 1, 1)


def rows_of(folder: Path, **options: Any) -> dict[str, tuple[Any, ...]]:
    rows: list[dict[str, Any]] = []
    screen_export(A3, MAPPING, folder, rows.extend, as_of=AS_OF, **options)
    return {r["patient"]: (r["outcome"], *(r[c.name] for c in A3.criteria), r["missing"])
            for r in rows}


def test_the_export_is_screened_per_patient_as_eval_from_fhir_screens_it() -> None:
    expected = {}
    for pid, result in fhir.evaluate_bundles(A3, MAPPING, BULK, as_of=AS_OF, trace=False):
        assert not isinstance(result, KoordError)
        expected[pid] = (result.outcome, *(result.criteria[c.name] for c in A3.criteria),
                         sorted(result.missing))
    assert len(expected) == 13
    assert rows_of(BULK, workers=1) == expected
    assert rows_of(BULK, workers=2, buckets=5) == expected  # forked workers, same rows


def test_a_bad_line_is_reported_with_its_file_and_line_and_counted(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(BULK, folder)
    with (folder / "Condition.000.ndjson").open("a", encoding="utf-8") as f:
        f.write("{not json\n")
    lines = (folder / "Condition.000.ndjson").read_text(encoding="utf-8").count("\n")
    found: list[KoordError] = []
    summary = screen_export(A3, MAPPING, folder, [].extend, as_of=AS_OF, workers=1,
                            on_problem=found.append)
    assert summary.patients == 13 and summary.bad_lines == 1
    bad = str(folder / "Condition.000.ndjson")
    assert [(p.code, p.file) for p in found] == [("json_error", bad)]
    assert f"line {lines}" in found[0].message
    assert summary.unassigned > 0  # Organizations, Locations: no patient, counted
    assert set(summary.seconds) == {"read and partition", "map and evaluate"}


def test_copies_are_distinct_patients_with_their_own_references_and_dates(
        tmp_path: Path) -> None:
    out = tmp_path / "copies"
    replicate(BULK, out, 3)
    patients = [json.loads(line) for line in
                (out / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()]
    ids = {p["id"] for p in patients}
    assert len(patients) == len(ids) == 39
    original = [json.loads(line) for line in
                (BULK / "Patient.000.ndjson").read_text(encoding="utf-8").splitlines()]
    assert not ids & {p["id"] for p in original}
    births = {(p["birthDate"], p["id"]) for p in patients}
    assert {p["birthDate"] for p in original}.isdisjoint({b for b, _ in births})
    values = {i["value"] for p in patients for i in p.get("identifier", [])}
    before = {i["value"] for p in original for i in p.get("identifier", [])}
    assert len(values) == 3 * len(before) and not values & before  # one set per copy
    for line in (out / "Encounter.000.ndjson").read_text(encoding="utf-8").splitlines():
        ref = json.loads(line)["subject"]["reference"]
        assert ref.removeprefix("Patient/") in ids
    assert new_id(0, "x") == new_id(0, "x") != new_id(1, "x")
    screened = rows_of(out, workers=2)
    assert set(screened) == ids


def test_cli_screens_an_export_folder_as_a_cohort(tmp_path: Path) -> None:
    import io

    import polars as pl

    from koordrules.cli import main

    expected = rows_of(BULK, workers=1)
    args = ["eval", "helse-vest/anbefaling-3", str(BULK), "--from-fhir",
            "helse-vest/anbefaling-3-fhir", "--as-of", "2023-01-01", "--workers", "2"]
    out, err = io.StringIO(), io.StringIO()
    assert main(args, out=out, err=err) == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    got = {x["patient"]: (x["outcome"], *(x["criteria"][c.name] for c in A3.criteria),
                          x["missing"]) for x in lines}
    assert got == expected
    assert "13 patients screened, 0 bad lines" in err.getvalue()
    target = tmp_path / "screen.parquet"
    assert main([*args, "-o", str(target)], out=io.StringIO(), err=io.StringIO()) == 0
    frame = pl.read_parquet(target)
    assert {r["patient"]: (r["outcome"], *(r[c.name] for c in A3.criteria), r["missing"])
            for r in frame.iter_rows(named=True)} == expected
