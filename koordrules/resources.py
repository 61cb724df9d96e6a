"""Where the shipped data lives: the grammar and the criteria catalogue.

In an installed wheel both sit inside the package (``koordrules/_data/``, put there by the
build's force-include); in a source checkout they are the top-level ``grammars/`` and
``criteria/`` folders. Both are found through :mod:`importlib.resources`.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


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
