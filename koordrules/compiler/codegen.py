"""Code generation: the Python source of one set's evaluators and input validator.

Expressions are lowered through :data:`koordrules.operators.python.PYTHON` (one lowering per
operator name); only the checked syntax tree is read, and no text from the criteria file is
copied into the code: literals are emitted with ``repr`` (booleans, integers, strings, finite
floats) or bound as constants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from koordrules import ast
from koordrules.compiler.layout import Layout, Node
from koordrules.errors import EvalError
from koordrules.operators import operator_name
from koordrules.operators.python import PYTHON
from koordrules.values import Duration


class Slow(Exception):
    """Raised by the generated validator: this record needs the reference validation.

    A new instance each time: one shared instance raised again and again would grow its
    ``__traceback__`` by every raise, keeping every frame (and record) alive."""


INT64 = (-(2**63), 2**63 - 1)
FLOAT_INT = 2**1023
"""Below this an int converts to a finite float."""


class Gen:
    """Generates the Python source of one set's evaluators."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.consts: dict[str, Any] = {}
        self._const_ids: dict[int, str] = {}
        self._temp = 0
        self.bound: dict[int, str] = {}
        """Nodes already evaluated into a variable (the all-nodes mode)."""

    def const(self, value: Any) -> str:
        """A literal for ``value``: ``repr`` for booleans, ``None``, integers and strings,
        a bound constant for anything else."""
        if value is None or type(value) in (bool, int, str) or (
                type(value) is float and math.isfinite(value)):
            return repr(value)
        key = id(value)
        if key not in self._const_ids:
            name = f"_k{len(self.consts)}"
            self.consts[name] = value
            self._const_ids[key] = name
        return self._const_ids[key]

    def temp(self) -> str:
        self._temp += 1
        return f"_t{self._temp}"

    def constant_value(self, node: ast.Expr) -> tuple[bool, Any]:
        """Whether ``node`` is a compile-time constant (never unknown), and its value."""
        match node:
            case ast.BooleanLiteral() | ast.NumberLiteral() | ast.StringLiteral():
                return True, node.value
            case ast.DateLiteral():
                return True, node.value
            case ast.DurationLiteral(amount=amount, unit=unit):
                return True, Duration.of(amount, unit)
            case ast.Name(name=name):
                layout = self.layout
                if name not in layout.input_index and name in layout.params:
                    return True, layout.params[name]
        return False, None

    def type_name(self, node: ast.Expr) -> str:
        return self.layout.type_of(node).name

    # ---- outcome-only: one Python expression per criterion/rule, short-circuiting ----------

    def expr(self, node: ast.Expr) -> str:
        """The Python expression of ``node``: its variable if already evaluated, a literal for
        a constant, the input or criterion variable for a name; every operator through its
        lowering in :data:`koordrules.operators.python.PYTHON`."""
        bound = self.bound.get(id(node))
        if bound is not None:
            return bound
        is_const, value = self.constant_value(node)
        if is_const:
            return self.const(value)
        layout = self.layout
        match node:
            case ast.Name(name=name):
                if name in layout.input_index:
                    return f"x{layout.input_index[name]}"
                return f"c{layout.criterion_index[name]}"
            case ast.ListExpr(items=items):
                return "(" + "".join(self.expr(i) + ", " for i in items) + ")"
        key = operator_name(node)
        if key is None:  # pragma: no cover - the AST is closed
            raise EvalError(f"cannot compile {node.kind}", span=node.span)
        return PYTHON[key](self, node)

    # ---- all nodes: one statement per sub-expression, no short circuit ------------------

    def node_statement(self, n: Node) -> str:
        """``v<k> = ...`` for node ``k``, its children already in their ``v`` variables
        (so nothing is skipped: every node is evaluated, as by the interpreter)."""
        code = self.expr(n.node)
        self.bound[id(n.node)] = f"v{n.index}"
        return f"v{n.index} = {code}"

    # ---- the validator ------------------------------------------------------------------

    def validator(self) -> list[str]:
        """Statements reading each input from ``record`` into ``x<i>``; ``raise _Slow`` for
        anything the reference validation would reject, warn about or convert differently."""
        decls = self.layout.cs.inputs
        lines = [
            "if record.__class__ is not dict:",
            "    raise _Slow",
            # as many keys as inputs, and every input found: exactly the inputs
            f"if len(record) == {len(decls)} and allowed is _ALLOWED:",
            "    try:",
            *[f"        x{i} = record[{d.name!r}]" for i, d in enumerate(decls)],
            "    except KeyError:",
            "        raise _Slow from None",
            "else:",
            "    if len(record) > _MAX_KEYS or not record.keys() <= allowed:",
            "        raise _Slow",
            "    _g = record.get",
            *[f"    x{i} = _g({d.name!r})" for i, d in enumerate(decls)],
        ]
        if not decls:
            lines = ["if record.__class__ is not dict or len(record) > _MAX_KEYS "
                     "or record.keys() - allowed:",
                     "    raise _Slow"]
        for i, decl in enumerate(decls):
            x = f"x{i}"
            if decl.type == "boolean":
                lines.append(f"if {x} is not None and {x} is not True and {x} is not False: "
                             "raise _Slow")
                continue
            lines += [f"if {x} is not None:"] + ["    " + s for s in self.check_input(decl, x)]
        return lines

    def check_input(self, decl: ast.InputDecl, x: str) -> list[str]:
        kind = decl.type
        if kind == "boolean":
            return [f"if {x}.__class__ is not bool: raise _Slow"]
        bounds = ""
        if decl.min is not None:
            bounds += f" or {x} < {self.const(decl.min)}"
        if decl.max is not None:
            bounds += f" or {x} > {self.const(decl.max)}"
        if kind == "integer":
            return [f"if {x}.__class__ is not int or not {INT64[0]} <= {x} <= {INT64[1]}"
                    f"{bounds}: raise _Slow"]
        if kind == "number":
            # an int is a binary64 from here on (inputs.check_value does the same); the
            # reference validation says why one beyond the float range is refused
            return [
                f"if {x}.__class__ is int and -{FLOAT_INT} < {x} < {FLOAT_INT}:",
                f"    {x} = float({x})",
                f"if {x}.__class__ is not float or not _isfinite({x}){bounds}: raise _Slow",
            ]
        if kind == "string":
            return [f"if {x}.__class__ is not str or len({x}) > _MAX_STRING: raise _Slow"]
        if kind == "enum":
            table = self.const(frozenset(decl.values or ()))
            return [f"if {x}.__class__ is not str or len({x}) > _MAX_STRING "
                    f"or {x} not in {table}: raise _Slow"]
        if kind == "date":
            return [
                f"if {x}.__class__ is str and len({x}) == 10:",
                "    try:",
                f"        {x} = _fromiso({x})",
                "    except ValueError:",
                "        raise _Slow from None",
                f"elif {x}.__class__ is not _date: raise _Slow",
            ]
        decl_name = self.const(decl)
        return [
            "try:",
            f"    {x} = _check_value({decl_name}, {x})",
            "except ValueError:",
            "    raise _Slow from None",
        ]


def indent(lines: Iterable[str]) -> list[str]:
    return ["    " + line for line in lines]

