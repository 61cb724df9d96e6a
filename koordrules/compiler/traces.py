"""The traced mode of a compiled program: traces assembled from the static description of the
trees and the values of every node, with bounded caches of shared, immutable sub-trees.

Trace sub-trees depend only on the input values they read, so they are shared between results
with the same values (a bounded cache per expression); do not mutate a trace.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from koordrules import ast
from koordrules.compiler.layout import Layout
from koordrules.result import Result
from koordrules.sentences import criterion_sentence, outcome_sentence
from koordrules.trace import (
    REDACTED,
    CriterionTrace,
    RuleTrace,
    Trace,
    TraceNode,
    parameter_traces,
)
from koordrules.values import Value, to_json

TRACE_CACHE_LIMIT = 16384


def fast_constructor(cls: type[Any]) -> Callable[[dict[str, Any]], Any]:
    """Build instances of a pydantic model from an already valid field dict, without
    validation (what ``model_construct`` does, minus its per-call field bookkeeping).

    Every field must be given. Falls back to ``model_construct`` if the shortcut does not
    produce an equal object (a future pydantic)."""
    fields = set(cls.model_fields)
    defaults = {name: info.default for name, info in cls.model_fields.items()
                if not info.is_required() and info.default_factory is None}
    complete = len(fields)
    order = tuple(cls.model_fields)
    new = object.__new__
    setattr_ = object.__setattr__

    def make(values: dict[str, Any]) -> Any:
        if len(values) != complete:  # a field added since: its default, in field order
            values = {n: values[n] if n in values else defaults[n] for n in order}
        obj = new(cls)
        setattr_(obj, "__dict__", values)
        setattr_(obj, "__pydantic_fields_set__", fields.copy())
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        return obj

    try:
        probe = {name: None for name in cls.model_fields}
        ok = make(dict(probe)) == cls.model_construct(**probe)
    except Exception:  # pragma: no cover - depends on the pydantic version
        ok = False
    if ok:
        return make
    return lambda values: cls.model_construct(**values)  # pragma: no cover


new_node: Callable[[dict[str, Any]], TraceNode] = fast_constructor(TraceNode)
new_criterion: Callable[[dict[str, Any]], CriterionTrace] = fast_constructor(CriterionTrace)
new_rule: Callable[[dict[str, Any]], RuleTrace] = fast_constructor(RuleTrace)
new_trace: Callable[[dict[str, Any]], Trace] = fast_constructor(Trace)
new_result: Callable[[dict[str, Any]], Result] = fast_constructor(Result)



class TraceBuilder:
    """The traced half of :class:`koordrules.compiler.Program` (a base class: it reads the
    program's layout, value function, rule choice and ``missing``)."""

    criteria_set: ast.CriteriaSet
    trace_cache: bool
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
        types = {d.name: d.type for d in cs.inputs}
        json_fns = [_json_of(d) for d in cs.inputs]
        self._specs: list[_Spec] = []
        for n in layout.nodes:
            kinds = [types[layout.inputs[i]] for i in n.reads]
            reads = n.reads
            getter: Callable[[tuple[Value, ...]], Any] | None = None
            numeric: tuple[int, ...] = ()
            if "list" not in kinds:
                getter = (operator.itemgetter(*reads) if len(reads) > 1
                          else _single(reads[0]) if reads else _no_key)
                numeric = tuple(p for p, k in enumerate(kinds) if k == "number")
            plain = all(json_fns[i] is _identity for i in reads)
            self._specs.append(_Spec(
                getter=getter, numeric=numeric, cache={}, kids=n.kids, kind=n.node.kind,
                text=n.text, span=n.node.span, ref=n.ref,
                names=tuple(layout.inputs[i] for i in reads),
                reads=operator.itemgetter(*reads) if len(reads) > 1 else _single(reads[0])
                if reads else _no_key,
                fns=None if plain else tuple(json_fns[i] for i in reads),
                patient_data=n.patient_data,
            ))
        self._traces: dict[Any, tuple[Any, ...]] = {}
        self._wrapped: dict[Any, Any] = {}
        self._sentences: dict[Any, ast.LocalText] = {}
        self._criterion_tops = [layout.criterion_roots[i].top for i in range(len(cs.criteria))]
        self._rule_tops = [root.top for root in layout.rule_roots]
        self._trace_extra: dict[str, Any] = {}
        self._trace_extra["parameters"] = parameter_traces(cs)
        self._criterion_sentences: dict[tuple[int, Any], ast.LocalText] = {
            (i, v): criterion_sentence(c, v)
            for i, c in enumerate(cs.criteria) for v in (True, False, None)
        }
        other = cs.otherwise
        self._otherwise = {
            chosen: new_rule({"outcome": other.id, "title": other.title,
                               "value": True if chosen else None, "chosen": chosen,
                               "origin": other.origin, "expression": None})
            for chosen in (True, False)
        }

    def _tree(self, k: int, xs: tuple[Value, ...], state: list[Any], redact: bool) -> Any:
        """The trace node of node ``k``: from the cache when a node with the same input
        values was built before (a node depends on nothing else), else built. ``state``
        holds the values of every node, computed on the first miss."""
        spec = self._specs[k]
        key: Any = None
        getter = spec.getter if self.trace_cache else None
        if getter is not None:
            key = (redact, getter(xs))
            for p in spec.numeric:
                v = key[1][p]
                if v is not None and v.__class__ is not int:
                    key = None
                    break
            if key is not None:
                found = spec.cache.get(key)
                if found is not None:
                    return found
        if state[0] is None:
            state[0] = self._core_values(*xs)
        value = state[0][0][k]
        kids = tuple([self._tree(c, xs, state, redact) for c in spec.kids])
        json_value = to_json(value)
        if redact and spec.patient_data and not (value is None or isinstance(value, bool)):
            json_value = REDACTED
        reads: dict[str, Any] | None = None
        if not redact:
            read = spec.reads(xs)
            if spec.fns is not None:
                read = tuple(f(v) for f, v in zip(spec.fns, read, strict=True))
            reads = dict(zip(spec.names, read, strict=True))
        node = new_node({
            "kind": spec.kind, "text": spec.text, "span": spec.span, "value": json_value,
            "ref": spec.ref, "inputs": reads, "children": kids,
        })
        if key is not None:
            self._remember(spec.cache, key, node)
        return node

    def _traced(self, xs: tuple[Value, ...], warnings: list[str], redact: bool) -> Result:
        """The traced result. Trees come from the node cache where possible; a whole trace
        is shared by records whose trees are all the same objects (the cache keeps those
        trees alive, so their ids stay theirs)."""
        state: list[Any] = [None]
        trees = [self._tree(top, xs, state, redact) for top in self._criterion_tops]
        rule_trees = []
        for top in self._rule_tops:
            tree = self._tree(top, xs, state, redact)
            rule_trees.append(tree)
            if tree.value is True:
                break
        key = (redact, *map(id, trees), -1, *map(id, rule_trees))
        entry = self._traces.get(key) if self.trace_cache else None
        if entry is None:
            entry = self._assemble(xs, state, trees, rule_trees, redact)
            if self.trace_cache:
                self._remember(self._traces, key, entry)
        trace, crit_values, outcome, possible, missing = entry
        return new_result({
            "criteria_set": self._ref,
            "outcome": outcome,
            "possible_outcomes": possible,
            "missing": missing,
            "criteria": dict(crit_values),
            "warnings": tuple(warnings),
            "trace": trace,
        })

    def _assemble(self, xs: tuple[Value, ...], state: list[Any], trees: list[Any],
                  rule_trees: list[Any], redact: bool) -> tuple[Any, ...]:
        cs = self.criteria_set
        wrapped = self._wrapped
        crit_values = {c.name: tree.value for c, tree in zip(cs.criteria, trees, strict=True)}
        crit_traces = []
        for i, (c, tree) in enumerate(zip(cs.criteria, trees, strict=True)):
            found = wrapped.get((i, id(tree)))
            if found is None or found.expression is not tree:
                found = self._remember(wrapped, (i, id(tree)), new_criterion({
                    "name": c.name, "title": c.title, "value": tree.value,
                    "sentence": self._criterion_sentences[i, tree.value], "origin": c.origin,
                    "expression": tree,
                }))
            crit_traces.append(found)
        rule_values = tuple(tree.value for tree in rule_trees)
        outcome, possible = self._choose(rule_values)
        missing: tuple[str, ...] = ()
        if outcome is None:
            if state[0] is None:
                state[0] = self._core_values(*xs)
            missing = self._missing(state[0][0], len(rule_values))
        rules = []
        for r, (rule, tree) in enumerate(zip(cs.rules, rule_trees, strict=False)):
            chosen = rule.id == outcome
            found = wrapped.get((-1 - r, id(tree), chosen))
            if found is None or found.expression is not tree:
                found = self._remember(wrapped, (-1 - r, id(tree), chosen), new_rule({
                    "outcome": rule.id, "title": rule.title, "value": tree.value,
                    "chosen": chosen, "origin": rule.origin, "expression": tree,
                }))
            rules.append(found)
        if outcome == cs.otherwise.id or (outcome is None and cs.otherwise.id in possible):
            rules.append(self._otherwise[outcome is not None])
        skey = (outcome, possible, missing, rule_values)
        sentence = self._sentences.get(skey)
        if sentence is None:
            passed = [r.id for r, v in zip(cs.rules, rule_values, strict=False) if v is False]
            sentence = self._remember(self._sentences, skey, outcome_sentence(
                cs, outcome, possible, list(missing), passed))
        trace = new_trace({"criteria": tuple(crit_traces), "rules": tuple(rules),
                            "sentence": sentence, "redacted": redact, **self._trace_extra})
        return trace, crit_values, outcome, possible, missing

    @staticmethod
    def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
        """Store in a bounded cache (emptied when full: cheaper than evicting one by one)."""
        if len(cache) >= TRACE_CACHE_LIMIT:
            cache.clear()
        cache[key] = value
        return value


@dataclass(slots=True)
class _Spec:
    """What building one node's trace needs, prepared once."""

    getter: Callable[[tuple[Value, ...]], Any] | None  # the cache key (None: not cached)
    numeric: tuple[int, ...]  # key positions of number inputs (only ints are cached)
    cache: dict[Any, Any]
    kids: tuple[int, ...]
    kind: str
    text: str
    span: Any
    ref: str | None
    names: tuple[str, ...]
    reads: Callable[[tuple[Value, ...]], Any]
    fns: tuple[Callable[[Value], Any], ...] | None
    patient_data: bool


def _single(i: int) -> Callable[[tuple[Value, ...]], tuple[Value, ...]]:
    """Like ``itemgetter(i)`` but always a tuple."""
    return lambda xs: (xs[i],)


def _no_key(xs: tuple[Value, ...]) -> tuple[Value, ...]:
    return ()


def _json_of(decl: ast.InputDecl) -> Callable[[Value], Any]:
    """``to_json`` specialised to an input's type (identity where it is the identity)."""
    if decl.type in ("boolean", "integer", "number", "string", "enum"):
        return _identity
    return to_json


def _identity(value: Any) -> Any:
    return value

