"""Every cohort backend gives the reference interpreter's outcome, criteria and ``missing`` for
every record: on every shipped set and on a set using the constructs the column engines
support, over hypothesis cohorts with unknowns; plus the input kinds (dicts, polars, pandas,
Arrow, CSV, JSON lines, Parquet), validation, the SQL dialects and Spark (when installed)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import koordrules
from koordrules import CriteriaSet, InputError
from koordrules.backends import UnsupportedError, evaluate_batch, iter_records
from koordrules.backends.sql import to_sql
from koordrules.engine import evaluate

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

from test_compiler import ALL_CONSTRUCTS, HEADER, records  # noqa: E402

VECTOR = HEADER.replace("all-constructs", "vector") + """\
parameters:
  limit: {value: 6}
  start: {value: 2024-01-01}
  label: {value: "x"}
  ratio: {value: 0.5}
inputs:
  months: {type: number, kind: data, min: 0, max: 1000}
  units: {type: integer, kind: data, min: 0, max: 50}
  flag: {type: boolean, kind: data}
  other: {type: boolean, kind: judgement}
  seen: {type: date, kind: data}
  code: {type: string, kind: data}
  level: {type: enum, kind: data, values: [low, mid, high]}
  tags: {type: list, kind: data, items: string}
criteria:
  P:
    title: arithmetic
    when: months * 2 - units / 2 > limit and -months < 0 or months / units >= ratio
  Q:
    title: dates
    when: >-
      seen + 6 months > start and seen - start >= 30 days or seen < 2020-02-29 + 1 years
      or seen - 1 months - 2 weeks == start or 2 months + 3 days >= seen - start
  R:
    title: membership
    when: level in ["mid", "high"] and code not in ["a", label] or "t" in tags or units in []
  S:
    title: functions
    when: >-
      at_least(2, flag, other, P, Q) or is_known(seen) and not any(flag)
      or count_true(flag, other) >= 1 or coalesce(flag, other, false)
      or length(tags) > 2 or all(flag, not other) or at_least(1, other)
      or at_least(units - 49, flag)
  T:
    title: nesting
    when: (P or Q) and (R or not S) and any(P, Q, R) and all(flag)
outcomes:
  - id: first
    title: first
    when: P and R
  - id: second
    title: second
    when: S or T
  - id: third
    title: third
    when: not Q
  - id: rest
    title: rest
    otherwise: true
