"""Every shipped mapping on real, public Synthea R4 records (examples/fhir/synthea/, see its
SOURCES.md), with derivations checked by hand against the JSON."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fhirpathpy")

from koordrules import Catalog, evaluate, fhir
from koordrules.cli import main
from koordrules.fhir.bulk import patient_records, read_export
from koordrules.fhir.valuesets import ValueSets, load_valueset_text

ROOT = Path(__file__).resolve().parent.parent
SYNTHEA = ROOT / "examples" / "fhir" / "synthea"
DIRK, JOSUE, BRADLY, DEEDRA = (SYNTHEA / f"r4-{n}.json" for n in (
    "dirk-kuhlman", "josue-sipes", "bradly-douglas", "deedra-lockman-teen"))
#: Each bundle with the day of its last encounter (the as-of date used below).
BUNDLES = {DIRK: dt.date(2021, 3, 2), JOSUE: dt.date(2021, 3, 13),
           BRADLY: dt.date(2020, 8, 9), DEEDRA: dt.date(2020, 10, 30)}
MAPPINGS = ["helse-vest/anbefaling-3-fhir", "helse-bergen/buk-nefrologi-fhir",
            "helse-forde/nevrologi-fhir", "helse-forde/medisinsk-sengepost-fhir",
            "helse-forde/pilot-2023-fhir"]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def _map(mapping: str, path: Path, as_of: dt.date) -> fhir.FhirRecord:
    return fhir.map_bundle(fhir.find_mapping(mapping), _load(path), as_of=as_of)


def _reason(record: fhir.FhirRecord, name: str) -> str:
    return next(d.reason or "" for d in record.derived if d.input == name)


# ------------------------------------------------------------ hand-verified derivations


def test_dirk_has_a_snomed_coded_lifelong_diagnosis_and_ten_attendances() -> None:
    """Dirk Kuhlman: Condition 84757009 «Epilepsy» (and 128613002 «Seizure disorder»),
    active since 1985-12-03, coded only in SNOMED CT; born 1971-12-07. In the 12 months to
    2021-03-02 he had 10 finished encounters, one of them inpatient (class IMP)."""
    a3 = _map("helse-vest/anbefaling-3-fhir", DIRK, dt.date(2021, 3, 2))
    assert a3.record["lifelong_course"] is True
    assert a3.record["newly_diagnosed_chronic"] is False
    assert a3.record["transition_child_to_adult"] is False
    pilot = _map("helse-forde/pilot-2023-fhir", DIRK, dt.date(2021, 3, 2))
    assert pilot.record["age"] == 49
    assert pilot.record["attendances_12m"] == 10
    assert pilot.record["admissions_12m"] == 1
    neuro = _map("helse-forde/nevrologi-fhir", DIRK, dt.date(2021, 3, 2))
    assert neuro.record["diagnosis_group"] == "epilepsy"


def test_josue_copd_is_a_new_chronic_diagnosis_in_2017_and_ckd_reaches_stage_2() -> None:
    """Josue Sipes: 185086009 «Chronic obstructive bronchitis» onset 2017-03-05; CKD stage 1
    (431855005) from 2020-04-18 and stage 2 (431856006) from 2020-05-16."""
    early = _map("helse-vest/anbefaling-3-fhir", JOSUE, dt.date(2017, 6, 1))
    assert early.record["newly_diagnosed_chronic"] is True
    assert _map("helse-vest/anbefaling-3-fhir", JOSUE,
                dt.date(2018, 6, 1)).record["newly_diagnosed_chronic"] is False
    assert _map("helse-bergen/buk-nefrologi-fhir", JOSUE,
                dt.date(2021, 3, 13)).record["ckd_stage"] == 2
    assert _map("helse-bergen/buk-nefrologi-fhir", JOSUE,
                dt.date(2020, 5, 1)).record["ckd_stage"] == 1


def test_deedra_is_sixteen_in_2020_and_bradly_had_one_admission_in_his_last_year() -> None:
    """Deedra Lockman, born 2004-02-13: 16 on 2020-10-30 (16–18: transition). Bradly
    Douglas: 38 inpatient stays in all, one of them in the 12 months to 2020-08-09."""
    assert _map("helse-vest/anbefaling-3-fhir", DEEDRA,
                dt.date(2020, 10, 30)).record["transition_child_to_adult"] is True
    bradly = _map("helse-forde/pilot-2023-fhir", BRADLY, dt.date(2020, 8, 9))
    assert bradly.record["admissions_12m"] == 1 and bradly.record["attendances_12m"] == 7


SINUSITIS = """\
id: test/sinusitt
version: 1.0.0
title: Viral sinusitt
status: active
source: {document: Test}
local_choice: true
include:
  - {system: snomed-ct, codes: ["444814009"]}
