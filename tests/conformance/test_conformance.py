"""The ONE conformance runner: every corpus case (:mod:`conformance.corpus`) on every target
(:mod:`conformance.targets`).

A case passes on a target when the target gives the ``want`` values (or raises an error with
``want_error_code``) **and** exactly the reference interpreter's rows. What a target cannot do
is listed in ``exceptions.yaml`` (``target``, ``case`` id, ``code``, ``reason``): there the
target must raise a :class:`~koordrules.errors.KoordError` with that code — a typed error the
user gets, never a different answer.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import yaml
from conformance.corpus import HERE, Built, Case, build_case, collect, error_codes, expected_rows
from conformance.targets import SINGLE, TARGETS, Row, run

from koordrules import KoordError
from koordrules.evaluator import Interpreter
from koordrules.inputs import validate_record
from koordrules.values import to_json

CASES = collect()
EXCEPTIONS: list[dict[str, str]] = yaml.safe_load(
    (HERE / "exceptions.yaml").read_text(encoding="utf-8")) or []
EXCEPTED = {(e["target"], e["case"]): e for e in EXCEPTIONS}


def test_every_exception_names_a_case_and_says_why() -> None:
    ids = {c.id for c in CASES}
    for e in EXCEPTIONS:
        assert set(e) == {"target", "case", "code", "reason"}, e
        assert e["case"] in ids, f"exceptions.yaml: no case {e['case']!r}"
        assert e["reason"].strip(), e


@functools.cache
def _built(case_id: str) -> Built | KoordError:
    case = next(c for c in CASES if c.id == case_id)
    try:
        return build_case(case)
    except KoordError as err:
        return err


@functools.cache
def _reference(case_id: str) -> list[Row] | KoordError:
    built = _built(case_id)
    assert isinstance(built, Built)
    case = next(c for c in CASES if c.id == case_id)
    try:
        return run("reference", built.cs, case.records, strict=case.strict)
    except KoordError as err:
        return err


def same(got: Any, want: Any) -> bool:
    """Equality that keeps true apart from 1 and unknown apart from false."""
    if want is None or isinstance(want, bool):
        return got is want
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            same(g, w) for g, w in zip(got, want, strict=True))
    return not isinstance(got, bool) and got == want


def _expr_value(case: Case, built: Built) -> list[Any]:
    """The interpreter's value of an ``expr`` case's expression, per record."""
    from koordrules import parse_expression

    expr = parse_expression(case.data["expr"])
    out = []
    for record in case.records:
        inputs, _ = validate_record(built.cs, record, strict=case.strict)
        out.append(to_json(Interpreter(built.cs, inputs).evaluate(expr)))
    return out


def _check_rows(case: Case, built: Built, target: str, got: list[Row]) -> None:
    assert len(got) == len(case.records)
    for n, (row, want) in enumerate(zip(got, expected_rows(case, built), strict=True)):
        for key, expected in want.items():
            if key == "warnings":
                assert built.warnings == expected
            elif key == "possible_outcomes":
                if target in SINGLE:
                    assert _possible(case, built, n) == expected
            elif key == "criteria":
                crit = row["criteria"]
                assert all(same(crit[k], v) for k, v in expected.items()), \
                    f"record {n}: criteria: got {crit}, want {expected}"
            else:
                assert row[key] == expected, f"record {n}: {key}: got {row[key]!r}"


def _possible(case: Case, built: Built, n: int) -> list[str]:
    from koordrules.engine import evaluate

    r = evaluate(built.cs, case.records[n], strict=case.strict, trace=False, reference=True)
    return list(r.possible_outcomes)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, target: str) -> None:
    built = _built(case.id)
    want_code = case.data.get("want_error_code")
    if isinstance(built, KoordError):  # a load or check error: the same for every target
        assert want_code is not None, f"unexpected error: {built}"
        assert want_code in error_codes(built), str(built)
        return
    excepted = EXCEPTED.get((target, case.id))
    if excepted is not None:
        with pytest.raises(KoordError) as info:
            run(target, built.cs, case.records, strict=case.strict,
                columns=case.data.get("columns"))
        assert excepted["code"] in error_codes(info.value), str(info.value)
        return
    if want_code is not None:
        with pytest.raises(KoordError) as info:
            run(target, built.cs, case.records, strict=case.strict,
                columns=case.data.get("columns"))
        assert want_code in error_codes(info.value), str(info.value)
        return
    got = run(target, built.cs, case.records, strict=case.strict,
              columns=case.data.get("columns"))
    _check_rows(case, built, target, got)
    reference = _reference(case.id)
    assert not isinstance(reference, KoordError), f"the reference raised {reference}"
    assert got == reference, "differs from the reference interpreter"
    if case.is_expr and target == "reference":
        values = _expr_value(case, built)
        assert all(same(v, to_json(w)) for v, w in zip(values, case.wants, strict=True)), \
            f"got {values!r}, want {case.wants!r}"
