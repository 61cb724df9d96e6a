"""The static types the checker assigns to expressions and declared inputs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Type:
    """A type of the expression language.

    ``name`` is one of boolean, number, string, date, duration, list, any. ``element`` is the
    element type of a list; ``values`` restricts a string to an enumeration.
    """

    name: str
    element: Type | None = None
    values: tuple[str, ...] | None = None

    def __str__(self) -> str:
        if self.name == "list":
            return f"list of {self.element}" if self.element else "list"
        if self.values is not None:
            return "enum [" + ", ".join(self.values) + "]"
        return self.name

    def accepts(self, other: Type) -> bool:
        """Whether a value of type ``other`` may stand where ``self`` is expected."""
        if self.name == "any" or other.name == "any":
            return True
        if self.name != other.name:
            return False
        if self.name == "list" and self.element and other.element:
            return self.element.accepts(other.element)
        return True


BOOLEAN = Type("boolean")
NUMBER = Type("number")
STRING = Type("string")
DATE = Type("date")
DURATION = Type("duration")
ANY = Type("any")


def list_of(element: Type) -> Type:
    return Type("list", element=element)


def enum_of(values: tuple[str, ...]) -> Type:
    return Type("string", values=values)


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two branches (``coalesce``, list items), or ``None`` if none."""
    if a.name == "any":
        return b
    if b.name == "any":
        return a
    if a.name != b.name:
        return None
    if a.name == "list":
        inner = unify(a.element or ANY, b.element or ANY)
        return list_of(inner) if inner else None
    if a.values is not None and b.values is not None:
        return enum_of(tuple(dict.fromkeys(a.values + b.values)))
    return Type(a.name)
