"""``test``: run a catalogue's case files (coverage, properties)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from koordrules import Catalog
from koordrules.cli.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    Subparsers,
    catalog_root,
    is_under,
    shown,
)


def _cmd_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.cases import case_files, render_failure, run_suite
    from koordrules.resources import criteria_dir

    root = Path(args.path) if args.path else criteria_dir()
    if not root.exists():
        print(f"{root}: io_error: no such file or directory", file=err)
        return EXIT_PROBLEMS
    where = catalog_root(root, args.catalog)
    catalog = Catalog.scan(where)
    # the catalogue's errors in the files tested (a sub-folder is tested within its catalogue)
    broken = [d for d in catalog.diagnostics if d.severity == "error" and (
        not root.is_dir() or is_under(d.span.file if d.span else d.file, root))]
    for d in broken:
        print(shown(d, args.lang), file=out)
    suite = run_suite(catalog, case_files(root))
    for d in suite.diagnostics:
        print(shown(d, args.lang), file=out)
    failures = suite.failures
    for run in failures:
        out.write(render_failure(run, lang=args.lang))
    targeted = {c.criteria_set.key for c in suite.loaded}
    reports = [c for c in suite.coverage()
               if (is_under(c.criteria_set.file, root) if root.is_dir()
                   else c.criteria_set.key in targeted)]
    incomplete = [c for c in reports if not c.complete]
    require = not args.allow_incomplete_coverage
    if args.coverage or (require and incomplete):
        for report in reports if args.coverage else incomplete:
            print("\n".join(report.lines()), file=out)
    passed = len(suite.results) - len(failures)
    errors = len(broken) + len(suite.diagnostics)
    summary = (f"{len(suite.results)} case(s) in {len(suite.loaded)} file(s): {passed} passed, "
               f"{len(failures)} failed, {errors} error(s)")
    if args.coverage or require:
        summary += f"; full coverage for {len(reports) - len(incomplete)}/{len(reports)} set(s)"
    print(summary, file=err)
    code = EXIT_PROBLEMS if failures or errors else EXIT_OK
    if require and incomplete:
        code = EXIT_PROBLEMS
    if args.properties:
        try:
            from koordrules.testing import run_properties
        except ImportError as ex:
            print(f"--properties needs koordrules.testing and hypothesis "
                  f"(pip install 'koordrules[testing]'): {ex}", file=err)
            return EXIT_USAGE
        sets = [cs for cs in catalog
                if (is_under(cs.file, root) if root.is_dir() else cs.key in targeted)]
        code = max(code, int(run_properties(sets, examples=args.examples, seed=args.seed,
                                            out=out)))
    return code


def register(sub: Subparsers) -> None:
    p = sub.add_parser("test", help="run the test cases (*.cases.yaml) of a catalogue")
    p.add_argument("path", nargs="?", metavar="PATH",
                   help="directory or case file (default: the shipped catalogue)")
    p.add_argument("--catalog", metavar="DIR",
                   help="catalogue the cases run against (default: the nearest folder at or "
                        "above PATH with a criteria.lock, else PATH)")
    p.add_argument("--coverage", action="store_true",
                   help="report, per set, the criterion values and outcomes the cases reach")
    p.add_argument("--require-full-coverage", action="store_true",
                   help="fail (exit 1) when a set's cases do not reach everything (the "
                        "default; kept for scripts)")
    p.add_argument("--allow-incomplete-coverage", action="store_true",
                   help="do not fail when a set's cases leave something unreached (a set "
                        "without cases, a criterion value or an outcome no case reaches)")
    p.add_argument("--lang", choices=("nb", "nn", "en"), default="nb",
                   help="language of the traces shown for failures: nb, nn or en")
    p.add_argument("--properties", action="store_true",
                   help="also check the sets' declared properties with generated records")
    p.add_argument("--examples", type=int, default=200, metavar="N",
                   help="generated records per property (default 200)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="random seed for --properties")
    p.set_defaults(run=_cmd_test)
