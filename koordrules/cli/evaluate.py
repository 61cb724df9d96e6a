"""``eval`` and ``sql``: records in, one JSON result per record out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

import koordrules
from koordrules import CriteriaSet, KoordError, Result
from koordrules.cli.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    Subparsers,
    add_record_options,
    record_results,
    resolve_set,
)
from koordrules.cli.impact import add_indicator_options, eval_summary
from koordrules.cli.progress import progress_bar


def _cmd_eval(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    cs = resolve_set(args.set, args.catalog, unlocked=getattr(args, "unlocked", False))
    if args.summary:
        return eval_summary(args, cs, out, err)
    keep = list(dict.fromkeys(args.keep or ()))
    declared = {d.name for d in cs.inputs}
    args.ignore = [*(args.ignore or ()), *(k for k in keep if k not in declared)]
    if getattr(args, "from_fhir", None) and Path(args.input).is_dir() and (
            args.output or args.backend != "python" or args.workers):
        return _eval_export(args, cs, out, err)
    if args.backend != "python" or args.output:
        return _eval_batch(args, cs, out, err)
    failed = 0
    for number, record, result in record_results(args, cs, trace=args.trace, err=err):
        if isinstance(result, Result):
            data = result.to_dict()
            if not args.trace:
                data.pop("trace", None)
            if keep and record is not None:
                data = {"keep": {k: record.get(k) for k in keep}, **data}
            if args.id_field and record is not None and args.id_field in record:
                data = {"record_id": record[args.id_field], **data}
            elif isinstance(number, str):  # a patient of a FHIR Bulk Data export
                data = {"patient": number, **data}
        else:
            failed += 1
            data = {"record": number, "error": {"code": result.code, "message": result.message}}
            print(f"{args.input}: record {number}: {result.code}: {result.message}", file=err)
        print(json.dumps(data, ensure_ascii=False), file=out)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _eval_batch(args: argparse.Namespace, cs: CriteriaSet, out: TextIO, err: TextIO) -> int:
    """``eval --backend polars|duckdb|spark`` or ``-o FILE``: outcome-only rows (no trace),
    streamed in chunks: one JSON line per record with the record's number, its id and kept
    fields (if asked for), the outcome, the criteria and ``missing``; or rows written to
    FILE."""
    if args.trace or getattr(args, "from_fhir", None) or args.input == "-":
        print(f"koordrules eval: --backend {args.backend} and -o take a file and no --trace "
              "or --from-fhir (use --backend python without -o)", file=err)
        return EXIT_USAGE
    keep = list(dict.fromkeys(args.keep or ()))
    program = koordrules.compile(cs)
    if args.backend == "spark":
        return _eval_spark(args, program, keep, out, err)
    from koordrules.backends.stream import RowProblem, evaluate_stream

    names = [c.name for c in cs.criteria]

    def print_rows(frame: Any) -> None:
        for row in frame.iter_rows(named=True):
            data: dict[str, Any] = {"record": row["row"]}
            if args.id_field:
                data["record_id"] = row[args.id_field]
            if keep:
                data["keep"] = {k: row[k] for k in keep}
            data.update({"outcome": row["outcome"], "criteria": {n: row[n] for n in names},
                         "missing": list(row["missing"])})
            print(json.dumps(data, ensure_ascii=False, default=str), file=out)

    def report(problem: RowProblem) -> None:
        print(f"{args.input}: record {problem.row}: {problem.code}: {problem.message}",
              file=err)

    with progress_bar(err) as progress:
        summary = evaluate_stream(
            program, args.input, args.output or print_rows, backend=args.backend,
            strict=not args.lenient, ignore=frozenset(args.ignore or ()),
            id_field=args.id_field, keep=keep, chunk_size=args.chunk_size,
            on_error="raise" if args.stop_on_error else "skip", progress=progress,
            on_problem=report)
    skipped = "".join(f", {code} {n}" for code, n in sorted(summary.skipped_by_code.items()))
    print(f"koordrules eval: {summary.rows} records read, {summary.written} evaluated, "
          f"{summary.skipped} skipped{skipped}", file=err)
    return EXIT_PROBLEMS if summary.skipped else EXIT_OK


def _eval_spark(args: argparse.Namespace, program: Any, keep: list[str], out: TextIO,
                err: TextIO) -> int:
    if args.output:
        print("koordrules eval: with --backend spark, write the result with Spark "
              "(evaluate_batch(..., backend='spark').write.parquet(...)); -o is for the "
              "embedded backends", file=err)
        return EXIT_USAGE
    frame: Any = program.evaluate_batch(
        args.input, backend="spark", strict=not args.lenient,
        ignore=frozenset(args.ignore or ()), id_field=args.id_field, keep=keep)
    names = list(program.criteria_names)
    for number, r in enumerate(frame.toLocalIterator(), start=1):  # rows streamed to here
        row = r.asDict(recursive=True)
        data: dict[str, Any] = {"record": number}
        if args.id_field:
            data["record_id"] = row[args.id_field]
        if keep:
            data["keep"] = {k: row[k] for k in keep}
        data.update({"outcome": row["outcome"], "criteria": {n: row[n] for n in names},
                     "missing": list(row["missing"])})
        print(json.dumps(data, ensure_ascii=False, default=str), file=out)
    return EXIT_OK


def _eval_export(args: argparse.Namespace, cs: CriteriaSet, out: TextIO, err: TextIO) -> int:
    """A FHIR Bulk Data export folder as a cohort: streamed over worker processes
    (:func:`koordrules.fhir.cohort.screen_export`), or on Spark with ``--backend spark``;
    one outcome-only row per patient, printed as JSON lines or written to ``-o FILE``."""
    import datetime as dt

    from koordrules import fhir

    if args.trace:
        print("koordrules eval: an export screened as a cohort has no --trace (leave out -o, "
              "--workers and --backend for full results per patient)", file=err)
        return EXIT_USAGE
    names = [c.name for c in cs.criteria]
    as_of = args.as_of or dt.date.today()

    def line(row: dict[str, Any]) -> str:
        return json.dumps({"patient": row["patient"], "outcome": row["outcome"],
                           "criteria": {n: row[n] for n in names},
                           "missing": list(row["missing"])}, ensure_ascii=False)

    def report(problem: KoordError) -> None:
        print(f"{problem.file or args.input}: {problem.code}: {problem.message}", file=err)

    if args.backend == "spark":
        if args.output:
            print("koordrules eval: with --backend spark, write the result with Spark "
                  "(koordrules.fhir.spark.screen_export_spark(...).rows.write.parquet(...))",
                  file=err)
            return EXIT_USAGE
        from koordrules.fhir.spark import screen_export_spark

        frame, summary = screen_export_spark(
            args.set, args.from_fhir, args.input, as_of=as_of, catalog=args.catalog,
            root=args.catalog, strict=not args.lenient, on_problem=report)
        for r in frame.toLocalIterator():
            print(line(r.asDict(recursive=True)), file=out)
        return _export_done(summary, err)
    from koordrules.fhir.cohort import screen_export

    mapping = fhir.find_mapping(args.from_fhir, root=args.catalog)
    writer: Any = None
    if args.output:
        import polars as pl

        from koordrules.backends.outfile import OutputFile

        writer = OutputFile(Path(args.output))
        schema: dict[str, Any] = {"patient": pl.String, "outcome": pl.String,
                                  **{n: pl.Boolean for n in names},
                                  "missing": pl.List(pl.String)}

    def sink(rows: list[dict[str, Any]]) -> None:
        if writer is not None:
            if rows:
                writer(pl.DataFrame(rows, schema=schema))
            return
        for row in rows:
            print(line(row), file=out)

    try:
        summary = screen_export(cs, mapping, args.input, sink, as_of=as_of,
                                strict=not args.lenient, workers=args.workers,
                                on_problem=report)
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    if writer is not None:
        if not summary.patients:  # no rows: still a valid file, with the rows' columns
            writer(pl.DataFrame([], schema=schema))
        writer.close()
    return _export_done(summary, err)


def _export_done(summary: Any, err: TextIO) -> int:
    """The closing line of an export screen (embedded or on Spark) and the exit code."""
    print(f"koordrules eval: {summary.patients} patients screened, {summary.bad_lines} bad "
          f"lines, {summary.failed} patients not screened, {summary.unassigned} resources "
          "naming no patient of the export", file=err)
    return EXIT_PROBLEMS if summary.bad_lines or summary.failed else EXIT_OK


def _cmd_sql(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.backends.sql import to_sql

    cs = resolve_set(args.set, args.catalog, unlocked=getattr(args, "unlocked", False))
    print(to_sql(cs, dialect=args.dialect, table=args.table, keep=args.keep or ()) + ";",
          file=out)
    return EXIT_OK


def register(sub: Subparsers) -> None:
    p = sub.add_parser("eval", help="evaluate records; one JSON result per record")
    add_record_options(p)
    p.add_argument("--trace", action="store_true", help="include the explanation trace")
    p.add_argument("--summary", action="store_true",
                   help="print outcome counts and shares instead of one result per record "
                        "(fields the set does not declare are ignored)")
    p.add_argument("--backend", choices=("python", "polars", "duckdb", "spark"),
                   default="python",
                   help="python: record by record, streaming (default); polars or duckdb: "
                        "the whole file as one table, no trace; spark: the set's Spark SQL "
                        "on the active (or a local) Spark session")
    p.add_argument("--keep", metavar="FIELD", action="append",
                   help="a field carried into each result as given (a unit, a date of "
                        "admission; repeatable), under \"keep\"; every backend")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write outcome-only rows (row, id, kept fields, outcome, criteria, "
                        "missing) to FILE as they are evaluated: .parquet, .ndjson/.jsonl or "
                        ".csv (from the suffix); polars, duckdb or python")
    p.add_argument("--chunk-size", metavar="N", type=int, default=100_000,
                   help="rows per chunk when streaming (default: 100000); memory grows "
                        "with the chunk, not with the file")
    p.add_argument("--stop-on-error", action="store_true",
                   help="stop at the first record that cannot be read or is invalid "
                        "(default: report it with its number, skip it, go on, exit 1)")
    p.add_argument("--workers", metavar="N", type=int,
                   help="with --from-fhir and an export folder: screen it as a cohort over N "
                        "processes, streamed, one outcome-only row per patient (also with -o "
                        "or --backend; default: the CPUs)")
    p.add_argument("--by", metavar="FIELD", help="with --summary: break down by this field")
    p.add_argument("--flagged", metavar="OUTCOME", action="append",
                   help="with --summary: an outcome that counts as flagged (repeatable; "
                        "default: every outcome except the set's otherwise)")
    add_indicator_options(p)
    p.set_defaults(run=_cmd_eval)


def register_sql(sub: Subparsers) -> None:
    p = sub.add_parser("sql", help="print a set as one SQL query (DuckDB, Spark, PostgreSQL)")
    p.add_argument("set", help="criteria file, or catalogue id (id or id@version)")
    p.add_argument("--dialect", choices=("duckdb", "spark", "postgres"), default="duckdb")
    p.add_argument("--table", default="records",
                   help="the table with one column per input (default: records)")
    p.add_argument("--keep", metavar="COLUMN", action="append",
                   help="a column of the table carried into each result row, first (the "
                        "patient id, a unit; repeatable)")
    p.add_argument("--catalog", metavar="DIR", help="catalogue directory (default: shipped)")
    p.set_defaults(run=_cmd_sql)
