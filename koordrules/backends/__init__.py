"""Cohort evaluation: a criteria set over many records at once, outcome-only.

``evaluate_batch(program, data, backend=...)`` (or ``Program.evaluate_batch``) takes

* a list (or any iterable) of record dicts,
* a polars or pandas DataFrame, or a pyarrow Table,
* a file path: CSV, JSON / JSON lines (``.json``, ``.jsonl``, ``.ndjson``) or Parquet,

and returns a table with one row per record, in input order: ``outcome`` (the outcome id, or
null when the data cannot decide it), one column per criterion (true / false / null for
unknown) and ``missing`` (the inputs that would decide an undecided outcome, a list of
strings, sorted). The table is a polars DataFrame when polars is installed, else a list of
dicts with the same keys.

Backends, all giving the reference interpreter's values (tests/test_backends.py):

* ``python`` — the compiled single-record path (:mod:`koordrules.compiler`), no extra
  dependency;
* ``polars`` — the set compiled to polars expressions, Kleene logic on nulls (extra
  ``koordrules[polars]``);
* ``duckdb`` — the set compiled to one SQL query (through sqlglot), run on embedded DuckDB
  (extra ``koordrules[duckdb]``). :func:`koordrules.backends.sql.to_sql` gives the query for
  DuckDB, Spark SQL or PostgreSQL;
* ``spark`` — the same query as Spark SQL on a pyspark DataFrame, the result a Spark
  DataFrame (extra ``koordrules[spark]``, a Java runtime; :mod:`koordrules.backends.spark`).

Records are validated as :func:`koordrules.evaluate` validates them: with ``strict=True`` an
invalid record raises :class:`~koordrules.errors.InputError`; with ``strict=False`` the bad
values count as unknown. Columns that are not inputs are errors unless named in ``ignore``.

A record of a CSV or JSON file that cannot be read at all (a line that is not JSON, not an
object, a CSV row with the wrong number of cells) stops the run with ``strict=True``. With
``strict=False`` it is left out and the run goes on: each such record is a
:class:`RowProblem` (its number, a code, a message without its values) handed to
``on_problem``, or, without ``on_problem``, summed up in one :class:`SkippedRecordsWarning`
(how many of how many, per code, and their numbers). The result then has fewer rows than the
file has records: carry an ``id_field`` (or stream, whose rows carry the record's number).

``id_field`` and ``keep`` carry columns of the input through to the result, first and in
that order (``id_field``, then ``keep``), with their values as given (not validated, and not
inputs unless the set declares them). A table without such a column is an error; a record
without the field gets null. On every backend (python, polars, duckdb, spark) the result has
the same columns; python, polars and duckdb keep the input order, Spark does not promise an
order, so carry an id.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from koordrules import ast
from koordrules.errors import BackendError, InputError, KoordError

if TYPE_CHECKING:
    import polars

    from koordrules.compiler import Program

Table: TypeAlias = "polars.DataFrame | list[dict[str, Any]]"
"""A polars DataFrame (polars installed) or a list of dicts (narrow with ``isinstance``)."""

BACKENDS = ("python", "polars", "duckdb", "spark")
FILE_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson", ".parquet")


@dataclasses.dataclass(frozen=True)
class RowProblem:
    """A row left out (or the row that stopped the run): its number from 1, a stable code
    and a message without the row's values."""

    row: int
    code: str
    message: str


class SkippedRecordsWarning(UserWarning):
    """Records of a file that could not be read were left out (``strict=False`` without
    ``on_problem``); the message says how many, per code, and their numbers."""


class UnsupportedError(KoordError):
    """The set uses a construct this backend cannot express (use the python backend)."""

    code = "unsupported"


