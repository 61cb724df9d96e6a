"""Expression text → :mod:`koordrules.ast` nodes, with a span on every node.

lark errors are translated into :class:`~koordrules.errors.ParseError` here; callers never see
a lark exception. Expressions are bounded in length and nesting depth, so a hostile file cannot
exhaust time, memory or the interpreter stack.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from koordrules import ast
from koordrules.diagnose import syntax_hint
from koordrules.errors import ParseError
from koordrules.grammar import get_parser
from koordrules.operators.numeric import INT_MAX
from koordrules.span import Span
from koordrules.values import UNIT_ALIASES

MAX_EXPRESSION_LENGTH = 10_000
MAX_DEPTH = 64
MAX_NUMBER_DIGITS = 30

_TERMINAL_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "DATE": "a date",
    "UNIT": "a unit (days, weeks, months, years)",
    "COMP_OP": "a comparison",
    "ADD_OP": "+ or -",
    "MUL_OP": "* or /",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "MINUS": "'-'",
    "_OR": "'or'",
    "_AND": "'and'",
    "_NOT": "'not'",
    "_IN": "'in'",
    "_TRUE": "'true'",
    "_FALSE": "'false'",
    "_IF": "'if'",
    "_THEN": "'then'",
    "_ELSE": "'else'",
    "_IMPLIES": "'implies'",
    "_XOR": "'xor'",
    "_BETWEEN": "'between'",
    "$END": "end of expression",
}


def _span(meta: Any) -> Span:
    return Span(
        line=meta.line,
        column=meta.column,
        end_line=meta.end_line,
        end_column=meta.end_column,
        start=meta.start_pos,
        end=meta.end_pos,
    )


def _token_span(token: Token) -> Span:
    return Span(
        line=token.line or 1,
        column=token.column or 1,
        end_line=token.end_line or token.line or 1,
        end_column=token.end_column or token.column or 1,
        start=token.start_pos or 0,
        end=token.end_pos or 0,
    )


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    chars = iter(body)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


def _number(token: Token) -> int | float:
    text = str(token)
    if len(text.replace(".", "")) > MAX_NUMBER_DIGITS:
        raise ParseError(
            f"number {text[:12]}… has more than {MAX_NUMBER_DIGITS} digits",
            span=_token_span(token),
            code="number_too_large",
        )
    if "." in text:
        return float(text)
    value = int(text)
    if value > INT_MAX:
        raise ParseError(
            f"the whole number {text[:12]}… is larger than {INT_MAX} (the largest integer)",
            span=_token_span(token),
            code="number_too_large",
        )
    return value


@v_args(meta=True)
class _ToAst(Transformer[Token, ast.Expr]):
    """Builds AST nodes; one method per grammar alias."""

    def number(self, meta: Any, c: list[Token]) -> ast.Expr:
        return ast.NumberLiteral(value=_number(c[0]), span=_span(meta))

    def duration(self, meta: Any, c: list[Token]) -> ast.Expr:
        amount = _number(c[0])
        if not isinstance(amount, int):
            raise ParseError(
                "a duration needs a whole number", span=_span(meta), code="bad_duration"
            )
        unit = UNIT_ALIASES[str(c[1])]
        return ast.DurationLiteral(amount=amount, unit=unit, span=_span(meta))

    def date(self, meta: Any, c: list[Token]) -> ast.Expr:
        try:
            value = dt.date.fromisoformat(str(c[0]))
        except ValueError as ex:
            raise ParseError(
                f"{c[0]} is not a valid date", span=_span(meta), code="bad_date"
            ) from ex
        return ast.DateLiteral(value=value, span=_span(meta))

    def string(self, meta: Any, c: list[Token]) -> ast.Expr:
        return ast.StringLiteral(value=_unquote(str(c[0])), span=_span(meta))

    def true(self, meta: Any, c: list[Token]) -> ast.Expr:
        return ast.BooleanLiteral(value=True, span=_span(meta))

    def false(self, meta: Any, c: list[Token]) -> ast.Expr:
        return ast.BooleanLiteral(value=False, span=_span(meta))

    def name(self, meta: Any, c: list[Token]) -> ast.Expr:
        return ast.Name(name=str(c[0]), span=_span(meta))

    def arguments(self, meta: Any, c: list[ast.Expr]) -> tuple[ast.Expr, ...]:
        return tuple(c)

    def call(self, meta: Any, c: list[Any]) -> ast.Expr:
        args = c[1] if len(c) > 1 else ()
        return ast.Call(function=str(c[0]), args=args, span=_span(meta))

    def list_expr(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.ListExpr(items=c[0] if c else (), span=_span(meta))

    def or_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.Or(operands=tuple(c), span=_span(meta))

    def and_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.And(operands=tuple(c), span=_span(meta))

    def not_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.Not(operand=c[0], span=_span(meta))

    def neg(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.Negate(operand=c[0], span=_span(meta))

    def compare(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Compare(op=str(c[1]), left=c[0], right=c[2], span=_span(meta))

    def arith(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Arith(op=str(c[1]), left=c[0], right=c[2], span=_span(meta))

    def in_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.In(item=c[0], container=c[1], span=_span(meta))

    def if_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.If(condition=c[0], then=c[1], else_=c[2], span=_span(meta))

    def implies_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.Implies(left=c[0], right=c[1], span=_span(meta))

    def xor_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.Xor(left=c[0], right=c[1], span=_span(meta))

    def between_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.Between(operand=c[0], low=c[1], high=c[2], span=_span(meta))

    def not_in_op(self, meta: Any, c: list[ast.Expr]) -> ast.Expr:
        return ast.In(item=c[0], container=c[1], negated=True, span=_span(meta))


_TRANSFORMER = _ToAst()


def _depth(tree: Tree[Token]) -> int:
    deepest = 0
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_TERMINAL_NAMES.get(t, t) for t in expected})
    return ", ".join(names[:8]) + (" …" if len(names) > 8 else "")


def _translate(ex: UnexpectedInput, text: str) -> ParseError:
    line, column = ex.line or 1, ex.column or 1
    pos = ex.pos_in_stream or 0
    span = Span(line=line, column=column, end_line=line, end_column=column + 1,
                start=pos, end=pos + 1)
    if isinstance(ex, UnexpectedCharacters):
        char = text[pos] if pos < len(text) else "?"
        return ParseError(f"unexpected character {char!r}", span=span)
    if isinstance(ex, UnexpectedToken):
        token = ex.token
        found = "end of expression" if token.type == "$END" else repr(str(token))
        if token.type == "$END":
            # just after the last character, not on trailing blank lines (YAML block scalars)
            head = text.rstrip()
            end_line = head.count("\n") + 1
            end_column = len(head) - (head.rfind("\n") + 1) + 1
            span = Span(line=end_line, column=end_column, end_line=end_line,
                        end_column=end_column, start=len(head), end=len(head))
        return ParseError(
            f"unexpected {found}; expected {_describe_expected(set(ex.expected))}", span=span
        )
    return ParseError("the expression is incomplete", span=span)


def parse_expression(text: str) -> ast.Expr:
    """Parse one expression. Spans are relative to ``text`` (line 1, column 1 is its start).

    Raises :class:`~koordrules.errors.ParseError` with a position on any syntax error, on an
    empty expression, or when the expression exceeds the length or depth limits.
    """
    if not isinstance(text, str):
        raise ParseError(f"an expression must be text, not {type(text).__name__}")
    if not text.strip():
        raise ParseError(
            "the expression is empty",
            span=Span(line=1, column=1, end_line=1, end_column=1),
            code="empty_expression",
        )
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ParseError(
            f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters",
            span=Span(line=1, column=1, end_line=1, end_column=2),
            code="expression_too_long",
        )
    try:
        tree = get_parser().parse(text)
    except UnexpectedInput as ex:
        raise (syntax_hint(text, ex) or _translate(ex, text)) from ex
    if _depth(tree) > MAX_DEPTH:
        raise ParseError(
            f"the expression is nested more than {MAX_DEPTH} levels deep",
            span=Span(line=1, column=1, end_line=1, end_column=2),
            code="expression_too_deep",
        )
    try:
        return _TRANSFORMER.transform(tree)
    except VisitError as ex:
        if isinstance(ex.orig_exc, ParseError):
            raise ex.orig_exc from ex
        raise
