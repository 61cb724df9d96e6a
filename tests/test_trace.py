"""The light trace: immutable, shared safely, lazily built, JSON written directly, portable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import koordrules
from koordrules import Catalog, Result
from koordrules.cache import DEFAULT_BUDGET, cache_info, clear_cache, set_cache_budget
from koordrules.resources import criteria_dir
from koordrules.testing.strategies import records
from koordrules.trace import trace_dict

CATALOG = Catalog.builtin()
SETS = [CATALOG.get(f"{i}@{cs.version}") for i in CATALOG.ids() for cs in CATALOG.versions(i)]
A3 = CATALOG.get("helse-vest/anbefaling-3")
RECORD = {"expected_followup_months": 9.25, "involved_units": 3, "lifelong_course": True,
          "has_coordinator": False}


def test_a_trace_cannot_be_changed_through_a_result() -> None:
    """Regression: cached trace nodes were shared between results and their ``inputs`` was a
    plain dict, so editing one result's trace changed later results for equal records."""
    first = koordrules.evaluate(A3, RECORD)
    assert first.trace is not None
    node = first.trace.criteria[0].expression
    assert node.inputs is not None
    with pytest.raises(TypeError):
        node.inputs["expected_followup_months"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        node.value = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.criteria["A"] = False  # type: ignore[index]
    with pytest.raises(AttributeError):
        first.outcome = "x"  # type: ignore[misc]
    again = koordrules.evaluate(A3, dict(RECORD))
    reference = koordrules.evaluate(A3, RECORD, reference=True)
    assert again == reference == first
    assert again.to_json() == reference.to_json()


def test_the_trace_is_built_only_when_read() -> None:
    result = koordrules.evaluate(A3, RECORD)
    assert result._trace is not None and not isinstance(result._trace, koordrules.Trace)
    json_text = result.to_json()  # written directly, still lazy
    assert not isinstance(result._trace, koordrules.Trace)
    trace = result.trace
    assert isinstance(trace, koordrules.Trace) and result.trace is trace
    assert json.loads(json_text) == result.to_dict()


@pytest.mark.parametrize("cs", SETS, ids=[cs.key for cs in SETS])
@settings(max_examples=25, deadline=None)
@given(data=st.data(), redact=st.booleans())
def test_the_written_json_is_the_built_trace(cs: koordrules.CriteriaSet, data: Any,
                                             redact: bool) -> None:
    record = data.draw(records(cs, missing=0.3))
    fast = koordrules.evaluate(cs, record, redact=redact)
    reference = koordrules.evaluate(cs, record, redact=redact, reference=True)
    assert fast.trace is not None
    text = fast.to_json()
    assert text == json.dumps(reference.to_dict(), ensure_ascii=False)
    assert json.loads(text)["trace"] == trace_dict(fast.trace)
    assert fast == reference
    assert Result.from_json(text) == fast


@pytest.mark.parametrize("cs", SETS, ids=[cs.key for cs in SETS])
def test_no_trace_names_an_absolute_install_path(cs: koordrules.CriteriaSet) -> None:
    for result in (koordrules.evaluate(cs, {}), koordrules.evaluate(cs, {}, reference=True)):
        text = result.to_json()
        assert str(criteria_dir()) not in text
        assert '"file": "criteria/' in text


def test_the_process_wide_cache_keeps_to_its_budget() -> None:
    try:
        set_cache_budget(100_000)
        for cs in SETS:
            koordrules.compile(cs).evaluate({})
        info = cache_info()
        assert 0 < info.used <= 100_000 and info.evictions > 0
        set_cache_budget(0)
        assert cache_info().used == 0
        # without a cache everything still works, compiled afresh
        assert koordrules.evaluate(A3, RECORD) == koordrules.evaluate(A3, RECORD,
                                                                      reference=True)
    finally:
        set_cache_budget(DEFAULT_BUDGET)
        clear_cache()
    with pytest.raises(ValueError):
        set_cache_budget(-1)
