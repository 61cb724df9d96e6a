"""The traced mode of a compiled program: a lazy trace over the values the program computed.

A traced evaluation runs the all-nodes function once (every sub-expression of every criterion
and of every rule tried, as the interpreter does) and keeps that tuple of values with the
record's inputs in a :class:`LazyTrace`. Nothing else is built: ``result.trace`` builds the
immutable :class:`~koordrules.trace.Trace` on first access, and ``result.to_json()`` writes
the trace's JSON straight from the values through templates prepared once per set (the
static parts of every node — kind, text, span, reference — are encoded at compile time).
Both give exactly what the reference interpreter's trace gives (tests/test_trace.py).

No trace is cached, so memory does not grow with the records seen; the outcome sentences,
which depend only on the rule values, are kept in the process-wide cache
(:mod:`koordrules.cache`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from koordrules import ast
from koordrules.cache import cached
from koordrules.compiler import tracejson
from koordrules.compiler.layout import Layout
from koordrules.compiler.tracejson import Template, Trees, Writer, encode_all
from koordrules.result import Result
from koordrules.sentences import criterion_sentence, outcome_sentence
from koordrules.trace import (
    EMPTY_READS,
    REDACTED,
    CriterionTrace,
    RuleTrace,
    Trace,
    TraceNode,
    TraceValue,
    parameter_traces,
    portable_span,
    reading_traces,
    readings_list,
    span_dict,
    trace_value,
)
from koordrules.values import Value

_SENTENCE_SIZE = 2048
_PLAIN = (bool, int, float, str)  # values a trace shows as they are
_TRUTH_JSON: dict[bool | None, str] = {True: "true", False: "false", None: "null"}
_new = object.__new__
_put = object.__setattr__


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _value_json(value: TraceValue) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value.__class__ is int:
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_value_json(v) for v in value) + "]"
    return _dumps(value)


def _truth(value: Value) -> bool | None:
    """A condition's value (conditions are boolean or unknown: the checker sees to it)."""
    return value if value is None or value.__class__ is bool else bool(value)


def _text_json(text: ast.LocalText) -> str:
    return _dumps(text.model_dump(mode="json"))


def new_result(criteria_set: ast.SetRef, outcome: str | None, possible: tuple[str, ...],
               missing: tuple[str, ...], criteria: Any,
               warnings: tuple[str, ...], trace: Any) -> Result:
    """A :class:`Result` from already valid fields (``criteria`` is a fresh dict of the
    criteria's values, owned by the result from now on)."""
    result = _new(Result)
    _put(result, "criteria_set", criteria_set)
    _put(result, "mapping", None)
    _put(result, "outcome", outcome)
    _put(result, "possible_outcomes", possible)
    _put(result, "missing", missing)
    _put(result, "criteria", MappingProxyType(criteria))
    _put(result, "warnings", warnings)
    _put(result, "_trace", trace)
    return result