"""

SETS = [*koordrules.Catalog.builtin(), koordrules.load_text(VECTOR, file="vector.yaml")]
IDS = [cs.key for cs in SETS]
A3 = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
BACKENDS = ("python", "polars", "duckdb")


def reference(cs: CriteriaSet, cohort: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for record in cohort:
        r = evaluate(cs, record, trace=False, reference=True)
        rows.append({"outcome": r.outcome, **r.criteria, "missing": list(r.missing)})
    return rows


def rows(table: Any) -> list[dict[str, Any]]:
    return table.to_dicts() if isinstance(table, pl.DataFrame) else list(table)


@pytest.mark.parametrize("cs", SETS, ids=IDS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(data=st.data())
def test_every_backend_gives_the_interpreters_rows(cs: CriteriaSet, data: st.DataObject) -> None:
    cohort = data.draw(st.lists(records(cs), min_size=1, max_size=25))
    expected = reference(cs, cohort)
    program = koordrules.compile(cs)
    for backend in BACKENDS:
        got = rows(program.evaluate_batch(cohort, backend=backend))
        assert got == expected, backend


def _frame(cs: CriteriaSet, cohort: list[dict[str, Any]]) -> Any:
    from koordrules.backends.arrow import input_type

    schema = pa.schema([pa.field(d.name, input_type(pa, d)) for d in cs.inputs])
    return pa.Table.from_pylist(
        [{d.name: r.get(d.name) for d in cs.inputs} for r in cohort], schema=schema)


COHORT = [
    {"has_coordinator": False, "expected_followup_months": 9, "lifelong_course": True,
     "involved_units": 3},
    {"has_coordinator": True},
    {"expected_followup_months": 2.5, "situation_indicates_need": True},
    {},
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_input_kind_gives_the_same_table(backend: str, tmp_path: Path) -> None:
    cs = A3
    expected = reference(cs, COHORT)
    table = _frame(cs, COHORT)
    csv_path = tmp_path / "cohort.csv"
    pl.from_arrow(table).write_csv(csv_path)
    jsonl = tmp_path / "cohort.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in COHORT), encoding="utf-8")
    parquet = tmp_path / "cohort.parquet"
    pl.from_arrow(table).write_parquet(parquet)
    inputs: list[Any] = [COHORT, iter(COHORT), table, pl.from_arrow(table), csv_path,
                         str(jsonl), parquet]
    if _has("pandas"):  # nullable pandas dtypes keep integers integers
        import pandas as pd

        inputs.append(table.to_pandas(types_mapper=pd.ArrowDtype))
    for data in inputs:
        assert rows(evaluate_batch(koordrules.compile(cs), data, backend=backend)) == expected


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("backend", BACKENDS)
def test_invalid_values_raise_or_become_unknown(backend: str) -> None:
    cs = A3
    bad = [*COHORT, {"involved_units": -1, "has_coordinator": False}]
    program = koordrules.compile(cs)
    with pytest.raises(InputError) as info:
        program.evaluate_batch(bad, backend=backend)
    assert info.value.code == "bad_input_value"
    lenient = rows(program.evaluate_batch(bad, backend=backend, strict=False))
    assert lenient == reference(cs, [*COHORT, {"has_coordinator": False}])


@pytest.mark.parametrize("backend", ["polars", "duckdb"])
def test_table_columns_are_validated_like_records(backend: str) -> None:
    cs = A3
    program = koordrules.compile(cs)
    frame = pl.DataFrame({"involved_units": [1, 200], "has_coordinator": [False, None]})
    with pytest.raises(InputError, match="must be at most 100"):
        program.evaluate_batch(frame, backend=backend)
    assert rows(program.evaluate_batch(frame, backend=backend, strict=False)) == reference(
        cs, [{"involved_units": 1, "has_coordinator": False}, {}])
    wrong_type = pl.DataFrame({"involved_units": [1.5]})
    with pytest.raises(InputError, match="must be integer"):
        program.evaluate_batch(wrong_type, backend=backend)
    extra = pl.DataFrame({"patient": ["p1"], "has_coordinator": [True]})
    with pytest.raises(InputError) as info:
        program.evaluate_batch(extra, backend=backend)
    assert info.value.code == "unknown_input"
    got = rows(program.evaluate_batch(extra, backend=backend, ignore=frozenset({"patient"})))
    assert got == reference(cs, [{"has_coordinator": True}])


WIDE = HEADER.replace("all-constructs", "wide-numbers") + """\
inputs:
  i: {type: integer, kind: data}
  n: {type: number, kind: data}
  ns: {type: list, kind: data, items: integer}
criteria:
  P: {title: sums, when: "i + 1 > 0 and n == 9007199254740992 and 1 in ns"}
outcomes:
  - {id: hit, title: hit, when: P}
  - {id: rest, title: rest, otherwise: true}
