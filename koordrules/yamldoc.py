"""Safe YAML reading that keeps positions, for every file format koordrules reads.

Only plain YAML data is accepted: no custom tags (``!!python/object`` …), no anchors or
aliases, no duplicate keys, one document, bounded size. Errors are
:class:`~koordrules.errors.LoadError` with file, line and column. Each value's position is
kept by path, so later checks (schema, expressions) can point into the file.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from koordrules.errors import Diagnostic, LoadError
from koordrules.messages import schema_value, yaml_syntax
from koordrules.span import Span
from koordrules.textguard import describe, find_bidi, find_unsafe

MAX_FILE_BYTES = 2_000_000
MAX_NODES = 50_000
"""Values (scalars, lists, mappings) in one file, counted while the YAML is read."""
MAX_KEYS = 10_000
"""Entries in one mapping, counted while the YAML is read."""
MAX_DEPTH = 100
"""Nesting of lists and mappings."""
MAX_DIGITS = 4_300
"""Digits of an integer (Python's own limit for converting text to a number)."""

_SURROGATE = re.compile("[\ud800-\udfff]")

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
}

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ScalarInfo:
    """Where a scalar's text sits in the file, to map positions inside it back to the file."""

    line: int
    column: int
    style: str | None
    indent: int
    single_line: bool

    def position(self, line: int, column: int) -> tuple[int, int]:
        """File (line, column) of (line, column) inside the scalar's text."""
        if self.style == "|":
            return self.line + line, self.indent + column
        if not self.single_line:
            return self.line, self.column
        quoted = 1 if self.style in ("'", '"') else 0
        return self.line, self.column + quoted + column - 1


