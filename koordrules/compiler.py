"""The compiled evaluation path: a criteria set turned once into Python functions.

:func:`compile_set` walks the *checked* syntax tree and generates Python source from it:
every input becomes a local ``x<i>``, every criterion ``c<i>``, every sub-expression ``v<i>``;
literals are emitted with ``repr`` (booleans, integers, strings) or bound as constants, and the
operators call the same helpers as the reference interpreter (:mod:`koordrules.evaluator`,
:mod:`koordrules.functions`). No text from the criteria file is ever copied into the code, and
nothing from the file is executed. The source is compiled with the built-in ``compile`` into a
private namespace.

Two evaluation modes share the result of one compilation:

* **outcome-only** (:meth:`Program.outcome`, ``Program.evaluate(..., trace=False)``): the
  connectives short-circuit where no operand can raise, no trace object is built, and the
  inputs that would decide an undecided outcome (``missing``) are worked out only when the
  outcome is undecided;
* **traced** (``Program.evaluate(..., trace=True)``): every sub-expression of every criterion
  and of every rule tried is evaluated (as the interpreter does) and the trace is assembled from
  a static description of the tree. Trace sub-trees are immutable and depend only on the input
  values they read, so they are shared between results with the same values (a bounded cache
  per expression); do not mutate a trace.

Both modes give exactly the interpreter's :class:`~koordrules.result.Result` (tested with
hypothesis on every shipped set). Records are validated by a generated per-set check that
accepts only what :func:`koordrules.inputs.validate_record` accepts without a warning; any
other record goes through ``validate_record`` itself, so errors and warnings are the reference
ones.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from koordrules import ast
from koordrules.check import environment, evaluation_order
from koordrules.errors import EvalError, KoordError
from koordrules.evaluator import choose
from koordrules.inputs import MAX_KEYS, MAX_STRING, check_value, validate_record
from koordrules.operators import FUNCTIONS, OPERATORS, operator_name
from koordrules.operators.reference import arith, compare, kleene_and, kleene_or, membership
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
from koordrules.typecheck import infer
from koordrules.types import Type
from koordrules.values import Duration, Value, to_json

if TYPE_CHECKING:
    from koordrules.backends import Table

__all__ = ("Outcome", "Program", "compile_set", "compiled_or_none")

_ORDER_INLINE = frozenset({"number", "string", "date", "boolean"})
_TRACE_CACHE_LIMIT = 16384
_CHOICE_CACHE_LIMIT = 4096


class _Slow(Exception):
    """Raised by the generated validator: this record needs the reference validation."""


_SLOW = _Slow()


class Outcome(NamedTuple):
    """The outcome-only answer for one record (no trace, no warnings)."""

    outcome: str | None
    possible_outcomes: tuple[str, ...]
    missing: tuple[str, ...]
    criteria: dict[str, bool | None]


# --- fast construction of the frozen result models ----------------------------------------


def _fast_constructor(cls: type[Any]) -> Callable[[dict[str, Any]], Any]:
    """Build instances of a pydantic model from an already valid field dict, without
    validation (what ``model_construct`` does, minus its per-call field bookkeeping).

    Every field must be given. Falls back to ``model_construct`` if the shortcut does not
    produce an equal object (a future pydantic)."""
    fields = set(cls.model_fields)
    defaults = {name: info.default for name, info in cls.model_fields.items()
                if not info.is_required() and info.default_factory is None}
    complete = len(fields)
    new = object.__new__
    setattr_ = object.__setattr__

    def make(values: dict[str, Any]) -> Any:
        if len(values) != complete:  # a field added since: its default
            values = {**defaults, **values}
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


_new_node: Callable[[dict[str, Any]], TraceNode] = _fast_constructor(TraceNode)
_new_criterion: Callable[[dict[str, Any]], CriterionTrace] = _fast_constructor(CriterionTrace)
_new_rule: Callable[[dict[str, Any]], RuleTrace] = _fast_constructor(RuleTrace)
_new_trace: Callable[[dict[str, Any]], Trace] = _fast_constructor(Trace)
_new_result: Callable[[dict[str, Any]], Result] = _fast_constructor(Result)
_new_outcome: Callable[[tuple[Any, ...]], Outcome] = functools.partial(tuple.__new__, Outcome)


# --- helpers the generated code calls --------------------------------------------------------


def _arith_at(op: str, left: Value, right: Value, span: Any) -> Value:
    """The interpreter's arithmetic, with its error translation."""
    try:
        return arith(op, left, right)
    except (OverflowError, ValueError) as ex:
        raise EvalError(f"arithmetic out of range: {ex}", span=span) from ex


