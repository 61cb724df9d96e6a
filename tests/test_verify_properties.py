"""Proved properties (koordrules.verify): every shipped set verifies clean, and sets that break
each property fail with the expected counterexample, re-checked with the reference interpreter."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("z3")

import koordrules
from koordrules import CriteriaSet
from koordrules.cli import main
from koordrules.loader import build, read_text
from koordrules.verify.changes import prove_changes
from koordrules.verify.encode import Encoding
from koordrules.verify.properties import (
    Proof,
    prove_criteria,
    prove_equivalent,
    prove_missing,
    prove_monotone,
    prove_narrows,
    prove_outcomes,
    prove_variant,
)
from koordrules.verify.report import verify_sets
from koordrules.verify.whatif import render_alternatives, what_would_change

CATALOG = koordrules.Catalog.builtin()
SHIPPED = list(CATALOG)
A3 = CATALOG.get("helse-vest/anbefaling-3@1.0.1")
A3_TEXT = Path(str(A3.file)).read_text(encoding="utf-8")
PILOT = "helse-forde/pilot-2023@"


def edited(*replacements: tuple[str, str], checked: bool = True) -> CriteriaSet:
    """A copy of Anbefaling 3 with each ``old`` text replaced by ``new`` (each must occur);
    ``checked=False``: built without ``check`` (which rejects some of these mistakes itself,
    without z3), so the proof is shown to find them too."""
    text = A3_TEXT
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    if not checked:
        built, _ = build(read_text(text, file="anbefaling-3-copy.yaml"))
        assert built is not None
        return built
    return koordrules.load_text(text, file="anbefaling-3-copy.yaml")


def outcome(cs: CriteriaSet, record: dict[str, Any]) -> str | None:
    return koordrules.evaluate(cs, record, trace=False).outcome


def failing(proofs: list[Proof]) -> list[Proof]:
    return [p for p in proofs if p.decided and not p.holds]


# --- every shipped set --------------------------------------------------------------------


def test_every_shipped_set_verifies_clean() -> None:
    reports = verify_sets(SHIPPED)
    assert [r.key for r in reports] == [cs.key for cs in SHIPPED]
    for r in reports:
        assert r.failures == [], (r.key, [p.message for p in r.failures])
        assert r.undecided == [], (r.key, [p.message for p in r.undecided])
        kinds = {p.property for p in r.proofs}
        assert {"fires", "values", "missing"} <= kinds, r.key
    proved = {p.property for r in reports for p in r.proofs}
    assert {"monotone", "narrows", "variant"} <= proved


def test_the_pilot_versions_are_proved_to_narrow() -> None:
    wide = CATALOG.get(PILOT + "1.0.0")
    for version in ("2.0.0", "2.1.0"):
        proof = prove_narrows(CATALOG.get(PILOT + version), wide)
        assert proof.holds and proof.decided, proof.message


# --- sets that break a property -----------------------------------------------------------


def test_a_false_narrows_gives_a_record_the_narrow_set_flags_and_the_wide_does_not() -> None:
    wide, narrow = CATALOG.get(PILOT + "2.0.0"), CATALOG.get(PILOT + "1.0.0")
    proof = prove_narrows(narrow, wide)
    assert not proof.holds and proof.record is not None
    assert outcome(narrow, proof.record) in {r.id for r in narrow.rules}
    assert outcome(wide, proof.record) not in {r.id for r in wide.rules}
    assert proof.cases[0]["inputs"] == proof.record


def test_an_inverted_d_breaks_the_declared_numeric_monotonicity() -> None:
    cs = edited(("when: involved_units >= min_units_involved",
                 "when: involved_units < min_units_involved"),
                ("      - situation_indicates_need\n",
                 "      - situation_indicates_need\n      - involved_units\n"))
    enc = Encoding(cs)
    [proof] = prove_monotone(cs, enc)
    assert not proof.holds
    assert proof.record is not None and proof.other is not None
    assert proof.record["involved_units"] < proof.other["involved_units"]
    assert outcome(cs, proof.record) == "coordinator_likely"
    assert outcome(cs, proof.other) != "coordinator_likely"
    assert "raising involved_units" in proof.message
    before, after = proof.cases
    assert after["expect"] == {"outcome": "coordinator_likely"}
    assert before["inputs"] == proof.record and after["inputs"] == proof.other
    # the shipped D, declared monotone in involved_units too, is proved
    fine = edited(("      - situation_indicates_need\n",
                   "      - situation_indicates_need\n      - involved_units\n"))
    assert all(p.holds for p in prove_monotone(fine, Encoding(fine)))


def test_a_threshold_moved_from_ge_to_gt_is_found_at_the_boundary() -> None:
    moved = edited(("involved_units >= min_units_involved", "involved_units > min_units_involved"))
    proof = prove_equivalent(A3, moved)
    assert not proof.holds and proof.record is not None
    assert proof.record["involved_units"] == 2
    assert outcome(A3, proof.record) != outcome(moved, proof.record)
    # a pure refactor changes nothing
    same = edited(("involved_units >= min_units_involved",
                   "not (involved_units < min_units_involved)"),
                  ("when: situation_indicates_need", "when: situation_indicates_need == true"))
    assert prove_equivalent(A3, same).holds


def test_a_rule_shadowed_by_an_earlier_rule_is_reported_with_a_record() -> None:
    cs = edited(("  - id: not_indicated\n    otherwise: true",
                 "  - id: all_four\n    when: A and B and C and D\n    title: Alle fire\n"
                 "  - id: not_indicated\n    otherwise: true"), checked=False)
    proofs = failing(prove_outcomes(cs, Encoding(cs)))
    assert [(p.property, p.subject) for p in proofs] == [("shadowed", "all_four")]
    record = proofs[0].record
    assert record is not None
    assert outcome(cs, record) in {"already_has_coordinator", "coordinator_likely"}
    assert koordrules.evaluate(cs, record, trace=False).criteria == {
        "A": True, "B": True, "C": True, "D": True}


def test_a_condition_that_can_never_hold_on_its_declared_domain_is_constant() -> None:
    cs = edited(("  has_coordinator:\n",
                 "  clinical_frailty_scale:\n    type: integer\n    kind: data\n    min: 1\n"
                 "    max: 9\n  has_coordinator:\n"),
                ("  - id: not_indicated\n    otherwise: true",
                 "  - id: frail\n    when: clinical_frailty_scale > 9\n    title: Skrøpelig\n"
                 "  - id: not_indicated\n    otherwise: true"),
                ("    when: situation_indicates_need\n",
                 "    when: situation_indicates_need or clinical_frailty_scale > 9\n"),
                checked=False)
    enc = Encoding(cs)
    rules = failing(prove_outcomes(cs, enc))
    assert [(p.property, p.subject) for p in rules] == [("constant", "frail")]
    criteria = failing(prove_criteria(cs, enc))
    assert criteria == []  # C still reads situation_indicates_need
    never = edited(("when: situation_indicates_need\n", "when: involved_units > 100\n"),
                   checked=False)
    [c] = failing(prove_criteria(never, Encoding(never)))
    assert (c.property, c.subject) == ("constant", "C")
    assert "can never be true" in c.message


WRONG_MISSING = """\
id: test/wrong-missing
version: 1.0.0
title: A condition whose number cannot matter
status: draft
effective_from: 2024-01-01
source:
  document: Test document
