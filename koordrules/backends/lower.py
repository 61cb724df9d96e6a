"""Lowering a checked criteria set to column expressions, for the vectorised backends.

One walk over the syntax tree, written once against :class:`Ops` (the primitives a column
engine offers), gives each criterion, each rule, the outcome and the ``missing`` inputs as
expressions of the engine: polars (:mod:`koordrules.backends.polars`) or SQL through sqlglot
(:mod:`koordrules.backends.sql`). The engines' ``AND``/``OR``/``NOT`` are Kleene's on nulls
and comparisons with a null are null, which is the interpreter's three-valued logic.

Durations are carried as (whole months, a day-count expression): months only ever come from
literals, days from date differences. ``missing`` uses the interpreter's rule: an unknown
node's drivers are the union of its unknown children's drivers; inputs are the leaves.

Not expressible here (:class:`~koordrules.backends.UnsupportedError`): list values other than
as the right side of ``in`` or the argument of ``length``, comparing lists, and the
single-list forms of ``any``/``all``/``at_least``/``count_true``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from koordrules import ast
from koordrules.backends import UnsupportedError
from koordrules.check import environment, evaluation_order
from koordrules.typecheck import infer
from koordrules.values import Duration

E = TypeVar("E")

MONTH_DAYS = 30.436875
"""Days in a month when durations are ordered (:meth:`koordrules.values.Duration.approx_days`)."""


class Ops(Generic[E]):
    """The primitives a column engine provides. ``when`` treats a null condition as false."""

    def lit(self, value: Any) -> E:
        raise NotImplementedError

    def null(self) -> E:
        raise NotImplementedError

    def col(self, name: str) -> E:
        raise NotImplementedError

    def criterion(self, index: int) -> E:
        """The value of criterion ``index`` (computed in an earlier stage)."""
        raise NotImplementedError

    def rule(self, index: int) -> E:
        """The value of rule ``index`` (computed in an earlier stage)."""
        raise NotImplementedError

    def is_null(self, e: E) -> E:
        raise NotImplementedError

    def not_(self, e: E) -> E:
        raise NotImplementedError

    def and_(self, es: Sequence[E]) -> E:
        raise NotImplementedError

    def or_(self, es: Sequence[E]) -> E:
        raise NotImplementedError

    def compare(self, op: str, a: E, b: E) -> E:
        raise NotImplementedError

    def arith(self, op: str, a: E, b: E) -> E:
        """``+ - *`` on numbers; ``/`` is true division, null for a zero divisor."""
        raise NotImplementedError

    def neg(self, e: E) -> E:
        raise NotImplementedError

    def to_float(self, e: E) -> E:
        raise NotImplementedError

    def when(self, cases: Sequence[tuple[E, E]], otherwise: E) -> E:
        raise NotImplementedError

    def count_true(self, es: Sequence[E]) -> E:
        """How many of ``es`` are true (nulls count as not true); never null."""
        raise NotImplementedError

    def coalesce(self, es: Sequence[E]) -> E:
        raise NotImplementedError

    def date_diff_days(self, a: E, b: E) -> E:
        """``a - b`` in days."""
        raise NotImplementedError

    def add_months(self, d: E, months: int) -> E:
        """Calendar months, clamped to the month's end."""
        raise NotImplementedError

    def add_days(self, d: E, days: E) -> E:
        raise NotImplementedError

    def list_contains(self, lst: E, item: E) -> E:
        raise NotImplementedError

    def list_has_null(self, lst: E) -> E:
        raise NotImplementedError

    def list_len(self, lst: E) -> E:
        raise NotImplementedError

    def names(self, flags: Sequence[tuple[E, str]]) -> E:
        """The list of the names whose flag is true, in the given order."""
        raise NotImplementedError


@dataclass(frozen=True)
class Val(Generic[E]):
    """A lowered value: a scalar expression, a duration (months, days expression) or a
    list literal (its items)."""

    expr: E | None
    months: int | None = None
    items: tuple[Val[E], ...] | None = None

    @property
    def is_duration(self) -> bool:
        return self.months is not None


@dataclass
class Lowered(Generic[E]):
    """A set as engine expressions."""

    criteria: list[tuple[int, str, E]]
    """(index in ``cs.criteria``, name, expression) in evaluation order; an expression refers
    to earlier criteria through ``Ops.criterion``."""
    rules: list[E]
    """Each rule's condition (referring to criteria)."""
    outcome: E
    """Refers to the rules through ``Ops.rule``."""
    missing: E
    """Refers to inputs, criteria and rules."""
    missing_flags: list[tuple[E, str]]
    """Per input (sorted by name): whether it is in ``missing`` (never null)."""


