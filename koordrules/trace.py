"""The explanation trace: structured data recorded during evaluation.

A :class:`Trace` holds, for each criterion and each outcome rule tried, a tree of
:class:`TraceNode` s mirroring the expression: source text, span, value and the inputs read.
Tracers receive enter/exit events from the evaluator; :class:`NullTracer` ignores them at no
cost, :class:`BufferTracer` builds the tree. Rendering to text lives in :mod:`koordrules.explain`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from koordrules import ast
from koordrules.span import Span
from koordrules.values import JSONValue, Value, to_json

RefKind = Literal["input", "parameter", "criterion"]
REDACTED = "<redacted>"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TraceNode(_Frozen):
    """One evaluated sub-expression."""

    kind: str
    text: str
    span: Span | None = None
    value: Any = None
    """The value in JSON form (``None`` = unknown)."""
    ref: str | None = None
    """For a name: ``input``, ``parameter`` or ``criterion``."""
    inputs: dict[str, Any] | None = None
    """The input values this sub-expression read (``None`` when redacted)."""
    children: tuple[TraceNode, ...] = ()


class CriterionTrace(_Frozen):
    name: str
    title: ast.LocalText
    value: bool | None
    sentence: ast.LocalText
    origin: str | None = None
    expression: TraceNode


class RuleTrace(_Frozen):
    """An outcome rule that was tried (``otherwise`` has no expression)."""

    outcome: str
    title: ast.LocalText
    value: bool | None
    chosen: bool
    origin: str | None = None
    expression: TraceNode | None = None


class ParameterTrace(_Frozen):
    """A parameter's value as used, and the file it came from (a base or a variant)."""

    name: str
    value: Any
    unit: str | None = None
    origin: str | None = None


class Trace(_Frozen):
    criteria: tuple[CriterionTrace, ...]
    rules: tuple[RuleTrace, ...]
    sentence: ast.LocalText
    redacted: bool = False
    parameters: tuple[ParameterTrace, ...] = ()
    """Every parameter of the set with its value and origin (not patient data: never redacted)."""


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
        self.criterion_inputs: dict[str, dict[str, JSONValue]] = {}
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
        reads: dict[str, JSONValue] = {}
        for kid in kids:
            if kid.inputs:
                reads.update(kid.inputs)
        if ref == "input" and isinstance(node, ast.Name):
            reads[node.name] = to_json(value)
        elif ref == "criterion" and isinstance(node, ast.Name):
            reads.update(self.criterion_inputs.get(node.name, {}))
        json_value: Any = to_json(value)
        patient_data = ref == "input" or bool(reads)
        if self.redact and patient_data and not (value is None or isinstance(value, bool)):
            json_value = REDACTED
        self._stack[-1].append(
            TraceNode.model_construct(
                kind=node.kind,
                text=text,
                span=span,
                value=json_value,
                ref=ref,
                inputs=dict(sorted(reads.items())),
                children=kids,
            )
        )

    def finish(self, name: str | None = None) -> TraceNode:
        """The tree of the root just evaluated; remember its reads under ``name``."""
        root = self._stack[0][-1]
        if name is not None:
            self.criterion_inputs[name] = root.inputs or {}
        return _redacted(root) if self.redact else root


def _redacted(node: TraceNode) -> TraceNode:
    return node.model_copy(
        update={"inputs": None, "children": tuple(_redacted(k) for k in node.children)}
    )


def parameter_traces(cs: ast.CriteriaSet) -> tuple[ParameterTrace, ...]:
    """The set's parameters as the trace reports them: name, value, unit and origin."""
    return tuple(ParameterTrace(name=p.name, value=to_json(p.value), unit=p.unit,
                                origin=p.origin) for p in cs.parameters)
