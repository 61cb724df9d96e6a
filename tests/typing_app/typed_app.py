"""A small application typed with ``mypy --strict`` that uses only ``koordrules.__all__``.

CI type-checks it (``mypy`` covers ``tests/typing_app``) and tests/test_typing_app.py runs it:
if an exported name, an annotation or ``py.typed`` goes missing, one of the two fails.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import koordrules
from koordrules import (
    AuditError,
    AuditLog,
    BackendError,
    CacheInfo,
    Catalog,
    CatalogError,
    CriteriaSet,
    CriterionTrace,
    EvalError,
    InputError,
    InputProblem,
    KoordError,
    Program,
    Result,
    RuleTrace,
    Trace,
    TraceNode,
    UnsupportedError,
    cache_info,
    evaluate,
    read_log,
    render_text,
    set_cache_budget,
    verify_decision,
)

SET = "helse-vest/anbefaling-3"


def deepest(node: TraceNode) -> int:
    """The depth of a trace expression."""
    return 1 + max((deepest(child) for child in node.children), default=0)


def held(trace: Trace) -> list[str]:
    criteria: Sequence[CriterionTrace] = trace.criteria
    return [c.name for c in criteria if c.value is True]


def chosen(trace: Trace) -> str | None:
    rules: Sequence[RuleTrace] = trace.rules
    return next((r.outcome for r in rules if r.chosen), None)


def problems(error: InputError) -> list[tuple[str | None, str]]:
    found: tuple[InputProblem, ...] = error.problems
    return [(p.field, p.code) for p in found]


def run() -> dict[str, object]:
    catalog: Catalog = Catalog.builtin()
    cs: CriteriaSet = catalog.get(SET)
    record = {"expected_followup_months": 9.5, "high_treatment_intensity": True,
              "situation_indicates_need": True, "involved_units": 3, "has_coordinator": False}
    result: Result = evaluate(cs, record)
    trace = result.trace
    assert trace is not None
    text: str = render_text(result, lang="en")
    program: Program = koordrules.compile(cs)
    table = program.evaluate_batch([record, {**record, "involved_units": 1}])
    rows = len(table) if isinstance(table, list) else table.height
    try:
        evaluate(cs, {**record, "involved_units": "many"})
    except InputError as ex:
        bad = problems(ex)
    try:
        catalog.get("no/such-set")
    except CatalogError as ex:
        missing_set = ex.code
    with tempfile.TemporaryDirectory() as folder:
        log = AuditLog(Path(folder) / "decisions.jsonl", key=b"app-key")
        log.record(cs, record, result, decision_id="one")
        try:
            log.record(cs, record, result, decision_id="one")
        except AuditError as ex:
            duplicate = ex.code
        entry = next(read_log(Path(folder) / "decisions.jsonl"))
        again = verify_decision(entry, cs, record, key=b"app-key")
    errors: tuple[type[KoordError], ...] = (BackendError, EvalError, UnsupportedError)
    budget = cache_info().budget
    set_cache_budget(1024 * 1024)
    info: CacheInfo = cache_info()
    set_cache_budget(budget)
    return {"outcome": result.outcome, "held": held(trace), "chosen": chosen(trace),
            "depth": max(deepest(c.expression) for c in trace.criteria if c.expression),
            "english": text.splitlines()[0], "rows": rows, "bad": bad,
            "missing_set": missing_set, "duplicate": duplicate,
            "verified": again.outcome == result.outcome, "errors": len(errors),
            "cache_within_budget": info.used <= info.budget == 1024 * 1024}


if __name__ == "__main__":
    print(run())
