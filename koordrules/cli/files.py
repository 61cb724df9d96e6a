"""``check``, ``lock`` and ``schema``: the criteria files themselves."""

from __future__ import annotations

import argparse
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from koordrules import Catalog, KoordError
from koordrules.cli.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    Subparsers,
    catalog_root,
    is_under,
    same_path,
    shown,
)


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    errors = warnings = sets = 0
    for target in args.paths:
        if not Path(target).exists():
            print(f"{target}: io_error: no such file or directory", file=err)
            errors += 1
            continue
        catalog, diagnostics, count = _scan(target, args.catalog)
        diagnostics = _as_errors(diagnostics)
        sets += count
        from koordrules.lock import verify_path

        # a file with errors is fixed first; its lock problems come after that
        broken = {d.span.file if d.span else d.file for d in diagnostics
                  if d.severity == "error"}
        diagnostics = diagnostics + [
            d for d in verify_path(target) if (d.span.file if d.span else d.file) not in broken]
        diagnostics = diagnostics + [d for d in _fhir_diagnostics(target, catalog)
                                     if is_under(d.span.file if d.span else d.file, target)]
        diagnostics = diagnostics + _data_diagnostics(target, catalog)
        diagnostics = diagnostics + _proof_diagnostics(target, catalog, diagnostics, args, err)
        diagnostics = _as_errors(_without_cascades(diagnostics))
        for d in diagnostics:
            if d.severity == "error":
                errors += 1
            elif args.quiet:
                continue
            else:
                warnings += 1
            print(shown(d, args.lang), file=out)
    print(checked_line(sets, errors, warnings, args.lang), file=err)
    return EXIT_PROBLEMS if errors else EXIT_OK


_NEVER_DECIDES = frozenset({"shadowed_rule", "never_true", "always_true", "constant_criterion",
                            "constant_condition"})
"""A rule that can never be chosen, a condition or criterion that is constant: the set loads
(the Python API gives these as warnings, so that ``koordrules verify`` can show a record), but
``check`` reports each as an error: it is a mistake in the file, and exits 1."""


def _as_errors(diagnostics: list[Any]) -> list[Any]:
    return [replace(d, severity="error") if d.code in _NEVER_DECIDES else d
            for d in diagnostics]


_CASCADES = frozenset({"base_has_errors", "unknown_base"})


def _names_file(d: Any, file: str) -> bool:
    """Whether a variant's base message is about ``file``: it gives the file's position, or
    (``unknown_base``, when the base could not be read at all) the set id the file is named
    after (``helse-vest/anbefaling-3.yaml``, ``…/anbefaling-3-1.0.1.yaml``)."""
    if f"({file}:" in d.message:
        return bool(d.code == "base_has_errors")
    if d.code != "unknown_base":
        return False
    path = Path(file)
    stem = re.sub(r"-\d+\.\d+\.\d+$", "", path.name.removesuffix(".yaml"))
    set_id = f"{path.parent.name}/{stem}"
    return re.search(rf"(?<![\w/-]){re.escape(set_id)}(?![\w-])", d.message) is not None


def _without_cascades(diagnostics: list[Any]) -> list[Any]:
    """One mistake, one message: a variant's ``base_has_errors`` is left out when the base's
    own error (or, for a variant of a variant, its base's) is in the same list."""
    covered = {str(d.span.file if d.span else d.file) for d in diagnostics
               if d.severity == "error" and d.code not in _CASCADES}
    cascades = [d for d in diagnostics if d.code in _CASCADES]
    dropped: list[Any] = []
    while True:
        more = [d for d in cascades if not any(d is x for x in dropped)
                and any(_names_file(d, f) for f in covered)]
        if not more:
            break
        dropped += more
        covered |= {str(d.span.file if d.span else d.file) for d in more}
    return [d for d in diagnostics if not any(d is x for x in dropped)]


def checked_line(sets: int, errors: int, warnings: int, lang: str) -> str:
    """The last line of ``check``, in the language of its messages."""
    if lang == "en":
        return f"{sets} set(s) checked: {errors} error(s), {warnings} warning(s)"
    one, many = ("advarsel", "advarsler") if lang == "nb" else ("åtvaring", "åtvaringar")
    verb = "kontrollert" if lang == "nb" else "kontrollerte"
    return f"{sets} sett {verb}: {errors} feil, {warnings} {one if warnings == 1 else many}"


def _scan(target: str, given: str | None) -> tuple[Catalog, list[Any], int]:
    """The catalogue ``target`` belongs to, the problems of the files at or under ``target``
    and the number of sets there: a sub-folder or a file is checked with the sets of its
    whole catalogue around it, so that a variant finds its base in another folder."""
    root = catalog_root(Path(target), given)
    if same_path(root, target) or not is_under(target, root):
        catalog = Catalog.scan(target)
        return catalog, catalog.diagnostics, len(catalog)
    catalog = Catalog.scan(root)
    mine = [d for d in catalog.diagnostics
            if is_under(d.span.file if d.span else d.file, target)]
    return catalog, mine, sum(1 for cs in catalog if is_under(cs.file, target))


