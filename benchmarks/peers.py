"""Peer engines for the "Anbefaling 3" performance benchmark (issue 6).

Anbefaling 3, written out by hand for each peer:

    A = expected_followup_months > 6            (parameter long_term_months = 6)
    B = any of the five B factors
    C = situation_indicates_need
    D = involved_units >= 2
    outcome = "already_has_coordinator"  if has_coordinator
              "coordinator_likely"       if A and at least two of B, C, D
              "not_indicated"            otherwise

Every ``*_peer()`` factory does its one-off work (import, parse, compile) and returns
the evaluator, so the evaluator alone can be timed.  Libraries are imported lazily; a
missing one raises :class:`PeerUnavailable`.  Peers have no three-valued logic, so all
of them assume every input is present -- except :func:`polars_unknowns_peer`, which
applies Kleene logic to nulls.

Record peers return ``evaluate(record) -> str``; batch peers take a whole table
(polars DataFrame or pyarrow Table) and return the outcome column.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

ALREADY = "already_has_coordinator"
LIKELY = "coordinator_likely"
NOT_INDICATED = "not_indicated"
OUTCOMES: tuple[str, ...] = (ALREADY, LIKELY, NOT_INDICATED)
LONG_TERM_MONTHS = 6

B_FACTORS: tuple[str, ...] = (
    "high_treatment_intensity",
    "individually_adapted_pathway",
    "newly_diagnosed_chronic",
    "lifelong_course",
    "transition_child_to_adult",
)

RecordFn = Callable[[Mapping[str, Any]], str]


class PeerUnavailable(RuntimeError):
    """The peer's library is not installed (see benchmarks/requirements-bench.txt)."""


def _require(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PeerUnavailable(
            f"peer needs the PyPI package {package!r} (import {module!r}): {exc}"
        ) from exc


# --------------------------------------------------------------------------- python


def evaluate_python(r: Mapping[str, Any]) -> str:
    """Plain if/else reference: the meaning every other peer is checked against."""
    if r["has_coordinator"]:
        return ALREADY
    if r["expected_followup_months"] > LONG_TERM_MONTHS:
        b = any(r[name] for name in B_FACTORS)
        c = bool(r["situation_indicates_need"])
        d = r["involved_units"] >= 2
        if b + c + d >= 2:
            return LIKELY
    return NOT_INDICATED


def python_peer() -> RecordFn:
    return evaluate_python


# --------------------------------------------------------------------------- polars


def _polars_exprs(plm: ModuleType) -> tuple[Any, Any, Any]:
    """Return (has_coordinator, A, at-least-two-of B/C/D) as Kleene polars expressions.

    polars ``&``/``|`` are Kleene on nulls and comparisons with a null give null.
    "At least two of B, C, D" is written as the majority (B&C)|(B&D)|(C&D): a formula
    without negation, for which Kleene evaluation gives the exact three-valued answer.
    """
    col = plm.col
    a = col("expected_followup_months") > LONG_TERM_MONTHS
    b = col(B_FACTORS[0])
    for name in B_FACTORS[1:]:
        b = b | col(name)
    c = col("situation_indicates_need")
    d = col("involved_units") >= 2
    two_of_bcd = (b & c) | (b & d) | (c & d)
    return col("has_coordinator"), a, two_of_bcd


def polars_peer() -> Callable[[pl.DataFrame], pl.Series]:
    """Batch peer over a DataFrame, assuming no nulls; returns the ``outcome`` Series."""
    plm = _require("polars", "polars")
    hc, a, two = _polars_exprs(plm)
    expr = (
        plm.when(hc)
        .then(plm.lit(ALREADY))
        .when(a & two)
        .then(plm.lit(LIKELY))
        .otherwise(plm.lit(NOT_INDICATED))
        .alias("outcome")
    )

    def evaluate(df: pl.DataFrame) -> pl.Series:
        return df.select(expr).to_series()

    return evaluate


def polars_unknowns_peer() -> Callable[[pl.DataFrame], pl.Series]:
    """Like :func:`polars_peer` but three-valued: null outcome where inputs leave it open.

    ``when`` treats a null condition as false, so each branch tests for a definite
    True/False explicitly; an unknown has_coordinator or an unknown ``A and two-of-BCD``
    leaves the outcome null (undetermined).
    """
    plm = _require("polars", "polars")
    hc, a, two = _polars_exprs(plm)
    likely = a & two
    expr = (
        plm.when(hc.eq_missing(True))
        .then(plm.lit(ALREADY))
        .when(hc.is_null())
        .then(plm.lit(None, dtype=plm.String))
        .when(likely.eq_missing(True))
        .then(plm.lit(LIKELY))
        .when(likely.eq_missing(False))
        .then(plm.lit(NOT_INDICATED))
        .otherwise(plm.lit(None, dtype=plm.String))
        .alias("outcome")
    )

    def evaluate(df: pl.DataFrame) -> pl.Series:
        return df.select(expr).to_series()

    return evaluate


# --------------------------------------------------------------------------- duckdb

_B_SQL = " OR ".join(B_FACTORS)
DUCKDB_SQL = f"""
SELECT CASE
    WHEN has_coordinator THEN '{ALREADY}'
    WHEN expected_followup_months > {LONG_TERM_MONTHS}
         AND CAST(({_B_SQL}) AS INTEGER)
           + CAST(situation_indicates_need AS INTEGER)
           + CAST(involved_units >= 2 AS INTEGER) >= 2 THEN '{LIKELY}'
    ELSE '{NOT_INDICATED}'
END AS outcome
FROM records
"""


def duckdb_peer() -> Callable[[pa.Table], pa.ChunkedArray]:
    """Batch peer: SQL over an Arrow table.  Connecting and registering the table are
    part of each call (and so of its timing); the result comes back as Arrow."""
    duckdb = _require("duckdb", "duckdb")

    def evaluate(table: pa.Table) -> pa.ChunkedArray:
        with duckdb.connect() as con:
            con.register("records", table)
            result: pa.ChunkedArray = con.sql(DUCKDB_SQL).to_arrow_table().column("outcome")
        return result

    return evaluate


# --------------------------------------------------------------------------- zen-engine

_ZEN_BCD = (
    f"({' or '.join(B_FACTORS)} ? 1 : 0)"
    " + (situation_indicates_need ? 1 : 0)"
    " + (involved_units >= 2 ? 1 : 0)"
)
ZEN_EXPRESSION = (
    f"has_coordinator ? '{ALREADY}' : "
    f"((expected_followup_months > {LONG_TERM_MONTHS} and ({_ZEN_BCD}) >= 2)"
    f" ? '{LIKELY}' : '{NOT_INDICATED}')"
)


def zen_expression_peer() -> RecordFn:
    """GoRules zen-engine: one expression compiled once with ``zen.compile_expression``."""
    zen = _require("zen", "zen-engine")
    compiled = zen.compile_expression(ZEN_EXPRESSION)

    def evaluate(record: Mapping[str, Any]) -> str:
        result: str = compiled.evaluate(record)
        return result

    return evaluate


def _zen_decision() -> dict[str, Any]:
    """A JDM graph input -> first-hit decision table -> output, as GoRules users write it.

    Table input columns may be expressions; cells are unary tests ("" matches anything).
    """
    table: dict[str, Any] = {
        "hitPolicy": "first",
        "inputs": [
            {"id": "hc", "name": "Has coordinator", "field": "has_coordinator"},
            {"id": "fu", "name": "Follow-up months", "field": "expected_followup_months"},
            {"id": "bcd", "name": "Count of B, C, D", "field": _ZEN_BCD},
        ],
        "outputs": [{"id": "out", "name": "Outcome", "field": "outcome"}],
        "rules": [
            {"_id": "r1", "hc": "true", "fu": "", "bcd": "", "out": f"'{ALREADY}'"},
            {
                "_id": "r2",
                "hc": "",
                "fu": f"> {LONG_TERM_MONTHS}",
                "bcd": ">= 2",
                "out": f"'{LIKELY}'",
            },
            {"_id": "r3", "hc": "", "fu": "", "bcd": "", "out": f"'{NOT_INDICATED}'"},
        ],
    }
    position = {"x": 0, "y": 0}
    graph: dict[str, Any] = {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "Request", "position": position},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": "Anbefaling 3",
                "position": position,
                "content": table,
            },
            {"id": "out", "type": "outputNode", "name": "Response", "position": position},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "out", "type": "edge"},
        ],
    }
    return graph


