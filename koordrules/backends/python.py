"""The ``python`` cohort backend: the compiled single-record path, record by record.

No dependency beyond the core. Records stream (files and tables are read in batches) and the
result is gathered in chunks of columns: with pyarrow installed each chunk becomes an Arrow
record batch at once, so a million rows cost a few bytes each, not a Python object each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from koordrules.backends import Table, has, iter_records

if TYPE_CHECKING:
    from koordrules.compiler import Program

CHUNK = 65_536


def _chunks(program: Program, data: Any, strict: bool,
            ignore: frozenset[str]) -> Any:
    """Yield ``(outcomes, criteria columns, missing)`` for every ``CHUNK`` records."""
    names = program.criteria_names
    outcome_of = program.outcome
    interned: dict[tuple[str, ...], tuple[str, ...]] = {}
    outcomes: list[str | None] = []
    crit: list[list[bool | None]] = [[] for _ in names]
    missing: list[tuple[str, ...]] = []
    for record in iter_records(data, program.criteria_set, strict=strict):
        found = outcome_of(record, strict=strict, ignore=ignore)
        outcomes.append(found.outcome)
        m = found.missing
        missing.append(interned.setdefault(m, m) if m else ())
        values = found.criteria
        for name, column in zip(names, crit, strict=True):
            column.append(values[name])
        if len(outcomes) >= CHUNK:
            yield outcomes, crit, missing
            outcomes, crit, missing = [], [[] for _ in names], []
    if outcomes or not names:
        yield outcomes, crit, missing


def evaluate(program: Program, data: Any, *, strict: bool = True,
             ignore: frozenset[str] = frozenset()) -> Table:
    """One row per record (see :mod:`koordrules.backends`)."""
    names = list(program.criteria_names)
    chunks = _chunks(program, data, strict, ignore)
    if has("pyarrow") and has("polars"):
        import polars as pl
        import pyarrow as pa

        schema = pa.schema([pa.field("outcome", pa.string()),
                            *[pa.field(n, pa.bool_()) for n in names],
                            pa.field("missing", pa.list_(pa.string()))])
        batches = [
            pa.RecordBatch.from_arrays(
                [pa.array(o, pa.string()), *[pa.array(c, pa.bool_()) for c in cs],
                 pa.array(m, pa.list_(pa.string()))], schema=schema)
            for o, cs, m in chunks]
        frame = pl.from_arrow(pa.Table.from_batches(batches, schema=schema))
        assert isinstance(frame, pl.DataFrame)
        return frame
    rows: list[dict[str, Any]] = []
    for o, cs, m in chunks:
        for i, outcome in enumerate(o):
            row: dict[str, Any] = {"outcome": outcome}
            row.update({n: c[i] for n, c in zip(names, cs, strict=True)})
            row["missing"] = list(m[i])
            rows.append(row)
    if has("polars"):
        import polars as pl

        schema_pl: dict[str, Any] = {"outcome": pl.String, **{n: pl.Boolean for n in names},
                                     "missing": pl.List(pl.String)}
        return pl.DataFrame(rows, schema=schema_pl)
    return rows
