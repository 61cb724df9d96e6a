"""Result files of a streamed run: chunks of result rows appended to a Parquet, NDJSON
or CSV file, written under a temporary name and renamed when complete."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from koordrules.backends import require
from koordrules.errors import KoordError

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

OUTPUT_SUFFIXES = (".parquet", ".ndjson", ".jsonl", ".csv")
ROW = "row"  # the row number column of a streamed result


class OutputFile:
    """Result chunks appended to a Parquet, NDJSON or CSV file (format from the suffix).

    A Parquet file has one schema. The types of its columns come from the input where it
    has them (Parquet, Arrow, polars, DuckDB); records (JSON lines, CSV, dicts) have none,
    so a kept field that is null in every row of the first chunk has no type yet, and one
    of whole numbers may later hold decimals. When a later chunk brings the wider type, the
    rows written so far are copied once into a file of that type (a batch at a time) and
    writing goes on there; kinds that do not mix (text and numbers) are ``bad_keep``. With
    no rows at all, the file still has the result's columns.
    """

    def __init__(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if suffix not in OUTPUT_SUFFIXES:
            raise KoordError(f"results are written as {', '.join(OUTPUT_SUFFIXES)}; "
                             f"{path.name!r} has none of these suffixes",
                             code="unsupported_file")
        self.path, self.suffix = path, suffix
        # written under a temporary name, renamed when complete: a run that fails leaves
        # no file that looks like a whole result
        self.partial = path.with_name(f".{path.name}.partial")
        self.parquet: Any = None
        self.schema: Any = None
        self.file = None if suffix == ".parquet" else self.partial.open("wb")
        self.first = True
        self.rewrites = 0
        """How often the rows written so far were copied into a wider schema."""

    def __call__(self, frame: pl.DataFrame) -> None:
        import polars as pl

        if self.suffix == ".parquet":
            table = frame.to_arrow()
            if self.parquet is None:
                self.schema = table.schema
                self.parquet = self._writer(self.partial)
            elif table.schema != self.schema:
                wider = _wider(self.schema, table.schema)
                if wider != self.schema:
                    self._widen(wider)
                table = _cast(table, self.schema)
            self.parquet.write_table(table)
        elif self.suffix == ".csv":
            assert self.file is not None
            flat = frame.with_columns(pl.col("missing").list.join(" "))
            flat.write_csv(self.file, include_header=self.first)
        else:
            assert self.file is not None
            frame.write_ndjson(self.file)
        self.first = False

    def _writer(self, path: Path) -> Any:
        pq = require("pyarrow.parquet", "polars")
        # dictionaries for the few distinct outcomes and input names only: ids are
        # distinct, and trying a dictionary on them costs more than the rest; statistics
        # for the row number only (min/max of ids, outcomes and lists cost about a quarter
        # of the writing, and a screen's result is read whole)
        return pq.ParquetWriter(path, self.schema,
                                use_dictionary=["outcome", "missing.list.element"],
                                write_statistics=[ROW] if ROW in self.schema.names else False)

    def _widen(self, schema: pa.Schema) -> None:
        """Copy the rows written so far into a new partial file of ``schema`` (one batch in
        memory at a time) and write on there."""
        pa = require("pyarrow", "polars")
        pq = require("pyarrow.parquet", "polars")
        self.parquet.close()
        self.parquet = None
        old, self.schema = self.partial, schema
        self.rewrites += 1
        self.partial = self.path.with_name(f".{self.path.name}.partial-{self.rewrites}")
        try:
            self.parquet = self._writer(self.partial)
            for batch in pq.ParquetFile(old).iter_batches():
                self.parquet.write_table(_cast(pa.Table.from_batches([batch]), schema))
        finally:
            old.unlink(missing_ok=True)

    def _shut(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
            self.parquet = None
        if self.file is not None:
            self.file.close()
            self.file = None

    def close(self) -> None:
        """Finish the file and give it its name."""
        self._shut()
        if self.partial.exists():
            self.partial.replace(self.path)

    def discard(self) -> None:
        """After an error: remove what was written."""
        self._shut()
        self.partial.unlink(missing_ok=True)


def _wider(schema: pa.Schema, other: pa.Schema) -> pa.Schema:
    """The schema both chunks fit: a null column takes the other's type, whole numbers
    become decimal (the types ``evaluate_batch`` gives all the records at once); kinds
    that do not mix are ``bad_keep``."""
    pa = require("pyarrow", "polars")
    try:
        return pa.unify_schemas([schema, other], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise _bad_keep() from None


def _bad_keep() -> KoordError:
    return KoordError("a kept field changes its kind of value between chunks (text, "
                      "numbers, …); give it one kind in every record", code="bad_keep")


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    pa = require("pyarrow", "polars")
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise _bad_keep() from None
