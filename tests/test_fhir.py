"""FHIR R4 input: mapping files, every derivation, broken bundles, and the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fhir.resources")

from koordrules import Catalog, CriteriaError, InputError, LoadError, evaluate, fhir, load_text
from koordrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "fhir"
AS_OF = dt.date(2024, 11, 15)
ICD = "http://hl7.org/fhir/sid/icd-10"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# ---------------------------------------------------------------- a test set and mapping

TEST_SET = load_text(textwrap.dedent("""\
    id: test/fhir
    version: 1.0.0
    title: FHIR test set
    status: draft
    effective_from: 2024-01-01
    source: {document: Test}
    inputs:
      age: {type: integer, kind: data}
      teen: {type: boolean, kind: data}
      admissions: {type: integer, kind: data}
      attendances: {type: integer, kind: data}
      readmissions: {type: integer, kind: data}
      units: {type: integer, kind: data}
      referrals: {type: integer, kind: data}
      ms: {type: boolean, kind: data}
      new_chronic: {type: boolean, kind: data}
      ckd: {type: integer, kind: data}
      group: {type: enum, kind: data, values: [als, parkinson, ms, epilepsy, tumor_cerebri, none]}
      coordinator: {type: boolean, kind: data}
      followup: {type: number, kind: data}
      judged: {type: boolean, kind: judgement}
    criteria:
      A:
        title: Everything
        when: |
          age > 0 and teen and admissions > 0 and attendances > 0 and readmissions > 0
          and units > 0 and referrals > 0 and ms and new_chronic and ckd > 0
          and group == "als" and coordinator and followup > 0 and judged
    outcomes:
      - {id: hit, title: Hit, when: A}
      - {id: miss, title: Miss, otherwise: true}
    """), file="test-fhir.yaml")

MAPPING_TEXT = textwrap.dedent("""\
    id: test/fhir-mapping
    version: 1.0.0
    title: Test mapping
    status: active
    effective_from: 2024-01-01
    source: {document: Test}
    criteria: {id: test/fhir, versions: ">=1.0.0, <2.0.0"}
    codes:
      ms: {codes: [G35]}
      chronic: {codes: [G35, G12.2, N18.4, N18.5]}
    inputs:
      age: {from: age_years}
      teen: {from: age_in_range, min: 16, max: 18}
      admissions: {from: count_encounters, class: [IMP], window: 6 months}
      attendances: {from: count_encounters, class: [AMB], status: [finished], window: 6 months}
      readmissions: {from: count_readmissions, window: 6 months}
      units: {from: distinct_units, window: 6 months}
      referrals: {from: count_open_referrals}
      ms: {from: has_condition, codes: ms}
      new_chronic: {from: has_condition, codes: chronic, recorded_within: 12 months}
      ckd: {from: ckd_stage}
      group:
        from: diagnosis_group
        otherwise: none
        groups:
          als: {codes: [G12.2]}
          parkinson: {codes: [G20]}
          ms: ms
          epilepsy: {codes: [G40]}
          tumor_cerebri: {codes: [C71]}
      coordinator:
        from: care_team_role
        roles: {text: [koordinator], exclude_text: [kommunal], codes: [KO]}
      followup: {from: episode_remaining_months}
    unmapped:
      judged: A clinical judgement.
    """)
MAPPING = fhir.load_mapping_text(MAPPING_TEXT, file="test.mapping.yaml")


def patient(birth: str | None = "1960-05-20", pid: str = "p") -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if birth is not None:
        r["birthDate"] = birth
    return r


def enc(start: str | None, end: str | None = None, *, cls: str = "IMP",
        status: str = "finished", org: str | None = "org1", loc: str | None = None,
        stype: str | None = None, subject: str = "Patient/p") -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Encounter", "status": status,
                         "class": {"system": ACT, "code": cls},
                         "subject": {"reference": subject}}
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        r["period"] = period
    if org:
        r["serviceProvider"] = {"reference": f"Organization/{org}"}
    if loc:
        r["location"] = [{"location": {"reference": f"Location/{loc}"}}]
    if stype:
        r["serviceType"] = {"coding": [{"system": "urn:x", "code": stype}]}
    return r


def cond(code: str, onset: str | None = "2020-01-01", *, system: str = ICD,
         clinical: str | None = "active", verification: str | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Condition", "subject": {"reference": "Patient/p"},
                         "code": {"coding": [{"system": system, "code": code}]}}
    if clinical:
        r["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        r["verificationStatus"] = {"coding": [{"code": verification}]}
    if onset:
        r["onsetDateTime"] = onset
    return r


def team(*roles: str, status: str = "active", code: str | None = None,
         period: dict[str, str] | None = None) -> dict[str, Any]:
    participants: list[dict[str, Any]] = [{"role": [{"text": r}]} for r in roles]
    if code:
        participants.append({"role": [{"coding": [{"system": "urn:roles", "code": code}]}]})
    if period:
        for p in participants:
            p["period"] = period
    return {"resourceType": "CareTeam", "status": status, "participant": participants}


def referral(status: str = "active", authored: str = "2024-10-01") -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "status": status, "intent": "order",
            "subject": {"reference": "Patient/p"}, "authoredOn": authored}


def episode(start: str, end: str | None = None, status: str = "active") -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {"resourceType": "EpisodeOfCare", "status": status,
            "patient": {"reference": "Patient/p"}, "period": period}


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in resources]}


def derive(*resources: dict[str, Any], as_of: dt.date = AS_OF) -> dict[str, Any]:
    return fhir.map_bundle(MAPPING, bundle(*resources), as_of=as_of).record


def mapped(*resources: dict[str, Any], as_of: dt.date = AS_OF) -> fhir.FhirRecord:
    return fhir.map_bundle(MAPPING, bundle(*resources), as_of=as_of)


# ---------------------------------------------------------------- mapping files


def test_the_test_mapping_fits_the_test_set() -> None:
    assert fhir.check_mapping(MAPPING, TEST_SET) == []


def test_every_shipped_mapping_loads_and_fits_its_sets() -> None:
    catalog = Catalog.builtin()
    files = fhir.mapping_files(ROOT / "criteria")
    assert files, "no shipped mapping"
    for path in files:
        mapping = fhir.load_mapping(path)
        sets = [cs for cs in catalog if cs.id == mapping.target.id
                and fhir.version_fits(cs.version, mapping.target.versions)]
        assert sets, f"{path}: no set fits"
        for cs in sets:
            assert [d for d in fhir.check_mapping(mapping, cs) if d.severity == "error"] == []


def test_a_mapping_is_found_by_id_by_version_and_by_path() -> None:
    by_id = fhir.find_mapping("helse-vest/anbefaling-3-fhir")
    assert by_id.key == "helse-vest/anbefaling-3-fhir@1.0.0"
    assert fhir.find_mapping("helse-vest/anbefaling-3-fhir@1.0.0").key == by_id.key
    path = ROOT / "criteria" / "helse-vest" / "anbefaling-3.mapping.yaml"
    assert fhir.find_mapping(str(path)).key == by_id.key


@pytest.mark.parametrize("ref, code", [("nobody/none", "not_found"),
                                       ("helse-vest/anbefaling-3-fhir@9.9.9",
                                        "version_not_found")])
def test_an_unknown_mapping_is_a_catalog_error(ref: str, code: str) -> None:
    with pytest.raises(fhir.CatalogError) as info:
        fhir.find_mapping(ref)
    assert info.value.code == code


def _load_error(text: str) -> CriteriaError:
    with pytest.raises(CriteriaError) as info:
        fhir.load_mapping_text(text, file="bad.mapping.yaml")
    return info.value


def test_an_unknown_derivation_is_reported_with_its_position() -> None:
    err = _load_error(MAPPING_TEXT.replace("from: ckd_stage", "from: ckd_stages"))
    line = MAPPING_TEXT.splitlines().index("  ckd: {from: ckd_stage}") + 1
    assert str(err).startswith(f"bad.mapping.yaml:{line}:")
    assert "ckd_stages" in str(err) and "'from'" in str(err)


def test_an_unknown_field_and_a_bad_window_are_reported() -> None:
    err = _load_error(MAPPING_TEXT.replace("window: 6 months}", "window: six months, x: 1}"))
    text = str(err)
    assert "bad.mapping.yaml:" in text and "unknown field" in text
    assert "window" in text


def test_an_unknown_code_list_is_reported_at_its_use() -> None:
    err = _load_error(MAPPING_TEXT.replace("codes: ms}", "codes: mss}"))
    line = next(i for i, t in enumerate(MAPPING_TEXT.splitlines(), 1) if "codes: ms}" in t)
    assert err.diagnostics[0].code == "unknown_code_list"
    assert err.diagnostics[0].span is not None and err.diagnostics[0].span.line == line


def test_a_broken_yaml_mapping_is_a_load_error_with_position() -> None:
    with pytest.raises(LoadError) as info:
        fhir.load_mapping_text("id: [x\n", file="bad.mapping.yaml")
    assert str(info.value).startswith("bad.mapping.yaml:")


def _diag_codes(text: str, cs: Any = TEST_SET) -> list[str]:
    mapping = fhir.load_mapping_text(text, file="m.mapping.yaml")
    return [d.code for d in fhir.check_mapping(mapping, cs)]


def test_mapping_against_a_set_reports_unknown_and_unmapped_inputs() -> None:
    text = MAPPING_TEXT.replace("  age: {from: age_years}\n", "  agee: {from: age_years}\n")
    codes = _diag_codes(text)
    assert "unknown_input" in codes and "not_mapped" in codes


def test_mapping_against_a_set_reports_type_mismatches() -> None:
    assert "type_mismatch" in _diag_codes(MAPPING_TEXT.replace(
        "  ms: {from: has_condition, codes: ms}", "  ms: {from: age_years}"))
    assert "type_mismatch" in _diag_codes(MAPPING_TEXT.replace("otherwise: none",
                                                               "otherwise: nothing"))
    assert "type_mismatch" in _diag_codes(MAPPING_TEXT.replace(
        "  referrals: {from: count_open_referrals}",
        "  referrals: {from: count_open_referrals, absent: yes please}"))


def test_mapping_for_another_set_or_version_does_not_fit() -> None:
    assert "mapping_mismatch" in _diag_codes(MAPPING_TEXT.replace("id: test/fhir,", "id: x/y,"))
    assert "mapping_mismatch" in _diag_codes(MAPPING_TEXT.replace(">=1.0.0, <2.0.0", ">=2.0.0"))
    with pytest.raises(CriteriaError):
        fhir.map_bundle(fhir.load_mapping_text(MAPPING_TEXT.replace(">=1.0.0, <2.0.0",
                                                                    ">=2.0.0")),
                        bundle(patient()), as_of=AS_OF, cs=TEST_SET)


def test_deriving_a_judgement_is_a_warning() -> None:
    text = MAPPING_TEXT.replace("unmapped:\n  judged: A clinical judgement.\n",
                                "  judged: {from: has_condition, codes: ms}\n")
    mapping = fhir.load_mapping_text(text)
    diags = fhir.check_mapping(mapping, TEST_SET)
    assert [(d.code, d.severity) for d in diags] == [("judgement_mapped", "warning")]


def test_version_ranges() -> None:
    assert fhir.version_fits("1.2.3", ">=1.0.0, <2.0.0")
    assert not fhir.version_fits("2.0.0", ">=1.0.0, <2.0.0")
    assert fhir.version_fits("1.0.0", "1.0.0") and fhir.version_fits("9.0.0", None)


# ---------------------------------------------------------------- age


@pytest.mark.parametrize("birth, age", [("1960-11-15", 64), ("1960-11-16", 63),
                                        ("1960-05-20", 64), ("2024-11-15", 0)])
def test_age_is_completed_years_on_the_as_of_date(birth: str, age: int) -> None:
    assert derive(patient(birth))["age"] == age


def test_a_partial_birth_date_gives_an_age_only_when_it_is_certain() -> None:
    assert derive(patient("1960"), as_of=dt.date(2024, 12, 31))["age"] == 64
    assert derive(patient("1960"))["age"] is None
    assert derive(patient("1960-03"))["age"] == 64


def test_age_is_unknown_without_patient_or_birth_date_or_when_born_later() -> None:
    record = mapped(enc("2024-10-01"))
    assert record.record["age"] is None
    assert "fhir_no_patient" in [p.code for p in record.problems]
    assert derive(patient(None))["age"] is None
    assert derive(patient("2025-01-01"))["age"] is None


@pytest.mark.parametrize("birth, teen", [("2008-11-15", True), ("2008-11-16", False),
                                         ("2005-11-16", True), ("2005-11-15", False)])
def test_age_in_range_is_inclusive(birth: str, teen: bool) -> None:
    assert derive(patient(birth))["teen"] is teen


# ---------------------------------------------------------------- encounters


def test_admissions_count_inpatient_encounters_in_the_window() -> None:
    record = derive(patient(),
                    enc("2024-05-15"),                       # window starts after this day
                    enc("2024-05-16"),                       # first day in the window
                    enc("2024-11-15"),                       # the as-of day
                    enc("2024-11-16"),                       # after the as-of date
                    enc("2024-10-01", status="cancelled"),
                    enc("2024-10-02", status="planned"),
                    enc("2024-10-03", cls="AMB"))
    assert record["admissions"] == 2
    assert record["attendances"] == 1


def test_attendances_count_only_the_listed_statuses() -> None:
    record = derive(patient(), enc("2024-10-03", cls="AMB"),
                    enc("2024-10-04", cls="AMB", status="in-progress"))
    assert record["attendances"] == 1


def test_an_encounter_without_a_date_makes_windowed_counts_unknown() -> None:
    record = derive(patient(), enc(None), enc("2024-10-01"))
    assert record["admissions"] is None
    assert record["units"] is None or record["units"] == 1


def test_a_partial_date_decides_when_it_fits_the_window() -> None:
    assert derive(patient(), enc("2024-09"))["admissions"] == 1
    assert derive(patient(), enc("2024-05"))["admissions"] is None
    assert derive(patient(), enc("2023"))["admissions"] == 0


def test_readmission_is_an_admission_within_30_days_of_a_discharge() -> None:
    record = derive(patient(),
                    enc("2024-04-20", "2024-05-01"),   # before the window, discharge counts
                    enc("2024-05-31", "2024-06-02"),   # 30 days after: readmission
                    enc("2024-07-03", "2024-07-04"),   # 31 days after 06-02: not
                    enc("2024-08-01T08:00:00+02:00", "2024-08-02"),  # 28 days: readmission
                    enc("2024-08-10", cls="AMB"))
    assert record["readmissions"] == 2
    assert record["admissions"] == 3


def test_a_stay_without_a_discharge_is_not_a_previous_discharge() -> None:
    assert derive(patient(), enc("2024-08-01"), enc("2024-08-10", "2024-08-12")
                  )["readmissions"] == 0


def test_distinct_units_use_service_provider_then_location_then_service_type() -> None:
    record = derive(patient(),
                    enc("2024-06-01", "2024-06-02", org="a"),
                    enc("2024-07-01", "2024-07-02", org="a"),            # same unit
                    enc("2024-08-01", cls="AMB", org=None, loc="pol"),
                    enc("2024-09-01", cls="AMB", org=None, stype="physio"),
                    enc("2024-01-01", "2024-01-05", org="old"),          # before the window
                    enc("2024-03-01", org="ongoing"))                    # still admitted
    assert record["units"] == 4


def test_an_encounter_naming_no_unit_is_not_counted_and_is_reported() -> None:
    record = mapped(patient(), enc("2024-08-01", org=None), enc("2024-08-02", org="a"))
    assert record.record["units"] == 1
    assert "fhir_no_unit" in [p.code for p in record.problems]


def test_no_encounters_at_all_leaves_counts_unknown_unless_absent_is_given() -> None:
    assert derive(patient())["admissions"] is None
    text = MAPPING_TEXT.replace("class: [IMP], window: 6 months}",
                                "class: [IMP], window: 6 months, absent: 0}")
    mapping = fhir.load_mapping_text(text)
    assert fhir.map_bundle(mapping, bundle(patient()), as_of=AS_OF).record["admissions"] == 0


# ---------------------------------------------------------------- referrals, conditions


def test_open_referrals_are_active_service_requests_authored_by_the_as_of_date() -> None:
    assert derive(patient(), referral(), referral(), referral("completed"),
                  referral("revoked"), referral(authored="2024-12-01"))["referrals"] == 2


def test_conditions_match_icd10_by_prefix_ignoring_dots_and_the_norwegian_system() -> None:
    assert derive(patient(), cond("G35.9"))["ms"] is True
    assert derive(patient(), cond("G359", system="urn:oid:2.16.578.1.12.4.1.1.7110"))["ms"]
    assert derive(patient(), cond("G35", system="http://snomed.info/sct"))["ms"] is False
    assert derive(patient(), cond("G20"))["ms"] is False


def test_resolved_refuted_and_future_conditions_do_not_count() -> None:
    assert derive(patient(), cond("G35", clinical="resolved"))["ms"] is False
    assert derive(patient(), cond("G35", verification="refuted"))["ms"] is False
    assert derive(patient(), cond("G35", onset="2025-01-01"))["ms"] is False
    assert derive(patient(), cond("G35", clinical=None))["ms"] is True


def test_no_conditions_leaves_condition_facts_unknown() -> None:
    record = derive(patient())
    assert record["ms"] is None and record["ckd"] is None and record["group"] is None


def test_newly_diagnosed_needs_an_onset_within_the_window() -> None:
    assert derive(patient(), cond("G35", "2024-01-10"))["new_chronic"] is True
    assert derive(patient(), cond("G35", "2023-11-15"))["new_chronic"] is False
    assert derive(patient(), cond("G35", None))["new_chronic"] is None
    assert derive(patient(), cond("I10", None))["new_chronic"] is False


@pytest.mark.parametrize("codes, stage", [(["N18.4"], 4), (["N18.5"], 5),
                                          (["N18.4", "N18.5"], 5), (["N185"], 5),
                                          (["I10"], None)])
def test_ckd_stage_is_the_highest_stage_code(codes: list[str], stage: int | None) -> None:
    assert derive(patient(), *[cond(c) for c in codes])["ckd"] == stage


@pytest.mark.parametrize("codes, group", [
    (["G12.2"], "als"), (["G20"], "parkinson"), (["G35"], "ms"), (["G40.3"], "epilepsy"),
    (["C71.9"], "tumor_cerebri"), (["G35", "G12.2"], "als"), (["I10"], "none")])
def test_diagnosis_group_from_icd10(codes: list[str], group: str) -> None:
    assert derive(patient(), *[cond(c) for c in codes])["group"] == group


# ---------------------------------------------------------------- care team, episodes


def test_coordinator_from_care_team_role_text_or_code() -> None:
    assert derive(patient(), team("Kontaktlege", "Diagnosekoordinator"))["coordinator"] is True
    assert derive(patient(), team("Kontaktlege", code="KO"))["coordinator"] is True
    assert derive(patient(), team("Kontaktlege"))["coordinator"] is False


def test_a_municipal_inactive_or_ended_coordinator_does_not_count() -> None:
    assert derive(patient(), team("Kommunal koordinator"))["coordinator"] is False
    assert derive(patient(), team("Koordinator", status="inactive"))["coordinator"] is False
    ended = team("Koordinator", period={"start": "2023-01-01", "end": "2024-01-01"})
    assert derive(patient(), ended)["coordinator"] is False
    assert derive(patient())["coordinator"] is None


def test_follow_up_months_to_the_planned_end_of_the_active_episode() -> None:
    assert derive(patient(), episode("2024-01-01", "2025-11-15"))["followup"] == 12.0
    assert derive(patient(), episode("2024-01-01", "2024-12-15"),
                  episode("2024-01-01", "2025-05-15"))["followup"] == 6.0
    assert derive(patient(), episode("2024-01-01"))["followup"] is None
    assert derive(patient(), episode("2020-01-01", "2021-01-01"))["followup"] is None
    assert derive(patient(), episode("2024-01-01", "2025-01-01", status="finished")
                  )["followup"] is None


def test_unmapped_inputs_stay_unknown_and_say_why() -> None:
    record = mapped(patient())
    assert "judged" not in record.record
    assert "judged" in record.unknown
    assert any("judged is not in the record: A clinical judgement." in n
               for n in record.notes())
    result = evaluate(TEST_SET, record.record)
    assert result.criteria["A"] is None or result.criteria["A"] is False


# ---------------------------------------------------------------- broken bundles


def test_a_malformed_resource_is_reported_and_its_facts_left_unknown() -> None:
    bad = enc("2024-10-01")
    del bad["status"]
    record = mapped(patient(), cond("G35"), bad, enc("2024-09-01"))
    assert record.record["admissions"] is None and record.record["units"] is None
    assert record.record["ms"] is True and record.record["age"] == 64
    problem = record.problems[0]
    assert isinstance(problem, InputError)
    assert problem.code == "fhir_invalid_resource"
    assert problem.message.startswith("entry[2].resource (Encounter): status:")
    assert any("admissions is unknown" in n for n in record.notes())


def test_problem_messages_never_contain_the_offending_value() -> None:
    record = mapped(patient("secret-1234-value"))
    text = " ".join(str(p) for p in record.problems)
    assert "entry[0].resource (Patient): birthDate" in text
    assert "secret-1234" not in text
    assert record.record["age"] is None


def test_entries_without_resource_or_type_are_reported_and_skipped() -> None:
    data = bundle(patient())
    data["entry"] += [{"fullUrl": "urn:x"}, {"resource": {"id": "no-type"}}, "junk",
                      {"resource": {"resourceType": "Observation", "status": "x"}}]
    record = fhir.map_bundle(MAPPING, data, as_of=AS_OF)
    codes = [p.code for p in record.problems]
    assert codes == ["fhir_missing_resource", "fhir_invalid_resource",
                     "fhir_missing_resource"]
    assert [p.message.split(":")[0] for p in record.problems] == [
        "entry[1]", "entry[2].resource", "entry[3]"]
    assert record.record["age"] == 64


@pytest.mark.parametrize("data", [{"resourceType": "Patient"}, [], "x", None,
                                  {"resourceType": "Bundle", "entry": {}}])
def test_something_that_is_not_a_bundle_is_a_load_error(data: Any) -> None:
    with pytest.raises(LoadError) as info:
        fhir.map_bundle(MAPPING, data, as_of=AS_OF)
    assert info.value.code in ("fhir_not_bundle", "fhir_invalid_bundle")


def test_a_bundle_with_two_patients_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        fhir.map_bundle(MAPPING, bundle(patient(), patient(pid="q")), as_of=AS_OF)
    assert info.value.code == "fhir_several_patients"


def test_resources_of_another_patient_are_ignored() -> None:
    record = mapped(patient(), enc("2024-10-01", subject="Patient/other"), enc("2024-10-02"))
    assert record.record["admissions"] == 1
    assert "fhir_other_patient" in [p.code for p in record.problems]


def test_invalid_json_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(LoadError) as info:
        fhir.read_bundle_file(path)
    assert info.value.code == "json_error" and str(info.value).startswith(str(path))


# ---------------------------------------------------------------- the shipped examples


NAMES = ["ola", "kari", "per", "broken"]
A3_MAPPING = "helse-vest/anbefaling-3-fhir"


@pytest.mark.parametrize("name", NAMES)
def test_example_bundle_maps_to_its_hand_written_record(name: str) -> None:
    mapping = fhir.find_mapping(A3_MAPPING)
    record = fhir.map_bundle(mapping, fhir.read_bundle_file(EXAMPLES / f"{name}.bundle.json"),
                             as_of=AS_OF)
    want = json.loads((EXAMPLES / f"{name}.record.json").read_text(encoding="utf-8"))
    got = {k: v for k, v in record.record.items() if v is not None}
    assert got == want


def test_the_example_bundles_are_valid_r4_bundles() -> None:
    from fhir.resources.R4B.bundle import Bundle

    for name in NAMES[:3]:
        Bundle.model_validate_json((EXAMPLES / f"{name}.bundle.json").read_text("utf-8"))


def test_the_broken_example_reports_each_problem_with_its_place() -> None:
    bundle_ = fhir.read_bundle_file(EXAMPLES / "broken.bundle.json")
    places = [p.message.split(" ")[0].rstrip(":") for p in bundle_.problems]
    assert places == ["entry[1].resource", "entry[2].resource", "entry[3]",
                      "entry[4].resource"]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


SAME = ("outcome", "possible_outcomes", "missing", "criteria")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mapping_ref", [
    A3_MAPPING, str(ROOT / "criteria/helse-vest/anbefaling-3.mapping.yaml")])
def test_eval_from_fhir_equals_eval_of_the_hand_written_record(name: str,
                                                               mapping_ref: str) -> None:
    a3 = "helse-vest/anbefaling-3"
    code1, out1, err1 = _run("eval", a3, str(EXAMPLES / f"{name}.bundle.json"),
                             "--from-fhir", mapping_ref, "--as-of", AS_OF.isoformat())
    code2, out2, _ = _run("eval", a3, str(EXAMPLES / f"{name}.record.json"))
    assert code1 == code2 == 0, err1
    got, want = json.loads(out1), json.loads(out2)
    assert {k: got[k] for k in SAME} == {k: want[k] for k in SAME}


def test_the_example_outcomes_are_the_documented_ones() -> None:
    outcomes = {}
    for name in NAMES:
        _, out, _ = _run("eval", "helse-vest/anbefaling-3", str(EXAMPLES / f"{name}.bundle.json"),
                         "--from-fhir", A3_MAPPING, "--as-of", "2024-11-15")
        outcomes[name] = json.loads(out)
    assert outcomes["ola"]["outcome"] == "coordinator_likely"
    assert outcomes["kari"]["outcome"] == "already_has_coordinator"
    assert outcomes["per"]["outcome"] is None
    assert "situation_indicates_need" in outcomes["per"]["missing"]
    assert "has_coordinator" in outcomes["per"]["missing"]
    assert outcomes["broken"]["outcome"] == "already_has_coordinator"
    assert any("entry[1].resource (Encounter)" in w for w in outcomes["broken"]["warnings"])


def test_explain_from_fhir_says_what_is_missing() -> None:
    code, out, _ = _run("explain", "helse-vest/anbefaling-3", str(EXAMPLES / "per.bundle.json"),
                        "--from-fhir", A3_MAPPING, "--as-of", "2024-11-15", "--lang", "en")
    assert code == 0
    assert "situation_indicates_need" in out and "expected_followup_months" in out
    assert "EpisodeOfCare" in out


def test_from_fhir_reads_json_lines_and_arrays(tmp_path: Path) -> None:
    ola = json.loads((EXAMPLES / "ola.bundle.json").read_text("utf-8"))
    per = json.loads((EXAMPLES / "per.bundle.json").read_text("utf-8"))
    lines = tmp_path / "b.jsonl"
    lines.write_text(json.dumps(ola) + "\n\n" + json.dumps(per) + "\n{bad\n", encoding="utf-8")
    code, out, _ = _run("eval", "helse-vest/anbefaling-3", str(lines), "--from-fhir",
                          A3_MAPPING, "--as-of", "2024-11-15")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r.get("outcome") for r in rows[:2]] == ["coordinator_likely", None]
    assert rows[2]["error"]["code"] == "json_error" and code == 1
    array = tmp_path / "b.json"
    array.write_text(json.dumps([ola, per]), encoding="utf-8")
    _, out, _ = _run("eval", "helse-vest/anbefaling-3", str(array), "--from-fhir", A3_MAPPING,
                     "--as-of", "2024-11-15")
    assert len(out.splitlines()) == 2


def test_from_fhir_with_a_mapping_for_another_set_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "m.mapping.yaml"
    path.write_text(MAPPING_TEXT, encoding="utf-8")
    code, out, err = _run("eval", "helse-vest/anbefaling-3", str(EXAMPLES / "ola.bundle.json"),
                          "--from-fhir", str(path))
    assert code == 1 and "mapping_mismatch" in err and out == ""


def test_from_fhir_with_a_bad_date_or_unknown_mapping_is_usage_or_problem() -> None:
    code, _, _ = _run("eval", "helse-vest/anbefaling-3", str(EXAMPLES / "ola.bundle.json"),
                      "--from-fhir", A3_MAPPING, "--as-of", "15.11.2024")
    assert code == 2
    code, _, err = _run("eval", "helse-vest/anbefaling-3", str(EXAMPLES / "ola.bundle.json"),
                        "--from-fhir", "nobody/none")
    assert code == 1 and "not_found" in err


def test_the_core_imports_without_fhir_resources() -> None:
    script = ("import sys; sys.modules['fhir'] = None; sys.modules['fhir.resources'] = None\n"
              "import koordrules, koordrules.fhir, koordrules.cli\n"
              "m = koordrules.fhir.find_mapping('helse-vest/anbefaling-3-fhir')\n"
              "try:\n"
              "    koordrules.fhir.map_bundle(m, {'resourceType': 'Bundle', 'entry': "
              "[{'resource': {'resourceType': 'Patient'}}]})\n"
              "except koordrules.LoadError as ex:\n"
              "    print(ex.code)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "missing_extra"


# ---------------------------------------------------------------- pilot and variants

VARIANTS = [
    # (set, mapping, bundle, hand-written record, outcome)
    ("helse-forde/pilot-2023@1.0.0", "helse-forde/pilot-2023-fhir", "pilot-astrid",
     "pilot-astrid", "coordinator_likely"),
    ("helse-forde/pilot-2023@2.0.0", "helse-forde/pilot-2023-fhir", "pilot-astrid",
     "pilot-astrid", "coordinator_likely"),
    ("helse-forde/nevrologi", "helse-forde/nevrologi-fhir", "pilot-astrid",
     "pilot-astrid.nevrologi", "diagnosis_coordinator"),
    ("helse-forde/medisinsk-sengepost", "helse-forde/medisinsk-sengepost-fhir",
     "pilot-astrid", "pilot-astrid", None),
    ("helse-bergen/buk-nefrologi", "helse-bergen/buk-nefrologi-fhir", "buk-nils", "buk-nils",
     "offer_coordinator"),
]


@pytest.mark.parametrize("set_ref, mapping_ref, bundle_name, record_name, outcome", VARIANTS)
def test_pilot_and_variant_mappings_agree_with_hand_written_records(
        set_ref: str, mapping_ref: str, bundle_name: str, record_name: str,
        outcome: str | None) -> None:
    code1, out1, err1 = _run("eval", set_ref, str(EXAMPLES / f"{bundle_name}.bundle.json"),
                             "--from-fhir", mapping_ref, "--as-of", AS_OF.isoformat())
    code2, out2, _ = _run("eval", set_ref, str(EXAMPLES / f"{record_name}.record.json"))
    assert code1 == code2 == 0, err1
    got, want = json.loads(out1), json.loads(out2)
    assert {k: got[k] for k in SAME} == {k: want[k] for k in SAME}
    assert got["outcome"] == outcome


def test_the_pilot_mapping_leaves_living_situation_and_judgements_unknown() -> None:
    record = fhir.map_bundle(fhir.find_mapping("helse-forde/pilot-2023-fhir"),
                             fhir.read_bundle_file(EXAMPLES / "pilot-astrid.bundle.json"),
                             as_of=AS_OF)
    assert set(record.unmapped) == {"living_situation", "municipal_services",
                                    "lacks_resource_persons"}
    assert record.record["units_6m"] == 3 and record.record["attendances_12m"] == 5


def test_a_variant_needs_its_own_mapping() -> None:
    cs = Catalog.builtin().get("helse-bergen/buk-nefrologi")
    diags = fhir.check_mapping(fhir.find_mapping(A3_MAPPING), cs)
    assert [d.code for d in diags] == ["not_mapped"]
    assert "ckd_stage" in diags[0].message
