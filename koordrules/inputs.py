"""Patient records checked against a set's declared inputs.

Missing keys and ``None`` are *unknown*. A value of the wrong type, out of its declared range,
or a key the set does not declare is an :class:`~koordrules.errors.InputError`; with
``strict=False`` it becomes unknown plus a warning instead. Values are never coerced silently:
the only conversions are the documented text encodings (ISO dates in JSON, and typed parsing of
CSV cells in :func:`from_text`). Messages name the input, never its value.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from koordrules import ast
from koordrules.errors import InputError, InputProblem
from koordrules.operators.numeric import INT_MAX, INT_MIN
from koordrules.values import Value

MAX_KEYS = 1_000
MAX_STRING = 10_000
MAX_LIST = 1_000

MAX_DIGITS = 4_300

# the one number grammar of text cells: ASCII digits, no `_` separators, no `inf`/`nan`
_INTEGER = re.compile(r"[+-]?[0-9]+\Z", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z", re.ASCII)

_TRUE = {"true", "1", "yes", "ja"}
_FALSE = {"false", "0", "no", "nei"}


def _kind(value: Any, want: str) -> str:
    """What a wrong value is, in plain words (never the value itself), with the likely fix."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        if want == "number" and _NUMBER.match(value.strip().replace(",", ".", 1)):
            return "text (write the number without quotes, with a point for decimals)"
        if want == "boolean" and value.strip().lower() in _TRUE | _FALSE:
            return "text (write true or false without quotes)"
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, dt.date):
        return "a date"
    return "a value of another kind"


def _scalar(decl: ast.InputDecl, kind: str, value: Any) -> Value:
    """Check one value against a scalar type; raise ``ValueError`` with a reason."""
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {_kind(value, 'boolean')}")
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, got {_kind(value, 'number')}")
        if kind == "integer" and not isinstance(value, int):
            raise ValueError("must be a whole number")
        if kind == "integer" and not INT_MIN <= value <= INT_MAX:
            raise ValueError("must be a whole number within 64 bits")
        if kind == "number" and isinstance(value, int):
            # a number is a binary64 (docs/language.md): 2**53 + 1 is 2**53 on every path
            try:
                value = float(value)
            except OverflowError:
                raise ValueError("must be a finite number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        if decl.min is not None and value < decl.min:
            raise ValueError(f"must be at least {decl.min:g}")
        if decl.max is not None and value > decl.max:
            raise ValueError(f"must be at most {decl.max:g}")
        number: int | float = value
        return number
    if kind in ("string", "enum"):
        if not isinstance(value, str):
            raise ValueError(f"must be text, got {_kind(value, 'text')}")
        if len(value) > MAX_STRING:
            raise ValueError(f"is longer than {MAX_STRING} characters")
        if kind == "enum" and value not in (decl.values or ()):
            raise ValueError("must be one of " + ", ".join(decl.values or ()))
        return value
    if kind == "date":
        if isinstance(value, dt.datetime):
            raise ValueError("must be a date without time")
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str) and len(value) == 10:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ValueError("must be a date (YYYY-MM-DD)")
    raise ValueError(f"unsupported type {kind}")  # pragma: no cover


def check_value(decl: ast.InputDecl, value: Any) -> Value:
    """The validated value of one input (``None`` stays unknown); ``ValueError`` if invalid."""
    if value is None:
        return None
    if decl.type != "list":
        return _scalar(decl, decl.type, value)
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be a list, got {_kind(value, 'list')}")
    if len(value) > MAX_LIST:
        raise ValueError(f"has more than {MAX_LIST} items")
    return tuple(None if v is None else _scalar(decl, decl.items or "string", v) for v in value)


def validate_record(
    cs: ast.CriteriaSet,
    record: Mapping[str, Any],
    *,
    strict: bool = True,
    ignore: Collection[str] = frozenset(),
) -> tuple[dict[str, Value], list[str]]:
    """Validated inputs and warnings. Raises :class:`InputError` when ``strict``, listing
    every problem of the record in ``InputError.problems`` (field, code, message).

    Keys in ``ignore`` (record ids, grouping fields of a cohort file) are skipped.
    """
    if not isinstance(record, Mapping):
        raise InputError(f"a record must be an object, got {type(record).__name__}",
                         code="bad_record")
    if len(record) > MAX_KEYS:
        raise InputError(f"the record has more than {MAX_KEYS} fields", code="too_large")
    decls = {d.name: d for d in cs.inputs}
    out: dict[str, Value] = {}
    warnings: list[str] = []
    problems: list[InputProblem] = []
    for key, value in record.items():
        if key in ignore:
            continue
        decl = decls.get(key) if isinstance(key, str) else None
        if decl is None:
            message = f"{key!r} is not an input of {cs.key}"
            problems.append(InputProblem(key if isinstance(key, str) else None,
                                         "unknown_input", message))
            warnings.append(message + "; ignored")
            continue
        try:
            out[key] = check_value(decl, value)
        except ValueError as ex:
            message = f"input {key!r} {ex}"
            problems.append(InputProblem(key, "bad_input_value", message))
            warnings.append(message + "; treated as unknown")
            out[key] = None
    if strict and problems:
        raise InputError.of(problems)
    return out, warnings


def from_text(decl: ast.InputDecl, text: str) -> Any:
    """Parse a text cell (CSV) according to the declared type; empty means unknown."""
    text = text.strip()
    if text == "":
        return None
    if decl.type == "boolean":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("must be true or false")
    if decl.type in ("integer", "number"):
        if len(text) > MAX_DIGITS:
            raise ValueError(f"has more than {MAX_DIGITS} characters")
        if _INTEGER.match(text):
            return int(text)
        if decl.type == "integer":
            raise ValueError("must be a whole number (digits 0-9, optionally signed)")
        if _NUMBER.match(text):
            return float(text)
        raise ValueError("must be a number (digits 0-9, a decimal point, an exponent)")
    if decl.type == "list":
        return [from_text(decl.model_copy(update={"type": decl.items or "string"}), part)
                for part in text.split(";")]
    return text


def record_from_text(cs: ast.CriteriaSet, row: Mapping[str, str],
                     *, strict: bool = True) -> dict[str, Any]:
    """A CSV row → a record with typed values (unknown keys are kept for validation)."""
    decls = {d.name: d for d in cs.inputs}
    out: dict[str, Any] = {}
    for key, text in row.items():
        decl = decls.get(key)
        if decl is None or text is None:
            out[key] = text
            continue
        try:
            out[key] = from_text(decl, text)
        except ValueError as ex:
            if strict:
                raise InputError(f"input {key!r} {ex}", code="bad_input_value",
                                 field=key) from None
            out[key] = None
    return out
