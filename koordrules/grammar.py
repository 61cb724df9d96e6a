"""The expression grammar, loaded once from ``grammars/criteria.lark``."""

from __future__ import annotations

import functools

from lark import Lark

from koordrules.resources import grammar_text


@functools.cache
def get_parser() -> Lark:
    """The LALR parser, built on first use and cached for the process."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
    )
