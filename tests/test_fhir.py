"""FHIR R4 input: the mapping file (FHIRPath, value sets), every aggregate on hand-written
edge cases, broken bundles, the shipped examples and the CLI. Real patient records (Synthea)
are in test_fhir_synthea.py."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fhirpathpy")

from koordrules import Catalog, CriteriaError, InputError, LoadError, evaluate, fhir, load_text
from koordrules.cli import main
from koordrules.fhir.valuesets import ValueSets, load_valueset_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "fhir"
AS_OF = dt.date(2024, 11, 15)
ICD = "http://hl7.org/fhir/sid/icd-10"
SCT = "http://snomed.info/sct"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ROLE = "urn:koordrules:kodeverk:koordinatorrolle"

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
      units: {type: integer, kind: data}
      ms: {type: boolean, kind: data}
      new_chronic: {type: boolean, kind: data}
      ckd: {type: integer, kind: data}
      group: {type: enum, kind: data, values: [als, ms, epilepsy, none]}
      coordinator: {type: boolean, kind: data}
      followup: {type: number, kind: data}
      judged: {type: boolean, kind: judgement}
    criteria:
      A:
        title: Everything
        when: |
          age > 0 and teen and admissions > 0 and units > 0 and ms and new_chronic
          and ckd > 0 and group == "als" and coordinator and followup > 0 and judged
    outcomes:
      - {id: hit, title: Hit, when: A}
      - {id: miss, title: Miss, otherwise: true}
    """), file="test-fhir.yaml")

CONDITION = """
    resource: Condition
    where: >-
      verificationStatus.coding.where(code = 'refuted' or code = 'entered-in-error').empty()
      and (clinicalStatus.coding.where(code = 'active').exists() or abatement.exists())
    code: code
    start: onset.ofType(dateTime)
    end: abatement.ofType(dateTime)
    recorded: recordedDate
    active: true"""

MAPPING_TEXT = textwrap.dedent("""\
    id: test/fhir-mapping
    version: 1.0.0
    title: Test mapping
    status: active
    effective_from: 2024-01-01
    source: {document: Test}
    criteria: {id: test/fhir, versions: ">=1.0.0, <2.0.0"}
    inputs:
      age: {resource: Patient, aggregate: age_years, value: birthDate}
      teen: {resource: Patient, aggregate: age_years, value: birthDate, range: {min: 16, max: 18}}
      admissions:
        resource: Encounter
        where: class.code = 'IMP'
        status: [in-progress, finished]
        start: period.start
        window: 6 months
        aggregate: count
      units:
        resource: Encounter
        status: [in-progress, finished]
        start: period.start
        end: period.end
        window: 6 months
        window_test: overlap
        aggregate: count_distinct
        value: location.location.reference
      ms:{cond}
        in: koordrules/livslange-forlop@1.0.1
        aggregate: exists
      new_chronic:{cond}
        in: koordrules/kroniske-diagnoser
        window: 12 months
        aggregate: exists
      ckd:{cond}
        aggregate: classify
        pick: max
        groups:
          - {result: 4, in: koordrules/ckd-stadium-4}
          - {result: 5, in: koordrules/ckd-stadium-5}
      group:{cond}
        aggregate: classify
        otherwise: none
        groups:
          - {result: als, in: koordrules/diagnosegruppe-als}
          - {result: ms, in: koordrules/diagnosegruppe-ms}
          - {result: epilepsy, in: koordrules/diagnosegruppe-epilepsi}
      coordinator:
        resource: CareTeam
        status: [active]
        start: period.start
        end: period.end
        active: true
        undated: count
        each: participant
        each_start: period.start
        each_end: period.end
        code: role
        in: koordrules/koordinatorroller
        aggregate: exists
      followup:
        resource: EpisodeOfCare
        status: [active, waitlist]
        start: period.start
        end: period.end
        active: true
        aggregate: months_until
        value: period.end
    unmapped:
      judged: A clinical judgement.
    """).replace("{cond}", CONDITION.rstrip())
MAPPING = fhir.load_mapping_text(MAPPING_TEXT, file="test.mapping.yaml")


