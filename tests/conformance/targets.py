"""The targets of the conformance corpus: every path that evaluates a criteria set.

``run(target, cs, records, strict=..., columns=...)`` evaluates ``records`` on one target and
returns one :data:`Row` per record (``outcome``, ``criteria`` by name, ``missing``), or raises
the :class:`~koordrules.errors.KoordError` the user would get. Other test modules import
:data:`TARGETS` and :func:`run` to put their own sets through every target::

    from conformance.targets import TARGETS, run

Targets: ``reference`` (the interpreter), ``compiled`` (the compiled program, outcome only),
``traced`` (the compiled program with the trace), the batch backends ``python``, ``polars``,
``duckdb`` and, where available, ``postgres`` (the PostgreSQL query on a throw-away server,
see :mod:`conformance.postgres`; ``KOORDRULES_POSTGRES=0`` turns it off) and ``spark`` (one
local Spark session, when pyspark and java are installed; ``KOORDRULES_SPARK=0`` turns it off,
``KOORDRULES_SPARK=require`` makes a missing pyspark or java an error, as in ``.ci/run``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from typing import Any

import koordrules
from koordrules import CriteriaSet
from koordrules.engine import evaluate

Row = dict[str, Any]
"""``{"outcome": str | None, "criteria": {name: bool | None}, "missing": [str]}``."""

SINGLE = ("reference", "compiled", "traced")
"""Targets that evaluate one record at a time (and also give ``possible_outcomes``)."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available() -> tuple[str, ...]:
    """The targets this machine can run."""
    out = [*SINGLE, "python"]
    if _installed("polars") and _installed("pyarrow"):
        out.append("polars")
    if _installed("duckdb") and _installed("sqlglot"):
        out.append("duckdb")
    if os.environ.get("KOORDRULES_POSTGRES", "1") != "0" and _installed("psycopg"):
        from conformance import postgres

        if postgres.usable():
            out.append("postgres")
    if os.environ.get("KOORDRULES_SPARK", "1") != "0" and (
            _installed("pyspark") or os.environ.get("KOORDRULES_SPARK") == "require"):
        from conformance import spark

        if spark.usable():
            out.append("spark")
    return tuple(out)


TARGETS = available()


def _row(outcome: str | None, criteria: Mapping[str, Any], missing: Sequence[str]) -> Row:
    return {"outcome": outcome, "criteria": dict(criteria), "missing": list(missing)}


def _table(cs: CriteriaSet, records: list[dict[str, Any]],
           columns: Mapping[str, str] | None) -> Any:
    """The records as given (dicts), or as an Arrow table whose columns have the Arrow types
    named in ``columns`` (e.g. ``{d: string}`` for a text date column)."""
    if not columns:
        return records
    import pyarrow as pa

    from koordrules.backends.arrow import input_type

    fields = []
    for d in cs.inputs:
        kind = columns.get(d.name)
        fields.append(pa.field(d.name, getattr(pa, kind)() if kind else input_type(pa, d)))
    return pa.Table.from_pylist(records, schema=pa.schema(fields))


def run(target: str, cs: CriteriaSet, records: list[dict[str, Any]], *, strict: bool = True,
        columns: Mapping[str, str] | None = None) -> list[Row]:
    """Evaluate ``records`` under ``cs`` on ``target``; see the module docstring."""
    if target == "reference":
        out = []
        for record in records:
            r = evaluate(cs, record, strict=strict, trace=False, reference=True)
            out.append(_row(r.outcome, r.criteria, r.missing))
        return out
    program = koordrules.compile(cs)
    if target in ("compiled", "traced"):
        out = []
        for record in records:
            if target == "compiled":
                o = program.outcome(record, strict=strict)
                out.append(_row(o.outcome, o.criteria, o.missing))
            else:
                r = program.evaluate(record, strict=strict, trace=True)
                assert r.trace is not None
                out.append(_row(r.outcome, r.criteria, r.missing))
        return out
    data = _table(cs, records, columns)
    if target == "postgres":
        from conformance import postgres

        table = postgres.evaluate(program, data, strict=strict)
    elif target == "spark":
        from conformance import spark

        table = spark.evaluate(program, data, strict=strict)
    else:
        table = program.evaluate_batch(data, backend=target, strict=strict)
    dicts = table.to_dicts() if hasattr(table, "to_dicts") else list(table)
    names = [c.name for c in cs.criteria]
    return [_row(d["outcome"], {n: d[n] for n in names}, d["missing"]) for d in dicts]
