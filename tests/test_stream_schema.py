"""Streamed Parquet results whose schema the first chunk cannot settle (issue 14): a kept
field null in every row of the first chunk, or whole numbers first and decimals later, and
inputs with no rows, which still give a valid Parquet file with the result's columns."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import koordrules
from koordrules import KoordError
from koordrules.backends import evaluate_batch
from koordrules.backends.stream import evaluate_stream
from koordrules.cli import main

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from datagen import generate_records  # noqa: E402

A3 = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
PROGRAM = koordrules.compile(A3)
BACKENDS = ("python", "polars", "duckdb")


def _records(n: int) -> list[dict[str, Any]]:
    """Generated records with a patient id, a unit missing from the first 250 and a weight
    in whole kilograms for the first 400, then with decimals."""
    return [{"pid": f"P{i:05d}", **r, "unit": None if i < 250 else f"unit-{i % 7}",
             "weight": (70 + i % 30) if i < 400 else 70.5 + i % 30}
            for i, r in enumerate(generate_records(n, seed=41, unknown_rate=0.1))]


def _write_ndjson(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_kept_field_null_in_the_first_chunks_or_widening_later_is_written_typed(
        backend: str, tmp_path: Path) -> None:
    records = _records(1000)
    source = _write_ndjson(tmp_path / "cohort.ndjson", records)
    out = tmp_path / "results.parquet"
    summary = evaluate_stream(PROGRAM, source, out, backend=backend, id_field="pid",
                              keep=["unit", "weight"], chunk_size=100)
    assert summary.written == 1000
    table = pq.read_table(out)
    assert pa.types.is_string(table.schema.field("unit").type) or pa.types.is_large_string(
        table.schema.field("unit").type)
    assert pa.types.is_floating(table.schema.field("weight").type)
    assert table.column("unit").to_pylist() == [r["unit"] for r in records]
    assert table.column("weight").to_pylist() == [r["weight"] for r in records]
    assert table.column("row").to_pylist() == list(range(1, 1001))
    whole = evaluate_batch(PROGRAM, [{k: v for k, v in r.items()} for r in records],
                           backend="polars", id_field="pid", keep=["unit", "weight"],
                           ignore=frozenset({"pid", "unit", "weight"}))
    assert table.drop(["row"]).to_pylist() == whole.to_arrow().to_pylist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.ndjson", "results.parquet"]


def test_a_kept_field_mixing_text_and_numbers_is_still_bad_keep(tmp_path: Path) -> None:
    records = [{k: v for k, v in r.items() if k != "weight"} for r in _records(400)]
    for r in records[350:]:
        r["unit"] = 7  # text in the chunks before, numbers from here
    source = _write_ndjson(tmp_path / "cohort.ndjson", records[200:])
    out = tmp_path / "results.parquet"
    with pytest.raises(KoordError) as info:
        evaluate_stream(PROGRAM, source, out, id_field="pid", keep=["unit"],
                        chunk_size=20)
    assert info.value.code == "bad_keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.ndjson"]


def _schema_of_a_run(tmp_path: Path, backend: str) -> Any:
    source = tmp_path / "some.parquet"
    pl.DataFrame(_records(5)).drop("weight").write_parquet(source)
    out = tmp_path / "some-results.parquet"
    evaluate_stream(PROGRAM, source, out, backend=backend, id_field="pid", keep=["unit"])
    return pq.read_schema(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_input_with_no_rows_gives_an_empty_parquet_file_with_the_results_columns(
        backend: str, tmp_path: Path) -> None:
    expected = _schema_of_a_run(tmp_path, backend)
    frame = pl.DataFrame(_records(5)).drop("weight").head(0)
    parquet = tmp_path / "empty.parquet"
    frame.write_parquet(parquet)
    inputs: dict[str, Any] = {"parquet": parquet, "lazy": pl.scan_parquet(parquet),
                              "frame": frame, "arrow": frame.to_arrow(),
                              "batches": frame.to_arrow().to_reader(),
                              "duckdb": duckdb.read_parquet(str(parquet))}
    for kind, data in inputs.items():
        out = tmp_path / f"{kind}.parquet"
        summary = evaluate_stream(PROGRAM, data, out, backend=backend, id_field="pid",
                                  keep=["unit"])
        assert (summary.rows, summary.written) == (0, 0), kind
        assert pq.read_table(out).num_rows == 0, kind
        assert pq.read_schema(out) == expected, kind
    # records have no types: the result's own columns are typed, the kept ones are null
    (tmp_path / "empty.ndjson").write_text("", encoding="utf-8")
    for kind, data in {"ndjson": tmp_path / "empty.ndjson", "list": []}.items():
        out = tmp_path / f"{kind}.parquet"
        evaluate_stream(PROGRAM, data, out, backend=backend, id_field="pid", keep=["unit"])
        schema = pq.read_schema(out)
        assert schema.names == expected.names, kind
        for name in ("row", "outcome", "missing", *(c.name for c in A3.criteria)):
            assert schema.field(name).type == expected.field(name).type, (kind, name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_row_skipped_still_gives_a_file_with_the_columns(
        backend: str, tmp_path: Path) -> None:
    records = _records(40)
    for r in records:
        r["involved_units"] = -1  # below the declared minimum
    source = _write_ndjson(tmp_path / "cohort.ndjson", records)
    for suffix in (".parquet", ".csv", ".ndjson"):
        out = tmp_path / f"results{suffix}"
        summary = evaluate_stream(PROGRAM, source, out, backend=backend, id_field="pid",
                                  chunk_size=15, on_error="skip")
        assert (summary.rows, summary.written, summary.skipped) == (40, 0, 40)
        assert out.exists(), suffix
    assert pq.read_table(tmp_path / "results.parquet").num_rows == 0
    header = (tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()
    assert header == ["row,pid,outcome,A,B,C,D,missing"]
    assert (tmp_path / "results.ndjson").read_text(encoding="utf-8") == ""


def test_cli_writes_an_empty_parquet_file_for_a_cohort_of_no_records(tmp_path: Path) -> None:
    source = tmp_path / "none.ndjson"
    source.write_text("", encoding="utf-8")
    out = tmp_path / "results.parquet"
    code = main(["eval", "helse-vest/anbefaling-3", str(source), "--backend", "polars",
                 "-o", str(out)], out=io.StringIO(), err=io.StringIO())
    assert code == 0
    assert pq.read_table(out).num_rows == 0
    assert pq.read_schema(out).names == ["row", "outcome", "A", "B", "C", "D", "missing"]


def test_an_export_of_no_patients_written_with_o_is_an_empty_parquet_file(
        tmp_path: Path) -> None:
    pytest.importorskip("fhirpathpy")
    folder = tmp_path / "export"
    folder.mkdir()
    source = ROOT / "examples" / "fhir" / "synthea" / "bulk-10" / "Organization.000.ndjson"
    (folder / "Organization.000.ndjson").write_bytes(source.read_bytes())  # no Patient
    out = tmp_path / "screen.parquet"
    err = io.StringIO()
    code = main(["eval", "helse-vest/anbefaling-3", str(folder), "--from-fhir",
                 "helse-vest/anbefaling-3-fhir", "--as-of", "2023-01-01", "--workers", "1",
                 "-o", str(out)], out=io.StringIO(), err=err)
    assert code == 0, err.getvalue()
    assert "0 patients screened" in err.getvalue()
    assert pq.read_table(out).num_rows == 0
    assert pq.read_schema(out).names == ["patient", "outcome", "A", "B", "C", "D", "missing"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_typed_input_gives_kept_columns_its_types_even_when_the_first_chunk_is_null(
        backend: str, tmp_path: Path) -> None:
    records = _records(600)
    source = tmp_path / "cohort.parquet"
    pl.DataFrame(records, infer_schema_length=None).write_parquet(source)
    out = tmp_path / "results.parquet"
    evaluate_stream(PROGRAM, source, out, backend=backend, id_field="pid",
                    keep=["unit", "weight"], chunk_size=100)
    schema = pq.read_schema(out)
    source_types = pl.read_parquet(source).to_arrow().schema
    assert schema.field("unit").type == source_types.field("unit").type
    assert schema.field("weight").type == source_types.field("weight").type
    assert pq.read_table(out).column("unit").to_pylist() == [r["unit"] for r in records]
