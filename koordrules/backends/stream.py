"""Streaming cohorts: a cohort larger than memory evaluated chunk by chunk, the results written
as they go, so memory is bounded by the chunk size and not by the cohort.

``evaluate_stream(program, data, output, backend=...)`` reads ``data`` in chunks of
``chunk_size`` rows:

* a Parquet file (only the columns the set needs are read, one row group slice at a time),
  a CSV or JSON lines file (one record at a time),
* a polars ``LazyFrame`` (``scan_parquet``, ``scan_csv``, … collected in batches) or
  DataFrame, a pyarrow Table, a ``RecordBatchReader`` or an iterable of record batches,
* a DuckDB relation (``duckdb.read_parquet(...)``, ``con.sql("SELECT … FROM 'x.csv'")``),
  DuckDB reading the file itself and handing over Arrow batches,
* a list or any iterable of record dicts,

evaluates each chunk on ``backend`` (python, polars or duckdb; the results are those of
:func:`koordrules.backends.evaluate_batch`) and hands the result rows to ``output``: a file
(``.parquet``, ``.ndjson``/``.jsonl`` or ``.csv``, the format from the suffix) or a function
that takes each chunk's rows (a polars DataFrame). Each result row starts with ``row``, the
record's number in the input (its line in a CSV or JSON lines file, the header being line 1;
its position from 1 in a table or a list), then the ``id_field`` and ``keep`` columns, then
``outcome``, the criteria and ``missing``. Rows keep the input order.

Input validation stays on. A row that cannot be read or is invalid (with ``strict=True``) is
a :class:`RowProblem` with its row number: ``on_error="raise"`` stops at the first with
:class:`~koordrules.errors.InputError`, ``on_error="skip"`` leaves the row out and goes on.
Nothing is lost silently: the :class:`StreamSummary` counts the rows read, written and
skipped, per kind of problem. Problems name the input and the rule, never the value.
``progress`` is called after each chunk with a :class:`Progress`.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from koordrules.backends import RowProblem, carried, keep_name, kind_of, require
from koordrules.backends.outfile import ROW, OutputFile
from koordrules.errors import InputError, KoordError

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from koordrules.compiler import Program

CHUNK = 100_000
MAX_PROBLEMS = 1000
STREAM_BACKENDS = ("python", "polars", "duckdb")
__all__ = ["Progress", "RowProblem", "StreamSummary", "evaluate_stream"]


@dataclasses.dataclass(frozen=True)
class Progress:
    """Rows read so far, of ``total`` when known (Parquet, tables), and rows skipped."""

    rows: int
    total: int | None
    skipped: int


@dataclasses.dataclass(frozen=True)
class StreamSummary:
    """What a streamed run did: rows read, written and skipped, skipped rows per code,
    results per outcome (``None`` for undecided) and the first problems."""

    rows: int
    written: int
    skipped: int
    skipped_by_code: Mapping[str, int]
    outcomes: Mapping[str | None, int]
    problems: tuple[RowProblem, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "written": self.written, "skipped": self.skipped,
                "skipped_by_code": dict(self.skipped_by_code),
                "outcomes": {("" if k is None else k): v for k, v in self.outcomes.items()},
                "problems": [dataclasses.asdict(p) for p in self.problems]}


Sink = Callable[["pl.DataFrame"], None]


def evaluate_stream(program: Program, data: Any, output: str | Path | Sink, *,
                    backend: str = "polars", strict: bool = True,
                    ignore: frozenset[str] = frozenset(), id_field: str | None = None,
                    keep: Iterable[str] = (), chunk_size: int = CHUNK,
                    on_error: str = "raise",
                    progress: Callable[[Progress], None] | None = None,
                    on_problem: Callable[[RowProblem], None] | None = None) -> StreamSummary:
    """Evaluate ``data`` chunk by chunk into ``output``; see the module docstring.
    ``on_problem`` is called with each row left out, as it is found."""
    if backend not in STREAM_BACKENDS:
        raise KoordError(f"streaming runs on {', '.join(STREAM_BACKENDS)}; on Spark, "
                         "evaluate_batch(..., backend='spark') and write with Spark",
                         code="unknown_backend")
    if on_error not in ("raise", "skip"):
        raise KoordError("on_error is 'raise' or 'skip'", code="bad_option")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise KoordError("chunk_size is a whole number of rows, at least 1", code="bad_option")
    kept = carried(program, id_field, keep)
    if ROW in kept or ROW in program.criteria_names:
        raise KoordError(f"the column {ROW!r} is the row number of a streamed result; "
                         "rename the field or criterion", code="column_clash")
    ignore = ignore | (frozenset(kept) - set(program.input_names))
    require("polars", "polars")
    run = _Run(program, backend, strict, ignore, kept, on_error, on_problem)
    # a file is written by one thread and the next chunk read by another while this one
    # evaluates, and on polars two chunks evaluate side by side (pyarrow and polars release
    # the GIL): at most a few chunks in memory
    writer: Any = output if callable(output) else _Background(OutputFile(Path(output)))
    chunks = _chunks(program, data, strict, ignore, kept, chunk_size)
    try:
        total = None
        empty: pl.DataFrame | None = None  # the result's columns, when no row is written
        for (chunk, total), done in _ahead(_prefetch(chunks), run.work, run.workers):
            result = run.account(chunk, done)
            if result.height:
                writer(result)
            elif empty is None:
                empty = result
            if progress is not None:
                progress(Progress(run.rows, total, run.skipped))
        if isinstance(writer, _Background):
            if not run.written and empty is not None:
                writer(empty)  # no rows: still a valid file, with the result's columns
            writer.close()
    except KoordError:
        raise
    except Exception as ex:  # a foreign library's error: translate, keep values out
        kind = type(ex).__name__
        from koordrules.errors import BackendError

        raise BackendError(f"the {backend} backend failed on this data ({kind}); the values "
                           "are not shown") from None
    finally:
        run.close()
        if isinstance(writer, _Background):
            writer.abandon()
    return StreamSummary(run.rows, run.written, run.skipped, dict(run.by_code),
                         dict(run.outcomes), tuple(run.problems))


_END = object()


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
        except queue.Full:
            continue
        return True
    return False


def _prefetch(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, each produced by a helper thread while the caller works on the one
    before (one item ahead); the helper's exceptions are raised here."""
    q: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if not _put(q, (True, item), stop):
                    return
            _put(q, (True, _END), stop)
        except BaseException as ex:  # handed to the caller
            _put(q, (False, ex), stop)

    thread = threading.Thread(target=work, name="koordrules-read", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _ahead(items: Iterator[Any], work: Callable[[Any], Any],
           workers: int) -> Iterator[tuple[Any, Any]]:
    """``(item, work(item))`` for each item, in order; with ``workers`` > 1 that many items
    are worked on at once by a pool of threads (polars releases the GIL while it computes,
    so two chunks evaluate on two cores), the next one submitted as each is handed out."""
    if workers <= 1:
        for item in items:
            yield item, work(item[0])
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: list[tuple[Any, Future[Any]]] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="koordrules-chunk") as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(work, item[0])))
                if len(pending) >= workers:
                    first, future = pending.pop(0)
                    yield first, future.result()
            while pending:
                first, future = pending.pop(0)
                yield first, future.result()
        finally:  # stopped early (an error): drop what is queued
            for _, future in pending:
                future.cancel()


