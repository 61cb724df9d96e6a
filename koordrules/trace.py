"""The explanation trace: structured data recorded during evaluation.

A :class:`Trace` holds, for each criterion and each outcome rule tried, a tree of
:class:`TraceNode` s mirroring the expression: source text, span, value and the inputs read.
Tracers receive enter/exit events from the evaluator; :class:`NullTracer` ignores them at no
cost, :class:`BufferTracer` builds the tree. Rendering to text lives in :mod:`koordrules.explain`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import PurePath
from types import MappingProxyType
from typing import Literal, NamedTuple, Protocol, TypeAlias

from koordrules import ast
from koordrules.resources import criteria_dir
from koordrules.span import Span
from koordrules.values import Value, to_json

RefKind = Literal["input", "parameter", "criterion"]
REDACTED = "<redacted>"

TraceValue: TypeAlias = "bool | int | float | str | tuple[TraceValue, ...] | None"
"""A value as a trace shows it: JSON scalars, dates as ISO text, lists as tuples."""


class TraceNode(NamedTuple):
    """One evaluated sub-expression. Immutable: safe to share between results."""

    kind: str
    text: str
    span: Span | None = None
    value: TraceValue = None
    """The value in JSON form (``None`` = unknown; lists as tuples)."""
    ref: str | None = None
    """For a name: ``input``, ``parameter`` or ``criterion``."""
    inputs: Mapping[str, TraceValue] | None = None
    """The input values this sub-expression read, sorted by name (``None`` when redacted);
    a read-only mapping."""
    children: tuple[TraceNode, ...] = ()


class CriterionTrace(NamedTuple):
    """A criterion's value, its sentence and the trace of its expression."""

    name: str
    title: ast.LocalText
    value: bool | None
    sentence: ast.LocalText
    origin: str | None
    expression: TraceNode


class RuleTrace(NamedTuple):
    """An outcome rule that was tried (``otherwise`` has no expression)."""

    outcome: str
    title: ast.LocalText
    value: bool | None
    chosen: bool
    origin: str | None = None
    expression: TraceNode | None = None


class ParameterTrace(NamedTuple):
    """A parameter's value as used, the file it came from (a base or a variant), and whether
    the value is the source's (``from_source``) or a local choice."""

    name: str
    value: TraceValue
    unit: str | None = None
    origin: str | None = None
    from_source: bool | None = None
    """``True``: the value is in the quoted source; ``False``: a local choice; ``None``: not
    known (a stored result written before traces recorded it)."""


class ReadingTrace(NamedTuple):
    """A criterion the set reads in its own way where the source leaves it open: the local
    choice, as the file states it (not patient data: never redacted)."""

    criterion: str
    text: ast.LocalText
    origin: str | None = None


class Trace(NamedTuple):
    """The explanation of one result: every criterion, the rules tried, the outcome sentence
    and the parameters used. Immutable (tuples and read-only mappings)."""

    criteria: tuple[CriterionTrace, ...]
    rules: tuple[RuleTrace, ...]
    sentence: ast.LocalText
    redacted: bool = False
    parameters: tuple[ParameterTrace, ...] = ()
    """Every parameter of the set with its value and origin (not patient data: never redacted)."""
    local_readings: tuple[ReadingTrace, ...] = ()
    """The criteria the set reads as a local choice (``local_reading`` in the file)."""


EMPTY_READS: Mapping[str, TraceValue] = MappingProxyType({})


def trace_value(value: Value) -> TraceValue:
    """A value in the form a trace holds it: :func:`~koordrules.values.to_json`, with lists
    as tuples (so a trace is immutable all the way down)."""
    if isinstance(value, tuple):
        return tuple(trace_value(v) for v in value)
    found = to_json(value)
    return found  # type: ignore[return-value]


def frozen_reads(reads: Mapping[str, TraceValue]) -> Mapping[str, TraceValue]:
    """A read-only copy of ``reads``, sorted by name."""
    return MappingProxyType(dict(sorted(reads.items()))) if reads else EMPTY_READS


@functools.lru_cache(maxsize=1024)
def portable_file(file: str | None) -> str | None:
    """A criteria file's name as a trace shows it: never an absolute install path.

    A shipped file is shown as ``criteria/<path in the catalogue>``, any other absolute path
    by its folder and name (``rules/x.yaml``); a relative name stays as it is."""
    if file is None:
        return None
    path = PurePath(file)
    if not path.is_absolute():
        return path.as_posix()
    try:
        return "criteria/" + path.relative_to(criteria_dir()).as_posix()
    except ValueError:
        return PurePath(*path.parts[-2:]).as_posix()


@functools.lru_cache(maxsize=8192)
def portable_span(span: Span | None) -> Span | None:
    """``span`` with :func:`portable_file` applied to its file."""
    if span is None or span.file is None:
        return span
    file = portable_file(span.file)
    return span if file == span.file else span.model_copy(update={"file": file})


class Tracer(Protocol):
    def enter(self, node: ast.Expr) -> None: ...

    def exit(self, node: ast.Expr, value: Value, ref: RefKind | None = None) -> None: ...


