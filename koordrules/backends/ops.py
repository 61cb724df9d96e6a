"""What a column engine offers the lowering (:mod:`koordrules.backends.lower`): the primitives
(:class:`Ops`) and the shapes of a lowered set (:class:`Val`, :class:`Lowered`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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

    def int_arith(self, op: str, a: E, b: E) -> E:
        """``+ - *`` on int64 values, exact; null when the result leaves int64."""
        raise NotImplementedError

    def finite(self, e: E) -> E:
        """``e`` (a binary64), or null when it is NaN or infinite."""
        raise NotImplementedError

    def in_date_range(self, d: E) -> E:
        """``d``, or null when it lies outside 0001-01-01..9999-12-31."""
        raise NotImplementedError

    def is_in(self, x: E, values: Sequence[Any]) -> E:
        """Whether ``x`` is one of the constants ``values`` (null when ``x`` is null)."""
        raise NotImplementedError

    def list_to_float(self, lst: E) -> E:
        """A list of integers as a list of binary64 values."""
        raise NotImplementedError

    def date_part(self, d: E, part: str) -> E:
        """The ``year``, ``month`` or ``day`` of a date, as an int64."""
        raise NotImplementedError

    def int_div(self, a: E, n: int) -> E:
        """``a // n`` for ``a >= 0`` and a positive constant ``n``."""
        raise NotImplementedError

    def starts_with(self, text: E, prefix: E) -> E:
        raise NotImplementedError

    def first_true(self) -> E:
        """The index of the first true rule (the rule count if none), computed in the stage
        after the rules from :attr:`Lowered.first_true`."""
        raise NotImplementedError

    def shared(self, index: int) -> E | None:
        """The value of shared subexpression ``index`` (:attr:`Lowered.shared`, computed in
        the stage with the outcome), or ``None`` when the engine writes it out in place."""
        return None

    def neg(self, e: E) -> E:
        raise NotImplementedError

    def to_float(self, e: E) -> E:
        raise NotImplementedError

    def when(self, cases: Sequence[tuple[E, E]], otherwise: E) -> E:
        raise NotImplementedError

    def count_true(self, es: Sequence[E]) -> E:
        """How many of ``es`` are true (nulls count as not true); never null."""
        raise NotImplementedError

    def list_count(self, lst: E, item: bool | None) -> E:
        """How many items of the (known) list ``lst`` are ``item`` (true, false or null)."""
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
        """The number of items, as a signed 64-bit integer."""
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
    first_true: E
    """The index of the first true rule, or the number of rules (refers to the rules);
    ``missing`` refers to it through ``Ops.first_true``."""
    outcome_index: E | None = None
    """``outcome`` as the index of its rule (the number of rules for ``otherwise``), null
    when undecided: for engines where picking from the ids is cheaper than the text."""
    shared: list[E] = field(default_factory=list)
    """Subexpressions that ``missing`` tests for several inputs, computed once where the
    engine offers ``Ops.shared`` (they refer to inputs and criteria)."""


def balanced(es: Sequence[E], combine: Any) -> E:
    """``es`` combined pairwise as a balanced tree (depth log n, not n)."""
    items = list(es)
    while len(items) > 1:
        items = [combine(items[k], items[k + 1]) if k + 1 < len(items) else items[k]
                 for k in range(0, len(items), 2)]
    return items[0]
