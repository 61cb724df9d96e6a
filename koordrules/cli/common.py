"""What the subcommands share: exit codes, finding a set, reading records, common options."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO, TypeAlias

import koordrules
from koordrules import Catalog, CriteriaSet, KoordError
from koordrules.textguard import escape

# what ``add_subparsers`` returns; each command module's ``register`` takes it
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class SafeStream:
    """A text stream that writes control characters, bidi controls and line separators as
    ``\\uXXXX`` (tabs and newlines pass), so nothing from a file or a record reaches the
    terminal as a command. JSON stays the same data: ``\\uXXXX`` is its own escape."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        return self.inner.write(escape(text))

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def label(value: object) -> str:
    """A record id or other value shown inside a line of text: on one line, escaped."""
    return escape(str(value), one_line=True)


def resolve_set(ref: str, catalog: str | None = None, *, unlocked: bool = False
                ) -> CriteriaSet:
    """A criteria set named by a file path or by a catalogue reference (``id`` or ``id@v``);
    in the shipped catalogue only locked versions, unless ``unlocked``."""
    path = Path(ref)
    if path.is_file():
        return koordrules.load(path)
    cat = Catalog.load(catalog) if catalog else Catalog.builtin(unlocked=unlocked)
    return cat.get(ref)


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def record_results(args: argparse.Namespace, cs: CriteriaSet, *, trace: bool, err: TextIO
                   ) -> Iterator[tuple[Any, Any, Any]]:
    """``(number, record or None, Result or KoordError)`` for each record or FHIR bundle."""
    if getattr(args, "from_fhir", None):
        from koordrules import fhir

        mapping = fhir.find_mapping(args.from_fhir, root=args.catalog)
        for number, item in fhir.evaluate_bundles(cs, mapping, args.input, as_of=args.as_of,
                                                  strict=not args.lenient, trace=trace,
                                                  redact=args.redact):
            yield number, None, item
        return
    ignore = frozenset(args.ignore or ())
    from koordrules.backends import numbered_records

    for number, record in numbered_records(args.input, cs, strict=not args.lenient):
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


def cohort_records(args: argparse.Namespace, sets: list[CriteriaSet], err: TextIO,
                   problems: list[int]) -> Iterator[dict[str, Any]]:
    """The cohort's readable records; each unreadable one is reported and its number kept."""
    from koordrules.impact import read_cohort

    for number, record in read_cohort(args.cohort, sets, strict=not args.lenient):
        if isinstance(record, KoordError):
            problems.append(number)
            where = str(record.span) if record.span else f"{args.cohort}: record {number}"
            print(f"{where}: {record.code}: {record.message}", file=err)
            continue
        yield record


def is_under(path: str | None, root: str | Path) -> bool:
    if path is None:
        return False
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True


def catalog_root(path: Path, given: str | None = None) -> Path:
    """The catalogue ``path`` belongs to: ``given`` (``--catalog``) when set, else the
    nearest folder at or above it with a lock file (as given, so messages keep relative
    paths), else the folder itself (for a file, its folder)."""
    if given:
        return Path(given)
    from koordrules.lock import catalogue_root

    found = catalogue_root(path)
    if found is not None:
        return found
    return path if path.is_dir() else path.parent


_WARNING = {"en": "warning: ", "nb": "advarsel: ", "nn": "åtvaring: "}


def shown(d: Any, lang: str = "en") -> str:
    """A problem as ``file:line:col: code: message`` for the reader: the file as short as it
    can be written from the current folder (``geriatri.yaml``, not ``../x/geriatri.yaml``),
    the message in ``lang`` where it has that text (else in English)."""
    import os

    span = d.span
    where = d.location
    file = span.file if span is not None and span.file else d.file
    if file:
        short = os.path.normpath(file)
        try:
            rel = os.path.relpath(file)
        except ValueError:  # another drive (Windows)
            rel = short
        short = min((short, rel), key=len) if not rel.startswith("..") else short
        where = f"{short}:{span.line}:{span.column}" if span is not None else short
    tag = "" if d.severity == "error" else _WARNING.get(lang, _WARNING["en"])
    return f"{where}: {tag}{d.code}: {d.text(lang)}"


def same_path(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def unknown_field(field: str, seen: set[str]) -> str:
    """The message for ``--by FIELD`` when no record has the field, with the likely one."""
    import difflib

    close = difflib.get_close_matches(field, sorted(seen), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    fields = ", ".join(sorted(seen)) or "none"
    return (f"--by {field}: no record has a field {field!r} (the records have: {fields})"
            + hint)


def add_unlocked_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--unlocked", action="store_true",
                   help="also serve shipped versions the lock does not record (not reviewed); "
                        "every result is marked unreviewed")


def add_record_options(p: argparse.ArgumentParser, *, optional_set: bool = False) -> None:
    p.add_argument("set", help="criteria file, or catalogue id (id or id@version)",
                   nargs="?" if optional_set else None)
    p.add_argument("input", help="records: JSON object/array, JSON lines, CSV, or - for stdin")
    p.add_argument("--catalog", metavar="DIR", help="catalogue directory (default: shipped)")
    add_unlocked_option(p)
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
    p.add_argument("--as-of", metavar="DATE", type=parse_date,
                   help="with --from-fhir: derive the facts as of DATE (default: today)")