def patient(birth: str | None = "1960-05-20", pid: str = "p", **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Patient", "id": pid, **extra}
    if birth is not None:
        r["birthDate"] = birth
    return r


def enc(start: str | None, end: str | None = None, *, cls: str = "IMP",
        status: str | None = "finished", loc: str | None = "ward1",
        subject: str = "Patient/p", rid: str | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Encounter", "class": {"system": ACT, "code": cls},
                         "subject": {"reference": subject},
                         "serviceProvider": {"reference": "Organization/trust"}}
    if status:
        r["status"] = status
    if rid:
        r["id"] = rid
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        r["period"] = period
    if loc:
        r["location"] = [{"location": {"reference": f"Location/{loc}"}}]
    return r


def cond(code: str, onset: str | None = "2020-01-01", *, system: str = ICD,
         clinical: str | None = "active", verification: str | None = None,
         abatement: str | None = None, recorded: str | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Condition", "subject": {"reference": "Patient/p"},
                         "code": {"coding": [{"system": system, "code": code}]}}
    if clinical:
        r["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        r["verificationStatus"] = {"coding": [{"code": verification}]}
    if onset:
        r["onsetDateTime"] = onset
    if abatement:
        r["abatementDateTime"] = abatement
    if recorded:
        r["recordedDate"] = recorded
    return r


def team(*roles: str | None, status: str = "active",
         period: dict[str, str] | None = None) -> dict[str, Any]:
    participants = [{"role": [{"text": "Noe"} if code is None else
                              {"coding": [{"system": ROLE, "code": code}]}]} for code in roles]
    r = {"resourceType": "CareTeam", "status": status, "participant": participants,
         "subject": {"reference": "Patient/p"}}
    if period:
        r["period"] = period
    return r


def episode(start: str, end: str | None = None, status: str = "active",
            history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    r = {"resourceType": "EpisodeOfCare", "status": status,
         "patient": {"reference": "Patient/p"}, "period": period}
    if history:
        r["statusHistory"] = history
    return r


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in resources]}


def mapped(*resources: dict[str, Any], as_of: dt.date = AS_OF,
           mapping: fhir.FhirMapping = MAPPING) -> fhir.FhirRecord:
    return fhir.map_bundle(mapping, bundle(*resources), as_of=as_of)


def derive(*resources: dict[str, Any], as_of: dt.date = AS_OF) -> dict[str, Any]:
    return mapped(*resources, as_of=as_of).record


# ---------------------------------------------------------------- mapping files


def test_the_test_mapping_fits_the_test_set() -> None:
    assert fhir.check_mapping(MAPPING, TEST_SET) == []


def test_every_shipped_mapping_loads_and_fits_its_sets() -> None:
    catalog = Catalog.builtin()
    files = fhir.mapping_files(ROOT / "criteria")
    assert len(files) == 6  # incl. the draft anbefaling-3-pasientens-valg mapping
    for path in files:
        mapping = fhir.load_mapping(path)
        sets = [cs for cs in catalog if cs.id == mapping.target.id
                and fhir.version_fits(cs.version, mapping.target.versions)]
        assert sets, f"{path}: no set fits"
        for cs in sets:
            assert [d for d in fhir.check_mapping(mapping, cs) if d.severity == "error"] == []


def test_no_closed_list_of_derivations_is_left() -> None:
    """Every shipped input is FHIRPath plus a generic aggregate, not a named derivation."""
    text = "".join(p.read_text("utf-8") for p in fhir.mapping_files(ROOT / "criteria"))
    assert "\n    from:" not in text
    assert "aggregate:" in text and "resource:" in text


def test_a_mapping_is_found_by_id_by_version_and_by_path() -> None:
    by_id = fhir.find_mapping("helse-vest/anbefaling-3-fhir")
    assert by_id.key == "helse-vest/anbefaling-3-fhir@2.2.0"
    assert fhir.find_mapping("helse-vest/anbefaling-3-fhir@2.2.0").key == by_id.key
    path = ROOT / "criteria" / "helse-vest" / "anbefaling-3.mapping.yaml"
    assert fhir.find_mapping(str(path)).key == by_id.key
    assert len(by_id.sha256) == 64


@pytest.mark.parametrize("ref, code", [("nobody/none", "not_found"),
                                       ("helse-vest/anbefaling-3-fhir@9.9.9",
                                        "version_not_found")])
def test_an_unknown_mapping_is_a_catalog_error(ref: str, code: str) -> None:
    from koordrules import CatalogError

    with pytest.raises(CatalogError) as info:
        fhir.find_mapping(ref)
    assert info.value.code == code


def _load_error(text: str) -> CriteriaError:
    with pytest.raises(CriteriaError) as info:
        fhir.load_mapping_text(text, file="bad.mapping.yaml")
    return info.value


def _line_of(text: str, needle: str) -> int:
    return next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)


def test_a_fhirpath_syntax_error_is_reported_at_its_line_and_column() -> None:
    text = MAPPING_TEXT.replace("where: class.code = 'IMP'", "where: class.code = = 'IMP'")
    err = _load_error(text)
    line = _line_of(text, "class.code = =")
    column = text.splitlines()[line - 1].index("= 'IMP'") + 1
    assert err.diagnostics[0].code == "fhirpath_error"
    assert str(err.diagnostics[0]).startswith(f"bad.mapping.yaml:{line}:{column}:")


def test_an_unknown_function_in_a_folded_fhirpath_is_reported_at_its_line() -> None:
    text = MAPPING_TEXT.replace("or abatement.exists())", "or abatement.existz())", 1)
    err = _load_error(text)
    line = _line_of(text, "abatement.existz()")
    column = text.splitlines()[line - 1].index("existz") + 1
    assert "unknown FHIRPath function existz()" in err.diagnostics[0].message
    assert (err.diagnostics[0].span.line, err.diagnostics[0].span.column) == (line, column)


def test_an_unknown_variable_is_reported() -> None:
    err = _load_error(MAPPING_TEXT.replace("where: class.code = 'IMP'",
                                           "where: class.code = %klass"))
    assert "unknown variable %klass" in err.diagnostics[0].message


def test_an_unknown_value_set_is_reported_at_its_use() -> None:
    text = MAPPING_TEXT.replace("in: koordrules/kroniske-diagnoser",
                                "in: koordrules/kroniske-diagnoserr")
    err = _load_error(text)
    assert err.diagnostics[0].code == "unknown_valueset"
    assert err.diagnostics[0].span.line == _line_of(text, "kroniske-diagnoserr")


