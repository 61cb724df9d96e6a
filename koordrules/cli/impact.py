"""``diff`` and ``eval --summary``: a cohort's figures under one or two sets."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from koordrules import CriteriaSet
from koordrules.cli.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    Subparsers,
    add_unlocked_option,
    cohort_records,
    resolve_set,
    unknown_field,
)
from koordrules.indicators import IndicatorFile

if TYPE_CHECKING:
    from koordrules.verify.changes import ChangeProof


def _cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.impact import diff, render_impact

    if args.cohort is None and not args.prove:
        print("diff: COHORT is needed unless --prove is given", file=err)
        return EXIT_USAGE
    if args.prove and args.format == "html":
        print("diff: --prove prints text or json, not html", file=err)
        return EXIT_USAGE
    catalog = args.catalog or _file_catalog(args.old, args.new)
    old = resolve_set(args.old, catalog, unlocked=args.unlocked)
    new = resolve_set(args.new, catalog, unlocked=args.unlocked)
    proof = _prove(old, new, args, out, err) if args.prove else None
    if args.cohort is None:
        return EXIT_OK if proof is None or proof.decided else EXIT_PROBLEMS
    unreadable: list[int] = []
    fields: set[str] = set()
    records = _seen(cohort_records(args, [old, new], err, unreadable), fields)
    report = diff(old, new, records, by=args.by, id_field=args.id_field,
                  flagged=args.flagged, strict=not args.lenient,
                  indicators=indicator_file(args))
    if args.by and args.by not in fields and report.total:
        print(unknown_field(args.by, fields), file=err)
        return EXIT_PROBLEMS
    if args.format == "json" and proof is not None:
        print(json.dumps({"proof": _proof_json(proof), "impact": json.loads(
            report.model_dump_json())}, ensure_ascii=False, indent=2), file=out)
    elif args.format == "json":
        print(report.model_dump_json(indent=2), file=out)
    elif args.format == "html":
        from koordrules.html import render_diff_html

        out.write(render_diff_html(report, lang=args.lang, limit=max(args.limit, 50),
                                   sets=(old, new)))
    else:
        out.write(render_impact(report, limit=args.limit, lang=args.lang,
                                width=args.width or _width(out), sets=(old, new)))
    return EXIT_PROBLEMS if unreadable or report.problems else EXIT_OK


def _prove(old: CriteriaSet, new: CriteriaSet, args: argparse.Namespace, out: TextIO,
           err: TextIO) -> ChangeProof:
    """``--prove``: every change of outcome between the two sets, over every record."""
    from koordrules.verify.changes import prove_changes, render_changes

    proof = prove_changes(old, new)
    if args.cohort is None and args.format == "json":
        print(json.dumps(_proof_json(proof), ensure_ascii=False, indent=2), file=out)
    elif args.format != "json":
        out.write(render_changes(proof))
        if args.cohort is not None:
            out.write("\n")
    print(f"proved in {proof.seconds:.2f} s", file=err)
    return proof


def _proof_json(proof: ChangeProof) -> dict[str, Any]:
    data = asdict(proof)
    data["equivalent"] = proof.equivalent
    return data


def eval_summary(args: argparse.Namespace, cs: CriteriaSet, out: TextIO, err: TextIO) -> int:
    from koordrules.impact import render_summary, summarize

    args.cohort = args.input
    unreadable: list[int] = []
    fields: set[str] = set()
    summary = summarize(cs, _seen(cohort_records(args, [cs], err, unreadable), fields),
                        by=args.by, id_field=args.id_field, flagged=args.flagged,
                        strict=not args.lenient, indicators=indicator_file(args))
    if args.by and args.by not in fields and summary.distribution.total:
        print(unknown_field(args.by, fields), file=err)
        return EXIT_PROBLEMS
    out.write(render_summary(summary))
    return EXIT_PROBLEMS if unreadable or summary.problems else EXIT_OK


def indicator_file(args: argparse.Namespace) -> IndicatorFile | None:
    """``--indicators FILE``, else the catalogue's active indicator file (``--catalog``),
    else the shipped one; ``None`` with ``--no-indicators``."""
    from koordrules.indicators import builtin_indicators, indicator_files, load_indicators

    if args.no_indicators:
        return None
    if args.indicators:
        return load_indicators(args.indicators)
    if getattr(args, "catalog", None):
        local = [f for f in map(load_indicators, indicator_files(args.catalog))
                 if f.status == "active"]
        if local:
            return local[-1]
    return builtin_indicators()


def add_indicator_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--indicators", metavar="FILE",
                   help="the indicator file (*.indicators.yaml) whose indicators are shown "
                        "per unit (default: the catalogue's, else the shipped "
                        "helse-vest/indikatorar)")
    p.add_argument("--no-indicators", action="store_true",
                   help="leave the indicators out")


def _width(out: TextIO) -> int:
    """The terminal's width when writing to one, else 80 columns."""
    import shutil

    isatty = getattr(out, "isatty", None)
    return shutil.get_terminal_size().columns if isatty is not None and isatty() else 80


def _file_catalog(*refs: str) -> str | None:
    """For ``diff FILE ID``: the catalogue the file belongs to (its nearest criteria.lock)."""
    from koordrules.lock import catalogue_root

    for ref in refs:
        if Path(ref).is_file():
            root = catalogue_root(ref)
            if root is not None:
                return str(root)
    return None


def _seen(records: Iterable[dict[str, Any]], fields: set[str]) -> Iterator[dict[str, Any]]:
    """The records unchanged; the names of their fields are collected in ``fields``."""
    for record in records:
        fields.update(record)
        yield record


def register(sub: Subparsers) -> None:
    p = sub.add_parser("diff", help="revision impact: a cohort under two sets or versions")
    p.add_argument("old", metavar="OLD", help="criteria file or catalogue id@version")
    p.add_argument("new", metavar="NEW", help="criteria file or catalogue id@version")
    p.add_argument("cohort", metavar="COHORT", nargs="?",
                   help="records: JSON, JSON lines or CSV (optional with --prove)")
    p.add_argument("--catalog", metavar="DIR",
                   help="catalogue directory (default: the catalogue of OLD or NEW when one "
                        "is a file in a folder with a criteria.lock, else the shipped one)")
    add_unlocked_option(p)
    p.add_argument("--by", metavar="FIELD",
                   help="break the figures down by this record field (an error when no "
                        "record has it)")
    p.add_argument("--id-field", metavar="FIELD", help="record field naming changed records")
    p.add_argument("--flagged", metavar="OUTCOME", action="append",
                   help="an outcome that counts as flagged (repeatable; default: every "
                        "outcome except each set's otherwise)")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("--lang", choices=("nb", "nn", "en"), default="nb",
                   help="language of the text and HTML report: nb (bokmål, the default), nn "
                        "or en; outcomes are named by their titles in that language")
    p.add_argument("--width", type=int, default=None, metavar="COLUMNS",
                   help="fit the text to this many columns (default: the terminal's width, "
                        "80 when not writing to a terminal)")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="changed records listed in text output (default 20)")
    p.add_argument("--lenient", action="store_true",
                   help="treat invalid values as unknown instead of leaving the record out")
    add_indicator_options(p)
    p.add_argument("--prove", action="store_true",
                   help="prove, over every record (no cohort needed), which changes of "
                        "outcome the new version makes, each with the smallest record that "
                        "makes it, or that the two are equivalent (the verify extra: z3)")
    p.set_defaults(run=_cmd_diff)
