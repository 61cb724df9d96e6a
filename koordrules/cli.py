"""The ``koordrules`` command: check criteria files, evaluate records, explain results.

Exit codes: 0 success; 1 problems found (errors in a criteria file, a record that could not
be evaluated); 2 wrong usage. Messages about files read ``file:line:col: code: message``.
Input values are never written to standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

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
        for d in catalog.diagnostics:
            if d.severity == "error":
                errors += 1
            elif args.quiet:
                continue
            else:
                warnings += 1
            print(d, file=out)
    print(f"{sets} set(s) checked: {errors} error(s), {warnings} warning(s)", file=err)
    return EXIT_PROBLEMS if errors else EXIT_OK


def _results(args: argparse.Namespace, cs: CriteriaSet, *, trace: bool, err: TextIO):  # type: ignore[no-untyped-def]
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
    failed = 0
    for number, record, result in _results(args, cs, trace=args.trace, err=err):
        if isinstance(result, Result):
            data = result.to_dict()
            if not args.trace:
                data.pop("trace", None)
            if args.id_field and record is not None and args.id_field in record:
                data = {"record_id": record[args.id_field], **data}
        else:
            failed += 1
            data = {"record": number, "error": {"code": result.code, "message": result.message}}
            print(f"{args.input}: record {number}: {result.code}: {result.message}", file=err)
        print(json.dumps(data, ensure_ascii=False), file=out)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    cs = resolve_set(args.set, args.catalog)
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


def _cmd_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.cases import case_files, render_failure, run_suite
    from koordrules.resources import criteria_dir

    root = Path(args.path) if args.path else criteria_dir()
    if not root.exists():
        print(f"{root}: io_error: no such file or directory", file=err)
        return EXIT_PROBLEMS
    catalog_root = Path(args.catalog) if args.catalog else (root if root.is_dir() else root.parent)
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


def _add_record_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("set", help="criteria file, or catalogue id (id or id@version)")
    p.add_argument("input", help="records: JSON object/array, JSON lines, CSV, or - for stdin")
    p.add_argument("--catalog", metavar="DIR", help="catalogue directory (default: shipped)")
    p.add_argument("--redact", action="store_true", help="leave input values out of traces")
    p.add_argument("--lenient", action="store_true",
                   help="treat invalid values and unknown fields as unknown, with a warning")
    p.add_argument("--id-field", metavar="FIELD",
                   help="record field that identifies the record (not an input)")
    p.add_argument("--ignore", metavar="FIELD", action="append",
                   help="record field that is not an input (repeatable)")


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
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("explain", help="evaluate records and explain each in plain text")
    _add_record_options(p)
    p.add_argument("--lang", choices=("nb", "en"), default="nb")
    p.set_defaults(run=_cmd_explain)

    p = sub.add_parser("test", help="run the test cases (*.cases.yaml) of a catalogue")
    p.add_argument("path", nargs="?", metavar="PATH",
                   help="directory or case file (default: the shipped catalogue)")
    p.add_argument("--catalog", metavar="DIR",
                   help="catalogue the cases run against (default: PATH, or its folder)")
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
