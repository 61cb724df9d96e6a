"""The HL7 CQL conformance suite (cqframework/cql-tests, Apache-2.0, ``tests/cql/``) on every
target.

Every test whose expression the language can state (:mod:`cql_translate`) becomes one criterion;
the tests of one XML file form one criteria set, evaluated on one record (the ``null`` inputs
unknown) by every target of the conformance corpus. An expressible test passes on every
target, or is listed in ``tests/cql/differences.yaml`` with the documented reason the language
differs (and then must really differ). The figures ``passed / expressible / examined`` per
target are printed at the end of the pytest run and by ``python tests/test_cql.py``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from conformance.targets import TARGETS, run
from cql_translate import (
    CQL_DIR,
    CqlTest,
    Translated,
    Untranslatable,
    criterion_for,
    load_tests,
)

import koordrules
from koordrules.errors import KoordError

_LISTED: dict[str, Any] = yaml.safe_load(
    (CQL_DIR / "differences.yaml").read_text(encoding="utf-8")) or {}
DIFFERENCES: dict[str, str] = _LISTED.get("language") or {}
OPEN: dict[str, dict[str, str]] = _LISTED.get("open") or {}

_HEADER = """\
id: cql/{slug}
version: 1.0.0
title: HL7 CQL conformance tests {name}
status: draft
effective_from: 2024-01-01
source: {{document: cqframework/cql-tests tests/cql/{name}.xml}}
"""


def _rename(text: str, i: int) -> str:
    return re.sub(r"\bnull(\d+)\b", lambda m: f"n{i}_{m.group(1)}", text)


def _set_text(name: str, cases: list[tuple[int, Translated]]) -> str:
    """One criteria set: criterion ``R<i>`` for case ``i``; the nulls are inputs."""
    inputs = {_rename(n, i): t.name for i, tr in cases for n, t in tr.nulls.items()}
    doc: dict[str, Any] = {
        "inputs": {"probe": {"type": "boolean", "kind": "data"},
                   **{n: {"type": t, "kind": "data"} for n, t in inputs.items()}},
        "criteria": {f"R{i}": {"title": f"case {i}", "when": _rename(tr.text, i)}
                     for i, tr in cases},
        "outcomes": [{"id": "first", "title": "first", "when": "probe"},
                     {"id": "rest", "title": "rest", "otherwise": True}],
    }
    slug = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    return _HEADER.format(name=name, slug=slug) + body


def _evaluate(target: str, name: str, cases: list[tuple[int, Translated]]
              ) -> dict[int, Any]:
    """Each case's criterion value on ``target``; a typed refusal as the KoordError code. A
    set the target refuses is split until the refusal is one case's."""
    cs = koordrules.load_text(_set_text(name, cases), file=f"{name}.yaml")
    try:
        row = run(target, cs, [{}])[0]
        return {i: row["criteria"][f"R{i}"] for i, _ in cases}
    except KoordError as ex:
        if len(cases) == 1:
            return {cases[0][0]: ex}
        half = len(cases) // 2
        return {**_evaluate(target, name, cases[:half]), **_evaluate(target, name, cases[half:])}


def _collect() -> tuple[list[CqlTest], dict[str, str], dict[str, Any]]:
    tests = load_tests()
    reasons: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {t: {} for t in TARGETS}
    wanted: dict[str, Any] = {}
    by_file: dict[str, list[tuple[int, Translated]]] = {}
    for i, test in enumerate(tests):
        try:
            criterion, want = criterion_for(test)
        except Untranslatable as ex:
            reasons[test.id] = str(ex)
            continue
        wanted[test.id] = want
        by_file.setdefault(test.file, []).append((i, criterion))
    for target in TARGETS:
        for name, cases in by_file.items():
            for i, value in _evaluate(target, name, cases).items():
                results[target][tests[i].id] = value
    return tests, reasons, {"wanted": wanted, "results": results}


TESTS, NOT_EXPRESSIBLE, OUTCOME = _collect()
WANTED: dict[str, Any] = OUTCOME["wanted"]
RESULTS: dict[str, dict[str, Any]] = OUTCOME["results"]


def figures() -> dict[str, dict[str, int]]:
    """Per target: passed, refused (a typed error), documented (listed differences), failed
    (anything else), expressible, examined."""
    out = {}
    for target in TARGETS:
        got = RESULTS[target]
        bugs = OPEN.get(target, {})
        passed = sum(1 for k, w in WANTED.items() if got[k] is w and k not in bugs)
        refused = sum(1 for k in WANTED if isinstance(got[k], KoordError))
        documented = sum(1 for k, w in WANTED.items() if not isinstance(got[k], KoordError)
                         and (k in bugs or (got[k] is not w and k in DIFFERENCES)))
        out[target] = {"passed": passed, "refused": refused, "documented": documented,
                       "failed": len(WANTED) - passed - refused - documented,
                       "expressible": len(WANTED), "examined": len(TESTS)}
    return out


def summary_lines() -> list[str]:
    lines = ["HL7 CQL conformance (cqframework/cql-tests): passed / expressible / examined"]
    for target, f in figures().items():
        lines.append(f"  {target:10} {f['passed']} / {f['expressible']} / {f['examined']}"
                     f"  (typed refusals {f['refused']}, documented differences "
                     f"{f['documented']}, other failures {f['failed']})")
    return lines


def test_the_suite_is_examined() -> None:
    assert len(TESTS) > 1500
    assert len(WANTED) > 100


@pytest.mark.parametrize("target", TARGETS)
def test_expressible_tests_pass_or_differ_as_documented(target: str) -> None:
    got = RESULTS[target]
    wrong = {k: got[k] for k, w in WANTED.items()
             if got[k] is not w and not isinstance(got[k], KoordError) and k not in DIFFERENCES
             and k not in OPEN.get(target, {})}
    assert wrong == {}


@pytest.mark.parametrize("target", [t for t in TARGETS if t != "reference"])
def test_every_target_answers_as_the_reference_or_refuses(target: str) -> None:
    """A target never answers differently from the reference: equal, or a typed error."""
    got, ref = RESULTS[target], RESULTS["reference"]
    differ = {k: (got[k], ref[k]) for k in WANTED
              if not isinstance(got[k], KoordError) and got[k] is not ref[k]
              and k not in OPEN.get(target, {})}
    assert differ == {}


def test_the_documented_differences_are_real() -> None:
    """Every listed difference is an expressible test that really fails on the reference."""
    stale = [k for k in DIFFERENCES if k not in WANTED or RESULTS["reference"][k] is WANTED[k]]
    assert stale == []


def test_batch_refusals_are_typed_and_never_on_the_reference() -> None:
    for target in ("reference", "compiled", "traced"):
        if target in RESULTS:
            assert not any(isinstance(v, KoordError) for v in RESULTS[target].values())


if __name__ == "__main__":
    print("\n".join(summary_lines()))
    for target in TARGETS:
        for k, w in WANTED.items():
            if RESULTS[target][k] is not w:
                print(f"{target}: {k}: want {w!r}, got {RESULTS[target][k]!r} "
                      f"({DIFFERENCES.get(k, 'NOT DOCUMENTED')})")
