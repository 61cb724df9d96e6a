"""The ``spark`` cohort backend: the set's Spark SQL query (:mod:`koordrules.backends.sql`, the
same lowering as DuckDB and PostgreSQL) run on a pyspark DataFrame; the result is a Spark
DataFrame with ``outcome``, one column per criterion and ``missing``. Needs
``koordrules[spark]`` and a Java runtime.

``data`` is a pyspark DataFrame (evaluated lazily, on the cluster it lives on), a Parquet
file (read by Spark) or anything the other backends take (CSV and JSON lines files, records,
Arrow, polars), which is read and validated on the driver by the same reader as every other
backend (CSV cells typed by the declarations, not by Spark's inference) and handed to Spark.
A Spark DataFrame is validated column-wise with the rules of :mod:`koordrules.backends.arrow`:
the column's type must fit the declared input, values must lie in ``min``/``max``, be
finite, belong to the enum, text dates must be real ``YYYY-MM-DD`` dates, and columns that
are not inputs are errors unless ignored. With ``strict=True`` a bad value raises
:class:`~koordrules.errors.InputError` (one Spark job checks every rule at once); with
``strict=False`` it becomes null. Error messages name the input and the rule, never the
value. Spark does not promise row order: carry an id column.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from koordrules import ast
from koordrules.backends import keep_name, kind_of, require
from koordrules.backends.sql import to_sql
from koordrules.errors import InputError
from koordrules.inputs import MAX_KEYS, MAX_LIST, MAX_STRING

if TYPE_CHECKING:
    from koordrules.compiler import Program

_VIEWS = itertools.count()
_SCALAR = {"boolean": "BooleanType", "integer": "LongType", "number": "DoubleType",
           "string": "StringType", "enum": "StringType", "date": "DateType"}
_INTEGERS = ("ByteType", "ShortType", "IntegerType", "LongType")


def is_spark(data: Any) -> bool:
    """Whether ``data`` is a pyspark DataFrame (classic or Spark Connect)."""
    module = type(data).__module__
    return module.startswith("pyspark.") and type(data).__name__ == "DataFrame"


def session() -> Any:
    """The active Spark session, or a new local one (``local[*]``, UI off)."""
    sql = require("pyspark.sql", "spark")
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active
    return (sql.SparkSession.builder.master("local[*]").appName("koordrules")
            .config("spark.ui.enabled", "false").getOrCreate())


def input_schema(cs: ast.CriteriaSet) -> Any:
    """The Spark schema of the set's inputs (one column per declared input)."""
    T = require("pyspark.sql.types", "spark")

    def scalar(kind: str) -> Any:
        return getattr(T, _SCALAR[kind])()

    return T.StructType([
        T.StructField(d.name, T.ArrayType(scalar(d.items or "string"))
                      if d.type == "list" else scalar(d.type)) for d in cs.inputs])




def frame(program: Program, data: Any, *, strict: bool = True,
          ignore: frozenset[str] = frozenset(), spark: Any = None,
          keep: tuple[str, ...] = ()) -> Any:
    """``data`` as a Spark DataFrame of the set's inputs, validated, followed by the carried
    columns ``keep_name(i)``."""
    if is_spark(data):
        return validate_frame(program, data, strict=strict, ignore=ignore, keep=keep)
    spark = spark or session()
    if kind_of(data) == "file" and Path(data).suffix.lower() == ".parquet":
        return validate_frame(program, spark.read.parquet(str(data)), strict=strict,
                              ignore=ignore, keep=keep)
    # CSV and JSON lines: read and typed on the driver by the reader every backend uses
    # (cells typed by the declarations, bad rows with their line), not by Spark's inference
    from koordrules.backends.arrow import prepare

    table = prepare(program, data, strict=strict, ignore=ignore, keep=keep)
    schema = input_schema(program.criteria_set)
    if keep:
        T = require("pyspark.sql.types", "spark")
        arrow_types = require("pyspark.sql.pandas.types", "spark")
        schema = T.StructType([*schema.fields, *(
            T.StructField(keep_name(i), arrow_types.from_arrow_type(table.schema.field(
                keep_name(i)).type)) for i in range(len(keep)))])
    rows = table.to_pylist()
    return spark.createDataFrame(rows, schema=schema, verifySchema=False)


def evaluate(program: Program, data: Any, *, strict: bool = True,
             ignore: frozenset[str] = frozenset(), keep: tuple[str, ...] = ()) -> Any:
    """The result rows as a Spark DataFrame (see the module docstring); the carried columns
    come first, named ``keep``."""
    inputs = frame(program, data, strict=strict, ignore=ignore, keep=keep)
    view = f"koordrules_records_{next(_VIEWS)}"
    inputs.createOrReplaceTempView(view)
    spark = inputs.sparkSession
    working = tuple(keep_name(i) for i in range(len(keep)))
    result = spark.sql(to_sql(program.criteria_set, dialect="spark", table=view, pretty=False,
                              keep=working))
    for name, new in zip(working, keep, strict=True):
        result = result.withColumnRenamed(name, new)
    return result


