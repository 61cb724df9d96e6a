"""The ``duckdb`` cohort backend: the set's SQL query (:mod:`koordrules.backends.sql`) run on
an embedded, in-memory DuckDB over the validated Arrow table. Needs ``koordrules[duckdb]``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from koordrules.backends import Table, has, keep_name, require
from koordrules.backends.sql import to_sql

if TYPE_CHECKING:
    import pyarrow as pa

    from koordrules.compiler import Program


def run(program: Program, table: pa.Table, keep: tuple[str, ...] = ()) -> pa.Table:
    """Run the set's query over an Arrow table of validated inputs (and the carried columns
    ``keep_name(i)``); an Arrow table back, the carried columns first, named ``keep``."""
    duckdb = require("duckdb", "duckdb")
    working = tuple(keep_name(i) for i in range(len(keep)))
    sql = to_sql(program.criteria_set, dialect="duckdb", table="records", pretty=False,
                 keep=working)
    with duckdb.connect() as con:
        con.register("records", table)
        result: pa.Table = con.sql(sql).to_arrow_table()
    if keep:
        result = result.rename_columns([*keep, *result.column_names[len(keep):]])
    return result


def evaluate(program: Program, data: Any, *, strict: bool = True,
             ignore: frozenset[str] = frozenset(), keep: tuple[str, ...] = ()) -> Table:
    """One row per record (see :mod:`koordrules.backends`)."""
    from koordrules.backends.arrow import prepare

    result = run(program, prepare(program, data, strict=strict, ignore=ignore, keep=keep),
                 keep)
    if has("polars"):
        import polars as pl

        frame = pl.from_arrow(result)
        assert isinstance(frame, pl.DataFrame)
        schema: dict[str, Any] = {k: frame.schema[k] for k in keep}
        schema["outcome"] = pl.String
        schema.update({c: pl.Boolean for c in program.criteria_names})
        schema["missing"] = pl.List(pl.String)
        if dict(frame.schema) == schema:
            return frame
        return frame.cast(schema)  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = result.to_pylist()
    return rows