@dataclass
class YamlDoc:
    file: str | None
    text: str
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    """Where the key of each mapping entry is (``positions`` has where its value starts)."""
    scalars: dict[Path_, ScalarInfo] = field(default_factory=dict)

    def span(self, path: Path_) -> Span:
        """The span of the value at ``path`` (or of its nearest ancestor that has one)."""
        p = tuple(path)
        while p and p not in self.positions:
            p = p[:-1]
        line, column = self.positions.get(p, (1, 1))
        return Span(file=self.file, line=line, column=column, end_line=line,
                    end_column=column + 1)

    def key_span(self, path: Path_) -> Span:
        """The span of the key that names the entry at ``path`` (else of its value)."""
        if tuple(path) not in self.keys:
            return self.span(path)
        line, column = self.keys[tuple(path)]
        return Span(file=self.file, line=line, column=column, end_line=line,
                    end_column=column + len(str(path[-1])))

    def canonical(self) -> str:
        """The content as canonical JSON: independent of comments, key order and layout."""
        return json.dumps(self.data, sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"), default=str)


def _mark_span(file: str | None, mark: Any) -> Span | None:
    if mark is None:
        return None
    return Span(file=file, line=mark.line + 1, column=mark.column + 1,
                end_line=mark.line + 1, end_column=mark.column + 2)


class _Converter:
    def __init__(self, doc: YamlDoc, raw_keys: Collection[str]) -> None:
        self.doc = doc
        self.raw_keys = raw_keys
        self.constructor = yaml.SafeLoader("")
        self.count = 0
        self.lines = doc.text.splitlines()

    def fail(self, node: yaml.Node, message: str, code: str = "yaml_error") -> LoadError:
        return LoadError(message, span=_mark_span(self.doc.file, node.start_mark), code=code)

    def convert(self, node: yaml.Node, path: Path_, raw: bool = False) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"the file has more than {MAX_NODES} values", "too_large")
        if node.tag not in _SAFE_TAGS:
            raise self.fail(node, f"the tag {node.tag!r} is not allowed", "yaml_tag")
        self.doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "keys must be plain text")
                key = self.text(key_node, key_node.value)
                if key in out:
                    raise self.fail(key_node, f"the key {key!r} appears twice", "duplicate_key")
                self.doc.keys[(*path, key)] = (key_node.start_mark.line + 1,
                                               key_node.start_mark.column + 1)
                out[key] = self.convert(value_node, (*path, key), key in self.raw_keys)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if raw:
            self.record_scalar(node, path)
            return self.text(node, node.value)
        if node.tag.endswith(":int") and sum(c.isdigit() for c in node.value) > MAX_DIGITS:
            raise self.fail(node, f"the number has more than {MAX_DIGITS} digits",
                            "number_too_large")
        try:
            value = self.constructor.construct_object(node, deep=True)
        except ValueError as ex:  # an impossible date (2024-02-30) or number
            what = "date" if node.tag.endswith(":timestamp") else "value"
            raise self.fail(node, f"{node.value!r} is not a valid {what}: {ex}",
                            "yaml_value") from ex
        if isinstance(value, float) and value != value:
            raise self.fail(node, "NaN is not allowed", "yaml_value")
        if isinstance(value, str):
            return self.text(node, value)
        return value

    def text(self, node: yaml.Node, value: str) -> str:
        """``value`` with escaped surrogate pairs joined; an unpaired one is an error, and so
        is a control character written as an escape (``"\\e"``)."""
        unsafe = find_unsafe(value)
        if unsafe is not None:
            raise self.fail(node, f"the text holds {describe(value[unsafe])}, which would "
                            "change how the text is shown; remove it", "unsafe_character")
        if not _SURROGATE.search(value):
            return value
        try:
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            raise self.fail(node, "the text holds an unpaired surrogate escape (\\ud800–"
                            "\\udfff), which is not a character", "yaml_value") from None

    def record_scalar(self, node: yaml.ScalarNode, path: Path_) -> None:
        start, end = node.start_mark, node.end_mark
        indent = 0
        if node.style == "|":
            # the block's indentation is that of its first non-blank line
            body = next((line for line in self.lines[start.line + 1 : end.line + 1]
                         if line.strip()), "")
            indent = len(body) - len(body.lstrip(" "))
        self.doc.scalars[path] = ScalarInfo(
            line=start.line + 1,
            column=start.column + 1,
            style=node.style,
            indent=indent,
            single_line=start.line == end.line,
        )


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, counting values, mapping entries and nesting while it composes
    the node tree, so an oversized file is refused before it is built in memory."""

    def __init__(self, text: str, file: str | None) -> None:
        super().__init__(text)
        self.file = file
        self.nodes = 0
        self.depth = 0

    def refuse(self, message: str, code: str) -> LoadError:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        return LoadError(message, span=_mark_span(self.file, event.start_mark),
                         file=self.file, code=code)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.refuse(f"the file has more than {MAX_NODES} values", "too_large")
        if isinstance(parent, yaml.MappingNode) and index is None \
                and len(parent.value) >= MAX_KEYS:
            raise self.refuse(f"the mapping has more than {MAX_KEYS} entries", "too_large")
        if self.depth >= MAX_DEPTH:
            raise self.refuse(f"the YAML is nested more than {MAX_DEPTH} levels deep",
                              "too_large")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _alias_free(node: yaml.Node) -> None:
    """Reject aliases before conversion (composed aliases share nodes: exponential growth)."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            raise LoadError("anchors and aliases (&, *) are not allowed", code="yaml_alias",
                            span=_mark_span(None, current.start_mark))
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                stack.extend((k, v))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _refuse_bidi(text: str, file: str | None) -> None:
    """A bidirectional control anywhere (comments too) can make the file read differently
    from what it says ("Trojan Source"); refuse it at its position."""
    at = find_bidi(text)
    if at is None:
        return
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    raise LoadError(f"the file holds {describe(text[at])}, which can make the text read "
                    "differently from what it says; remove it",
                    span=Span(file=file, line=line, column=column, end_line=line,
                              end_column=column + 1), file=file, code="unsafe_character")


