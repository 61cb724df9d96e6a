"""The shipped criteria sets: they load, quote their source, and the Førde pilot's two versions
relate as the report says (2.0.0 is the sharpened, narrower one)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koordrules import Catalog, CatalogError, CriteriaSet, evaluate
from koordrules.catalog import criteria_files
from koordrules.records import read_records

ROOT = Path(__file__).resolve().parent.parent
CRITERIA = ROOT / "criteria"
EXAMPLES = ROOT / "examples"
PILOT_1, PILOT_2 = "helse-forde/pilot-2023@1.0.0", "helse-forde/pilot-2023@2.0.0"
PILOT_21 = "helse-forde/pilot-2023@2.1.0"
SCHEMA_LINE = "# yaml-language-server: $schema=../../koordrules/schemas/criteria-set.schema.json"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.builtin()


@pytest.fixture(scope="module")
def cohort() -> list[dict[str, Any]]:
    lines = (EXAMPLES / "cohort.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def outcome(cs: CriteriaSet, record: dict[str, Any]) -> str | None:
    names = {i.name for i in cs.inputs}
    return evaluate(cs, {k: v for k, v in record.items() if k in names}, trace=False).outcome


def flagged(cs: CriteriaSet, record: dict[str, Any]) -> bool:
    """Identified by the set: an outcome rule fired (not ``otherwise``, not undetermined)."""
    return outcome(cs, record) in {r.id for r in cs.rules}


# --- every shipped set ------------------------------------------------------------------------


def test_every_shipped_set_loads_without_errors_or_warnings(catalog: Catalog) -> None:
    assert catalog.diagnostics == []
    assert {cs.key for cs in catalog} >= {
        "helse-vest/anbefaling-3@1.0.0", "helse-vest/anbefaling-2-ruting@1.0.0",
        PILOT_1, PILOT_2, PILOT_21, "helse-forde/nevrologi@1.1.0",
        "helse-forde/medisinsk-sengepost@1.1.0", "helse-bergen/buk-nefrologi@1.0.0",
        "helse-bergen/spinalenheten@1.0.0"}


@pytest.mark.parametrize("path", criteria_files(CRITERIA), ids=lambda p: p.name)
def test_every_file_starts_with_the_schema_line_and_quotes_its_source(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == SCHEMA_LINE
    assert "\nsource:\n" in text and "\n  quote: |\n" in text


def test_variants_resolve_to_the_newest_matching_base_and_keep_provenance(
        catalog: Catalog) -> None:
    nevrologi = catalog.get("helse-forde/nevrologi@1.1.0")
    assert nevrologi.extends == PILOT_21
    origins = {c.name: c.origin for c in nevrologi.criteria}
    assert origins["diagnosis_coordinator_group"] == "helse-forde/nevrologi@1.1.0"
    assert origins["enough_factors"] == PILOT_1     # 2.0.0 only changes parameters
    params = {p.name: p.origin for p in nevrologi.parameters}
    assert params["min_factors"] == PILOT_21
    assert [r.id for r in nevrologi.rules] == [
        "diagnosis_coordinator", "already_has_coordinator", "coordinator_likely"]
    for ref in ("helse-bergen/buk-nefrologi", "helse-bergen/spinalenheten",
                "helse-vest/anbefaling-2-ruting"):
        assert catalog.get(ref).extends == "helse-vest/anbefaling-3@1.0.2"
        # a published older version keeps the base it was locked with
        assert catalog.get(f"{ref}@1.1.0").extends == "helse-vest/anbefaling-3@1.0.1"
        assert catalog.get(f"{ref}@1.0.0").extends == "helse-vest/anbefaling-3@1.0.0"
    assert [r.id for r in catalog.get("helse-vest/anbefaling-2-ruting").rules] == [
        "already_has_coordinator", "refer_to_ke", "coordinator_likely"]


def test_no_pilot_version_is_current_after_the_retired_local_example(catalog: Catalog) -> None:
    # the report (4.5): the pilot criteria led to Anbefaling 3
    with pytest.raises(CatalogError):
        catalog.get("helse-forde/pilot-2023")
    assert catalog.get(PILOT_1).status == catalog.get(PILOT_21).status == "retired"


# --- the Førde pilot: local parameters, narrowing by construction ------------------------------


def test_every_pilot_threshold_is_a_local_choice_not_from_the_report(catalog: Catalog) -> None:
    for key in (PILOT_1, PILOT_2, PILOT_21, "helse-forde/medisinsk-sengepost@1.1.0"):
        cs = catalog.get(key)
        assert cs.parameters and not any(p.from_source for p in cs.parameters), key
    for key in (PILOT_1, PILOT_2):
        notes = catalog.get(key).notes or ""
        assert all(figure in notes for figure in ("314", "31 %", "71", "32 %", "243")), key
    text = (CRITERIA / "helse-forde" / "pilot-2023-1.0.0.yaml").read_text(encoding="utf-8")
    assert "LOKALE VALG" in text and "INGEN terskler" in text


def test_pilot_two_only_raises_thresholds(catalog: Catalog) -> None:
    old, new = catalog.get(PILOT_1), catalog.get(PILOT_2)
    # same factors, same rules: only the parameters differ ...
    assert [(c.name, c.source) for c in old.criteria] == [(c.name, c.source) for c in new.criteria]
    assert [(r.id, r.source) for r in old.outcomes] == [(r.id, r.source) for r in new.outcomes]
    # ... and every one is a lower bound (`input >= parameter`, `at_least(parameter, …)`)
    for c in old.criteria:
        assert ">=" in c.source or "at_least" in c.source or "min_" not in c.source
    before = {p.name: p.value for p in old.parameters}
    after = {p.name: p.value for p in new.parameters}
    assert before.keys() == after.keys()
    assert all(after[n] >= before[n] for n in before)      # type: ignore[operator]
    assert after != before


def test_pilot_two_flags_a_subset_of_pilot_one_on_the_example_cohort(
        catalog: Catalog, cohort: list[dict[str, Any]]) -> None:
    old, new = catalog.get(PILOT_1), catalog.get(PILOT_2)
    flagged_old = [flagged(old, r) for r in cohort]
    flagged_new = [flagged(new, r) for r in cohort]
    assert all(o for o, n in zip(flagged_old, flagged_new, strict=True) if n)
    share_old, share_new = sum(flagged_old) / len(cohort), sum(flagged_new) / len(cohort)
    assert share_old - share_new > 0.2, (share_old, share_new)   # clearly fewer under 2.0.0


def _pilot_values() -> dict[str, st.SearchStrategy[Any]]:
    """Values around both versions' thresholds, and unknown (None) now and then."""

    def around(*cuts: int, hi: int) -> st.SearchStrategy[Any]:
        near = sorted({max(0, c + d) for c in cuts for d in (-1, 0, 1)})
        return st.one_of(st.none(), st.sampled_from(near), st.integers(0, hi))

    return {
        "attendances_12m": around(4, 6, hi=60),
        "units_6m": around(2, 3, hi=12),
        "admissions_12m": around(2, 3, hi=15),
        "age": around(70, 80, 85, hi=110),
        "living_situation": st.sampled_from([None, "alone", "with_others", "institution"]),
        "municipal_services": around(1, 2, hi=8),
        "lacks_resource_persons": st.sampled_from([None, True, False]),
        "has_coordinator": st.sampled_from([None, True, False]),
    }


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries(_pilot_values()))
def test_every_record_pilot_two_flags_pilot_one_flags_too(record: dict[str, Any]) -> None:
    catalog = Catalog.builtin()
    old, new = catalog.get(PILOT_1), catalog.get(PILOT_2)
    record = {k: v for k, v in record.items() if v is not None}
    after = outcome(new, record)
    if after in {r.id for r in new.rules}:
        assert outcome(old, record) == after