"""


@pytest.mark.parametrize("backend", ["polars", "duckdb"])
def test_wide_integer_columns_are_validated_like_records(backend: str) -> None:
    """An unsigned column above the largest int64 is refused as a record's value is; an
    integer column for a number input is converted to binary64 (2**53 + 1 is 2**53)."""
    cs = koordrules.load_text(WIDE, file="wide.yaml")
    program = koordrules.compile(cs)
    table = pa.table({"i": pa.array([5, 2**64 - 1], pa.uint64()),
                      "n": pa.array([2**53 + 1, 3]),
                      "ns": pa.array([[1], [2**64 - 2]], pa.list_(pa.uint64()))})
    with pytest.raises(InputError, match="within 64 bits") as info:
        program.evaluate_batch(table, backend=backend)
    assert info.value.code == "bad_input_value"
    as_records = [{"i": 5, "n": 2**53 + 1, "ns": [1]}, {"n": 3}]
    assert rows(program.evaluate_batch(table, backend=backend, strict=False)) == reference(
        cs, as_records) == rows(program.evaluate_batch(as_records, backend=backend))
    assert rows(program.evaluate_batch(table, backend=backend, strict=False))[0]["P"] is True


def test_date_columns_may_be_iso_text() -> None:
    cs = SETS[-1]
    program = koordrules.compile(cs)
    frame = pl.DataFrame({"seen": ["2024-03-01", None], "flag": [True, True]})
    expected = reference(cs, [{"seen": dt.date(2024, 3, 1), "flag": True}, {"flag": True}])
    for backend in ("polars", "duckdb"):
        assert rows(program.evaluate_batch(frame, backend=backend)) == expected
    with pytest.raises(InputError, match="must be a date"):
        program.evaluate_batch(pl.DataFrame({"seen": ["1 March"]}), backend="polars")


def test_constructs_the_column_engines_lack_are_reported() -> None:
    cs = koordrules.load_text(ALL_CONSTRUCTS, file="all.yaml")
    program = koordrules.compile(cs)
    with pytest.raises(UnsupportedError) as info:
        program.evaluate_batch([{}], backend="polars")
    assert info.value.code == "unsupported"
    with pytest.raises(UnsupportedError):
        to_sql(cs)
    assert rows(program.evaluate_batch([{}], backend="python")) == reference(cs, [{}])


def test_polars_missing_without_the_bit_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    import koordrules.backends.polars as backend

    monkeypatch.setattr(backend, "MASK_BITS", 0)  # as for a set with more than 63 inputs
    cohort = [*COHORT, {"has_coordinator": None, "involved_units": 1}]
    assert rows(koordrules.compile(A3).evaluate_batch(cohort, backend="polars")) == reference(
        A3, cohort)


def test_a_set_equal_to_one_lowered_before_is_lowered_on_its_own_nodes() -> None:
    from koordrules.backends.lower import lower
    from koordrules.backends.polars import PolarsOps

    first = koordrules.load_text(VECTOR, file="vector.yaml")
    second = koordrules.load_text(VECTOR, file="vector.yaml")
    assert first == second and first is not second
    for cs in (first, second):  # each set is lowered on its own criterion objects
        assert len(lower(cs, PolarsOps()).missing_flags) > 0


def test_unknown_backend_is_an_error() -> None:
    with pytest.raises(koordrules.KoordError) as info:
        koordrules.compile(A3).evaluate_batch([], backend="hadoop")
    assert info.value.code == "unknown_backend"


@pytest.mark.parametrize("dialect", ["duckdb", "spark", "postgres"])
def test_sql_is_one_query_with_quoted_names(dialect: str) -> None:
    import sqlglot

    sql = to_sql(SETS[-1], dialect=dialect)
    statements = sqlglot.parse(sql, read=dialect)
    assert len(statements) == 1
    quote = "`" if dialect == "spark" else '"'
    assert f"{quote}months{quote}" in sql
    assert "arithmetic" not in sql  # titles stay out; names are identifiers


def test_postgres_sql_refuses_names_it_would_cut() -> None:
    """PostgreSQL keeps 63 bytes of a name: a longer input name is refused at its
    declaration (in bytes: «ø» counts two), the other dialects take it."""
    name = "innleggelser_på_sykehus_de_siste_tolv_månedene_før_vurderingen"  # 62 chars
    assert len(name) < 64 < len(name.encode("utf-8"))
    cs = koordrules.load_text(HEADER.replace("all-constructs", "long") + f"""\
inputs:
  {name}: {{type: integer, kind: data}}
criteria:
  Mange: {{title: Mange, when: {name} >= 2}}
outcomes:
  - {{id: mange, title: Mange, when: Mange}}
  - {{id: ingen, title: Ingen, otherwise: true}}
