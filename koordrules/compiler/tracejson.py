"""The JSON of a compiled trace, written from templates prepared once per set.

A trace's JSON is mostly static: every node's kind, text, span and reference, every
criterion's title, the shape of each tree. Only the values of the nodes and of the inputs,
and the sentences chosen by them, change from record to record. So the whole trace is
flattened into literal text and slots are those values, with the positions to
fill them from — one per shape (how many rules were tried, the outcome, redacted or not),
made when first needed. Writing a trace is then encoding the record's values once each and
one format. The text is the same, character for character, as
``json.dumps(trace_dict(trace), ensure_ascii=False)`` of the built trace (tests/test_trace.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any, NamedTuple

from koordrules.trace import trace_value
from koordrules.values import Value

__all__ = ("Template", "Trees", "Writer", "encode", "encode_all", "redacted")

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


_TRUTH: dict[bool | None, str] = {True: "true", False: "false", None: "null"}


def encode(value: Value) -> str:
    """The JSON text of a value as a trace shows it (``json.dumps`` of
    :func:`~koordrules.trace.trace_value`)."""
    return _ENCODERS.get(value.__class__, _slow)(value)


def encode_all(values: Sequence[Value]) -> list[str]:
    """:func:`encode` of each value."""
    get = _ENCODERS.get
    truth = _TRUTH
    return [truth[v] if v is None or v.__class__ is bool else get(v.__class__, _slow)(v)
            for v in values]


class Template:
    """JSON text with slots: ``fill(encoded)`` is the text with each slot filled from
    its position in ``encoded`` (the literal parts and the slot values interleaved and
    joined, which is several times faster than ``%``-formatting this many slots)."""

    __slots__ = ("fill",)

    def __init__(self, parts: Sequence[str], slots: tuple[int, ...]) -> None:
        assert len(parts) == len(slots) + 1
        if not slots:
            text = parts[0]
            self.fill: Callable[[Sequence[str]], str] = lambda encoded: text
            return
        buffer = [""] * (2 * len(parts) - 1)
        buffer[0::2] = parts
        join = "".join
        if len(slots) == 1:
            only = slots[0]

            def fill_one(encoded: Sequence[str]) -> str:
                filled = buffer.copy()
                filled[1] = encoded[only]
                return join(filled)

            self.fill = fill_one
            return
        get = itemgetter(*slots)

        def fill(encoded: Sequence[str]) -> str:
            filled = buffer.copy()
            filled[1::2] = get(encoded)
            return join(filled)

        self.fill = fill


class Trees(NamedTuple):
    """The static JSON of every node: ``heads[k]`` is node ``k``'s JSON up to its value,
    ``tails[k]`` from its value up to its inputs; ``kids[k]`` its children, ``reads[k]`` the
    inputs it reads and ``input_keys[i]`` input ``i``'s JSON key (``"name": ``)."""

    heads: Sequence[str]
    tails: Sequence[str]
    kids: Sequence[tuple[int, ...]]
    reads: Sequence[tuple[int, ...]]
    input_keys: Sequence[str]


class Writer:
    """Builds a :class:`Template` from literal text and slots."""

    def __init__(self) -> None:
        self._parts: list[str] = [""]
        self._slots: list[int] = []

    def literal(self, part: str) -> None:
        self._parts[-1] += part

    def slot(self, index: int) -> None:
        self._slots.append(index)
        self._parts.append("")

    def tree(self, top: int, trees: Trees, inputs_at: int, values_at: int,
             redact: bool) -> None:
        """The tree under node ``top``: node ``k``'s value from slot ``values_at + k``,
        input ``i`` from slot ``inputs_at + i``; redacted, a node's inputs are ``null``."""
        heads, tails, kids, reads, keys = trees

        def node(k: int) -> None:
            self.literal(heads[k])
            self.slot(values_at + k)
            self.literal(tails[k])
            if redact:
                self.literal("null")
            else:
                self.literal("{")
                for j, i in enumerate(reads[k]):
                    self.literal((", " if j else "") + keys[i])
                    self.slot(inputs_at + i)
                self.literal("}")
            self.literal(', "children": [')
            for j, c in enumerate(kids[k]):
                if j:
                    self.literal(", ")
                node(c)
            self.literal("]}")

        node(top)

    def done(self) -> Template:
        return Template(self._parts, tuple(self._slots))


def redacted(encoded: list[str], values: Sequence[Value], values_at: int,
             patient_nodes: Sequence[int]) -> None:
    """Replace, in ``encoded``, the values of the nodes holding patient data by
    ``"<redacted>"`` (unknown and true/false stay shown)."""
    count = len(values)
    for k in patient_nodes:
        if k >= count:
            break
        v = values[k]
        if v is not None and v.__class__ is not bool:
            encoded[values_at + k] = _REDACTED_JSON