def zen_decision_peer() -> RecordFn:
    """GoRules zen-engine: a JDM decision (decision table) evaluated per record.

    The decision is served by a ``ZenEngine`` with a static loader and evaluated by key.
    In zen-engine 2.1.3 that is ~10x faster than ``ZenEngine().create_decision(...)``
    followed by ``ZenDecision.evaluate`` (~220 µs/record here), which appears not to
    reuse its compiled table between calls.  Slower than the bare expression anyway: each
    call walks the graph and builds a response dict with a ``performance`` string.
    """
    zen = _require("zen", "zen-engine")
    key = "anbefaling-3"
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {key: _zen_decision()}}})
    evaluate_key = engine.evaluate

    def evaluate(record: Mapping[str, Any]) -> str:
        result: str = evaluate_key(key, record)["result"]["outcome"]
        return result

    return evaluate


# --------------------------------------------------------------------------- CEL

CEL_EXPRESSION = (
    f"has_coordinator ? '{ALREADY}' : "
    f"((expected_followup_months > {LONG_TERM_MONTHS}"
    f" && (({' || '.join(B_FACTORS)}) ? 1 : 0)"
    " + (situation_indicates_need ? 1 : 0)"
    " + (involved_units >= 2 ? 1 : 0) >= 2)"
    f" ? '{LIKELY}' : '{NOT_INDICATED}')"
)


def cel_rust_peer() -> RecordFn:
    """CEL via the Rust ``cel`` crate (PyPI ``common-expression-language``, import ``cel``)."""
    cel = _require("cel", "common-expression-language")
    program = cel.compile(CEL_EXPRESSION)

    def evaluate(record: Mapping[str, Any]) -> str:
        result: str = program.execute(dict(record))
        return result

    return evaluate