inputs:
  x: {type: integer, kind: data, min: 0, max: 10}
  flag: {type: boolean, kind: data}
criteria:
  K:
    title: always when x is known
    when: x > 5 or x <= 5
outcomes:
  - {id: hit, title: hit, when: K and flag}
  - {id: rest, title: rest, otherwise: true}
"""


def test_a_missing_that_names_an_input_that_cannot_matter_is_refuted() -> None:
    cs = koordrules.load_text(WRONG_MISSING, file="wrong-missing.yaml")
    [proof] = prove_missing(cs, Encoding(cs))
    assert not proof.holds and proof.subject == "x"
    assert proof.record is not None and "x" not in proof.record
    result = koordrules.evaluate(cs, proof.record, trace=False)
    assert "x" in result.missing
    # filling in x, whatever its value, gives the same outcome
    outcomes = {outcome(cs, {**proof.record, "x": v}) for v in range(11)}
    assert len(outcomes) == 1
    [case] = proof.cases
    assert "x" not in case["expect"]["missing"]


def test_missing_is_proved_exact_for_anbefaling_3() -> None:
    [proof] = prove_missing(A3, Encoding(A3))
    assert proof.holds and proof.decided


def test_a_variant_agrees_with_its_base_off_its_overrides() -> None:
    variant = CATALOG.get("helse-bergen/spinalenheten@1.0.0")
    proof = prove_variant(A3, variant)
    assert proof.holds and proof.decided, proof.message


# --- koordrules verify ----------------------------------------------------------------------


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_verify_proves_a_shipped_set_by_reference() -> None:
    code, out, err = _run("verify", "helse-vest/anbefaling-3@1.0.1")
    assert code == 0
    assert err.startswith("1 set(s) proved in ") and err.endswith(": all properties proved\n")
    assert "ok   monotone: coordinator_likely increasing in high_treatment_intensity" in out


def test_verify_fails_with_the_counterexample_and_writes_it_as_cases(tmp_path: Path) -> None:
    folder = tmp_path / "helse-vest"
    folder.mkdir()
    text = A3_TEXT.replace("when: involved_units >= min_units_involved",
                           "when: involved_units < min_units_involved").replace(
        "      - situation_indicates_need\n",
        "      - situation_indicates_need\n      - involved_units\n")
    (folder / "anbefaling-3.yaml").write_text(text, encoding="utf-8")
    code, out, err = _run("verify", str(folder), "--write-cases", str(folder))
    assert code == 1
    assert "FAIL monotone: coordinator_likely increasing in" in out
    assert "raising involved_units from" in out
    [written] = folder.glob("*.verify.cases.yaml")
    assert written.name == "helse-vest-anbefaling-3-1.0.1.verify.cases.yaml"
    assert f"wrote 2 case(s) to {written}" in err
    # the written file is a case file `koordrules test` runs: the claim fails until D is fixed
    code, out, _ = _run("test", str(written), "--catalog", str(folder),
                        "--allow-incomplete-coverage")
    assert code == 1
    assert "monotont i involved_units: utgangspunktet" not in out
    assert "FAIL" in out and "monotont i involved_units: involved_units endret" in out
    code, out, _ = _run("verify", str(folder / "anbefaling-3.yaml"), "--format", "json")
    [report] = json.loads(out)
    [failed] = [p for p in report["proofs"] if not p["holds"]]
    assert failed["property"] == "monotone" and failed["record"]["involved_units"] < 2


# --- koordrules diff --prove ---------------------------------------------------------------


def test_diff_prove_finds_the_boundary_record_of_a_moved_threshold(tmp_path: Path) -> None:
    moved = tmp_path / "anbefaling-3.yaml"
    moved.write_text(A3_TEXT.replace("involved_units >= min_units_involved",
                                     "involved_units > min_units_involved"), encoding="utf-8")
    proof = prove_changes(A3, koordrules.load(moved))
    assert proof.decided and not proof.equivalent
    pairs = {(c.old, c.new) for c in proof.changes}
    assert ("coordinator_likely", "not_indicated") in pairs
    assert all(c.record.get("involved_units") == 2 for c in proof.changes
               if (c.old, c.new) == ("coordinator_likely", "not_indicated"))
    assert ("not_indicated", "coordinator_likely") in proof.never
    code, out, err = _run("diff", "helse-vest/anbefaling-3@1.0.1", str(moved), "--prove")
    assert code == 0 and err.startswith("proved in ")
    assert out.startswith(f"helse-vest/anbefaling-3@1.0.1 → {A3.key}: not equivalent")
    assert "coordinator_likely → not_indicated" in out
    code, out, _ = _run("diff", "helse-vest/anbefaling-3@1.0.1", str(moved), "--prove",
                        "--format", "json")
    data = json.loads(out)
    assert data["equivalent"] is False and data["changes"]


def test_diff_prove_shows_a_refactor_changes_nothing(tmp_path: Path) -> None:
    same = tmp_path / "anbefaling-3.yaml"
    same.write_text(A3_TEXT.replace("involved_units >= min_units_involved",
                                    "not (involved_units < min_units_involved)"),
                    encoding="utf-8")
    code, out, _ = _run("diff", "helse-vest/anbefaling-3@1.0.1", str(same), "--prove")
    assert code == 0
    assert out == f"helse-vest/anbefaling-3@1.0.1 → {A3.key}: equivalent for every record\n"
    code, _, err = _run("diff", "helse-vest/anbefaling-3@1.0.1", str(same))
    assert code == 2 and "COHORT is needed unless --prove" in err


def test_diff_prove_with_a_cohort_prints_the_proof_and_the_figures() -> None:
    cohort = Path(__file__).resolve().parent.parent / "examples" / "cohort.jsonl"
    code, out, _ = _run("diff", PILOT + "1.0.0", PILOT + "2.0.0", str(cohort),
                        "--prove")
    assert code == 0
    assert "helse-forde/pilot-2023@1.0.0 → helse-forde/pilot-2023@2.0.0: not equivalent" in out
    assert "helse-forde/pilot-2023 1.0.0 → 2.0.0, 3000" in out.split("as cases")[1]


# --- koordrules check: proved warnings ------------------------------------------------------


def test_check_warns_about_conditions_only_the_proof_finds_constant(tmp_path: Path) -> None:
    def written(rule: str) -> Path:
        text = A3_TEXT.replace(
            "  has_coordinator:\n",
            "  clinical_frailty_scale:\n    type: integer\n    kind: data\n    min: 1\n"
            "    max: 9\n  has_coordinator:\n", 1).replace(
            "  - id: not_indicated\n    otherwise: true",
            rule + "  - id: not_indicated\n    otherwise: true")
        path = tmp_path / "anbefaling-3.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    # no square of an integer is 2: the checks without z3 do not see it, the proof does
    path = written("  - id: frail\n    when: clinical_frailty_scale * clinical_frailty_scale == 2"
                   "\n    title: Skrøpelig\n")
    code, out, err = _run("check", "--lang", "en", str(path))
    assert code == 1  # check reports a rule that can never fire as an error (issue 17)
    [line] = out.splitlines()
    assert ": constant_condition: outcome 'frail' can never fire: its condition is " \
           "never true over the declared domains of its inputs" in line
    assert err.endswith("1 set(s) checked: 1 error(s), 0 warning(s)\n")
    # a mistake the checks without z3 report is not reported twice
    path = written("  - id: all_four\n    when: A and B and C and D\n    title: Alle fire\n"
                   "  - id: frail\n    when: clinical_frailty_scale > 9\n    title: Skrøpelig\n")
    _, out, _ = _run("check", "--lang", "en", str(path))
    codes = [re.search(r": (?:warning: )?(\w+): ", line) for line in out.splitlines()]
    assert [m.group(1) for m in codes if m] == ["shadowed_rule", "never_true"]


def test_check_of_the_shipped_catalogue_has_no_proved_warnings() -> None:
    code, out, err = _run("check", "--lang", "en", str(Path(str(A3.file)).parent.parent))
    assert code == 0 and out == ""
    assert err.endswith(f"{len(SHIPPED)} set(s) checked: 0 error(s), 0 warning(s)\n")


def test_without_z3_check_is_silent_and_says_so_when_verbose(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in [m for m in sys.modules if m.startswith("koordrules.verify")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "z3", None)
    path = str(A3.file)
    code, out, err = _run("check", "--lang", "en", path)
    assert (code, out) == (0, "") and "note:" not in err
    code, out, err = _run("check", "--lang", "en", "-v", path)
    assert code == 0
    assert err.startswith("note: shadowed rules and constant conditions not proved: proofs "
                          "need z3-solver: pip install 'koordrules[verify]'\n")


# --- koordrules.testing ---------------------------------------------------------------------


def test_check_proofs_raises_a_property_failure_with_the_counterexample() -> None:
    from koordrules.testing import PropertyFailure, check_proofs

    check_proofs(A3)
    cs = edited(("when: involved_units >= min_units_involved",
                 "when: involved_units < min_units_involved"),
                ("      - situation_indicates_need\n",
                 "      - situation_indicates_need\n      - involved_units\n"))
    with pytest.raises(PropertyFailure) as info:
        check_proofs(cs)
    assert info.value.property.startswith("monotone (coordinator_likely increasing in")
    assert info.value.record is not None
    assert outcome(cs, info.value.record) == "coordinator_likely"


# --- what would change it -------------------------------------------------------------------

ONE_UNIT = {"has_coordinator": False, "expected_followup_months": 12,
            "newly_diagnosed_chronic": True, "involved_units": 1,
            "situation_indicates_need": False, "high_treatment_intensity": False,
            "individually_adapted_pathway": False, "lifelong_course": False,
            "transition_child_to_adult": False}


def test_what_would_change_gives_the_smallest_changes_to_each_other_outcome() -> None:
    assert outcome(A3, ONE_UNIT) == "not_indicated"
    alternatives = what_would_change(A3, ONE_UNIT, pinned={"has_coordinator"})
    changes = [(a.outcome, a.changes) for a in alternatives]
    assert ("coordinator_likely", {"involved_units": 2}) in changes
    assert ("coordinator_likely", {"situation_indicates_need": True}) in changes
    assert all(o != "already_has_coordinator" for o, _ in changes)  # pinned
    for a in alternatives:
        assert outcome(A3, {**ONE_UNIT, **a.changes}) == a.outcome
    text = render_alternatives(A3, alternatives, decided=True)
    assert "  med involved_units = 2 ville utfallet vært «Koordinator er sannsynlig»\n" in text
    unpinned = what_would_change(A3, ONE_UNIT)
    assert ("already_has_coordinator", {"has_coordinator": True}) in [
        (a.outcome, a.changes) for a in unpinned]


def test_what_the_missing_inputs_decide_for_an_undetermined_record() -> None:
    record = {k: v for k, v in ONE_UNIT.items() if k != "situation_indicates_need"}
    result = koordrules.evaluate(A3, record, trace=False)
    assert result.outcome is None and result.missing == ("situation_indicates_need",)
    alternatives = what_would_change(A3, record)
    assert [(a.outcome, a.changes) for a in alternatives] == [
        ("coordinator_likely", {"situation_indicates_need": True}),
        ("not_indicated", {"situation_indicates_need": False})]
    assert render_alternatives(A3, alternatives, decided=False, lang="en") == (
        "What the missing inputs decide:\n"
        "  with situation_indicates_need = yes the outcome is «A coordinator is likely»\n"
        "  with situation_indicates_need = no the outcome is «The criteria are not met»\n")


def test_explain_what_if_prints_the_alternatives_after_the_explanation(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"patient": "p1", **ONE_UNIT}) + "\n", encoding="utf-8")
    code, out, _ = _run("explain", "helse-vest/anbefaling-3@1.0.1", str(records),
                        "--id-field", "patient", "--what-if", "--pin-data")
    assert code == 0
    tail = out.split("Hva ville endret utfallet:\n")[1]
    assert tail == ("  med situation_indicates_need = ja ville utfallet vært "
                    "«Koordinator er sannsynlig»\n")
    code, out, _ = _run("explain", "helse-vest/anbefaling-3@1.0.1", str(records),
                        "--id-field", "patient", "--what-if", "--pin", "has_coordinator")
    assert "  med involved_units = 2 ville utfallet vært «Koordinator er sannsynlig»\n" in out
