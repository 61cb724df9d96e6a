"""The JSON of a compiled trace, written from templates prepared once per set.

A trace's JSON is mostly static: every node's kind, text, span and reference, every
criterion's title and sentence, the shape of each tree. Only the values of the nodes and of
the inputs change from record to record. So each criterion's and each rule's tree is flattened
once into one ``%``-format string whose slots are those values, with the positions to fill
them from; writing a trace is then encoding the record's values once each and one format
per criterion and rule tried. The text is the same, character for character, as
``json.dumps(trace_dict(trace), ensure_ascii=False)`` of the built trace (tests/test_trace.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any

from koordrules.trace import trace_value
from koordrules.values import Value

__all__ = ("TreeTemplate", "encode", "encode_all", "tree_template")

_REDACTED_JSON = '"<redacted>"'
_encode_str: Callable[[str], str] = encode_basestring


def _slow(value: Value) -> str:
    found = trace_value(value)
    if isinstance(found, tuple):
        return "[" + ", ".join(encode(v) for v in found) + "]"
    return json.dumps(found, ensure_ascii=False)


def _float(value: float) -> str:
    # json.dumps writes a finite float with float.__repr__ (NaN and infinities otherwise)
    return float.__repr__(value) if value - value == 0.0 else json.dumps(value)


_ENCODERS: dict[type, Callable[[Any], str]] = {
    type(None): lambda v: "null",
    bool: lambda v: "true" if v else "false",
    int: int.__repr__,
    float: _float,
    str: _encode_str,
}


def encode(value: Value) -> str:
    """The JSON text of a value as a trace shows it (``json.dumps`` of
    :func:`~koordrules.trace.trace_value`)."""
    return _ENCODERS.get(value.__class__, _slow)(value)


def encode_all(values: Sequence[Value]) -> list[str]:
    """:func:`encode` of each value."""
    get = _ENCODERS.get
    return [get(v.__class__, _slow)(v) for v in values]


class TreeTemplate:
    """One expression tree's JSON with slots: ``fill(encoded)`` is its text, where
    ``encoded`` holds the encoded inputs first and then the encoded node values."""

    __slots__ = ("fill",)

    def __init__(self, text: str, slots: tuple[int, ...]) -> None:
        if not slots:
            self.fill: Callable[[Sequence[str]], str] = lambda encoded: text
        elif len(slots) == 1:
            only = slots[0]
            self.fill = lambda encoded: text % (encoded[only],)
        else:
            get = itemgetter(*slots)
            self.fill = lambda encoded: text % get(encoded)


def tree_template(top: int, heads: Sequence[str], tails: Sequence[str],
                  kids: Sequence[tuple[int, ...]], reads: Sequence[tuple[int, ...]],
                  input_keys: Sequence[str], redact: bool, closing: str) -> TreeTemplate:
    """The template of the tree under node ``top``, followed by ``closing``.

    ``heads[k]`` is node ``k``'s JSON up to its value, ``tails[k]`` from its value up to its
    inputs, ``reads[k]`` the inputs it reads and ``input_keys[i]`` input ``i``'s JSON key
    (``"name": ``). Redacted, a node's inputs are ``null``."""
    n_inputs = len(input_keys)
    text: list[str] = []
    slots: list[int] = []

    def literal(part: str) -> None:
        text.append(part.replace("%", "%%"))

    def slot(index: int) -> None:
        text.append("%s")
        slots.append(index)

    def node(k: int) -> None:
        literal(heads[k])
        slot(n_inputs + k)
        literal(tails[k])
        if redact:
            literal("null")
        else:
            literal("{")
            for j, i in enumerate(reads[k]):
                literal((", " if j else "") + input_keys[i])
                slot(i)
            literal("}")
        literal(', "children": [')
        for j, c in enumerate(kids[k]):
            if j:
                literal(", ")
            node(c)
        literal("]}")

    node(top)
    literal(closing)
    return TreeTemplate("".join(text), tuple(slots))


def redacted(encoded: list[str], values: Sequence[Value], n_inputs: int,
             patient_nodes: Sequence[int]) -> None:
    """Replace, in ``encoded``, the values of the nodes holding patient data by
    ``"<redacted>"`` (unknown and true/false stay shown)."""
    count = len(values)
    for k in patient_nodes:
        if k >= count:
            break
        v = values[k]
        if v is not None and v.__class__ is not bool:
            encoded[n_inputs + k] = _REDACTED_JSON
