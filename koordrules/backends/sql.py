"""The set as one SQL query, built as a sqlglot syntax tree and printed for a dialect.

SQL's ``AND``/``OR``/``NOT`` are Kleene's and comparisons with ``NULL`` are ``NULL``, so the
lowered expressions (:mod:`koordrules.backends.lower`) are the interpreter's logic. The query
reads a table with one column per input and returns, per row, ``outcome``, one column per
criterion and ``missing`` (an array of input names):

    WITH stage_1 AS (SELECT *, <criteria with no dependencies> FROM records),
         stage_2 AS (SELECT *, <criteria using stage 1> FROM stage_1), ...,
         rules AS (SELECT *, <rule conditions> FROM stage_n)
    SELECT CASE ... END AS outcome, ... AS "A", ..., FILTER(ARRAY(...)) AS missing FROM rules

Names are quoted identifiers and values are literals of the syntax tree; no text from the
criteria file is pasted into the query. Dialects: ``duckdb`` (run by
:mod:`koordrules.backends.duckdb`), ``spark``, ``postgres``. Row order follows the input in
DuckDB; other engines do not promise it, so carry an id column (``ignore``d) when it matters.
Text comparisons follow the engine's collation (binary in DuckDB and Spark; set ``C`` collation
in PostgreSQL for the interpreter's order).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Sequence
from typing import Any

from koordrules import ast
from koordrules.backends import require
from koordrules.backends.lower import Ops, balanced, levels, lower
from koordrules.errors import KoordError
from koordrules.names import GENERATED_PREFIX

DIALECTS = ("duckdb", "spark", "postgres")
NAME_BYTES = {"postgres": 63}
"""The longest identifier (UTF-8 bytes) a dialect keeps; PostgreSQL cuts longer ones silently
(NAMEDATALEN - 1), so two long names could become one column."""
PREFIX = GENERATED_PREFIX
FIRST = f"{PREFIX}first"
MASK = f"{PREFIX}missing"
MASK_BITS = 62
"""The most flags a ``mask`` query packs into one signed 64-bit integer."""
INT64 = (-(2**63), 2**63 - 1)
DATES = (dt.date(1, 1, 1), dt.date(9999, 12, 31))

E = Any  # sqlglot.exp.Expression


class SqlOps(Ops[E]):
    def __init__(self) -> None:
        self.exp = require("sqlglot.expressions", "sql")

    def p(self, e: E) -> E:
        """``e`` in parentheses unless it is atomic."""
        exp = self.exp
        if isinstance(e, exp.Column | exp.Literal | exp.Boolean | exp.Null | exp.Paren
                      | exp.Cast | exp.Func | exp.Case):
            return e
        return exp.Paren(this=e)

    def lit(self, value: Any) -> E:
        exp = self.exp
        if value is None:
            return exp.Null()
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, str):
            return exp.Literal.string(value)
        if isinstance(value, dt.date):
            return exp.Cast(this=exp.Literal.string(value.isoformat()),
                            to=exp.DataType.build("DATE"))
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                raise KoordError("a number that is not finite has no SQL form",
                                 code="not_finite")
            text = repr(abs(value))
            number: E = exp.Literal.number(text)
            if value < 0:
                number = exp.Paren(this=exp.Neg(this=number))
            if isinstance(value, float):  # binary64, never an exact DECIMAL
                number = exp.Cast(this=number, to=exp.DataType.build("DOUBLE"))
            return number
        raise TypeError(f"no SQL literal for {type(value).__name__}")  # pragma: no cover

    def null(self) -> E:
        return self.exp.Null()

    def col(self, name: str) -> E:
        return self.exp.column(name, quoted=True)

    def criterion(self, index: int) -> E:
        return self.exp.column(f"{PREFIX}c{index}", quoted=True)

    def rule(self, index: int) -> E:
        return self.exp.column(f"{PREFIX}r{index}", quoted=True)

    def is_null(self, e: E) -> E:
        return self.exp.Paren(this=self.exp.Is(this=self.p(e), expression=self.exp.Null()))

    def not_(self, e: E) -> E:
        return self.exp.Paren(this=self.exp.Not(this=self.p(e)))

    def and_(self, es: Sequence[E]) -> E:
        exp = self.exp
        return balanced([self.p(e) for e in es],
                        lambda a, b: exp.Paren(this=exp.And(this=a, expression=b)))

    def or_(self, es: Sequence[E]) -> E:
        exp = self.exp
        return balanced([self.p(e) for e in es],
                        lambda a, b: exp.Paren(this=exp.Or(this=a, expression=b)))

    def compare(self, op: str, a: E, b: E) -> E:
        exp = self.exp
        cls = {"==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT,
               ">=": exp.GTE}[op]
        return exp.Paren(this=cls(this=self.p(a), expression=self.p(b)))

    def arith(self, op: str, a: E, b: E) -> E:
        exp = self.exp
        if op == "/":
            divisor = exp.Nullif(this=b, expression=exp.Literal.number(0))
            return exp.Paren(this=exp.Div(this=self.to_float(a), expression=divisor))
        cls = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[op]
        return exp.Paren(this=cls(this=self.p(a), expression=self.p(b)))

    def neg(self, e: E) -> E:
        return self.exp.Paren(this=self.exp.Neg(this=self.p(e)))

    def int_arith(self, op: str, a: E, b: E) -> E:
        # exact in DECIMAL(38, 0) (a product of two int64 fits), then NULL outside int64:
        # TRY_CAST, printed as is for DuckDB; for the other dialects :func:`printed` writes
        # it as a clamp (see :func:`_clamped`). Either way one use of the operands, so nested
        # arithmetic stays linear in size and in DuckDB's work
        exp = self.exp
        wide = exp.DataType.build("DECIMAL(38, 0)")
        cls = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[op]
        r = cls(this=exp.Cast(this=a, to=wide), expression=exp.Cast(this=b, to=wide))
        return exp.TryCast(this=r, to=exp.DataType.build("BIGINT"))

    def finite(self, e: E) -> E:
        exp = self.exp
        for special in ("Infinity", "-Infinity", "NaN"):
            e = exp.Nullif(this=e, expression=exp.Cast(this=exp.Literal.string(special),
                                                       to=exp.DataType.build("DOUBLE")))
        return e

    def in_date_range(self, d: E) -> E:
        exp = self.exp
        inside = exp.Between(this=self.p(d), low=self.lit(DATES[0]), high=self.lit(DATES[1]))
        return self.when([(inside, d)], exp.Cast(this=exp.Null(),
                                                 to=exp.DataType.build("DATE")))

    def is_in(self, x: E, values: Sequence[Any]) -> E:
        exp = self.exp
        return exp.Paren(this=exp.In(this=self.p(x), expressions=[self.lit(v) for v in values]))

    def list_to_float(self, lst: E) -> E:
        return self.exp.Cast(this=lst, to=self.exp.DataType.build("ARRAY<DOUBLE>"))

    def date_part(self, d: E, part: str) -> E:
        exp = self.exp
        cls = {"year": exp.Year, "month": exp.Month, "day": exp.Day}[part]
        return exp.Cast(this=cls(this=d), to=exp.DataType.build("BIGINT"))

    def int_div(self, a: E, n: int) -> E:
        return self.exp.Paren(this=self.exp.IntDiv(this=self.p(a), expression=self.lit(n)))

    def starts_with(self, text: E, prefix: E) -> E:
        return self.exp.StartsWith(this=text, expression=prefix)

    def first_true(self) -> E:
        return self.exp.column(FIRST, quoted=True)

    def shared(self, index: int) -> E:
        return self.exp.column(f"{PREFIX}s{index}", quoted=True)

    def to_float(self, e: E) -> E:
        return self.exp.Cast(this=e, to=self.exp.DataType.build("DOUBLE"))

    def when(self, cases: Sequence[tuple[E, E]], otherwise: E) -> E:
        exp = self.exp
        return exp.Case(ifs=[exp.If(this=c, true=v) for c, v in cases], default=otherwise)

    def count_true(self, es: Sequence[E]) -> E:
        exp = self.exp
        ones = [self.when([(e, self.lit(1))], self.lit(0)) for e in es]
        return balanced(ones, lambda a, b: exp.Paren(this=exp.Add(this=a, expression=b)))

    def coalesce(self, es: Sequence[E]) -> E:
        return self.exp.Coalesce(this=es[0], expressions=list(es[1:]))

    def date_diff_days(self, a: E, b: E) -> E:
        return self.exp.DateDiff(this=a, expression=b, unit=self.exp.var("DAY"))

    def add_months(self, d: E, months: int) -> E:
        exp = self.exp
        moved = exp.DateAdd(this=d, expression=self.lit(months), unit=exp.var("MONTH"))
        return exp.Cast(this=moved, to=exp.DataType.build("DATE"))

    def add_days(self, d: E, days: E) -> E:
        exp = self.exp
        moved = exp.DateAdd(this=d, expression=days, unit=exp.var("DAY"))
        return exp.Cast(this=moved, to=exp.DataType.build("DATE"))

    def list_contains(self, lst: E, item: E) -> E:
        return self.exp.ArrayContains(this=lst, expression=item)

    def _lambda(self, body: Any) -> E:
        exp = self.exp
        v = exp.column("_v")
        return exp.Lambda(this=body(v), expressions=[exp.to_identifier("_v")])

    def list_has_null(self, lst: E) -> E:
        exp = self.exp
        nulls = exp.ArrayFilter(this=lst, expression=self._lambda(lambda v: v.is_(exp.null())))
        return exp.Paren(this=exp.GT(this=exp.ArraySize(this=nulls),
                                     expression=exp.Literal.number(0)))

    def list_count(self, lst: E, item: bool | None) -> E:
        exp = self.exp
        match = self._lambda(lambda v: v.is_(exp.null()) if item is None
                             else v.is_(exp.true() if item else exp.false()))
        size = exp.ArraySize(this=exp.ArrayFilter(this=lst, expression=match))
        size = exp.Coalesce(this=size, expressions=[exp.Literal.number(0)])
        return exp.Cast(this=size, to=exp.DataType.build("BIGINT"))

    def list_len(self, lst: E) -> E:
        # PostgreSQL's ARRAY_LENGTH of an empty array is NULL (a null list is handled before)
        exp = self.exp
        size = exp.Coalesce(this=exp.ArraySize(this=lst), expressions=[exp.Literal.number(0)])
        return exp.Cast(this=size, to=exp.DataType.build("BIGINT"))

    def names(self, flags: Sequence[tuple[E, str]]) -> E:
        exp = self.exp
        items = [self.when([(flag, self.lit(name))], exp.Cast(
            this=exp.Null(), to=exp.DataType.build("VARCHAR"))) for flag, name in flags]
        if not items:
            items = [exp.Cast(this=exp.Null(), to=exp.DataType.build("VARCHAR"))]
        return exp.ArrayFilter(this=exp.Array(expressions=items),
                               expression=self._lambda(lambda v: exp.Not(
                                   this=v.is_(exp.null()))))


@functools.lru_cache(maxsize=64)
def query(cs: ast.CriteriaSet, table: str = "records", keep: tuple[str, ...] = (),
          mask: bool = False) -> Any:
    """The query as a sqlglot expression (cached per set, table name and kept columns).
    With ``mask``, the last column is :data:`MASK` instead of ``missing``: the flags of
    :attr:`~koordrules.backends.ops.Lowered.missing_flags` as the bits of one integer (at
    most :data:`MASK_BITS` flags), null where the outcome is decided."""
    exp = require("sqlglot.expressions", "sql")
    ops = SqlOps()
    lowered = lower(cs, ops)
    by_name = {name: (i, e) for i, name, e in lowered.criteria}
    source: Any = exp.table_(table, quoted=True)
    ctes: list[tuple[str, Any]] = []

    def stage(name: str, columns: list[Any]) -> None:
        nonlocal source
        select = exp.select(exp.Star(), *columns).from_(source)
        ctes.append((name, select))
        source = exp.table_(name, quoted=True)

    for n, group in enumerate(levels(cs), start=1):
        stage(f"{PREFIX}stage_{n}", [
            exp.alias_(by_name[c][1], f"{PREFIX}c{by_name[c][0]}", quoted=True)
            for c in group])
    stage(f"{PREFIX}rules", [exp.alias_(r, f"{PREFIX}r{j}", quoted=True)
                             for j, r in enumerate(lowered.rules)] or [exp.Null()])
    stage(f"{PREFIX}outcome", [exp.alias_(lowered.outcome, f"{PREFIX}outcome", quoted=True),
                               exp.alias_(lowered.first_true, FIRST, quoted=True),
                               *(exp.alias_(e, f"{PREFIX}s{k}", quoted=True)
                                 for k, e in enumerate(lowered.shared))])
    outcome = exp.column(f"{PREFIX}outcome", quoted=True)
    columns = [exp.column(name, quoted=True) for name in keep]
    columns.append(exp.alias_(outcome, "outcome", quoted=True))
    columns += [exp.alias_(ops.criterion(i), c.name, quoted=True)
                for i, c in enumerate(cs.criteria)]
    # ``missing`` is worked out only where the outcome is undecided
    if mask:  # as a bit mask per input (bit k: ``missing_flags[k]``), null when decided
        bits = [ops.when([(flag, ops.lit(1 << bit))], ops.lit(0))
                for bit, (flag, _) in enumerate(lowered.missing_flags)] or [ops.lit(0)]
        total = balanced(bits, lambda a, b: exp.Paren(this=exp.Add(this=a, expression=b)))
        columns.append(exp.alias_(ops.when([(ops.is_null(outcome), total)], ops.null()),
                                  MASK, quoted=True))
    else:
        empty = ops.names([])
        missing = ops.when([(ops.is_null(outcome), lowered.missing)], empty)
        columns.append(exp.alias_(missing, "missing", quoted=True))
    select = exp.select(*columns).from_(source)
    for name, cte in ctes:
        select = select.with_(name, as_=cte)
    return select


def to_sql(cs: ast.CriteriaSet, *, dialect: str = "duckdb", table: str = "records",
           pretty: bool = True, keep: Sequence[str] = ()) -> str:
    """The set as one SQL query for ``dialect`` (``duckdb``, ``spark`` or ``postgres``)
    over ``table``, which has one column per input; the columns named in ``keep`` (an id,
    a unit, …) come first in each result row, as they are in ``table``."""
    clash = {"outcome", "missing", *(c.name for c in cs.criteria)}.intersection(keep)
    if clash:
        raise KoordError(f"the column {sorted(clash)[0]!r} cannot be kept: the result has a "
                         "column of that name", code="column_clash")
    if dialect not in DIALECTS:
        raise KoordError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}",
                         code="unknown_dialect")
    check_names(cs, dialect)
    return printed(query(cs, table, tuple(dict.fromkeys(keep))), dialect, pretty)


def check_names(cs: ast.CriteriaSet, dialect: str) -> None:
    """Refuse input and criterion names longer than ``dialect`` keeps (:data:`NAME_BYTES`),
    at the name's declaration."""
    limit = NAME_BYTES.get(dialect)
    if limit is None:
        return
    named = [("input", d.name, d.span) for d in cs.inputs]
    named += [("criterion", c.name, c.span) for c in cs.criteria]
    for what, name, span in named:
        size = len(name.encode("utf-8"))
        if size > limit:
            short = name[:24] + "…"
            raise KoordError(
                f"the {what} name {short!r} is {size} bytes long; {dialect} keeps only "
                f"{limit} bytes of a name, so write a shorter name",
                span=span, file=cs.file, code="name_too_long",
                translations={
                    "nb": f"navnet {short!r} er {size} byte langt; {dialect} beholder bare "
                          f"{limit} byte av et navn, så skriv et kortere navn",
                    "nn": f"namnet {short!r} er {size} byte langt; {dialect} held berre på "
                          f"{limit} byte av eit namn, så skriv eit kortare namn"})


