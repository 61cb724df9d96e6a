"""Syntax errors in an expression, explained with the likely fix.

A KE editor's common slips — ``=`` for ``==``, ``og``/``eller``/``ikke`` for ``and``/``or``/
``not``, a decimal comma (``6,5``), ``2 of B, C, D``, a Norwegian date (``01.10.2024``) — each
give one message at the mistaken token, with the fix, in English and bokmål/nynorsk.
:func:`syntax_hint` is called by the parser before its generic translation of lark's error.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from koordrules.errors import ParseError
from koordrules.span import Span

_WORDS = {"og": "and", "eller": "or", "ikke": "not", "ikkje": "not"}
_NORWEGIAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\w.])")
_DECIMAL_COMMA = re.compile(r"(\d+),(\d+)")


def span_of(text: str, start: int, end: int) -> Span:
    """The span of ``text[start:end]`` (line/column inside the expression text)."""
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    end_line = text.count("\n", 0, end) + 1
    end_column = end - (text.rfind("\n", 0, end) + 1) + 1
    return Span(line=line, column=column, end_line=end_line, end_column=end_column,
                start=start, end=end)


def _error(text: str, start: int, end: int, code: str, en: str, nb: str,
           nn: str | None = None) -> ParseError:
    return ParseError(en, span=span_of(text, start, end), code=code,
                      translations={"nb": nb, "nn": nn or nb})


def _equals(text: str, pos: int) -> ParseError | None:
    if text[pos] != "=" or text[pos + 1: pos + 2] in ("<", ">"):
        if text[pos: pos + 2] == "=<":
            return _error(text, pos, pos + 2, "single_equals",
                          "'=<' is not an operator: write '<='",
                          "«=<» finnes ikke: skriv «<=»", "«=<» finst ikkje: skriv «<=»")
        if text[pos: pos + 2] == "=>":
            return _error(text, pos, pos + 2, "single_equals",
                          "'=>' is not an operator: write '>='",
                          "«=>» finnes ikke: skriv «>=»", "«=>» finst ikkje: skriv «>=»")
        return None
    return _error(text, pos, pos + 1, "single_equals",
                  "a single '=' does not compare: write '==' (for example 'x == 6')",
                  "ett «=» sammenligner ikke: skriv «==» (for eksempel «x == 6»)",
                  "eitt «=» samanliknar ikkje: skriv «==» (til dømes «x == 6»)")


def _date(text: str, pos: int) -> ParseError | None:
    m = _NORWEGIAN_DATE.match(text, pos)
    if m is None:
        return None
    iso = f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
    return _error(text, m.start(), m.end(), "norwegian_date",
                  f"dates are written year-month-day: write {iso} instead of {m[0]}",
                  f"datoer skrives år-måned-dag: skriv {iso} i stedet for {m[0]}",
                  f"datoar skriv ein år-månad-dag: skriv {iso} i staden for {m[0]}")


def _previous_word(text: str, pos: int) -> tuple[str, int] | None:
    m = re.search(r"(\w+)\s*$", text[:pos])
    return (m[1], m.start(1)) if m else None


def _norwegian_word(text: str, token: Token) -> ParseError | None:
    candidates = []
    if token.type == "NAME":
        candidates.append((str(token), token.start_pos or 0))
    before = _previous_word(text, token.start_pos or 0)
    if before is not None:
        candidates.append(before)
    for word, start in candidates:
        fix = _WORDS.get(word.casefold())
        if fix is not None:
            return _error(text, start, start + len(word), "norwegian_keyword",
                          f"'{word}' is not a word of the rule language: write '{fix}'",
                          f"«{word}» er ikke et ord i regelspråket: skriv «{fix}»",
                          f"«{word}» er ikkje eit ord i regelspråket: skriv «{fix}»")
    return None


def _closing(text: str, start: int) -> int:
    """Where the list of items after ``of`` ends: a ``)`` closing an outer bracket, or
    ``and``/``or`` at depth 0, or the end."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                return i
            depth -= 1
        elif depth == 0 and re.match(r"\s(and|or)\s", text[i:]):
            return i
        i += 1
    return len(text)


def _n_of(text: str, token: Token) -> ParseError | None:
    if token.type != "NAME" or str(token).casefold() not in ("of", "av"):
        return None
    start = token.start_pos or 0
    before = _previous_word(text, start)
    if before is None:
        return None
    count, count_start = before
    end = _closing(text, token.end_pos or start)
    items = " ".join(text[token.end_pos or start: end].split())
    fix = f"at_least({count}, {items})"
    return _error(text, count_start, token.end_pos or start + 2, "n_of",
                  f"'{count} {token} …' is not in the rule language: write '{fix}'",
                  f"«{count} {token} …» finnes ikke i regelspråket: skriv «{fix}»",
                  f"«{count} {token} …» finst ikkje i regelspråket: skriv «{fix}»")


def _decimal_comma(text: str, token: Token) -> ParseError | None:
    if token.type != "COMMA":
        return None
    pos = token.start_pos or 0
    for m in _DECIMAL_COMMA.finditer(text):
        if m.start() < pos < m.end():
            fix = f"{m[1]}.{m[2]}"
            return _error(text, m.start(), m.end(), "decimal_comma",
                          f"decimals are written with a point: write {fix} instead of {m[0]}",
                          f"desimaltall skrives med punktum: skriv {fix} i stedet for {m[0]}",
                          f"desimaltal skriv ein med punktum: skriv {fix} i staden for {m[0]}")
    return None


_TOKEN_HINTS: tuple[Callable[[str, Token], ParseError | None], ...] = (
    _n_of, _norwegian_word, _decimal_comma)


def syntax_hint(text: str, ex: UnexpectedInput) -> ParseError | None:
    """A :class:`ParseError` naming the likely slip and its fix, or ``None``."""
    if isinstance(ex, UnexpectedCharacters):
        pos = ex.pos_in_stream or 0
        if pos >= len(text):
            return None
        return _equals(text, pos) or _date(text, pos)
    if isinstance(ex, UnexpectedToken) and ex.token.type != "$END":
        for hint in _TOKEN_HINTS:
            found = hint(text, ex.token)
            if found is not None:
                return found
    if isinstance(ex, UnexpectedToken):
        # `ikke` at the very end, e.g. "A og" → the word before the end
        before = _previous_word(text, len(text.rstrip()))
        if before is not None and before[0].casefold() in _WORDS:
            word, start = before
            fix = _WORDS[word.casefold()]
            return _error(text, start, start + len(word), "norwegian_keyword",
                          f"'{word}' is not a word of the rule language: write '{fix}'",
                          f"«{word}» er ikke et ord i regelspråket: skriv «{fix}»",
                          f"«{word}» er ikkje eit ord i regelspråket: skriv «{fix}»")
    return None
