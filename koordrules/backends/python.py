"""The ``python`` cohort backend: the compiled single-record path, record by record.

No dependency beyond the core. Records stream (files and tables are read in batches) and the
result is gathered in chunks of columns: with pyarrow installed each chunk becomes an Arrow
record batch at once, so a million rows cost a few bytes each, not a Python object each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from koordrules.backends import Table, has, iter_records

if TYPE_CHECKING:
    from koordrules.compiler import Program

CHUNK = 65_536

Chunk = tuple[list[str | None], list[list[bool | None]], list[tuple[str, ...]], list[list[Any]]]


def _chunks(program: Program, data: Any, strict: bool, ignore: frozenset[str],
            keep: tuple[str, ...] = ()) -> Iterator[Chunk]:
    """Yield ``(outcomes, criteria columns, missing, kept columns)`` for every ``CHUNK``
    records."""
    names = program.criteria_names
    outcome_of = program.outcome
    interned: dict[tuple[str, ...], tuple[str, ...]] = {}
    outcomes: list[str | None] = []
    crit: list[list[bool | None]] = [[] for _ in names]
    missing: list[tuple[str, ...]] = []
    kept: list[list[Any]] = [[] for _ in keep]
    for record in iter_records(data, program.criteria_set, strict=strict):
        found = outcome_of(record, strict=strict, ignore=ignore)
        outcomes.append(found.outcome)
        m = found.missing
        missing.append(interned.setdefault(m, m) if m else ())
        values = found.criteria
        for name, column in zip(names, crit, strict=True):
            column.append(values[name])
        for name, column in zip(keep, kept, strict=True):
            column.append(record.get(name))
        if len(outcomes) >= CHUNK:
            yield outcomes, crit, missing, kept
            outcomes, crit, missing, kept = [], [[] for _ in names], [], [[] for _ in keep]
    if outcomes or not names:
        yield outcomes, crit, missing, kept


def evaluate(program: Program, data: Any, *, strict: bool = True,
             ignore: frozenset[str] = frozenset(), keep: tuple[str, ...] = ()) -> Table:
    """One row per record (see :mod:`koordrules.backends`)."""
    names = list(program.criteria_names)
    chunks = _chunks(program, data, strict, ignore, keep)
    if has("pyarrow") and has("polars"):
        import polars as pl
        import pyarrow as pa

        fields = [pa.field("outcome", pa.string()), *[pa.field(n, pa.bool_()) for n in names],
                  pa.field("missing", pa.list_(pa.string()))]
        tables = [
            pa.Table.from_arrays(
                [*[pa.array(k) for k in ks], pa.array(o, pa.string()),
                 *[pa.array(c, pa.bool_()) for c in cs], pa.array(m, pa.list_(pa.string()))],
                names=[*keep, *(f.name for f in fields)])
            for o, cs, m, ks in chunks]
        if not keep:
            tables = [t.cast(pa.schema(fields)) for t in tables]
        empty = pa.schema([*(pa.field(k, pa.null()) for k in keep), *fields]).empty_table()
        table = pa.concat_tables(tables or [empty], promote_options="permissive")
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame
    rows: list[dict[str, Any]] = []
    for o, cs, m, ks in chunks:
        for i, outcome in enumerate(o):
            row: dict[str, Any] = {k: column[i] for k, column in zip(keep, ks, strict=True)}
            row["outcome"] = outcome
            row.update({n: c[i] for n, c in zip(names, cs, strict=True)})
            row["missing"] = list(m[i])
            rows.append(row)
    if has("polars"):
        import polars as pl

        schema_pl: dict[str, Any] = {"outcome": pl.String, **{n: pl.Boolean for n in names},
                                     "missing": pl.List(pl.String)}
        if keep:
            return pl.DataFrame(rows, schema_overrides=schema_pl)
        return pl.DataFrame(rows, schema=schema_pl)
    return rows