def _clamped(node: Any) -> Any:
    """A TRY_CAST to BIGINT (only :meth:`SqlOps.int_arith` makes one) as a clamp: the value
    clamped to a sentinel just outside int64 and the sentinels made NULL. LEAST/GREATEST are
    marked null-skipping so that sqlglot prints them as they are, not as a CASE that writes
    the operand twice; a NULL clamps to the high sentinel and becomes NULL again."""
    exp = require("sqlglot.expressions", "sql")
    if not isinstance(node, exp.TryCast):
        return node
    low, high = SqlOps().lit(INT64[0] - 1), SqlOps().lit(INT64[1] + 1)
    clamped = exp.Greatest(this=exp.Least(this=node.this, expressions=[high], ignore_nulls=True),
                           expressions=[low], ignore_nulls=True)
    inside = exp.Nullif(this=exp.Nullif(this=clamped, expression=high), expression=low)
    return exp.Cast(this=inside, to=exp.DataType.build("BIGINT"))


def printed(tree: Any, dialect: str, pretty: bool) -> str:
    """``tree`` as SQL for ``dialect``. DuckDB runs TRY_CAST; PostgreSQL has none, and
    DuckDB expands NULLIF into a CASE that evaluates its operand twice, so only DuckDB gets
    TRY_CAST and the others the clamp."""
    if dialect != "duckdb":
        tree = tree.transform(_clamped)
    return str(tree.sql(dialect=dialect, pretty=pretty))


@functools.lru_cache(maxsize=64)
def mask_query(cs: ast.CriteriaSet, table: str = "records") -> tuple[str, list[str]] | None:
    """The DuckDB query with ``missing`` as a bit mask (:func:`query` with ``mask``) and the
    input name of each bit; ``None`` when the set has more than :data:`MASK_BITS` flags."""
    names = [name for _, name in lower(cs, SqlOps()).missing_flags]
    if len(names) > MASK_BITS:
        return None
    return printed(query(cs, table, (), True), "duckdb", False), names
