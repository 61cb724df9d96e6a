"""Shared pieces of the fuzzing harness (tests/fuzzing.py): the shipped texts, mutation,
random text, the scratch folder, and the generators several surfaces use (expressions,
records, the frame set an expression is put in)."""

from __future__ import annotations

import functools
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import koordrules  # noqa: E402
from koordrules import load_text  # noqa: E402

CRITERIA = ROOT / "criteria"
SET_FILES = sorted(p for p in CRITERIA.rglob("*.yaml")
                   if not p.name.endswith((".cases.yaml", ".mapping.yaml", ".valueset.yaml")))
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
def texts(kind: str) -> list[str]:
    if kind == "sets":
        return [p.read_text(encoding="utf-8") for p in SET_FILES]
    if kind == "cases":
        return [p.read_text(encoding="utf-8") for p in sorted(CRITERIA.rglob("*.cases.yaml"))]
    return [(CRITERIA / "criteria.lock").read_text(encoding="utf-8")]


@functools.cache
def expressions() -> list[str]:
    found: list[str] = []
    for text in texts("sets"):
        found += [line.split("when:", 1)[1].strip() for line in text.splitlines()
                  if "when:" in line and line.split("when:", 1)[1].strip() not in ("", "|", ">")]
    return found



def scratch(name: str, content: bytes | str) -> Path:
    path = SCRATCH / f"koordrules-fuzz-{os.getpid()}-{name}"
    path.write_bytes(content if isinstance(content, bytes) else
                     content.encode("utf-8", "surrogatepass"))
    return path


@functools.cache
def catalog() -> koordrules.Catalog:
    return koordrules.Catalog.builtin()



TOKENS = ["x", "n", "d", "s", "flag", "units", "A", "tall", "and", "or", "not", "in", "xor",
          "implies", "between", "if", "then", "else", "true", "false", "(", ")", "[", "]", ",",
          "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "1", "0", "2.5", "30 days",
          "2024-01-01", "'a'", '"b"', "at_least(", "is_known(", "coalesce(", "length(",
          "any(", "all(", "count(", "min(", "max(", "9" * 31, "#"]


def expression(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return " ".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 30)))
    return mutate(rng, rng.choice(expressions()), rng.randint(0, 4))



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


def hostile_record(rng: random.Random) -> dict[str, Any]:
    good = good_record(rng)
    record = {k: v for k, v in good.items() if rng.random() < 0.8}
    for _ in range(rng.randint(0, 2)):
        record[rng.choice([*good, "other", "\u0410"])] = rng.choice(HOSTILE_VALUES)
    return record


def good_record(rng: random.Random) -> dict[str, Any]:
    return {"x": rng.uniform(-1000, 1000), "n": rng.randint(-10, 10),
                            "d": f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                            "s": rng.choice("abc"), "flag": rng.random() < 0.5,
            "units": rng.sample(["a", "b", "c"], rng.randint(0, 3))}



@functools.cache
def frame_set() -> koordrules.CriteriaSet:
    return load_text(FRAME.replace("EXPR", "x > tall and n < 3 or s == 'a' or length(units) > 1"
                                   " or d > 2024-03-01"), file="frame.yaml")


def well_formed(rng: random.Random, depth: int) -> str:
    leaves = ["flag", "x > 3", "x <= tall", "n == 2", "n + 1 > n", "s == 'a'", "s in ['a', 'b']",
              "d < 2024-05-01", "length(units) > 1", "'a' in units", "is_known(x)",
              "coalesce(flag, false)", "x * 2 - n >= 0", "n / 2 > 1", "any([flag, x > 0])",
              "at_least(1, flag, n > 0)", "d + 30 days > 2024-03-01"]
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(leaves)
    op = rng.choice(["and", "or", "xor", "implies", "not", "if"])
    a, b = well_formed(rng, depth - 1), well_formed(rng, depth - 1)
    if op == "not":
        return f"not ({a})"
    if op == "if":
        return f"(if {a} then {b} else {well_formed(rng, depth - 1)})"
    return f"({a}) {op} ({b})"