def cel_python_peer() -> RecordFn:
    """CEL in pure Python (PyPI ``cel-python``, import ``celpy``); a slow reference point.

    The record has to be converted to CEL values per call; that is part of the cost.
    """
    celpy = _require("celpy", "cel-python")
    env = celpy.Environment()
    program = env.program(env.compile(CEL_EXPRESSION))
    json_to_cel = celpy.json_to_cel

    def evaluate(record: Mapping[str, Any]) -> str:
        return str(program.evaluate(json_to_cel(dict(record))))

    return evaluate


# --------------------------------------------------------------------------- rule-engine

RULE_ENGINE_EXPRESSION = (
    f"has_coordinator ? '{ALREADY}' : "
    f"((expected_followup_months > {LONG_TERM_MONTHS}"
    f" and (({' or '.join(B_FACTORS)}) ? 1 : 0)"
    " + (situation_indicates_need ? 1 : 0)"
    " + (involved_units >= 2 ? 1 : 0) >= 2)"
    f" ? '{LIKELY}' : '{NOT_INDICATED}')"
)


def rule_engine_peer() -> RecordFn:
    """``rule-engine``: a Rule parsed once; ``Rule.evaluate`` returns the expression value."""
    rule_engine = _require("rule_engine", "rule-engine")
    rule = rule_engine.Rule(RULE_ENGINE_EXPRESSION)

    def evaluate(record: Mapping[str, Any]) -> str:
        result: str = rule.evaluate(record)
        return result

    return evaluate


# --------------------------------------------------------------------------- JsonLogic


def _as_int(cond: Any) -> dict[str, Any]:
    return {"if": [cond, 1, 0]}


JSON_LOGIC_RULE: dict[str, Any] = {
    "if": [
        {"var": "has_coordinator"},
        ALREADY,
        {
            "and": [
                {">": [{"var": "expected_followup_months"}, LONG_TERM_MONTHS]},
                {
                    ">=": [
                        {
                            "+": [
                                _as_int({"or": [{"var": name} for name in B_FACTORS]}),
                                _as_int({"var": "situation_indicates_need"}),
                                _as_int({">=": [{"var": "involved_units"}, 2]}),
                            ]
                        },
                        2,
                    ]
                },
            ]
        },
        LIKELY,
        NOT_INDICATED,
    ]
}


def json_logic_peer() -> RecordFn:
    """JsonLogic in pure Python (PyPI ``panzi-json-logic``, import ``json_logic``).

    There is no compile step: the rule tree is interpreted on every call.
    """
    json_logic = _require("json_logic", "panzi-json-logic")
    apply = json_logic.jsonLogic

    def evaluate(record: Mapping[str, Any]) -> str:
        result: str = apply(JSON_LOGIC_RULE, record)
        return result

    return evaluate


def json_logic_rs_peer() -> RecordFn:
    """JsonLogic with a Rust core (PyPI ``jsonlogic-rs``).

    The binding passes JSON text both ways and has no compile step, so the rule is
    serialised once here and the record (and result) on every call.  We call the native
    ``jsonlogic_rs.jsonlogic.apply(rule_json, data_json) -> str`` directly: the public
    ``apply_serialized`` of 0.5.0 crashes when no ``deserializer`` is given.
    """
    native = _require("jsonlogic_rs.jsonlogic", "jsonlogic-rs")
    apply_json = native.apply
    rule = json.dumps(JSON_LOGIC_RULE)
    dumps = json.dumps
    loads = json.loads

    def evaluate(record: Mapping[str, Any]) -> str:
        result: str = loads(apply_json(rule, dumps(record)))
        return result

    return evaluate


# --------------------------------------------------------------------------- registry

InputKind = Literal["record", "polars", "arrow"]


@dataclass(frozen=True)
class Peer:
    name: str
    package: str  # PyPI distribution ("-" for the hand-written Python)
    kind: InputKind  # what the evaluator takes: one record dict, a DataFrame, an Arrow table
    factory: Callable[[], Callable[[Any], Any]]
    three_valued: bool = False
    slow: bool = False  # the benchmark times it on fewer records


PEERS: tuple[Peer, ...] = (
    Peer("python (hand-written)", "-", "record", python_peer),
    Peer("polars (hand-written)", "polars", "polars", polars_peer),
    Peer("polars with unknowns", "polars", "polars", polars_unknowns_peer, three_valued=True),
    Peer("duckdb SQL", "duckdb", "arrow", duckdb_peer),
    Peer("zen-engine expression", "zen-engine", "record", zen_expression_peer),
    Peer("zen-engine decision", "zen-engine", "record", zen_decision_peer),
    Peer("cel (Rust)", "common-expression-language", "record", cel_rust_peer),
    Peer("rule-engine", "rule-engine", "record", rule_engine_peer),
    Peer("json-logic (Python)", "panzi-json-logic", "record", json_logic_peer),
    Peer("json-logic (Rust)", "jsonlogic-rs", "record", json_logic_rs_peer),
    Peer("cel-python", "cel-python", "record", cel_python_peer, slow=True),
)
