"""The ``duckdb`` cohort backend: the set's SQL query (:mod:`koordrules.backends.sql`) run on
an embedded, in-memory DuckDB over the validated Arrow table. Needs ``koordrules[duckdb]``."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from koordrules import ast
from koordrules.backends import Table, has, keep_name, require
from koordrules.backends.sql import MASK, mask_query, to_sql

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
    stream's chunks): the connection and the SQL are made once, not per table.

    With polars installed, only the inputs go through DuckDB: the carried columns are put
    back beside the result (DuckDB keeps the rows' order), and ``missing`` comes back as a
    bit mask per undecided row that becomes its list once per distinct mask, instead of
    each row's list built and copied out by DuckDB."""

    def __init__(self, program: Program, keep: tuple[str, ...] = ()) -> None:
        duckdb = require("duckdb", "duckdb")
        self.keep = keep
        self.inputs = list(program.input_names)
        masked = mask_query(program.criteria_set) if has("polars") else None
        self.names: list[str] | None = None
        if masked is None:
            self.sql = _query(program.criteria_set, len(keep))
        else:
            self.sql, self.names = masked
        self.con = duckdb.connect()
        # no progress bar: DuckDB would print it on stdout, among a run's results
        self.con.execute("SET enable_progress_bar = false")

    def _run(self, table: pa.Table) -> pa.Table:
        self.con.register("records", table)
        try:
            result: pa.Table = self.con.sql(self.sql).to_arrow_table()
        finally:
            self.con.unregister("records")
        return result

    def __call__(self, table: pa.Table) -> pa.Table:
        """The query over ``table`` (validated inputs and the carried columns
        ``keep_name(i)``); an Arrow table back, the carried columns first, named ``keep``."""
        if self.names is None:
            result = self._run(table)
            if self.keep:
                result = result.rename_columns([*self.keep,
                                                *result.column_names[len(self.keep):]])
            return result
        pa = require("pyarrow", "duckdb")
        import polars as pl

        from koordrules.backends.polars import names_from_masks

        result = self._run(table.select(self.inputs))
        masks: Any = pl.from_arrow(result.column(MASK))
        missing = names_from_masks(masks.drop_nulls(), masks.is_not_null().arg_true(),
                                   result.num_rows, self.names)
        kept = [table.column(keep_name(i)) for i in range(len(self.keep))]
        columns = [*kept, *result.columns[:-1], missing.to_arrow()]
        names = [*self.keep, *result.column_names[:-1], "missing"]
        return pa.Table.from_arrays(columns, names=names)

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