class Lowering(Generic[E]):
    def __init__(self, cs: ast.CriteriaSet, ops: Ops[E]) -> None:
        self.cs = cs
        self.ops = ops
        self.env = environment(cs)
        self.inputs = {d.name: d for d in cs.inputs}
        self.params = {p.name: p.value for p in cs.parameters}
        self.criterion_index = {c.name: i for i, c in enumerate(cs.criteria)}
        self.criterion_expr = {c.name: c.expr for c in cs.criteria}
        self.order = list(evaluation_order(cs))
        self.values: dict[int, Val[E]] = {}  # id(node) -> lowered value (for missing)
        self.columns: dict[int, E] = {}  # id(root node) -> its criterion or rule column

    # ---- values ---------------------------------------------------------------------

    def unsupported(self, node: ast.Expr, what: str) -> UnsupportedError:
        return UnsupportedError(f"{what} cannot be evaluated by this backend; use the python "
                                "backend", span=node.span)

    def const(self, value: Any) -> Val[E]:
        if isinstance(value, Duration):
            return Val(self.ops.lit(value.days), months=value.months)
        return Val(self.ops.lit(value))

    def scalar(self, node: ast.Expr) -> E:
        v = self.value(node)
        if v.is_duration or v.items is not None or v.expr is None:
            raise self.unsupported(node, "a duration or list here")
        return v.expr

    def value(self, node: ast.Expr) -> Val[E]:
        v = self._value(node)
        self.values[id(node)] = v
        return v

    def _value(self, node: ast.Expr) -> Val[E]:
        ops = self.ops
        match node:
            case ast.BooleanLiteral() | ast.NumberLiteral() | ast.StringLiteral():
                return self.const(node.value)
            case ast.DateLiteral():
                return self.const(node.value)
            case ast.DurationLiteral(amount=amount, unit=unit):
                return self.const(Duration.of(amount, unit))
            case ast.Name(name=name):
                if name in self.inputs:
                    return Val(ops.col(name))
                if name in self.params:
                    return self.const(self.params[name])
                return Val(ops.criterion(self.criterion_index[name]))
            case ast.ListExpr(items=items):
                return Val(None, items=tuple(self.value(i) for i in items))
            case ast.Not(operand=o):
                return Val(ops.not_(self.scalar(o)))
            case ast.Negate(operand=o):
                v = self.value(o)
                if v.is_duration:
                    assert v.expr is not None and v.months is not None
                    return Val(ops.neg(v.expr), months=-v.months)
                return Val(ops.neg(self.scalar(o)))
            case ast.And(operands=ops_):
                return Val(ops.and_([self.scalar(o) for o in ops_]))
            case ast.Or(operands=ops_):
                return Val(ops.or_([self.scalar(o) for o in ops_]))
            case ast.Compare(op=op, left=a, right=b):
                return Val(self.compare(node, op, a, b))
            case ast.Arith(op=op, left=a, right=b):
                return self.arith(node, op, a, b)
            case ast.In(item=item, container=container, negated=negated):
                found = self.membership(node, item, container)
                return Val(ops.not_(found) if negated else found)
            case ast.Call(function=fn, args=args):
                return Val(self.call(node, fn, args))
        raise self.unsupported(node, node.kind)  # pragma: no cover - the AST is closed

    def type_name(self, node: ast.Expr) -> str:
        return infer(node, self.env)[0].name

    def compare(self, node: ast.Expr, op: str, a: ast.Expr, b: ast.Expr) -> E:
        ops = self.ops
        va, vb = self.value(a), self.value(b)
        if va.items is not None or vb.items is not None or self.type_name(a) == "list":
            raise self.unsupported(node, "comparing lists")
        if va.is_duration or vb.is_duration:
            assert va.expr is not None and vb.expr is not None
            assert va.months is not None and vb.months is not None
            if op in ("==", "!="):
                either_null = ops.or_([ops.is_null(va.expr), ops.is_null(vb.expr)])
                if va.months != vb.months:
                    return ops.when([(either_null, ops.null())], ops.lit(op == "!="))
                return ops.compare(op, va.expr, vb.expr)
            return ops.compare(op, self.approx_days(va), self.approx_days(vb))
        assert va.expr is not None and vb.expr is not None
        return ops.compare(op, va.expr, vb.expr)

    def approx_days(self, v: Val[E]) -> E:
        assert v.expr is not None and v.months is not None
        return self.ops.arith("+", self.ops.lit(v.months * MONTH_DAYS), self.ops.to_float(v.expr))

    def arith(self, node: ast.Expr, op: str, a: ast.Expr, b: ast.Expr) -> Val[E]:
        ops = self.ops
        ta, tb = self.type_name(a), self.type_name(b)
        if ta == "number" and tb == "number":
            return Val(ops.arith(op, self.scalar(a), self.scalar(b)))
        va, vb = self.value(a), self.value(b)
        if ta == "date" and tb == "date":
            assert va.expr is not None and vb.expr is not None
            return Val(ops.date_diff_days(va.expr, vb.expr), months=0)
        if ta == "date" and vb.is_duration:
            return Val(self.shift(va, vb, negative=op == "-"))
        if va.is_duration and tb == "date":
            return Val(self.shift(vb, va, negative=False))
        if va.is_duration and vb.is_duration:
            assert va.expr is not None and vb.expr is not None
            assert va.months is not None and vb.months is not None
            sign = -1 if op == "-" else 1
            return Val(ops.arith(op, va.expr, vb.expr), months=va.months + sign * vb.months)
        raise self.unsupported(node, f"{ta} {op} {tb}")

    def shift(self, day: Val[E], duration: Val[E], *, negative: bool) -> E:
        """``day`` plus ``duration``: months first (clamped), then days."""
        ops = self.ops
        assert day.expr is not None and duration.expr is not None
        assert duration.months is not None
        months = -duration.months if negative else duration.months
        days = ops.neg(duration.expr) if negative else duration.expr
        moved = ops.add_months(day.expr, months) if months else day.expr
        return ops.add_days(moved, days)

    def membership(self, node: ast.Expr, item: ast.Expr, container: ast.Expr) -> E:
        ops = self.ops
        x = self.scalar(item)
        c = self.value(container)
        if c.items is not None:
            if not c.items:
                return ops.when([(ops.is_null(x), ops.null())], ops.lit(False))
            equal = []
            for e in c.items:
                if e.is_duration or e.items is not None or e.expr is None:
                    raise self.unsupported(node, "'in' over durations or lists")
                equal.append(ops.compare("==", e.expr, x))
            return ops.or_(equal)
        lst = self.scalar(container)
        return ops.when(
            [(ops.or_([ops.is_null(x), ops.is_null(lst)]), ops.null()),
             (ops.list_contains(lst, x), ops.lit(True)),
             (ops.list_has_null(lst), ops.null())],
            ops.lit(False))

    def call(self, node: ast.Expr, fn: str, args: Sequence[ast.Expr]) -> E:
        ops = self.ops
        single_bool = len(args) == 1 and self.type_name(args[0]) == "boolean"
        if fn in ("any", "all", "count_true"):
            if not (len(args) >= 2 or single_bool):
                raise self.unsupported(node, f"{fn}() of a list")
            xs = [self.scalar(a) for a in args]
            if fn == "any":
                return ops.or_(xs)
            if fn == "all":
                return ops.and_(xs)
            return ops.when([(ops.or_([ops.is_null(x) for x in xs]), ops.null())],
                            ops.count_true(xs))
        if fn == "is_known":
            v = self.value(args[0])
            if v.items is not None:
                return ops.lit(True)
            assert v.expr is not None
            return ops.not_(ops.is_null(v.expr))
        if fn == "coalesce":
            return ops.coalesce([self.scalar(a) for a in args])
        if fn == "length":
            v = self.value(args[0])
            if v.items is not None:
                return ops.lit(len(v.items))
            lst = self.scalar(args[0])
            return ops.when([(ops.is_null(lst), ops.null())], ops.list_len(lst))
        if fn == "at_least":
            conds = args[1:]
            if not (len(conds) >= 2 or (len(conds) == 1 and self.type_name(conds[0]) == "boolean")):
                raise self.unsupported(node, "at_least() of a list")
            n = self.scalar(args[0])
            xs = [self.scalar(a) for a in conds]
            if len(xs) == 1:
                x = xs[0]
                return ops.when(
                    [(ops.is_null(n), ops.null()),
                     (ops.is_null(x), ops.when([(ops.compare("<=", n, ops.lit(0)),
                                                 ops.lit(True))], ops.null())),
                     (ops.compare(">=", ops.count_true(xs), n), ops.lit(True))],
                    ops.lit(False))
            true = ops.count_true(xs)
            unknown = ops.count_true([ops.is_null(x) for x in xs])
            return ops.when(
                [(ops.is_null(n), ops.null()),
                 (ops.compare(">=", true, n), ops.lit(True)),
                 (ops.compare("<", ops.arith("+", true, unknown), n), ops.lit(False))],
                ops.null())
        raise self.unsupported(node, f"{fn}()")

    # ---- the whole set ------------------------------------------------------------------

    def lower(self) -> Lowered[E]:
        ops = self.ops
        criteria = []
        for c in self.order:
            i = self.criterion_index[c.name]
            criteria.append((i, c.name, self.scalar(c.expr)))
            self.columns[id(c.expr)] = ops.criterion(i)
        rules = []
        for r, rule in enumerate(self.cs.rules):
            assert rule.when is not None
            rules.append(self.scalar(rule.when))
            self.columns[id(rule.when)] = ops.rule(r)
        cases: list[tuple[E, E]] = []
        for r, rule in enumerate(self.cs.rules):
            cases.append((ops.is_null(ops.rule(r)), ops.null()))
            cases.append((ops.rule(r), ops.lit(rule.id)))
        outcome = ops.when(cases, ops.lit(self.cs.otherwise.id)) if cases \
            else ops.lit(self.cs.otherwise.id)
        flags = self.missing_flags()
        return Lowered(criteria=criteria, rules=rules, outcome=outcome,
                       missing=ops.names(flags), missing_flags=flags)

    def missing_flags(self) -> list[tuple[E, str]]:
        """The inputs that would decide an undecided outcome, as the interpreter finds them
        (``Interpreter.unknown_inputs`` over the unknown rules tried). A rule is tried when
        no rule before it is true; the outcome is undecided exactly when a rule tried is
        unknown, and then each such rule's drivers count."""
        ops = self.ops
        flags: list[tuple[E, str]] = []
        for name in sorted(self.inputs):
            terms = []
            tried: list[E] = []
            for r, rule in enumerate(self.cs.rules):
                assert rule.when is not None
                drivers = self.drivers(rule.when, name, {})
                if drivers is not None:
                    terms.append(ops.and_([*tried, drivers]) if tried else drivers)
                value = ops.rule(r)
                tried.append(ops.or_([ops.is_null(value), ops.not_(value)]))
            if terms:
                flags.append((ops.or_(terms) if len(terms) > 1 else terms[0], name))
        return flags

    def drivers(self, node: ast.Expr, name: str, seen: dict[str, E | None]) -> E | None:
        """Whether input ``name`` drives ``node`` being unknown (``None``: never)."""
        if name not in self.reads(node):
            return None
        ops = self.ops
        if isinstance(node, ast.Name):
            if node.name == name:
                return ops.is_null(ops.col(name))
            if node.name in self.criterion_index:
                if node.name not in seen:
                    seen[node.name] = None
                    seen[node.name] = self.drivers(self.criterion_expr[node.name], name, seen)
                return seen[node.name]
            return None
        v = self.values[id(node)]
        if v.items is not None or v.expr is None:
            return None  # a list literal is never unknown
        kids = [d for k in ast.children(node)
                if (d := self.drivers(k, name, seen)) is not None]
        if not kids:
            return None
        own = self.columns.get(id(node), v.expr)
        return ops.and_([ops.is_null(own), ops.or_(kids) if len(kids) > 1 else kids[0]])

    def reads(self, node: ast.Expr) -> set[str]:
        out: set[str] = set()
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                if n.name in self.inputs:
                    out.add(n.name)
                elif n.name in self.criterion_expr:
                    out |= self.reads(self.criterion_expr[n.name])
        return out


def lower(cs: ast.CriteriaSet, ops: Ops[E]) -> Lowered[E]:
    """The set's criteria, rules, outcome and ``missing`` as expressions of ``ops``."""
    return Lowering(cs, ops).lower()



def levels(cs: ast.CriteriaSet) -> list[list[str]]:
    """Criteria names grouped so each group only uses criteria of earlier groups."""
    names = {c.name for c in cs.criteria}
    level: dict[str, int] = {}
    for c in evaluation_order(cs):
        deps = ast.names(c.expr) & names
        level[c.name] = 1 + max((level[d] for d in deps), default=-1)
    groups: list[list[str]] = [[] for _ in range(1 + max(level.values(), default=-1))]
    for c in evaluation_order(cs):
        groups[level[c.name]].append(c.name)
    return groups