def _fits(kind: str, t: Any) -> bool:
    name = type(t).__name__
    if name == "NullType":
        return True
    if kind == "boolean":
        return name == "BooleanType"
    if kind == "integer":
        return name in _INTEGERS
    if kind == "number":
        return name in (*_INTEGERS, "FloatType", "DoubleType")
    if kind in ("string", "enum"):
        return name in ("StringType", "VarcharType", "CharType")
    if kind == "date":
        return name in ("DateType", "StringType")
    return False


def validate_frame(program: Program, df: Any, *, strict: bool = True,
                   ignore: frozenset[str] = frozenset(), keep: tuple[str, ...] = ()) -> Any:
    """Check and normalise a Spark DataFrame's columns against the declared inputs; the
    columns named in ``keep`` follow as given, named ``keep_name(i)``."""
    F = require("pyspark.sql.functions", "spark")
    T = require("pyspark.sql.types", "spark")
    cs = program.criteria_set
    fields = {f.name: f for f in df.schema.fields}
    if len(fields) > MAX_KEYS:
        raise InputError(f"the table has more than {MAX_KEYS} columns", code="too_large")
    declared = {d.name for d in cs.inputs}
    if strict:
        for name in fields:
            if name not in ignore and name not in declared:
                raise InputError(f"{name!r} is not an input of {cs.key}", code="unknown_input")
    target = {f.name: f.dataType for f in input_schema(cs).fields}
    columns: list[Any] = []
    checks: list[tuple[str, Any]] = []  # (message, bad-row condition) in declared order
    for decl in cs.inputs:
        field = fields.get(decl.name)
        if field is None or decl.name in ignore:
            columns.append(F.lit(None).cast(target[decl.name]).alias(decl.name))
            continue
        t = field.dataType
        ok = (_fits(decl.type, t) if decl.type != "list" else
              type(t).__name__ == "NullType" or (type(t).__name__ == "ArrayType"
                                                 and _fits(decl.items or "string",
                                                           t.elementType)))
        if not ok:
            if strict:
                raise InputError(f"input {decl.name!r} must be {decl.type}, got a column of "
                                 f"type {t.simpleString()}", code="bad_input_value")
            columns.append(F.lit(None).cast(target[decl.name]).alias(decl.name))
            continue
        column = F.col(f"`{decl.name}`")
        rules: list[tuple[str, Any]] = []
        if decl.type == "date" and type(t).__name__ == "StringType":
            parsed = F.try_to_date(column, F.lit("yyyy-MM-dd"))
            back = F.date_format(parsed, "yyyy-MM-dd")
            wrong = column.isNotNull() & (parsed.isNull() | (back != column)
                                          | (parsed < F.lit("0001-01-01").cast("date")))
            rules.append(("must be a date (YYYY-MM-DD)", wrong))
            column = F.when(~F.coalesce(wrong, F.lit(False)), parsed)
        column = column.cast(target[decl.name])
        if decl.type == "list":
            rules.append((f"has more than {MAX_LIST} items", F.size(column) > MAX_LIST))
            for reason, test in _scalar_rules(F, T, decl, decl.items or "string",
                                              t.elementType):
                rules.append((reason, F.exists(column, lambda v, test=test: test(v))))
        else:
            for reason, test in _scalar_rules(F, T, decl, decl.type, t):
                rules.append((reason, test(column)))
        for reason, wrong in rules:
            wrong = F.coalesce(wrong, F.lit(False))
            if strict:
                checks.append((f"input {decl.name!r} {reason}", wrong))
            else:
                column = F.when(~wrong, column)
        columns.append(column.alias(decl.name))
    for i, name in enumerate(keep):
        if name not in fields:
            raise InputError(f"the data has no column {name!r} to keep", code="unknown_column")
        columns.append(F.col(f"`{name}`").alias(keep_name(i)))
    out = df.select(*columns)
    if strict and checks:
        flags = df.agg(*[F.max(F.when(w, 1).otherwise(0)).alias(f"c{i}")
                         for i, (_, w) in enumerate(checks)]).collect()[0]
        for i, (message, _) in enumerate(checks):
            if flags[f"c{i}"]:
                raise InputError(message, code="bad_input_value")
    return out


def _scalar_rules(F: Any, T: Any, decl: ast.InputDecl, kind: str,
                  t: Any) -> list[tuple[str, Any]]:
    """The value rules of a scalar input: (reason, function of a column giving 'bad')."""
    rules: list[tuple[str, Any]] = []
    if kind in ("integer", "number"):
        if type(t).__name__ in ("FloatType", "DoubleType"):
            rules.append(("must be a finite number",
                          lambda c: F.isnan(c) | (F.abs(c) == float("inf"))))
        if decl.min is not None:
            low = decl.min
            rules.append((f"must be at least {decl.min:g}", lambda c: c < F.lit(low)))
        if decl.max is not None:
            high = decl.max
            rules.append((f"must be at most {decl.max:g}", lambda c: c > F.lit(high)))
    elif kind in ("string", "enum"):
        rules.append((f"is longer than {MAX_STRING} characters",
                      lambda c: F.length(c) > MAX_STRING))
        if kind == "enum":
            allowed = list(decl.values or ())
            rules.append(("must be one of " + ", ".join(allowed),
                          lambda c: ~c.isin(allowed)))
    return rules
