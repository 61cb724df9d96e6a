"""Synthetic scale-up of a FHIR Bulk Data export: distinct copies, not repeats.

:func:`replicate` writes ``copies`` copies of an export (one NDJSON file per resource type,
as the source has them). In each copy every resource gets a fresh ``id`` (a name-based UUID
of the copy number and the old id), every reference (``Patient/…``, ``urn:uuid:…``, a full
URL) names the new id, every ``identifier.value`` is made distinct, and every date and
date-time is moved by a number of days fixed per copy (between 1 and ``max_shift_days``,
from ``seed``), so that the copies are different patients with different histories, not
the same records again. Only for benchmarks and tests; the data stays synthetic.

    python -m koordrules.fhir.replicate SOURCE TARGET --copies 77
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from koordrules.fhir.cohort import export_files

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T.*)?$")
_NAMESPACE = uuid.UUID("6f1f5c2e-3a51-4c0e-9a55-6b6f6f72646b")


def new_id(copy: int, old: str) -> str:
    """The id of ``old`` in copy number ``copy`` (the same everywhere it is named)."""
    return str(uuid.uuid5(_NAMESPACE, f"{copy}:{old}"))


def _shift(text: str, days: int) -> str:
    m = _DATE.match(text)
    if not m:
        return text
    try:
        day = dt.date(int(m[1]), int(m[2]), int(m[3])) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return text
    return day.isoformat() + (m[4] or "")


def _reference(ref: str, copy: int) -> str:
    if ref.startswith("#"):
        return ref
    if ref.startswith("urn:uuid:"):
        return "urn:uuid:" + new_id(copy, ref.removeprefix("urn:uuid:"))
    head, sep, tail = ref.rpartition("/")
    if "/_history/" in ref:  # Type/id/_history/n: the id is before _history
        base, _, version = ref.partition("/_history/")
        return _reference(base, copy) + "/_history/" + version
    return head + sep + new_id(copy, tail) if sep else ref


def _copy(value: Any, copy: int, days: int, key: str = "") -> Any:
    if isinstance(value, dict):
        out = {k: _copy(v, copy, days, k) for k, v in value.items()}
        if isinstance(out.get("reference"), str):
            out["reference"] = _reference(value["reference"], copy)
        return out
    if isinstance(value, list):
        out_list = [_copy(v, copy, days, key) for v in value]
        if key == "identifier":
            for item in out_list:
                if isinstance(item, dict) and isinstance(item.get("value"), str):
                    item["value"] = f"{item['value']}-k{copy}"
        return out_list
    if isinstance(value, str) and key not in ("reference", "id", "system", "code", "url"):
        return _shift(value, days)
    return value


def copy_resource(resource: dict[str, Any], copy: int, days: int) -> dict[str, Any]:
    """``resource`` as it is in copy ``copy``: new ids and references, dates moved by
    ``days``."""
    out = _copy(resource, copy, days)
    if isinstance(resource.get("id"), str):
        out["id"] = new_id(copy, resource["id"])
    return dict(out)


def replicate(source: str | Path, target: str | Path, copies: int, *, seed: int = 14,
              max_shift_days: int = 365) -> int:
    """Write ``copies`` distinct copies of the export in ``source`` to ``target``; returns
    the number of resources written. Lines that are not JSON are left out."""
    rng = random.Random(seed)
    shifts = [1 + int(rng.random() * max_shift_days) for _ in range(copies)]
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in export_files(source):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
        resources = []
        for line in lines:
            try:
                resources.append(json.loads(line))
            except ValueError:
                continue
        with (out / path.name).open("w", encoding="utf-8") as f:
            for copy in range(copies):
                for resource in resources:
                    f.write(json.dumps(copy_resource(resource, copy, shifts[copy]),
                                       ensure_ascii=False, separators=(",", ":")) + "\n")
                    written += 1
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m koordrules.fhir.replicate",
                                 description="distinct synthetic copies of a Bulk Data export")
    ap.add_argument("source")
    ap.add_argument("target")
    ap.add_argument("--copies", type=int, required=True)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args(argv)
    n = replicate(args.source, args.target, args.copies, seed=args.seed)
    print(f"{n} resources in {args.copies} copies written to {args.target}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
