"""A cohort as an Arrow table with one validated column per declared input.

Used by the polars and DuckDB backends. Records (dicts, CSV and JSON files) are validated one by
one with the compiled validator, which is :func:`koordrules.inputs.validate_record`'s check;
tables (polars, pandas, Arrow, Parquet) are validated column-wise with the same rules: the
column's type must fit the declared type (an integer input needs an integer column, a date input
a date column or ``YYYY-MM-DD`` text), values must lie in ``min``/``max``, be finite, belong to
the enum's values, and columns that are not inputs are errors unless ignored. With
``strict=False`` a bad value (or a whole column of the wrong type) becomes null.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from koordrules import ast
from koordrules.backends import iter_records, keep_name, kind_of, require
from koordrules.errors import InputError
from koordrules.inputs import MAX_KEYS, MAX_LIST, MAX_STRING
from koordrules.operators.numeric import INT_MAX

if TYPE_CHECKING:
    import pyarrow as pa

    from koordrules.compiler import Program


def arrow_type(pa: Any, kind: str) -> Any:
    return {
        "boolean": pa.bool_(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "string": pa.string(),
        "enum": pa.string(),
        "date": pa.date32(),
    }[kind]


def input_type(pa: Any, decl: ast.InputDecl) -> Any:
    if decl.type == "list":
        return pa.list_(arrow_type(pa, decl.items or "string"))
    return arrow_type(pa, decl.type)


def prepare(program: Program, data: Any, *, strict: bool = True,
            ignore: frozenset[str] = frozenset(), keep: tuple[str, ...] = ()) -> pa.Table:
    """``data`` as an Arrow table of the set's inputs, validated (see the module docstring),
    followed by the ``keep`` columns as given, named ``keep_name(i)``."""
    pa = require("pyarrow", "polars")
    kind = kind_of(data)
    source: Any = None
    if kind == "file" and Path(data).suffix.lower() == ".parquet":
        pq = require("pyarrow.parquet", "polars")
        source = pq.read_table(data)
    elif kind == "polars":
        source = (data.collect() if hasattr(data, "collect") else data).to_arrow()
    elif kind == "duckdb":
        source = data.to_arrow_table()
    elif kind == "pandas":
        source = pa.Table.from_pandas(data, preserve_index=False)
    elif kind == "arrow":
        source = data.read_all() if hasattr(data, "read_all") else data
    if source is not None:
        table = validate_table(program, source, strict=strict, ignore=ignore)
        return with_kept(table, [kept_column(source, name) for name in keep])
    names = program.input_names
    columns: list[list[Any]] = [[] for _ in names]
    adders = [c.append for c in columns]
    kept: list[list[Any]] = [[] for _ in keep]
    inputs = program.inputs
    for record in iter_records(data, program.criteria_set, strict=strict):
        xs, _ = inputs(record, strict=strict, ignore=ignore)
        for add, x in zip(adders, xs, strict=True):
            add(x)
        for name, values in zip(keep, kept, strict=True):
            values.append(record.get(name))
    table = from_inputs(program, columns)
    return with_kept(table, [kept_array(name, values) for name, values in zip(keep, kept,
                                                                              strict=True)])


def from_inputs(program: Program, columns: list[list[Any]]) -> pa.Table:
    """Validated input values (one list per declared input) as an Arrow table."""
    pa = require("pyarrow", "polars")
    decls = program.criteria_set.inputs
    arrays = [pa.array([_plain(v) for v in col] if d.type == "list" else col,
                       type=input_type(pa, d))
              for d, col in zip(decls, columns, strict=True)]
    return pa.Table.from_arrays(arrays, names=list(program.input_names))


def kept_column(source: pa.Table, name: str) -> Any:
    """The column ``name`` of a table, to carry through; an error when it has none."""
    if name not in source.column_names:
        raise InputError(f"the data has no column {name!r} to keep", code="unknown_column")
    return source.column(name)


def kept_array(name: str, values: list[Any]) -> Any:
    """Record values of a carried field as one Arrow array (one kind of value per field)."""
    pa = require("pyarrow", "polars")
    try:
        return pa.array([_plain(v) for v in values])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise InputError(f"the field {name!r} to keep mixes kinds of values (text, numbers, "
                         "…); give it one kind in every record", code="bad_keep") from None


def with_kept(table: pa.Table, columns: list[Any]) -> pa.Table:
    for i, column in enumerate(columns):
        table = table.append_column(keep_name(i), column)
    return table


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _bad(message: str, row: int | None = None) -> InputError:
    """A bad value (``row``: its row, from 0) or a bad column (``row`` None); the row is
    kept as ``error.row`` (from 1) for callers that report rows themselves."""
    where = f" (row {row + 1})" if row is not None else ""
    error = InputError(message + where, code="bad_input_value")
    error.row = None if row is None else row + 1  # type: ignore[attr-defined]
    return error


def validate_table(program: Program, table: pa.Table, *, strict: bool = True,
                   ignore: frozenset[str] = frozenset()) -> pa.Table:
    """Check and normalise a table's columns against the declared inputs."""
    pa = require("pyarrow", "polars")
    pc = require("pyarrow.compute", "polars")
    cs = program.criteria_set
    if table.num_columns > MAX_KEYS:
        raise InputError(f"the table has more than {MAX_KEYS} columns", code="too_large")
    declared = {d.name for d in cs.inputs}
    for name in table.column_names:
        if name in ignore or name in declared:
            continue
        if strict:
            raise InputError(f"{name!r} is not an input of {cs.key}", code="unknown_input")
    arrays = []
    for decl in cs.inputs:
        target = input_type(pa, decl)
        if decl.name in table.column_names and decl.name not in ignore:
            column = table.column(decl.name).combine_chunks()
            column = _typed(pa, pc, decl, column, target, strict)
            column = _values(pa, pc, decl, column, strict)
        else:
            column = pa.nulls(table.num_rows, type=target)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=[d.name for d in cs.inputs])


