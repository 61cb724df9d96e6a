"""``explain``: results in plain words (text or HTML), and re-explaining stored results."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

import koordrules
from koordrules import Catalog, CriteriaSet, KoordError, Result
from koordrules.cli.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    Subparsers,
    add_record_options,
    label,
    record_results,
    resolve_set,
)
from koordrules.explain import LANGUAGES, render_text
from koordrules.records import read_records


def _explain_html(args: argparse.Namespace, cs: CriteriaSet, out: TextIO, err: TextIO) -> int:
    from koordrules.html import render_results_html

    failed = 0
    results: list[tuple[str | None, Result]] = []
    for number, record, result in record_results(args, cs, trace=True, err=err):
        if isinstance(result, Result):
            name = (label(record[args.id_field]) if args.id_field and record is not None
                    and args.id_field in record else str(number))
            results.append((name, result))
        else:
            failed += 1
            print(f"{args.input}: record {number}: {result.code}: {result.message}", file=err)
    page = render_results_html(results, lang=args.lang, criteria_set=cs) if results else ""
    if args.output:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"wrote {args.output}", file=err)
    else:
        out.write(page)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _journal(args: argparse.Namespace, cs: CriteriaSet, result: Result) -> str:
    """``--journal``: the journal note of a decided result (UndecidedError otherwise)."""
    import datetime as dt

    from koordrules.journal import journal_note, load_journal_template, render_journal

    template = load_journal_template(args.journal_template) if args.journal_template else None
    when = dt.datetime.fromisoformat(args.assessed_at) if args.assessed_at else None
    return render_journal(journal_note(result, cs, template=template, lang=args.lang,
                                       assessed_at=when))


def _cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.journal and (args.result is not None or args.format == "html"):
        print("koordrules explain: --journal is not available with --result or --format html",
              file=err)
        return EXIT_USAGE
    if args.result is not None and args.format == "html":
        print("koordrules explain: --format html is not available with --result", file=err)
        return EXIT_USAGE
    if args.result is not None or args.set is None:
        return _reexplain(args, out, err)
    cs = resolve_set(args.set, args.catalog, unlocked=getattr(args, "unlocked", False))
    if args.format == "html":
        return _explain_html(args, cs, out, err)
    failed = 0
    first = True
    for number, record, result in record_results(args, cs, trace=True, err=err):
        if not first:
            print("-" * 72, file=out)
        first = False
        if args.id_field and record is not None and args.id_field in record:
            print(f"record {label(record[args.id_field])}", file=out)
        if isinstance(result, Result) and args.journal:
            try:
                out.write(_journal(args, cs, result))
            except koordrules.UndecidedError as ex:
                failed += 1
                print(f"{args.input}: record {number}: {ex.code}: {ex.message}", file=err)
        elif isinstance(result, Result):
            out.write(render_text(result, lang=args.lang, criteria_set=cs,
                                  verbose=args.verbose))
            if args.what_if and record is not None:
                out.write(_what_if(args, cs, record, result))
        else:
            failed += 1
            print(f"{args.input}: record {number}: {result.code}: {result.message}", file=err)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _what_if(args: argparse.Namespace, cs: CriteriaSet, record: dict[str, Any],
             result: Result) -> str:
    """``--what-if``: the smallest changes of inputs that give another outcome (decided), or
    which answers to the missing inputs lead to which outcome (undetermined)."""
    from koordrules.errors import NotEncodableError
    from koordrules.inputs import validate_record
    from koordrules.verify.whatif import render_alternatives, what_would_change

    values, _ = validate_record(cs, record, strict=not args.lenient,
                                ignore=frozenset(args.ignore or ()))
    pinned = set(args.pin or ())
    if args.pin_data:
        pinned |= {d.name for d in cs.inputs if d.kind == "data"}
    try:
        alternatives = what_would_change(cs, values, pinned=pinned)
    except NotEncodableError as ex:
        return f"(--what-if: {ex.message})\n"
    return render_alternatives(cs, alternatives, decided=result.outcome is not None,
                               lang=args.lang)


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
            print(f"record {label(rid)}", file=out)
        print(f"Re-explained under {cs.key}, the version the stored result names; every "
              "stored field verified (sha256 of the set included).", file=out)
        out.write(render_text(result, lang=args.lang, criteria_set=cs, verbose=args.verbose))
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
        out.write(render_text(result, lang=args.lang, criteria_set=cs, verbose=args.verbose))
    return EXIT_PROBLEMS if failed else EXIT_OK


def register(sub: Subparsers) -> None:
    p = sub.add_parser("explain", help="evaluate records and explain each in plain text")
    add_record_options(p, optional_set=True)
    p.add_argument("--lang", choices=LANGUAGES, default="nb",
                   help="language of the explanation: nb (bokmål), nn (nynorsk) or en; a text "
                        "the criteria file lacks in nn or en is shown in bokmål, and the "
                        "explanation says so")
    p.add_argument("--verbose", action="store_true",
                   help="add a technical section: code names, expressions with their values, "
                        "the rules tried and positions in the criteria files")
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
    p.add_argument("--journal", action="store_true",
                   help="print the journal note of each decided result (what the coordinator "
                        "procedure says is documented, and the discharge-summary lines) "
                        "instead of the explanation; an undecided record is an error")
    p.add_argument("--journal-template", metavar="FILE",
                   help="with --journal: a local template (*.journal.yaml) instead of the "
                        "shipped one")
    p.add_argument("--assessed-at", metavar="TIME",
                   help="with --journal: the time of the assessment (ISO, e.g. "
                        "2026-12-03T10:30), written in the note")
    p.add_argument("--what-if", action="store_true",
                   help="text: after each explanation, the smallest changes of inputs that "
                        "would give another outcome, or for an undetermined result which "
                        "answers to the missing inputs lead to which outcome (the verify "
                        "extra: z3)")
    p.add_argument("--pin", metavar="INPUT", action="append",
                   help="with --what-if: an input that must keep its value (repeatable)")
    p.add_argument("--pin-data", action="store_true",
                   help="with --what-if: keep every kind: data input (facts from the record "
                        "system) as it is; change only judgements")
    p.set_defaults(run=_cmd_explain)
