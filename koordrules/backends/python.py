"""The ``python`` cohort backend: the compiled single-record path, record by record.

No dependency beyond the core. Records stream (files and tables are read in batches); only
the result columns are accumulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from koordrules.backends import Table, iter_records, rows_to_table

if TYPE_CHECKING:
    from koordrules.compiler import Program


def columns(program: Program, data: Any, *, strict: bool = True,
            ignore: frozenset[str] = frozenset()) -> dict[str, list[Any]]:
    """The result columns: ``outcome``, one per criterion, ``missing``."""
    names = program.criteria_names
    outcomes: list[str | None] = []
    crit: list[list[bool | None]] = [[] for _ in names]
    missing: list[list[str]] = []
    outcome_of = program.outcome
    add_outcome, add_missing = outcomes.append, missing.append
    adders = [(n, c.append) for n, c in zip(names, crit, strict=True)]
    for record in iter_records(data, program.criteria_set, strict=strict):
        found = outcome_of(record, strict=strict, ignore=ignore)
        add_outcome(found.outcome)
        add_missing(list(found.missing))
        values = found.criteria
        for name, add in adders:
            add(values[name])
    out: dict[str, list[Any]] = {"outcome": outcomes}
    out.update(zip(names, crit, strict=True))
    out["missing"] = missing
    return out


def evaluate(program: Program, data: Any, *, strict: bool = True,
             ignore: frozenset[str] = frozenset()) -> Table:
    """One row per record (see :mod:`koordrules.backends`)."""
    return rows_to_table(columns(program, data, strict=strict, ignore=ignore),
                         program.criteria_names)
