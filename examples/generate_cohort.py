"""Generate the synthetic example cohort: ``examples/cohort.jsonl`` and ``examples/cohort.csv``.

SYNTHETIC DATA. No record describes a real person; the distributions are rough guesses meant
to look plausible for Norwegian hospital wards, not estimates of anything.

Every record carries the inputs of every shipped criteria set (their union), plus ``patient``
(an id) and ``unit`` (for ``--by unit``). Some values are left unknown (``null`` in JSON lines,
an empty cell in CSV), as in real records. Seeded: running the script again writes the same
files. Run it from anywhere::

    python examples/generate_cohort.py [--size 3000] [--seed 20231101]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: unit → (share of the cohort, typical age range, mean complexity)
UNITS: dict[str, tuple[float, tuple[int, int], float]] = {
    "forde-nevrologi": (0.15, (18, 90), 0.55),
    "forde-medisinsk": (0.45, (40, 100), 0.45),
    "bergen-buk-nefrologi": (0.10, (0, 17), 0.50),
    "bergen-spinalenheten": (0.10, (16, 85), 0.70),
    "bergen-medisin": (0.20, (18, 95), 0.40),
}

DIAGNOSIS_GROUPS = [("als", 0.03), ("parkinson", 0.12), ("ms", 0.12), ("epilepsy", 0.15),
                    ("tumor_cerebri", 0.05), ("other", 0.53)]

FIELDS = [
    "patient", "unit",
    # helse-vest/anbefaling-3 (and its variants)
    "expected_followup_months", "high_treatment_intensity", "individually_adapted_pathway",
    "newly_diagnosed_chronic", "lifelong_course", "transition_child_to_adult",
    "situation_indicates_need", "involved_units", "has_coordinator",
    # helse-forde/pilot-2023
    "attendances_12m", "units_6m", "admissions_12m", "age", "living_situation",
    "municipal_services", "lacks_resource_persons",
    # variants
    "diagnosis_group", "ckd_stage", "inpatient_spinal_unit", "responsible_unit_clear",
    # helse-vest/anbefaling-3-pasientens-valg (drawn from their own generator, so adding them
    # left every other value as it was)
    "has_course_coordinator", "patient_consents", "can_coordinate_self",
    "patient_requests_new_assessment",
    # helse-vest/anbefaling-3-komplekse-behov (its own generator too)
    "complex_needs",
    # helse-bergen/buk-nefrologi 1.1.0 and helse-vest/anbefaling-2-ruting 1.1.0 (their own
    # generator too)
    "ckd_diagnosis", "responsibility_disputed", "difficult_case", "direct_request",
    "considering_decline",
]
#: the fields drawn by :func:`patient_say` (not by :func:`patient`)
SAY_FIELDS = FIELDS[FIELDS.index("has_course_coordinator"):FIELDS.index("complex_needs")]
#: the fields drawn by :func:`unit_events` (not by :func:`patient`)
EVENT_FIELDS = FIELDS[FIELDS.index("ckd_diagnosis"):]

#: the chance that a value is missing from the record (unknown), per field
MISSING = {
    "situation_indicates_need": 0.25,   # a judgement: often not made yet
    "lacks_resource_persons": 0.10,
    "responsible_unit_clear": 0.15,
    "living_situation": 0.05,
    "expected_followup_months": 0.05,
    "responsibility_disputed": 0.40,   # events: often not recorded
    "difficult_case": 0.40,
    "direct_request": 0.40,
    "considering_decline": 0.40,
}
DEFAULT_MISSING = 0.02


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth), enough for small means."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def patient(rng: random.Random, number: int) -> dict[str, Any]:
    unit = rng.choices(list(UNITS), weights=[u[0] for u in UNITS.values()])[0]
    _, (lo, hi), mean_complexity = UNITS[unit]
    # one latent "complexity" per patient drives most of the counts, so they correlate
    c = min(1.0, max(0.0, rng.gauss(mean_complexity, 0.22)))
    age = rng.randint(lo, hi) if unit != "forde-medisinsk" else min(
        100, max(lo, int(rng.gauss(74, 12))))
    elderly = age >= 70
    rec: dict[str, Any] = {"patient": f"P{number:05d}", "unit": unit}
    rec["expected_followup_months"] = round(rng.expovariate(1 / (2 + 18 * c)), 1)
    rec["high_treatment_intensity"] = rng.random() < 0.08 + 0.35 * c
    rec["individually_adapted_pathway"] = rng.random() < 0.05 + 0.30 * c
    rec["newly_diagnosed_chronic"] = rng.random() < 0.10
    rec["lifelong_course"] = rng.random() < 0.05 + 0.30 * c
    rec["transition_child_to_adult"] = 15 <= age <= 19 and rng.random() < 0.5
    rec["situation_indicates_need"] = rng.random() < 0.10 + 0.45 * c
    rec["involved_units"] = min(100, 1 + poisson(rng, 2.5 * c))
    rec["attendances_12m"] = min(1000, poisson(rng, 1 + 10 * c))
    rec["units_6m"] = min(100, poisson(rng, 0.5 + 2.5 * c))
    rec["admissions_12m"] = min(365, poisson(rng, 0.3 + 2.5 * c))
    rec["age"] = age
    if age < 18:
        rec["living_situation"] = "with_others"
    else:
        alone = 0.20 + (0.25 if elderly else 0.0)
        institution = 0.08 if age >= 80 else 0.01
        rec["living_situation"] = rng.choices(
            ["alone", "institution", "with_others"],
            weights=[alone, institution, 1 - alone - institution])[0]
    rec["municipal_services"] = min(20, poisson(rng, (0.3 + 2.0 * c) * (1.6 if elderly else 0.5)))
    rec["lacks_resource_persons"] = rng.random() < (0.08 + 0.25 * c
                                                    + (0.10 if rec["living_situation"] == "alone"
                                                       else 0.0))
    rec["has_coordinator"] = rng.random() < (0.02 + 0.10 * c)
    if unit == "forde-nevrologi":
        rec["diagnosis_group"] = rng.choices([g for g, _ in DIAGNOSIS_GROUPS],
                                             weights=[w for _, w in DIAGNOSIS_GROUPS])[0]
        if rec["diagnosis_group"] != "other" and rng.random() < 0.5:
            rec["has_coordinator"] = True       # many already have a diagnosis coordinator
    else:
        rec["diagnosis_group"] = "other"
    if unit == "bergen-buk-nefrologi":
        rec["ckd_stage"] = rng.choices([1, 2, 3, 4, 5], weights=[15, 25, 30, 20, 10])[0]
    else:
        rec["ckd_stage"] = rng.choices([1, 2, 3, 4, 5], weights=[72, 17, 8, 2, 1])[0]
    rec["inpatient_spinal_unit"] = unit == "bergen-spinalenheten" and rng.random() < 0.7
    rec["responsible_unit_clear"] = rng.random() < 0.8 - 0.3 * c
    for name in FIELDS[2:FIELDS.index("has_course_coordinator")]:
        if rng.random() < MISSING.get(name, DEFAULT_MISSING):
            rec[name] = None
    return rec


def patient_say(rng: random.Random, rec: dict[str, Any]) -> None:
    """The patient's say and a course coordinator: mostly not recorded (unknown), as when the
    screening is done before the conversation with the patient."""
    rec["has_course_coordinator"] = bool(rec["has_coordinator"]) and rng.random() < 0.3
    asked = rng.random() < 0.35
    rec["patient_consents"] = (rng.random() < 0.85) if asked else None
    assessed = rng.random() < 0.4
    rec["can_coordinate_self"] = (rng.random() < 0.25) if assessed else None
    recorded = rng.random() < 0.15
    rec["patient_requests_new_assessment"] = (rng.random() < 0.2) if recorded else None


def complex_needs(rng: random.Random, rec: dict[str, Any]) -> None:
    """The clinician's judgement of complex needs (seed 002's definition): mostly not made."""
    assessed = rng.random() < 0.3
    rec["complex_needs"] = (rng.random() < 0.2) if assessed else None


def unit_events(rng: random.Random, rec: dict[str, Any]) -> None:
    """A CKD diagnosis (BUK's section is «nefrologi og revmatologi»: not every patient there has
    kidney disease) and the events that send a case to KE (Anbefaling 2)."""
    buk = rec["unit"] == "bergen-buk-nefrologi"
    rec["ckd_diagnosis"] = rng.random() < (0.65 if buk else 0.04)
    rec["responsibility_disputed"] = rng.random() < 0.06
    rec["difficult_case"] = rng.random() < 0.05
    rec["direct_request"] = rng.random() < 0.04
    rec["considering_decline"] = rng.random() < 0.02
    for name in EVENT_FIELDS:
        if rng.random() < MISSING.get(name, DEFAULT_MISSING):
            rec[name] = None


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20231101)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    records = [patient(rng, n) for n in range(1, args.size + 1)]
    say = random.Random(args.seed + 1)
    for rec in records:
        patient_say(say, rec)
    judged = random.Random(args.seed + 2)
    for rec in records:
        complex_needs(judged, rec)
    events = random.Random(args.seed + 3)
    for rec in records:
        unit_events(events, rec)
    with (args.out / "cohort.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(json.dumps({k: rec[k] for k in FIELDS}, ensure_ascii=False) + "\n")
    with (args.out / "cohort.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(FIELDS)
        for rec in records:
            writer.writerow([cell(rec[k]) for k in FIELDS])


if __name__ == "__main__":
    main()
