"""Record ids and carried columns (``id_field``, ``keep``) on the python, polars and duckdb
backends, in the SQL and on the command line (Spark: tests/test_spark.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import koordrules
from koordrules import KoordError
from koordrules.cli import main

pl = pytest.importorskip("polars")
pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parent.parent
COHORT = ROOT / "examples" / "cohort.jsonl"
A3 = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
BACKENDS = ("python", "polars", "duckdb")


def _records(n: int = 300) -> list[dict[str, Any]]:
    with COHORT.open(encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f, strict=False)]


def _inputs(record: dict[str, Any]) -> dict[str, Any]:
    names = {d.name for d in A3.inputs}
    return {k: v for k, v in record.items() if k in names}


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_carry_the_id_and_kept_columns_in_input_order(backend: str,
                                                           tmp_path: Path) -> None:
    records = _records()
    program = koordrules.compile(A3)
    parquet = tmp_path / "cohort.parquet"
    pl.DataFrame(records).write_parquet(parquet)
    ignore = frozenset(records[0]) - {d.name for d in A3.inputs}
    for data in (records, pl.DataFrame(records), parquet, COHORT):
        table = program.evaluate_batch(data, backend=backend, id_field="patient",
                                       keep=["unit"], ignore=ignore)
        assert table.columns[:3] == ["patient", "unit", "outcome"]
        got = table.head(len(records)).rows(named=True)
        assert [r["patient"] for r in got] == [r["patient"] for r in records]
        assert [r["unit"] for r in got] == [r["unit"] for r in records]
        for row, record in zip(got, records, strict=True):
            assert row["outcome"] == koordrules.evaluate(A3, _inputs(record)).outcome


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_input_can_be_kept_as_given(backend: str) -> None:
    records = [{k: r[k] for k in ("patient", "involved_units")} for r in _records(20)]
    table = koordrules.compile(A3).evaluate_batch(
        records, backend=backend, strict=False, id_field="patient", keep=["involved_units"])
    assert table.get_column("involved_units").to_list() == [r["involved_units"]
                                                            for r in records]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_kept_name_the_result_uses_or_a_column_the_table_lacks_is_an_error(
        backend: str) -> None:
    program = koordrules.compile(A3)
    for name in ("outcome", "missing", A3.criteria[0].name):
        with pytest.raises(KoordError) as info:
            program.evaluate_batch([{}], backend=backend, keep=[name])
        assert info.value.code == "column_clash"
    if backend != "python":  # a table must have the column; a record may lack the field
        with pytest.raises(KoordError) as info:
            program.evaluate_batch(pl.DataFrame({"patient": ["a"]}), backend=backend,
                                   id_field="patient", keep=["unit"])
        assert info.value.code == "unknown_column"
    table = program.evaluate_batch([{"patient": "a"}, {"patient": "b", "unit": "x"}],
                                   backend=backend, id_field="patient", keep=["unit"])
    assert table.get_column("unit").to_list() == [None, "x"]


def test_a_kept_field_of_mixed_kinds_is_a_typed_error() -> None:
    program = koordrules.compile(A3)
    with pytest.raises(KoordError) as info:
        program.evaluate_batch([{"patient": "a"}, {"patient": 7}], backend="duckdb",
                               id_field="patient")
    assert info.value.code == "bad_keep"
    assert "7" not in info.value.message


def test_the_sql_keeps_named_columns_first() -> None:
    duckdb = pytest.importorskip("duckdb")
    records = _records(50)
    frame = pl.DataFrame(records)
    out = io.StringIO()
    assert main(["sql", "helse-vest/anbefaling-3", "--table", "cohort", "--keep", "patient",
                 "--keep", "unit"], out=out, err=io.StringIO()) == 0
    with duckdb.connect() as con:
        con.register("cohort", frame.to_arrow())
        result = con.sql(out.getvalue().rstrip().rstrip(";")).pl()
    assert result.columns[:3] == ["patient", "unit", "outcome"]
    assert result.get_column("patient").to_list() == frame.get_column("patient").to_list()


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_eval_prints_the_id_and_kept_fields_on_every_backend(backend: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    args = ["eval", "helse-vest/anbefaling-3", str(COHORT), "--backend", backend,
            "--id-field", "patient", "--keep", "unit", "--lenient"]
    assert main(args, out=out, err=err) == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    records = _records(3000)
    assert [line["record_id"] for line in lines] == [r["patient"] for r in records]
    assert [line["keep"]["unit"] for line in lines] == [r["unit"] for r in records]
