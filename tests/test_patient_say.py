"""The patient's say and course coordinators (helse-vest/anbefaling-3-pasientens-valg): a
result can say "criteria met, patient declines" while its criteria still say they are met,
in the Result, the trace, the explanation (nb/en) and the JSON. Shown on a real Synthea
patient (examples/fhir/synthea/, see its SOURCES.md) whose facts come from the shipped
Anbefaling 3 FHIR mapping; the conversation with the patient is added as judgements."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from koordrules import Catalog, Result, evaluate
from koordrules.explain import render_text

ROOT = Path(__file__).resolve().parent.parent
DIRK = ROOT / "examples" / "fhir" / "synthea" / "r4-dirk-kuhlman.json"
SET = "helse-vest/anbefaling-3-pasientens-valg@1.0.0"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.builtin()


def _dirk() -> dict[str, Any]:
    """Dirk Kuhlman's facts as of his last encounter (epilepsy: a lifelong course), plus what
    the ward knows about him: 12 months of follow-up, three units, C judged to hold."""
    pytest.importorskip("fhirpathpy")
    from koordrules import fhir

    mapped = fhir.map_bundle(fhir.find_mapping("helse-vest/anbefaling-3-fhir"),
                             json.loads(DIRK.read_text("utf-8")), as_of=dt.date(2021, 3, 2))
    record = dict(mapped.record)
    assert record["lifelong_course"] is True            # from the bundle, not from the test
    record.update(expected_followup_months=12, involved_units=3, has_coordinator=False,
                  situation_indicates_need=True)
    return record


def test_criteria_met_and_the_patient_declines_says_both(catalog: Catalog) -> None:
    cs = catalog.get(SET)
    result = evaluate(cs, {**_dirk(), "patient_consents": False})
    assert result.outcome == "patient_declines"
    assert result.criteria["criteria_met"] is True
    assert {k: result.criteria[k] for k in "ABCD"} == {"A": True, "B": True, "C": True,
                                                       "D": True}
    assert result.trace is not None
    assert "pasienten har takket nei" in result.trace.sentence.get("nb")
    assert "the patient has declined" in result.trace.sentence.get("en")
    assert "samtykke" in render_text(result, lang="nb")
    again = Result.from_json(result.to_json())
    assert again == result and again.outcome == "patient_declines"
    assert json.loads(result.to_json())["criteria"]["criteria_met"] is True


def test_an_unasked_patient_is_offered_a_coordinator_not_counted_as_a_no(
        catalog: Catalog) -> None:
    cs = catalog.get(SET)
    result = evaluate(cs, _dirk())
    assert result.outcome == "coordinator_likely"
    assert result.trace is not None
    assert "krever samtykke fra pasienten" in result.trace.sentence.get("nb")
    assert evaluate(cs, {**_dirk(), "patient_consents": True}).outcome == "coordinator_likely"


def test_a_patient_who_coordinates_themself_and_a_request_for_a_new_assessment(
        catalog: Catalog) -> None:
    cs = catalog.get(SET)
    assert evaluate(cs, {**_dirk(), "can_coordinate_self": True}).outcome == "coordinates_self"
    short = {**_dirk(), "expected_followup_months": 2}          # A does not hold
    assert evaluate(cs, short).outcome == "not_indicated"
    asked = evaluate(cs, {**short, "patient_requests_new_assessment": True})
    assert asked.outcome == "new_assessment" and asked.criteria["criteria_met"] is False
    assert asked.trace is not None and "KE" in asked.trace.sentence.get("nb")


def test_a_course_coordinator_has_a_coordinator_with_its_own_sentence(
        catalog: Catalog) -> None:
    cs = catalog.get(SET)
    result = evaluate(cs, {**_dirk(), "has_coordinator": True, "has_course_coordinator": True})
    assert result.outcome == "course_coordinator"
    assert result.trace is not None
    assert "forløpskoordinatoren ivaretar den lovpålagte" in result.trace.sentence.get("nb")
    plain = evaluate(cs, {**_dirk(), "has_coordinator": True})
    assert plain.outcome == "already_has_coordinator"


def test_the_base_set_does_not_change(catalog: Catalog) -> None:
    """Anbefaling 3 itself knows nothing of consent: the variant adds it."""
    base = catalog.get("helse-vest/anbefaling-3@1.0.0")
    assert base.input("patient_consents") is None
    assert evaluate(base, {k: v for k, v in _dirk().items()
                           if base.input(k) is not None}).outcome == "coordinator_likely"
