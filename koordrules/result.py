"""The result of evaluating one record: outcome, criteria values, what is missing, trace.

A :class:`Result` is a plain immutable object (slots, tuples, read-only mappings). Its trace
may be *lazy*: the compiled path keeps the values it computed and builds the
:class:`~koordrules.trace.Trace` only when ``result.trace`` is first read, and
:meth:`Result.to_json` writes the trace's JSON straight from those values. pydantic is used
only at the boundary, to validate a stored result in :meth:`Result.from_dict` /
:meth:`Result.from_json`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from types import MappingProxyType
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from koordrules.ast import LocalText, SetRef
from koordrules.errors import InputError, InputProblem
from koordrules.span import Span
from koordrules.trace import (
    CriterionTrace,
    ParameterTrace,
    ReadingTrace,
    RuleTrace,
    Trace,
    TraceNode,
    TraceValue,
    frozen_reads,
    trace_dict,
)

__all__ = ("LazyTrace", "MappingRef", "Result")

_FIELDS = ("criteria_set", "mapping", "outcome", "possible_outcomes", "missing", "criteria",
           "warnings", "trace")
RECORD_ID = "record_id"
"""The key ``koordrules eval`` adds to a stored result; accepted (and dropped) when reading."""


class MappingRef(BaseModel):
    """What a result records about the FHIR mapping that derived its inputs (id, version
    and content hash, which covers the value sets the mapping uses)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: str
    sha256: str
    as_of: dt.date | None = None
    """The date the facts were derived for (they depend on it)."""


class LazyTrace(Protocol):
    """A trace not built yet: :meth:`build` gives it, :meth:`json` its JSON text directly
    (equal to ``json.dumps(trace_dict(build()), ensure_ascii=False)``)."""

    def build(self) -> Trace: ...

    def json(self) -> str: ...


_REF_JSON: dict[SetRef, dict[str, Any]] = {}


def _ref_dict(ref: SetRef) -> dict[str, Any]:
    found = _REF_JSON.get(ref)
    if found is None:
        found = ref.model_dump(mode="json")
        if len(_REF_JSON) < 256:
            _REF_JSON[ref] = found
    return dict(found)


_str_json: Callable[[str], str] = encode_basestring
_TRUTH_JSON: dict[bool | None, str] = {True: "true", False: "false", None: "null"}
_REF_TEXT: dict[SetRef, str] = {}


def _strs_json(items: tuple[str, ...]) -> str:
    return "[" + ", ".join([_str_json(s) for s in items]) + "]" if items else "[]"


def _ref_json(ref: SetRef) -> str:
    found = _REF_TEXT.get(ref)
    if found is None:
        found = json.dumps(_ref_dict(ref), ensure_ascii=False)
        if len(_REF_TEXT) < 256:
            _REF_TEXT[ref] = found
    return found


