"""Fuzzing surfaces of the files koordrules reads as text: expressions, a criterion in a
frame set with records, whole criteria files (mutated shipped files, raw YAML tokens, random
bytes), case files and the lock file. The harness is tests/fuzzing.py."""

from __future__ import annotations

import json
import os
import random
from typing import Any

from fuzz_common import (
    FRAME,
    SCRATCH,
    catalog,
    expression,
    hostile_record,
    mutate,
    scratch,
    texts,
    well_formed,
)

import koordrules
from koordrules import KoordError, load_text, parse_expression


def run_expression(text: str) -> str:
    parse_expression(text)
    return "ok"



def criterion(rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
    expr = expression(rng) if rng.random() < 0.4 else well_formed(rng, 4)
    if rng.random() < 0.3:
        expr = mutate(rng, expr, rng.randint(1, 2))
    text = FRAME.replace("EXPR", "\n      ".join(expr.splitlines() or [""]))
    return text, [hostile_record(rng) for _ in range(3)]


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
    return mutate(rng, rng.choice(texts("sets")), rng.randint(1, 6))


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
    data = rng.choice(texts("sets")).encode("utf-8")
    i = rng.randrange(len(data) + 1)
    top = 256 if rng.random() < 0.3 else 128  # invalid UTF-8 in some, other bytes in most
    raw = bytes(rng.randrange(top) for _ in range(rng.randint(1, 40)))
    return data[:i] + raw + data[i + rng.randint(0, 20):]



def run_criteria_bytes(raw: bytes) -> str:
    koordrules.load(scratch("set.yaml", raw))
    return "ok"



def cases_file(rng: random.Random) -> str:
    return mutate(rng, rng.choice(texts("cases")), rng.randint(1, 5))


def run_cases_file(text: str) -> str:
    from koordrules.cases import check_case_file, read_case_text, render_failure, run_cases

    spec, doc = read_case_text(text, file="fuzz.cases.yaml")
    for run in run_cases(check_case_file(spec, doc, catalog())):
        render_failure(run).encode("utf-8")
    return "ok"


def lock_file(rng: random.Random) -> str:
    return mutate(rng, texts("lock")[0], rng.randint(1, 5))


def run_lock_file(text: str) -> str:
    from koordrules.lock import read_lock, render_lock

    folder = SCRATCH / f"koordrules-fuzz-{os.getpid()}-lock"
    folder.mkdir(exist_ok=True)
    (folder / "criteria.lock").write_bytes(text.encode("utf-8", "surrogatepass"))
    lock, _ = read_lock(folder / "criteria.lock")
    render_lock(lock)
    return "ok"

