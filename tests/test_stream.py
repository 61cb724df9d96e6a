"""Streaming cohorts (koordrules.backends.stream): chunked input from every kind, results
written as they go, bad rows reported with their numbers and counted, progress, the CLI."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import koordrules
from koordrules import KoordError
from koordrules.backends.stream import Progress, RowProblem, evaluate_stream
from koordrules.cli import main
from koordrules.errors import InputError

pl = pytest.importorskip("polars")
pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from datagen import generate_records  # noqa: E402

A3 = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
PROGRAM = koordrules.compile(A3)
BACKENDS = ("python", "polars", "duckdb")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    records = [{"pid": f"P{i:05d}", **r}
               for i, r in enumerate(generate_records(3000, seed=14, unknown_rate=0.1))]
    path = tmp_path_factory.mktemp("stream") / "cohort.parquet"
    pl.DataFrame(records).write_parquet(path, row_group_size=700)
    return path, records


def _reference(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows = []
    for r in records:
        result = koordrules.evaluate(A3, {k: v for k, v in r.items() if k != "pid"},
                                     trace=False)
        rows.append((r["pid"], result.outcome, *(result.criteria[c.name] for c in A3.criteria),
                     sorted(result.missing)))
    return rows


def _rows(frames: list[Any]) -> list[tuple[Any, ...]]:
    return [(r["pid"], r["outcome"], *(r[c.name] for c in A3.criteria), sorted(r["missing"]))
            for f in frames for r in f.iter_rows(named=True)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_input_kind_streams_in_chunks_to_the_interpreters_rows(
        backend: str, cohort: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    path, records = cohort
    expected = _reference(records)
    frame = pl.read_parquet(path)
    jsonl = tmp_path / "cohort.jsonl"
    frame.write_ndjson(jsonl)
    csv = tmp_path / "cohort.csv"
    frame.write_csv(csv)
    pa = pytest.importorskip("pyarrow")
    inputs = [path, pl.scan_parquet(path), pl.scan_csv(csv), frame, frame.to_arrow(),
              pa.RecordBatchReader.from_batches(frame.to_arrow().schema,
                                                frame.to_arrow().to_batches(500)),
              jsonl, csv, iter(records)]
    duckdb = pytest.importorskip("duckdb")
    inputs.append(duckdb.sql(f"SELECT * FROM read_parquet('{path}')"))  # DuckDB reads it
    for data in inputs:
        chunks: list[Any] = []
        seen: list[Progress] = []
        summary = evaluate_stream(PROGRAM, data, chunks.append, backend=backend,
                                  id_field="pid", chunk_size=1000, progress=seen.append)
        assert _rows(chunks) == expected, type(data)
        assert all(c.height <= 1000 for c in chunks) and len(chunks) >= 3
        # a text file's rows are its lines (CSV: after the header)
        first = 2 if isinstance(data, Path) and data == csv else 1
        assert [r for c in chunks for r in c.get_column("row").to_list()] == list(
            range(first, first + 3000))
        assert (summary.rows, summary.written, summary.skipped) == (3000, 3000, 0)
        assert seen[-1].rows == 3000 and [p.rows for p in seen] == sorted(p.rows for p in seen)
        assert sum(summary.outcomes.values()) == 3000


@pytest.mark.parametrize("suffix", [".parquet", ".ndjson", ".csv"])
def test_results_are_written_in_the_format_of_the_suffix(
        suffix: str, cohort: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    path, records = cohort
    out = tmp_path / f"results{suffix}"
    evaluate_stream(PROGRAM, path, out, backend="polars", id_field="pid", chunk_size=1000)
    if suffix == ".parquet":
        frame = pl.read_parquet(out)
    elif suffix == ".ndjson":
        frame = pl.read_ndjson(out)
    else:  # CSV holds no lists: ``missing`` is the names separated by spaces
        frame = pl.read_csv(out).with_columns(
            pl.col("missing").fill_null("").str.split(" ").list.eval(
                pl.element().filter(pl.element() != "")))
    assert frame.columns[:3] == ["row", "pid", "outcome"]
    assert _rows([frame]) == _reference(records)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_rows_are_reported_with_their_numbers_skipped_and_counted(
        backend: str, cohort: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    _, records = cohort
    marker = 987654321
    lines = [json.dumps(r) for r in records[:50]]
    lines[9] = "{not json"
    lines[19] = json.dumps({**records[19], "involved_units": -marker})
    lines[29] = json.dumps({**records[29], "unknown_field": marker})
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found: list[RowProblem] = []
    chunks: list[Any] = []
    summary = evaluate_stream(PROGRAM, path, chunks.append, backend=backend, id_field="pid",
                              chunk_size=16, on_error="skip", on_problem=found.append)
    assert [(p.row, p.code) for p in found] == [(10, "bad_json"), (20, "bad_input_value"),
                                                (30, "unknown_input")]
    assert (summary.rows, summary.written, summary.skipped) == (50, 47, 3)
    assert summary.skipped_by_code == {"bad_json": 1, "bad_input_value": 1, "unknown_input": 1}
    assert str(marker) not in repr(summary.to_dict())
    good = [r for i, r in enumerate(records[:50]) if i not in (9, 19, 29)]
    assert _rows(chunks) == _reference(good)
    with pytest.raises(InputError) as info:
        evaluate_stream(PROGRAM, path, [].append, backend=backend, id_field="pid")
    assert info.value.message.startswith("row 10:")
    target = tmp_path / "stopped.parquet"  # a run that stops leaves no file behind
    with pytest.raises(InputError):
        evaluate_stream(PROGRAM, path, target, backend=backend, id_field="pid",
                        chunk_size=5)
    assert list(tmp_path.glob("*stopped*")) == []
    # a table: the bad value found column-wise, the row then found and left out
    frame = pl.DataFrame(records[:50]).with_columns(
        pl.when(pl.int_range(pl.len()) == 41).then(-marker).otherwise(
            pl.col("involved_units")).alias("involved_units"))
    found.clear()
    summary = evaluate_stream(PROGRAM, frame, [].append, backend=backend, id_field="pid",
                              chunk_size=16, on_error="skip", on_problem=found.append)
    assert [(p.row, p.code) for p in found] == [(42, "bad_input_value")]
    assert summary.written == 49
    with pytest.raises(InputError) as info:
        evaluate_stream(PROGRAM, frame, [].append, backend=backend, id_field="pid",
                        chunk_size=16)
    assert info.value.message.startswith("row 42:") and str(marker) not in str(info.value)


def test_a_wrong_column_stops_the_run_and_options_are_checked(
        cohort: tuple[Path, list[dict[str, Any]]]) -> None:
    path, _ = cohort
    with pytest.raises(InputError) as info:
        evaluate_stream(PROGRAM, path, [].append)  # pid is not an input
    assert info.value.code == "unknown_input"
    frame = pl.DataFrame({"involved_units": ["three"]})
    with pytest.raises(InputError):
        evaluate_stream(PROGRAM, frame, [].append, on_error="skip")
    for bad in ({"backend": "spark"}, {"on_error": "ignore"}, {"chunk_size": 0}):
        with pytest.raises(KoordError):
            evaluate_stream(PROGRAM, path, [].append, **bad)
    with pytest.raises(KoordError) as info:
        evaluate_stream(PROGRAM, path, path.with_suffix(".xlsx"), ignore=frozenset({"pid"}))
    assert info.value.code == "unsupported_file"


def test_evaluate_batch_takes_a_lazy_frame_a_batch_reader_and_a_duckdb_relation(
        cohort: tuple[Path, list[dict[str, Any]]]) -> None:
    path, records = cohort
    pa = pytest.importorskip("pyarrow")
    table = pl.read_parquet(path).to_arrow()
    for backend in BACKENDS:
        duckdb = pytest.importorskip("duckdb")
        for data in (pl.scan_parquet(path), pa.RecordBatchReader.from_batches(
                table.schema, table.to_batches(1000)),
                duckdb.sql(f"SELECT * FROM read_parquet('{path}')")):
            result = PROGRAM.evaluate_batch(data, backend=backend, id_field="pid")
            assert _rows([result]) == _reference(records)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_streams_to_a_file_or_standard_output_with_a_summary(
        backend: str, cohort: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    path, records = cohort
    out_file = tmp_path / "results.parquet"
    out, err = io.StringIO(), io.StringIO()
    assert main(["eval", "helse-vest/anbefaling-3", str(path), "--backend", backend,
                 "--id-field", "pid", "-o", str(out_file), "--chunk-size", "500"],
                out=out, err=err) == 0, err.getvalue()
    assert out.getvalue() == ""
    assert err.getvalue().strip() == ("koordrules eval: 3000 records read, 3000 evaluated, "
                                      "0 skipped")  # piped: no progress bar
    assert _rows([pl.read_parquet(out_file)]) == _reference(records)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(records[0]) + "\n{oops\n" + json.dumps(records[1]) + "\n",
                   encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["eval", "helse-vest/anbefaling-3", str(bad), "--backend", backend,
                 "--id-field", "pid"], out=out, err=err) == 1
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "record 2: bad_json" in err.getvalue()
    if backend == "python":  # without -o: the full results, record by record, as before
        assert [x.get("record_id") for x in lines] == ["P00000", None, "P00001"]
        return
    assert [(x["record"], x["record_id"]) for x in lines] == [(1, "P00000"), (3, "P00001")]
    assert "1 skipped, bad_json 1" in err.getvalue()
    assert main(["eval", "helse-vest/anbefaling-3", str(bad), "--backend", backend,
                 "--id-field", "pid", "--stop-on-error"], out=io.StringIO(),
                err=io.StringIO()) == 1
