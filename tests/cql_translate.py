"""Translating HL7 CQL conformance tests (cqframework/cql-tests, ``tests/cql/*.xml``) into the
koordrules expression language.

The translation is token by token and says no rather than guess: a test is *expressible* when
every token of its expression and expected output has a koordrules counterpart (below), and the
result parses and type-checks for some typing of its ``null`` literals. Each ``null`` becomes an
input of its own that the record leaves unknown, so the unknowns go through every target's
input path rather than being folded away.

Mapped: ``true false and or not xor implies in between if then else``, numbers (``5L`` as
``5``), strings (``'a'``), date literals ``@YYYY-MM-DD`` and ``Date(y, m, d)``, durations in
days, weeks, months and years, list selectors ``{…}``, ``= != <> < <= > >= + - * /``,
``years|months|days between <date> and <date>``, ``X is null`` / ``X is not null`` for a
single literal or parenthesised operand, and the functions ``AllTrue AnyTrue Length Coalesce
StartsWith IsNull``. Anything else (DateTime, Time, quantities with UCUM units, intervals,
queries, tuples, ``~``, ``div``/``mod``/``^``, other functions) is not expressible.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from koordrules.errors import KoordError
from koordrules.parser import parse_expression
from koordrules.typecheck import infer
from koordrules.types import BOOLEAN, DATE, NUMBER, STRING, Type

NS = {"t": "http://hl7.org/fhirpath/tests"}
CQL_DIR = Path(__file__).parent / "cql"

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<date>@\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>\d+(?:\.\d+)?L?(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op><>|!=|<=|>=|=|<|>|\+|-|\*|/|\(|\)|\{|\}|,)
  | (?P<word>[A-Za-z_]\w*)
  | (?P<other>.)
""", re.X | re.S)

_KEYWORDS = {"true", "false", "and", "or", "not", "xor", "implies", "in", "between", "if",
             "then", "else", "day", "days", "week", "weeks", "month", "months", "year",
             "years"}
_FUNCTIONS = {"AllTrue": "all", "AnyTrue": "any", "Length": "length", "Coalesce": "coalesce",
              "StartsWith": "starts_with", "IsNull": "not is_known"}
_OPS = {"=": "==", "<>": "!=", "{": "[", "}": "]"}
_NULL_TYPES: tuple[Type, ...] = (BOOLEAN, NUMBER, STRING, DATE)
_DATE_CALL = re.compile(r"\bDate\(\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)")
_BETWEEN = re.compile(
    r"\b(years|months|days) between (\d{4}-\d{2}-\d{2}|null\d+) and (\d{4}-\d{2}-\d{2}|null\d+)")
_IS_NULL = re.compile(r"(\((?:[^()]|\([^()]*\))*\)|[\w.\"-]+) is (not )?null\b")
MAX_NULLS = 4


class Untranslatable(Exception):
    """The test uses something the language cannot state (the message says what)."""


@dataclass
class Translated:
    """A CQL expression in koordrules syntax, and the types of its null inputs."""

    text: str
    nulls: dict[str, Type] = field(default_factory=dict)


@dataclass
class CqlTest:
    file: str
    group: str
    name: str
    expression: str
    outputs: list[str]
    invalid: str | None

    @property
    def id(self) -> str:
        return f"{self.file}/{self.group}/{self.name}"


def load_tests(directory: Path = CQL_DIR) -> list[CqlTest]:
    """Every test of every XML file in ``directory``."""
    out: list[CqlTest] = []
    for path in sorted(directory.glob("*.xml")):
        root = ET.parse(path).getroot()
        for group in root.findall("t:group", NS):
            for test in group.findall("t:test", NS):
                expr = test.find("t:expression", NS)
                out.append(CqlTest(
                    file=path.stem, group=group.get("name", ""), name=test.get("name", ""),
                    expression=(expr.text or "").strip() if expr is not None else "",
                    outputs=[(o.text or "").strip() for o in test.findall("t:output", NS)],
                    invalid=expr.get("invalid") if expr is not None else None,
                ))
    return out


