"""Reading patient records from files: a JSON object or array, JSON lines, or CSV.

Records stream one at a time (a large cohort is never held in memory: a JSON array is read
element by element). A record that cannot be read is yielded as an
:class:`~koordrules.errors.InputError` in its place, with its line number, so one bad record
never hides the others. Refused with a typed error, never a foreign exception:

- text that is not UTF-8, or a JSON ``"\\ud800"`` escape that pairs with nothing;
- a key that appears twice in a JSON object, a column that appears twice in a CSV header;
- an integer of more than :data:`MAX_DIGITS` digits, ``NaN`` and ``Infinity``;
- nesting deeper than :data:`MAX_DEPTH`, a JSON line longer than :data:`MAX_LINE`, a JSON
  record longer than :data:`MAX_RECORD`, a CSV cell longer than the csv module's limit;
- a CSV row with fewer or more cells than the header.

In a JSON array, a record that cannot be decoded (nested past Python's recursion limit,
longer than :data:`MAX_RECORD`, broken inside) is skipped over without decoding it, so the
records after it are still read; only text that ends inside a record, or broken syntax
between records, ends the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from koordrules import ast
from koordrules.errors import InputError
from koordrules.inputs import record_from_text
from koordrules.span import Span

MAX_LINE = 1_000_000
"""Characters in one line of a JSON lines file."""
MAX_RECORD = 1_000_000
"""Characters in one record of a JSON file."""
MAX_DEPTH = 32
"""Nesting of objects and lists inside one record."""
MAX_DIGITS = 4_300
"""Digits of one integer (Python's own limit for converting text to a number)."""
CHUNK = 1 << 20
"""How much of a JSON file is read at a time."""

Item = tuple[int, "dict[str, Any] | InputError"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACE = re.compile(r"[ \t\n\r]*")
# the tokens of a JSON value being skipped: outside a string a run of plain characters, a
# quote or one of , [ ] { }; inside a string a run of characters and escapes, or the quote
_SKIP = re.compile(r'[^",\[\]{}]+|[",\[\]{}]')
_SKIP_STRING = re.compile(r'[^"\\]+|\\.|"', re.S)


class _Invalid:
    """Put in place of a JSON value that must not be used; the record becomes an error."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Invalid:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            return _Invalid(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _int(text: str) -> int | _Invalid:
    if len(text) > MAX_DIGITS:
        return _Invalid(f"a number has more than {MAX_DIGITS} digits")
    return int(text)


def _constant(text: str) -> _Invalid:
    return _Invalid(f"{text} is not a JSON number")


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_int=_int,
                            parse_constant=_constant)


def _flaw(value: Any) -> str | None:
    """Why a decoded value must not be used as a record (``None``: it may)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, _Invalid):
            return current.reason
        if isinstance(current, str):
            if _SURROGATE.search(current):
                return ("the record holds text that is not valid UTF-8 (or an unpaired "
                        "surrogate escape such as \\ud800)")
            continue
        if isinstance(current, dict | list):
            if depth >= MAX_DEPTH:
                return f"the record is nested more than {MAX_DEPTH} levels deep"
            items = [*current.keys(), *current.values()] if isinstance(current, dict) \
                else current
            stack.extend((item, depth + 1) for item in items)
    return None


def _at(file: str, line: int) -> Span:
    return Span(file=file, line=line, column=1, end_line=line, end_column=1)


def _record(value: Any, name: str, line: int, what: str) -> dict[str, Any] | InputError:
    if isinstance(value, _Invalid | dict):
        flaw = _flaw(value)
        if flaw is not None:
            return InputError(flaw, span=_at(name, line), code="bad_record")
        assert isinstance(value, dict)
        return value
    return InputError(f"{what} is not a JSON object", span=_at(name, line), code="bad_record")


def _stdin() -> IO[str]:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # already text (tests replace sys.stdin with a StringIO)
        return sys.stdin
    return io.TextIOWrapper(buffer, encoding="utf-8-sig", errors="surrogateescape",
                            newline="")


def _open(source: str | Path) -> tuple[IO[str], str]:
    if str(source) == "-":
        return _stdin(), "<stdin>"
    try:
        # undecodable bytes become surrogates, refused record by record (see _flaw)
        return (open(source, encoding="utf-8-sig", errors="surrogateescape", newline=""),
                str(source))
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
        except (json.JSONDecodeError, RecursionError):
            return "jsonl", io.StringIO(text)
    return "csv", io.StringIO(text)


class _JsonStream:
    """A JSON text read a chunk at a time; ``line`` counts the newlines already dropped."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.text = ""
        self.pos = 0
        self.line = 1
        self.eof = False
        self.mark = 0  # newlines in text[:mark] are counted in mark_lines (each counted once)
        self.mark_lines = 0

    def line_at(self, pos: int | None = None) -> int:
        pos = self.pos if pos is None else pos
        if pos < self.mark:
            return self.line + self.text.count("\n", 0, pos)
        self.mark_lines += self.text.count("\n", self.mark, pos)
        self.mark = pos
        return self.line + self.mark_lines

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = self.handle.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.line = self.line_at(max(self.pos, self.mark))
        self.line -= self.text.count("\n", self.pos, self.mark)
        self.text = self.text[self.pos:] + chunk
        self.pos, self.mark, self.mark_lines = 0, 0, 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            match = _SPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def skip(self) -> int | None:
        """Move past the value at ``pos`` without decoding it, however deep or long, keeping
        no more than a chunk in memory; its length in characters back, or ``None`` when the
        text ends first."""
        depth, length, in_string = 0, 0, False
        while True:
            match = (_SKIP_STRING if in_string else _SKIP).match(self.text, self.pos)
            if match is None:  # the end of the chunk (or an escape cut by it)
                if not self.more():
                    return None
                continue
            token = match.group()
            if not in_string and depth == 0 and token in (",", "]", "}"):
                return length  # the value ended before this token
            self.pos = match.end()
            length += len(token)
            if token == '"':
                in_string = not in_string
                if not in_string and depth == 0:
                    return length
            elif in_string:
                continue
            elif token in ("[", "{"):
                depth += 1
            elif token in ("]", "}"):
                depth -= 1
                if depth == 0:
                    return length
            # a plain run at depth 0 (a number, true, …) goes on to the next , or ]

    def value(self) -> Any:
        """The next JSON value; raises ``json.JSONDecodeError``, ``RecursionError`` or
        :class:`InputError` (too large)."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
                if end < len(self.text) or self.eof:  # a number may go on in the next chunk
                    self.pos = end
                    return value
            except json.JSONDecodeError:
                if self.eof:
                    raise
            if len(self.text) - self.pos > MAX_RECORD:
                raise InputError(f"a record is longer than {MAX_RECORD} characters",
                                 code="too_large")
            self.more()


def _json_records(handle: IO[str], name: str) -> Iterator[Item]:
    stream = _JsonStream(handle)
    number = 0
    try:
        first = stream.peek()
        if first == "{":
            number = 1
            line = stream.line_at()
            yield 1, _record(stream.value(), name, line, "the file")
        elif first == "[":
            stream.pos += 1
            while True:
                if stream.peek() == "]" and number == 0:
                    stream.pos += 1
                    break
                number += 1
                item, whole = _array_item(stream, name, number)
                yield number, item
                if not whole:  # the file ended inside this record: its error is the last
                    return
                after = stream.peek()
                stream.pos += 1
                if after == "]":
                    break
                if after != ",":
                    raise json.JSONDecodeError("Expecting ',' delimiter", stream.text,
                                               stream.pos - 1)
        else:
            raise json.JSONDecodeError("Expecting a JSON object or array", stream.text,
                                       stream.pos)
        if stream.peek() != "":
            raise json.JSONDecodeError("Extra data", stream.text, stream.pos)
    except json.JSONDecodeError as ex:
        yield max(number, 1), InputError(f"invalid JSON: {ex.msg}",
                                         span=_at(name, stream.line_at(ex.pos)),
                                         code="bad_json")
    except RecursionError:
        yield max(number, 1), InputError(
            f"record {max(number, 1)} is nested too deeply", span=_at(name, stream.line_at()),
            code="bad_record")
    except InputError as ex:
        ex.span, ex.file = _at(name, stream.line_at()), name
        yield max(number, 1), ex


def _array_item(stream: _JsonStream, name: str,
                number: int) -> tuple[dict[str, Any] | InputError, bool]:
    """Record ``number`` of a JSON array, and whether the stream is past its end. A record
    that cannot be decoded (nested too deeply, longer than :data:`MAX_RECORD`, broken inside)
    is skipped over as a whole and its error comes back, so the records after it are read."""
    what = f"record {number}"
    line = stream.line_at()
    try:
        return _record(stream.value(), name, line, what), True
    except RecursionError:
        error = InputError(f"{what} is nested too deeply", span=_at(name, line),
                           code="bad_record")
    except json.JSONDecodeError as ex:
        error = InputError(f"invalid JSON: {ex.msg}", span=_at(name, stream.line_at(ex.pos)),
                           code="bad_json")
    except InputError as ex:  # too long so far: broken inside, or longer than MAX_RECORD
        error = ex
    length = stream.skip()
    if error.code == "too_large":
        if length is not None and length <= MAX_RECORD:
            error = InputError(f"invalid JSON inside {what}", code="bad_json")
        error.span, error.file = _at(name, line), name
    # read on only where the skipped record ends where a record may end: one error per mistake
    return error, length is not None and stream.peek() in (",", "]")


def _lines(handle: IO[str]) -> Iterator[tuple[str, bool]]:
    """Each line, and whether it fits in :data:`MAX_LINE` (an overlong one is not kept)."""
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) <= MAX_LINE or line.endswith("\n"):
            yield line, len(line) <= MAX_LINE
            continue
        while line and not line.endswith("\n"):  # skip the rest of the overlong line
            line = handle.readline(MAX_LINE)
        yield "", False