@pytest.mark.parametrize("old, new, words", [
    ("aggregate: count_distinct\n", "aggregate: count_distinct\n    value_: x\n", "value_"),
    ("    value: location.location.reference\n", "", "needs 'value'"),
    ("window: 6 months\n    window_test: overlap", "window: six months\n    window_test: overlap",
     "window"),
])
def test_shape_mistakes_are_reported(old: str, new: str, words: str) -> None:
    text = MAPPING_TEXT.replace(old, new, 1)
    assert text != MAPPING_TEXT
    assert words in str(_load_error(text).diagnostics)


def _diag_codes(text: str, cs: Any = TEST_SET) -> list[str]:
    mapping = fhir.load_mapping_text(text, file="m.mapping.yaml")
    return [d.code for d in fhir.check_mapping(mapping, cs)]


def test_mapping_against_a_set_reports_unknown_unmapped_and_mistyped_inputs() -> None:
    text = MAPPING_TEXT.replace("  age: {resource", "  agee: {resource")
    assert {"unknown_input", "not_mapped"} <= set(_diag_codes(text))
    text = MAPPING_TEXT.replace("teen: {resource: Patient, aggregate: age_years, value: "
                                "birthDate, range: {min: 16, max: 18}}",
                                "teen: {resource: Patient, aggregate: age_years, value: "
                                "birthDate}")
    assert "type_mismatch" in _diag_codes(text)


def test_mapping_for_another_set_or_version_does_not_fit() -> None:
    assert "mapping_mismatch" in _diag_codes(MAPPING_TEXT.replace("id: test/fhir,",
                                                                  "id: test/other,"))
    assert "mapping_mismatch" in _diag_codes(MAPPING_TEXT.replace(">=1.0.0, <2.0.0",
                                                                  ">=2.0.0"))


def test_check_cli_parses_every_fhirpath_of_a_catalogue(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(ROOT / "criteria", tmp_path / "criteria")
    code, _, err = _run("check", str(tmp_path / "criteria"))
    assert code == 0, err
    path = tmp_path / "criteria/helse-forde/nevrologi.mapping.yaml"
    text = path.read_text("utf-8").replace("class.code = 'IMP' or", "class.code = 'IMP' orr")
    path.write_text(text, "utf-8")
    code, out, _ = _run("check", str(tmp_path / "criteria"))
    line = _line_of(text, "'IMP' orr")
    assert code == 1
    assert f"nevrologi.mapping.yaml:{line}:" in out and "fhirpath_error" in out


# ---------------------------------------------------------------- value sets


def test_value_set_matching_is_three_valued() -> None:
    vs = ValueSets.scan(ROOT / "criteria").get("koordrules/livslange-forlop")
    assert vs.classify({"coding": [{"system": ICD, "code": "G35.9"}]}) is True
    assert vs.classify({"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.1.7110",
                                    "code": "G359"}]}) is True
    assert vs.classify({"coding": [{"system": SCT, "code": "24700007"}]}) is True
    assert vs.classify({"coding": [{"system": SCT, "code": "38341003"}]}) is False
    assert vs.classify({"coding": [{"system": "urn:local", "code": "G35"}]}) is None
    assert vs.classify({"text": "MS"}) is None


def test_an_excluded_code_is_never_in_the_set() -> None:
    vs = load_valueset_text(textwrap.dedent("""\
        id: test/vs
        version: 1.0.0
        title: t
        status: active
        source: {document: t}
        local_choice: true
        include:
          - {system: icd-10, match: prefix, codes: [G4]}
        exclude:
          - {system: icd-10, match: prefix, codes: [G43]}
        """))
    assert vs.classify({"coding": [{"system": ICD, "code": "G40"}]}) is True
    assert vs.classify({"coding": [{"system": ICD, "code": "G43.1"}]}) is False
    assert vs.classify({"coding": [{"system": ICD, "code": "G43"},
                                   {"system": ICD, "code": "G40"}]}) is False


def test_every_shipped_value_set_says_where_it_comes_from() -> None:
    sets = list(ValueSets.scan(ROOT / "criteria"))
    assert len(sets) >= 13
    for vs in sets:
        assert vs.spec.source.document and vs.spec.version
        assert vs.spec.local_choice is True


# ---------------------------------------------------------------- aggregates


@pytest.mark.parametrize("birth, age", [("1960-11-15", 64), ("1960-11-16", 63),
                                        ("1960", None), ("1960-05", 64)])
def test_age_is_completed_years_on_the_as_of_date(birth: str, age: int | None) -> None:
    assert derive(patient(birth))["age"] == age


@pytest.mark.parametrize("birth, teen", [("2008-11-15", True), ("2008-11-16", False),
                                         ("2006-11-15", True), ("2005-11-15", False),
                                         ("2005-11-16", True)])
def test_an_age_range_is_inclusive(birth: str, teen: bool) -> None:
    assert derive(patient(birth))["teen"] is teen


def test_a_number_where_a_date_belongs_is_not_unix_time() -> None:
    record = mapped(patient(1234))  # type: ignore[arg-type]
    assert record.record["age"] is None
    assert "cannot be read" in next(d.reason for d in record.derived if d.input == "age")