# --- the example cohort -----------------------------------------------------------------------


def test_the_committed_cohort_is_what_the_seeded_script_writes(tmp_path: Path) -> None:
    argv = sys.argv
    sys.argv = ["generate_cohort.py", "--out", str(tmp_path)]
    try:
        runpy.run_path(str(EXAMPLES / "generate_cohort.py"), run_name="__main__")
    finally:
        sys.argv = argv
    for name in ("cohort.jsonl", "cohort.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


def test_the_cohort_covers_every_shipped_set(catalog: Catalog,
                                            cohort: list[dict[str, Any]]) -> None:
    fields = set(cohort[0])
    assert {"patient", "unit"} <= fields and len(cohort) >= 2000
    assert len({r["unit"] for r in cohort}) >= 4
    for cs in catalog:
        assert {i.name for i in cs.inputs} <= fields, cs.key
        outcomes = {outcome(cs, r) for r in cohort[:1500]}   # strict: every record is valid
        assert {o.id for o in cs.outcomes} | {None} == outcomes, cs.key
    unknown = sum(v is None for r in cohort for v in r.values())
    assert unknown > len(cohort) // 10           # some values are unknown, as in real data


def test_csv_and_json_lines_give_the_same_outcomes(catalog: Catalog) -> None:
    cs = catalog.get(PILOT_2)
    ignore = frozenset({"patient", "unit"}) | (
        set(json.loads((EXAMPLES / "cohort.jsonl").open().readline()))
        - {i.name for i in cs.inputs})

    def outcomes(name: str) -> list[str | None]:
        out = []
        for _, rec in read_records(EXAMPLES / name, cs):
            assert isinstance(rec, dict)
            out.append(evaluate(cs, rec, trace=False, ignore=frozenset(ignore)).outcome)
        return out

    assert outcomes("cohort.csv") == outcomes("cohort.jsonl")
