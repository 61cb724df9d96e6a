"""The ``polars`` cohort backend: the set compiled to polars expressions.

polars' ``&``, ``|`` and ``~`` are Kleene's on nulls and comparisons with a null are null, so
the lowered expressions (:mod:`koordrules.backends.lower`) compute the interpreter's values
directly, over the whole table. Each criterion is a column, computed in dependency order;
then the rules, the outcome and ``missing``. Needs ``koordrules[polars]``.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from koordrules import ast
from koordrules.backends import Table, keep_name, require
from koordrules.backends.lower import Lowered, Ops, balanced, levels, lower
from koordrules.names import GENERATED_PREFIX

if TYPE_CHECKING:
    import polars as pl

    from koordrules.compiler import Program

_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
PREFIX = GENERATED_PREFIX
MASK = f"{PREFIX}missing"
INDEX = f"{PREFIX}row"
MASK_BITS = 63
OUTCOME = f"{PREFIX}outcome"
FIRST = f"{PREFIX}first"
INT64 = (-(2**63), 2**63 - 1)
DATES = (dt.date(1, 1, 1), dt.date(9999, 12, 31))


class PolarsOps(Ops[Any]):
    def __init__(self) -> None:
        self.pl = require("polars", "polars")

    def lit(self, value: Any) -> Any:
        pl = self.pl
        if isinstance(value, bool):
            return pl.lit(value, dtype=pl.Boolean)
        if isinstance(value, str):
            return pl.lit(value, dtype=pl.String)
        if isinstance(value, dt.date):
            return pl.lit(value, dtype=pl.Date)
        if isinstance(value, int):
            return pl.lit(value, dtype=pl.Int64)
        if isinstance(value, float):
            return pl.lit(value, dtype=pl.Float64)
        return pl.lit(value)

    def null(self) -> Any:
        return self.pl.lit(None)

    def col(self, name: str) -> Any:
        return self.pl.col(name)

    def criterion(self, index: int) -> Any:
        return self.pl.col(f"{PREFIX}c{index}")

    def rule(self, index: int) -> Any:
        return self.pl.col(f"{PREFIX}r{index}")

    def is_null(self, e: pl.Expr) -> Any:
        return e.is_null()

    def not_(self, e: pl.Expr) -> Any:
        return ~e

    def and_(self, es: Sequence[pl.Expr]) -> Any:
        return balanced(es, operator.and_)

    def or_(self, es: Sequence[pl.Expr]) -> Any:
        return balanced(es, operator.or_)

    def compare(self, op: str, a: pl.Expr, b: pl.Expr) -> Any:
        return _COMPARE[op](a, b)

    def arith(self, op: str, a: pl.Expr, b: pl.Expr) -> Any:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return self.pl.when(b == 0).then(None).otherwise(a / b)

    def neg(self, e: pl.Expr) -> Any:
        return -e

    def int_arith(self, op: str, a: pl.Expr, b: pl.Expr) -> Any:
        pl = self.pl
        wide = self.arith(op, a.cast(pl.Int128), b.cast(pl.Int128))
        # a non-strict cast makes a result outside int64 null: one use of the operands, so
        # nested arithmetic stays linear (a when/then on ``wide`` wrote it twice, 2^k copies)
        return wide.cast(pl.Int64, strict=False)

    def finite(self, e: pl.Expr) -> Any:
        return self.pl.when(e.is_finite()).then(e)

    def in_date_range(self, d: pl.Expr) -> Any:
        low, high = (self.lit(v) for v in DATES)
        return self.pl.when(d.is_between(low, high)).then(d)

    def is_in(self, x: pl.Expr, values: Sequence[Any]) -> Any:
        pl = self.pl
        series = pl.Series(values, dtype=_dtype(pl, values[0]))
        return pl.when(x.is_null()).then(None).otherwise(x.is_in(series.implode()))

    def list_to_float(self, lst: pl.Expr) -> Any:
        return lst.cast(self.pl.List(self.pl.Float64))

    def date_part(self, d: pl.Expr, part: str) -> Any:
        return getattr(d.dt, part)().cast(self.pl.Int64)

    def int_div(self, a: pl.Expr, n: int) -> Any:
        return a // n

    def starts_with(self, text: pl.Expr, prefix: pl.Expr) -> Any:
        return text.str.starts_with(prefix)

    def first_true(self) -> Any:
        return self.pl.col(FIRST)

    def shared(self, index: int) -> Any:
        return self.pl.col(f"{PREFIX}s{index}")

    def to_float(self, e: pl.Expr) -> Any:
        return e.cast(self.pl.Float64)

    def when(self, cases: Sequence[tuple[pl.Expr, pl.Expr]], otherwise: pl.Expr) -> Any:
        pl = self.pl
        chain: Any = pl
        for condition, value in cases:
            chain = chain.when(condition).then(value)
        return chain.otherwise(otherwise)

    def count_true(self, es: Sequence[pl.Expr]) -> Any:
        pl = self.pl
        return pl.sum_horizontal([e.fill_null(False).cast(pl.Int64) for e in es])

    def coalesce(self, es: Sequence[pl.Expr]) -> Any:
        return self.pl.coalesce(es)

    def date_diff_days(self, a: pl.Expr, b: pl.Expr) -> Any:
        return (a - b).dt.total_days()

    def add_months(self, d: pl.Expr, months: int) -> Any:
        return d.dt.offset_by(f"{months}mo")

    def add_days(self, d: pl.Expr, days: pl.Expr) -> Any:
        return d + self.pl.duration(days=days)

    def list_contains(self, lst: pl.Expr, item: pl.Expr) -> Any:
        return lst.list.contains(item)

    def list_has_null(self, lst: pl.Expr) -> Any:
        return lst.list.eval(self.pl.element().is_null()).list.any()

    def list_count(self, lst: pl.Expr, item: bool | None) -> Any:
        e = self.pl.element()
        match = e.is_null() if item is None else (e if item else ~e).fill_null(False)
        return lst.list.eval(match.cast(self.pl.Int64)).list.sum().cast(self.pl.Int64)

    def list_len(self, lst: pl.Expr) -> Any:
        return lst.list.len().cast(self.pl.Int64)

    def names(self, flags: Sequence[tuple[pl.Expr, str]]) -> Any:
        pl = self.pl
        items = [pl.when(flag).then(pl.lit(name, dtype=pl.String)) for flag, name in flags]
        if not items:
            items = [pl.lit(None, dtype=pl.String)]
        return pl.concat_list(items).list.drop_nulls()


def _dtype(pl: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return pl.Boolean
    if isinstance(value, str):
        return pl.String
    if isinstance(value, dt.date):
        return pl.Date
    return pl.Int64 if isinstance(value, int) else pl.Float64


@functools.lru_cache(maxsize=64)
def _lowered(cs: ast.CriteriaSet) -> Lowered[Any]:
    return lower(cs, PolarsOps())


def expressions(cs: ast.CriteriaSet) -> Lowered[Any]:
    """The set as polars expressions (cached per set)."""
    return _lowered(cs)


def evaluate_frame(cs: ast.CriteriaSet, frame: pl.DataFrame | pl.LazyFrame,
                   keep: Sequence[str] = ()) -> pl.DataFrame:
    """Evaluate a frame that has one validated column per input (see
    :func:`koordrules.backends.arrow.prepare`); the carried columns ``keep_name(i)`` come
    first in the result, named ``keep[i]``.

    One query computes the criteria, the rules and the outcome's index; the outcome is then
    picked from the ids (cheaper than building the text row by row) and ``missing`` is
    computed only for the undecided rows: as a bit mask, each distinct mask becoming its
    list once, the decided rows sharing the empty list."""
    pl = require("polars", "polars")
    lowered = expressions(cs)
    lf = frame.lazy()
    by_name = {name: (i, expr) for i, name, expr in lowered.criteria}
    for group in levels(cs):  # criteria that only use earlier groups, side by side
        lf = lf.with_columns([by_name[n][1].alias(f"{PREFIX}c{by_name[n][0]}") for n in group])
    lf = lf.with_columns([r.alias(f"{PREFIX}r{j}") for j, r in enumerate(lowered.rules)])
    assert lowered.outcome_index is not None
    lf = lf.with_columns(lowered.first_true.alias(FIRST),
                         lowered.outcome_index.cast(pl.UInt32).alias(OUTCOME))
    flags = lowered.missing_flags
    if len(flags) > MASK_BITS:  # more than a 64-bit mask holds: build the lists directly
        lf = lf.with_columns(_shared(pl, lowered)).with_columns(
            lowered.missing.cast(pl.List(pl.String)).alias(MASK))
    work = lf.collect()
    ids = pl.Series("outcome", [r.id for r in cs.rules] + [cs.otherwise.id], dtype=pl.String)
    code = work.get_column(OUTCOME)
    columns = [work.get_column(keep_name(i)).alias(name) for i, name in enumerate(keep)]
    columns.append(ids.gather(code))
    columns += [work.get_column(f"{PREFIX}c{i}").cast(pl.Boolean).alias(c.name)
                for i, c in enumerate(cs.criteria)]
    if len(flags) > MASK_BITS:
        columns.append(work.get_column(MASK).alias("missing"))
    else:
        columns.append(_missing(pl, work, code.is_null(), lowered))
    return pl.DataFrame(columns)  # type: ignore[no-any-return]


def _shared(pl: Any, lowered: Lowered[Any]) -> list[Any]:
    return [e.alias(f"{PREFIX}s{k}") for k, e in enumerate(lowered.shared)]


def _missing(pl: Any, work: pl.DataFrame, undecided: pl.Series,
             lowered: Lowered[Any]) -> pl.Series:
    """``missing`` for every row of ``work``: the empty list for decided rows, and for the
    undecided ones the names whose flag is true, through a bit mask per row."""
    flags = lowered.missing_flags
    rows = undecided.arg_true()
    masks = None
    if len(rows):
        mask = pl.sum_horizontal([pl.lit(0, dtype=pl.UInt64)] + [
            pl.when(flag).then(pl.lit(1 << bit, dtype=pl.UInt64)).otherwise(
                pl.lit(0, dtype=pl.UInt64))
            for bit, (flag, _) in enumerate(flags)]).alias(MASK)
        frame = work.filter(undecided).with_columns(_shared(pl, lowered)).select(mask)
        masks = frame.get_column(MASK)
    return names_from_masks(masks, rows, work.height, [name for _, name in flags])


def names_from_masks(masks: pl.Series | None, rows: pl.Series, height: int,
                     names: Sequence[str]) -> pl.Series:
    """A ``missing`` column of ``height`` rows: row ``rows[k]`` lists the ``names`` whose
    bit is set in ``masks[k]``, every other row the empty list. Each distinct mask becomes
    its list once; the rows share them."""
    pl = require("polars", "polars")
    lists: list[list[str]] = [[]]
    codes = pl.zeros(height, dtype=pl.UInt32, eager=True)
    if masks is not None and len(rows):
        distinct = masks.unique(maintain_order=True)
        lists += [[name for bit, name in enumerate(names) if m >> bit & 1]
                  for m in distinct.to_list()]
        table = pl.DataFrame({MASK: distinct,
                              INDEX: pl.int_range(1, len(distinct) + 1, dtype=pl.UInt32,
                                                  eager=True)})
        found = masks.alias(MASK).to_frame().join(table, on=MASK, how="left",
                                                  maintain_order="left")
        codes = codes.scatter(rows, found.get_column(INDEX))
    named = pl.Series("missing", lists, dtype=pl.List(pl.String))
    return named.gather(codes)  # type: ignore[no-any-return]


def evaluate(program: Program, data: Any, *, strict: bool = True,
             ignore: frozenset[str] = frozenset(), keep: tuple[str, ...] = ()) -> Table:
    """One row per record (see :mod:`koordrules.backends`)."""
    from koordrules.backends.arrow import prepare

    pl = require("polars", "polars")
    table = prepare(program, data, strict=strict, ignore=ignore, keep=keep)
    frame = pl.from_arrow(table)
    return evaluate_frame(program.criteria_set, frame, keep)
