"""Semantic versions (``MAJOR.MINOR.PATCH[-pre]``) and their ordering."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$")


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

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        if self.release:
            return core
        return core + "-" + ".".join(s or str(n) for n, s in self.pre)
