"""A bounded fuzzing harness: every surface koordrules reads, one generator and one runner.

Each *surface* turns a seeded :class:`random.Random` into one hostile input (a mutated
shipped file, random tokens, random bytes, a record file with hostile values …) and runs it
through the library. The only allowed results are a value or a
:class:`koordrules.KoordError`; anything else — another exception, an input that takes longer
than the time bound, memory beyond the bound — is a finding, reported with the surface, seed
and index that reproduce it.

CI runs a few inputs per surface (tests/test_fuzz_inputs.py). A large run, one surface per
process, with the time and memory bounds enforced::

    python tests/fuzzing.py --surface records-jsonl --examples 100000 --seed 1
    python tests/fuzzing.py --all --examples 100000 --report fuzz-report.json

``KOORDRULES_FUZZ_EXAMPLES`` sets the number of inputs per surface in the pytest run.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import functools
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import koordrules  # noqa: E402
from koordrules import KoordError, load_text, parse_expression  # noqa: E402

CRITERIA = ROOT / "criteria"
SET_FILES = sorted(p for p in CRITERIA.rglob("*.yaml")
                   if not p.name.endswith((".cases.yaml", ".mapping.yaml", ".valueset.yaml")))
TIME_LIMIT = float(os.environ.get("KOORDRULES_FUZZ_SECONDS", "10"))
"""Seconds one input may take (generous: CI machines are shared)."""
MEMORY_MB = int(os.environ.get("KOORDRULES_FUZZ_MEMORY_MB", "1500"))
"""Peak resident memory of the whole run."""
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())

SNIPPETS = [
    "\t", "\ufeff", "&a ", "*a", "<<: *a\n", "!!python/object:os.system ", "!!binary ",
    "!custom ", "---\n", "...\n", "{", "}", "[", "]", ":", ": ", "- ", "#", "'", '"', "\\",
    "|", ">", "\n", "\r\n", "\x00", "\x1b[31m", "\x85", "\u2028", "\u202e", "\u2066", "\ud800",
    "é", "ø", "名前", "🙂", "\u0410", "9" * 40, "9" * 5000, "1e999", "-.inf", ".nan", "0x1F",
    "2024-02-30", "2023-02-29", "2024-13-45", "null", "~", "true", "no", "on", "((((", "))))",
    "not not not", " and ", " or ", "at_least(", "is_known(", "\"\"\"", "''", "% ", "@", "`",
    "\\e", "\\ud800", "\\x1b", "\\u202e", "NaN", "Infinity", "1_000", "١٢", "１２", ",", ";",
]


class Hang(BaseException):
    """An input ran past the time bound (a BaseException, so no ``except Exception`` hides it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang(f"more than {TIME_LIMIT} s")


def mutate(rng: random.Random, text: str, steps: int) -> str:
    """``text`` after ``steps`` random inserts, deletes, duplications and replacements."""
    for _ in range(steps):
        i = rng.randrange(len(text) + 1)
        op = rng.randrange(5)
        if op == 0:
            text = text[:i] + rng.choice(SNIPPETS) + text[i:]
        elif op == 1:
            text = text[:i] + random_text(rng, 6) + text[i:]
        elif op == 2:
            text = text[:i] + text[i + rng.randint(1, 40):]
        elif op == 3:
            n = rng.randint(1, 200)
            text = text[:i] + text[i:i + n] * rng.randint(2, 4) + text[i + n:]
        else:
            text = text[:i] + random_text(rng, 3) + text[i + 3:]
    return text


def random_text(rng: random.Random, size: int) -> str:
    pools = ("abcxyzABC_019 ", "()[]<>=!+-*/,.\"'#:\n\t", "æøåÆØÅéü名🙂\u0410\u202e\x1b\x00\x85")
    pool = rng.choice(pools)
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, size)))


@functools.cache
def _texts(kind: str) -> list[str]:
    if kind == "sets":
        return [p.read_text(encoding="utf-8") for p in SET_FILES]
    if kind == "cases":
        return [p.read_text(encoding="utf-8") for p in sorted(CRITERIA.rglob("*.cases.yaml"))]
    return [(CRITERIA / "criteria.lock").read_text(encoding="utf-8")]


