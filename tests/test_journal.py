"""The journal note of a decided result (the coordinator procedure, seed 002: offer, basis,
name, times; and what the discharge summary must contain), from the versioned template
criteria/ous/koordinator-journalnotat.journal.yaml, on a real Synthea patient."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fidelity import normalise, seeds_dir

from koordrules import Catalog, CatalogError, UndecidedError, evaluate
from koordrules.cli import main
from koordrules.journal import (
    builtin_journal_template,
    journal_note,
    load_journal_template,
    render_journal,
)

ROOT = Path(__file__).resolve().parent.parent
DIRK = ROOT / "examples" / "fhir" / "synthea" / "r4-dirk-kuhlman.json"
TEMPLATE = ROOT / "criteria" / "ous" / "koordinator-journalnotat.journal.yaml"
VARIANT = "helse-vest/anbefaling-3-pasientens-valg@1.0.0"


@pytest.fixture(scope="module")
def dirk() -> dict[str, Any]:
    """Dirk Kuhlman's facts from the shipped mapping (epilepsy: a lifelong course), plus what
    the ward knows: 12 months of follow-up, three units, C judged to hold, no coordinator."""
    pytest.importorskip("fhirpathpy")
    from koordrules import fhir

    mapped = fhir.map_bundle(fhir.find_mapping("helse-vest/anbefaling-3-fhir"),
                             json.loads(DIRK.read_text("utf-8")), as_of=dt.date(2021, 3, 2))
    record = dict(mapped.record)
    assert record["lifelong_course"] is True
    record.update(expected_followup_months=12, involved_units=3, has_coordinator=False,
                  situation_indicates_need=True)
    return record


def _line(lines: Any, ident: str) -> Any:
    return next(x for x in lines if x.id == ident)


def test_the_template_follows_the_procedure_word_for_word() -> None:
    spec = load_journal_template(TEMPLATE)
    assert spec == builtin_journal_template()
    seed = normalise(next(seeds_dir().glob("002_*.txt")).read_text("utf-8"))
    assert normalise(spec.document_title) in seed
    for section in (spec.note, spec.discharge_summary):
        assert section.source_quote is not None and normalise(section.source_quote) in seed
    for ident in ("tilbud", "navn", "tidspunkt"):  # the procedure's own items
        assert normalise(_line(spec.note.fields, ident).label.nb) in seed
    assert [f.fill for f in spec.note.fields] == ["outcome", "outcome", "basis", "assessed_at",
                                                  "clinician", "clinician"]


def test_patient_declines_note_says_the_offer_and_the_basis(dirk: dict[str, Any]) -> None:
    cs = Catalog.builtin().get(VARIANT)
    result = evaluate(cs, {**dirk, "patient_consents": False})
    assert result.outcome == "patient_declines"
    note = journal_note(result, cs, assessed_at=dt.datetime(2021, 3, 2, 10, 30))
    assert _line(note.note, "tilbud").text == "Ja. Pasienten har takket nei til koordinator."
    basis = _line(note.note, "grunnlag").text
    assert basis is not None
    assert "Kriteriene er oppfylt, men pasienten takker nei" in basis
    assert "Kriteriene i Anbefaling 3 er oppfylt" in basis
    assert f"{cs.id} {cs.version}" in basis
    assert _line(note.note, "vurdert").text == "2021-03-02 10:30"
    assert _line(note.note, "navn").text is None
    assert _line(note.discharge_summary, "oppnevnt").text == (
        "Nei, pasienten har takket nei til koordinator.")
    text = render_journal(note)
    assert text.startswith("koordinator‐ pasienter med behov for langvarige og koordinerte "
                           "tjenester\n")
    assert "- Navn på KO: (fylles ut av klinikeren)" in text
    assert "Vurderes: ved første visitt etter innleggelse på post" in text
    assert "Epikrise" in text and "(Mal: ous/koordinator-journalnotat@1.0.0)" in text


def test_an_offer_not_yet_answered_is_left_to_the_clinician(dirk: dict[str, Any]) -> None:
    cs = Catalog.builtin().get(VARIANT)
    result = evaluate(cs, dirk)
    assert result.outcome == "coordinator_likely"
    note = journal_note(result, cs)
    assert _line(note.note, "tilbud").text is None
    assert _line(note.note, "vurdert").text is None
    assert "sannsynlig" in (_line(note.note, "grunnlag").text or "")


@pytest.mark.parametrize(("lang", "label", "blank"), [
    ("nn", "Namn på KO", "(fyllast ut av klinikaren)"),
    ("en", "Name of the coordinator", "(to be filled in by the clinician)"),
])
def test_nynorsk_and_english(dirk: dict[str, Any], lang: str, label: str, blank: str) -> None:
    cs = Catalog.builtin().get(VARIANT)
    note = journal_note(evaluate(cs, {**dirk, "patient_consents": False}), cs, lang=lang)
    assert f"- {label}: {blank}" in render_journal(note)
    with pytest.raises(ValueError, match="nb"):
        journal_note(evaluate(cs, dirk), cs, lang="se")


def test_an_undecided_result_has_no_note(dirk: dict[str, Any]) -> None:
    cs = Catalog.builtin().get("helse-vest/anbefaling-3")
    record = {**dirk, "expected_followup_months": None}
    result = evaluate(cs, record)
    assert result.outcome is None
    with pytest.raises(UndecidedError) as info:
        journal_note(result, cs)
    assert info.value.code == "undecided"
    assert "expected_followup_months" in info.value.message
    assert "12" not in info.value.message  # names, never values
    other = Catalog.builtin().get(VARIANT)
    with pytest.raises(CatalogError):
        journal_note(evaluate(other, dirk), cs)


def test_explain_journal_on_the_command_line(tmp_path: Path, dirk: dict[str, Any],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "records.jsonl"
    decided = {**dirk, "patient_consents": False}
    undecided = {**dirk, "expected_followup_months": None}
    records.write_text(json.dumps(decided, default=str) + "\n"
                       + json.dumps(undecided, default=str) + "\n", encoding="utf-8")
    code = main(["explain", VARIANT, str(records), "--journal"])
    captured = capsys.readouterr()
    assert code == 1
    assert "- Om pasienten har fått tilbud om KO: Ja. Pasienten har takket nei til " \
           "koordinator." in captured.out
    assert "record 2: undecided:" in captured.err
    assert main(["explain", VARIANT, str(records), "--journal", "--lang", "en"]) == 1
    assert "Whether the patient has been offered a coordinator" in capsys.readouterr().out


def test_check_reads_the_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    root = tmp_path / "criteria"
    shutil.copytree(ROOT / "criteria", root)
    (root / "criteria.lock").unlink()  # edits without a version bump: tests/test_lock_data.py
    path = root / "ous" / "koordinator-journalnotat.journal.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("        patient_declines:\n          nb: Ja.",
                                 "        patient_declined:\n          nb: Ja.", 1), "utf-8")
    assert main(["check", "--lang", "en", str(root)]) == 0
    out = capsys.readouterr().out
    assert "warning: journal_outcome_unknown: no criteria set has an outcome " \
           "'patient_declined'" in out and "did you mean 'patient_declines'?" in out
    path.write_text(text.replace("fill: basis", "fill: grunnlag"), "utf-8")
    assert main(["check", "--lang", "en", str(root)]) == 1
    assert "schema_error" in capsys.readouterr().out