def test_admissions_count_inpatient_encounters_started_in_the_window() -> None:
    got = derive(patient(), enc("2024-10-01"), enc("2024-05-16"), enc("2024-05-15"),
                 enc("2024-10-01", cls="AMB"), enc("2024-11-16"),
                 enc("2024-10-01", status="planned"))
    assert got["admissions"] == 2


def test_an_encounter_without_a_date_or_status_makes_the_count_unknown() -> None:
    assert derive(patient(), enc(None))["admissions"] is None
    assert derive(patient(), enc("2024-10-01", status=None))["admissions"] is None
    assert derive(patient(), enc("2024-10"))["admissions"] == 1
    assert derive(patient(), enc("2024-05"))["admissions"] is None


def test_units_are_wards_not_the_trust() -> None:
    got = derive(patient(), enc("2024-10-01", loc="a"), enc("2024-09-01", loc="b"),
                 enc("2024-09-02", loc="a"), enc("2024-01-01", "2024-06-01", loc="c"),
                 enc("2023-01-01", "2023-02-01", loc="d"))
    assert got["units"] == 3
    record = mapped(patient(), enc("2024-10-01", loc=None))
    assert record.record["units"] is None
    assert "location.location.reference" in next(
        d.reason for d in record.derived if d.input == "units")


def test_conditions_match_by_prefix_in_icd10_and_exactly_in_snomed() -> None:
    assert derive(patient(), cond("G35.1"))["ms"] is True
    assert derive(patient(), cond("24700007", system=SCT))["ms"] is True
    assert derive(patient(), cond("38341003", system=SCT))["ms"] is False


def test_conditions_in_no_known_system_give_unknown_with_a_warning_never_false() -> None:
    record = mapped(patient(), cond("X1", onset="2024-06-01", system="urn:local:codes"))
    assert record.record["ms"] is None and record.record["new_chronic"] is None
    reason = next(d.reason for d in record.derived if d.input == "ms")
    assert "does not know" in reason and "koordrules/livslange-forlop" in reason


def test_resolved_refuted_future_and_not_yet_recorded_conditions_do_not_count() -> None:
    assert derive(patient(), cond("G35", clinical="resolved"))["ms"] is False
    assert derive(patient(), cond("G35", verification="refuted"))["ms"] is False
    assert derive(patient(), cond("G35", onset="2024-12-01"))["ms"] is False
    assert derive(patient(), cond("G35", recorded="2024-12-01"))["ms"] is False


def test_a_past_as_of_sees_a_condition_that_has_since_abated() -> None:
    c = cond("G35", onset="2019-01-01", clinical="resolved", abatement="2022-03-01")
    assert derive(patient(), c, as_of=dt.date(2021, 6, 1))["ms"] is True
    assert derive(patient(), c, as_of=dt.date(2022, 3, 1))["ms"] is False
    assert derive(patient(), c)["ms"] is False


def test_no_conditions_leaves_condition_facts_unknown_and_says_why() -> None:
    record = mapped(patient())
    assert record.record["ms"] is None
    assert record.missing_resources()["Condition"] == ("ms", "new_chronic", "ckd", "group")
    assert any("no Condition resources" in n for n in record.notes())


def test_newly_diagnosed_needs_an_onset_within_the_window() -> None:
    assert derive(patient(), cond("G35", onset="2024-01-01"))["new_chronic"] is True
    assert derive(patient(), cond("G35", onset="2023-11-15"))["new_chronic"] is False
    assert derive(patient(), cond("G35", onset=None))["new_chronic"] is None


@pytest.mark.parametrize("codes, stage", [(["N18.4"], 4), (["N18.5", "N18.4"], 5),
                                          (["433146000"], 5), (["G35"], None)])
def test_ckd_stage_is_the_highest_stage(codes: list[str], stage: int | None) -> None:
    conditions = [cond(c, system=SCT if c.isdigit() else ICD) for c in codes]
    assert derive(patient(), *conditions)["ckd"] == stage


@pytest.mark.parametrize("codes, group", [(["G35", "G12.2"], "als"), (["G40.3"], "epilepsy"),
                                          (["I10"], "none")])
def test_diagnosis_group_is_the_first_listed_group(codes: list[str], group: str) -> None:
    assert derive(patient(), *[cond(c) for c in codes])["group"] == group


def test_coordinator_from_coded_roles_with_explicit_exclusions() -> None:
    assert derive(patient(), team("koordinator-shtj"))["coordinator"] is True
    assert derive(patient(), team("forlopskoordinator"))["coordinator"] is True
    for excluded in ("koordinator-kommune", "barnekoordinator", "merkantil-koordinator",
                     "annen-rolle"):
        assert derive(patient(), team(excluded))["coordinator"] is False
    assert derive(patient(), team("koordinator-shtj", status="inactive"))["coordinator"] is False
    ended = team("koordinator-shtj", period={"start": "2020-01-01", "end": "2024-01-01"})
    assert derive(patient(), ended)["coordinator"] is False
    left = team("koordinator-shtj", "annen-rolle")
    left["participant"][0]["period"] = {"start": "2020-01-01", "end": "2024-06-01"}
    assert derive(patient(), left)["coordinator"] is False
    left["participant"][0]["period"] = {"start": "2020-01-01"}
    assert derive(patient(), left)["coordinator"] is True
    left["participant"][0]["period"] = {"start": "2025-01-01"}
    assert derive(patient(), left)["coordinator"] is False


