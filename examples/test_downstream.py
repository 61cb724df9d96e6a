"""A downstream application's test: its own criteria file, checked with koordrules.testing.

Run from the repository root with ``python -m pytest examples/test_downstream.py``.
"""

from pathlib import Path

import koordrules
from koordrules.testing import check_all


def test_our_triage_criteria_are_consistent() -> None:
    criteria = koordrules.load(Path(__file__).parent / "downstream" / "triage.yaml")
    check_all(criteria, examples=100)  # totality, determinism, trace, soundness, monotone, reach