def parse_yaml(text: str, *, file: str | None = None,
               raw_keys: Collection[str] = ("when",)) -> YamlDoc:
    """Parse YAML text into plain data with positions. Values under ``raw_keys`` stay text."""
    if len(text) > MAX_FILE_BYTES:
        raise LoadError(f"the file is larger than {MAX_FILE_BYTES} characters",
                        file=file, code="too_large")
    text = text.removeprefix("\ufeff")
    _refuse_bidi(text, file)
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text, file)  # the reader checks every character here
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as ex:
        mark = ex.problem_mark or ex.context_mark
        problem = (ex.problem or "invalid YAML").strip()
        lines = text.splitlines()
        key_mark = ex.context_mark if "simple key" in (ex.context or "") else None
        key_line = lines[key_mark.line] if key_mark and key_mark.line < len(lines) else None
        plain = yaml_syntax(problem, "", key_line)
        if plain is not None and key_mark is not None and key_line is not None:
            # a missing ':' shows where the key is, not where PyYAML gave up (lines later)
            word = key_line[key_mark.column:].split(None, 1)
            span = _mark_span(file, key_mark)
            if span is not None and word:
                end = key_mark.column + len(word[0]) + 1
                span = span.model_copy(update={"column": end, "end_column": end + 1})
        else:
            span = _mark_span(file, mark)
        if plain is not None:
            raise LoadError(plain.text, span=span, file=file, code="yaml_error",
                            translations=plain.translations) from ex
        raise LoadError(f"invalid YAML: {problem}", span=span, file=file,
                        code="yaml_error") from ex
    except yaml.reader.ReaderError as ex:  # a control character: no mark, only an offset
        line = text.count("\n", 0, ex.position) + 1
        column = ex.position - text.rfind("\n", 0, ex.position)
        char = ex.character if isinstance(ex.character, int) else ord(ex.character[:1] or " ")
        raise LoadError(f"invalid YAML: the character #x{char:04x} is not allowed",
                        span=Span(file=file, line=line, column=column, end_line=line,
                                  end_column=column + 1),
                        file=file, code="yaml_error") from ex
    except yaml.YAMLError as ex:
        raise LoadError(f"invalid YAML: {ex}", file=file, code="yaml_error") from ex
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise LoadError("the file is empty", file=file, code="empty_file",
                        span=Span(file=file, line=1, column=1, end_line=1, end_column=1))
    try:
        _alias_free(node)
    except LoadError as ex:
        ex.span = ex.span.model_copy(update={"file": file}) if ex.span else None
        ex.file = file
        raise
    doc = YamlDoc(file=file, text=text, data=None)
    try:
        doc.data = _Converter(doc, raw_keys).convert(node, ())
    except yaml.YAMLError as ex:
        raise LoadError(f"invalid YAML value: {ex}", file=file, code="yaml_value") from ex
    return doc


