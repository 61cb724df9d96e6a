"""The name policy holds for sets built by hand too (koordrules/names.py).

A set built in code is not checked, so the compiler (the Python code generator, which the
python, polars, duckdb and spark batch backends all start from) and the lowering behind the
polars expressions and the SQL (duckdb, spark, postgres) refuse one whose names break the
policy, with the same :class:`CriteriaError` and codes ``check`` gives for the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import HEADER

import koordrules
from koordrules import CriteriaSet, load_text
from koordrules.check import check_set
from koordrules.errors import CriteriaError

GOOD = HEADER + """\
inputs:
  x: {type: number, kind: data}
  flag: {type: boolean, kind: data}
criteria:
  A:
    title: big
    when: x > 1
outcomes:
  - id: likely
    title: Likely
    when: A and flag
  - id: other
    title: Other
    otherwise: true
"""


def _with_criterion(cs: CriteriaSet, name: str) -> CriteriaSet:
    extra = cs.criteria[0].model_copy(update={"name": name})
    return cs.model_copy(update={"criteria": (*cs.criteria, extra)})


def _with_input(cs: CriteriaSet, name: str) -> CriteriaSet:
    extra = cs.inputs[0].model_copy(update={"name": name})
    return cs.model_copy(update={"inputs": (*cs.inputs, extra)})


BAD: dict[str, Callable[[CriteriaSet], CriteriaSet]] = {
    "confusable_name": lambda cs: _with_criterion(cs, "\u0410"),  # Cyrillic А next to A
    "case_clash": lambda cs: _with_input(cs, "X"),
    "keyword_name": lambda cs: _with_input(cs, "and"),
    "reserved_name": lambda cs: _with_criterion(cs, "outcome"),
    "mixed_script": lambda cs: _with_criterion(cs, "\u0430lder"),
    "name_not_normalised": lambda cs: _with_criterion(cs, "\ufb01lter"),
}


def _compile(cs: CriteriaSet) -> Any:
    return koordrules.compile(cs)


def _polars(cs: CriteriaSet) -> Any:
    pytest.importorskip("polars")
    from koordrules.backends.polars import expressions

    return expressions(cs)


def _sql(dialect: str) -> Callable[[CriteriaSet], Any]:
    def run(cs: CriteriaSet) -> Any:
        pytest.importorskip("sqlglot")
        from koordrules.backends.sql import to_sql

        return to_sql(cs, dialect=dialect)
    return run


BACKENDS: dict[str, Callable[[CriteriaSet], Any]] = {
    "python codegen (and every batch backend's program)": _compile,
    "polars expressions": _polars,
    "sql duckdb": _sql("duckdb"),
    "sql spark": _sql("spark"),
    "sql postgres": _sql("postgres"),
}


@pytest.fixture(scope="module")
def good() -> CriteriaSet:
    return load_text(GOOD, file="good.yaml")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_well_named_set_goes_through(good: CriteriaSet, backend: str) -> None:
    assert BACKENDS[backend](good) is not None


@pytest.mark.parametrize("code", sorted(BAD))
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_hand_built_set_breaking_the_name_policy_is_refused(good: CriteriaSet, backend: str,
                                                              code: str) -> None:
    bad = BAD[code](good)
    expected = [d.code for d in check_set(bad) if d.code == code]
    assert expected == [code]  # what check says of the same set
    with pytest.raises(CriteriaError) as info:
        BACKENDS[backend](bad)
    assert [d.code for d in info.value.diagnostics] == [code]
    assert info.value.diagnostics[0].text("nb") != info.value.diagnostics[0].message


def test_the_batch_entry_point_refuses_it_too(good: CriteriaSet) -> None:
    from koordrules.backends import evaluate_batch

    with pytest.raises(CriteriaError):
        evaluate_batch(koordrules.compile(BAD["keyword_name"](good)), [{"x": 2}])