def test_an_uncoded_role_is_unknown_unless_the_opt_in_text_fallback_says_otherwise() -> None:
    uncoded = team(None)
    uncoded["participant"][0]["role"] = [{"text": "Koordinator i kommunen"}]
    assert derive(patient(), uncoded)["coordinator"] is None
    text = MAPPING_TEXT.replace("    in: koordrules/koordinatorroller\n",
                                "    in: koordrules/koordinatorroller\n"
                                "    text_fallback: {contains: [koordinator], "
                                "exclude: [kommun, merkantil, barne]}\n")
    fallback = fhir.load_mapping_text(text)
    assert mapped(patient(), uncoded, mapping=fallback).record["coordinator"] is False
    uncoded["participant"][0]["role"] = [{"text": "Sykepleierfaglig koordinator"}]
    record = mapped(patient(), uncoded, mapping=fallback)
    assert record.record["coordinator"] is True
    assert any("recognised by their text" in n for n in record.notes())


def test_follow_up_months_to_the_planned_end_of_the_active_episode() -> None:
    assert derive(patient(), episode("2024-01-01", "2025-11-15"))["followup"] == 12.0
    assert derive(patient(), episode("2024-01-01"))["followup"] is None
    assert derive(patient(), episode("2024-01-01", "2025-11-15", "finished"))["followup"] is None


def test_the_episode_status_is_read_on_the_as_of_date_from_its_history() -> None:
    ep = episode("2023-01-01", "2026-01-01", "finished", history=[
        {"status": "active", "period": {"start": "2023-01-01", "end": "2024-12-31"}},
        {"status": "finished", "period": {"start": "2025-01-01"}}])
    assert derive(patient(), ep, as_of=dt.date(2024, 6, 1))["followup"] == 19.0
    assert derive(patient(), ep, as_of=dt.date(2025, 6, 1))["followup"] is None


def test_unmapped_inputs_stay_unknown_and_say_why() -> None:
    record = mapped(patient())
    assert "judged" not in record.record and "judged" in record.unknown
    assert any("judged is not in the record: A clinical judgement." in n
               for n in record.notes())


# ---------------------------------------------------------------- identity and reading


def test_references_by_relative_id_urn_uuid_and_full_url_are_the_patient() -> None:
    data = bundle(patient(), enc("2024-10-01", subject="Patient/p", rid="e1"),
                  enc("2024-10-02", subject="urn:uuid:p", rid="e2"),
                  enc("2024-10-03", subject="https://fhir.example.no/r4/Patient/p", rid="e3"))
    data["entry"][0]["fullUrl"] = "urn:uuid:p"
    assert fhir.map_bundle(MAPPING, data, as_of=AS_OF).record["admissions"] == 3


@pytest.mark.parametrize("other", ["Patient/q", "urn:uuid:q",
                                   "https://fhir.example.no/r4/Patient/q"])
def test_resources_of_another_patient_are_dropped_with_a_warning(other: str) -> None:
    record = mapped(patient(), enc("2024-10-01", subject=other), enc("2024-10-02"))
    assert record.record["admissions"] == 1
    assert [p.code for p in record.problems] == ["fhir_other_patient"]


def test_duplicates_are_counted_once() -> None:
    e = enc("2024-10-01", rid="same")
    record = mapped(patient(), e, copy.deepcopy(e))
    assert record.record["admissions"] == 1
    assert "fhir_duplicate" in [p.code for p in record.problems]


def test_a_page_of_a_paged_bundle_is_reported_as_incomplete() -> None:
    data = bundle(patient(), enc("2024-10-01"))
    data["link"] = [{"relation": "next", "url": "https://x/page2"}]
    record = fhir.map_bundle(MAPPING, data, as_of=AS_OF)
    assert "fhir_incomplete_bundle" in [p.code for p in record.problems]


def test_the_callers_bundle_is_not_changed() -> None:
    data = bundle(patient(), enc("2024-10-01"), cond("G35"), {"id": "no-type"})
    before = copy.deepcopy(data)
    fhir.map_bundle(MAPPING, data, as_of=AS_OF)
    fhir.map_bundle(MAPPING, data, as_of=AS_OF)
    assert data == before


def test_a_deceased_patient_is_reported() -> None:
    record = mapped(patient(deceasedDateTime="2024-03-01T10:00:00+01:00"), enc("2024-01-01"))
    assert record.deceased is True
    assert "fhir_deceased" in [p.code for p in record.problems]
    earlier = mapped(patient(deceasedDateTime="2024-03-01"), as_of=dt.date(2024, 1, 1))
    assert earlier.deceased is False and "fhir_deceased" not in [p.code for p in
                                                                 earlier.problems]
    assert mapped(patient(deceasedBoolean=True)).deceased is True


def test_problem_messages_never_contain_input_values() -> None:
    record = mapped(patient("secret-1234"), enc("2024-10-01", subject="Patient/secret-9"))
    text = " ".join(map(str, record.problems)) + " ".join(record.notes())
    assert "secret" not in text


