"""Runtime values of the expression language and their JSON form.

A value is ``None`` (unknown), ``bool``, ``int``/``float`` (number), ``str``, ``datetime.date``,
:class:`Duration` or a ``tuple`` of values (list). ``None`` is the third truth value: unknown.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import TypeAlias

UNIT_ALIASES = {
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
}


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar duration: whole months plus whole days (weeks are 7 days, years 12 months)."""

    months: int = 0
    days: int = 0

    @classmethod
    def of(cls, amount: int, unit: str) -> Duration:
        unit = UNIT_ALIASES[unit]
        if unit == "days":
            return cls(days=amount)
        if unit == "weeks":
            return cls(days=7 * amount)
        if unit == "months":
            return cls(months=amount)
        return cls(months=12 * amount)

    def approx_days(self) -> float:
        """Length in days, months counted as 30.436875 days (the Gregorian mean)."""
        return self.months * 30.436875 + self.days

    def __neg__(self) -> Duration:
        return Duration(-self.months, -self.days)

    def __str__(self) -> str:
        parts = []
        if self.months:
            parts.append(f"{self.months} months")
        if self.days or not parts:
            parts.append(f"{self.days} days")
        return " ".join(parts)


Value: TypeAlias = "bool | int | float | str | dt.date | Duration | tuple[Value, ...] | None"
JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | None"


def add_duration(day: dt.date, duration: Duration) -> dt.date:
    """Calendar arithmetic: add months (clamped to month end), then days."""
    month_index = day.year * 12 + day.month - 1 + duration.months
    year, month = divmod(month_index, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    last = calendar.monthrange(year, month)[1]
    moved = dt.date(year, month, min(day.day, last))
    return moved + dt.timedelta(days=duration.days)


def to_json(value: Value) -> JSONValue:
    """The JSON form of a value: dates as ISO strings, durations as ``"6 months"``."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, tuple):
        return [to_json(v) for v in value]
    return value


def show(value: Value) -> str:
    """A short human rendering, used in traces and messages (``unknown`` for ``None``)."""
    if value is None:
        return "unknown"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(to_json(value))
