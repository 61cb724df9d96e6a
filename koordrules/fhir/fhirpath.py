"""FHIRPath in mapping files: parse with positions, compile once, evaluate safely; FHIR dates.

Every expression a mapping file holds goes through :func:`check_expression` (syntax, known
functions and ``%`` variables, with the line and column of the mistake) and :func:`compiled`
(a cached :func:`fhirpathpy.compile` with the R4 model). Evaluation never raises: a failure
inside ``fhirpathpy`` becomes :class:`FhirPathError`, which the derivation turns into an
unknown value with the reason.

Variables a mapping may use (documented in ``docs/fhir.md``):

- ``%asOf`` — the as-of date of the evaluation (``@2024-10-01``);
- ``%windowStart`` — the as-of date minus the input's ``window`` (empty without one).

No text from a mapping file is executed as Python: ``fhirpathpy`` interprets the parsed tree.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from koordrules.errors import FhirPathError, LoadError
from koordrules.values import Duration, add_duration

#: The ``%`` variables a mapping's FHIRPath may use.
VARIABLES = ("asOf", "windowStart", "ucum", "context", "resource")


@dataclass(frozen=True)
class PathProblem:
    """A mistake in an expression: 1-based line and column inside the expression text."""

    line: int
    column: int
    message: str


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as ex:
        raise LoadError("FHIR mappings need the optional extra: pip install "
                        "'koordrules[fhir]'", code="missing_extra") from ex


#: The resources ``resolve()`` looks references up in: set by the derivation for the record
#: being mapped (a context variable, so threads and nested calls do not mix records).
RESOLVER: contextvars.ContextVar[Callable[[str], Any] | None] = contextvars.ContextVar(
    "koordrules_fhir_resolver", default=None)


def _resolve(inputs: list[Any]) -> list[Any]:
    """``resolve()``: the resources of the current record that references point to
    (``Organization/1``, ``urn:uuid:…``, a full URL); a reference not in the record gives
    nothing."""
    lookup = RESOLVER.get()
    out = []
    for item in inputs:
        ref = item.get("reference") if isinstance(item, dict) else item
        if lookup is not None and isinstance(ref, str):
            found = lookup(ref)
            if found is not None:
                out.append(found)
    return out


#: koordrules' own FHIRPath functions (documented in docs/fhir.md).
HELPERS: dict[str, dict[str, Any]] = {"resolve": {"fn": _resolve, "arity": {0: []}}}


@functools.cache
def _functions() -> frozenset[str]:
    registry = _module("fhirpathpy.engine.invocations").invocation_registry
    return frozenset(registry) | frozenset(HELPERS)


def check_expression(text: str) -> list[PathProblem]:
    """Syntax errors, unknown functions and unknown ``%`` variables in ``text``."""
    antlr = _module("antlr4")
    error_listener = _module("antlr4.error.ErrorListener")
    lexer_mod = _module("fhirpathpy.parser.generated.FHIRPathLexer")
    parser_mod = _module("fhirpathpy.parser.generated.FHIRPathParser")
    problems: list[PathProblem] = []

    class Collect(error_listener.ErrorListener):  # type: ignore[misc,name-defined]
        def syntaxError(self, recognizer: Any, offending: Any, line: int, column: int,
                        msg: str, e: Any) -> None:
            if "expecting {" in msg:  # antlr lists every token it could take
                msg = msg.split(" expecting {")[0] + "; the expression is incomplete or has a " \
                    "stray character here"
            problems.append(PathProblem(line, column + 1, msg.replace("<EOF>", "the end")))

    lexer = lexer_mod.FHIRPathLexer(antlr.InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Collect())
    tokens = antlr.CommonTokenStream(lexer)
    parser = parser_mod.FHIRPathParser(tokens)
    parser.removeErrorListeners()
    parser.addErrorListener(Collect())
    try:
        parser.expression()
    except RecursionError:
        return [PathProblem(1, 1, "the expression is nested too deeply")]
    if not problems:
        rest = tokens.LT(1)
        if rest is not None and rest.type != antlr.Token.EOF:
            problems.append(PathProblem(rest.line, rest.column + 1,
                                        f"unexpected {rest.text!r} after the expression"))
    if problems:
        return problems[:1]
    known = _functions()
    for m in re.finditer(r"(?<![\w%'`])([A-Za-z_]\w*)\s*\(", _blank_strings(text)):
        if m.group(1) not in known:
            line, column = _position(text, m.start(1))
            problems.append(PathProblem(line, column, f"unknown FHIRPath function "
                                        f"{m.group(1)}()"))
    for m in re.finditer(r"%([A-Za-z_]\w*)", _blank_strings(text)):
        if m.group(1) not in VARIABLES:
            line, column = _position(text, m.start())
            problems.append(PathProblem(line, column, f"unknown variable %{m.group(1)} "
                                        f"(known: {', '.join('%' + v for v in VARIABLES[:2])})"))
    return problems


def _blank_strings(text: str) -> str:
    """``text`` with the inside of string literals blanked (same length)."""
    return re.sub(r"'(?:[^'\\]|\\.)*'", lambda m: "'" + " " * (len(m.group()) - 2) + "'", text)


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


@functools.cache
def compiled(text: str) -> Callable[[Any, dict[str, Any]], list[Any]]:
    """The expression compiled for the R4 model (cached). Raises :class:`FhirPathError`."""
    problems = check_expression(text)
    if problems:
        p = problems[0]
        raise FhirPathError(f"{p.line}:{p.column}: {p.message}", code="fhirpath_syntax")
    fhirpathpy = _module("fhirpathpy")
    model = _module("fhirpathpy.models").models["r4"]
    function = fhirpathpy.compile(text, model=model,
                                  options={"userInvocationTable": HELPERS})
    return function  # type: ignore[no-any-return]


def evaluate(text: str, resource: Any, variables: dict[str, Any]) -> list[Any]:
    """Evaluate ``text`` on ``resource``; any failure is a :class:`FhirPathError`."""
    function = compiled(text)
    try:
        result = function(resource, variables)
    except RecursionError as ex:
        raise FhirPathError("the resource is nested too deeply", code="fhirpath_eval") from ex
    except Exception as ex:  # fhirpathpy raises bare Exception and ValueError
        message = str(ex).split("\n")[0][:200]
        raise FhirPathError(f"FHIRPath failed: {type(ex).__name__}: {message}",
                            code="fhirpath_eval") from ex
    return list(result) if isinstance(result, list) else [result]


def truthy(values: list[Any]) -> bool | None:
    """FHIRPath boolean of a result: ``[true]`` true, ``[false]`` false, empty unknown."""
    if not values:
        return None
    if len(values) == 1 and isinstance(values[0], bool):
        return values[0]
    return True


# --------------------------------------------------------------------------- dates


DateRange = tuple[dt.date, dt.date]
"""The earliest and latest day a (possibly partial) FHIR date can be."""

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?$")


class NotADateError(ValueError):
    """A value where a FHIR date belongs is not one (a number, a malformed text)."""


def date_range(value: Any) -> DateRange | None:
    """The days a FHIR ``date``/``dateTime`` value can be; ``None`` for no value.

    A number or a malformed text raises :class:`NotADateError` (a number is never read as
    Unix time). The time and zone of a ``dateTime`` are dropped: the day is the one written.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date(), value.date()
    if isinstance(value, dt.date):
        return value, value
    if not isinstance(value, str):
        text = str(value) if type(value).__name__.startswith("FP_") else None
        if text is None:
            raise NotADateError(f"a {type(value).__name__} where a date belongs")
        value = text
    m = _DATE.match(value.strip())
    if not m:
        raise NotADateError("a text that is not a FHIR date")
    try:
        year = int(m.group(1))
        if m.group(2) is None:
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        month = int(m.group(2))
        if m.group(3) is None:
            first = dt.date(year, month, 1)
            return first, add_duration(first, Duration(months=1)) - dt.timedelta(days=1)
        day = dt.date(year, month, int(m.group(3)))
    except ValueError as ex:
        raise NotADateError("a date that does not exist") from ex
    return day, day


def years_between(born: dt.date, on: dt.date) -> int:
    """Completed years from ``born`` to ``on``."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def months_between(start: dt.date, end: dt.date) -> float:
    """Calendar months from ``start`` to ``end`` (whole months, then the part of the next
    one), to one decimal."""
    whole = (end.year - start.year) * 12 + end.month - start.month
    while whole > 0 and add_duration(start, Duration(months=whole)) > end:
        whole -= 1
    base = add_duration(start, Duration(months=whole))
    following = add_duration(start, Duration(months=whole + 1))
    return round(whole + (end - base).days / (following - base).days, 1)