def test_entries_without_resource_or_type_are_reported_and_skipped() -> None:
    data = bundle(patient())
    data["entry"] += [{"fullUrl": "urn:x"}, {"resource": {"id": "no-type"}}, "junk"]
    record = fhir.map_bundle(MAPPING, data, as_of=AS_OF)
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


def test_deep_json_is_a_typed_error_in_json_and_in_ndjson(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "deep.json"
    path.write_text(deep, "utf-8")
    with pytest.raises(LoadError) as info:
        fhir.load_json(path)
    assert info.value.code == "json_too_deep"
    lines = tmp_path / "b.ndjson"
    good = json.dumps(bundle(patient()))
    lines.write_text(f"{good}\n{deep}\n{{bad\n{good}\n", "utf-8")
    items = list(fhir.iter_json_items(lines))
    assert [n for n, _ in items] == [1, 2, 3, 4]
    assert [getattr(x, "code", "ok") for _, x in items] == ["ok", "json_too_deep",
                                                            "json_error", "ok"]


def test_one_size_limit_for_json_and_ndjson(tmp_path: Path, monkeypatch: Any) -> None:
    from koordrules.fhir import reading

    monkeypatch.setattr(reading, "MAX_FHIR_BYTES", 100)
    for name in ("big.json", "big.ndjson"):
        path = tmp_path / name
        path.write_text(json.dumps(bundle(patient(), enc("2024-10-01"))), "utf-8")
        with pytest.raises(LoadError) as info:
            list(fhir.iter_json_items(path))
        assert info.value.code == "too_large"


# ---------------------------------------------------------------- a KE adds an input

REHAB_SET = """\
id: test/rehab
version: 1.0.0
title: Rehab
status: draft
effective_from: 2024-01-01
source: {document: Test}
inputs:
  rehab_referrals_6m: {type: integer, kind: data}
criteria:
  R: {title: Rehab, when: rehab_referrals_6m >= 1}
outcomes:
  - {id: rehab, title: Rehab, when: R}
  - {id: other, title: Other, otherwise: true}
"""

REHAB_MAPPING = """\
id: test/rehab-fhir
version: 1.0.0
title: Rehab mapping
status: draft
effective_from: 2024-01-01
source: {document: Test}
criteria: test/rehab
inputs:
  rehab_referrals_6m:
    description: Åpne henvisninger til rehabilitering de siste 6 månedene.
    resource: ServiceRequest
    status: [active]
    where: intent = 'order' or intent = 'plan'
    code: code
    in: test/rehabilitering
    start: authoredOn
    window: 6 months
    aggregate: count
"""

REHAB_VALUESET = """\
id: test/rehabilitering
version: 1.0.0
title: Henvisning til rehabilitering
status: active
source: {document: Test}
local_choice: true
include:
  - system: urn:test:tjeneste
    codes: [rehabilitering]
"""


def test_a_ke_adds_a_derived_input_by_editing_files_only(tmp_path: Path) -> None:
    """Open referrals to rehabilitation in the last 6 months: a new mapping entry (and its
    value set), no Python."""
    (tmp_path / "valuesets").mkdir()
    (tmp_path / "valuesets/rehab.valueset.yaml").write_text(REHAB_VALUESET, "utf-8")
    (tmp_path / "rehab.yaml").write_text(REHAB_SET, "utf-8")
    (tmp_path / "rehab.mapping.yaml").write_text(REHAB_MAPPING, "utf-8")

    def request(status: str, authored: str, code: str = "rehabilitering") -> dict[str, Any]:
        return {"resourceType": "ServiceRequest", "status": status, "intent": "order",
                "subject": {"reference": "Patient/p"}, "authoredOn": authored,
                "code": {"coding": [{"system": "urn:test:tjeneste", "code": code}]}}

    data = bundle(patient(), request("active", "2024-10-01"), request("active", "2024-01-01"),
                  request("completed", "2024-10-02"), request("active", "2024-09-01", "annet"))
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data), "utf-8")
    code, out, err = _run("eval", str(tmp_path / "rehab.yaml"), str(path), "--from-fhir",
                          str(tmp_path / "rehab.mapping.yaml"), "--as-of", "2024-11-15")
    assert code == 0, err
    result = json.loads(out)
    assert result["outcome"] == "rehab"
    assert result["mapping"]["id"] == "test/rehab-fhir"
    mapping = fhir.load_mapping(tmp_path / "rehab.mapping.yaml")
    assert fhir.map_bundle(mapping, data, as_of=AS_OF).record == {"rehab_referrals_6m": 1}


# ---------------------------------------------------------------- the shipped examples


NAMES = ["ola", "kari", "per", "broken"]
A3_MAPPING = "helse-vest/anbefaling-3-fhir"


@pytest.mark.parametrize("name", NAMES)
def test_example_bundle_maps_to_its_hand_written_record(name: str) -> None:
    mapping = fhir.find_mapping(A3_MAPPING)
    record = fhir.map_bundle(mapping, fhir.read_patient_file(EXAMPLES / f"{name}.bundle.json"),
                             as_of=AS_OF)
    want = json.loads((EXAMPLES / f"{name}.record.json").read_text(encoding="utf-8"))
    got = {k: v for k, v in record.record.items() if v is not None}
    assert got == want


