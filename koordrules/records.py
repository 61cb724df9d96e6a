"""Reading patient records from files: a JSON object or array, JSON lines, or CSV.

Records stream one at a time (a large cohort is never held in memory). A line or row that
cannot be read is yielded as a :class:`~koordrules.errors.InputError` in its place, with its
line number, so one bad record never hides the others.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from koordrules import ast
from koordrules.errors import InputError
from koordrules.inputs import record_from_text
from koordrules.span import Span

MAX_LINE = 1_000_000

Item = tuple[int, "dict[str, Any] | InputError"]


def _at(file: str, line: int) -> Span:
    return Span(file=file, line=line, column=1, end_line=line, end_column=1)


def _open(source: str | Path) -> tuple[IO[str], str]:
    if str(source) == "-":
        return sys.stdin, "<stdin>"
    try:
        return open(source, encoding="utf-8-sig", newline=""), str(source)
    except OSError as ex:
        raise InputError(f"cannot read {source}: {ex.strerror}", file=str(source),
                         code="io_error") from ex


def _format(handle: IO[str], name: str) -> tuple[str, IO[str]]:
    """The file's format, from its name, or else from its content (standard input)."""
    lower = name.lower()
    for kind, suffixes in (("csv", (".csv",)), ("jsonl", (".jsonl", ".ndjson")),
                           ("json", (".json",))):
        if lower.endswith(suffixes):
            return kind, handle
    text = handle.read()
    start = text.lstrip()[:1]
    if start == "[":
        return "json", io.StringIO(text)
    if start == "{":
        try:
            json.loads(text)
            return "json", io.StringIO(text)
        except json.JSONDecodeError:
            return "jsonl", io.StringIO(text)
    return "csv", io.StringIO(text)


def _json_objects(value: Any, name: str) -> Iterator[Item]:
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield i, item
        else:
            yield i, InputError(f"record {i} is not a JSON object", file=name,
                                code="bad_record")


def read_records(source: str | Path, cs: ast.CriteriaSet, *,
                 strict: bool = True) -> Iterator[Item]:
    """Yield ``(number, record)`` for each record in ``source`` (``"-"`` is standard input);
    a record that cannot be read comes as ``(number, InputError)``. CSV cells are typed by
    the set's input declarations."""
    handle, name = _open(source)
    try:
        kind, stream = _format(handle, name)
        if kind == "json":
            try:
                value = json.load(stream)
            except json.JSONDecodeError as ex:
                yield 1, InputError(f"invalid JSON: {ex.msg}", span=_at(name, ex.lineno),
                                    code="bad_json")
                return
            yield from _json_objects(value, name)
        elif kind == "jsonl":
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                if len(line) > MAX_LINE:
                    yield number, InputError("the line is too long", span=_at(name, number),
                                             code="too_large")
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as ex:
                    yield number, InputError(f"invalid JSON: {ex.msg}", span=_at(name, number),
                                             code="bad_json")
                    continue
                if isinstance(value, dict):
                    yield number, value
                else:
                    yield number, InputError("the line is not a JSON object",
                                             span=_at(name, number), code="bad_record")
        else:
            reader = csv.DictReader(stream)
            for number, row in enumerate(reader, start=2):
                if None in row:
                    yield number, InputError("the row has more cells than the header",
                                             span=_at(name, number), code="bad_csv")
                    continue
                try:
                    yield number, record_from_text(cs, row, strict=strict)
                except InputError as ex:
                    ex.span, ex.file = _at(name, number), name
                    yield number, ex
    finally:
        if handle is not sys.stdin:
            handle.close()
