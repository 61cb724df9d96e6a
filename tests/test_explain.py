"""Explanations written for people: the outcome and the criteria in the file's titles, what to
ask as the inputs' descriptions, code names and positions only with ``--verbose``.

The golden files in tests/golden/ are the explanations of the five example patients
(examples/anbefaling-3-patients.jsonl) under the shipped Anbefaling 3, in bokmål, nynorsk and
English; refresh them with ``KOORDRULES_UPDATE_GOLDEN=1 pytest tests/test_explain.py`` and read
the diff before committing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from conftest import HEADER

import koordrules
from koordrules import load_text
from koordrules.cli import main
from koordrules.explain import render_text

ROOT = Path(__file__).parents[1]
PATIENTS = ROOT / "examples/anbefaling-3-patients.jsonl"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KOORDRULES_UPDATE_GOLDEN") == "1"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("lang", "verbose"), [
    ("nb", False), ("nn", False), ("en", False), ("nb", True)])
def test_the_five_example_patients_match_the_golden_files(lang: str, verbose: bool) -> None:
    argv = ["explain", "helse-vest/anbefaling-3", str(PATIENTS), "--id-field", "patient",
            "--lang", lang] + (["--verbose"] if verbose else [])
    code, out, err = run(*argv)
    assert code == 0, err
    golden = GOLDEN / f"anbefaling-3-patients.{lang}{'.verbose' if verbose else ''}.txt"
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; refresh with KOORDRULES_UPDATE_GOLDEN=1 and read the diff")


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_without_verbose_no_code_names_and_no_paths(lang: str) -> None:
    code, out, _ = run("explain", "helse-vest/anbefaling-3", str(PATIENTS), "--lang", lang,
                       "--id-field", "patient")
    assert code == 0
    cs = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")
    names = ([i.name for i in cs.inputs] + [p.name for p in cs.parameters]
             + [o.id for o in cs.outcomes])
    for name in names:
        assert name not in out, name
    for code_text in ("at_least", ".yaml", "/site-packages/", str(ROOT)):
        assert code_text not in out


def test_verbose_positions_are_relative_to_the_catalogue() -> None:
    code, out, _ = run("explain", "helse-vest/anbefaling-3", str(PATIENTS), "--verbose",
                       "--id-field", "patient")
    assert code == 0
    assert "(helse-vest/anbefaling-3.yaml:" in out
    assert str(ROOT) not in out and "criteria/helse-vest" not in out


TITLE = "title: {nb: Prøvesett, nn: Prøvesett, en: Test set}"
SET = HEADER.replace("title: Test set", TITLE) + """\
inputs:
  months: {type: integer, kind: data, description: Forventet oppfølging i måneder}
  asks: {type: boolean, kind: judgement, description: "Ønsker pasienten en koordinator?"}
criteria:
  A:
    title: {nb: Lang oppfølging, nn: Lang oppfølging (nn), en: Long follow-up}
    when: months > 6
  W:
    title: {nb: Pasienten ønsker det, nn: Pasienten ønskjer det, en: The patient wishes it}
    when: asks
outcomes:
  - id: likely
    title: {nb: Sannsynlig, nn: Truleg, en: Likely}
    explanation: {nb: Begge holder., nn: Begge held., en: Both hold.}
    when: A and W
  - id: other
    title: {nb: Ikke oppfylt, nn: Ikkje oppfylt, en: Not met}
    otherwise: true
"""


def test_judgement_inputs_are_questions_and_data_inputs_are_their_descriptions() -> None:
    cs = load_text(SET)
    text = render_text(koordrules.evaluate(cs, {"months": 12}), criteria_set=cs)
    assert "Utfall: ikke avgjort – det kan bli «Sannsynlig» / «Ikke oppfylt»." in text
    assert "Oppfylt: A – Lang oppfølging." in text
    assert "Ukjent (mangler opplysninger): W – Pasienten ønsker det." in text
    assert ("  - Spørsmål til klinikeren eller pasienten: Ønsker pasienten en koordinator?"
            in text)
    text = render_text(koordrules.evaluate(cs, {"asks": True}), criteria_set=cs)
    assert "  - Forventet oppfølging i måneder" in text
    assert "Spørsmål til klinikeren" not in text  # months is data, not judgement


def test_nynorsk_titles_where_given_and_a_note_where_bokmal_fills_in() -> None:
    cs = load_text(SET)
    text = render_text(koordrules.evaluate(cs, {"months": 12, "asks": True}), lang="nn",
                       criteria_set=cs)
    assert "Utfall: Truleg.\nBegge held.\n" in text
    assert "Oppfylt: A – Lang oppfølging (nn); W – Pasienten ønskjer det." in text
    assert "bokmål" not in text  # every text shown exists in nynorsk
    text = render_text(koordrules.evaluate(cs, {"months": 12}), lang="nn", criteria_set=cs)
    assert "Spørsmål til klinikaren eller pasienten: Ønsker pasienten en koordinator?" in text
    assert "(Nokre tekstar finst ikkje på nynorsk i kriteriefila og står her på bokmål.)" in text


def test_verbose_adds_the_technical_section_after_the_text_for_people() -> None:
    cs = load_text(SET)
    result = koordrules.evaluate(cs, {"months": 12})
    short = render_text(result, criteria_set=cs)
    long = render_text(result, criteria_set=cs, verbose=True)
    assert long.startswith(short.rstrip("\n"))
    technical = long[len(short):]
    assert "Teknisk (for den som vedlikeholder kriteriene)" in technical
    assert "months > 6 → JA" in technical
    assert "Opplysninger som mangler og kan avgjøre utfallet: asks" in technical
    assert "asks" not in short and "months" not in short


def test_an_unknown_language_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    cs = load_text(SET)
    with pytest.raises(ValueError, match="'nb', 'nn' or 'en'"):
        render_text(koordrules.evaluate(cs, {}), lang="se")
    code, _, _ = run("explain", "helse-vest/anbefaling-3", str(PATIENTS), "--lang", "se")
    assert code == 2
    assert "invalid choice: 'se' (choose from 'nb', 'nn', 'en')" in capsys.readouterr().err
