"""A local reading of a criterion (``local_reading`` in the file): where the source leaves a
criterion's meaning open and the set reads it in its own way, the trace says so
(``local_readings``, the same from every evaluator) and the explanation says «Lokalt valg i D»
(issue 10, points 7 and 8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import koordrules
from koordrules import Catalog, Result
from koordrules.explain import render_text
from koordrules.trace import trace_dict

ROOT = Path(__file__).resolve().parent.parent
CATALOG = Catalog.builtin()
SETS = [CATALOG.get(f"{i}@{cs.version}") for i in CATALOG.ids() for cs in CATALOG.versions(i)]
A3 = "helse-vest/anbefaling-3@1.0.2"
RECORD = {"expected_followup_months": 9.25, "involved_units": 3, "lifelong_course": True,
          "has_coordinator": False}


@pytest.mark.parametrize("cs", SETS, ids=[cs.key for cs in SETS])
def test_every_evaluator_traces_the_sets_local_readings(cs: koordrules.CriteriaSet) -> None:
    want = [(c.name, c.local_reading, c.origin) for c in cs.criteria
            if c.local_reading is not None]
    results = [koordrules.evaluate(cs, {}), koordrules.evaluate(cs, {}, reference=True),
               koordrules.compile(cs).evaluate({})]
    texts = {r.to_json() for r in results}
    assert len(texts) == 1  # byte-identical, whichever evaluator wrote it
    for result in results:
        assert result.trace is not None
        assert [(r.criterion, r.text, r.origin) for r in result.trace.local_readings] == want
    stored = json.loads(texts.pop())["trace"]["local_readings"]
    assert [r["criterion"] for r in stored] == [name for name, _, _ in want]


def test_anbefaling_3_states_the_readings_the_report_leaves_open() -> None:
    cs = CATALOG.get(A3)
    readings = {c.name: c.local_reading for c in cs.criteria if c.local_reading is not None}
    assert set(readings) == {"B", "D"}
    d = readings["D"].nb
    # point 8: D names professions, the set counts them with units; the mapping does not
    assert "profesjoner" in d and "ikke sykehus eller profesjoner" in d
    # point 7: Anbefaling 10's open referrals are not used, said as a local choice
    assert "«antall åpne henvisninger»" in d and "Anbefaling 10 (kap. 5.3)" in d
    assert "16–18 år" in readings["B"].nb and "faglige vurderinger" in readings["B"].nb
    assert all(r.nn and r.en for r in readings.values())
    # the published 1.0.1 stays as it was
    assert all(c.local_reading is None for c in CATALOG.get("helse-vest/anbefaling-3@1.0.1")
               .criteria)


def test_the_explanation_says_each_local_reading_in_every_language() -> None:
    result = koordrules.evaluate(CATALOG.get(A3), RECORD)
    for lang, start in (("nb", "Lokalt valg i D: Rapporten sier «flere"),
                        ("nn", "Lokalt val i D: Rapporten seier «flere"),
                        ("en", "Local choice in D: The report says «flere")):
        lines = render_text(result, lang=lang).splitlines()
        (line,) = [x for x in lines if x.startswith(start)]
        assert "\n" not in line and "  " not in line  # one line, whitespace folded
        assert [x.split(":")[0] for x in lines if " i B:" in x or " in B:" in x] == [
            {"nb": "Lokalt valg i B", "nn": "Lokalt val i B", "en": "Local choice in B"}[lang]]
    old = render_text(koordrules.evaluate(CATALOG.get("helse-vest/anbefaling-3@1.0.1"),
                                          RECORD))
    assert "Lokalt valg i" not in old


def test_a_stored_result_keeps_its_readings_and_an_old_one_has_none() -> None:
    result = koordrules.evaluate(CATALOG.get(A3), RECORD)
    again = Result.from_json(result.to_json())
    assert again == result and again.trace is not None
    assert [r.criterion for r in again.trace.local_readings] == ["B", "D"]
    data = json.loads(result.to_json())
    del data["trace"]["local_readings"]  # a result stored before readings were recorded
    old = Result.from_json(json.dumps(data, ensure_ascii=False))
    assert old.trace is not None and old.trace.local_readings == ()
    assert trace_dict(old.trace)["local_readings"] == []


def test_a_variant_inherits_a_reading_unless_it_replaces_the_criterion(tmp_path: Path) -> None:
    shutil.copy(ROOT / "criteria" / "helse-vest" / "anbefaling-3.yaml", tmp_path / "a3.yaml")
    (tmp_path / "v.yaml").write_text("""\
id: test/variant
version: 1.0.0
title: Variant
status: draft
effective_from: 2026-12-03
source:
  document: "koordrules: test"
extends: helse-vest/anbefaling-3@1.0.2
changelog:
  - version: 1.0.0
    date: 2026-12-03
    changes: Første versjon.
criteria:
  D:
    title: Minst tre enheter
    when: involved_units >= 3
    local_reading: Lokalt valg her – tre enheter, profesjoner telles ikke.
""", encoding="utf-8")
    cs = Catalog.load(tmp_path).get("test/variant@1.0.0")
    result = koordrules.evaluate(cs, RECORD)
    assert result.trace is not None
    got = [(r.criterion, r.origin) for r in result.trace.local_readings]
    assert got == [("B", "helse-vest/anbefaling-3@1.0.2"), ("D", "test/variant@1.0.0")]
    assert ("Lokalt valg i D: Lokalt valg her – tre enheter, profesjoner telles ikke."
            in render_text(result).splitlines())
    assert koordrules.compile(cs).evaluate(RECORD).to_json() == result.to_json()


@pytest.mark.parametrize("ref", ["helse-bergen/buk-nefrologi", "helse-bergen/spinalenheten",
                                 "helse-vest/anbefaling-2-ruting"])
def test_the_current_unit_variants_carry_the_base_readings(ref: str) -> None:
    cs = CATALOG.get(ref)  # the current version, on anbefaling-3 1.0.2
    result = koordrules.evaluate(cs, {})
    assert result.trace is not None
    assert [(r.criterion, r.origin) for r in result.trace.local_readings] == [
        ("B", A3), ("D", A3)]
