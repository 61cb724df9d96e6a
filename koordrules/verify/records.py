"""Between records and the encoding: a z3 model as a record, a record as z3 constants.

:func:`record_of` turns a model (a counterexample) into the record :func:`koordrules.evaluate`
accepts: an unknown input is left out, as a record says "not known". :func:`evaluator` gives a
function that computes, for one concrete record, what the encoding says (outcome, possible
outcomes and every criterion's value) by substituting the record into the terms; the agreement
test compares it with the reference interpreter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from koordrules.values import Value
from koordrules.verify.encode import Encoding, InputVar, Term
from koordrules.verify.solver import z3

TRUTH = {0: False, 1: True, 2: None}


def _number(ref: Any) -> int | float:
    if z3.is_int_value(ref):
        return int(ref.as_long())
    if z3.is_rational_value(ref):
        value = Fraction(ref.numerator_as_long(), ref.denominator_as_long())
        return float(value)
    return float(ref.as_decimal(20).rstrip("?"))  # pragma: no cover - algebraic numbers


def value_of(var: InputVar, model: Any) -> Value:
    """The value ``model`` gives one input; ``None`` when it leaves it unknown."""
    if not z3.is_true(model.eval(var.known, model_completion=True)):
        return None
    d = var.decl
    if d.type == "list":
        items: list[Value] = [v for v, m in var.members.items()
                              if z3.is_true(model.eval(m, model_completion=True))]
        if z3.is_true(model.eval(var.unknown_item, model_completion=True)):
            items.append(None)
        return tuple(items)
    ref = model.eval(var.value, model_completion=True)
    if d.type == "boolean":
        return bool(z3.is_true(ref))
    if d.type == "integer":
        return int(ref.as_long())
    if d.type == "number":
        return _number(ref)
    if d.type == "enum":
        return (d.values or ())[int(ref.as_long())]
    if d.type == "date":
        return dt.date.fromordinal(int(ref.as_long()))
    return str(ref.as_string())


def record_of(enc: Encoding, model: Any) -> dict[str, Value]:
    """The record a model describes (unknown inputs left out), in declaration order."""
    out: dict[str, Value] = {}
    for name, var in enc.vars.items():
        value = value_of(var, model)
        if value is not None:
            out[name] = value
    return out


def to_json(record: Mapping[str, Value]) -> dict[str, Any]:
    """A record as JSON-able values (dates as ISO text, lists as lists)."""
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, dt.date):
            out[k] = v.isoformat()
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = v
    return out


def _constant(var: InputVar, value: Value) -> list[tuple[Any, tuple[str, Any]]]:
    """The substitution that gives one input the concrete ``value``: pairs of a variable and
    the key of a constant (``("b", True)``, ``("i", 3)``, ``("r", 1/2)``, ``("s", "x")``)."""
    d = var.decl
    if value is None:
        pairs: list[tuple[Any, tuple[str, Any]]] = [(var.known, ("b", False))]
        if d.type == "list":
            pairs += [(m, ("b", False)) for m in var.members.values()]
            pairs.append((var.unknown_item, ("b", False)))
        else:
            pairs.append((var.value, _DEFAULTS[d.type]))
        return pairs
    pairs = [(var.known, ("b", True))]
    if d.type == "list":
        assert isinstance(value, tuple)
        pairs += [(m, ("b", v in value)) for v, m in var.members.items()]
        pairs.append((var.unknown_item, ("b", None in value)))
    elif d.type == "boolean":
        pairs.append((var.value, ("b", bool(value))))
    elif d.type == "integer":
        pairs.append((var.value, ("i", value)))
    elif d.type == "number":
        pairs.append((var.value, ("r", Fraction(value))))  # type: ignore[arg-type]
    elif d.type == "enum":
        pairs.append((var.value, ("i", (d.values or ()).index(str(value)))))
    elif d.type == "date":
        assert isinstance(value, dt.date)
        pairs.append((var.value, ("i", value.toordinal())))
    else:
        pairs.append((var.value, ("s", str(value))))
    return pairs


def equals(var: InputVar, value: Value) -> Any:
    """The condition "this input has ``value``" (``None``: it is unknown)."""
    if value is None:
        return z3.Not(var.known)
    return z3.And(*[a == _MAKE[key[0]](key[1]) for a, key in _constant(var, value)])


_DEFAULTS: dict[str, tuple[str, Any]] = {"boolean": ("b", False), "integer": ("i", 0),
                                         "number": ("r", Fraction(0)), "enum": ("i", 0),
                                         "date": ("i", 1), "string": ("s", "")}
_MAKE: dict[str, Callable[[Any], Any]] = {"b": z3.BoolVal, "i": z3.IntVal, "r": z3.RealVal,
                                          "s": z3.StringVal}


def _code(t: Term) -> Any:
    return z3.If(t.known, z3.If(t.value, 1, 0), 2)


Verdict = tuple[str | None, tuple[str, ...], dict[str, bool | None]]
"""What the encoding says about one record: outcome, possible outcomes, criterion values."""


def evaluator(enc: Encoding) -> Callable[[Mapping[str, Value]], Verdict]:
    """A function from a validated record to the encoding's :data:`Verdict` for it.

    Every answer is packed into one integer term (three values per criterion, one flag per
    possible outcome, the outcome index), so one substitution and simplification per record
    reads them all.
    """
    ids = enc.outcome_ids
    names = list(enc.criteria)
    packed: Any = enc.outcome() + 1
    scale = len(ids) + 1
    for o in ids:
        packed = packed + scale * z3.If(enc.possible(o), 1, 0)
        scale *= 2
    for name in names:
        packed = packed + scale * _code(enc.criteria[name])
        scale *= 3

    ctx = packed.ctx
    keep: dict[Any, Any] = {}  # the constants' wrappers, kept alive for the raw arrays

    def raw(key: tuple[str, Any]) -> Any:
        if key not in keep:
            keep[key] = _MAKE[key[0]](key[1])
        return keep[key].as_ast()

    variables = [a for var in enc.vars.values() for a, _ in _constant(var, None)]
    size = len(variables)
    frm = (z3.Ast * size)(*[a.as_ast() for a in variables])

    def run(record: Mapping[str, Value]) -> Verdict:
        keys = [k for name, var in enc.vars.items() for _, k in _constant(var, record.get(name))]
        to = (z3.Ast * size)(*[raw(k) for k in keys])
        moved = z3.ExprRef(z3.Z3_substitute(ctx.ref(), packed.as_ast(), size, frm, to), ctx)
        done = z3.ExprRef(z3.Z3_simplify(ctx.ref(), moved.as_ast()), ctx)
        n = int(z3.Z3_get_numeral_string(ctx.ref(), done.as_ast()))
        n, index = divmod(n, len(ids) + 1)
        possible = []
        for o in ids:
            n, flag = divmod(n, 2)
            if flag:
                possible.append(o)
        criteria: dict[str, bool | None] = {}
        for name in names:
            n, code = divmod(n, 3)
            criteria[name] = TRUTH[code]
        return (ids[index - 1] if index else None), tuple(possible), criteria

    return run