@functools.cache
def _expressions() -> list[str]:
    found: list[str] = []
    for text in _texts("sets"):
        found += [line.split("when:", 1)[1].strip() for line in text.splitlines()
                  if "when:" in line and line.split("when:", 1)[1].strip() not in ("", "|", ">")]
    return found


# --- the surfaces ------------------------------------------------------------------------

TOKENS = ["x", "n", "d", "s", "flag", "units", "A", "tall", "and", "or", "not", "in", "xor",
          "implies", "between", "if", "then", "else", "true", "false", "(", ")", "[", "]", ",",
          "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "1", "0", "2.5", "30 days",
          "2024-01-01", "'a'", '"b"', "at_least(", "is_known(", "coalesce(", "length(",
          "any(", "all(", "count(", "min(", "max(", "9" * 31, "#"]


def expression(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return " ".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 30)))
    return mutate(rng, rng.choice(_expressions()), rng.randint(0, 4))


def run_expression(text: str) -> str:
    parse_expression(text)
    return "ok"


FRAME = """\
id: fuzz/frame
version: 1.0.0
title: Fuzz
status: draft
effective_from: 2024-01-01
source: {document: fuzz}
parameters:
  tall: {value: 6}
inputs:
  x: {type: number, kind: data, min: -1000, max: 1000}
  n: {type: integer, kind: data}
  d: {type: date, kind: data}
  s: {type: enum, kind: data, values: [a, b, c]}
  flag: {type: boolean, kind: judgement}
  units: {type: list, kind: data, items: string}
criteria:
  A:
    title: A
    when: flag
  Z:
    title: Z
    when: |-
      EXPR
outcomes:
  - id: flagged
    title: flagged
    when: Z or A
  - id: other
    title: other
    otherwise: true
"""

HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, 10**40, 10**400, 1e308, -1e308, "", "a", "b", "x" * 20_000,
    "\ud800", "\x1b[2J\n[JA]", "\u202e", "2024-02-30", "2024-01-01", "0000-01-01", [], ["a"],
    [None], [[1]], {"a": 1}, ["x"] * 2000, float("inf"), float("nan"),
]


def _record(rng: random.Random) -> dict[str, Any]:
    good = _good_record(rng)
    record = {k: v for k, v in good.items() if rng.random() < 0.8}
    for _ in range(rng.randint(0, 2)):
        record[rng.choice([*good, "other", "\u0410"])] = rng.choice(HOSTILE_VALUES)
    return record


def _good_record(rng: random.Random) -> dict[str, Any]:
    return {"x": rng.uniform(-1000, 1000), "n": rng.randint(-10, 10),
                            "d": f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                            "s": rng.choice("abc"), "flag": rng.random() < 0.5,
            "units": rng.sample(["a", "b", "c"], rng.randint(0, 3))}


