"""Conditions that can never be true, always are, and rules shadowed by earlier rules.

Decided by trying every combination of a few values per name, where those values are exactly
enough: for a number compared with constants, one value in each interval the constants (and
the declared ``min``/``max``) cut its range into; for a yes/no input JA, NEI and unknown; for an
enum or a text its values (and one other text) and unknown; a criterion a condition refers to
is free (JA, NEI or unknown), a superset of what records can give it. When a condition uses
something these values do not cover exactly (dates, lists, arithmetic on inputs, two inputs
compared with each other, text functions) or the combinations are too many, nothing is
claimed: the proofs (``koordrules verify``) decide those. So every finding holds for every
record, never only for the records tried.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from koordrules import ast
from koordrules.errors import KoordError
from koordrules.evaluator import Interpreter
from koordrules.values import Value

MAX_COMBINATIONS = 4096
"""More combinations than this and nothing is claimed (the check stays fast)."""

_NOT_EXACT_FUNCTIONS = {"length", "starts_with", "years_between", "months_between",
                        "days_between"}
_OTHER_TEXT = "\u0000other"
"""A text no condition compares with: stands for every text the set does not name."""


@dataclass(frozen=True)
class Finding:
    """A condition (``node``) that is never true, or never false, for any record."""

    node: ast.Expr
    never: bool
    """``True``: the condition is never true; ``False``: it is never false."""
    whole: bool = False
    """Whether the whole expression the condition is part of is never true as well."""


def _constant(node: ast.Expr, cs: ast.CriteriaSet) -> bool:
    match node:
        case (ast.BooleanLiteral() | ast.NumberLiteral() | ast.StringLiteral()
              | ast.DateLiteral() | ast.DurationLiteral()):
            return True
        case ast.Name(name=name):
            return cs.parameter(name) is not None
        case ast.ListExpr(items=items):
            return all(_constant(i, cs) for i in items)
        case ast.Negate(operand=o):
            return _constant(o, cs)
        case ast.Arith(left=a, right=b):
            return _constant(a, cs) and _constant(b, cs)
    return False


def _input(node: ast.Expr, cs: ast.CriteriaSet) -> ast.InputDecl | None:
    return cs.input(node.name) if isinstance(node, ast.Name) else None


def _exact(node: ast.Expr, cs: ast.CriteriaSet) -> bool:
    """Whether the candidate values decide ``node`` for every record."""
    match node:
        case ast.Name():
            decl = _input(node, cs)
            return decl is None or decl.type in ("boolean", "enum", "integer", "number",
                                                 "string")
        case ast.Compare(left=a, right=b) | ast.In(item=a, container=b):
            pair = (a, b)
            return any(_input(x, cs) is not None and _exact(x, cs) and _constant(y, cs)
                       for x, y in (pair, pair[::-1])) or all(_constant(x, cs) for x in pair)
        case ast.Between(operand=x, low=lo, high=hi):
            return _exact(x, cs) and _input(x, cs) is not None and _constant(lo, cs) \
                and _constant(hi, cs)
        case ast.Arith() | ast.Negate():
            return _constant(node, cs)
        case ast.Call(function=fn):
            if fn in _NOT_EXACT_FUNCTIONS:
                return _constant(node, cs)
    return all(_exact(k, cs) for k in ast.children(node))


def _numbers(decl: ast.InputDecl, cs: ast.CriteriaSet, exprs: Iterable[ast.Expr]) -> list[float]:
    """The constants ``decl`` is compared with anywhere in ``exprs``."""
    interpreter = Interpreter(cs, {})
    found: list[float] = []
    for expr in exprs:
        for node in ast.walk(expr):
            if not isinstance(node, ast.Compare | ast.In | ast.Between):
                continue
            parts = ast.children(node)
            if not any(isinstance(p, ast.Name) and p.name == decl.name for p in parts):
                continue
            for part in parts:
                if _constant(part, cs):
                    try:
                        value = interpreter.evaluate(part)
                    except KoordError:
                        continue
                    values = value if isinstance(value, tuple) else (value,)
                    found += [float(v) for v in values
                              if isinstance(v, int | float) and not isinstance(v, bool)]
    return found


def _texts(cs: ast.CriteriaSet, exprs: Iterable[ast.Expr]) -> list[str]:
    interpreter = Interpreter(cs, {})
    found: list[str] = []
    for expr in exprs:
        for node in ast.walk(expr):
            if _constant(node, cs):
                try:
                    value = interpreter.evaluate(node)
                except KoordError:
                    continue
                values = value if isinstance(value, tuple) else (value,)
                found += [v for v in values if isinstance(v, str)]
    return found


def candidates(decl: ast.InputDecl, cs: ast.CriteriaSet,
               exprs: Iterable[ast.Expr]) -> tuple[Value, ...]:
    """A value in every region where the set's comparisons with ``decl`` cannot change,
    and unknown."""
    exprs = list(exprs)
    if decl.type == "boolean":
        return (True, False, None)
    if decl.type == "enum":
        return (*(decl.values or ()), None)
    if decl.type == "string":
        return (*dict.fromkeys(_texts(cs, exprs)), _OTHER_TEXT, None)
    points = sorted(set(_numbers(decl, cs, exprs)))
    low = decl.min if decl.min is not None else (points[0] - 1 if points else 0.0)
    high = decl.max if decl.max is not None else (points[-1] + 1 if points else 0.0)
    cuts = sorted({low, high, *(p for p in points if low <= p <= high)})
    values: list[float] = list(cuts)
    for a, b in itertools.pairwise(cuts):
        if decl.type == "integer":
            inner = math.floor(a) + 1
            if inner < b:
                values.append(inner)
        else:
            values.append((a + b) / 2)
    if decl.type == "integer":
        values = [v for v in values if float(v).is_integer()]
        return (*sorted({int(v) for v in values}), None)
    return (*sorted(set(values)), None)


def _records(domains: Mapping[str, tuple[Value, ...]]) -> Iterator[dict[str, Value]]:
    """Every combination; first the "diagonals" (every name its k-th value), which usually
    show a condition both true and false at once, so the search can stop early."""
    names = list(domains)
    widest = max((len(d) for d in domains.values()), default=1)
    for k in range(widest):
        yield {n: domains[n][k % len(domains[n])] for n in names}
    for combo in itertools.product(*(domains[n] for n in names)):
        yield dict(zip(names, combo, strict=True))


class Probe:
    """The checks on one set; candidate values are worked out once per input."""

    def __init__(self, cs: ast.CriteriaSet) -> None:
        self.cs = cs
        self.exprs = [c.expr for c in cs.criteria] + [r.when for r in cs.rules
                                                      if r.when is not None]
        self._candidates: dict[str, tuple[Value, ...]] = {}
        self._inputs = {i.name for i in cs.inputs}
        self._interpreter = Interpreter(cs, {})

    def domains(self, names: Iterable[str]) -> dict[str, tuple[Value, ...]] | None:
        """Candidate values for each input and criterion in ``names`` (``None``: too many
        combinations)."""
        cs = self.cs
        domains: dict[str, tuple[Value, ...]] = {}
        for name in sorted(names):
            decl = cs.input(name)
            if decl is not None:
                if name not in self._candidates:
                    self._candidates[name] = candidates(decl, cs, self.exprs)
                domains[name] = self._candidates[name]
            elif cs.criterion(name) is not None:
                domains[name] = (True, False, None)
        size = math.prod(len(d) for d in domains.values())
        return domains if size <= MAX_COMBINATIONS else None

    def interpreter(self, record: Mapping[str, Value]) -> Interpreter:
        """Inputs from ``record``; a criterion named in it takes the value given (free)."""
        self._interpreter.inputs = {k: v for k, v in record.items() if k in self._inputs}
        self._interpreter.memo = {k: v for k, v in record.items() if k not in self._inputs}
        return self._interpreter

    def values(self, node: ast.Expr) -> set[Value] | None:
        """Every value ``node`` takes for any record; ``None`` when not decided here (and for
        a node that reads no data: the constant checks of :mod:`koordrules.check` see it)."""
        if not _exact(node, self.cs):
            return None
        domains = self.domains(ast.names(node))
        if not domains or domains is None:
            return None
        seen: set[Value] = set()
        for record in _records(domains):
            try:
                seen.add(self.interpreter(record).evaluate(node))
            except KoordError:
                return None
            if True in seen and False in seen:
                break
        return seen

    def constant(self, expr: ast.Expr) -> Finding | None:
        """The first comparison in ``expr`` that is never true (or never false) for any
        record; else ``expr`` itself when it is; else ``None``."""
        nodes = [n for n in ast.walk(expr) if isinstance(n, ast.Compare | ast.In | ast.Between)]
        whole = self.values(expr)
        never = whole is not None and bool(whole - {None}) and True not in whole
        for node in (*nodes, expr):
            seen = self.values(node) if node is not expr else whole
            if seen is None or not seen - {None}:
                continue
            if True not in seen:
                return Finding(node, never=True, whole=never)
            if False not in seen:
                return Finding(node, never=False, whole=never)
        return None

    def shadowed_by(self, index: int) -> ast.OutcomeRule | None:
        """For rule ``index`` that is sometimes true but can never be chosen: the earliest
        rule before it that holds (or is unknown) whenever it holds. ``None`` when it can be
        chosen, or when that is not decided here."""
        cs = self.cs
        rule, earlier = cs.rules[index], cs.rules[:index]
        nodes = [r.when for r in (*earlier, rule) if r.when is not None]
        if not earlier or not all(_exact(n, cs) for n in nodes):
            return None
        names: set[str] = set()
        for n in nodes:
            names |= ast.names(n)
        domains = self.domains(names)
        if domains is None:
            return None
        blockers = dict.fromkeys((r.id for r in earlier), 0)
        holds = 0
        for record in _records(domains):
            interpreter = self.interpreter(record)
            try:
                if interpreter.evaluate(nodes[-1]) is not True:
                    continue
                before = [interpreter.evaluate(n) for n in nodes[:-1]]
            except KoordError:
                return None
            if all(v is False for v in before):
                return None
            holds += 1
            for r, v in zip(earlier, before, strict=True):
                blockers[r.id] += v is not False
        if holds == 0:
            return None  # never true: a finding about its condition, not about the order
        return next((r for r in earlier if blockers[r.id] == holds), earlier[0])