def _fits(pa: Any, kind: str, t: Any) -> bool:
    types = pa.types
    if types.is_null(t):
        return True
    if types.is_dictionary(t):
        t = t.value_type
    if kind == "boolean":
        return bool(types.is_boolean(t))
    if kind == "integer":
        return bool(types.is_integer(t))
    if kind == "number":
        return bool(types.is_integer(t) or types.is_floating(t))
    if kind in ("string", "enum"):
        return bool(types.is_string(t) or types.is_large_string(t))
    if kind == "date":
        return bool(types.is_date(t) or types.is_string(t) or types.is_large_string(t))
    return False


def _typed(pa: Any, pc: Any, decl: ast.InputDecl, column: Any, target: Any,
           strict: bool) -> Any:
    t = column.type
    kind = decl.type
    ok = _fits(pa, kind, t)
    if kind == "list":
        ok = ((pa.types.is_list(t) or pa.types.is_large_list(t)) and _fits(
            pa, decl.items or "string", t.value_type)) or pa.types.is_null(t)
    if not ok:
        if strict:
            raise _bad(f"input {decl.name!r} must be {kind}, got a column of type {t}")
        return pa.nulls(len(column), type=target)
    if pa.types.is_dictionary(t):
        column = column.dictionary_decode()
    if kind == "date" and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        text = column.cast(pa.string())
        parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
        # strptime rolls 2024-02-30 over to 2024-03-01 and takes year 0: a real date is
        # one that prints back as the text, from 0001-01-01 on
        back = pc.strftime(parsed, format="%Y-%m-%d")
        wrong = pc.and_(pc.is_valid(text), pc.or_kleene(
            pc.or_kleene(pc.is_null(parsed), pc.not_equal(back, text)),
            pc.less(parsed, pa.scalar(dt.datetime(1, 1, 1), type=parsed.type))))
        column = _reject(pa, pc, decl, parsed.cast(pa.date32()), wrong,
                         "must be a date (YYYY-MM-DD)", strict)
    items = decl.items if kind == "list" else kind
    if items == "integer":
        # as in a record (koordrules.inputs): an integer lies within 64 bits, signed
        column = _reject(pa, pc, decl, column, _beyond_int64(pa, pc, column),
                         "must be a whole number within 64 bits", strict)
    if items == "number":
        # a number is a binary64 (docs/language.md): 2**53 + 1 is 2**53, as in a record
        return column.cast(target, safe=False)
    return column.cast(target)