class Result:
    """What a criteria set concluded for one record.

    ``outcome`` is ``None`` when the known data cannot decide it; then ``possible_outcomes``
    lists what it could still be and ``missing`` the unknown inputs that would decide it.
    ``criteria`` maps each criterion to true, false or ``None`` (unknown); ``trace`` is the
    explanation (``None`` when evaluated with ``trace=False``). Immutable.
    """

    __slots__ = ("_trace", "criteria", "criteria_set", "mapping", "missing", "outcome",
                 "possible_outcomes", "warnings")

    criteria_set: SetRef
    mapping: MappingRef | None
    """The FHIR mapping the inputs came from, when they came from one."""
    outcome: str | None
    possible_outcomes: tuple[str, ...]
    missing: tuple[str, ...]
    criteria: Mapping[str, bool | None]
    warnings: tuple[str, ...]
    _trace: Trace | LazyTrace | None

    def __init__(
        self,
        *,
        criteria_set: SetRef,
        mapping: MappingRef | None = None,
        outcome: str | None,
        possible_outcomes: tuple[str, ...],
        missing: tuple[str, ...],
        criteria: Mapping[str, bool | None],
        warnings: tuple[str, ...] = (),
        trace: Trace | LazyTrace | None = None,
    ) -> None:
        put = object.__setattr__
        put(self, "criteria_set", criteria_set)
        put(self, "mapping", mapping)
        put(self, "outcome", outcome)
        put(self, "possible_outcomes", tuple(possible_outcomes))
        put(self, "missing", tuple(missing))
        put(self, "criteria", MappingProxyType(dict(criteria)))
        put(self, "warnings", tuple(warnings))
        put(self, "_trace", trace)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Result is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Result is immutable (cannot delete {name!r})")

    @property
    def trace(self) -> Trace | None:
        """The explanation; built on first access when the result was computed lazily."""
        found = self._trace
        if found is None or isinstance(found, Trace):
            return found
        built = found.build()
        object.__setattr__(self, "_trace", built)
        return built

    @property
    def decided(self) -> bool:
        return self.outcome is not None

    def replace(self, **changes: Any) -> Result:
        """A copy with some fields changed (``trace=...`` included)."""
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields.update(changes)
        return Result(**fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Result(criteria_set={self.criteria_set!r}, mapping={self.mapping!r}, "
                f"outcome={self.outcome!r}, "
                f"possible_outcomes={self.possible_outcomes!r}, missing={self.missing!r}, "
                f"criteria={dict(self.criteria)!r}, warnings={self.warnings!r}, "
                f"trace={'...' if self._trace is not None else None})")

    # ---- JSON ---------------------------------------------------------------------------

    def _head(self) -> dict[str, Any]:
        return {
            "criteria_set": _ref_dict(self.criteria_set),
            "mapping": None if self.mapping is None else self.mapping.model_dump(mode="json"),
            "outcome": self.outcome,
            "possible_outcomes": list(self.possible_outcomes),
            "missing": list(self.missing),
            "criteria": dict(self.criteria),
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back to an equal result."""
        data = self._head()
        trace = self.trace
        data["trace"] = None if trace is None else trace_dict(trace)
        return data

    def _head_json(self) -> str:
        """``json.dumps(self._head())`` without the dict (all but the closing brace)."""
        mapping = "null" if self.mapping is None else \
            json.dumps(self.mapping.model_dump(mode="json"), ensure_ascii=False)
        outcome = "null" if self.outcome is None else _str_json(self.outcome)
        criteria = ", ".join([
            f"{_str_json(k)}: "
            f"{_TRUTH_JSON[v] if v is None or v is True or v is False else json.dumps(v)}"
            for k, v in self.criteria.items()])
        return (f'{{"criteria_set": {_ref_json(self.criteria_set)}, "mapping": {mapping}, '
                f'"outcome": {outcome}, "possible_outcomes": {_strs_json(self.possible_outcomes)}, '
                f'"missing": {_strs_json(self.missing)}, "criteria": {{{criteria}}}, '
                f'"warnings": {_strs_json(self.warnings)}')

    def to_json(self, *, indent: int | None = None) -> str:
        """The result as JSON text (the trace written directly, without building it, when
        it is lazy and ``indent`` is ``None``)."""
        found = self._trace
        if indent is None:
            if found is None:
                return f'{self._head_json()}, "trace": null}}'
            if not isinstance(found, Trace):
                return f'{self._head_json()}, "trace": {found.json()}}}'
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """Read a stored result (:meth:`to_dict`, or a line of ``koordrules eval``, whose
        ``record_id`` is accepted and dropped). Raises :class:`~koordrules.errors.InputError`
        (code ``bad_result``, one problem per wrong field; no value is quoted)."""
        if not isinstance(data, Mapping):
            raise InputError(f"a stored result is an object, not {type(data).__name__}",
                             code="bad_result")
        fields = {k: v for k, v in data.items() if k != RECORD_ID}
        try:
            model = _ResultModel.model_validate(fields)
        except ValidationError as ex:
            raise InputError.of([
                InputProblem(".".join(str(p) for p in e["loc"]) or None, "bad_result",
                             f"stored result: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
                for e in ex.errors(include_input=False, include_url=False)
            ]) from None
        return model.to_result()

    @classmethod
    def from_json(cls, text: str | bytes) -> Result:
        """:meth:`from_dict` of JSON text; invalid JSON is an
        :class:`~koordrules.errors.InputError` (code ``bad_json``)."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as ex:
            where = f" (line {ex.lineno}, column {ex.colno})" \
                if isinstance(ex, json.JSONDecodeError) else ""
            reason = ex.msg if isinstance(ex, json.JSONDecodeError) else "not UTF-8"
            raise InputError(f"a stored result is not JSON: {reason}{where}",
                             code="bad_json") from None
        return cls.from_dict(data)


# --- the boundary: pydantic models of the stored form ---------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _frozen(value: Any) -> TraceValue:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value  # type: ignore[no-any-return]


class _NodeModel(_Model):
    kind: str
    text: str
    span: Span | None = None
    value: Any = None
    ref: str | None = None
    inputs: dict[str, Any] | None = None
    children: tuple[_NodeModel, ...] = ()

    def to_node(self) -> TraceNode:
        inputs = None if self.inputs is None else frozen_reads(
            {k: _frozen(v) for k, v in self.inputs.items()})
        return TraceNode(self.kind, self.text, self.span, _frozen(self.value), self.ref, inputs,
                         tuple(k.to_node() for k in self.children))


class _CriterionModel(_Model):
    name: str
    title: LocalText
    value: bool | None
    sentence: LocalText
    origin: str | None = None
    expression: _NodeModel


class _RuleModel(_Model):
    outcome: str
    title: LocalText
    value: bool | None
    chosen: bool
    origin: str | None = None
    expression: _NodeModel | None = None


class _ParameterModel(_Model):
    name: str
    value: Any
    unit: str | None = None
    origin: str | None = None
    from_source: bool | None = None  # absent in results stored before it was recorded


class _ReadingModel(_Model):
    criterion: str
    text: LocalText
    origin: str | None = None


class _TraceModel(_Model):
    criteria: tuple[_CriterionModel, ...]
    rules: tuple[_RuleModel, ...]
    sentence: LocalText
    redacted: bool = False
    parameters: tuple[_ParameterModel, ...] = ()
    local_readings: tuple[_ReadingModel, ...] = ()  # absent in results stored before

    def to_trace(self) -> Trace:
        return Trace(
            tuple(CriterionTrace(c.name, c.title, c.value, c.sentence, c.origin,
                                 c.expression.to_node()) for c in self.criteria),
            tuple(RuleTrace(r.outcome, r.title, r.value, r.chosen, r.origin,
                            None if r.expression is None else r.expression.to_node())
                  for r in self.rules),
            self.sentence, self.redacted,
            tuple(ParameterTrace(p.name, _frozen(p.value), p.unit, p.origin, p.from_source)
                  for p in self.parameters),
            tuple(ReadingTrace(r.criterion, r.text, r.origin) for r in self.local_readings),
        )


class _ResultModel(_Model):
    criteria_set: SetRef
    mapping: MappingRef | None = None
    outcome: str | None
    possible_outcomes: tuple[str, ...]
    missing: tuple[str, ...]
    criteria: dict[str, bool | None]
    warnings: tuple[str, ...] = ()
    trace: _TraceModel | None = None

    def to_result(self) -> Result:
        return Result(criteria_set=self.criteria_set, mapping=self.mapping, outcome=self.outcome,
                      possible_outcomes=self.possible_outcomes, missing=self.missing,
                      criteria=self.criteria, warnings=self.warnings,
                      trace=None if self.trace is None else self.trace.to_trace())
