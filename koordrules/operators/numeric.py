"""The numeric and date model, defined once (see ``docs/language.md``, *Numbers and dates*).

* ``integer`` values are exact 64-bit integers; a result outside ``[-2**63, 2**63 - 1]`` is
  unknown (as CQL's overflow gives null).
* ``number`` values are IEEE-754 binary64 (Python ``float``); a NaN or infinite result is
  unknown. Mixing an integer with a number converts the integer to binary64 first, in
  arithmetic and in comparisons alike. ``/`` always gives a number; dividing by zero is unknown.
* Dates run from 0001-01-01 to 9999-12-31; date arithmetic that leaves that range is unknown.
"""

from __future__ import annotations

import math
from typing import Any

from koordrules.values import Value

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


def in_range(value: Any) -> Value:
    """``value`` if it is representable in the model, else ``None`` (unknown)."""
    if value.__class__ is int:
        return value if INT_MIN <= value <= INT_MAX else None
    if value.__class__ is float:
        return value if math.isfinite(value) else None
    return value  # type: ignore[no-any-return]


def common(a: Any, b: Any) -> tuple[Any, Any]:
    """Two numbers brought to one representation: an integer meeting a float becomes a float."""
    if a.__class__ is float and b.__class__ is int:
        return a, float(b)
    if a.__class__ is int and b.__class__ is float:
        return float(a), b
    return a, b


def is_finite_number(value: Any) -> bool:
    """Whether a parameter or literal value fits the model (no NaN, no infinity, int64)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return INT_MIN <= value <= INT_MAX
    return True
