"""Characters that can deceive a reader, and how to show them harmlessly.

Text from files and records reaches a terminal, a log or a review: a control character (ESC
starts an ANSI sequence that can recolour, move the cursor or clear the screen; CR overwrites
the line), a bidirectional control (U+202E turns the rest of the line around, the
"Trojan Source" trick) or a line separator in a value can make a line say something it does
not. :func:`escape` writes each such character as ``\\uXXXX``, which a reader sees and which is
also a valid JSON escape of the same character, so escaped JSON stays the same data.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Unicode bidirectional formatting characters (UAX #9): marks, embeddings, overrides,
isolates."""

_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except tab and newline, DEL, C1
_OTHER = "\u2028\u2029" + "".join(sorted(BIDI_CONTROLS))
_UNSAFE = re.compile(f"[{_CONTROL}{_OTHER}]")
_UNSAFE_LINE = re.compile(f"[{_CONTROL}{_OTHER}\t\n]")
_BIDI = re.compile(f"[{''.join(sorted(BIDI_CONTROLS))}]")


def _code(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape(text: str, *, one_line: bool = False) -> str:
    """``text`` with every deceptive character written as ``\\uXXXX``.

    Tabs and newlines are kept unless ``one_line`` (a value shown inside a line, where a
    newline could forge the next line)."""
    pattern = _UNSAFE_LINE if one_line else _UNSAFE
    return pattern.sub(_code, text)


def find_unsafe(text: str) -> int | None:
    """Offset of the first character no decoded file text may hold (a control character
    other than tab and newline, a line or paragraph separator, a bidirectional control), or
    ``None``."""
    match = _UNSAFE.search(text)
    return match.start() if match else None


def find_bidi(text: str) -> int | None:
    """Offset of the first bidirectional control in ``text``, or ``None``."""
    match = _BIDI.search(text)
    return match.start() if match else None


def describe(char: str) -> str:
    """How a message names a deceptive character: ``U+202E (a bidirectional control)``."""
    kind = ("a bidirectional control" if char in BIDI_CONTROLS
            else "a line separator" if char in "\u2028\u2029" else "a control character")
    return f"U+{ord(char):04X} ({kind})"


def lines_text(lines: list[str]) -> str:
    """Lines of a text report, each ended by a newline. A newline, ESC or bidi control inside
    a line came from a record or a file; it is written as ``\\uXXXX`` and cannot forge a
    line."""
    return "".join(escape(line, one_line=True) + "\n" for line in lines)
