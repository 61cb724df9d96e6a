"""FHIR mapping speed (issue 12): mapping one 1,000-resource bundle, against ``json.load`` of
the same file in the same run.

    python benchmarks/fhir_bench.py [--repeat 7] [--check]

The bundles are the four public Synthea R4 patients in ``examples/fhir/synthea/``, each
padded to exactly 1,000 entries with copies (new ids) of its own Observations, so that four
distinct records of the target size are timed. For each shipped mapping it prints the median
milliseconds of ``map_bundle`` (FHIRPath compiled once, as in a screening run) and of
``json.load`` of the file, and their ratio. ``--check`` exits 1 when a mapping takes 100 ms
or more for a bundle (the target in docs/fhir.md).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from koordrules import fhir  # noqa: E402

SYNTHEA = ROOT / "examples" / "fhir" / "synthea"
BUNDLES = {"r4-dirk-kuhlman.json": dt.date(2021, 3, 2), "r4-josue-sipes.json":
           dt.date(2021, 3, 13), "r4-bradly-douglas.json": dt.date(2020, 8, 9),
           "r4-deedra-lockman-teen.json": dt.date(2020, 10, 30)}
MAPPINGS = ["helse-vest/anbefaling-3-fhir", "helse-bergen/buk-nefrologi-fhir",
            "helse-forde/nevrologi-fhir", "helse-forde/medisinsk-sengepost-fhir",
            "helse-forde/pilot-2023-fhir"]
SIZE = 1_000
TARGET_MS = 100.0


def padded(path: Path, size: int = SIZE) -> dict[str, object]:
    """The bundle with exactly ``size`` entries (extra ones: copies of its Observations)."""
    data = json.loads(path.read_text("utf-8"))
    entries = data["entry"][:size]
    observations = [e for e in entries if e["resource"]["resourceType"] == "Observation"]
    i = 0
    while len(entries) < size:
        extra = copy.deepcopy(observations[i % len(observations)])
        extra["resource"]["id"] = f"bench-{i}"
        extra["fullUrl"] = f"urn:uuid:bench-{i}"
        entries.append(extra)
        i += 1
    data["entry"] = entries
    return data


def median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(repeat: int) -> list[tuple[str, str, float, float]]:
    rows = []
    mappings = [fhir.find_mapping(m) for m in MAPPINGS]
    with tempfile.TemporaryDirectory() as tmp:
        for name, as_of in BUNDLES.items():
            path = Path(tmp) / name
            path.write_text(json.dumps(padded(SYNTHEA / name)), "utf-8")
            load_ms = median_ms(lambda p=path: json.loads(p.read_text("utf-8")), repeat)
            data = json.loads(path.read_text("utf-8"))
            for mapping in mappings:
                fhir.map_bundle(mapping, data, as_of=as_of)  # FHIRPath compiled once

                def one(m=mapping, d=data, day=as_of) -> None:  # type: ignore[no-untyped-def]
                    fhir.map_bundle(m, d, as_of=day)

                rows.append((name, mapping.key, median_ms(one, repeat), load_ms))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    rows = run(args.repeat)
    print(f"| bundle ({SIZE} entries) | mapping | map_bundle ms | json.load ms | ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, key, map_ms, load_ms in rows:
        print(f"| {name} | {key} | {map_ms:.1f} | {load_ms:.1f} | {map_ms / load_ms:.2f} |")
    worst = max(r[2] for r in rows)
    print(f"\nslowest mapping of a {SIZE}-entry bundle: {worst:.1f} ms (target < {TARGET_MS:.0f})")
    if args.check and worst >= TARGET_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
