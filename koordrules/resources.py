"""Where the shipped data lives: the grammar and the criteria catalogue.

In an installed wheel both sit inside the package (``koordrules/_data/``, put there by the
build's force-include); in a source checkout they are the top-level ``grammars/`` and
``criteria/`` folders. Both are found through :mod:`importlib.resources`.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Protocol, TypeVar


def data_dir(name: str) -> Traversable:
    """The shipped folder ``name`` (``"grammars"`` or ``"criteria"``)."""
    packaged = resources.files("koordrules") / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = Path(str(resources.files("koordrules"))).parent / name
    return checkout


def grammar_text(name: str = "criteria.lark") -> str:
    return (data_dir("grammars") / name).read_text(encoding="utf-8")


def criteria_dir() -> Path:
    """The shipped catalogue as a filesystem path (wheels are installed unzipped)."""
    return Path(str(data_dir("criteria")))


def files_with_suffix(root: str | Path, suffix: str) -> list[Path]:
    """``root`` itself if it is such a file, else every file below it whose name ends in
    ``suffix``, sorted."""
    base = Path(root)
    if base.is_file():
        return [base] if base.name.endswith(suffix) else []
    return sorted(p for p in base.rglob("*" + suffix) if p.is_file())


class Versioned(Protocol):
    """A loaded data file with an id, a version and a status."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def status(self) -> str: ...


V = TypeVar("V", bound=Versioned)


def pick_version(files: Iterable[V], ref: str) -> V | None:
    """The file ``ref`` names: ``id@version``, or ``id`` for its active version (the last
    one found); ``None`` when there is none."""
    want, _, version = ref.partition("@")
    found = [f for f in files
             if f.id == want and (f.version == version if version else f.status == "active")]
    return found[-1] if found else None