def _proof_diagnostics(target: str, catalog: Catalog, found: list[Any],
                       args: argparse.Namespace, err: TextIO) -> list[Any]:
    """Shadowed rules and constant conditions the solver proves, as warnings, for the sets at
    or under ``target`` without errors (needs the ``verify`` extra; without it nothing, and
    with ``--verbose`` a note)."""
    if args.quiet:
        return []
    try:
        from koordrules.verify.lint import proof_warnings
    except KoordError as ex:
        if args.verbose:
            print(f"note: shadowed rules and constant conditions not proved: {ex.message}",
                  file=err)
        return []
    out: list[Any] = []
    for cs in catalog:
        if not is_under(cs.file, target) and not same_path(cs.file or "", target):
            continue
        mine = [d for d in found if same_path((d.span.file if d.span else d.file) or "",
                                              cs.file or "")]
        if any(d.severity == "error" or d.code in _SYNTACTIC for d in mine):
            continue  # one mistake, one message: the checks without z3 have spoken
        known = {(d.code, _subject(d.message)) for d in mine}
        out += proof_warnings(cs, known)
    return out


_SYNTACTIC = frozenset({"dead_rule", "shadowed_rule", "never_true", "always_true",
                        "constant_criterion"})
"""Codes of :mod:`koordrules.check` for the mistakes the proofs also find."""


def _subject(message: str) -> str:
    """The quoted name a syntactic warning is about (``outcome 'x' can never fire``)."""
    parts = message.split("'")
    return parts[1] if len(parts) > 2 else ""


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


def _data_diagnostics(target: str, catalog: Catalog) -> list[Any]:
    """Indicator (``*.indicators.yaml``) and journal-template (``*.journal.yaml``) files under
    ``target``: each read against its schema; names that no set in the catalogue has are
    warnings."""
    from koordrules.indicators import check_indicator_file, indicator_files
    from koordrules.journal import check_journal_file, journal_files

    inputs = {i.name for cs in catalog for i in cs.inputs}
    outcomes = {o.id for cs in catalog for o in cs.outcomes}
    found: list[Any] = []
    for path in indicator_files(target):
        found += check_indicator_file(path, inputs)
    for path in journal_files(target):
        found += check_journal_file(path, outcomes)
    return found


def _cmd_lock(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules.lock import lock_path, update_lock
    from koordrules.resources import criteria_dir

    given = args.catalog or args.dir
    root = catalog_root(Path(given)) if given else criteria_dir()
    if not root.is_dir():
        print(f"{root}: io_error: not a directory", file=err)
        return EXIT_PROBLEMS
    broken = [d for d in Catalog.scan(root).diagnostics if d.severity == "error"]
    if broken:
        for d in broken:
            print(shown(d), file=out)
        print(f"{lock_path(root)}: not written: {len(broken)} error(s) in the catalogue; "
              "fix them first (koordrules check)", file=err)
        return EXIT_PROBLEMS
    update = update_lock(root, force=args.force)
    for d in update.refused:
        print(shown(d), file=out)
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


def _cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from koordrules import schema

    text = schema.dumps(schema.generate(args.which))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=err)
    else:
        out.write(text)
    return EXIT_OK


def register_check(sub: Subparsers) -> None:
    p = sub.add_parser("check", help="check criteria files or directories")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="criteria files or folders; a file or sub-folder is checked within "
                        "its catalogue")
    p.add_argument("--catalog", metavar="DIR",
                   help="the catalogue the paths belong to (default: the nearest folder at "
                        "or above each path with a criteria.lock)")
    p.add_argument("-q", "--quiet", action="store_true", help="show errors only")
    p.add_argument("--lang", choices=("nb", "nn", "en"), default="nb",
                   help="language of the messages: nb (bokmål, the default), nn (nynorsk) or "
                        "en; a message without a Norwegian text is given in English")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also say which checks were not run (the proofs of shadowed rules and "
                        "constant conditions need the verify extra)")
    p.set_defaults(run=_cmd_check)


def register_lock(sub: Subparsers) -> None:
    p = sub.add_parser("lock", help="write the lock file (id@version → content hash)")
    p.add_argument("dir", nargs="?", metavar="DIR",
                   help="a folder of the catalogue: its nearest folder with a criteria.lock "
                        "is locked (default: the shipped catalogue)")
    p.add_argument("--catalog", metavar="DIR", help="the catalogue to lock (same as DIR)")
    p.add_argument("--force", action="store_true",
                   help="accept changed content of locked active/retired versions")
    p.set_defaults(run=_cmd_lock)


def register_schema(sub: Subparsers) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of criteria files or case files")
    p.add_argument("which", nargs="?", choices=("criteria", "cases"), default="criteria",
                   help="which file format (default: criteria)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(run=_cmd_schema)