""", file="long.yaml")
    assert f'"{name}"' in to_sql(cs, dialect="duckdb")
    with pytest.raises(koordrules.KoordError) as info:
        to_sql(cs, dialect="postgres")
    err = info.value
    assert err.code == "name_too_long"
    assert err.span is not None and err.span == cs.inputs[0].span
    assert "63 bytes" in err.message and name not in err.message
    assert "kortere navn" in dict(err.translations)["nb"]


def test_iter_records_reads_tables_without_materialising_dicts() -> None:
    cs = A3
    table = _frame(cs, COHORT * 3)
    first = next(iter(iter_records(table, cs)))
    assert first["has_coordinator"] is False


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session. Starting the JVM takes a minute on a busy machine, so this runs
    only with ``KOORDRULES_SPARK=1`` (and pyspark plus java installed); otherwise it skips."""
    if os.environ.get("KOORDRULES_SPARK") != "1":
        pytest.skip("set KOORDRULES_SPARK=1 to run the Spark SQL check")
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("java is not installed")
    from pyspark.sql import SparkSession

    try:
        session = (SparkSession.builder.master("local[1]").appName("koordrules-test")
                   .config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    except Exception as ex:  # pragma: no cover - depends on the machine
        pytest.skip(f"spark does not start here: {ex}")
    yield session
    session.stop()


@pytest.mark.parametrize("cs", SETS, ids=IDS)
def test_spark_sql_gives_the_interpreters_rows(cs: CriteriaSet, spark: Any) -> None:
    cohort = [
        *COHORT,
        {"months": 10, "units": 0, "flag": True, "seen": dt.date(2023, 12, 31), "code": "x",
         "level": "mid", "tags": ["t", None]},
        {"months": 3, "units": 4, "other": False, "seen": dt.date(2024, 2, 29), "tags": []},
        {"flag": False, "level": "low", "code": "a", "seen": dt.date(2019, 3, 1)},
    ]
    cohort = [{k: v for k, v in r.items() if cs.input(k)} for r in cohort]
    table = _frame(cs, cohort).append_column("row", pa.array(range(len(cohort))))
    frame = spark.createDataFrame(table.to_pylist(),
                                  schema=_spark_schema(cs))
    frame.createOrReplaceTempView("records")
    sql = to_sql(cs, dialect="spark", table="records")
    got = [r.asDict(recursive=True) for r in spark.sql(sql).collect()]
    for row in got:
        row["missing"] = list(row["missing"])
    assert sorted(got, key=json.dumps) == sorted(reference(cs, cohort), key=json.dumps)


def _spark_schema(cs: CriteriaSet) -> Any:
    from pyspark.sql import types as T

    scalar = {"boolean": T.BooleanType(), "integer": T.LongType(), "number": T.DoubleType(),
              "string": T.StringType(), "enum": T.StringType(), "date": T.DateType()}
    fields = [T.StructField(d.name, T.ArrayType(scalar[d.items or "string"])
                            if d.type == "list" else scalar[d.type]) for d in cs.inputs]
    return T.StructType([*fields, T.StructField("row", T.LongType())])


def test_cli_sql_prints_one_query() -> None:
    import io

    from koordrules.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["sql", "helse-vest/anbefaling-3", "--dialect", "postgres"], out=out,
                err=err) == 0
    assert out.getvalue().rstrip().endswith(";")
    assert '"expected_followup_months"' in out.getvalue()


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_eval_backend_prints_one_line_per_record(backend: str, tmp_path: Path) -> None:
    import io

    from koordrules.cli import main

    path = tmp_path / "cohort.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in COHORT), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["eval", "helse-vest/anbefaling-3", str(path), "--backend", backend],
                out=out, err=err) == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    expected = reference(A3, COHORT)
    assert [line["outcome"] for line in lines] == [row["outcome"] for row in expected]
    assert [line["missing"] for line in lines] == [row["missing"] for row in expected]
    if backend != "python":
        assert main(["eval", "helse-vest/anbefaling-3", str(path), "--backend", backend,
                     "--trace"], out=io.StringIO(), err=io.StringIO()) == 2


NESTED = """\
id: t/nested
version: 1.0.0
title: Nested
status: draft
effective_from: 2024-01-01
source:
  document: test
inputs:
  i: {type: integer, kind: data}
criteria:
  Deep:
    title: deep
    when: i EXPR > 0
outcomes:
  - {id: hit, title: hit, when: Deep}
  - {id: rest, title: rest, otherwise: true}
"""


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark"])
def test_nested_integer_arithmetic_writes_its_operand_once_per_level(dialect: str) -> None:
    # the out-of-range check wrote the operand twice (LEAST/GREATEST printed as a CASE,
    # NULLIF expanded by DuckDB): 4^k copies for k nested additions
    quote = "`" if dialect == "spark" else '"'

    def copies(depth: int) -> int:
        cs = koordrules.load_text(NESTED.replace("EXPR", " + 1" * depth), file="n.yaml")
        return to_sql(cs, dialect=dialect, pretty=False).count(f"{quote}i{quote}")

    assert copies(16) - copies(8) == copies(8) - copies(0) == 8
    cs = koordrules.load_text(NESTED.replace("EXPR", " + 1" * 16), file="n.yaml")
    records = [{"i": 1}, {"i": 2**63 - 10}, {"i": -(2**63)}, {}]
    want = [evaluate(cs, r).outcome for r in records]
    assert want == ["hit", None, "rest", None]
    program = koordrules.compile(cs)
    for backend in ("polars", "duckdb"):
        got = [r["outcome"] for r in rows(evaluate_batch(program, records, backend=backend))]
        assert got == want, backend
