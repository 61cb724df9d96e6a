"""Plain-words messages for the slips KE editors make in YAML, in English and bokmål/nynorsk.

The YAML reader and the schema check call these to replace PyYAML's and pydantic's wording
(``found character '\\t' that cannot start any token``, ``invalid character in year``) by a
message at the mistake with the fix. :func:`parameter_value` spots a parameter written as
text that was meant as a number (``"6"``, ``3,5``, ``3 months``) or a Norwegian date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

Texts = dict[str, str]

_NORWEGIAN_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")
_NUMBER = re.compile(r"^\s*(-?\d+)(?:([.,])(\d+))?\s*$")
_WITH_UNIT = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*([^\d\s.,][\w ]*?)\s*$")


@dataclass(frozen=True)
class Message:
    """A message: English ``text`` and its ``translations`` (``nb``, ``nn``)."""

    text: str
    translations: Texts

    @classmethod
    def of(cls, en: str, nb: str, nn: str | None = None) -> Message:
        return cls(en, {"nb": nb, "nn": nn or nb})


def iso_date(text: str) -> str | None:
    """``01.10.2024`` → ``2024-10-01`` (``None`` if ``text`` is not such a date)."""
    m = _NORWEGIAN_DATE.match(text)
    if m is None:
        return None
    try:
        return dt.date(int(m[3]), int(m[2]), int(m[1])).isoformat()
    except ValueError:
        return None


def yaml_syntax(problem: str, line_text: str, key_line_text: str | None) -> Message | None:
    """A message for PyYAML's ``problem`` on a line (``key_line_text``: the line of the key
    PyYAML was reading, for a missing colon)."""
    if "'\\t'" in problem or "\t" in problem:
        return Message.of(
            "a tab character: YAML indents with spaces only; replace the tab by spaces",
            "et tabulatortegn: YAML rykker inn med mellomrom; bytt tabulatoren ut med "
            "mellomrom",
            "eit tabulatorteikn: YAML rykkjer inn med mellomrom; byt tabulatoren ut med "
            "mellomrom")
    if "could not find expected ':'" in problem and key_line_text is not None:
        words = key_line_text.strip().split(None, 1)
        if words:
            fix = f"{words[0]}:" + (f" {words[1]}" if len(words) > 1 else "")
            return Message.of(
                f"a ':' is missing after {words[0]!r}: write '{fix}'",
                f"det mangler «:» etter «{words[0]}»: skriv «{fix}»",
                f"det manglar «:» etter «{words[0]}»: skriv «{fix}»")
    if "mapping values are not allowed here" in problem:
        return Message.of(
            "a ':' where YAML does not expect one: is the line indented like the one above, "
            "and is a text with ': ' in it quoted?",
            "et «:» der YAML ikke venter det: er linja rykket inn som linja over, og står en "
            "tekst med «: » i anførselstegn?")
    return None


def schema_value(where: str, error_type: str, value: Any) -> Message | None:
    """A message for one pydantic error on the field ``where`` whose value is ``value``."""
    if isinstance(value, str) and error_type.startswith(("date", "datetime")):
        iso = iso_date(value)
        if iso is not None:
            return Message.of(
                f"{where}: dates are written year-month-day: write {iso} instead of {value}",
                f"{where}: datoer skrives år-måned-dag: skriv {iso} i stedet for {value}",
                f"{where}: datoar skriv ein år-månad-dag: skriv {iso} i staden for {value}")
        return Message.of(f"{where}: {value!r} is not a date; write it YYYY-MM-DD",
                          f"{where}: «{value}» er ikke en dato; skriv den ÅÅÅÅ-MM-DD",
                          f"{where}: «{value}» er ikkje ein dato; skriv han ÅÅÅÅ-MM-DD")
    if isinstance(value, str) and error_type in ("bool_parsing", "bool_type"):
        return Message.of(f"{where}: write true or false (not {value!r})",
                          f"{where}: skriv true eller false (ikke «{value}»)",
                          f"{where}: skriv true eller false (ikkje «{value}»)")
    if isinstance(value, str) and error_type in ("int_parsing", "float_parsing", "int_type",
                                                  "float_type"):
        number = _as_number(value)
        if number is not None:
            return Message.of(f"{where}: write the number as {number} (not {value!r})",
                              f"{where}: skriv tallet som {number} (ikke «{value}»)",
                              f"{where}: skriv talet som {number} (ikkje «{value}»)")
    return None


def _as_number(text: str) -> str | None:
    m = _NUMBER.match(text)
    if m is None:
        return None
    return m[1] + (f".{m[3]}" if m[3] else "")


def parameter_value(name: str, value: Any, unit_given: bool) -> tuple[Any, Message] | None:
    """For a parameter value written as text but meant as a number or date: the intended
    value and a message saying how to write it. ``None`` when the value is fine."""
    if not isinstance(value, str):
        return None
    iso = iso_date(value)
    if iso is not None:
        return dt.date.fromisoformat(iso), Message.of(
            f"parameter {name!r}: dates are written year-month-day: write {iso} "
            f"instead of {value}",
            f"parameter «{name}»: datoer skrives år-måned-dag: skriv {iso} i stedet for {value}",
            f"parameter «{name}»: datoar skriv ein år-månad-dag: skriv {iso} i staden for "
            f"{value}")
    number = _as_number(value)
    if number is not None:
        intended = float(number) if "." in number else int(number)
        if "," in value:
            return intended, Message.of(
                f"parameter {name!r}: decimals are written with a point: write {number} "
                f"instead of {value.strip()}",
                f"parameter «{name}»: desimaltall skrives med punktum: skriv {number} i stedet "
                f"for {value.strip()}",
                f"parameter «{name}»: desimaltal skriv ein med punktum: skriv {number} i "
                f"staden for {value.strip()}")
        return intended, Message.of(
            f"parameter {name!r}: the value is text because of the quotes; write value: "
            f"{number} to make it a number",
            f"parameter «{name}»: verdien er tekst fordi den står i anførselstegn; skriv "
            f"value: {number} for at den skal være et tall",
            f"parameter «{name}»: verdien er tekst fordi han står i hermeteikn; skriv "
            f"value: {number} for at han skal vere eit tal")
    m = _WITH_UNIT.match(value)
    if m is not None:
        number = _as_number(m[1]) or m[1]
        intended = float(number) if "." in number else int(number)
        unit = m[2]
        rest = "" if unit_given else f" and unit: {unit} on its own line"
        rest_nb = "" if unit_given else f" og unit: {unit} på en egen linje"
        rest_nn = "" if unit_given else f" og unit: {unit} på ei eiga linje"
        return intended, Message.of(
            f"parameter {name!r}: the value is a number only; write value: {number}{rest}",
            f"parameter «{name}»: verdien skal bare være tallet; skriv value: {number}{rest_nb}",
            f"parameter «{name}»: verdien skal berre vere talet; skriv value: {number}"
            f"{rest_nn}")
    return None
