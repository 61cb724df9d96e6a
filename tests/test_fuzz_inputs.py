"""Fuzzing every surface koordrules reads (the harness is tests/fuzzing.py).

Expressions, criteria files (mutated shipped files, raw YAML tokens, random bytes), record
files (JSON, JSON lines, CSV), case files, the lock file, FHIR bundles, and the batch
backends against the reference interpreter. Whatever the input, the result is a value or a
:class:`koordrules.KoordError`, within the time bound per input and the memory bound of the
run. CI runs ``KOORDRULES_FUZZ_EXAMPLES`` inputs per surface (default 40) with a fresh seed
each run (printed on a finding); the large run and its figures are in docs/testing.md.
"""

from __future__ import annotations

import os
import random

import pytest
from fuzzing import SURFACES, run_surface

EXAMPLES = int(os.environ.get("KOORDRULES_FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("KOORDRULES_FUZZ_SEED", str(random.SystemRandom().randrange(10**6))))
NEEDS = {"fhir-bundle": "fhirpathpy", "backends": "polars"}


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_every_input_gives_a_value_or_a_koord_error(surface: str) -> None:
    if surface in NEEDS:
        pytest.importorskip(NEEDS[surface])
    stats = run_surface(surface, EXAMPLES, SEED)
    assert stats.inputs == EXAMPLES or stats.findings
    assert not stats.findings, "\n".join(stats.findings)
    assert sum(stats.results.values()) == stats.inputs


def test_a_foreign_exception_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    import fuzzing

    def boom(text: str) -> str:
        raise ValueError("foreign")

    monkeypatch.setitem(SURFACES, "expression", fuzzing.Surface(fuzzing.expression, boom))
    stats = run_surface("expression", 3, 1)
    assert len(stats.findings) == 3 and "ValueError" in stats.findings[0]
    assert "seed=1 index=0" in stats.findings[0]
    later = run_surface("expression", 2, 1, start=7)  # a run split in parts: the same inputs
    assert [f.split(": ")[0] for f in later.findings] == [
        "expression seed=1 index=7", "expression seed=1 index=8"]


def test_a_hang_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import fuzzing

    def slow(text: str) -> str:
        time.sleep(5)
        return "ok"

    monkeypatch.setattr(fuzzing, "TIME_LIMIT", 0.05)
    monkeypatch.setitem(SURFACES, "expression", fuzzing.Surface(fuzzing.expression, slow))
    stats = run_surface("expression", 1, 1)
    assert stats.findings and "Hang" in stats.findings[0]