def read_text_file(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A UTF-8 text file (optional BOM) of at most ``max_bytes``, or a :class:`LoadError`."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as ex:
        raise LoadError(f"cannot read the file: {ex.strerror}", file=file,
                        code="io_error") from ex
    if len(raw) > max_bytes:
        raise LoadError(f"the file is larger than {max_bytes} bytes", file=file,
                        code="too_large")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as ex:
        raise LoadError(f"the file is not UTF-8 (byte {ex.start})", file=file,
                        code="encoding_error") from ex


def read_yaml(path: str | Path, *, raw_keys: Collection[str] = ("when",)) -> YamlDoc:
    """Read and parse a YAML file (UTF-8, optional BOM)."""
    return parse_yaml(read_text_file(path), file=str(path), raw_keys=raw_keys)


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of ``model`` and of the models inside it."""
    found: set[str] = set()
    todo: list[Any] = [model]
    seen: set[Any] = set()
    while todo:
        kind = todo.pop()
        if kind in seen:
            continue
        seen.add(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            for name, info in kind.model_fields.items():
                found.add(name)
                todo.append(info.annotation)
        else:
            todo += list(get_args(kind))
    return found


def validate(model: type[M], doc: YamlDoc, at: tuple[str | int, ...] = ()
             ) -> tuple[M | None, list[Diagnostic]]:
    """Validate ``doc.data`` (or the part of it at the path ``at``) against ``model``; every
    schema problem becomes a diagnostic. A misspelt field (``outcom`` for ``outcome``) is one
    problem, not "unknown field" and "missing field": the misspelling with the fix."""
    data: Any = doc.data
    for part in at:
        data = data[part]
    if not isinstance(data, Mapping):
        what = "the file" if not at else "this entry"
        return None, [Diagnostic("error", "schema_error", f"{what} must be a mapping of fields",
                                 doc.span(at), doc.file)]
    try:
        return model.model_validate(data), []
    except ValidationError as ex:
        errors = list(ex.errors())
        missing = {(tuple(e["loc"][:-1]), str(e["loc"][-1])) for e in errors
                   if e["type"] == "missing" and e["loc"]}
        misspelt: dict[tuple[Any, ...], str] = {}
        for e in errors:
            if e["type"] == "extra_forbidden" and e["loc"]:
                parent, name = tuple(e["loc"][:-1]), str(e["loc"][-1])
                close = (difflib.get_close_matches(
                    name, [m for p, m in missing if p == parent], n=1)
                    or difflib.get_close_matches(name, sorted(field_names(model)), n=1,
                                                 cutoff=0.8))
                if close:
                    misspelt[tuple(e["loc"])] = close[0]
        fixed = {(tuple(loc[:-1]), right) for loc, right in misspelt.items()}
        problems = []
        for err in errors:
            if err["type"] == "missing" and err["loc"] and (
                    tuple(err["loc"][:-1]), str(err["loc"][-1])) in fixed:
                continue  # said with the misspelling
            loc = (*at, *(p for p in err["loc"] if isinstance(p, str | int)))
            # drop pydantic's union-branch labels (e.g. "LocalText", "str") from the path
            path: list[str | int] = []
            node: Any = doc.data
            for part in loc:
                in_map = isinstance(node, Mapping) and part in node
                in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
                if in_map or in_list:
                    node = node[part]
                    path.append(part)
                elif err["type"] == "extra_forbidden" and part == loc[-1]:
                    path.append(part)
            where = ".".join(str(p) for p in path) or "file"
            message = err["msg"]
            span = doc.span(tuple(path))
            right = misspelt.get(tuple(err["loc"]))
            if right is not None:
                wrong = str(path[-1])
                problems.append(Diagnostic(
                    "error", "schema_error", f"unknown field {where!r}; did you mean "
                    f"{right!r}?", doc.key_span(tuple(path)), doc.file,
                    (("nb", f"ukjent felt «{where}»; mente du «{right}»? (skriv {right}: "
                            f"i stedet for {wrong}:)"),
                     ("nn", f"ukjent felt «{where}»; meinte du «{right}»? (skriv {right}: "
                            f"i staden for {wrong}:)"))))
                continue
            if err["type"] == "extra_forbidden":
                message = f"unknown field {where!r}"
                span = doc.key_span(tuple(path))  # the key, not its value
            elif err["type"] == "missing":
                message = f"missing field {'.'.join(str(p) for p in loc)!r}"
            else:
                message = f"{where}: {message}"
            plain = schema_value(where, err["type"], err.get("input"))
            if plain is not None:
                problems.append(Diagnostic("error", "schema_error", plain.text, span, doc.file,
                                           tuple(sorted(plain.translations.items()))))
                continue
            problems.append(Diagnostic("error", "schema_error", message, span, doc.file))
        unique = {(d.message, d.span): d for d in problems}
        return None, list(unique.values())
