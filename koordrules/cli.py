"""The ``koordrules`` command: check criteria files, evaluate records, explain results.

Exit codes: 0 success; 1 problems found (errors in a criteria file, a record that could not
be evaluated); 2 wrong usage. Messages about files read ``file:line:col: code: message``.
Input values are never written to standard error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import koordrules
from koordrules import Catalog, CriteriaSet, KoordError, Result
from koordrules.explain import render_text
from koordrules.records import read_records

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def resolve_set(ref: str, catalog: str | None = None) -> CriteriaSet:
    """A criteria set named by a file path or by a catalogue reference (``id`` or ``id@v``)."""
    path = Path(ref)
    if path.is_file():
        return koordrules.load(path)
    cat = Catalog.load(catalog) if catalog else Catalog.builtin()
    return cat.get(ref)


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    errors = warnings = sets = 0
    for target in args.paths:
        if not Path(target).exists():
            print(f"{target}: io_error: no such file or directory", file=err)
            errors += 1
            continue
        catalog = Catalog.scan(target)
        sets += len(catalog)
        from koordrules.lock import verify_path

        # a file with errors is fixed first; its lock problems come after that
        broken = {d.span.file if d.span else d.file for d in catalog.diagnostics
                  if d.severity == "error"}
        diagnostics = catalog.diagnostics + [
            d for d in verify_path(target) if (d.span.file if d.span else d.file) not in broken]
        diagnostics = diagnostics + _fhir_diagnostics(target, catalog)
        for d in diagnostics:
            if d.severity == "error":
                errors += 1
            elif args.quiet:
                continue
            else:
                warnings += 1
            print(d, file=out)
    print(f"{sets} set(s) checked: {errors} error(s), {warnings} warning(s)", file=err)
    return EXIT_PROBLEMS if errors else EXIT_OK


def _fhir_diagnostics(target: str, catalog: Catalog) -> list[Any]:
    """Mapping and value set files under ``target``: every FHIRPath parsed, each mapping
    checked against its set (needs the ``fhir`` extra; without it, one warning)."""
    try:
        from koordrules import fhir

        return fhir.check_mapping_files(target, catalog=catalog)
    except KoordError as ex:
        from koordrules.errors import Diagnostic

        return [Diagnostic("warning", ex.code, f"FHIR mappings not checked: {ex.message}",
                           None, target)]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _results(args: argparse.Namespace, cs: CriteriaSet, *, trace: bool, err: TextIO):  # type: ignore[no-untyped-def]
    if getattr(args, "from_fhir", None):
        from koordrules import fhir

        mapping = fhir.find_mapping(args.from_fhir, root=args.catalog)
        for number, item in fhir.evaluate_bundles(cs, mapping, args.input, as_of=args.as_of,
                                                  strict=not args.lenient, trace=trace,
                                                  redact=args.redact):
            yield number, None, item
        return
    ignore = frozenset(args.ignore or ())
    for number, record in read_records(args.input, cs, strict=not args.lenient):
        if isinstance(record, KoordError):
            yield number, None, record
            continue
        try:
            result = koordrules.evaluate(cs, record, strict=not args.lenient, trace=trace,
                                         redact=args.redact, ignore=ignore)
        except KoordError as ex:
            yield number, record, ex
            continue
        yield number, record, result


def _cmd_eval(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    cs = resolve_set(args.set, args.catalog)
    if args.summary:
        return _eval_summary(args, cs, out, err)
    if args.backend != "python":
        return _eval_batch(args, cs, out, err)
    failed = 0
    for number, record, result in _results(args, cs, trace=args.trace, err=err):
        if isinstance(result, Result):
            data = result.to_dict()
            if not args.trace:
                data.pop("trace", None)
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
    """``eval --backend polars|duckdb``: the whole file at once, one JSON line per record
    with the outcome, the criteria and ``missing`` (no trace)."""
    if args.trace or args.id_field or getattr(args, "from_fhir", None) or args.input == "-":
        print(f"koordrules eval: --backend {args.backend} takes a file and no --trace, "
              "--id-field or --from-fhir (use --backend python)", file=err)
        return EXIT_USAGE
    table = koordrules.compile(cs).evaluate_batch(
        args.input, backend=args.backend, strict=not args.lenient,
        ignore=frozenset(args.ignore or ()))
    rows = table.iter_rows(named=True) if hasattr(table, "iter_rows") else iter(table)
    names = [c.name for c in cs.criteria]
    for number, row in enumerate(rows, start=1):
        data = {"record": number, "outcome": row["outcome"],
                "criteria": {n: row[n] for n in names}, "missing": list(row["missing"])}
        print(json.dumps(data, ensure_ascii=False), file=out)
    return EXIT_OK


def _cmd_sql(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.backends.sql import to_sql

    cs = resolve_set(args.set, args.catalog)
    print(to_sql(cs, dialect=args.dialect, table=args.table) + ";", file=out)
    return EXIT_OK


def _explain_html(args: argparse.Namespace, cs: CriteriaSet, out: TextIO, err: TextIO) -> int:
    from koordrules.html import render_results_html

    failed = 0
    results: list[tuple[str | None, Result]] = []
    for number, record, result in _results(args, cs, trace=True, err=err):
        if isinstance(result, Result):
            label = (str(record[args.id_field]) if args.id_field and record is not None
                     and args.id_field in record else str(number))
            results.append((label, result))
        else:
            failed += 1
            print(f"{args.input}: record {number}: {result.code}: {result.message}", file=err)
    page = render_results_html(results, lang=args.lang) if results else ""
    if args.output:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"wrote {args.output}", file=err)
    else:
        out.write(page)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.result is not None and args.format == "html":
        print("koordrules explain: --format html is not available with --result", file=err)
        return EXIT_USAGE
    if args.result is not None or args.set is None:
        return _reexplain(args, out, err)
    cs = resolve_set(args.set, args.catalog)
    if args.format == "html":
        return _explain_html(args, cs, out, err)
    failed = 0
    first = True
    for number, record, result in _results(args, cs, trace=True, err=err):
        if not first:
            print("-" * 72, file=out)
        first = False
        if args.id_field and record is not None and args.id_field in record:
            print(f"record {record[args.id_field]}", file=out)
        if isinstance(result, Result):
            out.write(render_text(result, lang=args.lang))
        else:
            failed += 1
            print(f"{args.input}: record {number}: {result.code}: {result.message}", file=err)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules import schema

    text = schema.dumps(schema.generate(args.which))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=err)
    else:
        out.write(text)
    return EXIT_OK


def _under(path: str | None, root: Path) -> bool:
    if path is None:
        return False
    try:
        Path(path).resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _catalog_root(path: Path) -> Path:
    """A folder's own catalogue; for a file, the nearest folder above it with a lock file
    (else the file's folder), so that variants find their bases."""
    if path.is_dir():
        return path
    from koordrules.lock import LOCK_NAME

    return next((p for p in path.resolve().parents if (p / LOCK_NAME).is_file()), path.parent)


def _cmd_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.cases import case_files, render_failure, run_suite
    from koordrules.resources import criteria_dir

    root = Path(args.path) if args.path else criteria_dir()
    if not root.exists():
        print(f"{root}: io_error: no such file or directory", file=err)
        return EXIT_PROBLEMS
    catalog_root = Path(args.catalog) if args.catalog else _catalog_root(root)
    catalog = Catalog.scan(catalog_root)
    broken = [d for d in catalog.diagnostics if d.severity == "error"]
    for d in broken:
        print(d, file=out)
    suite = run_suite(catalog, case_files(root))
    for d in suite.diagnostics:
        print(d, file=out)
    failures = suite.failures
    for run in failures:
        out.write(render_failure(run, lang=args.lang))
    targeted = {c.criteria_set.key for c in suite.loaded}
    reports = [c for c in suite.coverage()
               if (_under(c.criteria_set.file, root) if root.is_dir()
                   else c.criteria_set.key in targeted)]
    incomplete = [c for c in reports if not c.complete]
    if args.coverage or (args.require_full_coverage and incomplete):
        for report in reports if args.coverage else incomplete:
            print("\n".join(report.lines()), file=out)
    passed = len(suite.results) - len(failures)
    errors = len(broken) + len(suite.diagnostics)
    summary = (f"{len(suite.results)} case(s) in {len(suite.loaded)} file(s): {passed} passed, "
               f"{len(failures)} failed, {errors} error(s)")
    if args.coverage or args.require_full_coverage:
        summary += f"; full coverage for {len(reports) - len(incomplete)}/{len(reports)} set(s)"
    print(summary, file=err)
    code = EXIT_PROBLEMS if failures or errors else EXIT_OK
    if args.require_full_coverage and incomplete:
        code = EXIT_PROBLEMS
    if args.properties:
        try:
            from koordrules.testing import run_properties
        except ImportError as ex:
            print(f"--properties needs koordrules.testing and hypothesis "
                  f"(pip install 'koordrules[testing]'): {ex}", file=err)
            return EXIT_USAGE
        sets = [cs for cs in catalog
                if (_under(cs.file, root) if root.is_dir() else cs.key in targeted)]
        code = max(code, int(run_properties(sets, examples=args.examples, seed=args.seed,
                                            out=out)))
    return code


def _cohort(args: argparse.Namespace, sets: list[CriteriaSet], err: TextIO,
            problems: list[int]) -> Iterator[dict[str, Any]]:
    from koordrules.impact import read_cohort

    for number, record in read_cohort(args.cohort, sets, strict=not args.lenient):
        if isinstance(record, KoordError):
            problems.append(number)
            where = str(record.span) if record.span else f"{args.cohort}: record {number}"
            print(f"{where}: {record.code}: {record.message}", file=err)
            continue
        yield record


def _cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.impact import diff, render_impact

    old = resolve_set(args.old, args.catalog)
    new = resolve_set(args.new, args.catalog)
    unreadable: list[int] = []
    report = diff(old, new, _cohort(args, [old, new], err, unreadable), by=args.by,
                  id_field=args.id_field, flagged=args.flagged, strict=not args.lenient)
    if args.format == "json":
        print(report.model_dump_json(indent=2), file=out)
    elif args.format == "html":
        from koordrules.html import render_diff_html

        out.write(render_diff_html(report, lang=getattr(args, "lang", "nb"),
                                   limit=max(args.limit, 50)))
    else:
        out.write(render_impact(report, limit=args.limit))
    return EXIT_PROBLEMS if unreadable or report.problems else EXIT_OK


def _eval_summary(args: argparse.Namespace, cs: CriteriaSet, out: TextIO, err: TextIO) -> int:
    from koordrules.impact import render_summary, summarize

    args.cohort = args.input
    unreadable: list[int] = []
    summary = summarize(cs, _cohort(args, [cs], err, unreadable), by=args.by,
                        id_field=args.id_field, flagged=args.flagged, strict=not args.lenient)
    out.write(render_summary(summary))
    return EXIT_PROBLEMS if unreadable or summary.problems else EXIT_OK


def _reexplain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.audit import read_stored, verify_decision, verify_result
    from koordrules.lock import stored_set

    if args.result is None or args.set is not None:
        print("koordrules explain: give either SET INPUT, or --result STORED INPUT",
              file=err)
        return EXIT_USAGE
    key = Path(args.key_file).read_bytes().strip() if args.key_file else None
    catalog = Catalog.load(args.catalog) if args.catalog else Catalog.builtin()
    stored = read_stored(args.result)
    if stored and stored[0].result is not None and stored[0].result.mapping is not None:
        return _reexplain_fhir(args, catalog, stored, out, err)
    by_id = {s.ident: s for s in stored if s.ident is not None}
    try:
        sets = {s.criteria_set.sha256: stored_set(catalog, s.criteria_set) for s in stored}
    except koordrules.CatalogError as ex:
        ex.file = args.result
        raise
    first_set = sets[stored[0].criteria_set.sha256]
    ignore = frozenset(args.ignore or ())
    failed = 0
    first = True
    for number, record in read_records(args.input, first_set, strict=not args.lenient):
        if not first:
            print("-" * 72, file=out)
        first = False
        if isinstance(record, KoordError):
            failed += 1
            print(f"{args.input}: record {number}: {record.code}: {record.message}", file=err)
            continue
        rid = record.get(args.id_field) if args.id_field else None
        if len(stored) == 1:
            previous = stored[0]
        elif rid is not None and str(rid) in by_id:
            previous = by_id[str(rid)]
        else:
            failed += 1
            print(f"{args.input}: record {number}: no_stored_result: no stored result for this "
                  "record (give --id-field matching the stored record_id)", file=err)
            continue
        cs = sets[previous.criteria_set.sha256]
        try:
            if previous.entry is not None:
                result = verify_decision(previous.entry, cs, record, key=key,
                                         ignore=ignore, redact=args.redact)
            else:
                assert previous.result is not None
                result = verify_result(previous.result, cs, record, strict=not args.lenient,
                                       ignore=ignore)
                if args.redact and not (result.trace and result.trace.redacted):
                    result = koordrules.evaluate(cs, record, strict=not args.lenient,
                                                 redact=True, ignore=ignore)
                elif result.trace is None:
                    result = koordrules.evaluate(cs, record, strict=not args.lenient,
                                                 ignore=ignore)
        except KoordError as ex:
            failed += 1
            print(f"{args.input}: record {number}: {ex.code}: {ex.message}", file=err)
            continue
        if rid is not None:
            print(f"record {rid}", file=out)
        print(f"Re-explained under {cs.key}, the version the stored result names; every "
              "stored field verified (sha256 of the set included).", file=out)
        out.write(render_text(result, lang=args.lang))
    return EXIT_PROBLEMS if failed else EXIT_OK


def _reexplain_fhir(args: argparse.Namespace, catalog: Catalog, stored: list[Any],
                    out: TextIO, err: TextIO) -> int:
    """``explain --result`` for results derived from FHIR bundles: the bundles (in the order
    of the stored results) are derived again with exactly the stored mapping and as-of date."""
    from koordrules import fhir
    from koordrules.lock import stored_set

    failed = 0
    items = list(fhir.iter_json_items(args.input))
    if len(items) != len(stored):
        print(f"{args.input}: {len(items)} bundle(s) for {len(stored)} stored result(s); "
              "give the bundles in the order of the stored results", file=err)
        return EXIT_PROBLEMS
    for i, ((number, data), previous) in enumerate(zip(items, stored, strict=True)):
        if i:
            print("-" * 72, file=out)
        try:
            res = previous.result
            if res is None or res.mapping is None:
                raise koordrules.InputError("this stored result was not derived from FHIR",
                                            code="not_from_fhir")
            cs = stored_set(catalog, res.criteria_set)
            mapping = fhir.stored_mapping(res.mapping, root=args.catalog)
            if isinstance(data, KoordError):
                raise data
            result = fhir.reexplain(res, cs, mapping, data)
        except KoordError as ex:
            failed += 1
            print(f"{args.input}: bundle {number}: {ex.code}: {ex.message}", file=err)
            continue
        print(f"Re-explained under {cs.key} and the FHIR mapping {mapping.key} as of "
              f"{res.mapping.as_of}, the versions the stored result names; every stored field "
              "verified (sha256 of the set and of the mapping included).", file=out)
        out.write(render_text(result, lang=args.lang))
    return EXIT_PROBLEMS if failed else EXIT_OK


def _cmd_lock(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.lock import lock_path, update_lock
    from koordrules.resources import criteria_dir

    root = Path(args.dir) if args.dir else criteria_dir()
    if not root.is_dir():
        print(f"{root}: io_error: not a directory", file=err)
        return EXIT_PROBLEMS
    broken = [d for d in Catalog.scan(root).diagnostics if d.severity == "error"]
    if broken:
        for d in broken:
            print(d, file=out)
        print(f"{lock_path(root)}: not written: {len(broken)} error(s) in the catalogue; "
              "fix them first (koordrules check)", file=err)
        return EXIT_PROBLEMS
    update = update_lock(root, force=args.force)
    for d in update.refused:
        print(d, file=out)
    if update.refused:
        print(f"{update.path}: not written: {len(update.refused)} locked version(s) changed; "
              "give them new versions (or use --force)", file=err)
        return EXIT_PROBLEMS
    state = "written" if update.written else "unchanged"
    print(f"{update.path}: {state}; {len(update.added)} added, {len(update.updated)} updated",
          file=err)
    for key in update.added:
        print(f"added {key}", file=out)
    for key in update.updated:
        print(f"updated {key}", file=out)
    return EXIT_OK


def _add_record_options(p: argparse.ArgumentParser, *, optional_set: bool = False) -> None:
    p.add_argument("set", help="criteria file, or catalogue id (id or id@version)",
                   nargs="?" if optional_set else None)
    p.add_argument("input", help="records: JSON object/array, JSON lines, CSV, or - for stdin")
    p.add_argument("--catalog", metavar="DIR", help="catalogue directory (default: shipped)")
    p.add_argument("--redact", action="store_true", help="leave input values out of traces")
    p.add_argument("--lenient", action="store_true",
                   help="treat invalid values and unknown fields as unknown, with a warning")
    p.add_argument("--id-field", metavar="FIELD",
                   help="record field that identifies the record (not an input)")
    p.add_argument("--ignore", metavar="FIELD", action="append",
                   help="record field that is not an input (repeatable)")
    p.add_argument("--from-fhir", metavar="MAPPING",
                   help="INPUT holds FHIR R4 Bundles (one, a JSON array, or JSON lines), or "
                        "is a FHIR Bulk Data export folder (NDJSON per resource type); "
                        "MAPPING is a *.mapping.yaml file or a mapping id in the catalogue")
    p.add_argument("--as-of", metavar="DATE", type=_date,
                   help="with --from-fhir: derive the facts as of DATE (default: today)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="koordrules",
        description="Declarative, explainable criteria for who needs a care coordinator.")
    parser.add_argument("--version", action="version",
                        version=f"koordrules {koordrules.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="check criteria files or directories")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="show errors only")
    p.set_defaults(run=_cmd_check)

    p = sub.add_parser("eval", help="evaluate records; one JSON result per record")
    _add_record_options(p)
    p.add_argument("--trace", action="store_true", help="include the explanation trace")
    p.add_argument("--summary", action="store_true",
                   help="print outcome counts and shares instead of one result per record "
                        "(fields the set does not declare are ignored)")
    p.add_argument("--backend", choices=("python", "polars", "duckdb"), default="python",
                   help="python: record by record, streaming (default); polars or duckdb: "
                        "the whole file as one table, no trace")
    p.add_argument("--by", metavar="FIELD", help="with --summary: break down by this field")
    p.add_argument("--flagged", metavar="OUTCOME", action="append",
                   help="with --summary: an outcome that counts as flagged (repeatable; "
                        "default: every outcome except the set's otherwise)")
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("explain", help="evaluate records and explain each in plain text")
    _add_record_options(p, optional_set=True)
    p.add_argument("--lang", choices=("nb", "en"), default="nb")
    p.add_argument("--result", metavar="STORED",
                   help="re-explain under exactly the set version a stored result (JSON from "
                        "eval, or a decision record log) was made with, after checking "
                        "every stored field; give no SET")
    p.add_argument("--key-file", metavar="FILE",
                   help="with --result: the key the decision records were signed with "
                        "(HMAC-SHA256); a signed record is not accepted without it")
    p.add_argument("--format", choices=("text", "html"), default="text",
                   help="html: one self-contained page (decision tree, inputs, what is missing)")
    p.add_argument("-o", "--output", metavar="FILE", help="with --format html: write to FILE")
    p.set_defaults(run=_cmd_explain)

    p = sub.add_parser("test", help="run the test cases (*.cases.yaml) of a catalogue")
    p.add_argument("path", nargs="?", metavar="PATH",
                   help="directory or case file (default: the shipped catalogue)")
    p.add_argument("--catalog", metavar="DIR",
                   help="catalogue the cases run against (default: PATH; for a file, the "
                        "nearest folder above it with a criteria.lock)")
    p.add_argument("--coverage", action="store_true",
                   help="report, per set, the criterion values and outcomes the cases reach")
    p.add_argument("--require-full-coverage", action="store_true",
                   help="fail (exit 1) when a set's cases do not reach everything")
    p.add_argument("--lang", choices=("nb", "en"), default="nb",
                   help="language of the traces shown for failures")
    p.add_argument("--properties", action="store_true",
                   help="also check the sets' declared properties with generated records")
    p.add_argument("--examples", type=int, default=200, metavar="N",
                   help="generated records per property (default 200)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="random seed for --properties")
    p.set_defaults(run=_cmd_test)

    p = sub.add_parser("diff", help="revision impact: a cohort under two sets or versions")
    p.add_argument("old", metavar="OLD", help="criteria file or catalogue id@version")
    p.add_argument("new", metavar="NEW", help="criteria file or catalogue id@version")
    p.add_argument("cohort", metavar="COHORT", help="records: JSON, JSON lines or CSV")
    p.add_argument("--catalog", metavar="DIR", help="catalogue directory (default: shipped)")
    p.add_argument("--by", metavar="FIELD", help="break the figures down by this record field")
    p.add_argument("--id-field", metavar="FIELD", help="record field naming changed records")
    p.add_argument("--flagged", metavar="OUTCOME", action="append",
                   help="an outcome that counts as flagged (repeatable; default: every "
                        "outcome except each set's otherwise)")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="changed records listed in text output (default 20)")
    p.add_argument("--lenient", action="store_true",
                   help="treat invalid values as unknown instead of leaving the record out")
    p.set_defaults(run=_cmd_diff)

    p = sub.add_parser("lock", help="write the lock file (id@version → content hash)")
    p.add_argument("dir", nargs="?", metavar="DIR",
                   help="catalogue directory (default: the shipped catalogue)")
    p.add_argument("--force", action="store_true",
                   help="accept changed content of locked active/retired versions")
    p.set_defaults(run=_cmd_lock)

    p = sub.add_parser("sql", help="print a set as one SQL query (DuckDB, Spark, PostgreSQL)")
    p.add_argument("set", help="criteria file, or catalogue id (id or id@version)")
    p.add_argument("--dialect", choices=("duckdb", "spark", "postgres"), default="duckdb")
    p.add_argument("--table", default="records",
                   help="the table with one column per input (default: records)")
    p.add_argument("--catalog", metavar="DIR", help="catalogue directory (default: shipped)")
    p.set_defaults(run=_cmd_sql)

    p = sub.add_parser("schema", help="print the JSON Schema of criteria files or case files")
    p.add_argument("which", nargs="?", choices=("criteria", "cases"), default="criteria",
                   help="which file format (default: criteria)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(run=_cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as ex:
        return int(ex.code or 0)
    if args.command in ("eval", "explain") and args.id_field:
        args.ignore = [*(args.ignore or ()), args.id_field]
    try:
        return int(args.run(args, out, err))
    except KoordError as ex:
        print(str(ex), file=err)
        return EXIT_PROBLEMS
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
