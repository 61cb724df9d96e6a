"""Semantic versions (``MAJOR.MINOR.PATCH[-pre]``), their ordering, and version ranges.

A :class:`Range` is what a variant's ``extends:`` names after the ``@``: an exact version
(``1.0.0``), a caret range (``^1.2.0``: same major, at least 1.2.0), a tilde range
(``~1.2.0``: same major and minor, at least 1.2.0), or comparators separated by commas or
spaces (``>=1.0.0,<2.0.0``). Pre-releases only match a range that names a pre-release of the
same ``MAJOR.MINOR.PATCH`` (as in npm), so ``^1.0.0`` never picks ``1.1.0-rc.1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$")
_COMPARATOR = re.compile(r"^(>=|<=|>|<|=|\^|~)?\s*(\S+)$")

Op = Literal[">=", "<=", ">", "<", "="]


@dataclass(frozen=True, order=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int
    release: bool
    """False for a pre-release (``1.0.0-rc.1`` sorts before ``1.0.0``)."""
    pre: tuple[tuple[int, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _SEMVER.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH)")
        major, minor, patch, pre = match.groups()
        parts = tuple(
            (int(p), "") if p.isdigit() else (1 << 62, p) for p in (pre.split(".") if pre else ())
        )
        return cls(int(major), int(minor), int(patch), pre is None, parts)

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        if self.release:
            return core
        return core + "-" + ".".join(s or str(n) for n, s in self.pre)


def _floor(major: int, minor: int, patch: int) -> Version:
    """The lowest version with this core, pre-releases included (``1.2.0-0``)."""
    return Version(major, minor, patch, False, ((0, ""),))


@dataclass(frozen=True, slots=True)
class Comparator:
    op: Op
    version: Version

    def matches(self, v: Version) -> bool:
        match self.op:
            case ">=":
                return v >= self.version
            case ">":
                return v > self.version
            case "<=":
                return v <= self.version
            case "<":
                return v < self.version
        return v == self.version

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


@dataclass(frozen=True, slots=True)
class Range:
    """A set of versions: every comparator must hold."""

    text: str
    comparators: tuple[Comparator, ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        """Parse ``1.0.0``, ``^1.0.0``, ``~1.2.0`` or ``>=1.0.0,<2.0.0``; raises ValueError."""
        parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
        # allow ">= 1.0.0" written with a space after the operator
        merged: list[str] = []
        for part in parts:
            if merged and merged[-1] in (">=", "<=", ">", "<", "=", "^", "~"):
                merged[-1] += part
            else:
                merged.append(part)
        if not merged:
            raise ValueError("an empty version range")
        comparators: list[Comparator] = []
        for part in merged:
            comparators += _expand(part)
        return cls(text.strip(), tuple(comparators))

    @property
    def exact(self) -> Version | None:
        """The version, when the range is a single exact version."""
        if len(self.comparators) == 1 and self.comparators[0].op == "=":
            return self.comparators[0].version
        return None

    def matches(self, version: Version | str) -> bool:
        v = Version.parse(version) if isinstance(version, str) else version
        if not all(c.matches(v) for c in self.comparators):
            return False
        if v.release:
            return True
        return any(not c.version.release and c.version.core == v.core
                   for c in self.comparators)

    def best(self, versions: Iterable[Version | str]) -> Version | None:
        """The highest of ``versions`` in the range, or ``None``."""
        found = [v if isinstance(v, Version) else Version.parse(v) for v in versions]
        return max((v for v in found if self.matches(v)), default=None)

    def __str__(self) -> str:
        return self.text


def _expand(part: str) -> list[Comparator]:
    match = _COMPARATOR.match(part)
    if not match:
        raise ValueError(f"{part!r} is not a version or a comparator")
    op, rest = match.groups()
    try:
        v = Version.parse(rest)
    except ValueError:
        raise ValueError(f"{part!r}: {rest!r} is not a semantic version (MAJOR.MINOR.PATCH)"
                         ) from None
    if op == "^":
        if v.major > 0:
            upper = _floor(v.major + 1, 0, 0)
        elif v.minor > 0:
            upper = _floor(0, v.minor + 1, 0)
        else:
            upper = _floor(0, 0, v.patch + 1)
        return [Comparator(">=", v), Comparator("<", upper)]
    if op == "~":
        return [Comparator(">=", v), Comparator("<", _floor(v.major, v.minor + 1, 0))]
    return [Comparator(op or "=", v)]  # type: ignore[arg-type]
