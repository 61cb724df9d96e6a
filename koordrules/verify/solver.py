"""The one place z3 is imported: a clear error when the ``verify`` extra is not installed."""

from __future__ import annotations

from koordrules.errors import KoordError

try:
    import z3
except ImportError as _ex:  # pragma: no cover - the verify extra is part of dev
    raise KoordError("proofs need z3-solver: pip install 'koordrules[verify]'",
                     code="missing_extra") from _ex

__all__ = ("z3",)
