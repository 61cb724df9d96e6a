"""Fuzzing surfaces of the data koordrules reads: record files (JSON, JSON lines, CSV) with
hostile values, FHIR bundles (a cut-down real Synthea R4 bundle, shaken), and the batch
backends against the reference interpreter. The harness is tests/fuzzing.py."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from fuzz_common import (
    CRITERIA,
    FRAME,
    ROOT,
    catalog,
    expression,
    frame_set,
    good_record,
    hostile_record,
    mutate,
    scratch,
    well_formed,
)

import koordrules
from koordrules import KoordError, load_text


def _json_value(rng: random.Random, value: Any) -> str:
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "Infinity"
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def _json_record(rng: random.Random) -> str:
    record = hostile_record(rng)
    body = ", ".join(f"{json.dumps(k)}: {_json_value(rng, v)}" for k, v in record.items())
    if rng.random() < 0.1:
        body += ', "x": 1'  # a key twice
    if rng.random() < 0.05:
        depth = rng.choice([31, 33, 1000, 100_000])
        body += ', "deep": ' + "[" * depth + "]" * depth
    return "{" + body + "}"


Records = tuple[bytes, "int | None"]
"""A record file, and how many records it holds when that is known (the file was not mutated):
the reader must give exactly that many, each a record or its error (nothing lost)."""


def records_json(rng: random.Random) -> Records:
    rows = [_json_record(rng) for _ in range(rng.randint(0, 6))]
    return _mutated_bytes(rng, "[" + ",\n".join(rows) + "]", len(rows))


def records_jsonl(rng: random.Random) -> Records:
    rows = [_json_record(rng) for _ in range(rng.randint(0, 6))]
    return _mutated_bytes(rng, "".join(row + "\n" for row in rows), len(rows))


CSV_CELLS = ["", "1", "-2.5", "1e3", "1_000", "١٢", "１２", "inf", "nan", "true", "false", "ja",
             "2024-01-01", "2024-02-30", "a", "b", "\"a,b\"", "\"", "x" * 140_000, "9" * 5000,
             "\x1b[31m", "\u202e", "a;b"]


def records_csv(rng: random.Random) -> Records:
    columns = rng.sample(["x", "n", "d", "s", "flag", "units", "x", "other"], rng.randint(1, 6))
    lines = [",".join(columns)]
    for _ in range(rng.randint(0, 6)):
        cells = [rng.choice(CSV_CELLS) for _ in range(len(columns) + rng.choice([-1, 0, 0, 0, 1]))]
        lines.append(",".join(cells))
    # a quote cell opens a field across rows, a blank row is no record, and a column named
    # twice is one error for the whole file
    known = len(set(columns)) == len(columns) and not any('"' in line or not line
                                                          for line in lines[1:])
    return _mutated_bytes(rng, "\n".join(lines) + "\n", len(lines) - 1 if known else None)


def _mutated_bytes(rng: random.Random, text: str, records: int | None) -> Records:
    if rng.random() < 0.5:
        text = mutate(rng, text, rng.randint(1, 4))
        records = None
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.15:
        i = rng.randrange(len(data) + 1)
        data = data[:i] + bytes(rng.randrange(128, 256) for _ in range(rng.randint(1, 4))) \
            + data[i:]
        records = None
    return data, records


def run_records(suffix: str) -> Callable[[Records], tuple[str, Counter[str]]]:
    def run(item: Records) -> tuple[str, Counter[str]]:
        raw, expected = item
        cs = frame_set()
        path = scratch(f"records{suffix}", raw)
        lines = len(raw.splitlines()) + 1  # the reader ends a line at \n, \r\n or \r
        codes: Counter[str] = Counter()  # each record: "ok" or the code of its typed error
        for number, record in koordrules.records.read_records(path, cs):
            assert isinstance(number, int)
            if isinstance(record, KoordError):
                str(record).encode("utf-8")
                codes[record.code] += 1
                continue
            try:
                result = koordrules.evaluate(cs, record)
            except KoordError as ex:
                str(ex).encode("utf-8")
                codes[ex.code] += 1
                continue
            json.dumps(result.to_json()).encode("utf-8")
            koordrules.render_text(result).encode("utf-8")
            codes["ok"] += 1
        if suffix == ".jsonl":
            assert codes.total() <= lines, "more records than lines"
        if expected is not None:
            assert codes.total() == expected, f"{codes.total()} records of {expected}"
        return "ok", codes
    return run


@functools.cache
def _bundle() -> dict[str, Any]:
    """A real Synthea R4 bundle cut to its patient and the first resources of each kind."""
    data = json.loads((ROOT / "examples" / "fhir" / "synthea" / "r4-deedra-lockman-teen.json")
                      .read_text(encoding="utf-8"))
    kept: Counter[str] = Counter()
    entries = []
    for entry in data["entry"]:
        kind = entry["resource"]["resourceType"]
        if kept[kind] < (1 if kind == "Patient" else 6):
            kept[kind] += 1
            entries.append(entry)
    return {**data, "entry": entries}


@functools.cache
def _mapping() -> Any:
    from koordrules import fhir

    return fhir.load_mapping(CRITERIA / "helse-vest" / "anbefaling-3.mapping.yaml")


FHIR_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, 10**40, 1e308, "", "x", "2024-02-30", "2024-01-01T00:00:00Z",
    "9999-12-31", "0000-01-01", "not-a-date", "Patient/unknown", "urn:uuid:x", [], {}, [None],
    {"reference": "Patient/other"}, {"resourceType": "Patient", "id": "p2"}, "\x1b[2J",
    "\u202e", "x" * 5000,
]


def _shake(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """``value`` with random elements dropped, duplicated or replaced by hostile values."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            roll = rng.random()
            if roll < 0.03:
                continue
            out[k] = rng.choice(FHIR_VALUES) if roll < 0.06 else _shake(rng, v, depth + 1)
        return out
    if isinstance(value, list):
        items = [_shake(rng, v, depth + 1) for v in value if rng.random() > 0.03]
        if items and rng.random() < 0.05:
            items.append(copy.deepcopy(rng.choice(items)))
        return items
    if isinstance(value, str) and rng.random() < 0.02:
        return value + rng.choice(["", "x", "-13", "T25:00", " ", "|", "/"])
    return value


