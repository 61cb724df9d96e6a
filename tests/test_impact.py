"""Revision impact: transition matrix, flagged shares, groups, changed criteria, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import koordrules
from koordrules import CriteriaSet, load_text
from koordrules.impact import ImpactReport, read_cohort, render_impact, render_summary, summarize

SET = """\
id: test/impact
version: {version}
title: Impact test
status: active
effective_from: 2024-01-01
source: {{document: Test}}
parameters:
  limit: {{value: {limit}}}
inputs:
  score: {{type: integer, kind: data}}
  urgent: {{type: boolean, kind: data}}
criteria:
  High:
    title: High score
    when: score >= limit
  Acute:
    title: Acute
    when: urgent
outcomes:
  - id: act
    title: Act
    when: High or Acute
  - id: wait
    title: Wait
    otherwise: true
"""


def make(version: str, limit: int) -> CriteriaSet:
    return load_text(SET.format(version=version, limit=limit))


OLD, NEW = make("1.0.0", 5), make("2.0.0", 8)
COHORT = [
    {"id": "p1", "unit": "a", "score": 9, "urgent": False},   # act → act
    {"id": "p2", "unit": "a", "score": 6, "urgent": False},   # act → wait (High changes)
    {"id": "p3", "unit": "b", "score": 6},                    # act → undetermined
    {"id": "p4", "unit": "b", "score": 2, "urgent": False},   # wait → wait
    {"id": "p5", "unit": "b", "urgent": True},                # act → act (High unknown both)
    {"id": "p6", "score": 1},                                 # undetermined → undetermined
]


@pytest.fixture(scope="module")
def report() -> ImpactReport:
    return koordrules.diff(OLD, NEW, COHORT, by="unit", id_field="id")


def test_transition_matrix_counts_every_pair_including_undetermined(
        report: ImpactReport) -> None:
    assert report.total == 6
    assert report.count("act", "act") == 2
    assert report.count("act", "wait") == 1
    assert report.count("act", None) == 1
    assert report.count("wait", "wait") == 1
    assert report.count(None, None) == 1
    assert sum(t.count for t in report.transitions) == 6
    # every cell is present, rows and columns in set order with undetermined last
    assert [(t.old, t.new) for t in report.transitions[:3]] == [
        ("act", "act"), ("act", "wait"), ("act", None)]
    assert len(report.transitions) == 9
    assert report.changed == 2


def test_flagged_is_every_outcome_but_otherwise_and_undetermined_is_separate(
        report: ImpactReport) -> None:
    assert report.old.flagged_outcomes == ("act",)
    assert (report.old.flagged, report.old.undetermined) == (4, 1)
    assert (report.new.flagged, report.new.undetermined) == (2, 2)
    assert report.old.flagged_share == pytest.approx(4 / 6)
    assert report.new.counts == {"act": 2, "wait": 2}


def test_flagged_outcomes_can_be_named() -> None:
    r = koordrules.diff(OLD, NEW, COHORT, flagged=["wait"])
    assert r.old.flagged_outcomes == ("wait",) and r.old.flagged == 1 and r.new.flagged == 2


def test_changed_records_name_the_criteria_that_changed(report: ImpactReport) -> None:
    assert [(c.id, c.old, c.new) for c in report.changed_records] == [
        ("p2", "act", "wait"), ("p3", "act", None)]
    p2 = report.changed_records[0]
    assert p2.record == 2 and p2.group == "a"
    assert [(x.name, x.old, x.new) for x in p2.criteria] == [("High", True, False)]


def test_groups_break_the_figures_down(report: ImpactReport) -> None:
    groups = {g.group: g for g in report.groups}
    assert sorted(groups) == ["(missing)", "a", "b"]
    assert groups["a"].old.flagged == 2 and groups["a"].new.flagged == 1
    assert groups["b"].changed == 1 and groups["b"].old.total == 3
    assert sum(g.old.total for g in report.groups) == report.total


def test_each_set_sees_only_its_declared_inputs() -> None:
    narrow = load_text(SET.format(version="3.0.0", limit=5).replace(
        "  urgent: {type: boolean, kind: data}\n", "").replace("    when: urgent",
                                                               "    when: false"))
    r = koordrules.diff(OLD, narrow, [{"score": 1, "urgent": True, "ward": "x"}])
    assert r.problems == () and r.count("act", "wait") == 1
    (change,) = r.changed_records
    assert [(x.name, x.old, x.new) for x in change.criteria] == [("Acute", True, False)]


def test_criteria_present_in_one_set_only_are_reported() -> None:
    other = load_text(SET.format(version="3.0.0", limit=5)
                      .replace("  Acute:", "  Flag:").replace("    when: urgent",
                                                               "    when: not urgent")
                      .replace("High or Acute", "High or Flag"))
    r = koordrules.diff(OLD, other, [{"score": 1, "urgent": True}, {"score": 9}])
    assert r.changed == 1
    (change,) = r.changed_records
    assert [(x.name, x.old, x.new, x.only_in) for x in change.criteria] == [
        ("Acute", True, None, "old"), ("Flag", None, False, "new")]
    text = " ".join(render_impact(r).split())
    assert "Acute: true (only in the old set), Flag: false (only in the new set)" in text
    assert "Acute: ja (bare i det gamle settet)" in " ".join(render_impact(r, lang="nb").split())


def test_records_that_do_not_fit_are_left_out_and_listed() -> None:
    r = koordrules.diff(OLD, NEW, [{"id": "x", "score": "high"}, {"score": 9}], id_field="id")
    assert r.total == 1
    (problem,) = r.problems
    assert (problem.record, problem.id, problem.side, problem.code) == (
        1, "x", "both", "bad_input_value")
    assert "high" not in problem.message  # never echo input values
    lenient = koordrules.diff(OLD, NEW, [{"score": "high"}], strict=False)
    assert lenient.problems == () and lenient.count(None, None) == 1


def test_the_report_round_trips_through_json(report: ImpactReport) -> None:
    data = json.loads(report.model_dump_json())
    assert data["old"]["flagged_share"] == pytest.approx(4 / 6)
    assert ImpactReport.model_validate_json(report.model_dump_json()) == report


def test_text_shows_matrix_shares_groups_and_limits_the_changed_list(
        report: ImpactReport) -> None:
    text = render_impact(report, limit=1)
    lines = text.splitlines()
    assert lines[0] == "Revision impact: test/impact 1.0.0 → 2.0.0, 6 record(s)"
    assert lines[2] == "Outcome (rows: old, columns: new):"
    assert lines[3].split() == ["1", "2", "?", "total"]
    assert lines[4].split() == ["1", "act", "2", "1", "1", "4"]
    assert lines[7].split() == ["total", "2", "2", "2", "6"]
    assert "  flagged          4 (66.7%)  2 (33.3%)" in text
    assert "By unit:" in text
    assert "  p2 [a]: act → wait; High: true → false" in text
    assert "p3" not in text
    assert "… 1 more changed record(s) not shown" in text
    assert max(len(line) for line in lines) <= 80
    assert max(len(line) for line in render_impact(report, width=60).splitlines()) <= 60


def test_text_in_bokmal_and_nynorsk_names_outcomes_by_their_titles(
        report: ImpactReport) -> None:
    sets = (OLD, NEW)
    nb = render_impact(report, lang="nb", sets=sets)
    assert nb.startswith("Konsekvenser av endringen: test/impact 1.0.0 → 2.0.0, 6 pasient(er)")
    assert "  flagget        4 (66,7 %)  2 (33,3 %)" in nb
    assert "ikke avgjort" in nb and "undetermined" not in nb
    nn = render_impact(report, lang="nn", sets=sets)
    assert "Konsekvensar av endringa" in nn and "ikkje avgjort" in nn
    with pytest.raises(ValueError, match="'nb', 'nn' or 'en'"):
        render_impact(report, lang="de")


def test_the_report_names_the_inputs_no_record_has() -> None:
    wider = load_text(SET.format(version="3.0.0", limit=5)
                      .replace("inputs:\n", "inputs:\n  frail: {type: boolean, kind: data}\n")
                      .replace("High or Acute", "High or Acute or frail"))
    r = koordrules.diff(OLD, wider, COHORT)
    (lack,) = r.lacking
    assert (lack.name, lack.side) == ("frail", "new")
    assert lack.undetermined >= lack.became_undetermined
    assert "Inputs no record in the cohort has:" in render_impact(r)
    assert koordrules.diff(OLD, NEW, COHORT).lacking == ()


def test_summary_counts_outcomes_overall_and_per_group() -> None:
    s = summarize(OLD, COHORT, by="unit")
    assert s.distribution.counts == {"act": 4, "wait": 1}
    assert s.distribution.undetermined == 1 and s.distribution.flagged == 4
    assert [g.group for g in s.groups] == ["(missing)", "a", "b"]
    text = render_summary(s)
    assert text.startswith("test/impact@1.0.0: 6 record(s)\n")
    assert "  act                 4  66.7%" in text and "By unit:" in text
    assert "ikke avgjort" in render_summary(s, lang="nb")


def test_read_cohort_types_csv_columns_by_whichever_set_declares_them(tmp_path: Path) -> None:
    narrow = load_text(SET.format(version="3.0.0", limit=5).replace(
        "  urgent: {type: boolean, kind: data}\n", "").replace("    when: urgent",
                                                               "    when: false"))
    path = tmp_path / "c.csv"
    path.write_text("id,unit,score,urgent\np1,a,7,ja\np2,b,,\n", encoding="utf-8")
    rows = [r for _, r in read_cohort(path, [narrow, OLD])]
    assert rows == [{"id": "p1", "unit": "a", "score": 7, "urgent": True},
                    {"id": "p2", "unit": "b", "score": None, "urgent": None}]
