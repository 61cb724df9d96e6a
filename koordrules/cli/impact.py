"""``diff`` and ``eval --summary``: a cohort's figures under one or two sets."""

from __future__ import annotations

import argparse
from typing import TextIO

from koordrules import CriteriaSet
from koordrules.cli.common import EXIT_OK, EXIT_PROBLEMS, Subparsers, cohort_records, resolve_set


def _cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.impact import diff, render_impact

    old = resolve_set(args.old, args.catalog)
    new = resolve_set(args.new, args.catalog)
    unreadable: list[int] = []
    report = diff(old, new, cohort_records(args, [old, new], err, unreadable), by=args.by,
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


def eval_summary(args: argparse.Namespace, cs: CriteriaSet, out: TextIO, err: TextIO) -> int:
    from koordrules.impact import render_summary, summarize

    args.cohort = args.input
    unreadable: list[int] = []
    summary = summarize(cs, cohort_records(args, [cs], err, unreadable), by=args.by,
                        id_field=args.id_field, flagged=args.flagged, strict=not args.lenient)
    out.write(render_summary(summary))
    return EXIT_PROBLEMS if unreadable or summary.problems else EXIT_OK


def register(sub: Subparsers) -> None:
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
