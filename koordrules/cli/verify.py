"""``verify``: prove the properties of criteria sets for every record (the ``verify`` extra)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from koordrules import Catalog, CriteriaSet
from koordrules.cli.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Subparsers,
    catalog_root,
    is_under,
    same_path,
)

if TYPE_CHECKING:
    from koordrules.verify.report import SetReport

CASE_HEADER = """\
# Written by `koordrules verify --write-cases`: one entry per counterexample the proofs found.
# Each pins what the set does now, or (monotonicity, missing) what the declaration claims.
"""


def _selected(args: argparse.Namespace, out: TextIO) -> tuple[list[CriteriaSet],
                                                                list[CriteriaSet], int]:
    """The sets to prove, every set their bases and ``narrows:`` may name, and the number of
    catalogue errors printed."""
    targets: list[CriteriaSet] = []
    pool: list[CriteriaSet] = []
    errors = 0
    if not args.sets:
        catalog = Catalog.load(args.catalog) if args.catalog else Catalog.builtin()
        return list(catalog), [], 0
    for ref in args.sets:
        path = Path(ref)
        if not path.exists():
            catalog = Catalog.load(args.catalog) if args.catalog else Catalog.builtin()
            targets.append(catalog.get(ref))
            pool += catalog
            continue
        catalog = Catalog.scan(catalog_root(path, args.catalog))
        for d in catalog.diagnostics:
            if d.severity == "error" and _inside((d.span.file if d.span else None) or d.file,
                                                 path):
                print(d, file=out)
                errors += 1
        targets += [cs for cs in catalog if _inside(cs.file, path)]
        pool += catalog
    unique: dict[str, CriteriaSet] = {}
    for cs in targets:
        unique.setdefault(cs.key, cs)
    return list(unique.values()), pool, errors


def _inside(file: str | None, path: Path) -> bool:
    """``file`` is ``path`` or lies in the folder ``path``."""
    return is_under(file, path) if path.is_dir() else same_path(file or "", path)


def _file_name(key: str) -> str:
    return key.replace("/", "-").replace("@", "-") + ".verify.cases.yaml"


def _write_cases(reports: list[SetReport], folder: Path, err: TextIO) -> None:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for report in reports:
        cases = [c for p in report.failures for c in p.cases]
        if not cases:
            continue
        path = folder / _file_name(report.key)
        body = yaml.safe_dump({"set": report.key, "cases": cases}, allow_unicode=True,
                              sort_keys=False, width=90)
        path.write_text(CASE_HEADER + "\n" + body, encoding="utf-8")
        print(f"wrote {len(cases)} case(s) to {path}", file=err)


def _cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.verify.report import render_reports, render_summary, verify_sets

    targets, pool, errors = _selected(args, out)
    reports = verify_sets(targets, pool)
    if args.format == "json":
        data = [{"set": r.key, "seconds": round(r.seconds, 3),
                 "proofs": [asdict(p) for p in r.proofs]} for r in reports]
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str), file=out)
    else:
        out.write(render_reports(reports))
    err.write(render_summary(reports))
    if args.write_cases:
        _write_cases(reports, Path(args.write_cases), err)
    failed = any(r.failures for r in reports)
    return EXIT_PROBLEMS if failed or errors else EXIT_OK


def register(sub: Subparsers) -> None:
    p = sub.add_parser("verify", help="prove the sets' properties for every record (z3)")
    p.add_argument("sets", nargs="*", metavar="SET",
                   help="criteria file, folder or catalogue reference (id or id@version); "
                        "default: every set of the shipped catalogue")
    p.add_argument("--catalog", metavar="DIR",
                   help="catalogue the sets, their bases and the sets they narrow are looked "
                        "up in (default: the nearest folder at or above SET with a "
                        "criteria.lock; for a reference, the shipped catalogue)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default) or json: every proof with its counterexample")
    p.add_argument("--write-cases", metavar="DIR",
                   help="write each set's counterexamples as a ready case file "
                        "DIR/<id>-<version>.verify.cases.yaml")
    p.set_defaults(run=_cmd_verify)
