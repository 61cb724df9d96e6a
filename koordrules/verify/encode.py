"""The encoding of a checked criteria set into z3: the reference semantics, for every record.

Each declared input becomes a *known* flag plus a value in its declared domain (boolean, bounded
integer, real number, enum as an index into its values, text, date as a day number, a list of
text as one membership flag per text the set can look up in it plus "has an unknown element").
Parameters are constants.
Every operator is encoded from its three-valued rule in the operator table
(:mod:`koordrules.operators.spec`), and the outcome is the first-hit choice of
:func:`koordrules.evaluator.choose`: the same semantics as the reference interpreter, tested
against it on generated records (tests/test_verify_encode.py).

What the encoding cannot decide exactly raises :class:`~koordrules.errors.NotEncodableError`
naming the construct and its position: arithmetic on ``number`` values (binary64 rounding),
``/``, calendar months (``months_between``, ``years_between``, a date plus months), ordering of
text, ``length`` of an input list, and lists of anything but text. Callers then fall back
to the sampled properties of :mod:`koordrules.testing`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from koordrules import ast
from koordrules.errors import NotEncodableError
from koordrules.inputs import MAX_STRING
from koordrules.operators.numeric import INT_MAX, INT_MIN
from koordrules.values import Duration, Value
from koordrules.verify.solver import z3

DAY_MIN = dt.date.min.toordinal()
DAY_MAX = dt.date.max.toordinal()
FLOAT_MAX = Fraction(1.7976931348623157e308)
EXACT_INT = 2**53
"""Integers up to this size convert to binary64 exactly (an integer meeting a number)."""
MONTH_DAYS = Fraction("30.436875")


@dataclass(frozen=True)
class Term:
    """One encoded value: ``known`` (a z3 Bool) and ``value`` (meaningful only when known).

    ``kind`` is the value's type; ``enum`` the values of an enum (``value`` is the index);
    ``items`` the elements of a list literal; ``members``/``unknown_item`` a list input of
    enum values; ``const`` the Python value of a constant; ``exact`` whether an integer
    converts to binary64 without rounding.
    """

    kind: str
    known: Any
    value: Any = None
    enum: tuple[str, ...] | None = None
    items: tuple[Term, ...] | None = None
    members: Mapping[str, Any] | None = None
    unknown_item: Any = None
    const: Value = None
    exact: bool = True


TRUE = z3.BoolVal(True)


def _bool(known: Any, value: Any) -> Term:
    return Term("boolean", z3.simplify(known), value)


@dataclass
class InputVar:
    """The z3 variables of one input."""

    decl: ast.InputDecl
    known: Any
    value: Any = None
    members: dict[str, Any] = field(default_factory=dict)
    unknown_item: Any = None
    encodable: bool = True

    def term(self, node: ast.Node) -> Term:
        d = self.decl
        if not self.encodable:
            raise _not_encodable(f"the input {d.name!r} (a list of {d.items})", node)
        if d.type == "list":
            return Term("list", self.known, None, members=self.members,
                        unknown_item=self.unknown_item)
        kind = "enum" if d.type == "enum" else d.type
        exact = True
        if d.type == "integer":
            exact = d.min is not None and d.max is not None and max(
                abs(d.min), abs(d.max)) <= EXACT_INT
        return Term(kind, self.known, self.value,
                    enum=(d.values or ()) if d.type == "enum" else None, exact=exact)


def _not_encodable(what: str, node: ast.Node | ast.InputDecl | None) -> NotEncodableError:
    return NotEncodableError(f"the proof encoding cannot decide {what} exactly; the sampled "
                             "properties are used instead", span=node.span if node else None)


def texts_of(cs: ast.CriteriaSet) -> tuple[str, ...]:
    """Every text an item of a list can be compared with: text constants and enum values.

    A list of text is encoded by membership of these alone; other elements cannot change a
    result, since only a constant or an enum value can be looked up in it."""
    out: dict[str, None] = {}
    for p in cs.parameters:
        if isinstance(p.value, str):
            out[p.value] = None
    for decl in cs.inputs:
        for v in decl.values or ():
            out[v] = None
    exprs = [c.expr for c in cs.criteria] + [r.when for r in cs.rules if r.when is not None]
    for e in exprs:
        for node in ast.walk(e):
            if isinstance(node, ast.StringLiteral):
                out[node.value] = None
    return tuple(out)


def _variables(decl: ast.InputDecl, prefix: str, texts: tuple[str, ...] = ()
               ) -> tuple[InputVar, list[Any]]:
    """The variables of one input and the constraints that keep them in its domain."""
    name = prefix + decl.name
    var = InputVar(decl, z3.Bool(f"{name}?"))
    domain: list[Any] = []
    lo = None if decl.min is None else Fraction(decl.min)
    hi = None if decl.max is None else Fraction(decl.max)
    if decl.type == "boolean":
        var.value = z3.Bool(name)
    elif decl.type == "integer":
        var.value = z3.Int(name)
        low = INT_MIN if lo is None else max(INT_MIN, -((-lo.numerator) // lo.denominator))
        high = INT_MAX if hi is None else min(INT_MAX, hi.numerator // hi.denominator)
        domain += [var.value >= low, var.value <= high]
    elif decl.type == "number":
        var.value = z3.Real(name)
        domain += [var.value >= (-FLOAT_MAX if lo is None else lo),
                   var.value <= (FLOAT_MAX if hi is None else hi)]
    elif decl.type == "enum":
        var.value = z3.Int(name)
        domain += [var.value >= 0, var.value < len(decl.values or ())]
    elif decl.type == "string":
        var.value = z3.String(name)
        domain.append(z3.Length(var.value) <= MAX_STRING)
    elif decl.type == "date":
        var.value = z3.Int(name)
        domain += [var.value >= DAY_MIN, var.value <= DAY_MAX]
    elif decl.type == "list" and decl.items == "string":
        var.members = {v: z3.Bool(f"{name}[{v}]") for v in texts}
        var.unknown_item = z3.Bool(f"{name}[?]")
    else:
        var.encodable = False
    return var, [z3.Implies(var.known, c) for c in domain]


def constant(value: Value, node: ast.Node | None = None) -> Term:
    """The term of a constant (a literal or a parameter)."""
    known = TRUE
    if isinstance(value, bool):
        return Term("boolean", known, z3.BoolVal(value), const=value)
    if isinstance(value, int):
        return Term("integer", known, z3.IntVal(value), const=value, exact=abs(value) <= EXACT_INT)
    if isinstance(value, float):
        return Term("number", known, z3.RealVal(Fraction(value)), const=value)
    if isinstance(value, str):
        return Term("string", known, z3.StringVal(value), const=value)
    if isinstance(value, dt.date):
        return Term("date", known, z3.IntVal(value.toordinal()), const=value)
    if isinstance(value, Duration):
        return Term("duration", known, (z3.IntVal(value.months), z3.IntVal(value.days)),
                    const=value)
    raise _not_encodable("this constant", node)  # pragma: no cover - closed value set


def _in_int64(x: Any) -> Any:
    return z3.And(x >= INT_MIN, x <= INT_MAX)


def _real(t: Term) -> Any:
    return z3.ToReal(t.value) if t.kind == "integer" else t.value


def kleene_and(terms: Sequence[Term]) -> Term:
    false = z3.Or(*[z3.And(t.known, z3.Not(t.value)) for t in terms]) if terms else z3.BoolVal(
        False)
    every = z3.And(*[t.known for t in terms]) if terms else TRUE
    return _bool(z3.Or(false, every), z3.Not(false))


def kleene_or(terms: Sequence[Term]) -> Term:
    true = z3.Or(*[z3.And(t.known, t.value) for t in terms]) if terms else z3.BoolVal(False)
    every = z3.And(*[t.known for t in terms]) if terms else TRUE
    return _bool(z3.Or(true, every), true)


def _text(t: Term) -> Term:
    """An enum value as text (to meet text, or an enum of other values)."""
    if t.kind != "enum" or t.enum is None:
        return t
    value: Any = z3.StringVal(t.enum[-1] if t.enum else "")
    for i, v in enumerate(t.enum[:-1]):
        value = z3.If(t.value == i, z3.StringVal(v), value)
    return Term("string", t.known, value)


def _texts(a: Term, b: Term) -> tuple[Term, Term]:
    if (a.kind, a.enum) != (b.kind, b.enum) and {a.kind, b.kind} <= {"enum", "string"}:
        return _text(a), _text(b)
    return a, b


def negation(t: Term) -> Term:
    return Term("boolean", t.known, z3.Not(t.value))


class Encoding:
    """A criteria set encoded for every record: one :class:`InputVar` per input, the domain
    constraints, one :class:`Term` per criterion and rule, and the outcome choice.

    ``prefix`` names the variables; two encodings with the same prefix share the record (used to
    compare two versions, or a set with its variant, on one record).
    """

    def __init__(self, cs: ast.CriteriaSet, *, prefix: str = "") -> None:
        self.cs = cs
        self.prefix = prefix
        self.vars: dict[str, InputVar] = {}
        self.domain: list[Any] = []
        texts = texts_of(cs)
        for decl in cs.inputs:
            var, constraints = _variables(decl, prefix, texts)
            self.vars[decl.name] = var
            self.domain += constraints
        self.parameters = {p.name: constant(p.value) for p in cs.parameters}
        self._criteria_exprs = {c.name: c.expr for c in cs.criteria}
        self.criteria: dict[str, Term] = {}
        for c in cs.criteria:
            self.criterion(c.name)
        self.rules: list[Term] = []
        for rule in cs.rules:
            assert rule.when is not None
            term = self.expr(rule.when)
            if term.kind != "boolean":  # pragma: no cover - the checker rejects it
                raise _not_encodable("a condition that is not boolean", rule.when)
            self.rules.append(term)

    # --- the outcome ---------------------------------------------------------------------

    @property
    def outcome_ids(self) -> list[str]:
        return [o.id for o in self.cs.outcomes]

    def decided(self, outcome: str) -> Any:
        """True exactly when the record's outcome is ``outcome``."""
        ids = self.outcome_ids
        j = ids.index(outcome)
        before = [z3.And(r.known, z3.Not(r.value)) for r in self.rules[:j]]
        if j == len(self.rules):
            return z3.And(*before) if before else TRUE
        r = self.rules[j]
        return z3.And(*before, r.known, r.value)

    def undecided(self) -> Any:
        return z3.Not(z3.Or(*[self.decided(o) for o in self.outcome_ids]))

    def possible(self, outcome: str) -> Any:
        """True exactly when ``outcome`` is among the record's possible outcomes."""
        ids = self.outcome_ids
        j = ids.index(outcome)
        no_true = [z3.Not(z3.And(r.known, r.value)) for r in self.rules[:j]]
        if j == len(self.rules):
            return z3.And(*no_true) if no_true else TRUE
        r = self.rules[j]
        return z3.And(*no_true, z3.Not(z3.And(r.known, z3.Not(r.value))))

    def outcome(self) -> Any:
        """An Int: the index of the decided outcome in ``cs.outcomes``, ``-1`` if undecided."""
        result: Any = z3.IntVal(-1)
        for i, o in reversed(list(enumerate(self.outcome_ids))):
            result = z3.If(self.decided(o), i, result)
        return result

    # --- expressions ---------------------------------------------------------------------

    def criterion(self, name: str) -> Term:
        if name not in self.criteria:
            self.criteria[name] = self.expr(self._criteria_exprs[name])
        return self.criteria[name]

    def name(self, node: ast.Name) -> Term:
        if node.name in self.vars:
            return self.vars[node.name].term(node)
        if node.name in self.parameters:
            return self.parameters[node.name]
        if node.name in self._criteria_exprs:
            return self.criterion(node.name)
        raise _not_encodable(f"the name {node.name!r}", node)  # pragma: no cover - checked

    def expr(self, node: ast.Expr) -> Term:
        """The term of ``node`` (iterative over deep connectives is not needed: the checker
        bounds nesting)."""
        match node:
            case ast.BooleanLiteral() | ast.NumberLiteral() | ast.StringLiteral() | \
                    ast.DateLiteral():
                return constant(node.value, node)
            case ast.DurationLiteral(amount=amount, unit=unit):
                return constant(Duration.of(amount, unit), node)
            case ast.Name():
                return self.name(node)
            case ast.ListExpr(items=items):
                return Term("list", TRUE, items=tuple(self.expr(i) for i in items))
            case ast.Not(operand=o):
                return negation(self.boolean(o))
            case ast.Negate(operand=o):
                return self.negate(self.expr(o), node)
            case ast.And(operands=ops):
                return kleene_and([self.boolean(o) for o in ops])
            case ast.Or(operands=ops):
                return kleene_or([self.boolean(o) for o in ops])
            case ast.Compare(op=op, left=a, right=b):
                return self.compare(op, self.expr(a), self.expr(b), node)
            case ast.Arith(op=op, left=a, right=b):
                return self.arith(op, self.expr(a), self.expr(b), node)
            case ast.In(item=a, container=b, negated=negated):
                return self.membership(self.expr(a), self.expr(b), negated, node)
            case ast.Call():
                return self.call(node)
            case ast.If(condition=c, then=t, else_=e):
                return self.if_(self.boolean(c), self.expr(t), self.expr(e), node)
            case ast.Implies(left=a, right=b):
                return kleene_or([negation(self.boolean(a)), self.boolean(b)])
            case ast.Xor(left=a, right=b):
                p, q = self.boolean(a), self.boolean(b)
                return _bool(z3.And(p.known, q.known), z3.Xor(p.value, q.value))
            case ast.Between(operand=v, low=lo, high=hi):
                operand = self.expr(v)
                return kleene_and([self.compare(">=", operand, self.expr(lo), node),
                                   self.compare("<=", operand, self.expr(hi), node)])
        raise _not_encodable(node.kind, node)  # pragma: no cover - the AST is closed

    def boolean(self, node: ast.Expr) -> Term:
        t = self.expr(node)
        if t.kind != "boolean":  # pragma: no cover - the checker rejects it
            raise _not_encodable(f"a {t.kind} used as a condition", node)
        return t

    # --- operators -----------------------------------------------------------------------

    def negate(self, t: Term, node: ast.Node) -> Term:
        if t.kind == "integer":
            return Term("integer", z3.And(t.known, _in_int64(-t.value)), -t.value, exact=t.exact)
        if t.kind == "duration":
            return Term("duration", t.known, (-t.value[0], -t.value[1]))
        raise _not_encodable("minus on a number (binary64)", node)

    def compare(self, op: str, a: Term, b: Term, node: ast.Node) -> Term:
        known = z3.And(a.known, b.known)
        if op in ("==", "!="):
            eq = self.equal(a, b, node)
            return _bool(known, eq if op == "==" else z3.Not(eq))
        x, y = self.ordered(a, b, node)
        value = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
        return _bool(known, value)

    def _numbers(self, a: Term, b: Term, node: ast.Node) -> tuple[Any, Any]:
        if a.kind == b.kind == "integer":
            return a.value, b.value
        if not (a.exact and b.exact):
            raise _not_encodable("an integer beyond 2**53 meeting a number", node)
        return _real(a), _real(b)

    def equal(self, a: Term, b: Term, node: ast.Node) -> Any:
        numeric = ("integer", "number")
        if a.kind in numeric and b.kind in numeric:
            x, y = self._numbers(a, b, node)
            return x == y
        if a.kind == "enum" or b.kind == "enum":
            return self._enum_equal(a, b, node)
        if a.kind == b.kind == "duration":
            return z3.And(a.value[0] == b.value[0], a.value[1] == b.value[1])
        if a.kind == b.kind and a.kind in ("boolean", "string", "date"):
            return a.value == b.value
        raise _not_encodable(f"== between {a.kind} and {b.kind}", node)

    def _enum_equal(self, a: Term, b: Term, node: ast.Node) -> Any:
        if a.kind != "enum":
            a, b = b, a
        assert a.enum is not None
        if b.kind == "enum" and b.enum == a.enum:
            return a.value == b.value
        if b.kind == "string" and isinstance(b.const, str):
            return a.value == a.enum.index(b.const) if b.const in a.enum else z3.BoolVal(False)
        if b.kind == "string":
            cases = [z3.And(a.value == i, b.value == z3.StringVal(v))
                     for i, v in enumerate(a.enum)]
            return z3.Or(*cases) if cases else z3.BoolVal(False)
        raise _not_encodable(f"== between enum and {b.kind}", node)

    def ordered(self, a: Term, b: Term, node: ast.Node) -> tuple[Any, Any]:
        numeric = ("integer", "number")
        if a.kind in numeric and b.kind in numeric:
            return self._numbers(a, b, node)
        if a.kind == b.kind == "date":
            return a.value, b.value
        if a.kind == b.kind == "duration":
            return (a.value[0] * z3.RealVal(MONTH_DAYS) + a.value[1],
                    b.value[0] * z3.RealVal(MONTH_DAYS) + b.value[1])
        raise _not_encodable(f"ordering of {a.kind} values", node)

    def arith(self, op: str, a: Term, b: Term, node: ast.Node) -> Term:
        known = z3.And(a.known, b.known)
        if a.kind == b.kind == "integer" and op in "+-*":
            x, y = a.value, b.value
            value = x + y if op == "+" else x - y if op == "-" else x * y
            return Term("integer", z3.And(known, _in_int64(value)), value, exact=False)
        if (op in "+-" and "date" in (a.kind, b.kind)) or a.kind == b.kind == "duration":
            return self._calendar(op, a, b, known, node)
        raise _not_encodable(f"{op} on {a.kind} and {b.kind} (binary64 or calendar rounding)",
                             node)

    def _calendar(self, op: str, a: Term, b: Term, known: Any, node: ast.Node) -> Term:
        if a.kind == b.kind == "date" and op == "-":
            return Term("duration", known, (z3.IntVal(0), a.value - b.value))
        if a.kind == b.kind == "duration":
            sign = -1 if op == "-" else 1
            return Term("duration", known, (a.value[0] + sign * b.value[0],
                                            a.value[1] + sign * b.value[1]))
        day, shift = (a, b) if a.kind == "date" else (b, a)
        if shift.kind != "duration" or (op == "-" and day is b):
            raise _not_encodable(f"{op} on {a.kind} and {b.kind}", node)
        if not (isinstance(shift.const, Duration) and shift.const.months == 0):
            raise _not_encodable("a date plus calendar months", node)
        moved = day.value + (-1 if op == "-" else 1) * shift.const.days
        return Term("date", z3.And(known, moved >= DAY_MIN, moved <= DAY_MAX), moved)

    def membership(self, item: Term, container: Term, negated: bool, node: ast.Node) -> Term:
        if container.items is not None:
            found = kleene_or([self.compare("==", item, e, node) for e in container.items])
            found = _bool(z3.And(item.known, found.known), found.value)
        elif container.members is not None:
            found = self._member(item, container, node)
        else:
            raise _not_encodable("in on this list", node)
        return negation(found) if negated else found

    def _member(self, item: Term, container: Term, node: ast.Node) -> Term:
        members = container.members
        assert members is not None
        if item.kind == "string" and isinstance(item.const, str):
            hit = members.get(item.const, z3.BoolVal(False))
        elif item.kind == "enum" and item.enum is not None:
            hit = z3.Or(*[z3.And(item.value == i, members[v]) for i, v in enumerate(item.enum)
                          if v in members]) if members else z3.BoolVal(False)
        else:
            raise _not_encodable(f"in with a {item.kind} item on an input list", node)
        known = z3.And(item.known, container.known, z3.Or(hit, z3.Not(container.unknown_item)))
        return _bool(known, hit)

    def if_(self, c: Term, t: Term, e: Term, node: ast.Node) -> Term:
        t, e = _texts(t, e)
        if t.kind != e.kind or t.enum != e.enum or t.kind in ("list", "duration"):
            raise _not_encodable("if with branches of different kinds", node)
        known = z3.And(c.known, z3.If(c.value, t.known, e.known))
        return Term(t.kind, known, z3.If(c.value, t.value, e.value), enum=t.enum,
                    exact=t.exact and e.exact)

    def _flat(self, args: Sequence[Term], node: ast.Node) -> Sequence[Term]:
        if len(args) == 1 and args[0].kind == "list":
            if args[0].items is None:
                raise _not_encodable("a function of an input list", node)
            return args[0].items
        return args

    def call(self, node: ast.Call) -> Term:
        fn = node.function
        args = [self.expr(a) for a in node.args]
        if fn == "any":
            return kleene_or(self._flat(args, node))
        if fn == "all":
            return kleene_and(self._flat(args, node))
        if fn == "at_least":
            return self._at_least(args[0], args[1:], node)
        if fn == "count_true":
            flat = self._flat(args, node)
            count = z3.Sum(*[z3.If(t.value, 1, 0) for t in flat])
            return Term("integer", z3.And(*[t.known for t in flat]), count)
        if fn == "is_known":
            return _bool(TRUE, args[0].known)
        if fn == "coalesce":
            return self._coalesce(args, node)
        if fn == "length" and args[0].items is not None:
            n = len(args[0].items)
            return Term("integer", TRUE, z3.IntVal(n), const=n)
        if fn == "starts_with":
            return self._starts_with(args[0], args[1], node)
        if fn == "days_between" and args[0].kind == args[1].kind == "date":
            return Term("integer", z3.And(args[0].known, args[1].known),
                        args[1].value - args[0].value)
        raise _not_encodable(f"{fn}()", node)

    def _at_least(self, n: Term, rest: Sequence[Term], node: ast.Node) -> Term:
        if n.kind not in ("integer", "number"):  # pragma: no cover - the checker rejects it
            raise _not_encodable("at_least with this count", node)
        count = _real(n) if n.kind == "number" else n.value
        if len(rest) == 1 and rest[0].kind != "list":
            only = rest[0]
            decided = self._at_least(n, [Term("list", TRUE, items=(only,))], node)
            return _bool(z3.And(n.known, z3.If(only.known, decided.known, count <= 0)),
                         z3.If(only.known, decided.value, TRUE))
        flat = self._flat(rest, node)
        true = z3.Sum(*[z3.If(z3.And(t.known, t.value), 1, 0) for t in flat])
        unknown = z3.Sum(*[z3.If(t.known, 0, 1) for t in flat])
        if n.kind == "number":
            true, unknown = z3.ToReal(true), z3.ToReal(unknown)
        return _bool(z3.And(n.known, z3.Or(true >= count, true + unknown < count)),
                     true >= count)

    def _coalesce(self, args: Sequence[Term], node: ast.Node) -> Term:
        if len({(a.kind, a.enum) for a in args}) > 1:
            args = [_text(a) for a in args]
        first = args[0]
        if any(a.kind != first.kind or a.enum != first.enum for a in args) or first.kind in (
                "list", "duration"):
            raise _not_encodable("coalesce of different kinds", node)
        value = args[-1].value
        for a in reversed(args[:-1]):
            value = z3.If(a.known, a.value, value)
        return Term(first.kind, z3.Or(*[a.known for a in args]), value, enum=first.enum,
                    exact=all(a.exact for a in args))

    def _starts_with(self, text: Term, prefix: Term, node: ast.Node) -> Term:
        known = z3.And(text.known, prefix.known)
        if text.kind == "enum" and text.enum is not None and isinstance(prefix.const, str):
            p = prefix.const
            hits = [text.value == i for i, v in enumerate(text.enum) if v.startswith(p)]
            return _bool(known, z3.Or(*hits) if hits else z3.BoolVal(False))
        if text.kind == prefix.kind == "string":
            return _bool(known, z3.PrefixOf(prefix.value, text.value))
        raise _not_encodable(f"starts_with on {text.kind}", node)
