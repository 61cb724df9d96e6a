"""The indicator «Del pasientar som har fått koordinator» (Helse Vest's regional plan) per
unit, as data (criteria/helse-vest/koordinator.indicators.yaml): in the library, in
`eval --summary` and in `diff`, on the shipped example cohort and on real Synthea patients."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from koordrules import Catalog, CriteriaError
from koordrules.cli import main
from koordrules.impact import diff, summarize
from koordrules.indicators import (
    builtin_indicators,
    has_it,
    load_indicators_text,
    tally,
)

ROOT = Path(__file__).resolve().parent.parent
COHORT = ROOT / "examples" / "cohort.jsonl"
SYNTHEA = ROOT / "examples" / "fhir" / "synthea"


def _cohort() -> list[dict[str, Any]]:
    return [json.loads(line) for line in COHORT.read_text("utf-8").splitlines() if line]


def _expected(records: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """Counted straight from the file, the way the indicator file says: yes when either field
    is true, no when both are false, unknown otherwise."""
    out: dict[str, Counter[str]] = {}
    for r in records:
        values = [r.get("has_coordinator"), r.get("has_course_coordinator")]
        answer = ("yes" if True in values else "no" if values == [False, False]
                  else "unknown")
        out.setdefault(r["unit"], Counter())[answer] += 1
    return out


def test_the_shipped_indicator_is_the_regional_plans_and_its_choices_are_data() -> None:
    spec = builtin_indicators()
    assert spec.key == "helse-vest/indikatorar@1.0.0"
    assert spec.source.quote == "Del pasientar som har fått koordinator"
    assert spec.local_choice is True
    assert spec.unit_field == "unit"
    (indicator,) = spec.indicators
    assert indicator.title.get("nn") == "Del pasientar som har fått koordinator"
    assert indicator.any_true == ("has_coordinator", "has_course_coordinator")


def test_per_unit_on_the_example_cohort_matches_a_count_of_the_file() -> None:
    records = _cohort()
    (report,) = tally(builtin_indicators(), records)
    expected = _expected(records)
    assert [f.unit for f in report.units] == sorted(expected)
    for figures in report.units:
        want = expected[figures.unit]
        assert (figures.yes, figures.no, figures.unknown) == (want["yes"], want["no"],
                                                              want["unknown"])
        assert figures.records == sum(want.values())
        assert figures.share == pytest.approx(want["yes"] / figures.records)
    assert report.total.records == len(records) == 3000
    assert report.total.yes == sum(c["yes"] for c in expected.values())
    assert 0 < report.total.yes < report.total.records


def test_unknown_is_never_counted_as_no_and_an_absent_field_is_left_out() -> None:
    (indicator,) = builtin_indicators().indicators
    assert has_it(indicator, {"has_coordinator": None, "has_course_coordinator": False}) is None
    assert has_it(indicator, {"has_coordinator": None, "has_course_coordinator": True}) is True
    assert has_it(indicator, {"has_coordinator": False}) is False  # no course-coordinator column
    assert has_it(indicator, {}) is None
    assert has_it(indicator, {"has_coordinator": "false", "has_course_coordinator": "ja"}) is True
    assert has_it(indicator, {"has_coordinator": "kanskje"}) is None


def test_real_synthea_patients_without_care_teams_are_unknown_not_without() -> None:
    """The Synthea bundles have no CareTeam, so the shipped mapping cannot tell whether the
    patient has a coordinator: the indicator counts them as unknown, never as "no"."""
    pytest.importorskip("fhirpathpy")
    from koordrules import fhir

    mapping = fhir.find_mapping("helse-vest/anbefaling-3-fhir")
    records = []
    for path in sorted(SYNTHEA.glob("r4-*.json")):
        mapped = fhir.map_bundle(mapping, json.loads(path.read_text("utf-8")),
                                 as_of=dt.date(2021, 3, 2))
        records.append({**mapped.record, "unit": "synthea"})  # Synthea names no ward
    (report,) = tally(builtin_indicators(), records)
    assert report.total.records == len(records) == 4
    assert (report.total.yes, report.total.no, report.total.unknown) == (0, 0, 4)
    cs = Catalog.builtin().get("helse-vest/anbefaling-3")
    summary = summarize(cs, records, indicators=builtin_indicators())
    assert summary.indicators[0].total.unknown == 4
    without_unit = [{k: v for k, v in r.items() if k != "unit"} for r in records]
    (bare,) = tally(builtin_indicators(), without_unit)
    assert bare.units == () and bare.total.unknown == 4


def test_summary_and_diff_carry_the_indicator_per_unit() -> None:
    catalog = Catalog.builtin()
    records = _cohort()
    spec = builtin_indicators()
    cs = catalog.get("helse-vest/anbefaling-3")
    summary = summarize(cs, records, by="unit", indicators=spec)
    (ind,) = summary.indicators
    assert ind.total.records == summary.distribution.total
    report = diff(catalog.get("helse-vest/anbefaling-3@1.0.0"), cs, records, by="unit",
                  indicators=spec)
    assert report.indicators == summary.indicators
    assert summarize(cs, records).indicators == ()


def test_no_indicator_when_the_cohort_carries_none_of_the_fields() -> None:
    cs = Catalog.builtin().get("helse-vest/anbefaling-3")
    records = [{k: v for k, v in r.items()
                if k not in ("has_coordinator", "has_course_coordinator")}
               for r in _cohort()[:50]]
    assert summarize(cs, records, indicators=builtin_indicators()).indicators == ()


def test_eval_summary_and_diff_print_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "helse-vest/anbefaling-3", str(COHORT), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "Andel pasienter som har fått koordinator (helse-vest/indikatorar@1.0.0), " \
           "by unit:" in out
    expected = _expected(_cohort())
    first = sorted(expected)[0]
    row = next(line for line in out.splitlines() if line.strip().startswith(first + " ")
               and line.rstrip().endswith("%") and "yes" not in line)
    assert row.split()[1:5] == [str(sum(expected[first].values())),
                                str(expected[first]["yes"]), str(expected[first]["no"]),
                                str(expected[first]["unknown"])]
    assert main(["eval", "helse-vest/anbefaling-3", str(COHORT), "--summary",
                 "--no-indicators"]) == 0
    assert "del_med_koordinator" not in capsys.readouterr().out
    assert main(["diff", "helse-vest/anbefaling-3@1.0.0", "helse-vest/anbefaling-3@1.0.1",
                 str(COHORT), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["indicators"][0]["indicator"] == "del_med_koordinator"
    assert data["indicators"][0]["total"]["records"] == 3000


def test_a_local_indicator_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "criteria" / "helse-vest" / "koordinator.indicators.yaml").read_text("utf-8")
    local = tmp_path / "lokal.indicators.yaml"
    local.write_text(text.replace("any_true: [has_coordinator, has_course_coordinator]",
                                  "any_true: [has_coordinator]")
                         .replace("version: 1.0.0", "version: 1.1.0"), encoding="utf-8")
    assert main(["eval", "helse-vest/anbefaling-3", str(COHORT), "--summary",
                 "--indicators", str(local)]) == 0
    out = capsys.readouterr().out
    assert "helse-vest/indikatorar@1.1.0" in out
    assert "yes = one of has_coordinator is true" in out


def test_a_bad_indicator_file_is_one_error_at_its_position() -> None:
    with pytest.raises(CriteriaError) as info:
        load_indicators_text("id: x/y\nversion: 1.0.0\ntitle: {nb: t}\nstatus: active\n"
                             "source: {document: d}\nlocal_choice: true\nunit_field: unit\n"
                             "indicators:\n  - id: a\n    title: {nb: t}\n    any_true: []\n",
                             file="x.indicators.yaml")
    (problem,) = info.value.diagnostics
    assert problem.span is not None and problem.span.line == 11


def test_check_reads_the_indicator_file(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`koordrules check` reads the indicator file too: a misspelt field is a warning with the
    likely fix, a broken file an error at its position."""
    import shutil

    root = tmp_path / "criteria"
    shutil.copytree(ROOT / "criteria", root)
    (root / "criteria.lock").unlink()  # edits without a version bump: tests/test_lock_data.py
    path = root / "helse-vest" / "koordinator.indicators.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("any_true: [has_coordinator,", "any_true: [has_cordinator,"),
                    "utf-8")
    assert main(["check", "--lang", "en", str(root)]) == 0
    out = capsys.readouterr().out
    assert "warning: indicator_field_unknown: no criteria set has an input 'has_cordinator'" \
           in out and "did you mean 'has_coordinator'?" in out
    path.write_text(text.replace("unit_field: unit\n", ""), "utf-8")
    assert main(["check", "--lang", "en", str(root)]) == 1
    assert "koordinator.indicators.yaml:11:1: schema_error: missing field 'unit_field'" in \
           capsys.readouterr().out


def test_the_html_diff_shows_the_indicator_per_unit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "helse-vest/anbefaling-3@1.0.0", "helse-vest/anbefaling-3@1.0.1",
                 str(COHORT), "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert "<h2>Andel pasienter som har fått koordinator</h2>" in page
    expected = _expected(_cohort())
    unit = sorted(expected)[0]
    want = expected[unit]
    assert (f'<tr data-unit="{unit}"><td>{unit}</td><td class="n">{sum(want.values())}</td>'
            f'<td class="n">{want["yes"]}</td><td class="n">{want["no"]}</td>'
            f'<td class="n">{want["unknown"]}</td>') in page