def _getter(positions: tuple[int, ...]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """``lambda seq: tuple(seq[i] for i in positions)``, faster."""
    if not positions:
        return lambda seq: ()
    if len(positions) == 1:
        only = positions[0]
        return lambda seq: (seq[only],)
    found: Callable[[Sequence[Any]], tuple[Any, ...]] = itemgetter(*positions)
    return found


class _NodeSpec:
    """What writing or building one node's trace needs, prepared once."""

    __slots__ = ("children_of", "head", "inputs_of", "kids", "kind", "names", "patient_data",
                 "reads", "ref", "span", "tail", "text")

    def __init__(self, layout: Layout, k: int) -> None:
        n = layout.nodes[k]
        self.kind = n.node.kind
        self.text = n.text
        self.span = portable_span(n.node.span)
        self.ref = n.ref
        self.kids = n.kids
        self.reads = n.reads
        self.names = tuple(layout.inputs[i] for i in n.reads)
        self.children_of = _getter(self.kids)
        """The node's children from the list of built nodes."""
        self.inputs_of = _getter(self.reads)
        """The values of the inputs it reads from the list of all input values."""
        self.patient_data = n.patient_data
        self.head = (f'{{"kind": {_dumps(self.kind)}, "text": {_dumps(self.text)}, '
                     f'"span": {_dumps(span_dict(self.span))}, "value": ')
        self.tail = f', "ref": {_dumps(self.ref)}, "inputs": '


class LazyTrace:
    """The trace of one traced evaluation, built or written on demand (see the module)."""

    __slots__ = ("_values", "_xs", "builder", "missing", "outcome", "possible", "redact",
                 "tried")

    def __init__(self, builder: TraceBuilder, xs: tuple[Value, ...], values: tuple[Value, ...],
                 tried: int, outcome: str | None, possible: tuple[str, ...],
                 missing: tuple[str, ...], redact: bool) -> None:
        self.builder = builder
        self._xs = xs
        self._values = values
        self.tried = tried
        self.outcome = outcome
        self.possible = possible
        self.missing = missing
        self.redact = redact

    def build(self) -> Trace:
        return self.builder._build_trace(self)

    def json(self) -> str:
        return self.builder._trace_json(self)


class TraceBuilder:
    """The traced half of :class:`koordrules.compiler.Program` (a base class: it reads the
    program's layout, value function, rule choice and ``missing``)."""

    criteria_set: ast.CriteriaSet
    _layout: Layout
    _ref: ast.SetRef
    _core_values: Callable[..., Any]

    def _choose(self, tried: tuple[Value, ...]) -> tuple[str | None, tuple[str, ...]]:
        raise NotImplementedError

    def _missing(self, values: tuple[Value, ...], tried: int) -> tuple[str, ...]:
        raise NotImplementedError

    def _prepare_trace(self) -> None:
        layout = self._layout
        cs = self.criteria_set
        self._specs = [_NodeSpec(layout, k) for k in range(len(layout.nodes))]
        self._input_keys = [_dumps(name) + ": " for name in layout.inputs]
        self._criterion_tops = [layout.criterion_roots[i].top for i in range(len(cs.criteria))]
        self._rule_tops = [root.top for root in layout.rule_roots]
        self._parameters = parameter_traces(cs)
        self._parameters_json = _dumps([
            {"name": p.name, "value": json.loads(_value_json(p.value)), "unit": p.unit,
             "origin": p.origin, "from_source": p.from_source} for p in self._parameters])
        self._readings = reading_traces(cs)
        self._readings_json = _dumps(readings_list(self._readings))
        self._criterion_sentences: dict[tuple[int, Any], ast.LocalText] = {
            (i, v): criterion_sentence(c, v)
            for i, c in enumerate(cs.criteria) for v in (True, False, None)
        }
        other = cs.otherwise
        self._otherwise = {
            chosen: RuleTrace(other.id, other.title, True if chosen else None, chosen,
                              other.origin, None)
            for chosen in (True, False)
        }
        self._otherwise_json = {
            chosen: (f'{{"outcome": {_dumps(other.id)}, "title": {_text_json(other.title)}, '
                     f'"value": {_value_json(True if chosen else None)}, '
                     f'"chosen": {_value_json(chosen)}, "origin": {_dumps(other.origin)}, '
                     '"expression": null}')
            for chosen in (True, False)
        }
        self._sentence_tag = ("sentence", cs.key, cs.sha256)
        self._patient_nodes = [k for k, spec in enumerate(self._specs) if spec.patient_data]
        self._json_templates: dict[tuple[bool, int, str | None, bool | None], Template] = {}
        self._criterion_sentence_json = [
            {v: _text_json(self._criterion_sentences[i, v]) for v in (True, False, None)}
            for i in range(len(cs.criteria))]
        self._untried = [["null"] * (len(cs.rules) - t) for t in range(len(cs.rules) + 1)]
        self._no_inputs = [""] * len(layout.inputs)

    def _traced(self, xs: tuple[Value, ...], warnings: list[str], redact: bool) -> Result:
        """The traced result: the values of every node tried, and a lazy trace over them."""
        values, crit, tried = self._core_values(*xs)
        outcome, possible = self._choose(tried)
        missing = self._missing(values, len(tried)) if outcome is None else ()
        trace = LazyTrace(self, xs, values, len(tried), outcome, possible, missing, redact)
        return new_result(self._ref, outcome, possible, missing, crit, tuple(warnings), trace)

    # ---- the parts shared by building and writing ---------------------------------------

    def _sentence(self, lazy: LazyTrace) -> ast.LocalText:
        return self._sentence_pair(lazy)[0]

    def _sentence_json(self, lazy: LazyTrace) -> str:
        return self._sentence_pair(lazy)[1]

    def _sentence_pair(self, lazy: LazyTrace) -> tuple[ast.LocalText, str]:
        """The outcome sentence and its JSON text (kept in the process-wide cache)."""
        values = lazy._values
        rule_values = tuple(values[top] for top in self._rule_tops[:lazy.tried])
        key = (*self._sentence_tag, lazy.outcome, lazy.possible, lazy.missing, rule_values)

        def make() -> tuple[ast.LocalText, str]:
            rules = self.criteria_set.rules
            passed = [r.id for r, v in zip(rules, rule_values, strict=False) if v is False]
            text = outcome_sentence(self.criteria_set, lazy.outcome, lazy.possible,
                                    list(lazy.missing), passed)
            return text, _text_json(text)

        return cached(key, make, _SENTENCE_SIZE)

    def _shown(self, spec: _NodeSpec, value: Value, redact: bool) -> TraceValue:
        if redact and spec.patient_data and not (value is None or value.__class__ is bool):
            return REDACTED
        return trace_value(value)

    def _otherwise_shown(self, lazy: LazyTrace) -> bool | None:
        """Whether the ``otherwise`` rule is listed (``None``: not) and if so, chosen."""
        other = self.criteria_set.otherwise.id
        if lazy.outcome == other:
            return True
        if lazy.outcome is None and other in lazy.possible:
            return False
        return None

    # ---- building -----------------------------------------------------------------------

    def _build_trace(self, lazy: LazyTrace) -> Trace:
        xs, values, redact = lazy._xs, lazy._values, lazy.redact
        specs = self._specs
        make = tuple.__new__
        plain = _PLAIN
        built: list[TraceNode] = []
        add = built.append
        # nodes are numbered children first, so one pass over the values builds every tree
        if redact:
            for k, v in enumerate(values):
                spec = specs[k]
                if v is None or v.__class__ is bool:
                    shown: TraceValue = v
                elif spec.patient_data:
                    shown = REDACTED
                else:
                    shown = v if v.__class__ in plain else trace_value(v)
                add(make(TraceNode, (spec.kind, spec.text, spec.span, shown, spec.ref, None,
                                     spec.children_of(built))))
        else:
            shown_inputs = [x if x is None or x.__class__ in plain else trace_value(x)
                            for x in xs]
            reads_maps: dict[tuple[int, ...], Mapping[str, TraceValue]] = {}
            for k, v in enumerate(values):
                spec = specs[k]
                reads = spec.reads
                if not reads:
                    inputs = EMPTY_READS
                else:
                    found = reads_maps.get(reads)
                    if found is None:
                        found = reads_maps[reads] = MappingProxyType(
                            dict(zip(spec.names, spec.inputs_of(shown_inputs), strict=True)))
                    inputs = found
                add(make(TraceNode, (spec.kind, spec.text, spec.span,
                                     v if v is None or v.__class__ in plain
                                     else trace_value(v), spec.ref, inputs,
                                     spec.children_of(built))))

        cs = self.criteria_set
        criteria = []
        sentences = self._criterion_sentences
        for i, (c, top) in enumerate(zip(cs.criteria, self._criterion_tops, strict=True)):
            v = values[top]
            if v is not None and v.__class__ is not bool:
                v = bool(v)
            criteria.append(make(CriterionTrace, (c.name, c.title, v, sentences[i, v],
                                                  c.origin, built[top])))
        rules = []
        outcome = lazy.outcome
        for rule, top in zip(cs.rules, self._rule_tops[:lazy.tried], strict=False):
            rules.append(make(RuleTrace, (rule.id, rule.title, _truth(values[top]),
                                          rule.id == outcome, rule.origin, built[top])))
        chosen = self._otherwise_shown(lazy)
        if chosen is not None:
            rules.append(self._otherwise[chosen])
        return make(Trace, (tuple(criteria), tuple(rules), self._sentence(lazy), redact,
                            self._parameters, self._readings))

    # ---- writing ------------------------------------------------------------------------

    def _whole_template(self, key: tuple[bool, int, str | None, bool | None]) -> Template:
        """The template of a whole trace of one shape: ``key`` is (redacted, rules tried,
        outcome, whether ``otherwise`` is shown and chosen). Its slots, in order: each
        criterion's value and sentence, the outcome sentence, each rule's value (for every
        rule, tried or not), the inputs, the node values."""
        found = self._json_templates.get(key)
        if found is not None:
            return found
        redact, tried, outcome, other = key
        cs = self.criteria_set
        n_criteria = len(cs.criteria)
        rules_at = 2 * n_criteria + 1
        inputs_at = rules_at + len(cs.rules)
        values_at = inputs_at + len(self._input_keys)
        specs = self._specs
        trees = Trees([s.head for s in specs], [s.tail for s in specs],
                      [s.kids for s in specs], [s.reads for s in specs], self._input_keys)
        w = Writer()
        w.literal('{"criteria": [')
        for i, c in enumerate(cs.criteria):
            w.literal(f'{", " if i else ""}{{"name": {_dumps(c.name)}, '
                      f'"title": {_text_json(c.title)}, "value": ')
            w.slot(2 * i)
            w.literal(', "sentence": ')
            w.slot(2 * i + 1)
            w.literal(f', "origin": {_dumps(c.origin)}, "expression": ')
            w.tree(self._criterion_tops[i], trees, inputs_at, values_at, redact)
            w.literal("}")
        w.literal('], "rules": [')
        for r, rule in enumerate(cs.rules[:tried]):
            w.literal(f'{", " if r else ""}{{"outcome": {_dumps(rule.id)}, '
                      f'"title": {_text_json(rule.title)}, "value": ')
            w.slot(rules_at + r)
            w.literal(f', "chosen": {_value_json(rule.id == outcome)}, '
                      f'"origin": {_dumps(rule.origin)}, "expression": ')
            w.tree(self._rule_tops[r], trees, inputs_at, values_at, redact)
            w.literal("}")
        if other is not None:
            w.literal((", " if tried else "") + self._otherwise_json[other])
        w.literal('], "sentence": ')
        w.slot(2 * n_criteria)
        w.literal(f', "redacted": {_value_json(redact)}, '
                  f'"parameters": {self._parameters_json}, '
                  f'"local_readings": {self._readings_json}}}')
        found = w.done()
        self._json_templates[key] = found
        return found

    def _trace_json(self, lazy: LazyTrace) -> str:
        values, redact, tried, xs = lazy._values, lazy.redact, lazy.tried, lazy._xs
        template = self._whole_template((redact, tried, lazy.outcome,
                                         self._otherwise_shown(lazy)))
        encoded: list[str] = []
        add = encoded.append
        sentences = self._criterion_sentence_json
        for i, top in enumerate(self._criterion_tops):
            v = values[top]
            if v is not None and v.__class__ is not bool:
                v = bool(v)
            add(_TRUTH_JSON[v])
            add(sentences[i][v])
        add(self._sentence_json(lazy))
        for top in self._rule_tops[:tried]:
            v = values[top]
            add(_TRUTH_JSON[v if v is None or v.__class__ is bool else bool(v)])
        encoded += self._untried[tried]
        if redact:
            encoded += self._no_inputs
            values_at = len(encoded)
            encoded += encode_all(values)
            tracejson.redacted(encoded, values, values_at, self._patient_nodes)
        else:
            encoded += encode_all(xs)
            encoded += encode_all(values)
        return template.fill(encoded)
