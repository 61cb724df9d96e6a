"""Local, opt-in paths beside Anbefaling 3 (issue 10): the complex-needs path
(helse-vest/anbefaling-3-komplekse-behov, for the law's «komplekse eller langvarige» that
Anbefaling 3's A-gate leaves out) and the FHIR mapping of the patient's-say variant
(course coordinators from coded CareTeam roles). Shown on a real Synthea patient."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from koordrules import Catalog, evaluate

ROOT = Path(__file__).resolve().parent.parent
DIRK = ROOT / "examples" / "fhir" / "synthea" / "r4-dirk-kuhlman.json"
COMPLEX = "helse-vest/anbefaling-3-komplekse-behov@1.0.0"
SAY = "helse-vest/anbefaling-3-pasientens-valg@1.0.0"
ROLE = "urn:koordrules:kodeverk:koordinatorrolle"
AS_OF = dt.date(2021, 3, 2)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.builtin()


def _bundle() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DIRK.read_text("utf-8"))
    return data


def _with_team(bundle: dict[str, Any], *codes: str) -> dict[str, Any]:
    """Dirk's bundle with one active CareTeam whose participants have these coded roles
    (Synthea has no CareTeam; this is the one hand-made part)."""
    out = copy.deepcopy(bundle)
    patient = next(e["resource"] for e in out["entry"]
                   if e["resource"]["resourceType"] == "Patient")
    out["entry"].append({"resource": {
        "resourceType": "CareTeam", "id": "team-1", "status": "active",
        "subject": {"reference": f"Patient/{patient['id']}"},
        "period": {"start": "2020-01-01"},
        "participant": [{"role": [{"coding": [{"system": ROLE, "code": c}]}]} for c in codes]}})
    return out


def _facts(mapping_id: str, bundle: dict[str, Any]) -> dict[str, Any]:
    pytest.importorskip("fhirpathpy")
    from koordrules import fhir

    return dict(fhir.map_bundle(fhir.find_mapping(mapping_id), bundle, as_of=AS_OF).record)


def test_a_complex_short_term_patient_is_flagged_only_by_the_local_path(
        catalog: Catalog) -> None:
    record = _facts("helse-vest/anbefaling-3-fhir", _bundle())
    assert record["lifelong_course"] is True                   # epilepsy, from the bundle
    record.update(expected_followup_months=2, involved_units=3, has_coordinator=False,
                  situation_indicates_need=True)
    base = evaluate(catalog.get("helse-vest/anbefaling-3"), record)
    assert base.outcome == "not_indicated" and base.criteria["A"] is False
    local = catalog.get(COMPLEX)
    assert evaluate(local, {**record, "complex_needs": True}).outcome == "assess_complex_needs"
    assert evaluate(local, {**record, "complex_needs": False}).outcome == "not_indicated"
    unasked = evaluate(local, record)
    assert unasked.outcome is None and unasked.missing == ("complex_needs",)
    long_term = evaluate(local, {**record, "expected_followup_months": 12,
                                 "complex_needs": True})
    assert long_term.outcome == "coordinator_likely"            # Anbefaling 3 comes first


def test_the_local_path_says_it_is_local_and_anbefaling_3_says_its_limit(
        catalog: Catalog) -> None:
    local = catalog.get(COMPLEX)
    assert local.status == "draft" and local.extends is not None
    assert "komplekse eller langvarige" in (local.source.quote or "")
    assert "lokal" in local.title.nb
    rule = next(r for r in local.rules if r.id == "assess_complex_needs")
    assert "lokale vei" in (rule.explanation.nb if rule.explanation else "")
    a3 = catalog.get("helse-vest/anbefaling-3")
    assert "komplekse eller" in (a3.notes or "") and "lokal variant" in (a3.notes or "")
    decl = local.input("complex_needs")
    assert decl is not None and decl.kind == "judgement"


def test_a_course_coordinator_is_read_from_its_coded_role(catalog: Catalog) -> None:
    cs = catalog.get(SAY)
    mapping = "helse-vest/anbefaling-3-pasientens-valg-fhir@1.0.0"  # draft, as the variant
    course = _facts(mapping, _with_team(_bundle(), "forlopskoordinator"))
    assert course["has_course_coordinator"] is True and course["has_coordinator"] is True
    result = evaluate(cs, course)
    assert result.outcome == "course_coordinator"
    assert result.trace is not None and "forløpskoordinator" in result.trace.sentence.get("nb")
    municipal = _facts(mapping, _with_team(_bundle(), "koordinator-kommune"))
    assert municipal["has_course_coordinator"] is False and municipal["has_coordinator"] is False
    hospital = _facts(mapping, _with_team(_bundle(), "koordinator-shtj"))
    assert hospital["has_course_coordinator"] is False and hospital["has_coordinator"] is True
    assert evaluate(cs, hospital).outcome == "already_has_coordinator"
    none = _facts(mapping, _bundle())                     # no CareTeam at all: unknown
    assert none["has_course_coordinator"] is None and none["has_coordinator"] is None
    for judgement in ("patient_consents", "can_coordinate_self",
                      "patient_requests_new_assessment"):
        assert none.get(judgement) is None