def _date(y: str, m: str, d: str) -> str:
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


def tokens(text: str, null_names: list[str]) -> str:
    """The koordrules text of a CQL expression; ``null`` becomes a fresh name each time."""
    text = _DATE_CALL.sub(lambda m: "@" + _date(*m.groups()), text)
    out: list[str] = []
    words: list[str] = []
    for m in _TOKEN.finditer(text):
        kind, value = m.lastgroup, m.group()
        if kind == "word":
            words.append(value)
        if kind == "ws":
            out.append(" ")
        elif kind == "date":
            out.append(value[1:])
        elif kind == "number":
            out.append(value.rstrip("L"))
        elif kind == "string":
            body = value[1:-1]
            if "\\u" in body:
                raise Untranslatable("a \\u escape (the language has none)")
            if '"' in body:
                raise Untranslatable("a string with a double quote")
            out.append('"' + body + '"')
        elif kind == "op":
            out.append(_OPS.get(value, value))
        elif kind == "word":
            if value == "null" and (words[-2:-1] == ["is"] or words[-3:-1] == ["is", "not"]):
                out.append("null")  # the postfix test, rewritten below
            elif value == "null":
                null_names.append(f"null{len(null_names)}")
                out.append(null_names[-1])
            elif value == "is" or value in _KEYWORDS:
                out.append(value)
            elif value in _FUNCTIONS and text[m.end():].lstrip().startswith("("):
                out.append(_FUNCTIONS[value])
            else:
                raise Untranslatable(f"no counterpart for {value!r}")
        else:
            raise Untranslatable(f"no counterpart for {value!r}")
    result = "".join(out).strip()
    result = _BETWEEN.sub(lambda m: f"{m.group(1)}_between({m.group(2)}, {m.group(3)})", result)
    result = _IS_NULL.sub(lambda m: ("is_known" if m.group(2) else "not is_known")
                          + f"({m.group(1)})", result)
    if re.search(r"\bis\b", result):
        raise Untranslatable("an 'is' test on a compound operand")
    return result


def translate(text: str) -> Translated:
    """The expression in koordrules syntax, typed: the first typing of its nulls (in the order
    boolean, number, string, date) under which it parses and type-checks."""
    names: list[str] = []
    koord = tokens(text, names)
    if len(names) > MAX_NULLS:
        raise Untranslatable(f"more than {MAX_NULLS} nulls")
    try:
        expr = parse_expression(koord)
    except KoordError as ex:
        raise Untranslatable(f"does not parse: {ex}") from None
    for typing in itertools.product(_NULL_TYPES, repeat=len(names)):
        env = dict(zip(names, typing, strict=True))
        _type, problems = infer(expr, env)
        if not problems:
            return Translated(koord, env)
    raise Untranslatable("does not type-check")


def criterion_for(test: CqlTest) -> tuple[Translated, bool | None]:
    """A boolean koordrules expression that holds the test, and the value it must have:
    the expression itself for a boolean or null output, ``is_known(e)`` (must be false) for
    another null output, ``e == output`` (must be true) otherwise."""
    if len(test.outputs) != 1:
        raise Untranslatable("not exactly one output")
    translated = translate(test.expression)
    expected = test.outputs[0]
    if expected in ("true", "false"):
        return translated, expected == "true"
    expr = parse_expression(translated.text)
    kind = infer(expr, translated.nulls)[0]
    if expected == "null":
        if BOOLEAN.accepts(kind) and kind.name == "boolean":
            return translated, None
        return Translated(f"is_known({translated.text})", translated.nulls), False
    names: list[str] = []
    want = tokens(expected, names)
    if names:
        raise Untranslatable("an output with a null element")
    check = Translated(f"({translated.text}) == ({want})", translated.nulls)
    _t, problems = infer(parse_expression(check.text), check.nulls)
    if problems:
        raise Untranslatable(f"the output does not compare: {problems[0].message}")
    return check, True