def test_the_broken_example_reports_each_problem_with_its_place() -> None:
    record = fhir.read_patient_file(EXAMPLES / "broken.bundle.json")
    places = [p.message.split(" ")[0].rstrip(":") for p in record.problems]
    assert places == ["entry[3]", "entry[4].resource"]
    mapped_ = fhir.map_bundle(fhir.find_mapping(A3_MAPPING), record, as_of=AS_OF)
    reasons = {d.input: d.reason for d in mapped_.derived if d.value is None}
    assert "no status" in reasons["involved_units"]
    assert "cannot be read" in reasons["newly_diagnosed_chronic"]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


SAME = ("outcome", "possible_outcomes", "missing", "criteria")


@pytest.mark.parametrize("name", NAMES)
def test_eval_from_fhir_equals_eval_of_the_hand_written_record(name: str) -> None:
    a3 = "helse-vest/anbefaling-3"
    code1, out1, err1 = _run("eval", a3, str(EXAMPLES / f"{name}.bundle.json"),
                             "--from-fhir", A3_MAPPING, "--as-of", AS_OF.isoformat())
    code2, out2, _ = _run("eval", a3, str(EXAMPLES / f"{name}.record.json"))
    assert code1 == code2 == 0, err1
    got, want = json.loads(out1), json.loads(out2)
    assert {k: got[k] for k in SAME} == {k: want[k] for k in SAME}
    mapping = fhir.find_mapping(A3_MAPPING)
    assert got["mapping"] == {"id": mapping.id, "version": mapping.version,
                              "sha256": mapping.sha256, "as_of": "2024-11-15"}
    assert want["mapping"] is None


def test_the_example_outcomes_are_the_documented_ones() -> None:
    outcomes = {}
    for name in NAMES:
        _, out, _ = _run("eval", "helse-vest/anbefaling-3", str(EXAMPLES / f"{name}.bundle.json"),
                         "--from-fhir", A3_MAPPING, "--as-of", "2024-11-15")
        outcomes[name] = json.loads(out)
    assert outcomes["ola"]["outcome"] == "coordinator_likely"
    assert outcomes["kari"]["outcome"] == "already_has_coordinator"
    assert outcomes["per"]["outcome"] is None
    assert {"situation_indicates_need", "has_coordinator"} <= set(outcomes["per"]["missing"])
    assert any("no CareTeam resources, so has_coordinator is unknown" in w
               for w in outcomes["per"]["warnings"])


def test_from_fhir_reads_json_lines_and_arrays(tmp_path: Path) -> None:
    ola = json.loads((EXAMPLES / "ola.bundle.json").read_text("utf-8"))
    per = json.loads((EXAMPLES / "per.bundle.json").read_text("utf-8"))
    lines = tmp_path / "b.jsonl"
    lines.write_text(json.dumps(ola) + "\n\n{bad\n" + json.dumps(per) + "\n", encoding="utf-8")
    code, out, _ = _run("eval", "helse-vest/anbefaling-3", str(lines), "--from-fhir",
                        A3_MAPPING, "--as-of", "2024-11-15")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r.get("outcome") for r in rows] == ["coordinator_likely", None, None]
    assert rows[1]["error"]["code"] == "json_error" and code == 1
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