def require(module: str, extra: str) -> Any:
    """Import an optional dependency, or raise :class:`KoordError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as ex:
        raise KoordError(f"this needs {module}: pip install 'koordrules[{extra}]'",
                         code="missing_dependency") from ex


def has(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def kind_of(data: Any) -> str:
    """``records``, ``polars``, ``pandas``, ``arrow``, ``duckdb`` (a relation: DuckDB
    reading a file or a table itself) or ``file``."""
    if isinstance(data, str | Path):
        return "file"
    module = type(data).__module__
    if module.startswith("duckdb") and hasattr(data, "to_arrow_reader"):
        return "duckdb"
    if module.startswith("polars"):
        return "polars"
    if module.startswith("pandas"):
        return "pandas"
    if module.startswith("pyarrow"):
        return "arrow"
    return "records"


def numbered_records(source: str | Path, cs: ast.CriteriaSet, *, strict: bool = True
                     ) -> Iterator[tuple[int, dict[str, Any] | KoordError]]:
    """``(number, record)`` for each record of the file ``source`` (``"-"`` is standard
    input), its format from the suffix: Parquet rows are numbered from 1, the other formats
    as :func:`koordrules.records.read_records` numbers them; a record that cannot be read
    comes as ``(number, KoordError)``."""
    if Path(source).suffix.lower() == ".parquet":
        pq = require("pyarrow.parquet", "polars")
        pa = require("pyarrow", "polars")
        try:
            file = pq.ParquetFile(source)
        except (OSError, pa.ArrowException) as ex:
            raise InputError(f"cannot read {source}: not a readable Parquet file",
                             file=str(source), code="io_error") from ex
        number = 0
        for batch in file.iter_batches(batch_size=8192):
            for record in batch.to_pylist():
                number += 1
                yield number, record
        return
    from koordrules.records import read_records

    yield from read_records(source, cs, strict=strict)


def _file_records(path: Path, cs: ast.CriteriaSet, strict: bool) -> Iterator[dict[str, Any]]:
    for number, record in numbered_records(path, cs, strict=strict):
        if isinstance(record, KoordError):
            raise InputError(f"record {number}: {record.message}", file=str(path),
                             code=record.code)
        yield record


def iter_records(data: Any, cs: ast.CriteriaSet, *, strict: bool = True
                 ) -> Iterator[Mapping[str, Any]]:
    """The records of ``data`` one at a time (files and tables are read in batches, so a
    large cohort is never held as dicts). Table nulls become ``None``."""
    kind = kind_of(data)
    if kind == "file":
        yield from _file_records(Path(data), cs, strict)
    elif kind == "polars":
        if hasattr(data, "collect_batches"):  # a LazyFrame, collected in batches
            for frame in data.collect_batches(chunk_size=8192):
                yield from frame.iter_rows(named=True)
            return
        for frame in data.iter_slices(8192):
            yield from frame.iter_rows(named=True)
    elif kind == "duckdb":
        for batch in data.to_arrow_reader(8192):
            yield from batch.to_pylist()
    elif kind == "pandas":
        pa = require("pyarrow", "polars")
        yield from iter_records(pa.Table.from_pandas(data, preserve_index=False), cs)
    elif kind == "arrow":
        batches = data if hasattr(data, "read_all") else data.to_batches(max_chunksize=8192)
        for batch in batches:
            yield from batch.to_pylist()
    else:
        if isinstance(data, Mapping):
            raise InputError("a cohort is a list of records, not one record",
                             code="bad_record")
        yield from data


def rows_to_table(columns: dict[str, list[Any]], criteria: Iterable[str]) -> Table:
    """The result columns as a polars DataFrame, or a list of dicts without polars."""
    if has("polars"):
        import polars as pl

        schema: dict[str, Any] = {"outcome": pl.String}
        schema.update({c: pl.Boolean for c in criteria})
        schema["missing"] = pl.List(pl.String)
        return pl.DataFrame(columns, schema=schema)
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


KEEP_PREFIX = "__koordrules_keep"


def keep_name(index: int) -> str:
    """The working name of the ``index``-th carried column (clear of every input name)."""
    return f"{KEEP_PREFIX}{index}"


def carried(program: Program, id_field: str | None, keep: Iterable[str]) -> tuple[str, ...]:
    """The columns to carry, ``id_field`` first, each once; a name the result already uses
    (``outcome``, ``missing`` or a criterion) is an error."""
    names: list[str] = []
    for name in ([id_field] if id_field else []) + list(keep):
        if not isinstance(name, str) or not name:
            raise KoordError("a column to keep is named by a non-empty text",
                             code="bad_keep")
        if name not in names:
            names.append(name)
    taken = {"outcome", "missing", *program.criteria_names}
    for name in names:
        if name in taken:
            raise KoordError(f"the column {name!r} cannot be kept: the result has a column "
                             "of that name (rename it in the data)", code="column_clash")
    return tuple(names)


def readable_records(path: Path, cs: ast.CriteriaSet,
                     on_problem: Callable[[RowProblem], None]) -> Iterator[dict[str, Any]]:
    """The records of a CSV or JSON file that can be read (read as with ``strict=False``);
    each one that cannot is handed to ``on_problem`` and left out."""
    from koordrules.records import read_records

    for number, record in read_records(path, cs, strict=False):
        if isinstance(record, KoordError):
            on_problem(RowProblem(number, record.code, record.message))
            continue
        yield record


class _Skipped:
    """The records left out of one run, counted for its summary."""

    SHOWN = 20

    def __init__(self, on_problem: Callable[[RowProblem], None] | None) -> None:
        self.on_problem = on_problem
        self.by_code: Counter[str] = Counter()
        self.rows: list[int] = []

    def __call__(self, problem: RowProblem) -> None:
        self.by_code[problem.code] += 1
        if len(self.rows) < self.SHOWN:
            self.rows.append(problem.row)
        if self.on_problem is not None:
            self.on_problem(problem)

    def warn(self, name: str) -> None:
        if self.on_problem is not None or not self.by_code:
            return
        count = sum(self.by_code.values())
        codes = ", ".join(f"{code} {n}" for code, n in sorted(self.by_code.items()))
        rows = ", ".join(map(str, self.rows)) + (", …" if count > len(self.rows) else "")
        many = count != 1
        warnings.warn(SkippedRecordsWarning(
            f"{count} record{'s' if many else ''} of {name} could not be read and "
            f"{'were' if many else 'was'} left out ({codes}): record{'s' if many else ''} "
            f"{rows}; pass on_problem= to get each one, or strict=True to stop at the "
            "first"), stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside koordrules (the caller's line)."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").partition(
            ".")[0] == "koordrules":
        frame = frame.f_back
        level += 1
    return level


def evaluate_batch(program: Program, data: Any, *, backend: str = "python",
                   strict: bool = True, ignore: frozenset[str] = frozenset(),
                   id_field: str | None = None, keep: Iterable[str] = (),
                   on_problem: Callable[[RowProblem], None] | None = None) -> Table:
    """Evaluate every record of ``data`` with ``backend``; see the module docstring.
    ``on_problem`` gets each record of a file left out with ``strict=False``.

    An exception of the backend's own library (pyarrow, polars, DuckDB, …) is translated here
    into :class:`~koordrules.errors.BackendError`, whose message names only the kind of error:
    foreign messages quote the data (``Overflow in addition of INT64 (… + 1)``), and patient
    values never reach a log. The original is not chained (``from None``) for the same reason.
    """
    if backend not in BACKENDS:
        raise KoordError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}",
                         code="unknown_backend")
    kept = carried(program, id_field, keep)
    ignore = ignore | (frozenset(kept) - set(program.input_names))
    skipped = _Skipped(on_problem)
    if not strict and kind_of(data) == "file" and Path(data).suffix.lower() != ".parquet":
        name = "standard input" if str(data) == "-" else Path(data).name
        data = readable_records(Path(data), program.criteria_set, skipped)
    else:
        name = ""
    try:
        table = _dispatch(program, data, backend, strict, ignore, kept)
    except KoordError:
        raise
    except Exception as ex:  # a foreign library's error: translate, keep values out
        kind = type(ex).__name__
    else:
        skipped.warn(name)
        return table
    raise BackendError(
        f"the {backend} backend failed on this data ({kind}); the values are not shown. "
        "Check that every value lies within its declared type (whole numbers within 64 bits), "
        "or use --backend python, which treats such values as unknown")


def _dispatch(program: Program, data: Any, backend: str, strict: bool,
              ignore: frozenset[str], keep: tuple[str, ...]) -> Table:
    if backend == "polars":
        from koordrules.backends.polars import evaluate as evaluate_polars

        return evaluate_polars(program, data, strict=strict, ignore=ignore, keep=keep)
    if backend == "duckdb":
        from koordrules.backends.duckdb import evaluate as evaluate_duckdb

        return evaluate_duckdb(program, data, strict=strict, ignore=ignore, keep=keep)
    if backend == "spark":  # a Spark DataFrame back (see koordrules.backends.spark)
        from koordrules.backends.spark import evaluate as evaluate_spark

        result: Table = evaluate_spark(program, data, strict=strict, ignore=ignore, keep=keep)
        return result
    from koordrules.backends.python import evaluate

    return evaluate(program, data, strict=strict, ignore=ignore, keep=keep)