def _unsafe(node: ast.Expr) -> bool:
    """Whether evaluating ``node`` may raise (so it must not be skipped by a short circuit)."""
    return any(isinstance(n, ast.Arith) for n in ast.walk(node))


# --- the static description of the trees -----------------------------------------------------


@dataclass(slots=True)
class _Node:
    index: int
    node: ast.Expr
    kids: tuple[int, ...]
    text: str
    ref: str | None
    input: int | None  # input index for a Name that reads an input
    criterion: int | None  # criterion index for a Name that refers to a criterion
    reads: tuple[int, ...]  # input indices read by the sub-tree (sorted by input name)
    patient_data: bool


@dataclass(slots=True)
class _Root:
    """A criterion's or rule's expression tree."""

    top: int
    reads: tuple[int, ...]
    cacheable: bool  # no list inputs under it
    numeric: tuple[int, ...]  # positions in ``reads`` of number inputs (ints only are cached)
    cache: dict[Any, Any]


class _Layout:
    """Numbers every node of every criterion and rule, in the interpreter's evaluation order."""

    def __init__(self, cs: ast.CriteriaSet, order: Sequence[ast.Criterion]) -> None:
        self.cs = cs
        self.inputs = [d.name for d in cs.inputs]
        self.input_index = {n: i for i, n in enumerate(self.inputs)}
        self.params = {p.name: p.value for p in cs.parameters}
        self.criteria = [c.name for c in cs.criteria]
        self.criterion_index = {n: i for i, n in enumerate(self.criteria)}
        self.env = environment(cs)
        self.nodes: list[_Node] = []
        self.criterion_roots: dict[int, _Root] = {}
        for c in order:
            self.criterion_roots[self.criterion_index[c.name]] = self._root(c.expr, c.source)
        self.rule_roots: list[_Root] = []
        for rule in cs.rules:
            assert rule.when is not None
            self.rule_roots.append(self._root(rule.when, rule.source or ""))

    def _root(self, expr: ast.Expr, source: str) -> _Root:
        top = self._add(expr, source)
        reads = self.nodes[top].reads
        types = {d.name: d.type for d in self.cs.inputs}
        return _Root(
            top=top,
            reads=reads,
            cacheable=all(types[self.inputs[i]] != "list" for i in reads),
            numeric=tuple(p for p, i in enumerate(reads) if types[self.inputs[i]] == "number"),
            cache={},
        )

    def _add(self, expr: ast.Expr, source: str) -> int:
        kids = tuple(self._add(k, source) for k in ast.children(expr))
        ref: str | None = None
        input_i = criterion_i = None
        reads: set[int] = set()
        for k in kids:
            reads.update(self.nodes[k].reads)
        if isinstance(expr, ast.Name):
            if expr.name in self.input_index:
                ref, input_i = "input", self.input_index[expr.name]
                reads.add(input_i)
            elif expr.name in self.params:
                ref = "parameter"
            elif expr.name in self.criterion_index:
                ref, criterion_i = "criterion", self.criterion_index[expr.name]
                reads.update(self.criterion_roots[criterion_i].reads)
            else:
                raise EvalError(f"unknown name {expr.name!r}", code="unknown_name")
        span = expr.span
        node = _Node(
            index=len(self.nodes),
            node=expr,
            kids=kids,
            text=source[span.start:span.end] if span else "",
            ref=ref,
            input=input_i,
            criterion=criterion_i,
            reads=tuple(sorted(reads, key=lambda i: self.inputs[i])),
            patient_data=ref == "input" or bool(reads),
        )
        self.nodes.append(node)
        return node.index

    def type_of(self, expr: ast.Expr) -> Type:
        return infer(expr, self.env)[0]


# --- code generation -------------------------------------------------------------------------