class NullTracer:
    """Records nothing."""

    __slots__ = ()

    def enter(self, node: ast.Expr) -> None:
        pass

    def exit(self, node: ast.Expr, value: Value, ref: RefKind | None = None) -> None:
        pass


NULL_TRACER = NullTracer()


class BufferTracer:
    """Builds a :class:`TraceNode` tree per evaluated root expression.

    Call :meth:`start` with the root's source text, evaluate, then :meth:`finish` to get the
    tree. ``criterion_inputs`` gives each finished criterion's reads, so a reference to a
    criterion reports the inputs behind it.
    """

    def __init__(self, *, redact: bool = False) -> None:
        self.redact = redact
        self.criterion_inputs: dict[str, Mapping[str, TraceValue]] = {}
        self._source = ""
        self._stack: list[list[TraceNode]] = [[]]

    def start(self, source: str) -> None:
        self._source = source
        self._stack = [[]]

    def enter(self, node: ast.Expr) -> None:
        self._stack.append([])

    def exit(self, node: ast.Expr, value: Value, ref: RefKind | None = None) -> None:
        kids = tuple(self._stack.pop())
        span = node.span
        text = self._source[span.start : span.end] if span else ""
        reads: dict[str, TraceValue] = {}
        for kid in kids:
            if kid.inputs:
                reads.update(kid.inputs)
        if ref == "input" and isinstance(node, ast.Name):
            reads[node.name] = trace_value(value)
        elif ref == "criterion" and isinstance(node, ast.Name):
            reads.update(self.criterion_inputs.get(node.name, {}))
        shown = trace_value(value)
        patient_data = ref == "input" or bool(reads)
        if self.redact and patient_data and not (value is None or isinstance(value, bool)):
            shown = REDACTED
        self._stack[-1].append(TraceNode(node.kind, text, portable_span(span), shown, ref,
                                         frozen_reads(reads), kids))

    def finish(self, name: str | None = None) -> TraceNode:
        """The tree of the root just evaluated; remember its reads under ``name``."""
        root = self._stack[0][-1]
        if name is not None:
            self.criterion_inputs[name] = root.inputs or {}
        return _redacted(root) if self.redact else root


def _redacted(node: TraceNode) -> TraceNode:
    return node._replace(inputs=None, children=tuple(_redacted(k) for k in node.children))


def parameter_traces(cs: ast.CriteriaSet) -> tuple[ParameterTrace, ...]:
    """The set's parameters as the trace reports them: name, value, unit, origin and whether
    the value is from the source or a local choice."""
    return tuple(ParameterTrace(p.name, trace_value(p.value), p.unit, p.origin, p.from_source)
                 for p in cs.parameters)


def reading_traces(cs: ast.CriteriaSet) -> tuple[ReadingTrace, ...]:
    """The set's local readings of criteria, in the order of the criteria."""
    return tuple(ReadingTrace(c.name, c.local_reading, c.origin) for c in cs.criteria
                 if c.local_reading is not None)


def readings_list(readings: tuple[ReadingTrace, ...]) -> list[dict[str, object]]:
    """The JSON-ready list of local readings (shared by every evaluator)."""
    return [{"criterion": r.criterion, "text": r.text.model_dump(mode="json"),
             "origin": r.origin} for r in readings]


# --- the JSON form ---------------------------------------------------------------------------


def _json_value(value: TraceValue) -> object:
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


@functools.lru_cache(maxsize=8192)
def _span_json(span: Span) -> str:
    return json.dumps(span.model_dump(mode="json"), ensure_ascii=False)


def span_dict(span: Span | None) -> dict[str, object] | None:
    if span is None:
        return None
    found: dict[str, object] = json.loads(_span_json(span))
    return found


def node_dict(node: TraceNode) -> dict[str, object]:
    """The JSON-ready dict of a node and its sub-tree."""
    return {
        "kind": node.kind, "text": node.text, "span": span_dict(node.span),
        "value": _json_value(node.value), "ref": node.ref,
        "inputs": None if node.inputs is None
        else {k: _json_value(v) for k, v in node.inputs.items()},
        "children": [node_dict(k) for k in node.children],
    }


def trace_dict(trace: Trace) -> dict[str, object]:
    """The JSON-ready dict of a trace (what :meth:`Result.to_dict` puts under ``trace``)."""
    return {
        "criteria": [{"name": c.name, "title": c.title.model_dump(mode="json"),
                      "value": c.value, "sentence": c.sentence.model_dump(mode="json"),
                      "origin": c.origin, "expression": node_dict(c.expression)}
                     for c in trace.criteria],
        "rules": [{"outcome": r.outcome, "title": r.title.model_dump(mode="json"),
                   "value": r.value, "chosen": r.chosen, "origin": r.origin,
                   "expression": None if r.expression is None else node_dict(r.expression)}
                  for r in trace.rules],
        "sentence": trace.sentence.model_dump(mode="json"),
        "redacted": trace.redacted,
        "parameters": [{"name": p.name, "value": _json_value(p.value), "unit": p.unit,
                        "origin": p.origin, "from_source": p.from_source}
                       for p in trace.parameters],
        "local_readings": readings_list(trace.local_readings),
    }
