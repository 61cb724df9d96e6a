"""The reference implementation of every operator: pure functions on evaluated values.

``None`` is unknown. The connectives are Kleene's strong ones; every other operator is
*strict* (unknown in gives unknown out) unless its entry in :mod:`koordrules.operators.spec`
says otherwise. Nothing here raises on a well-typed input: results the numeric or date model
cannot represent are unknown (:mod:`koordrules.operators.numeric`).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from typing import Any

from koordrules.operators.numeric import common, in_range
from koordrules.values import Duration, Value, add_duration

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def kleene_and(values: Sequence[Value]) -> bool | None:
    """False if any is false; otherwise unknown if any is unknown; otherwise true."""
    unknown = False
    for v in values:
        if v is False:
            return False
        if v is None:
            unknown = True
    return None if unknown else True


def kleene_or(values: Sequence[Value]) -> bool | None:
    """True if any is true; otherwise unknown if any is unknown; otherwise false."""
    unknown = False
    for v in values:
        if v is True:
            return True
        if v is None:
            unknown = True
    return None if unknown else False


def not_(value: Value) -> bool | None:
    return None if value is None else not value


def negate(value: Value) -> Value:
    if value is None:
        return None
    if isinstance(value, Duration):
        return -value
    return in_range(-value)  # type: ignore[operator]


def _orderable(value: Value) -> Value:
    return value.approx_days() if isinstance(value, Duration) else value


def compare(op: str, left: Value, right: Value) -> bool | None:
    if left is None or right is None:
        return None
    a, b = common(left, right)
    if op in ("==", "!="):
        return _COMPARE[op](a, b)
    return _COMPARE[op](_orderable(a), _orderable(b))


def _dates(op: str, left: Value, right: Value) -> Value:
    try:
        if isinstance(left, dt.date) and isinstance(right, dt.date):
            return Duration(days=(left - right).days)
        if isinstance(left, dt.date) and isinstance(right, Duration):
            return add_duration(left, -right if op == "-" else right)
        if isinstance(left, Duration) and isinstance(right, dt.date):
            return add_duration(right, left)
    except (OverflowError, ValueError):
        return None  # outside 0001-01-01 .. 9999-12-31
    sign = -1 if op == "-" else 1
    a, b = left, right
    assert isinstance(a, Duration) and isinstance(b, Duration)
    return Duration(a.months + sign * b.months, a.days + sign * b.days)


def arith(op: str, left: Value, right: Value) -> Value:
    if left is None or right is None:
        return None
    if isinstance(left, dt.date | Duration) or isinstance(right, dt.date | Duration):
        return _dates(op, left, right)
    a: Any
    b: Any
    a, b = common(left, right)
    if op == "+":
        return in_range(a + b)
    if op == "-":
        return in_range(a - b)
    if op == "*":
        return in_range(a * b)
    if b == 0:
        return None
    return in_range(float(a) / float(b))


def membership(item: Value, container: Value, negated: bool = False) -> bool | None:
    """``item in container`` as the Kleene disjunction of ``item == element``."""
    if item is None or container is None:
        return None
    found = kleene_or([compare("==", item, e) for e in container])  # type: ignore[union-attr]
    if found is None or not negated:
        return found
    return not found


def if_(condition: Value, then: Value, else_: Value) -> Value:
    """``if condition then a else b``; an unknown condition gives unknown."""
    if condition is None:
        return None
    return then if condition else else_


def implies(left: Value, right: Value) -> bool | None:
    return kleene_or([not_(left), right])


def xor(left: Value, right: Value) -> bool | None:
    if left is None or right is None:
        return None
    return left is not right


def between(operand: Value, low: Value, high: Value) -> bool | None:
    return kleene_and([compare(">=", operand, low), compare("<=", operand, high)])


def whole_months_between(start: dt.date, end: dt.date) -> int:
    """The largest ``n`` with ``start + n months <= end`` (month ends clamped, as ``+``);
    for ``end < start`` minus the count from ``end`` to ``start``."""
    if end < start:
        return -whole_months_between(end, start)
    n = (end.year - start.year) * 12 + end.month - start.month
    if n > 0 and add_duration(start, Duration(months=n)) > end:
        n -= 1
    return n