def test_the_core_imports_without_fhirpathpy() -> None:
    script = ("import sys; sys.modules['fhirpathpy'] = None; sys.modules['antlr4'] = None\n"
              "import koordrules, koordrules.fhir, koordrules.cli\n"
              "try:\n"
              "    koordrules.fhir.find_mapping('helse-vest/anbefaling-3-fhir@2.2.0')\n"
              "except koordrules.KoordError as ex:\n"
              "    print(ex.code)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("missing_extra", "not_found")


VARIANTS = [
    ("helse-forde/pilot-2023@1.0.0", "helse-forde/pilot-2023-fhir", "pilot-astrid",
     "pilot-astrid"),
    ("helse-forde/nevrologi@1.1.0", "helse-forde/nevrologi-fhir", "pilot-astrid",
     "pilot-astrid.nevrologi"),
    ("helse-forde/medisinsk-sengepost@1.1.0", "helse-forde/medisinsk-sengepost-fhir",
     "pilot-astrid", "pilot-astrid"),
    ("helse-bergen/buk-nefrologi", "helse-bergen/buk-nefrologi-fhir", "buk-nils", "buk-nils"),
]


@pytest.mark.parametrize("set_ref, mapping_ref, bundle_name, record_name", VARIANTS)
def test_pilot_and_variant_mappings_agree_with_hand_written_records(
        set_ref: str, mapping_ref: str, bundle_name: str, record_name: str) -> None:
    code1, out1, err1 = _run("eval", set_ref, str(EXAMPLES / f"{bundle_name}.bundle.json"),
                             "--from-fhir", mapping_ref, "--as-of", AS_OF.isoformat())
    code2, out2, _ = _run("eval", set_ref, str(EXAMPLES / f"{record_name}.record.json"))
    assert code1 == code2 == 0, err1
    got, want = json.loads(out1), json.loads(out2)
    assert {k: got[k] for k in SAME} == {k: want[k] for k in SAME}


def test_a_variant_needs_its_own_mapping() -> None:
    cs = Catalog.builtin().get("helse-bergen/buk-nefrologi")
    diags = fhir.check_mapping(fhir.find_mapping(A3_MAPPING), cs)
    assert [d.code for d in diags] == ["not_mapped", "not_mapped"]
    assert {"ckd_diagnosis", "ckd_stage"} == {
        name for d in diags for name in ("ckd_diagnosis", "ckd_stage") if name in d.message}


def test_evaluate_records_the_mapping_beside_the_set() -> None:
    mapping = fhir.find_mapping(A3_MAPPING)
    cs = Catalog.builtin().get("helse-vest/anbefaling-3")
    record = fhir.map_bundle(mapping, fhir.read_patient_file(EXAMPLES / "ola.bundle.json"),
                             as_of=AS_OF)
    result = fhir.with_mapping(evaluate(cs, record.record), record)
    assert result.mapping is not None and result.mapping.sha256 == mapping.sha256
    assert type(result).from_json(result.to_json()) == result


# ---------------------------------------------------------------- lock and re-explain


def _catalogue(tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(ROOT / "criteria", tmp_path / "criteria")
    return tmp_path / "criteria"


def test_the_lock_holds_every_mapping_hash_and_a_changed_value_set_needs_a_new_version(
        tmp_path: Path) -> None:
    root = _catalogue(tmp_path)
    lock = (root / "criteria.lock").read_text("utf-8")
    for path in fhir.mapping_files(root):
        mapping = fhir.load_mapping(path)
        assert f'"{mapping.key}":\n    sha256: "{mapping.sha256}"' in lock
    vs = root / "valuesets/livslange-forlop.valueset.yaml"
    vs.write_text(vs.read_text("utf-8").replace("  - G80\n", ""), "utf-8")
    code, out, _ = _run("check", str(root))
    assert code == 1
    assert out.count("version_not_bumped") == 3  # the three mappings that use the value set
    assert "anbefaling-3.mapping.yaml" in out and "buk-nefrologi.mapping.yaml" in out
    assert "anbefaling-3-pasientens-valg.mapping.yaml" in out


def test_re_explain_checks_the_set_and_the_mapping(tmp_path: Path) -> None:
    root = _catalogue(tmp_path)
    bundle_ = EXAMPLES / "ola.bundle.json"
    code, out, err = _run("eval", "helse-vest/anbefaling-3", str(bundle_), "--from-fhir",
                          A3_MAPPING, "--as-of", "2024-11-15", "--trace", "--catalog", str(root))
    assert code == 0, err
    stored = tmp_path / "stored.json"
    stored.write_text(out, "utf-8")
    assert json.loads(out)["mapping"]["as_of"] == "2024-11-15"
    code, out, err = _run("explain", "--result", str(stored), str(bundle_), "--catalog",
                          str(root), "--lang", "en")
    assert code == 0, err
    assert "FHIR mapping: helse-vest/anbefaling-3-fhir 2.2.0" in out
    assert "sha256 of the set and of the mapping" in out
    # another bundle: the stored result does not match
    code, _, err = _run("explain", "--result", str(stored), str(EXAMPLES / "per.bundle.json"),
                        "--catalog", str(root))
    assert code == 1 and "result_differs" in err
    # the mapping's value set changed without a new version: refused
    vs = root / "valuesets/kroniske-diagnoser.valueset.yaml"
    vs.write_text(vs.read_text("utf-8").replace("  - K51\n", ""), "utf-8")
    code, _, err = _run("explain", "--result", str(stored), str(bundle_), "--catalog",
                        str(root))
    assert code == 1 and "hash_mismatch" in err and "mapping" in err


def test_units_can_be_department_organisations_through_resolve() -> None:
    """The helper resolve() follows serviceProvider to the Organization in the bundle
    (relative, urn:uuid or full URL); only departments (with partOf) count, never the trust."""
    mapping = fhir.load_mapping_text(textwrap.dedent("""\
        id: test/dept
        version: 1.0.0
        title: t
        status: draft
        effective_from: 2024-01-01
        source: {document: t}
        criteria: test/fhir
        inputs:
          units:
            resource: Encounter
            start: period.start
            window: 6 months
            aggregate: count_distinct
            value: serviceProvider.resolve().where(partOf.exists()).id
            missing_value: skip
        """))

    def org(oid: str, part: str | None = None) -> dict[str, Any]:
        r: dict[str, Any] = {"resourceType": "Organization", "id": oid}
        if part:
            r["partOf"] = {"reference": f"Organization/{part}"}
        return r

    def visit(ref: str) -> dict[str, Any]:
        return {"resourceType": "Encounter", "status": "finished",
                "subject": {"reference": "Patient/p"}, "period": {"start": "2024-10-01"},
                "serviceProvider": {"reference": ref}}

    data = bundle(patient(), org("trust"), org("nevro", "trust"), org("med", "trust"),
                  visit("Organization/nevro"), visit("urn:uuid:med"),
                  visit("https://fhir.example.no/r4/Organization/nevro"),
                  visit("Organization/trust"))
    record = fhir.map_bundle(mapping, data, as_of=AS_OF)
    assert record.record["units"] == 2
    assert any("have no serviceProvider.resolve()" in n for n in record.notes())