def fhir_bundle(rng: random.Random) -> bytes:
    data = _shake(rng, _bundle())
    text = json.dumps(data, ensure_ascii=False, allow_nan=True)
    if rng.random() < 0.2:
        text = mutate(rng, text, rng.randint(1, 3))
    return text.encode("utf-8", "surrogatepass")


def run_fhir_bundle(raw: bytes) -> str:
    from koordrules import fhir

    path = scratch("bundle.json", raw)
    record = fhir.read_patient_file(path)
    mapped = fhir.map_bundle(_mapping(), record, as_of=dt.date(2024, 6, 1))
    cs = catalog().get("helse-vest/anbefaling-3")
    try:
        result = koordrules.evaluate(cs, mapped.record)
    except KoordError:
        return "ok"
    json.dumps(result.to_json()).encode("utf-8")
    return "ok"


BACKENDS = ("python", "polars", "duckdb")


def backends(rng: random.Random) -> tuple[str, list[dict[str, Any]], str]:
    expr = expression(rng) if rng.random() < 0.3 else well_formed(rng, 3)
    text = FRAME.replace("EXPR", expr.replace("\n", " "))
    good = [_batch_record(rng) for _ in range(rng.randint(1, 5))]
    return text, good, rng.choice(BACKENDS)


def _batch_record(rng: random.Random) -> dict[str, Any]:
    """A valid record with some inputs unknown and some values at the edges."""
    edges: dict[str, list[Any]] = {"x": [-1000, 1000, 0, 0.1, -0.0], "n": [0, 2**31, -2**31, 2**53],
                                   "d": ["2024-02-29", "1900-01-01", "2099-12-31"],
                                   "units": [[], ["a", "a"]]}
    record = {k: v for k, v in good_record(rng).items() if rng.random() < 0.85}
    for key, values in edges.items():
        if rng.random() < 0.1:
            record[key] = rng.choice(values)
    return record


def run_backends(item: tuple[str, list[dict[str, Any]], str]) -> str:
    """A batch backend gives the reference's outcome for every record, or a typed error."""
    from koordrules.backends import evaluate_batch

    text, records, backend = item
    cs = load_text(text, file="fuzz.yaml")
    program = koordrules.compile(cs)
    reference = []
    for record in records:
        try:
            reference.append(koordrules.evaluate(cs, record, trace=False).outcome)
        except KoordError:
            return "reference_refused"
    try:
        with _one_duckdb_connection() if backend == "duckdb" else contextlib.nullcontext():
            table = evaluate_batch(program, records, backend=backend)
    except ImportError:
        return "backend_missing"
    got = _outcomes(table)
    assert got == reference, f"{backend}: {got} != reference {reference}"
    return "ok"


class _SharedConnection:
    """The run's one in-memory DuckDB connection, handed to the backend's ``Session`` in
    place of a new one; its ``close()`` does nothing. Only the harness does this: a new
    connection costs about 20 ms, a third of a DuckDB input's time."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def close(self) -> None:
        pass


_SHARED: list[_SharedConnection] = []


@contextlib.contextmanager
def _one_duckdb_connection() -> Iterator[None]:
    """``duckdb.connect()`` returns the run's shared connection while the block runs. After
    any exception the connection is closed and the next input gets a new one, so no state of
    a failed query is carried over."""
    import duckdb

    real = duckdb.connect
    if not _SHARED:
        _SHARED.append(_SharedConnection(real()))
    shared = _SHARED[0]
    duckdb.connect = lambda *args, **kwargs: shared
    try:
        yield
    except BaseException:
        _SHARED.clear()
        shared._con.close()
        raise
    finally:
        duckdb.connect = real


def _outcomes(table: Any) -> list[Any]:
    if hasattr(table, "column"):
        return list(table.column("outcome").to_pylist())
    return list(table["outcome"].to_list())