def _beyond_int64(pa: Any, pc: Any, column: Any) -> Any:
    """Per row: an unsigned 64-bit value (or list item) above the largest int64."""
    listed = pa.types.is_list(column.type) or pa.types.is_large_list(column.type)
    flat = pc.list_flatten(column) if listed else column
    if not pa.types.is_uint64(flat.type):
        return pa.nulls(len(column), type=pa.bool_())
    big = pc.greater(flat, pa.scalar(INT_MAX, type=pa.uint64()))
    if not listed:
        return big
    parents = pc.filter(pc.list_parent_indices(column), pc.fill_null(big, False))
    return pc.is_in(pa.array(range(len(column)), type=parents.type), value_set=parents)


def _reject(pa: Any, pc: Any, decl: ast.InputDecl, column: Any, wrong: Any, reason: str,
            strict: bool) -> Any:
    wrong = pc.fill_null(wrong, False)
    if not pc.any(wrong).as_py():
        return column
    if strict:
        row = pc.index(wrong, True).as_py()
        raise _bad(f"input {decl.name!r} {reason}", row)
    return pc.if_else(wrong, pa.scalar(None, type=column.type), column)


def _values(pa: Any, pc: Any, decl: ast.InputDecl, column: Any, strict: bool) -> Any:
    kind = decl.items if decl.type == "list" else decl.type
    if decl.type == "list":
        lengths = pc.list_value_length(column)
        column = _reject(pa, pc, decl, column, pc.greater(lengths, MAX_LIST),
                         f"has more than {MAX_LIST} items", strict)
        flat = pc.list_flatten(column)
        parents = pc.list_parent_indices(column)
        wrong = _scalar_wrong(pa, pc, decl, kind or "string", flat)
        if wrong is not None:
            bad_parents = pc.filter(parents, pc.fill_null(wrong[0], False))
            mask = pc.is_in(pa.array(range(len(column)), type=parents.type),
                            value_set=bad_parents)
            column = _reject(pa, pc, decl, column, mask, wrong[1], strict)
        return column
    wrong = _scalar_wrong(pa, pc, decl, kind or "string", column)
    while wrong is not None:
        column = _reject(pa, pc, decl, column, wrong[0], wrong[1], strict)
        wrong = _scalar_wrong(pa, pc, decl, kind or "string", column)
    return column


def _scalar_wrong(pa: Any, pc: Any, decl: ast.InputDecl, kind: str,
                  column: Any) -> tuple[Any, str] | None:
    """The first rule some value breaks: (mask, reason), or ``None``."""
    checks: list[tuple[Any, str]] = []
    if kind in ("integer", "number"):
        if pa.types.is_floating(column.type):
            checks.append((pc.invert(pc.is_finite(column)), "must be a finite number"))
        if decl.min is not None:
            checks.append((pc.less(column, decl.min), f"must be at least {decl.min:g}"))
        if decl.max is not None:
            checks.append((pc.greater(column, decl.max), f"must be at most {decl.max:g}"))
    elif kind in ("string", "enum"):
        checks.append((pc.greater(pc.utf8_length(column), MAX_STRING),
                       f"is longer than {MAX_STRING} characters"))
        if kind == "enum":
            allowed = pa.array(list(decl.values or ()), type=pa.string())
            checks.append((pc.invert(pc.is_in(column, value_set=allowed)),
                           "must be one of " + ", ".join(decl.values or ())))
    for mask, reason in checks:
        mask = pc.and_(pc.fill_null(mask, False), pc.is_valid(column))
        if pc.any(mask).as_py():
            return mask, reason
    return None