class _Gen:
    """Generates the Python source of one set's evaluators."""

    def __init__(self, layout: _Layout) -> None:
        self.layout = layout
        self.consts: dict[str, Any] = {}
        self._const_ids: dict[int, str] = {}
        self._temp = 0
        self.bound: dict[int, str] = {}
        """Nodes already evaluated into a variable (the all-nodes mode)."""

    def const(self, value: Any) -> str:
        """A literal for ``value``: ``repr`` for booleans, ``None``, integers and strings,
        a bound constant for anything else."""
        if value is None or type(value) in (bool, int, str) or (
                type(value) is float and math.isfinite(value)):
            return repr(value)
        key = id(value)
        if key not in self._const_ids:
            name = f"_k{len(self.consts)}"
            self.consts[name] = value
            self._const_ids[key] = name
        return self._const_ids[key]

    def temp(self) -> str:
        self._temp += 1
        return f"_t{self._temp}"

    def constant_value(self, node: ast.Expr) -> tuple[bool, Any]:
        """Whether ``node`` is a compile-time constant (never unknown), and its value."""
        match node:
            case ast.BooleanLiteral() | ast.NumberLiteral() | ast.StringLiteral():
                return True, node.value
            case ast.DateLiteral():
                return True, node.value
            case ast.DurationLiteral(amount=amount, unit=unit):
                return True, Duration.of(amount, unit)
            case ast.Name(name=name):
                layout = self.layout
                if name not in layout.input_index and name in layout.params:
                    return True, layout.params[name]
        return False, None

    # ---- outcome-only: one Python expression per criterion/rule, short-circuiting ----------

    def expr(self, node: ast.Expr) -> str:
        bound = self.bound.get(id(node))
        if bound is not None:
            return bound
        is_const, value = self.constant_value(node)
        if is_const:
            return self.const(value)
        layout = self.layout
        match node:
            case ast.Name(name=name):
                if name in layout.input_index:
                    return f"x{layout.input_index[name]}"
                return f"c{layout.criterion_index[name]}"
            case ast.ListExpr(items=items):
                return "(" + "".join(self.expr(i) + ", " for i in items) + ")"
            case ast.Not(operand=o):
                t = self.temp()
                return f"(None if ({t} := {self.expr(o)}) is None else not {t})"
            case ast.Negate(operand=o):
                t = self.temp()
                return f"(None if ({t} := {self.expr(o)}) is None else -{t})"
            case ast.And(operands=ops):
                return self.kleene(ops, conjunction=True)
            case ast.Or(operands=ops):
                return self.kleene(ops, conjunction=False)
            case ast.Compare(op=op, left=a, right=b):
                return self.compare(node, op, a, b)
            case ast.Arith(op=op, left=a, right=b):
                return (f"_arith({op!r}, {self.expr(a)}, {self.expr(b)}, "
                        f"{self.const(node.span)})")
            case ast.In(item=item, container=container, negated=negated):
                return self.membership(item, container, negated)
            case ast.Call(function=fn, args=args):
                return self.call(node, fn, args)
        key = operator_name(node)
        if key is None:  # pragma: no cover - the AST is closed
            raise EvalError(f"cannot compile {node.kind}", span=node.span)
        impl = self.const(OPERATORS[key].impl)
        return f"{impl}(" + "".join(self.expr(k) + ", " for k in ast.children(node)) + ")"

    def kleene(self, ops: Sequence[ast.Expr], *, conjunction: bool) -> str:
        if len(ops) == 1:
            # a single operand: the connective is the identity on booleans and unknown
            return f"({self.expr(ops[0])})"
        decisive, other = ("False", "True") if conjunction else ("True", "False")
        if any(_unsafe(o) for o in ops):
            fn = "_kand" if conjunction else "_kor"
            return f"{fn}((" + "".join(self.expr(o) + ", " for o in ops) + "))"
        temps = [self.temp() for _ in ops]
        tests = " or ".join(f"({t} := {self.expr(o)}) is {decisive}"
                            for t, o in zip(temps, ops, strict=True))
        unknown = " or ".join(f"{t} is None" for t in temps)
        return f"({decisive} if {tests} else (None if {unknown} else {other}))"

    def compare(self, node: ast.Compare, op: str, a: ast.Expr, b: ast.Expr) -> str:
        layout = self.layout
        ta, tb = layout.type_of(a), layout.type_of(b)
        inline = op in ("==", "!=") or (ta.name in _ORDER_INLINE and tb.name in _ORDER_INLINE
                                        and ta.name == tb.name)
        if not inline or (_unsafe(b) and not self.constant_value(a)[0]):
            return f"_compare({op!r}, {self.expr(a)}, {self.expr(b)})"
        checks: list[str] = []
        sides: list[str] = []
        for side in (a, b):
            if self.constant_value(side)[0]:
                sides.append(self.expr(side))
            else:
                t = self.temp()
                checks.append(f"({t} := {self.expr(side)}) is None")
                sides.append(t)
        test = f"{sides[0]} {op} {sides[1]}"
        if not checks:
            return f"({test})"
        return f"(None if {' or '.join(checks)} else {test})"

    def membership(self, item: ast.Expr, container: ast.Expr, negated: bool) -> str:
        consts = []
        if isinstance(container, ast.ListExpr):
            for e in container.items:
                is_const, value = self.constant_value(e)
                if not is_const or value is None:
                    break
                consts.append(value)
            else:
                if self.layout.type_of(item).name in _ORDER_INLINE:
                    t = self.temp()
                    table = self.const(tuple(consts))
                    test = f"{t} not in {table}" if negated else f"{t} in {table}"
                    return f"(None if ({t} := {self.expr(item)}) is None else {test})"
        return f"_member({self.expr(item)}, {self.expr(container)}, {negated!r})"

    def call(self, node: ast.Call, fn: str, args: Sequence[ast.Expr]) -> str:
        if fn in ("any", "all") and (
            len(args) >= 2 or (len(args) == 1 and self.layout.type_of(args[0]).name == "boolean")
        ):
            return self.kleene(args, conjunction=fn == "all")
        if fn == "is_known" and len(args) == 1:
            return f"({self.expr(args[0])} is not None)"
        if fn == "at_least" and len(args) >= 3:
            return self.at_least(args[0], args[1:])
        impl = self.const(FUNCTIONS[fn].impl)
        return f"{impl}([" + "".join(self.expr(a) + ", " for a in args) + "])"

    def at_least(self, count: ast.Expr, conditions: Sequence[ast.Expr]) -> str:
        """``at_least(n, a, b, ...)`` with two or more conditions, inline: true when the true
        ones reach ``n``, false when the true and unknown ones cannot, else unknown (the
        semantics of :func:`koordrules.functions.at_least`); every argument is evaluated."""
        n = self.temp()
        temps = [self.temp() for _ in conditions]
        assigns = ", ".join([f"({n} := {self.expr(count)})"]
                            + [f"({t} := {self.expr(c)})"
                               for t, c in zip(temps, conditions, strict=True)])
        true = self.temp()
        trues = " + ".join(f"({t} is True)" for t in temps)
        unknowns = " + ".join(f"({t} is None)" for t in temps)
        return (f"(None if ({assigns})[0] is None else (True if ({true} := {trues}) >= {n} "
                f"else (False if {true} + {unknowns} < {n} else None)))")

    # ---- all nodes: one statement per sub-expression, no short circuit ------------------

    def node_statement(self, n: _Node) -> str:
        """``v<k> = ...`` for node ``k``, its children already in their ``v`` variables
        (so nothing is skipped: every node is evaluated, as by the interpreter)."""
        code = self.expr(n.node)
        self.bound[id(n.node)] = f"v{n.index}"
        return f"v{n.index} = {code}"

    # ---- the validator ------------------------------------------------------------------

    def validator(self) -> list[str]:
        """Statements reading each input from ``record`` into ``x<i>``; ``raise _SLOW`` for
        anything the reference validation would reject, warn about or convert differently."""
        decls = self.layout.cs.inputs
        lines = [
            "if record.__class__ is not dict:",
            "    raise _SLOW",
            # as many keys as inputs, and every input found: exactly the inputs
            f"if len(record) == {len(decls)} and allowed is _ALLOWED:",
            "    try:",
            *[f"        x{i} = record[{d.name!r}]" for i, d in enumerate(decls)],
            "    except KeyError:",
            "        raise _SLOW from None",
            "else:",
            "    if len(record) > _MAX_KEYS or not record.keys() <= allowed:",
            "        raise _SLOW",
            "    _g = record.get",
            *[f"    x{i} = _g({d.name!r})" for i, d in enumerate(decls)],
        ]
        if not decls:
            lines = ["if record.__class__ is not dict or len(record) > _MAX_KEYS "
                     "or record.keys() - allowed:",
                     "    raise _SLOW"]
        for i, decl in enumerate(decls):
            x = f"x{i}"
            if decl.type == "boolean":
                lines.append(f"if {x} is not None and {x} is not True and {x} is not False: "
                             "raise _SLOW")
                continue
            lines += [f"if {x} is not None:"] + ["    " + s for s in self.check_input(decl, x)]
        return lines

    def check_input(self, decl: ast.InputDecl, x: str) -> list[str]:
        kind = decl.type
        if kind == "boolean":
            return [f"if {x}.__class__ is not bool: raise _SLOW"]
        bounds = ""
        if decl.min is not None:
            bounds += f" or {x} < {self.const(decl.min)}"
        if decl.max is not None:
            bounds += f" or {x} > {self.const(decl.max)}"
        if kind == "integer":
            return [f"if {x}.__class__ is not int{bounds}: raise _SLOW"]
        if kind == "number":
            head = [f"if {x}.__class__ is int:", f"    if {bounds[4:]}: raise _SLOW"] if bounds \
                else [f"if {x}.__class__ is int: pass"]
            return [
                *head,
                f"elif {x}.__class__ is not float or not _isfinite({x}){bounds}: raise _SLOW",
            ]
        if kind == "string":
            return [f"if {x}.__class__ is not str or len({x}) > _MAX_STRING: raise _SLOW"]
        if kind == "enum":
            table = self.const(frozenset(decl.values or ()))
            return [f"if {x}.__class__ is not str or len({x}) > _MAX_STRING "
                    f"or {x} not in {table}: raise _SLOW"]
        if kind == "date":
            return [
                f"if {x}.__class__ is str and len({x}) == 10:",
                "    try:",
                f"        {x} = _fromiso({x})",
                "    except ValueError:",
                "        raise _SLOW from None",
                f"elif {x}.__class__ is not _date: raise _SLOW",
            ]
        decl_name = self.const(decl)
        return [
            "try:",
            f"    {x} = _check_value({decl_name}, {x})",
            "except ValueError:",
            "    raise _SLOW from None",
        ]


