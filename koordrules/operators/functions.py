"""Built-in functions: name → signature, type rule and reference implementation.

Every implementation takes already-evaluated argument values (``None`` = unknown) and follows
Kleene null semantics: a result is unknown exactly when the known arguments cannot decide it
(``is_known`` and ``coalesce`` look at knowledge itself). The list forms of ``any``/``all``
are Kleene over the elements, unlike CQL's ``AnyTrue``/``AllTrue``, which skip nulls: here a
null element is missing data, not an absent one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from koordrules.operators.reference import kleene_and, kleene_or, whole_months_between
from koordrules.types import ANY, BOOLEAN, DATE, NUMBER, STRING, Type, unify
from koordrules.values import Value

Checker = Callable[[Sequence[Type]], "Type | str"]
"""Returns the result type, or a one-line message saying what is wrong with the arguments."""


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    signature: str
    doc: str
    check: Checker
    impl: Callable[[Sequence[Value]], Value]


def at_least(n: Value, values: Sequence[Value]) -> bool | None:
    """True when at least ``n`` are true whatever the unknowns turn out to be; false when
    that many can no longer be reached; unknown otherwise."""
    if n is None:
        return None
    true = sum(1 for v in values if v is True)
    unknown = sum(1 for v in values if v is None)
    if true >= n:  # type: ignore[operator]
        return True
    if true + unknown < n:  # type: ignore[operator]
        return False
    return None


def _flatten(values: Sequence[Value]) -> Sequence[Value] | None:
    """Variadic booleans, or a single list argument; ``None`` when that list is unknown."""
    if len(values) == 1 and (isinstance(values[0], tuple) or values[0] is None):
        if values[0] is None:
            return None
        return values[0]
    return values


def _bools(args: Sequence[Type], *, skip: int = 0) -> str | None:
    rest = args[skip:]
    if len(rest) == 1 and rest[0].name == "list":
        if rest[0].element is None or BOOLEAN.accepts(rest[0].element):
            return None
        return f"expects a list of booleans, got {rest[0]}"
    for i, t in enumerate(rest, start=skip + 1):
        if not BOOLEAN.accepts(t):
            return f"argument {i} must be boolean, got {t}"
    return None


def _check_bool_args(args: Sequence[Type]) -> Type | str:
    if not args:
        return "needs at least one argument"
    return _bools(args) or BOOLEAN


def _check_at_least(args: Sequence[Type]) -> Type | str:
    if len(args) < 2:
        return "needs a count and at least one condition: at_least(n, a, b, ...)"
    if not NUMBER.accepts(args[0]):
        return f"argument 1 (the count) must be a number, got {args[0]}"
    return _bools(args, skip=1) or BOOLEAN


def _check_count_true(args: Sequence[Type]) -> Type | str:
    if not args:
        return "needs at least one argument"
    return _bools(args) or NUMBER


def _check_is_known(args: Sequence[Type]) -> Type | str:
    return BOOLEAN if len(args) == 1 else "takes exactly one argument"


def _check_coalesce(args: Sequence[Type]) -> Type | str:
    if len(args) < 2:
        return "needs at least two arguments"
    result: Type | None = args[0]
    for t in args[1:]:
        result = unify(result, t) if result else None
        if result is None:
            return "arguments must all have the same type"
    return result or ANY


def _check_length(args: Sequence[Type]) -> Type | str:
    if len(args) != 1 or args[0].name not in ("list", "any"):
        return "takes one list"
    return NUMBER


def _check_two(first: Type, second: Type, result: Type) -> Checker:
    def check(args: Sequence[Type]) -> Type | str:
        if len(args) != 2:
            return "takes exactly two arguments"
        for i, (want, got) in enumerate(zip((first, second), args, strict=True), start=1):
            if not want.accepts(got):
                return f"argument {i} must be a {want}, got {got}"
        return result
    return check


def _any(values: Sequence[Value]) -> Value:
    flat = _flatten(values)
    return None if flat is None else kleene_or(flat)


def _all(values: Sequence[Value]) -> Value:
    flat = _flatten(values)
    return None if flat is None else kleene_and(flat)


def _at_least(values: Sequence[Value]) -> Value:
    flat = _flatten(values[1:])
    if flat is None:  # one unknown condition or list: only a count <= 0 is decided
        n = values[0]
        return True if n is not None and n <= 0 else None  # type: ignore[operator]
    return at_least(values[0], flat)


def _count_true(values: Sequence[Value]) -> Value:
    flat = _flatten(values)
    if flat is None or any(v is None for v in flat):
        return None
    return sum(1 for v in flat if v is True)


def _coalesce(values: Sequence[Value]) -> Value:
    return next((v for v in values if v is not None), None)


def _length(values: Sequence[Value]) -> Value:
    return None if values[0] is None else len(values[0])  # type: ignore[arg-type]


def _starts_with(values: Sequence[Value]) -> Value:
    text, prefix = values
    if not isinstance(text, str) or not isinstance(prefix, str):
        return None
    return text.startswith(prefix)


def _dates(values: Sequence[Value]) -> tuple[dt.date, dt.date] | None:
    start, end = values
    if isinstance(start, dt.date) and isinstance(end, dt.date):
        return start, end
    return None


def _months_between(values: Sequence[Value]) -> Value:
    pair = _dates(values)
    return None if pair is None else whole_months_between(*pair)


def _years_between(values: Sequence[Value]) -> Value:
    pair = _dates(values)
    if pair is None:
        return None
    months = whole_months_between(*pair)
    return months // 12 if months >= 0 else -(-months // 12)


def _days_between(values: Sequence[Value]) -> Value:
    pair = _dates(values)
    return None if pair is None else (pair[1] - pair[0]).days


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("any", "any(a, b, ...) or any(list)",
                 "True when at least one condition is true (Kleene or).", _check_bool_args, _any),
        Function("all", "all(a, b, ...) or all(list)",
                 "True when every condition is true (Kleene and).", _check_bool_args, _all),
        Function("at_least", "at_least(n, a, b, ...)",
                 "True when at least n conditions are true; unknown while the unknown "
                 "conditions could still decide it.", _check_at_least, _at_least),
        Function("count_true", "count_true(a, b, ...)",
                 "How many conditions are true; unknown if any condition is unknown "
                 "(use at_least to decide with partial data).", _check_count_true, _count_true),
        Function("is_known", "is_known(x)",
                 "True when x has a value, false when it is unknown. Never unknown.",
                 _check_is_known, lambda v: v[0] is not None),
        Function("coalesce", "coalesce(x, y, ...)",
                 "The first argument that is known; unknown if all are unknown.",
                 _check_coalesce, _coalesce),
        Function("length", "length(list)",
                 "The number of elements of a list; unknown if the list is unknown.",
                 _check_length, _length),
        Function("starts_with", "starts_with(text, prefix)",
                 "True when text begins with prefix (case-sensitive), e.g. a code prefix.",
                 _check_two(STRING, STRING, BOOLEAN), _starts_with),
        Function("years_between", "years_between(from, to)",
                 "Whole calendar years from the first date to the second (an age: "
                 "years_between(birth_date, as_of)); negative when to is earlier.",
                 _check_two(DATE, DATE, NUMBER), _years_between),
        Function("months_between", "months_between(from, to)",
                 "Whole calendar months from the first date to the second; negative when "
                 "to is earlier.", _check_two(DATE, DATE, NUMBER), _months_between),
        Function("days_between", "days_between(from, to)",
                 "Days from the first date to the second; negative when to is earlier.",
                 _check_two(DATE, DATE, NUMBER), _days_between),
    )
}

