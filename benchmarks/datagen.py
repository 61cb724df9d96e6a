"""Deterministic synthetic input records for the "Anbefaling 3" benchmark (issue 6).

A record is a flat dict with the inputs of Anbefaling 3. With ``unknown_rate > 0`` any
field may be ``None`` (unknown).  Values are drawn first and the unknowns are masked in
afterwards from a separate random stream, so ``generate_records(n, seed=s,
unknown_rate=r)`` is the all-present data set of the same seed with some values blanked.

Only ``random.Random.random()`` is used, whose output for a given integer seed is stable
across Python versions.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

Record = dict[str, Any]

B_FACTORS: tuple[str, ...] = (
    "high_treatment_intensity",
    "individually_adapted_pathway",
    "newly_diagnosed_chronic",
    "lifelong_course",
    "transition_child_to_adult",
)

# Probability of True for each boolean input (kept in the 20-40 % band; B factors are
# individually rarer so that "any of B" is not almost always true).
TRUE_RATE: dict[str, float] = {
    "high_treatment_intensity": 0.25,
    "individually_adapted_pathway": 0.20,
    "newly_diagnosed_chronic": 0.20,
    "lifelong_course": 0.30,
    "transition_child_to_adult": 0.20,
    "situation_indicates_need": 0.35,
    "has_coordinator": 0.20,
}

# Weights for involved_units = 0, 1, ..., 6.
UNIT_WEIGHTS: tuple[float, ...] = (0.10, 0.35, 0.25, 0.15, 0.08, 0.05, 0.02)

FIELDS: tuple[str, ...] = (
    "expected_followup_months",
    *B_FACTORS,
    "situation_indicates_need",
    "involved_units",
    "has_coordinator",
)


def _weighted_index(u: float, weights: tuple[float, ...]) -> int:
    acc = 0.0
    total = sum(weights)
    for i, w in enumerate(weights):
        acc += w / total
        if u < acc:
            return i
    return len(weights) - 1


def _followup_months(rng: random.Random) -> int:
    # Half short episodes (0-12 months), half spread over 0-36 months: plenty of
    # values on both sides of, and exactly at, the 6-month threshold.
    upper = 12 if rng.random() < 0.5 else 36
    return int(rng.random() * (upper + 1))


def generate_records(n: int, *, seed: int = 0, unknown_rate: float = 0.0) -> list[Record]:
    """Return ``n`` deterministic synthetic records; each field is None w.p. ``unknown_rate``."""
    if not 0.0 <= unknown_rate <= 1.0:
        raise ValueError(f"unknown_rate must be in [0, 1], got {unknown_rate}")
    rng = random.Random(seed)
    mask_rng = random.Random(seed + 1_000_003)  # independent stream for unknowns
    records: list[Record] = []
    for _ in range(n):
        rec: Record = {"expected_followup_months": _followup_months(rng)}
        for name in B_FACTORS:
            rec[name] = rng.random() < TRUE_RATE[name]
        rec["situation_indicates_need"] = rng.random() < TRUE_RATE["situation_indicates_need"]
        rec["involved_units"] = _weighted_index(rng.random(), UNIT_WEIGHTS)
        rec["has_coordinator"] = rng.random() < TRUE_RATE["has_coordinator"]
        if unknown_rate > 0.0:
            for name in FIELDS:
                if mask_rng.random() < unknown_rate:
                    rec[name] = None
        records.append(rec)
    return records


def to_polars(records: list[Record]) -> pl.DataFrame:
    """Records as a polars DataFrame with a fixed schema (None becomes null)."""
    import polars as pl

    schema: dict[str, Any] = {name: pl.Boolean for name in FIELDS}
    schema["expected_followup_months"] = pl.Int64
    schema["involved_units"] = pl.Int64
    return pl.DataFrame(records, schema=schema)


def to_arrow(records: list[Record]) -> pa.Table:
    """Records as a pyarrow Table with a fixed schema (None becomes null)."""
    import pyarrow as pa

    fields = [
        pa.field(
            name,
            pa.int64() if name in ("expected_followup_months", "involved_units") else pa.bool_(),
        )
        for name in FIELDS
    ]
    return pa.Table.from_pylist(records, schema=pa.schema(fields))
