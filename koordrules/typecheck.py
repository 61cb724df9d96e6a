"""Static checking of expressions: unknown names and type mismatches.

:func:`infer` returns an expression's type and every problem found in it; it never stops at the
first one. After an error the offending node is typed ``any`` so one mistake is reported once.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

from koordrules import ast
from koordrules.errors import Diagnostic
from koordrules.operators import FUNCTIONS
from koordrules.types import (
    ANY,
    BOOLEAN,
    DATE,
    DURATION,
    NUMBER,
    STRING,
    Type,
    list_of,
    unify,
)

_ORDERED = ("number", "date", "duration", "string")


@dataclass
class _Checker:
    env: Mapping[str, Type]
    problems: list[Diagnostic] = field(default_factory=list)

    def error(self, node: ast.Expr, code: str, message: str) -> Type:
        self.problems.append(Diagnostic("error", code, message, node.span))
        return ANY

    def infer(self, node: ast.Expr) -> Type:
        match node:
            case ast.BooleanLiteral():
                return BOOLEAN
            case ast.NumberLiteral():
                return NUMBER
            case ast.StringLiteral():
                return STRING
            case ast.DateLiteral():
                return DATE
            case ast.DurationLiteral():
                return DURATION
            case ast.Name(name=name):
                if name in self.env:
                    return self.env[name]
                close = difflib.get_close_matches(name, list(self.env), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                return self.error(node, "unknown_name", f"unknown name {name!r}{hint}")
            case ast.ListExpr(items=items):
                element: Type = ANY
                for item in items:
                    t = self.infer(item)
                    joined = unify(element, t)
                    if joined is None:
                        return self.error(item, "type_error",
                                          f"list items must have one type: {element} and {t}")
                    element = joined
                return list_of(element)
            case ast.Not(operand=o):
                self.expect(o, BOOLEAN, "'not' needs a boolean")
                return BOOLEAN
            case ast.And(operands=ops) | ast.Or(operands=ops):
                word = "and" if isinstance(node, ast.And) else "or"
                for o in ops:
                    self.expect(o, BOOLEAN, f"'{word}' needs booleans")
                return BOOLEAN
            case ast.Negate(operand=o):
                t = self.infer(o)
                if t.name not in ("number", "duration", "any"):
                    return self.error(node, "type_error", f"cannot negate a {t}")
                return t
            case ast.Compare():
                return self.compare(node)
            case ast.Arith():
                return self.arith(node)
            case ast.In(item=item, container=container):
                it, ct = self.infer(item), self.infer(container)
                if ct.name not in ("list", "any"):
                    return self.error(container, "type_error",
                                      f"'in' needs a list on the right, got {ct}")
                if ct.element is not None and unify(it, ct.element) is None:
                    return self.error(node, "type_error",
                                      f"cannot look for a {it} in a {ct}")
                self.enum_members(item, it, container)
                return BOOLEAN
            case ast.Implies(left=a, right=b) | ast.Xor(left=a, right=b):
                for o in (a, b):
                    self.expect(o, BOOLEAN, f"'{node.kind}' needs booleans")
                return BOOLEAN
            case ast.If(condition=c, then=a, else_=b):
                self.expect(c, BOOLEAN, "'if' needs a condition (boolean)")
                ta, tb = self.infer(a), self.infer(b)
                joined = unify(ta, tb)
                if joined is None:
                    return self.error(node, "type_error",
                                      f"'then' and 'else' must have one type: {ta} and {tb}")
                return joined
            case ast.Between(operand=x, low=lo, high=hi):
                types = [self.infer(k) for k in (x, lo, hi)]
                known = [t for t in types if t.name != "any"]
                if known and (known[0].name not in _ORDERED
                              or any(t.name != known[0].name for t in known)):
                    return self.error(node, "type_error", "'between' needs three values of one "
                                      "ordered type, got " + ", ".join(map(str, types)))
                return BOOLEAN
            case ast.Call(function=name, args=args):
                arg_types = [self.infer(a) for a in args]
                fn = FUNCTIONS.get(name)
                if fn is None:
                    close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    return self.error(node, "unknown_function",
                                      f"unknown function {name!r}{hint}")
                result = fn.check(arg_types)
                if isinstance(result, str):
                    return self.error(node, "type_error", f"{name}(): {result}")
                return result
        raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover

    def expect(self, node: ast.Expr, expected: Type, message: str) -> None:
        t = self.infer(node)
        if not expected.accepts(t):
            self.error(node, "type_error", f"{message}, got {t}")

    def compare(self, node: ast.Compare) -> Type:
        lt, rt = self.infer(node.left), self.infer(node.right)
        if lt.name == "any" or rt.name == "any":
            return BOOLEAN
        if node.op in ("==", "!="):
            if unify(lt, rt) is None:
                self.error(node, "type_error", f"cannot compare {lt} with {rt}")
            else:
                self.enum_literal(node.left, lt, node.right)
                self.enum_literal(node.right, rt, node.left)
            return BOOLEAN
        if lt.name != rt.name or lt.name not in _ORDERED:
            self.error(node, "type_error", f"cannot order {lt} and {rt} with {node.op}")
        return BOOLEAN

    def enum_literal(self, side: ast.Expr, t: Type, other: ast.Expr) -> None:
        """A string literal compared with an enum must be one of its values."""
        values = t.values
        if values is not None and isinstance(other, ast.StringLiteral) and (
            other.value not in values
        ):
            self.error(other, "type_error", f"{other.value!r} is not one of {', '.join(values)}")

    def enum_members(self, item: ast.Expr, t: Type, container: ast.Expr) -> None:
        if t.values is not None and isinstance(container, ast.ListExpr):
            for member in container.items:
                self.enum_literal(item, t, member)

    def arith(self, node: ast.Arith) -> Type:
        lt, rt = self.infer(node.left), self.infer(node.right)
        if lt.name == "any" or rt.name == "any":
            return ANY if lt.name == rt.name else (lt if rt.name == "any" else rt)
        pair, op = (lt.name, rt.name), node.op
        if pair == ("number", "number"):
            return NUMBER
        if op == "-" and pair == ("date", "date"):
            return DURATION
        if op in "+-" and pair == ("date", "duration"):
            return DATE
        if op == "+" and pair == ("duration", "date"):
            return DATE
        if op in "+-" and pair == ("duration", "duration"):
            return DURATION
        verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[op]
        return self.error(node, "type_error", f"cannot {verb} {lt} and {rt} with {op}")


def infer(expr: ast.Expr, env: Mapping[str, Type]) -> tuple[Type, list[Diagnostic]]:
    """Type of ``expr`` given the types of the names in scope, plus all problems found."""
    checker = _Checker(env)
    return checker.infer(expr), checker.problems


def check_boolean(expr: ast.Expr, env: Mapping[str, Type], what: str) -> list[Diagnostic]:
    """Problems in ``expr``, plus an error if it is not a condition (boolean)."""
    t, problems = infer(expr, env)
    if not BOOLEAN.accepts(t):
        problems.append(Diagnostic("error", "type_error",
                                   f"{what} must be a condition (boolean), got {t}", expr.span))
    return problems