class _Background:
    """A writer run by a helper thread, one chunk queued at most; its first exception is
    raised at the next call or at :meth:`close`."""

    def __init__(self, writer: OutputFile) -> None:
        self.writer = writer
        self.q: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.done = False
        self.thread = threading.Thread(target=self._work, name="koordrules-write",
                                       daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            try:
                frame = self.q.get(timeout=0.05)
            except queue.Empty:
                if self.stop.is_set():
                    return
                continue
            if frame is _END:
                return
            if self.error is None:
                try:
                    self.writer(frame)
                except BaseException as ex:  # raised in the caller's thread
                    self.error = ex

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def __call__(self, frame: pl.DataFrame) -> None:
        self._raise()
        _put(self.q, frame, self.stop)

    def close(self) -> None:
        """Write what is queued, close the file, raise the writer's error if any."""
        _put(self.q, _END, self.stop)
        self.thread.join()
        if self.error is not None:
            self.writer.discard()
            raise self.error
        self.writer.close()
        self.done = True

    def abandon(self) -> None:
        """After an error: stop the thread and remove the partial file."""
        if not self.done:
            self.stop.set()
            self.thread.join()
            self.writer.discard()


# A chunk: an Arrow table of rows (with the number of its first row), or numbered records.
Chunk = tuple[int, Any]


def _chunks(program: Program, data: Any, strict: bool, ignore: frozenset[str],
            kept: tuple[str, ...], size: int) -> Iterator[tuple[Chunk, int | None]]:
    pa = require("pyarrow", "polars")
    kind = kind_of(data)
    if kind == "file" and Path(data).suffix.lower() == ".parquet":
        pq = require("pyarrow.parquet", "polars")
        file = pq.ParquetFile(data)
        names = file.schema_arrow.names
        _check_columns(program, names, strict, ignore)
        wanted = [n for n in names if n in set(program.input_names) | set(kept)]
        count = file.metadata.num_rows
        start = 1
        tables: Iterable[Any]
        if wanted:  # polars reads Parquet about twice as fast, in order, in batches
            import polars as pl

            lazy = pl.scan_parquet(data).select(wanted)
            tables = (frame.to_arrow() for frame in lazy.collect_batches(chunk_size=size))
        else:  # no column to read, only rows to count
            tables = (pa.Table.from_batches([b])
                      for b in file.iter_batches(batch_size=size, columns=wanted))
        yielded = False
        for table in tables:
            yield (start, table), count
            start += table.num_rows
            yielded = True
        if not yielded:  # no rows: the file's columns, for the result's schema
            yield (1, file.schema_arrow.empty_table().select(wanted)), 0
        return
    if kind == "file":
        from koordrules.records import read_records

        records: list[tuple[int, Any]] = []
        count = 0
        for number, record in read_records(Path(data), program.criteria_set, strict=strict):
            records.append((number, record))
            count += 1
            if len(records) >= size:
                yield (0, records), None
                records = []
        if records or not count:
            yield (0, records), None
        return
    batches: Iterable[Any]
    total: int | None = None
    if kind == "polars" and hasattr(data, "collect_batches"):  # a LazyFrame
        batches = (frame.to_arrow() for frame in data.collect_batches(chunk_size=size))
    elif kind == "polars":
        total = data.height
        batches = (frame.to_arrow() for frame in data.iter_slices(size))
    elif kind == "duckdb":  # DuckDB reads the file (or runs the query) batch by batch
        batches = data.to_arrow_reader(size)
    elif kind == "pandas":
        table = pa.Table.from_pandas(data, preserve_index=False)
        total = table.num_rows
        batches = table.to_batches(max_chunksize=size)
    elif kind == "arrow" and isinstance(data, pa.Table):
        total = data.num_rows
        batches = data.to_batches(max_chunksize=size)
    elif kind == "arrow" or _is_batches(data):
        batches = data
    else:
        if isinstance(data, Mapping):
            raise InputError("a cohort is a list of records, not one record",
                             code="bad_record")
        records = []
        count = 0
        for count, record in enumerate(data, start=1):
            records.append((count, record))
            if len(records) >= size:
                yield (0, records), None
                records = []
        if records or not count:
            yield (0, records), None
        return
    start = 1
    checked = False
    for batch in batches:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if not checked:
            _check_columns(program, table.column_names, strict, ignore)
            checked = True
        yield (start, table), total
        start += table.num_rows
    if not checked:  # no batch at all: the input's columns, for the result's schema
        empty = _empty_table(data, batches)
        if empty is not None:
            _check_columns(program, empty.column_names, strict, ignore)
            yield (1, empty), total


def _empty_table(data: Any, batches: Any) -> pa.Table | None:
    """A table with no rows and the columns of an input that gave no batch (``None`` when
    its columns cannot be known, e.g. an empty generator)."""
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        return pl.DataFrame(schema=data.collect_schema()).to_arrow()
    if isinstance(data, pl.DataFrame):
        return data.head(0).to_arrow()
    if hasattr(batches, "schema"):  # a RecordBatchReader (DuckDB's too)
        return batches.schema.empty_table()
    if hasattr(data, "schema") and hasattr(data.schema, "empty_table"):  # Arrow Table
        return data.schema.empty_table()
    if kind_of(data) == "pandas":
        pa = require("pyarrow", "polars")
        return pa.Table.from_pandas(data.head(0), preserve_index=False)
    return None


def _is_batches(data: Any) -> bool:
    return type(data).__name__ in ("RecordBatchReader", "generator") or (
        isinstance(data, list) and bool(data) and type(data[0]).__name__ == "RecordBatch")


def _check_columns(program: Program, names: Iterable[str], strict: bool,
                   ignore: frozenset[str]) -> None:
    """Columns that are not inputs stop the run (the whole input is wrong, not a row)."""
    if not strict:
        return
    declared = set(program.input_names)
    for name in names:
        if name not in declared and name not in ignore:
            raise InputError(f"{name!r} is not an input of {program.criteria_set.key}",
                             code="unknown_input")


class _Run:
    """The per-chunk work and the running counts."""

    def __init__(self, program: Program, backend: str, strict: bool, ignore: frozenset[str],
                 kept: tuple[str, ...], on_error: str,
                 on_problem: Callable[[RowProblem], None] | None) -> None:
        self.program, self.backend, self.strict = program, backend, strict
        self.on_problem = on_problem
        self.ignore, self.kept, self.on_error = ignore, kept, on_error
        self.rows = self.written = self.skipped = 0
        self.by_code: Counter[str] = Counter()
        self.outcomes: Counter[str | None] = Counter()
        self.problems: list[RowProblem] = []
        self.session: Any = None  # the duckdb backend's connection, once opened

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def problem(self, row: int, error: KoordError) -> None:
        if self.on_error == "raise":
            raise InputError(f"row {row}: {error.message}", code=error.code)
        self.skipped += 1
        self.by_code[error.code] += 1
        found = RowProblem(row, error.code, error.message)
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(found)
        if self.on_problem is not None:
            self.on_problem(found)

    @property
    def workers(self) -> int:
        """Chunks evaluated at once: two on polars (it releases the GIL while it computes),
        else one (the python backend holds the GIL; on DuckDB, a cursor per thread gained
        nothing measurable, DuckDB already spreads one query over the cores)."""
        return 2 if self.backend == "polars" else 1

    def chunk(self, chunk: Chunk) -> pl.DataFrame:
        return self.account(chunk, self.work(chunk))

    def work(self, chunk: Chunk) -> tuple[list[tuple[int, KoordError]], pl.DataFrame]:
        """A chunk's rows left out (number and error) and its result rows; no counts
        change, so chunks can be worked on side by side."""
        start, rows = chunk
        numbers: Sequence[int]
        found: list[tuple[int, KoordError]] = []
        if isinstance(rows, list):
            numbers, table = self._records(rows, found)
        else:
            numbers, table = self._table(start, rows, found)
        result = self._evaluate(table)
        import polars as pl

        if isinstance(numbers, range):
            row = pl.int_range(numbers.start, numbers.stop, dtype=pl.Int64, eager=True)
        else:
            row = pl.Series(numbers, dtype=pl.Int64)
        return found, result.insert_column(0, row.alias(ROW))

    def account(self, chunk: Chunk,
                done: tuple[list[tuple[int, KoordError]], pl.DataFrame]) -> pl.DataFrame:
        """Count a worked chunk, in input order: its problems first (the first stops the run
        with ``on_error="raise"``), then its rows and outcomes."""
        found, result = done
        for number, error in found:
            self.problem(number, error)
        rows = chunk[1]
        self.rows += len(rows) if isinstance(rows, list) else rows.num_rows
        self.written += result.height
        for outcome, count in result.get_column("outcome").value_counts().iter_rows():
            self.outcomes[outcome] += count
        return result

    def _records(self, rows: list[tuple[int, Any]],
                 found: list[tuple[int, KoordError]]) -> tuple[list[int], Any]:
        """Validate numbered records one by one; the good ones as an Arrow table of inputs
        and carried columns (or as records, for the python backend)."""
        from koordrules.backends.arrow import from_inputs, kept_array

        inputs = self.program.inputs
        numbers: list[int] = []
        good: list[Any] = []
        columns: list[list[Any]] = [[] for _ in self.program.input_names]
        kept: list[list[Any]] = [[] for _ in self.kept]
        for number, record in rows:
            if isinstance(record, KoordError):
                found.append((number, record))
                continue
            if not isinstance(record, Mapping):
                found.append((number, InputError("a record is a JSON object",
                                                 code="bad_record")))
                continue
            try:
                xs, _ = inputs(record, strict=self.strict, ignore=self.ignore)
            except InputError as ex:
                found.append((number, ex))
                continue
            numbers.append(number)
            if self.backend == "python":
                good.append(record)
                continue
            for column, x in zip(columns, xs, strict=True):
                column.append(x)
            for column, name in zip(kept, self.kept, strict=True):
                column.append(record.get(name))
        if self.backend == "python":
            return numbers, good
        table = from_inputs(self.program, columns)
        for i, (name, values) in enumerate(zip(self.kept, kept, strict=True)):
            table = table.append_column(keep_name(i), kept_array(name, values))
        return numbers, table

    def _table(self, start: int, table: pa.Table,
               found: list[tuple[int, KoordError]]) -> tuple[Sequence[int], Any]:
        """Validate a table chunk column-wise; if a row is bad, find every bad row (record by
        record) and leave those out."""
        from koordrules.backends.arrow import kept_column, validate_table, with_kept

        pa = require("pyarrow", "polars")
        try:
            validated = validate_table(self.program, table, strict=self.strict,
                                       ignore=self.ignore)
        except InputError as ex:
            if getattr(ex, "row", None) is None:  # a whole column is wrong: not a row
                raise
            good = []
            inputs = self.program.inputs
            for i, record in enumerate(table.to_pylist()):
                try:
                    inputs(record, strict=self.strict, ignore=self.ignore)
                except InputError as bad:
                    found.append((start + i, bad))
                    continue
                good.append(i)
            table = table.take(pa.array(good, type=pa.int64()))
            numbers: Sequence[int] = [start + i for i in good]
            validated = validate_table(self.program, table, strict=self.strict,
                                       ignore=self.ignore)
        else:
            numbers = range(start, start + table.num_rows)
        if self.backend == "python":
            return numbers, table
        return numbers, with_kept(validated, [kept_column(table, n) for n in self.kept])

    def _evaluate(self, table: Any) -> pl.DataFrame:
        import polars as pl

        frame: Any
        if self.backend == "python":
            from koordrules.backends.python import evaluate

            frame = evaluate(self.program, table, strict=self.strict, ignore=self.ignore,
                             keep=self.kept)
            if self.kept and not isinstance(table, list):  # the types of the input's columns
                types = pl.DataFrame(table.select(list(self.kept)).slice(0, 0)).schema
                frame = frame.with_columns(pl.col(n).cast(types[n]) for n in self.kept)
        elif self.backend == "polars":
            from koordrules.backends.polars import evaluate_frame

            inputs: Any = pl.from_arrow(table)
            frame = evaluate_frame(self.program.criteria_set, inputs, self.kept)
        else:
            if self.session is None:  # one connection and query for the whole stream
                from koordrules.backends.duckdb import Session

                self.session = Session(self.program, self.kept)
            frame = pl.from_arrow(self.session(table))
        assert isinstance(frame, pl.DataFrame)
        return frame
