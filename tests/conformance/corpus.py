"""The conformance corpus: ``tests/conformance/**/*.yaml`` (and the older ``tests/cases/*.yaml``,
which use the same keys), read into :class:`Case` objects.

A corpus file has an optional ``note`` and ``declare`` (input types for its ``expr`` cases:
``name: type`` or ``name: {type: enum, values: [...], min: ..}``) and a list of ``cases``.
Each case has

* ``note`` — what it shows (unique in the file; the test id is ``file: note``);
* ``expr`` (one expression over ``declare``; optional ``parameters: {name: value}``) **or**
  ``set`` (the body of a criteria set: parameters, inputs, criteria, outcomes; the header is
  added; ``criteria`` is an older spelling) **or** ``set: shipped`` (Anbefaling 3);
* ``input`` (one record) **or** ``records`` (a list of records); omitted = one empty record;
* ``want`` — for ``expr``: the value (``null`` = unknown, dates ISO, durations ``"6 months"``),
  a list of values with ``records``; for a set: a mapping compared key by key (``outcome``,
  ``criteria`` (partial), ``missing``, ``possible_outcomes``, ``warnings``), a list of them
  with ``records``; **or** ``want_error_code`` — the code the user gets (from parse, check,
  input validation or a backend), on every target;
* optional ``strict: false`` (bad input values count as unknown) and ``columns`` (feed the
  batch targets an Arrow table whose columns have these Arrow types, e.g. ``{d: string}``).

Every target must also give exactly the reference interpreter's rows (outcome, every
criterion, ``missing``), so a case cannot pass on a target that answers differently.

An ``expr`` case becomes a set with one input per declared name and, for a boolean
expression, the criterion ``value`` (and an outcome ``yes`` when it holds); for any other
type, the criteria ``known`` (``is_known(expr)``) and ``equal`` (``expr == want``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from koordrules import CriteriaError, CriteriaSet, load, parse_expression
from koordrules.check import environment
from koordrules.errors import KoordError
from koordrules.loader import build, finish, read_text
from koordrules.typecheck import infer

HERE = Path(__file__).parent
TESTS = HERE.parent
ROOT = TESTS.parent
SHIPPED_SET = ROOT / "criteria" / "helse-vest" / "anbefaling-3.yaml"
HEADER = """\
id: test/conformance
version: 1.0.0
title: Conformance case
status: draft
effective_from: 2024-01-01
source:
  document: Test document
"""
CASE_KEYS = {"note", "expr", "set", "criteria", "input", "records", "want", "want_error_code",
             "declare", "parameters", "strict", "columns"}


@dataclass
class Case:
    id: str
    data: dict[str, Any]
    declare: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> list[dict[str, Any]]:
        if "records" in self.data:
            return list(self.data["records"])
        return [self.data.get("input") or {}]

    @property
    def many(self) -> bool:
        return "records" in self.data

    @property
    def strict(self) -> bool:
        return bool(self.data.get("strict", True))

    @property
    def is_expr(self) -> bool:
        return "expr" in self.data

    @property
    def wants(self) -> list[Any]:
        want = self.data["want"]
        if self.many:
            assert isinstance(want, list) and len(want) == len(self.records), \
                f"{self.id}: want needs one entry per record"
            return list(want)
        return [want]


def files() -> list[Path]:
    own = sorted(p for p in HERE.rglob("*.yaml") if p.name != "exceptions.yaml")
    return own + sorted((TESTS / "cases").glob("*.yaml"))


def collect() -> list[Case]:
    out: list[Case] = []
    for path in files():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        stem = path.relative_to(TESTS).with_suffix("").as_posix()
        seen: set[str] = set()
        for raw in data["cases"]:
            unknown = set(raw) - CASE_KEYS
            assert not unknown, f"{path.name}: {raw.get('note')}: unknown keys {unknown}"
            assert raw["note"] not in seen, f"{path.name}: duplicate note {raw['note']!r}"
            seen.add(raw["note"])
            body = ("expr" in raw) + ("set" in raw) + ("criteria" in raw)
            assert body == 1, f"{path.name}: {raw['note']}: needs one of expr, set"
            assert ("want" in raw) != ("want_error_code" in raw), \
                f"{path.name}: {raw['note']}: needs want or want_error_code"
            declare = {**data.get("declare", {}), **raw.get("declare", {})}
            out.append(Case(f"{stem}: {raw['note']}", raw, declare))
    return out


# ---- building a case's set ----------------------------------------------------------------


def _load_body(body: dict[str, Any]) -> tuple[CriteriaSet, list[str]]:
    text = HEADER + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    setfile = read_text(text, file="case.yaml")
    cs, warnings = finish(*build(setfile), "case.yaml")
    return cs, [w.code for w in warnings]


def _input_specs(declare: dict[str, Any]) -> dict[str, Any]:
    return {name: {"type": spec, "kind": "data"} if isinstance(spec, str)
            else {"kind": "data", **spec} for name, spec in declare.items()}


@dataclass(frozen=True)
class Built:
    cs: CriteriaSet
    warnings: list[str]
    expr_type: str | None = None
    """For an ``expr`` case: the expression's type name."""


