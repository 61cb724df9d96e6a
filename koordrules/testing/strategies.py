"""Hypothesis strategies built from a criteria set's declarations.

:func:`records` draws input records that :func:`koordrules.evaluate` accepts with
``strict=True``: one value per declared input, of the declared type and inside the declared
range (``min``/``max``, enum ``values``). Values next to the set's thresholds are favoured, since
that is where criteria change value: for every numeric parameter and every number compared with
an input, the threshold itself and its neighbours (±1 for integers, ± a small epsilon for
numbers) are drawn often, as are the range bounds. Dates get the same treatment around date
parameters and literals; strings around the string literals an expression compares with.

``missing`` makes inputs unknown (their key is left out of the record, which is how a record says
"not known"): ``False`` (never), ``True`` (each input is unknown half of the time) or a
probability between 0 and 1. Unknown values shrink towards known ones, so a minimal
counterexample has as few unknowns as the failure allows.

:func:`input_values` is the strategy for one input, :func:`representatives` a small finite set
of values per input that covers every threshold (used for exhaustive checks), and
:func:`expression_texts` draws expression source text for fuzzing the parser.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st

from koordrules import ast

__all__ = (
    "EPSILON",
    "expression_texts",
    "input_values",
    "records",
    "representatives",
    "thresholds",
)

EPSILON = 1e-6
"""The step next to a threshold for ``number`` inputs (``integer`` inputs step by 1)."""

#: Range used for numbers without declared bounds (the rules, not float overflow, are under test).
DEFAULT_SPAN = 1_000_000
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2100, 12, 31)


def _numbers_and_dates(cs: ast.CriteriaSet) -> tuple[set[float], set[dt.date], set[str]]:
    """Every constant an expression can compare an input with: parameters and literals."""
    numbers: set[float] = set()
    dates: set[dt.date] = set()
    strings: set[str] = set()
    for param in cs.parameters:
        value = param.value
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            numbers.add(value)
        elif isinstance(value, dt.date):
            dates.add(value)
        elif isinstance(value, str):
            strings.add(value)
    exprs = [c.expr for c in cs.criteria] + [r.when for r in cs.rules if r.when is not None]
    for expr in exprs:
        for node in ast.walk(expr):
            if isinstance(node, ast.NumberLiteral):
                numbers.add(node.value)
            elif isinstance(node, ast.Negate) and isinstance(node.operand, ast.NumberLiteral):
                numbers.add(-node.operand.value)
            elif isinstance(node, ast.DateLiteral):
                dates.add(node.value)
            elif isinstance(node, ast.StringLiteral):
                strings.add(node.value)
    return numbers, dates, strings


def _bounds(decl: ast.InputDecl) -> tuple[float, float]:
    lo = decl.min if decl.min is not None else -DEFAULT_SPAN
    hi = decl.max if decl.max is not None else DEFAULT_SPAN
    if decl.min is not None and decl.max is None:
        hi = max(hi, lo + DEFAULT_SPAN)
    if decl.max is not None and decl.min is None:
        lo = min(lo, hi - DEFAULT_SPAN)
    return lo, hi


def thresholds(cs: ast.CriteriaSet, decl: ast.InputDecl) -> list[Any]:
    """The edge values of one input: constants of the set (±1 or ±``EPSILON``) and its bounds,
    restricted to the values the declaration accepts; sorted."""
    numbers, dates, strings = _numbers_and_dates(cs)
    kind = decl.items if decl.type == "list" else decl.type
    if kind in ("integer", "number"):
        lo, hi = _bounds(decl)
        out: set[float] = {lo, hi}
        for t in numbers:
            if kind == "integer":
                base = math.floor(t)
                out |= {base - 1, base, base + 1, math.ceil(t)}
            else:
                out |= {t - EPSILON, t, t + EPSILON}
        if kind == "integer":
            ints = {int(v) for v in out if math.isfinite(v) and v == int(v)}
            return sorted(v for v in ints if lo <= v <= hi)
        return sorted(v for v in out if lo <= v <= hi)
    if kind == "date":
        edges = {DATE_MIN, DATE_MAX}
        for d in dates:
            edges |= {d - dt.timedelta(days=1), d, d + dt.timedelta(days=1)}
        return sorted(d for d in edges if DATE_MIN <= d <= DATE_MAX)
    if kind == "string":
        return sorted(strings | {""})
    if kind == "enum":
        return list(decl.values or ())
    if kind == "boolean":
        return [False, True]
    return []  # pragma: no cover - closed set of types


def _scalar(cs: ast.CriteriaSet, decl: ast.InputDecl, kind: str) -> st.SearchStrategy[Any]:
    edges = thresholds(cs, decl.model_copy(update={"type": kind}))
    if kind == "boolean":
        return st.booleans()
    if kind == "enum":
        return st.sampled_from(decl.values or ("",))
    if kind == "integer":
        lo, hi = _bounds(decl)
        wide: st.SearchStrategy[Any] = st.integers(math.ceil(lo), math.floor(hi))
    elif kind == "number":
        lo, hi = _bounds(decl)
        wide = st.one_of(
            st.integers(math.ceil(lo), math.floor(hi)),
            st.floats(lo, hi, allow_nan=False, allow_infinity=False),
        )
    elif kind == "date":
        wide = st.dates(DATE_MIN, DATE_MAX)
    else:
        wide = st.text(max_size=20)
    return st.one_of(st.sampled_from(edges), wide) if edges else wide


def input_values(cs: ast.CriteriaSet, name: str) -> st.SearchStrategy[Any]:
    """Valid (known) values of the input ``name`` of ``cs``, thresholds favoured."""
    decl = cs.input(name)
    if decl is None:
        raise KeyError(f"{name!r} is not an input of {cs.key}")
    if decl.type == "list":
        return st.lists(_scalar(cs, decl, decl.items or "string"), max_size=5)
    return _scalar(cs, decl, decl.type)


def _missing_probability(missing: bool | float) -> float:
    if isinstance(missing, bool):
        return 0.5 if missing else 0.0
    if not 0.0 <= missing <= 1.0:
        raise ValueError("missing must be a bool or a probability between 0 and 1")
    return float(missing)


def records(
    criteria_set: ast.CriteriaSet,
    *,
    missing: bool | float = False,
    fixed: dict[str, Any] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Records valid for ``criteria_set`` (see the module docstring).

    ``missing`` is ``False``, ``True`` (each input unknown with probability ½) or a probability.
    ``fixed`` pins inputs to given values (a ``None`` value pins the input as unknown).
    """
    p = _missing_probability(missing)
    fixed = dict(fixed or {})
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for decl in criteria_set.inputs:
        if decl.name in fixed:
            continue
        value = input_values(criteria_set, decl.name)
        if p >= 1.0:
            fields[decl.name] = st.none()
        elif p > 0.0:
            # integers shrink to 0: known. ``k >= 1000 * (1 - p)`` is true with probability p.
            cut = round(1000 * (1 - p))
            fields[decl.name] = st.integers(0, 999).flatmap(
                lambda k, v=value, c=cut: st.none() if k >= c else v  # type: ignore[misc]
            )
        else:
            fields[decl.name] = value

    def build(drawn: dict[str, Any]) -> dict[str, Any]:
        merged = {**drawn, **fixed}
        return {k: v for k, v in merged.items() if v is not None}

    return st.fixed_dictionaries(fields).map(build)


