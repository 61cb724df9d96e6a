"""The ``duckdb`` cohort backend: the set's SQL query (:mod:`koordrules.backends.sql`) run on
an embedded, in-memory DuckDB over the validated Arrow table. Needs ``koordrules[duckdb]``."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from koordrules import ast
from koordrules.backends import Table, has, keep_name, require
from koordrules.backends.sql import to_sql

if TYPE_CHECKING:
    import pyarrow as pa

    from koordrules.compiler import Program


@functools.lru_cache(maxsize=64)
def _query(cs: ast.CriteriaSet, kept: int) -> str:
    """The set's query over ``records`` with ``kept`` carried columns (cached per set)."""
    working = tuple(keep_name(i) for i in range(kept))
    return to_sql(cs, dialect="duckdb", table="records", pretty=False, keep=working)


class Session:
    """One in-memory DuckDB connection and the set's query, run over table after table (a
    stream's chunks): the connection and the SQL are made once, not per table."""

    def __init__(self, program: Program, keep: tuple[str, ...] = ()) -> None:
        duckdb = require("duckdb", "duckdb")
        self.keep = keep
        self.sql = _query(program.criteria_set, len(keep))
        self.con = duckdb.connect()

    def __call__(self, table: pa.Table) -> pa.Table:
        """The query over ``table`` (validated inputs and the carried columns
        ``keep_name(i)``); an Arrow table back, the carried columns first, named ``keep``."""
        self.con.register("records", table)
        try:
            result: pa.Table = self.con.sql(self.sql).to_arrow_table()
        finally:
            self.con.unregister("records")
        if self.keep:
            result = result.rename_columns([*self.keep, *result.column_names[len(self.keep):]])
        return result

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def run(program: Program, table: pa.Table, keep: tuple[str, ...] = ()) -> pa.Table:
    """Run the set's query over an Arrow table of validated inputs (and the carried columns
    ``keep_name(i)``); an Arrow table back, the carried columns first, named ``keep``."""
    with Session(program, keep) as session:
        return session(table)


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
