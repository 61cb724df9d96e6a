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
as the right side of ``in``, the argument of ``length`` or the one list of
``any``/``all``/``at_least``/``count_true``, and comparing lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic

from koordrules import ast
from koordrules.backends import UnsupportedError
from koordrules.backends.ops import MONTH_DAYS, E, Lowered, Ops, Val, balanced
from koordrules.check import environment, evaluation_order
from koordrules.names import require_good_names
from koordrules.typecheck import infer
from koordrules.values import Duration

__all__ = ["Lowered", "Lowering", "Ops", "Val", "balanced", "levels", "lower"]

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
        self._ints: dict[int, bool] = {}  # id(node) -> whether it is an int64 value
        self._reads: dict[int, frozenset[str]] = {}  # id(node) -> the inputs it reads
        self.shared: list[E] = []  # subexpressions several flags test (Ops.shared)
        self._shared: dict[int, E] = {}  # id(node) -> its shared column

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
                if self.is_int(o):
                    return Val(ops.int_arith("-", ops.lit(0), self.scalar(o)))
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
            case ast.If(condition=c, then=a, else_=b):
                cond = self.scalar(c)
                if self.type_name(a) == "number" and self.type_name(b) == "number":
                    x, y = self.numbers(a, b)
                else:
                    x, y = self.scalar(a), self.scalar(b)
                return Val(ops.when([(cond, x), (ops.not_(cond), y)], ops.null()))
            case ast.Implies(left=a, right=b):
                return Val(ops.or_([ops.not_(self.scalar(a)), self.scalar(b)]))
            case ast.Xor(left=a, right=b):
                return Val(ops.compare("!=", self.scalar(a), self.scalar(b)))
            case ast.Between(operand=x, low=low, high=high):
                return Val(ops.and_([self.compare(node, ">=", x, low),
                                     self.compare(node, "<=", x, high)]))
        raise self.unsupported(node, node.kind)  # pragma: no cover - the AST is closed

    def type_name(self, node: ast.Expr) -> str:
        return infer(node, self.env)[0].name

    def is_int(self, node: ast.Expr) -> bool:
        """Whether ``node`` is an int64 value (integers stay exact; any other number is a
        binary64)."""
        key = id(node)
        if key not in self._ints:
            self._ints[key] = self._is_int(node)
        return self._ints[key]

    def _is_int(self, node: ast.Expr) -> bool:
        match node:
            case ast.NumberLiteral(value=v):
                return isinstance(v, int) and not isinstance(v, bool)
            case ast.Name(name=name):
                if name in self.inputs:
                    return self.inputs[name].type == "integer"
                param = self.params.get(name)
                return isinstance(param, int) and not isinstance(param, bool)
            case ast.Negate(operand=o):
                return self.is_int(o)
            case ast.If(then=a, else_=b):
                return self.is_int(a) and self.is_int(b)
            case ast.Arith(op=op, left=a, right=b):
                return op != "/" and self.is_int(a) and self.is_int(b)
            case ast.Call(function=fn, args=args):
                if fn in ("length", "count_true", "years_between", "months_between",
                          "days_between"):
                    return True
                return fn == "coalesce" and all(self.is_int(a) for a in args)
        return False

    def numbers(self, a: ast.Expr, b: ast.Expr) -> tuple[E, E]:
        """Two numbers as expressions, the integer one as a binary64 when the other is not
        an integer (mixed arithmetic and comparison are binary64)."""
        x, y = self.scalar(a), self.scalar(b)
        ia, ib = self.is_int(a), self.is_int(b)
        if ia and not ib:
            x = self.ops.to_float(x)
        if ib and not ia:
            y = self.ops.to_float(y)
        return x, y

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
        if self.type_name(a) == "number" and self.type_name(b) == "number":
            return ops.compare(op, *self.numbers(a, b))
        return ops.compare(op, va.expr, vb.expr)

    def approx_days(self, v: Val[E]) -> E:
        assert v.expr is not None and v.months is not None
        return self.ops.arith("+", self.ops.lit(v.months * MONTH_DAYS), self.ops.to_float(v.expr))

    def arith(self, node: ast.Expr, op: str, a: ast.Expr, b: ast.Expr) -> Val[E]:
        ops = self.ops
        ta, tb = self.type_name(a), self.type_name(b)
        if ta == "number" and tb == "number":
            if op != "/" and self.is_int(a) and self.is_int(b):
                return Val(ops.int_arith(op, self.scalar(a), self.scalar(b)))
            return Val(ops.finite(ops.arith(op, *self.numbers(a, b))))
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
        return ops.in_date_range(ops.add_days(moved, days))

    def constant(self, node: ast.Expr) -> tuple[bool, Any]:
        """``(True, value)`` for a literal or parameter that is a plain value."""
        match node:
            case ast.BooleanLiteral() | ast.NumberLiteral() | ast.StringLiteral() \
                    | ast.DateLiteral():
                return True, node.value
            case ast.Name(name=name) if name in self.params:
                return True, self.params[name]
        return False, None

    def membership(self, node: ast.Expr, item: ast.Expr, container: ast.Expr) -> E:
        ops = self.ops
        x = self.scalar(item)
        c = self.value(container)
        number = self.type_name(item) == "number"
        if c.items is not None:
            if not c.items:
                return ops.when([(ops.is_null(x), ops.null())], ops.lit(False))
            assert isinstance(container, ast.ListExpr)
            consts = [self.constant(e) for e in container.items]
            if all(ok for ok, _ in consts):
                values = [v for _, v in consts]
                if number and not (self.is_int(item) and all(
                        isinstance(v, int) and not isinstance(v, bool) for v in values)):
                    x = ops.to_float(x) if self.is_int(item) else x
                    values = [float(v) for v in values]
                return ops.is_in(x, values)
            equal = []
            for e, v in zip(container.items, c.items, strict=True):
                if v.is_duration or v.items is not None or v.expr is None:
                    raise self.unsupported(node, "'in' over durations or lists")
                equal.append(ops.compare("==", *self.numbers(e, item)) if number
                             else ops.compare("==", v.expr, x))
            return ops.or_(equal)
        lst = self.scalar(container)
        if number:
            decl = self.inputs.get(container.name) if isinstance(container, ast.Name) else None
            int_items = decl is not None and decl.items == "integer"
            if self.is_int(item) and not int_items:
                x = ops.to_float(x)
            elif int_items and not self.is_int(item):
                lst = ops.list_to_float(lst)
        return ops.when(
            [(ops.or_([ops.is_null(x), ops.is_null(lst)]), ops.null()),
             (ops.list_contains(lst, x), ops.lit(True)),
             (ops.list_has_null(lst), ops.null())],
            ops.lit(False))

    def call(self, node: ast.Expr, fn: str, args: Sequence[ast.Expr]) -> E:
        ops = self.ops
        if fn in ("any", "all", "count_true", "at_least"):
            n = self.scalar(args[0]) if fn == "at_least" else None
            conds = args[1:] if fn == "at_least" else args
            if len(conds) == 1 and self.type_name(conds[0]) != "boolean":
                return self.over_list(node, fn, n, conds[0])
            xs = [self.scalar(a) for a in conds]
            if n is not None and len(xs) == 1:  # one unknown condition: only n <= 0 decides
                x = xs[0]
                return ops.when(
                    [(ops.is_null(n), ops.null()),
                     (ops.is_null(x), ops.when([(ops.compare("<=", n, ops.lit(0)),
                                                 ops.lit(True))], ops.null())),
                     (ops.compare(">=", ops.count_true(xs), n), ops.lit(True))],
                    ops.lit(False))
            return self.counted(fn, n, xs)
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
        if fn == "starts_with":
            return ops.starts_with(self.scalar(args[0]), self.scalar(args[1]))
        if fn in ("years_between", "months_between", "days_between"):
            start, end = self.scalar(args[0]), self.scalar(args[1])
            if fn == "days_between":
                return ops.date_diff_days(end, start)
            return self.calendar_between(start, end, 12 if fn == "years_between" else 1)
        raise self.unsupported(node, f"{fn}()")

    def counted(self, fn: str, n: E | None, xs: Sequence[E]) -> E:
        """``any``/``all``/``count_true``/``at_least(n, …)`` of conditions ``xs`` (Kleene)."""
        ops = self.ops
        if fn == "any":
            return ops.or_(xs) if xs else ops.lit(False)
        if fn == "all":
            return ops.and_(xs) if xs else ops.lit(True)
        true = ops.count_true(xs) if xs else ops.lit(0)
        if fn == "count_true":
            return ops.when([(ops.or_([ops.is_null(x) for x in xs]), ops.null())], true) \
                if xs else true
        assert n is not None
        unknown = ops.count_true([ops.is_null(x) for x in xs]) if xs else ops.lit(0)
        return self.reached(n, true, unknown)

    def reached(self, n: E, true: E, unknown: E) -> E:
        """``at_least``: true once ``n`` are true, false once ``n`` cannot be reached."""
        ops = self.ops
        return ops.when(
            [(ops.is_null(n), ops.null()),
             (ops.compare(">=", true, n), ops.lit(True)),
             (ops.compare("<", ops.arith("+", true, unknown), n), ops.lit(False))],
            ops.null())

    def over_list(self, node: ast.Expr, fn: str, n: E | None, arg: ast.Expr) -> E:
        """The form over one list of booleans (``any(flags)``), with the reference's rules
        (:mod:`koordrules.operators.functions`): an unknown list is unknown, except that
        ``at_least`` of a count <= 0 is true; unknown items count as unknown conditions.
        A list literal is the form over its items."""
        ops = self.ops
        v = self.value(arg)
        if v.items is not None:
            return self.counted(fn, n, [self._item(node, item) for item in v.items])
        lst = self.scalar(arg)
        absent = ops.is_null(lst)
        if fn in ("any", "all"):
            decides = fn == "any"  # a true item decides any, a false one all
            return ops.when([(absent, ops.null()),
                             (ops.list_contains(lst, ops.lit(decides)), ops.lit(decides)),
                             (ops.list_has_null(lst), ops.null())], ops.lit(not decides))
        true = ops.list_count(lst, True)
        if fn == "count_true":
            return ops.when([(absent, ops.null()), (ops.list_has_null(lst), ops.null())], true)
        assert n is not None
        return ops.when(
            [(ops.is_null(n), ops.null()),
             (absent, ops.when([(ops.compare("<=", n, ops.lit(0)), ops.lit(True))],
                               ops.null()))],
            self.reached(n, true, ops.list_count(lst, None)))

    def _item(self, node: ast.Expr, item: Val[E]) -> E:
        if item.is_duration or item.items is not None or item.expr is None:
            raise self.unsupported(node, "a duration or list here")
        return item.expr

    def calendar_between(self, start: E, end: E, per: int) -> E:
        """Whole months (``per=1``) or years (``per=12``) from ``start`` to ``end``: the
        largest ``n`` with ``start + n months <= end`` (month ends clamped), negative when
        ``end`` is earlier (:func:`koordrules.operators.reference.whole_months_between`)."""
        ops = self.ops

        def forward(a: E, b: E) -> E:  # for b >= a
            year, month, day = (ops.date_part(a, p) for p in ("year", "month", "day"))
            year2, month2, day2 = (ops.date_part(b, p) for p in ("year", "month", "day"))
            n = ops.arith("+", ops.arith("*", ops.arith("-", year2, year), ops.lit(12)),
                          ops.arith("-", month2, month))
            month_end = ops.compare("==", ops.date_part(ops.add_days(b, ops.lit(1)), "day"),
                                    ops.lit(1))
            short = ops.and_([ops.compare(">", n, ops.lit(0)), ops.compare(">", day, day2),
                              ops.not_(month_end)])
            whole = ops.when([(short, ops.arith("-", n, ops.lit(1)))], n)
            return ops.int_div(whole, per) if per > 1 else whole

        later = ops.compare(">=", end, start)
        return ops.when([(ops.or_([ops.is_null(start), ops.is_null(end)]), ops.null()),
                         (later, forward(start, end))],
                        ops.neg(forward(end, start)))

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
        indexes: list[tuple[E, E]] = []
        for r, rule in enumerate(self.cs.rules):
            cases.append((ops.is_null(ops.rule(r)), ops.null()))
            cases.append((ops.rule(r), ops.lit(rule.id)))
            indexes.append((ops.is_null(ops.rule(r)), ops.null()))
            indexes.append((ops.rule(r), ops.lit(r)))
        outcome = ops.when(cases, ops.lit(self.cs.otherwise.id)) if cases \
            else ops.lit(self.cs.otherwise.id)
        count = len(self.cs.rules)
        index = ops.when(indexes, ops.lit(count)) if indexes else ops.lit(0)
        first = ops.when([(ops.rule(r), ops.lit(r)) for r in range(count)], ops.lit(count)) \
            if count else ops.lit(0)
        flags = self.missing_flags()
        return Lowered(criteria=criteria, rules=rules, outcome=outcome,
                       missing=ops.names(flags), missing_flags=flags, first_true=first,
                       outcome_index=index, shared=self.shared)

    def missing_flags(self) -> list[tuple[E, str]]:
        """The inputs that would decide an undecided outcome, as the interpreter finds them
        (``Interpreter.unknown_inputs`` over the unknown rules tried). A rule is tried when
        no rule before it is true (``first_true >= r``, one shared column); the outcome is
        undecided exactly when a rule tried is unknown, and then each such rule's drivers
        count."""
        ops = self.ops
        flags: list[tuple[E, str]] = []
        for name in sorted(self.inputs):
            terms = []
            seen: dict[str, E | None] = {}
            for r, rule in enumerate(self.cs.rules):
                assert rule.when is not None
                drivers = self.drivers(rule.when, name, seen)
                if drivers is None:
                    continue
                if r:
                    tried = ops.compare(">=", ops.first_true(), ops.lit(r))
                    drivers = ops.and_([tried, drivers])
                terms.append(drivers)
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
        own = self.columns[id(node)] if id(node) in self.columns else self.share(node, v.expr)
        return ops.and_([ops.is_null(own), ops.or_(kids) if len(kids) > 1 else kids[0]])

    def share(self, node: ast.Expr, value: E) -> E:
        """``value`` (node's), as a shared column when the flags of several inputs test it
        and the engine offers one; else ``value`` itself."""
        key = id(node)
        if key in self._shared:
            return self._shared[key]
        if len(self.reads(node)) < 2:
            return value
        column = self.ops.shared(len(self.shared))
        if column is None:
            return value
        self.shared.append(value)
        self._shared[key] = column
        return column

    def reads(self, node: ast.Expr) -> frozenset[str]:
        key = id(node)
        if key not in self._reads:
            out: set[str] = set()
            if isinstance(node, ast.Name):
                if node.name in self.inputs:
                    out.add(node.name)
                elif node.name in self.criterion_expr:
                    out |= self.reads(self.criterion_expr[node.name])
            for k in ast.children(node):
                out |= self.reads(k)
            self._reads[key] = frozenset(out)
        return self._reads[key]


def lower(cs: ast.CriteriaSet, ops: Ops[E]) -> Lowered[E]:
    """The set's criteria, rules, outcome and ``missing`` as expressions of ``ops``; a set
    whose names break the name policy is refused (:func:`koordrules.names.require_good_names`)."""
    require_good_names(cs)
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