def _key(value: Any) -> str:
    return json.dumps(value, default=str)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _distinct(case: Case) -> list[Any]:
    """The distinct known values an ``expr`` case wants (each checked by one criterion)."""
    out: list[Any] = []
    for w in case.wants if "want" in case.data else []:
        if w is not None and all(_key(w) != _key(o) for o in out):
            out.append(w)
    return out


@functools.cache
def _shipped() -> CriteriaSet:
    return load(SHIPPED_SET)


def build_case(case: Case) -> Built:
    """The case's set (raises the load/check error a user would get)."""
    d = case.data
    if not case.is_expr:
        body = d.get("set", d.get("criteria"))
        if body == "shipped":
            return Built(_shipped(), [])
        cs, warnings = _load_body(body)
        return Built(cs, warnings)
    from conftest import set_with_inputs

    probe = set_with_inputs(case.declare, d.get("parameters"))
    expr = parse_expression(d["expr"])
    t, problems = infer(expr, environment(probe))
    if problems:
        raise CriteriaError(problems)
    params = {n: {"value": v} for n, v in (d.get("parameters") or {}).items()}
    body: dict[str, Any] = {"parameters": params, "inputs": _input_specs(case.declare)}
    if t.name == "boolean":
        body["criteria"] = {"value": {"title": "value", "when": d["expr"]}}
        body["outcomes"] = [{"id": "yes", "title": "yes", "when": "value"},
                            {"id": "no", "title": "no", "otherwise": True}]
    else:
        criteria = {"known": {"title": "known", "when": f"is_known({d['expr']})"}}
        for i, w in enumerate(_distinct(case)):
            if t.name == "duration":
                literal = str(w)
            else:
                literal = f"want_{i}"
                params[literal] = {"value": _date(w) if t.name == "date" else w}
            criteria[f"equal_{i}"] = {"title": "equal", "when": f"({d['expr']}) == {literal}"}
        body["criteria"] = criteria
        body["outcomes"] = [{"id": "yes", "title": "yes", "when": "known"},
                            {"id": "no", "title": "no", "otherwise": True}]
    if not params:
        del body["parameters"]
    try:
        cs, warnings = _load_body(body)
    except CriteriaError as err:  # a constant expression: its rule would be dead
        if {x.code for x in err.diagnostics if x.severity == "error"} != {"dead_rule"}:
            raise
        body["outcomes"] = body["outcomes"][1:]
        cs, warnings = _load_body(body)
    return Built(cs, warnings, t.name)


def expected_rows(case: Case, built: Built) -> list[dict[str, Any]]:
    """What each record's row must contain (a partial row: the keys to compare)."""
    out = []
    for want in case.wants:
        if not case.is_expr:
            out.append(dict(want))
        elif not built.cs.rules:
            out.append({"outcome": "no"})
        elif built.expr_type == "boolean":
            outcome = None if want is None else ("yes" if want else "no")
            out.append({"outcome": outcome, "criteria": {"value": want}})
        else:
            crit: dict[str, Any] = {"known": want is not None}
            if want is not None:
                i = [_key(w) for w in _distinct(case)].index(_key(want))
                crit[f"equal_{i}"] = True
            out.append({"outcome": "yes" if want is not None else "no", "criteria": crit})
    return out


def error_codes(err: KoordError) -> list[str]:
    return [x.code for x in err.diagnostics] if isinstance(err, CriteriaError) else [err.code]