def representatives(cs: ast.CriteriaSet, name: str) -> list[Any]:
    """A small finite list of values of input ``name`` that meets every threshold of the set:
    both booleans, every enum value, the numeric/date edges (see :func:`thresholds`) and one
    value between each pair of neighbouring edges. Lists are represented by ``[]`` only."""
    decl = cs.input(name)
    if decl is None:
        raise KeyError(f"{name!r} is not an input of {cs.key}")
    if decl.type == "list":
        return [[]]
    edges = thresholds(cs, decl)
    if decl.type == "integer":
        between = {(a + b) // 2 for a, b in itertools.pairwise(edges)}
        return sorted(set(edges) | between)
    if decl.type == "number":
        between_f = {(a + b) / 2 for a, b in itertools.pairwise(edges)}
        return sorted(set(edges) | between_f)
    if decl.type == "string":
        return [*edges, "\u2063other"]
    return edges


# --- expression text, for fuzzing the front end ------------------------------------------

_KEYWORDS = ("and", "or", "not", "in", "true", "false")
_FUNCTIONS = ("any", "all", "at_least", "count_true", "is_known", "coalesce", "length")


def _names() -> st.SearchStrategy[str]:
    first = st.characters(categories=("Lu", "Ll", "Lo"), exclude_characters="_")
    rest = st.text(st.characters(categories=("Lu", "Ll", "Lo", "Nd")), max_size=6)
    return st.builds(lambda a, b: a + b, first, rest).filter(lambda s: s not in _KEYWORDS)


def _atoms(names: Iterable[str] | None) -> st.SearchStrategy[str]:
    name_strategy = st.sampled_from(sorted(names)) if names else _names()
    return st.one_of(
        name_strategy,
        st.integers(0, 10**40).map(str),
        st.floats(0, 1e12, allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.3f}"),
        st.sampled_from(("true", "false")),
        st.dates().map(lambda d: d.isoformat()),
        st.builds(lambda n, u: f"{n} {u}", st.integers(0, 400),
                  st.sampled_from(("days", "weeks", "months", "years", "day"))),
        st.text(st.characters(exclude_characters="\"\\\n"), max_size=8).map(lambda s: f'"{s}"'),
    )


def expression_texts(
    names: Iterable[str] | None = None, *, max_leaves: int = 30
) -> st.SearchStrategy[str]:
    """Source text of expressions in the criteria grammar: syntactically valid (up to the
    parser's limits on digits and depth), though often ill-typed or naming unknown names.
    ``names`` fixes the identifiers used; without it, random Unicode identifiers are drawn."""
    names = list(names) if names is not None else None

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.sampled_from(
            ("and", "or", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "in", "not in")
        )
        return st.one_of(
            st.builds(lambda a, op, b: f"({a} {op} {b})", inner, binary, inner),
            inner.map(lambda a: f"(not {a})"),
            inner.map(lambda a: f"(-{a})"),
            inner.map(lambda a: f"({a})"),
            st.builds(lambda f, args: f"{f}({', '.join(args)})",
                      st.sampled_from(_FUNCTIONS), st.lists(inner, max_size=4)),
            st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        )

    return st.recursive(_atoms(names), extend, max_leaves=max_leaves)