def criterion(rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
    expr = expression(rng) if rng.random() < 0.4 else _well_formed(rng, 4)
    if rng.random() < 0.3:
        expr = mutate(rng, expr, rng.randint(1, 2))
    text = FRAME.replace("EXPR", "\n      ".join(expr.splitlines() or [""]))
    return text, [_record(rng) for _ in range(3)]


def run_criterion(item: tuple[str, list[dict[str, Any]]]) -> str:
    text, records = item
    cs = load_text(text, file="fuzz.yaml")
    for record in records:
        try:
            result = koordrules.evaluate(cs, record)
        except KoordError:
            continue
        assert result.outcome in ("flagged", "other", None), result.outcome
        json.dumps(result.to_json())
        koordrules.render_text(result).encode("utf-8")
    return "ok"


def criteria_file(rng: random.Random) -> str:
    return mutate(rng, rng.choice(_texts("sets")), rng.randint(1, 6))


SCHEMA_WORDS = ["id", "version", "title", "status", "effective_from", "source", "document",
                "parameters", "inputs", "criteria", "outcomes", "when", "otherwise", "type",
                "kind", "values", "items", "min", "max", "value", "unit", "extends", "quote",
                "A", "B", "x", "true", "draft", "active", "1.0.0", "2024-01-01", "2024-02-30",
                "boolean", "number", "integer", "enum", "list", "date", "string", "data",
                "fuzz/set", "9" * 5000, "'\\ud800'", '"\\e"', "\u202e", "\u0410"]
YAML_PUNCT = [": ", "\n", "\n  ", "\n    ", "- ", "{", "}", "[", "]", ", ", "&a ", "*a", "!!str ",
              "? ", "|\n  ", ">-\n  ", "'", '"', "#c\n", "---\n"]


def criteria_tokens(rng: random.Random) -> str:
    """A file of random YAML tokens and schema words: raw-token YAML."""
    parts = []
    for _ in range(rng.randint(1, 80)):
        parts.append(rng.choice(SCHEMA_WORDS) if rng.random() < 0.55 else rng.choice(YAML_PUNCT))
    return "".join(parts)


def run_criteria_text(text: str) -> str:
    load_text(text, file="fuzz.yaml")
    return "ok"


def criteria_bytes(rng: random.Random) -> bytes:
    data = rng.choice(_texts("sets")).encode("utf-8")
    i = rng.randrange(len(data) + 1)
    top = 256 if rng.random() < 0.3 else 128  # invalid UTF-8 in some, other bytes in most
    raw = bytes(rng.randrange(top) for _ in range(rng.randint(1, 40)))
    return data[:i] + raw + data[i + rng.randint(0, 20):]


def _scratch(name: str, content: bytes | str) -> Path:
    path = SCRATCH / f"koordrules-fuzz-{os.getpid()}-{name}"
    path.write_bytes(content if isinstance(content, bytes) else
                     content.encode("utf-8", "surrogatepass"))
    return path


def run_criteria_bytes(raw: bytes) -> str:
    koordrules.load(_scratch("set.yaml", raw))
    return "ok"


@functools.cache
def _frame_set() -> koordrules.CriteriaSet:
    return load_text(FRAME.replace("EXPR", "x > tall and n < 3 or s == 'a' or length(units) > 1"
                                   " or d > 2024-03-01"), file="frame.yaml")


def _json_value(rng: random.Random, value: Any) -> str:
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "Infinity"
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def _json_record(rng: random.Random) -> str:
    record = _record(rng)
    body = ", ".join(f"{json.dumps(k)}: {_json_value(rng, v)}" for k, v in record.items())
    if rng.random() < 0.1:
        body += ', "x": 1'  # a key twice
    if rng.random() < 0.05:
        depth = rng.choice([31, 33, 1000, 100_000])
        body += ', "deep": ' + "[" * depth + "]" * depth
    return "{" + body + "}"


def records_json(rng: random.Random) -> bytes:
    text = "[" + ",\n".join(_json_record(rng) for _ in range(rng.randint(0, 6))) + "]"
    return _mutated_bytes(rng, text)


def records_jsonl(rng: random.Random) -> bytes:
    text = "".join(_json_record(rng) + "\n" for _ in range(rng.randint(0, 6)))
    return _mutated_bytes(rng, text)


CSV_CELLS = ["", "1", "-2.5", "1e3", "1_000", "١٢", "１２", "inf", "nan", "true", "false", "ja",
             "2024-01-01", "2024-02-30", "a", "b", "\"a,b\"", "\"", "x" * 140_000, "9" * 5000,
             "\x1b[31m", "\u202e", "a;b"]


def records_csv(rng: random.Random) -> bytes:
    columns = rng.sample(["x", "n", "d", "s", "flag", "units", "x", "other"], rng.randint(1, 6))
    lines = [",".join(columns)]
    for _ in range(rng.randint(0, 6)):
        cells = [rng.choice(CSV_CELLS) for _ in range(len(columns) + rng.choice([-1, 0, 0, 0, 1]))]
        lines.append(",".join(cells))
    return _mutated_bytes(rng, "\n".join(lines) + "\n")


def _mutated_bytes(rng: random.Random, text: str) -> bytes:
    if rng.random() < 0.5:
        text = mutate(rng, text, rng.randint(1, 4))
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.15:
        i = rng.randrange(len(data) + 1)
        data = data[:i] + bytes(rng.randrange(128, 256) for _ in range(rng.randint(1, 4))) \
            + data[i:]
    return data


def _run_records(suffix: str) -> Callable[[bytes], str]:
    def run(raw: bytes) -> str:
        cs = _frame_set()
        path = _scratch(f"records{suffix}", raw)
        lines = len(raw.splitlines()) + 1  # the reader ends a line at \n, \r\n or \r
        count = 0
        for number, item in koordrules.records.read_records(path, cs):
            count += 1
            assert isinstance(number, int)
            if isinstance(item, KoordError):
                str(item).encode("utf-8")
                continue
            try:
                result = koordrules.evaluate(cs, item)
            except KoordError:
                continue
            json.dumps(result.to_json()).encode("utf-8")
            koordrules.render_text(result).encode("utf-8")
        if suffix == ".jsonl":
            assert count <= lines, "more records than lines"
        return "ok"
    return run


def cases_file(rng: random.Random) -> str:
    return mutate(rng, rng.choice(_texts("cases")), rng.randint(1, 5))


@functools.cache
def _catalog() -> koordrules.Catalog:
    return koordrules.Catalog.builtin()


def run_cases_file(text: str) -> str:
    from koordrules.cases import check_case_file, read_case_text, render_failure, run_cases

    spec, doc = read_case_text(text, file="fuzz.cases.yaml")
    for run in run_cases(check_case_file(spec, doc, _catalog())):
        render_failure(run).encode("utf-8")
    return "ok"


def lock_file(rng: random.Random) -> str:
    return mutate(rng, _texts("lock")[0], rng.randint(1, 5))


def run_lock_file(text: str) -> str:
    from koordrules.lock import read_lock, render_lock

    folder = SCRATCH / f"koordrules-fuzz-{os.getpid()}-lock"
    folder.mkdir(exist_ok=True)
    (folder / "criteria.lock").write_bytes(text.encode("utf-8", "surrogatepass"))
    lock, _ = read_lock(folder / "criteria.lock")
    render_lock(lock)
    return "ok"


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

    path = _scratch("bundle.json", raw)
    record = fhir.read_patient_file(path)
    mapped = fhir.map_bundle(_mapping(), record, as_of=dt.date(2024, 6, 1))
    cs = _catalog().get("helse-vest/anbefaling-3")
    try:
        result = koordrules.evaluate(cs, mapped.record)
    except KoordError:
        return "ok"
    json.dumps(result.to_json()).encode("utf-8")
    return "ok"


BACKENDS = ("python", "polars", "duckdb")


def backends(rng: random.Random) -> tuple[str, list[dict[str, Any]], str]:
    expr = expression(rng) if rng.random() < 0.3 else _well_formed(rng, 3)
    text = FRAME.replace("EXPR", expr.replace("\n", " "))
    good = [_batch_record(rng) for _ in range(rng.randint(1, 5))]
    return text, good, rng.choice(BACKENDS)


def _batch_record(rng: random.Random) -> dict[str, Any]:
    """A valid record with some inputs unknown and some values at the edges."""
    edges: dict[str, list[Any]] = {"x": [-1000, 1000, 0, 0.1, -0.0], "n": [0, 2**31, -2**31, 2**53],
                                   "d": ["2024-02-29", "1900-01-01", "2099-12-31"],
                                   "units": [[], ["a", "a"]]}
    record = {k: v for k, v in _good_record(rng).items() if rng.random() < 0.85}
    for key, values in edges.items():
        if rng.random() < 0.1:
            record[key] = rng.choice(values)
    return record


def _well_formed(rng: random.Random, depth: int) -> str:
    leaves = ["flag", "x > 3", "x <= tall", "n == 2", "n + 1 > n", "s == 'a'", "s in ['a', 'b']",
              "d < 2024-05-01", "length(units) > 1", "'a' in units", "is_known(x)",
              "coalesce(flag, false)", "x * 2 - n >= 0", "n / 2 > 1", "any([flag, x > 0])",
              "at_least(1, flag, n > 0)", "d + 30 days > 2024-03-01"]
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(leaves)
    op = rng.choice(["and", "or", "xor", "implies", "not", "if"])
    a, b = _well_formed(rng, depth - 1), _well_formed(rng, depth - 1)
    if op == "not":
        return f"not ({a})"
    if op == "if":
        return f"(if {a} then {b} else {_well_formed(rng, depth - 1)})"
    return f"({a}) {op} ({b})"


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
        table = evaluate_batch(program, records, backend=backend)
    except ImportError:
        return "backend_missing"
    got = _outcomes(table)
    assert got == reference, f"{backend}: {got} != reference {reference}"
    return "ok"


def _outcomes(table: Any) -> list[Any]:
    if hasattr(table, "column"):
        return list(table.column("outcome").to_pylist())
    return list(table["outcome"].to_list())


@dataclass(frozen=True)
class Surface:
    generate: Callable[[random.Random], Any]
    run: Callable[[Any], str]


SURFACES: dict[str, Surface] = {
    "expression": Surface(expression, run_expression),
    "criterion": Surface(criterion, run_criterion),
    "criteria-file": Surface(criteria_file, run_criteria_text),
    "criteria-tokens": Surface(criteria_tokens, run_criteria_text),
    "criteria-bytes": Surface(criteria_bytes, run_criteria_bytes),
    "records-json": Surface(records_json, _run_records(".json")),
    "records-jsonl": Surface(records_jsonl, _run_records(".jsonl")),
    "records-csv": Surface(records_csv, _run_records(".csv")),
    "cases-file": Surface(cases_file, run_cases_file),
    "lock-file": Surface(lock_file, run_lock_file),
    "fhir-bundle": Surface(fhir_bundle, run_fhir_bundle),
    "backends": Surface(backends, run_backends),
}


# --- running -----------------------------------------------------------------------------


@dataclass
class Stats:
    surface: str
    seed: int
    inputs: int = 0
    results: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    slowest_s: float = 0.0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {"surface": self.surface, "seed": self.seed, "inputs": self.inputs,
                "findings": len(self.findings), "first_findings": self.findings[:5],
                "results": dict(self.results.most_common(12)),
                "slowest_input_s": round(self.slowest_s, 3), "seconds": round(self.seconds, 1),
                "peak_rss_mb": round(self.peak_rss_mb, 1)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_surface(name: str, examples: int, seed: int, *, max_findings: int = 20,
                progress: int = 0) -> Stats:
    """Run ``examples`` inputs of surface ``name``; every finding is kept (up to a limit)."""
    surface = SURFACES[name]
    stats = Stats(name, seed)
    previous = signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    try:
        for index in range(examples):
            rng = random.Random(f"{seed}:{name}:{index}")
            item = surface.generate(rng)
            begin = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
            try:
                outcome = surface.run(item)
            except KoordError as ex:
                outcome = ex.code
                str(ex).encode("utf-8")  # a message must be printable
            except (Exception, Hang) as ex:  # any other exception is a finding
                outcome = "FINDING"
                where = traceback.extract_tb(ex.__traceback__)[-1]
                stats.findings.append(f"{name} seed={seed} index={index}: "
                                      f"{type(ex).__name__} at {Path(where.filename).name}:"
                                      f"{where.lineno}: {str(ex)[:200]!r}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            stats.slowest_s = max(stats.slowest_s, time.perf_counter() - begin)
            stats.inputs += 1
            stats.results[outcome] += 1
            if _peak_rss_mb() > MEMORY_MB:
                stats.findings.append(f"{name} seed={seed} index={index}: peak memory "
                                      f"{_peak_rss_mb():.0f} MB over {MEMORY_MB} MB")
                break
            if len(stats.findings) >= max_findings:
                break
            if progress and stats.inputs % progress == 0:
                stats.seconds = time.perf_counter() - started
                stats.peak_rss_mb = _peak_rss_mb()
                print(json.dumps(stats.summary()), file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGALRM, previous)
        stats.seconds = time.perf_counter() - started
        stats.peak_rss_mb = _peak_rss_mb()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surface", action="append", choices=sorted(SURFACES))
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", help="append one JSON line per surface to this file")
    parser.add_argument("--progress", type=int, default=0, metavar="N",
                        help="print the figures so far to standard error every N inputs")
    args = parser.parse_args(argv)
    names = sorted(SURFACES) if args.all else (args.surface or [])
    failed = 0
    for name in names:
        stats = run_surface(name, args.examples, args.seed, progress=args.progress)
        line = json.dumps(stats.summary(), ensure_ascii=True)
        print(line, flush=True)
        if args.report:
            with open(args.report, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        failed += len(stats.findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