"""


def test_a_past_as_of_sees_a_condition_that_is_resolved_today() -> None:
    """Dirk's «Viral sinusitis» 444814009: 2012-02-23 to 2012-03-08 and 2012-05-12 to
    2012-05-19, both clinicalStatus resolved in the bundle."""
    text = (ROOT / "criteria/helse-vest/anbefaling-3.mapping.yaml").read_text("utf-8")
    text = text.replace("in: koordrules/livslange-forlop", "in: test/sinusitt")
    valuesets = ValueSets([*ValueSets.scan(ROOT / "criteria"), load_valueset_text(SINUSITIS)])
    mapping = fhir.load_mapping_text(text, valuesets=valuesets)
    data = _load(DIRK)
    seen = {day: fhir.map_bundle(mapping, data, as_of=day).record["lifelong_course"]
            for day in (dt.date(2012, 3, 1), dt.date(2012, 4, 1), dt.date(2012, 5, 15),
                        dt.date(2021, 3, 2))}
    assert seen == {dt.date(2012, 3, 1): True, dt.date(2012, 4, 1): False,
                    dt.date(2012, 5, 15): True, dt.date(2021, 3, 2): False}


def test_another_patients_urn_uuid_resources_are_not_counted() -> None:
    """Bradly's resources (subject ``urn:uuid:326b…``) merged into Dirk's bundle: Dirk's
    counts do not move, and each dropped resource is reported."""
    dirk, bradly = _load(DIRK), _load(BRADLY)
    merged = copy.deepcopy(dirk)
    foreign = [e for e in bradly["entry"] if e["resource"]["resourceType"] != "Patient"
               and ("subject" in e["resource"] or "patient" in e["resource"])]
    merged["entry"] += foreign
    day = dt.date(2020, 8, 9)
    alone = _map("helse-forde/pilot-2023-fhir", DIRK, day)
    both = fhir.map_bundle(fhir.find_mapping("helse-forde/pilot-2023-fhir"), merged, as_of=day)
    assert both.record == alone.record
    dropped = [p for p in both.problems if p.code == "fhir_other_patient"]
    assert len(dropped) == len(foreign) > 100
    assert _map("helse-forde/pilot-2023-fhir", BRADLY, day).record["admissions_12m"] == 1


def test_a_full_url_reference_to_the_patient_is_the_patient() -> None:
    data = _load(DIRK)
    pid = next(e["resource"]["id"] for e in data["entry"]
               if e["resource"]["resourceType"] == "Patient")
    for entry in data["entry"]:
        subject = entry["resource"].get("subject")
        if subject:
            subject["reference"] = f"https://fhir.example.no/r4/Patient/{pid}"
    record = fhir.map_bundle(fhir.find_mapping("helse-forde/pilot-2023-fhir"), data,
                             as_of=dt.date(2021, 3, 2))
    assert record.record["attendances_12m"] == 10 and not record.problems


def test_a_deceased_patient_of_the_bulk_export_is_reported() -> None:
    """Bulk export patient 129c6ac7…: deceasedDateTime 1989-05-09."""
    export = read_export(SYNTHEA / "bulk-10")
    records = dict(patient_records(export))
    mapping = fhir.find_mapping("helse-forde/pilot-2023-fhir")
    dead = fhir.map_bundle(mapping, records["129c6ac7-8d06-89de-ad63-0204a93e76c3"],
                           as_of=dt.date(2020, 1, 1))
    assert dead.deceased is True
    assert "fhir_deceased" in [p.code for p in dead.problems]
    assert any("has died" in n for n in dead.notes())
    before = fhir.map_bundle(mapping, records["129c6ac7-8d06-89de-ad63-0204a93e76c3"],
                             as_of=dt.date(1989, 1, 1))
    assert before.deceased is False
    alive = fhir.map_bundle(mapping, records["63ee2253-bdd5-da55-2ad2-b4984d0ad700"],
                            as_of=dt.date(2020, 1, 1))
    assert alive.deceased is None and "fhir_deceased" not in [p.code for p in alive.problems]


def test_the_bulk_export_names_locations_so_units_are_counted() -> None:
    """The bulk export's encounters name a Location, so units are counted: patient
    129c6ac7… had 7 encounters under way in the 6 months to 1989-05-13 at 4 Locations
    (in Synthea these are facilities, not wards). Synthea's patient bundles name only the
    organisation (the trust), which is never counted, so there units stay unknown."""
    export = read_export(SYNTHEA / "bulk-10")
    assert export.problems == [] and len(export.patients) == 13
    mapping = fhir.find_mapping("helse-forde/pilot-2023-fhir")
    records = dict(patient_records(export))
    record = fhir.map_bundle(mapping, records["129c6ac7-8d06-89de-ad63-0204a93e76c3"],
                             as_of=dt.date(1989, 5, 13))
    assert record.record["units_6m"] == 4
    dirk = _map("helse-forde/pilot-2023-fhir", DIRK, dt.date(2021, 3, 2))
    assert dirk.record["units_6m"] is None
    assert "location.location.reference" in _reason(dirk, "units_6m")


@pytest.mark.parametrize("name, version", [("stu3-abshire-carlton.json", "STU3"),
                                           ("dstu2-nest-patient.json", "DSTU2")])
def test_an_stu3_or_dstu2_bundle_is_one_clear_error_and_exit_1(name: str, version: str) -> None:
    with pytest.raises(fhir.FhirVersionError) as info:
        fhir.read_patient_file(SYNTHEA / name)
    assert version in info.value.message and "R4" in info.value.message
    out, err = io.StringIO(), io.StringIO()
    code = main(["eval", "helse-vest/anbefaling-3", str(SYNTHEA / name), "--from-fhir",
                 "helse-vest/anbefaling-3-fhir", "--as-of", "2020-01-01"], out=out, err=err)
    assert code == 1
    assert len(err.getvalue().splitlines()) == 1 and "fhir_version" in err.getvalue()


# ------------------------------------------------------------ every mapping, every bundle


def _results() -> list[tuple[str, Path, Any, fhir.FhirRecord]]:
    catalog = Catalog.builtin()
    out = []
    for ref in MAPPINGS:
        mapping = fhir.find_mapping(ref)
        for cs in catalog.versions(mapping.target.id):
            if not fhir.version_fits(cs.version, mapping.target.versions):
                continue
            for path, day in BUNDLES.items():
                record = fhir.map_bundle(mapping, _load(path), as_of=day)
                result = fhir.with_mapping(evaluate(cs, record.record), record)
                out.append((cs.key, path, result, record))
    return out


def test_every_shipped_mapping_on_every_synthea_bundle_says_why_it_is_undecided() -> None:
    """No CareTeam or EpisodeOfCare in any Synthea bundle: whatever is undecided, the
    result names the inputs and the resource types they need."""
    results = _results()
    assert len(results) == 4 * 12  # twelve set versions the five mappings fit
    for key, path, result, record in results:
        assert result.mapping is not None and result.mapping.sha256 == fhir.find_mapping(
            result.mapping.id).sha256
        assert any("no CareTeam resources, so has_coordinator" in w for w in result.warnings)
        for name in result.missing:
            assert name in record.unknown, (key, path.name, name)
            told = [w for w in result.warnings if name in w]
            assert told, (key, path.name, name)


def test_the_decided_counts_per_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    """The figures the closing note reports (printed with -s)."""
    table: dict[str, list[int]] = {}
    for key, _, result, _ in _results():
        row = table.setdefault(key, [0, 0])
        row[0] += result.outcome is not None
        row[1] += 1
    print(json.dumps(table, indent=1))
    assert all(total == 4 for _, total in table.values())


def test_mapping_a_bundle_is_fast_enough_to_notice_a_regression() -> None:
    """Not a benchmark (see benchmarks/fhir_bench.py): only that a 959-entry bundle maps
    in well under a second."""
    import time

    mapping = fhir.find_mapping("helse-vest/anbefaling-3-fhir")
    data = _load(JOSUE)
    fhir.map_bundle(mapping, data, as_of=dt.date(2021, 3, 13))
    start = time.perf_counter()
    fhir.map_bundle(mapping, data, as_of=dt.date(2021, 3, 13))
    assert time.perf_counter() - start < 2.0


def test_the_synthea_sources_and_licence_are_kept_with_the_data() -> None:
    sources = (SYNTHEA / "SOURCES.md").read_text("utf-8")
    for path in BUNDLES:
        assert path.name in sources
    assert "Apache License" in (SYNTHEA / "LICENSE-Apache-2.0.txt").read_text("utf-8")


def test_a_bulk_export_is_screened_per_patient_from_the_command_line(tmp_path: Path) -> None:
    """issue 14 item 5 (embedded, one process): the export folder as INPUT, one result per
    patient with its id, the bad line reported and the rest screened."""
    import shutil

    folder = tmp_path / "export"
    shutil.copytree(SYNTHEA / "bulk-10", folder)
    with (folder / "Condition.000.ndjson").open("a", encoding="utf-8") as f:
        f.write("{not json\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["eval", "helse-forde/pilot-2023@1.0.0", str(folder), "--from-fhir",
                 "helse-forde/pilot-2023-fhir", "--as-of", "2023-01-01"], out=out, err=err)
    assert code == 1  # the bad line
    assert "Condition.000.ndjson" in err.getvalue() and "json_error" in err.getvalue()
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    results = [r for r in rows if "patient" in r]
    assert len(results) == 13
    assert results[0]["patient"] == "129c6ac7-8d06-89de-ad63-0204a93e76c3"
    assert any("has died" in w for w in results[0]["warnings"])
    assert all(r["mapping"]["id"] == "helse-forde/pilot-2023-fhir" for r in results)