def _jsonl_records(handle: IO[str], name: str) -> Iterator[Item]:
    for number, (line, fits) in enumerate(_lines(handle), start=1):
        if not fits:
            yield number, InputError(f"the line is longer than {MAX_LINE} characters",
                                     span=_at(name, number), code="too_large")
            continue
        if not line.strip():
            continue
        try:
            value = _DECODER.decode(line)
        except json.JSONDecodeError as ex:
            yield number, InputError(f"invalid JSON: {ex.msg}", span=_at(name, number),
                                     code="bad_json")
            continue
        except RecursionError:
            yield number, InputError("the line is nested too deeply", span=_at(name, number),
                                     code="bad_record")
            continue
        yield number, _record(value, name, number, "the line")


def _csv_records(handle: IO[str], name: str, cs: ast.CriteriaSet,
                 strict: bool) -> Iterator[Item]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as ex:
        yield 1, InputError(f"the header cannot be read: {ex}", span=_at(name, 1),
                            code="bad_csv")
        return
    repeated = sorted({h for h in header if header.count(h) > 1})
    flaw = _flaw(header)
    if repeated or flaw:
        message = flaw or ("the header names the column " + ", ".join(map(repr, repeated))
                           + " more than once")
        yield 1, InputError(message, span=_at(name, 1), code="bad_csv")
        return
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as ex:
            end = reader.line_num
            yield start, InputError(f"the row cannot be read: {ex}", span=_at(name, start),
                                    code="bad_csv")
            continue
        end = reader.line_num
        if not row:
            continue
        problem = _flaw(row)
        if problem is None and len(row) != len(header):
            problem = (f"the row has {len(row)} cells but the header has {len(header)} "
                       "columns")
        if problem is not None:
            yield start, InputError(problem, span=_at(name, start), code="bad_csv")
            continue
        try:
            yield start, record_from_text(cs, dict(zip(header, row, strict=True)),
                                          strict=strict)
        except InputError as ex:
            ex.span, ex.file = _at(name, start), name
            yield start, ex


def read_records(source: str | Path, cs: ast.CriteriaSet, *,
                 strict: bool = True) -> Iterator[Item]:
    """Yield ``(number, record)`` for each record in ``source`` (``"-"`` is standard input);
    a record that cannot be read comes as ``(number, InputError)``. ``number`` is the line
    (JSON lines, CSV) or the position in the array (JSON). CSV cells are typed by the set's
    input declarations."""
    handle, name = _open(source)
    try:
        kind, stream = _format(handle, name)
        if kind == "json":
            yield from _json_records(stream, name)
        elif kind == "jsonl":
            yield from _jsonl_records(stream, name)
        else:
            yield from _csv_records(stream, name, cs, strict)
    finally:
        if name != "<stdin>":
            handle.close()
        elif isinstance(handle, io.TextIOWrapper) and handle is not sys.stdin:
            handle.detach()  # leave standard input itself open
