"""A progress bar for long cohort runs: on standard error when it is a terminal (``tqdm``,
extra ``koordrules[progress]``), nothing when it is piped or tqdm is missing. It shows row
counts only, never a value."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Callable, Iterator
from typing import Any, TextIO


@contextlib.contextmanager
def progress_bar(err: TextIO) -> Iterator[Callable[[Any], None] | None]:
    """A ``progress`` callback for :func:`koordrules.backends.stream.evaluate_stream`, or
    ``None`` when no bar is shown."""
    isatty = getattr(err, "isatty", None)
    if not (callable(isatty) and isatty()) or importlib.util.find_spec("tqdm") is None:
        yield None
        return
    tqdm: Any = importlib.import_module("tqdm").tqdm

    with tqdm(file=err, unit=" records", desc="koordrules eval", leave=False) as bar:
        def update(p: Any) -> None:
            if p.total is not None and bar.total != p.total:
                bar.total = p.total
            bar.update(p.rows - bar.n)

        yield update
