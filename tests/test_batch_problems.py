"""``evaluate_batch`` over a file with records that cannot be read: with ``strict=False``
each such record is reported with its number and a typed code, left out, and the run goes
on to the end; with ``strict=True`` the first stops the run. The records are the public
Synthea bulk-10 export's patients, mapped with the shipped Anbefaling 3 mapping."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import koordrules
from koordrules import fhir
from koordrules.backends import RowProblem, SkippedRecordsWarning
from koordrules.errors import InputError
from koordrules.fhir.bulk import patient_records, read_export

pl = pytest.importorskip("polars")
pytest.importorskip("duckdb")
pytest.importorskip("fhirpathpy")

ROOT = Path(__file__).resolve().parent.parent
BULK = ROOT / "examples" / "fhir" / "synthea" / "bulk-10"
A3 = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
PROGRAM = koordrules.compile(A3)
BACKENDS = ("python", "polars", "duckdb")
MARKER = 987654321  # a value that must never reach a message


@pytest.fixture(scope="module")
def patients() -> list[dict[str, Any]]:
    mapping = fhir.find_mapping("helse-vest/anbefaling-3-fhir")
    records = [{"patient": pid, **fhir.map_bundle(mapping, record,
                                                  as_of=dt.date(2023, 1, 1)).record}
               for pid, record in patient_records(read_export(BULK))]
    assert len(records) == 13
    return records


def _expected(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out = []
    for r in records:
        result = koordrules.evaluate(A3, {k: v for k, v in r.items() if k != "patient"},
                                     strict=False, trace=False)
        out.append((r["patient"], result.outcome,
                    *(result.criteria[c.name] for c in A3.criteria), sorted(result.missing)))
    return out


def _rows(table: Any) -> list[tuple[Any, ...]]:
    return [(r["patient"], r["outcome"], *(r[c.name] for c in A3.criteria),
             sorted(r["missing"])) for r in table.iter_rows(named=True)]


def _with_bad_lines(records: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """The records as JSON lines with unreadable lines among them (the last line is a good
    record, after them); returns the records the file holds that can be read."""
    lines = [json.dumps(r).encode() for r in records]
    lines.insert(2, b'{"patient": "x", "involved_units": ' + str(MARKER).encode())  # cut off
    lines.insert(5, b"[1, 2]")  # JSON, but no object
    lines.insert(8, b'{"patient": "\xff\xfe", "involved_units": 1}')  # not UTF-8
    lines.insert(11, b'{"patient": "y", "patient": "z"}')  # a key twice
    lines.insert(12, b"")  # a blank line is no record
    # a value out of range is readable: with strict=False it counts as unknown, not skipped
    odd = {**records[-1], "patient": "out-of-range", "involved_units": -MARKER}
    lines.insert(14, json.dumps(odd).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    readable = list(records)
    readable.insert(9, odd)  # after records[0..8]: line 15 of the file
    return readable


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreadable_lines_are_reported_skipped_and_the_rest_evaluated(
        backend: str, patients: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "mapped.ndjson"
    readable = _with_bad_lines(patients, path)
    found: list[RowProblem] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # with on_problem, no warning
        table = PROGRAM.evaluate_batch(path, backend=backend, strict=False,
                                       id_field="patient", on_problem=found.append)
    assert [(p.row, p.code) for p in found] == [(3, "bad_json"), (6, "bad_record"),
                                                (9, "bad_record"), (12, "bad_record")]
    assert str(MARKER) not in repr(found)
    assert _rows(table) == _expected(readable)  # every later record is there, in order
    assert _rows(table)[-1][0] == patients[-1]["patient"]
    assert isinstance(table, pl.DataFrame)
    assert table.row(9, named=True)["patient"] == "out-of-range"


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_a_callback_one_warning_sums_the_skipped_records_up(
        backend: str, patients: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "mapped.ndjson"
    readable = _with_bad_lines(patients, path)
    with pytest.warns(SkippedRecordsWarning) as caught:
        table = PROGRAM.evaluate_batch(path, backend=backend, strict=False,
                                       id_field="patient")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("4 records of mapped.ndjson could not be read and were left "
                              "out (bad_json 1, bad_record 3): records 3, 6, 9, 12;")
    assert str(MARKER) not in message and str(tmp_path) not in message
    assert caught[0].filename == __file__  # it points at the caller's line
    assert _rows(table) == _expected(readable)


def test_strict_stops_at_the_first_unreadable_record(
        patients: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "mapped.ndjson"
    _with_bad_lines(patients, path)
    for backend in BACKENDS:
        with pytest.raises(InputError) as info:
            PROGRAM.evaluate_batch(path, backend=backend, ignore={"patient"})
        assert info.value.code == "bad_json"
        assert info.value.message.startswith("record 3:")
        assert str(MARKER) not in str(info.value)


def test_a_csv_row_that_cannot_be_read_is_skipped_too(
        patients: list[dict[str, Any]], tmp_path: Path) -> None:
    frame = pl.DataFrame(patients)
    path = tmp_path / "mapped.csv"
    frame.write_csv(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(4, "only,three,cells")  # line 5 of the file
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for backend in BACKENDS:
        found: list[RowProblem] = []
        table = PROGRAM.evaluate_batch(path, backend=backend, strict=False,
                                       id_field="patient", on_problem=found.append)
        assert [(p.row, p.code) for p in found] == [(5, "bad_csv")]
        assert _rows(table) == _expected(patients)