def _indent(lines: Iterable[str]) -> list[str]:
    return ["    " + line for line in lines]


# --- the program -----------------------------------------------------------------------------


class Program:
    """A criteria set compiled for fast evaluation. Build it with :func:`compile_set`
    (``koordrules.compile``); programs are cached per set.

    :meth:`evaluate` has the contract of :func:`koordrules.evaluate` and gives equal results.
    """

    def __init__(self, cs: ast.CriteriaSet, *, trace_cache: bool = True) -> None:
        """Compile ``cs``. ``trace_cache=False`` builds every trace node afresh (the cache
        only saves time; results are equal either way)."""
        self.trace_cache = trace_cache
        self.criteria_set = cs
        self.order = evaluation_order(cs)
        layout = _Layout(cs, self.order)
        self._layout = layout
        self.input_names: tuple[str, ...] = tuple(layout.inputs)
        self.criteria_names: tuple[str, ...] = tuple(layout.criteria)
        self.outcome_ids: tuple[str, ...] = tuple(o.id for o in cs.outcomes)
        self._allowed = frozenset(self.input_names)
        self._allowed_with: dict[frozenset[str], frozenset[str] | None] = {}
        self._ref = cs.ref
        self._choices: dict[tuple[Value, ...], tuple[str | None, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self.source = self._generate()
        self._fast_outcome: Callable[..., Any]
        self._core_outcome: Callable[..., Any]
        self._core_values: Callable[..., Any]
        self._fast_inputs: Callable[..., Any]
        namespace = self._namespace()
        code = compile(self.source, f"<koordrules {cs.key}>", "exec")
        exec(code, namespace)  # the source is generated from the checked AST only
        self._fast_outcome = namespace["fast_outcome"]
        self._core_outcome = namespace["core_outcome"]
        self._core_values = namespace["core_values"]
        namespace["_general"] = self._general_outcome
        namespace["_ALLOWED"] = self._allowed
        self.outcome = namespace["outcome"]  # type: ignore[method-assign]
        self._fast_inputs = namespace["fast_inputs"]
        self._prepare_trace()

    # ---- generation ---------------------------------------------------------------------

    def _generate(self) -> str:
        layout = self._layout
        gen = _Gen(layout)
        self._gen = gen
        xs = ", ".join(f"x{i}" for i in range(len(layout.inputs)))
        crits = "{" + "".join(f"{c!r}: c{i}, " for i, c in enumerate(layout.criteria)) + "}"

        body: list[str] = []
        for c in self.order:
            body.append(f"c{layout.criterion_index[c.name]} = {gen.expr(c.expr)}")
        rules = self.criteria_set.rules
        for r, rule in enumerate(rules):
            assert rule.when is not None
            body.append(f"r{r} = {gen.expr(rule.when)}")
            tried = "(" + "".join(f"r{j}, " for j in range(r + 1)) + ")"
            body.append(f"if r{r} is True: return {crits}, {tried}")
        tried = "(" + "".join(f"r{j}, " for j in range(len(rules))) + ")"
        body.append(f"return {crits}, {tried}")

        values: list[str] = []
        done: list[int] = []
        for c in self.order:
            i = layout.criterion_index[c.name]
            root = layout.criterion_roots[i]
            for k in range(len(done), root.top + 1):
                values.append(gen.node_statement(layout.nodes[k]))
                done.append(k)
            values.append(f"c{i} = v{root.top}")
        for r, root in enumerate(layout.rule_roots):
            for k in range(len(done), root.top + 1):
                values.append(gen.node_statement(layout.nodes[k]))
                done.append(k)
            values.append(f"r{r} = v{root.top}")
            vs = "(" + "".join(f"v{k}, " for k in done) + ")"
            tried = "(" + "".join(f"r{j}, " for j in range(r + 1)) + ")"
            values.append(f"if r{r} is True: return {vs}, {crits}, {tried}")
        vs = "(" + "".join(f"v{k}, " for k in done) + ")"
        tried = "(" + "".join(f"r{j}, " for j in range(len(rules))) + ")"
        values.append(f"return {vs}, {crits}, {tried}")

        decided: list[str] = [body_line for body_line in body
                              if body_line.startswith("c")]  # the criteria
        other = self.criteria_set.otherwise.id
        gen.bound = {}  # back to whole expressions (the all-nodes mode bound every node)
        for r, rule in enumerate(rules):
            assert rule.when is not None
            decided += [
                f"r{r} = {gen.expr(rule.when)}",
                f"if r{r} is not False:",
                f"    if r{r} is True: return _tnew(_Outcome, "
                f"({rule.id!r}, ({rule.id!r},), (), {crits}))",
                "    return _general(record, strict, ignore)",
            ]
        decided.append(f"return _tnew(_Outcome, ({other!r}, ({other!r},), (), {crits}))")

        check = gen.validator()
        outcome = [
            "def outcome(record, *, strict=True, ignore=_EMPTY):",
            "    if ignore:",
            "        return _general(record, strict, ignore)",
            "    allowed = _ALLOWED",
            "    try:",
            *_indent(_indent(check)),
            "    except _Slow:",
            "        return _general(record, strict, ignore)",
            *_indent(decided),
        ]
        lines = [*outcome,
                 "def fast_outcome(record, allowed):", *_indent(check), *_indent(body),
                 f"def core_outcome({xs}):", *_indent(body or ["pass"]),
                 f"def core_values({xs}):", *_indent(values),
                 "def fast_inputs(record, allowed):", *_indent(check),
                 f"    return ({''.join(f'x{i}, ' for i in range(len(layout.inputs)))})"]
        return "\n".join(lines) + "\n"

    def _namespace(self) -> dict[str, Any]:
        return {
            "__builtins__": {"len": len, "dict": dict, "int": int, "float": float,
                             "bool": bool, "str": str, "ValueError": ValueError,
                             "KeyError": KeyError},
            "_SLOW": _SLOW,
            "_Slow": _Slow,
            "_EMPTY": frozenset(),
            "_tnew": tuple.__new__,
            "_Outcome": Outcome,
            "_MAX_KEYS": MAX_KEYS,
            "_MAX_STRING": MAX_STRING,
            "_isfinite": math.isfinite,
            "_fromiso": dt.date.fromisoformat,
            "_date": dt.date,
            "_check_value": check_value,
            "_arith": _arith_at,
            "_compare": compare,
            "_member": membership,
            "_kand": kleene_and,
            "_kor": kleene_or,
            **self._gen.consts,
        }

    # ---- inputs -------------------------------------------------------------------------

    def _allowed_for(self, ignore: frozenset[str]) -> frozenset[str] | None:
        """The keys the fast validator accepts, or ``None`` when ``ignore`` hides an input."""
        if not ignore:
            return self._allowed
        found = self._allowed_with.get(ignore, self)
        if found is self:
            found = None if ignore & self._allowed else self._allowed | ignore
            if len(self._allowed_with) < 64:
                self._allowed_with[ignore] = found
        return found  # type: ignore[return-value]

    def _slow_inputs(self, record: Mapping[str, Any], strict: bool,
                     ignore: frozenset[str]) -> tuple[tuple[Value, ...], list[str]]:
        inputs, warnings = validate_record(self.criteria_set, record, strict=strict,
                                           ignore=ignore)
        return tuple(inputs.get(n) for n in self.input_names), warnings

    def inputs(self, record: Mapping[str, Any], *, strict: bool = True,
               ignore: frozenset[str] = frozenset()) -> tuple[tuple[Value, ...], list[str]]:
        """The validated input values in declaration order, and the warnings."""
        allowed = self._allowed_for(ignore)
        if allowed is not None:
            try:
                return self._fast_inputs(record, allowed), []
            except _Slow:
                pass
        return self._slow_inputs(record, strict, ignore)

    # ---- outcome-only -------------------------------------------------------------------

    def _choose(self, tried: tuple[Value, ...]) -> tuple[str | None, tuple[str, ...]]:
        found = self._choices.get(tried)
        if found is None:
            found = choose(self.criteria_set, list(tried))
            if len(self._choices) < _CHOICE_CACHE_LIMIT:
                self._choices[tried] = found
        return found

    def _missing(self, values: tuple[Value, ...], tried: int) -> tuple[str, ...]:
        """The interpreter's ``unknown_inputs`` over the unknown rules tried."""
        layout = self._layout
        nodes = layout.nodes
        memo: dict[int, set[int]] = {}

        def drivers(k: int) -> set[int]:
            n = nodes[k]
            if values[k] is not None:
                return set()
            if n.input is not None:
                return {n.input}
            if n.criterion is not None:
                if n.criterion not in memo:
                    memo[n.criterion] = set()
                    memo[n.criterion] = drivers(layout.criterion_roots[n.criterion].top)
                return memo[n.criterion]
            out: set[int] = set()
            for kid in n.kids:
                out |= drivers(kid)
            return out

        found: set[int] = set()
        for root in layout.rule_roots[:tried]:
            if values[root.top] is None:
                found |= drivers(root.top)
        return tuple(sorted(layout.inputs[i] for i in found))

    def _run(self, record: Mapping[str, Any], strict: bool, ignore: frozenset[str]
             ) -> tuple[tuple[Value, ...], tuple[Value, ...], list[str], str | None,
                        tuple[str, ...], tuple[str, ...]]:
        """Outcome-only evaluation: criteria values, rule values tried, warnings, outcome,
        possible outcomes, missing."""
        allowed = self._allowed if not ignore else self._allowed_for(ignore)
        warnings: list[str] = []
        xs: tuple[Value, ...] | None = None
        if allowed is not None:
            try:
                crit, tried = self._fast_outcome(record, allowed)
            except _Slow:
                xs, warnings = self._slow_inputs(record, strict, ignore)
                crit, tried = self._core_outcome(*xs)
        else:
            xs, warnings = self._slow_inputs(record, strict, ignore)
            crit, tried = self._core_outcome(*xs)
        choice = self._choices.get(tried)
        if choice is None:
            choice = self._choose(tried)
        outcome, possible = choice
        if outcome is None:
            if xs is None:
                xs = self.inputs(record, strict=strict, ignore=ignore)[0]
            values, _, tried = self._core_values(*xs)
            return crit, tried, warnings, None, possible, self._missing(values, len(tried))
        return crit, tried, warnings, outcome, possible, ()

    def _general_outcome(self, record: Mapping[str, Any], strict: bool,
                         ignore: frozenset[str]) -> Outcome:
        crit, _, _, outcome, possible, missing = self._run(record, strict, ignore)
        return _new_outcome((outcome, possible, missing, crit))

    def outcome(self, record: Mapping[str, Any], *, strict: bool = True,
                ignore: frozenset[str] = frozenset()) -> Outcome:
        """Outcome-only evaluation of one record: outcome, possible outcomes, the inputs that
        would decide an undecided outcome, and each criterion's value; no trace is built.
        Invalid records raise :class:`~koordrules.errors.InputError` (``strict=False``:
        the bad values count as unknown, and the warnings are dropped)."""
        if not ignore:
            try:
                crit, tried = self._fast_outcome(record, self._allowed)
                choice = self._choices.get(tried)
                if choice is not None and choice[0] is not None:
                    return _new_outcome((choice[0], choice[1], (), crit))
            except _Slow:
                pass
        crit, _, _, outcome, possible, missing = self._run(record, strict, ignore)
        return _new_outcome((outcome, possible, missing, crit))

    # ---- evaluate -----------------------------------------------------------------------

    def evaluate(
        self,
        record: Mapping[str, Any],
        *,
        strict: bool = True,
        trace: bool = True,
        redact: bool = False,
        ignore: frozenset[str] = frozenset(),
    ) -> Result:
        """Evaluate ``record``; the contract and the result of :func:`koordrules.evaluate`."""
        if not trace:
            crit, _, warnings, outcome, possible, missing = self._run(record, strict, ignore)
            return _new_result({
                "criteria_set": self._ref,
                "outcome": outcome,
                "possible_outcomes": possible,
                "missing": missing,
                "criteria": crit,
                "warnings": tuple(warnings),
                "trace": None,
            })
        xs, warnings = self.inputs(record, strict=strict, ignore=ignore)
        return self._traced(xs, warnings, redact)

    def traces(self, data: Any, *, strict: bool = True, redact: bool = False,
               ignore: frozenset[str] = frozenset()) -> Iterator[Result]:
        """Traced results for each record of ``data`` (anything
        :func:`koordrules.backends.iter_records` reads), produced one at a time: nothing
        is kept once the caller drops a result."""
        from koordrules.backends import iter_records

        for record in iter_records(data, self.criteria_set, strict=strict):
            yield self.evaluate(record, strict=strict, trace=True, redact=redact, ignore=ignore)

    def evaluate_batch(self, data: Any, *, backend: str = "python", strict: bool = True,
                       ignore: frozenset[str] = frozenset()) -> Table:
        """Outcome-only evaluation of a cohort: one row per record with the outcome, each
        criterion's value and ``missing``. See :mod:`koordrules.backends`."""
        from koordrules.backends import evaluate_batch

        return evaluate_batch(self, data, backend=backend, strict=strict, ignore=ignore)

    def sql(self, *, dialect: str = "duckdb", table: str = "records") -> str:
        """The set as one SQL query over ``table`` (see :mod:`koordrules.backends.sql`)."""
        from koordrules.backends.sql import to_sql

        return str(to_sql(self.criteria_set, dialect=dialect, table=table))

    # ---- the trace ----------------------------------------------------------------------

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
            chosen: _new_rule({"outcome": other.id, "title": other.title,
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
        node = _new_node({
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
        return _new_result({
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
                found = self._remember(wrapped, (i, id(tree)), _new_criterion({
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
                found = self._remember(wrapped, (-1 - r, id(tree), chosen), _new_rule({
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
        trace = _new_trace({"criteria": tuple(crit_traces), "rules": tuple(rules),
                            "sentence": sentence, "redacted": redact, **self._trace_extra})
        return trace, crit_values, outcome, possible, missing

    @staticmethod
    def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
        """Store in a bounded cache (emptied when full: cheaper than evicting one by one)."""
        if len(cache) >= _TRACE_CACHE_LIMIT:
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


_PROGRAMS: dict[int, tuple[ast.CriteriaSet, Program]] = {}
_PROGRAMS_LIMIT = 64
_PROGRAMS_LOCK = threading.Lock()


def compile_set(cs: ast.CriteriaSet) -> Program:
    """The compiled :class:`Program` of a loaded, checked set (cached per set object)."""
    found = _PROGRAMS.get(id(cs))
    if found is not None and found[0] is cs:
        return found[1]
    program = Program(cs)
    with _PROGRAMS_LOCK:
        if len(_PROGRAMS) >= _PROGRAMS_LIMIT:
            _PROGRAMS.pop(next(iter(_PROGRAMS)))
        _PROGRAMS[id(cs)] = (cs, program)
    return program



_UNCOMPILABLE: dict[int, ast.CriteriaSet] = {}


def compiled_or_none(cs: ast.CriteriaSet) -> Program | None:
    """The compiled program of ``cs``, or ``None`` when it cannot be compiled (a set that was
    not checked, or an expression too deep for Python's compiler); callers then use the
    interpreter."""
    if _UNCOMPILABLE.get(id(cs)) is cs:
        return None
    try:
        return compile_set(cs)
    except (KoordError, SyntaxError, RecursionError, MemoryError):
        if len(_UNCOMPILABLE) >= _PROGRAMS_LIMIT:
            _UNCOMPILABLE.clear()
        _UNCOMPILABLE[id(cs)] = cs
        return None
