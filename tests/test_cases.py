"""Data-driven cases: every ``tests/cases/*.yaml`` file, one test per case.

A case file has an optional ``declare`` (input types for its ``expr`` cases: ``name: type``
or ``name: {type: enum, values: [...]}``) and a list of ``cases``. Each case has a ``note`` and

* ``expr`` (one expression, evaluated against ``declare``) **or** ``criteria`` (the body of a
  criteria set: parameters, inputs, criteria, outcomes; the header is added) **or**
  ``criteria: shipped`` (the shipped Anbefaling 3 set);
* ``input``: the record (omitted = empty);
* ``want``: for ``expr``, the value in JSON form (``null`` = unknown, dates ISO, durations
  ``"6 months"``); for a set, a mapping compared key by key with the result (``outcome``,
  ``possible_outcomes``, ``missing``, ``criteria``) plus optional ``warnings`` (codes);
* or ``want_error_code``: the code of the error raised (parse, check, input or load), or for a
  set one of the codes in its ``CriteriaError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import HEADER, SHIPPED_SET, set_with_inputs

from koordrules import CriteriaError, CriteriaSet, KoordError, evaluate, load, parse_expression
from koordrules.check import environment
from koordrules.evaluator import Interpreter
from koordrules.inputs import validate_record
from koordrules.loader import build, finish, read_text
from koordrules.typecheck import infer
from koordrules.values import to_json

CASES_DIR = Path(__file__).parent / "cases"
CASE_KEYS = {"note", "expr", "criteria", "input", "want", "want_error_code", "declare"}


def _collect() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            unknown = set(case) - CASE_KEYS
            assert not unknown, f"{path.name}: {case.get('note')}: unknown keys {unknown}"
            declare = {**data.get("declare", {}), **case.get("declare", {})}
            params.append(pytest.param(case, declare, id=f"{path.stem}: {case['note']}"))
    return params


def same(got: Any, want: Any) -> bool:
    """Equality that keeps true apart from 1 and unknown apart from false."""
    if want is None or isinstance(want, bool):
        return got is want
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            same(g, w) for g, w in zip(got, want, strict=True))
    return not isinstance(got, bool) and got == want


_SHIPPED: dict[str, CriteriaSet] = {}


def _shipped() -> CriteriaSet:
    if "set" not in _SHIPPED:
        _SHIPPED["set"] = load(SHIPPED_SET)
    return _SHIPPED["set"]


def _load_body(body: dict[str, Any]) -> tuple[CriteriaSet, list[str]]:
    text = HEADER + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    setfile = read_text(text, file="case.yaml")
    cs, warnings = finish(*build(setfile), "case.yaml")
    return cs, [w.code for w in warnings]


def run_expr(case: dict[str, Any], declare: dict[str, Any]) -> Any:
    cs = set_with_inputs(declare)
    expr = parse_expression(case["expr"])
    _, problems = infer(expr, environment(cs))
    if problems:
        raise CriteriaError(problems)
    inputs, _ = validate_record(cs, case.get("input") or {})
    return to_json(Interpreter(cs, inputs).evaluate(expr))


@pytest.mark.parametrize(("case", "declare"), _collect())
def test_case(case: dict[str, Any], declare: dict[str, Any]) -> None:
    assert ("expr" in case) != ("criteria" in case), "a case needs one of expr and criteria"
    assert ("want" in case) != ("want_error_code" in case), "a case needs want or want_error_code"
    if "want_error_code" in case:
        with pytest.raises(KoordError) as info:
            _run(case, declare)
        err = info.value
        codes = [d.code for d in err.diagnostics] if isinstance(err, CriteriaError) else [err.code]
        assert case["want_error_code"] in codes, str(err)
        return
    got = _run(case, declare)
    want = case["want"]
    if "expr" in case:
        assert same(got, to_json(want)), f"got {got!r}, want {want!r}"
        return
    result, warnings = got
    for key, expected in want.items():
        if key == "warnings":
            assert warnings == expected
            continue
        value = getattr(result, key)
        if isinstance(expected, dict):  # e.g. criteria: compare only the names given
            value = {k: value[k] for k in expected}
            assert all(same(value[k], v) for k, v in expected.items()), f"{key}: got {value!r}"
        else:
            value = list(value) if isinstance(value, tuple) else value
            assert value == expected, f"{key}: got {value!r}"


def _run(case: dict[str, Any], declare: dict[str, Any]) -> Any:
    if "expr" in case:
        return run_expr(case, declare)
    if case["criteria"] == "shipped":
        cs, warnings = _shipped(), []
    else:
        cs, warnings = _load_body(case["criteria"])
    return evaluate(cs, case.get("input") or {}), warnings
