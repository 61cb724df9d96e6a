"""Variants: ``extends:`` resolution, provenance, and errors a base change causes."""

from __future__ import annotations

from pathlib import Path

import pytest

from koordrules import Catalog, CriteriaError, evaluate, load
from koordrules.explain import render_text

BASE = """\
id: test/base
version: {version}
title: Base
status: active
effective_from: 2024-01-01
source: {{document: Base document}}
parameters:
  months: {{value: 6, unit: months, from_source: true, description: Six months.}}
  units: {{value: 2, unit: units}}
inputs:
  followup: {{type: number, kind: data}}
  involved: {{type: integer, kind: data}}
  has_coordinator: {{type: boolean, kind: data}}
criteria:
  A: {{title: Long follow-up, when: followup > months}}
  D: {{title: Several units, when: involved >= units}}
outcomes:
  - id: already
    title: Has one
    when: has_coordinator
  - id: likely
    title: Likely
    when: A and D
  - id: rest
    title: Not indicated
    otherwise: true
"""

HEAD = """\
id: test/{name}
version: 1.0.0
title: Variant
status: active
effective_from: 2024-02-01
source: {{document: Local decision}}
extends: {extends}
"""
HEAD_LINES = HEAD.count("\n")


def catalogue(tmp_path: Path, variants: dict[str, str], *, base_versions: tuple[str, ...] = (
        "1.0.0",), extends: str = "test/base@1.0.0", base: str = BASE) -> Path:
    root = tmp_path / "criteria"
    (root / "test").mkdir(parents=True, exist_ok=True)
    for v in base_versions:
        (root / "test" / f"base-{v}.yaml").write_text(base.format(version=v), encoding="utf-8")
    for name, body in variants.items():
        text = HEAD.format(name=name, extends=extends) + body
        (root / "test" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root


def errors(root: Path) -> list[str]:
    return [str(d) for d in Catalog.scan(root).diagnostics if d.severity == "error"]


RECORD = {"followup": 12, "involved": 3, "has_coordinator": False}


def test_a_variant_overrides_a_parameter_and_keeps_the_rest_of_the_base(tmp_path: Path) -> None:
    root = catalogue(tmp_path, {"v": "parameters:\n  months: {value: 12}\n"})
    cat = Catalog.load(root)
    cs = cat.get("test/v@1.0.0")
    months = cs.parameter("months")
    assert months is not None
    assert (months.value, months.unit, months.description) == (12, "months", "Six months.")
    assert months.from_source is False          # a changed value is a local choice
    assert months.origin == "test/v@1.0.0"
    units = cs.parameter("units")
    assert units is not None and units.origin == "test/base@1.0.0"
    assert [c.origin for c in cs.criteria] == ["test/base@1.0.0"] * 2
    assert evaluate(cat.get("test/base@1.0.0"), RECORD).outcome == "likely"
    assert evaluate(cs, RECORD).outcome == "rest"   # 12 months is no longer "more than 12"
    assert cs.extends == "test/base@1.0.0"


def test_a_variant_adds_inputs_criteria_and_a_rule_before_otherwise_by_default(
        tmp_path: Path) -> None:
    body = """\
inputs:
  ckd_stage: {type: integer, kind: data, min: 1, max: 5}
parameters:
  severe_stage: {value: 4}
criteria:
  K: {title: Severe kidney disease, when: ckd_stage >= severe_stage}
outcomes:
  - id: kidney
    title: Kidney coordinator
    when: K
"""
    cs = Catalog.load(catalogue(tmp_path, {"v": body})).get("test/v@1.0.0")
    assert [r.id for r in cs.rules] == ["already", "likely", "kidney"]
    assert cs.otherwise.id == "rest" and cs.otherwise.origin == "test/base@1.0.0"
    ckd = cs.input("ckd_stage")
    assert ckd is not None and ckd.origin == "test/v@1.0.0"
    assert evaluate(cs, {**RECORD, "involved": 1, "ckd_stage": 5}).outcome == "kidney"


def test_a_new_rule_can_be_placed_before_or_after_a_base_rule(tmp_path: Path) -> None:
    body = """\
inputs:
  spinal: {type: boolean, kind: data}
outcomes:
  - id: spinal_unit
    title: Spinal unit
    when: spinal
    before: already
  - id: second
    title: After already
    when: D and not A
    after: already
"""
    cs = Catalog.load(catalogue(tmp_path, {"v": body})).get("test/v@1.0.0")
    assert [r.id for r in cs.rules] == ["spinal_unit", "already", "second", "likely"]
    result = evaluate(cs, {**RECORD, "has_coordinator": True, "spinal": True})
    assert result.outcome == "spinal_unit"


def test_a_variant_moves_a_rule_and_replaces_a_condition(tmp_path: Path) -> None:
    body = """\
outcomes:
  - id: already
    after: likely
  - id: likely
    when: A or D
"""
    cs = Catalog.load(catalogue(tmp_path, {"v": body})).get("test/v@1.0.0")
    assert [r.id for r in cs.rules] == ["likely", "already"]
    likely, already = cs.rules
    assert likely.origin == "test/v@1.0.0" and likely.source == "A or D"
    assert likely.title.nb == "Likely"                  # wording inherited
    assert already.origin == "test/base@1.0.0"          # moved, not changed
    result = evaluate(cs, {"followup": 1, "involved": 5, "has_coordinator": True})
    assert result.outcome == "likely"


def test_a_variant_replaces_a_criterion_and_the_otherwise_outcome(tmp_path: Path) -> None:
    body = """\
criteria:
  D: {title: Three units, when: involved >= 3}
outcomes:
  - id: assess
    title: Assess with the patient
    otherwise: true
"""
    cs = Catalog.load(catalogue(tmp_path, {"v": body})).get("test/v@1.0.0")
    d = cs.criterion("D")
    assert d is not None and d.origin == "test/v@1.0.0" and d.source == "involved >= 3"
    assert [c.name for c in cs.criteria] == ["A", "D"]   # replaced in place
    assert cs.otherwise.id == "assess" and cs.otherwise.origin == "test/v@1.0.0"
    assert evaluate(cs, {**RECORD, "involved": 2}).outcome == "assess"


def test_every_item_in_the_trace_says_where_it_came_from(tmp_path: Path) -> None:
    body = """\
parameters:
  months: {value: 3}
outcomes:
  - id: likely
    when: A and D and not has_coordinator
"""
    cs = Catalog.load(catalogue(tmp_path, {"v": body})).get("test/v@1.0.0")
    result = evaluate(cs, RECORD)
    assert result.trace is not None
    assert result.trace.parameters, (
        "every evaluation backend must fill Trace.parameters (trace.parameter_traces)")
    params = {p.name: (p.value, p.unit, p.origin) for p in result.trace.parameters}
    assert params == {"months": (3, "months", "test/v@1.0.0"),
                      "units": (2, "units", "test/base@1.0.0")}
    assert {c.name: c.origin for c in result.trace.criteria} == {
        "A": "test/base@1.0.0", "D": "test/base@1.0.0"}
    assert {r.outcome: r.origin for r in result.trace.rules} == {
        "already": "test/base@1.0.0", "likely": "test/v@1.0.0"}
    text = render_text(result, lang="en", verbose=True)
    assert "(from test/base@1.0.0)" in text
    assert "likely (Likely)" in text
    nb = render_text(result, verbose=True)
    assert "(fra test/base@1.0.0)" in nb


def test_a_range_resolves_to_the_highest_matching_version(tmp_path: Path) -> None:
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n"},
                     base_versions=("1.0.0", "1.4.0", "2.0.0"), extends="test/base@^1.0.0")
    assert Catalog.load(root).get("test/v@1.0.0").extends == "test/base@1.4.0"


@pytest.mark.parametrize(("extends", "picked"), [
    ("test/base@~1.0.0", "test/base@1.0.2"),
    ("test/base@>=1.0.0,<2.0.0", "test/base@1.4.0"),
    ("test/base@1.4.0", "test/base@1.4.0"),
    ("test/base@>=1.0.0", "test/base@2.0.0"),
])
def test_range_forms(tmp_path: Path, extends: str, picked: str) -> None:
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n"},
                     base_versions=("1.0.0", "1.0.2", "1.4.0", "2.0.0"), extends=extends)
    assert Catalog.load(root).get("test/v@1.0.0").extends == picked


def test_a_range_skips_draft_versions_but_an_exact_version_may_name_one(tmp_path: Path) -> None:
    draft = BASE.replace("status: active", "status: draft")
    root = tmp_path / "criteria"
    catalogue(tmp_path, {}, base_versions=("1.0.0",))
    (root / "test" / "base-1.1.0.yaml").write_text(draft.format(version="1.1.0"),
                                                   encoding="utf-8")
    (root / "test" / "v.yaml").write_text(
        HEAD.format(name="v", extends="test/base@^1.0.0") + "parameters:\n  units: {value: 3}\n")
    (root / "test" / "w.yaml").write_text(
        HEAD.format(name="w", extends="test/base@1.1.0") + "parameters:\n  units: {value: 3}\n")
    cat = Catalog.load(root)
    assert cat.get("test/v@1.0.0").extends == "test/base@1.0.0"
    assert cat.get("test/w@1.0.0").extends == "test/base@1.1.0"


def test_the_hash_changes_when_the_base_or_the_variant_changes(tmp_path: Path) -> None:
    body = "parameters:\n  units: {value: 3}\n"
    first = Catalog.load(catalogue(tmp_path / "a", {"v": body})).get("test/v@1.0.0").sha256
    same = Catalog.load(catalogue(tmp_path / "b", {"v": body})).get("test/v@1.0.0").sha256
    new_base = BASE.replace("Long follow-up", "Long-term follow-up")
    base_changed = Catalog.load(catalogue(tmp_path / "c", {"v": body}, base=new_base)).get(
        "test/v@1.0.0").sha256
    variant_changed = Catalog.load(catalogue(
        tmp_path / "d", {"v": "parameters:\n  units: {value: 4}\n"})).get("test/v@1.0.0").sha256
    assert first == same
    assert len({first, base_changed, variant_changed}) == 3


def test_a_variant_of_a_variant_resolves_through_both(tmp_path: Path) -> None:
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n"})
    (root / "test" / "w.yaml").write_text(
        HEAD.format(name="w", extends="test/v@^1.0.0")
        + "parameters:\n  months: {value: 1}\n", encoding="utf-8")
    cs = Catalog.load(root).get("test/w@1.0.0")
    assert {p.name: p.origin for p in cs.parameters} == {"months": "test/w@1.0.0",
                                                         "units": "test/v@1.0.0"}
    assert cs.extends == "test/v@1.0.0"
    a = cs.criterion("A")
    assert a is not None and a.origin == "test/base@1.0.0"


def test_extends_cycles_are_reported_at_each_extends(tmp_path: Path) -> None:
    root = catalogue(tmp_path, {})
    for a, b in (("x", "y"), ("y", "x")):
        (root / "test" / f"{a}.yaml").write_text(
            HEAD.format(name=a, extends=f"test/{b}@1.0.0") + "parameters:\n  units: {value: 3}\n",
            encoding="utf-8")
    found = errors(root)
    assert len(found) == 2
    assert all("extends_cycle" in e and "test/x@1.0.0 → test/y@1.0.0" in e.replace(
        "test/y@1.0.0 → test/x@1.0.0 → test/y", "test/x@1.0.0 → test/y") for e in found)
    assert {e.split(":")[0].rsplit("/", 1)[1] for e in found} == {"x.yaml", "y.yaml"}
    assert all(f":{HEAD_LINES}:10:" in e for e in found)


def test_an_unknown_base_or_version_is_an_error_at_extends(tmp_path: Path) -> None:
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n"},
                     extends="test/base@^2.0.0")
    (found,) = errors(root)
    assert f"v.yaml:{HEAD_LINES}:10: unknown_base: no version of test/base matches" in found
    assert "the catalogue has 1.0.0" in found


def test_a_base_with_errors_is_named_by_its_variant(tmp_path: Path) -> None:
    broken = BASE.replace("when: A and D", "when: A and nonsense")
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n"}, base=broken)
    found = errors(root)
    assert any("base_has_errors: the base test/base@1.0.0 has errors" in e for e in found)


# --- a base change that breaks a variant: both positions ---------------------------------------


def test_overriding_a_parameter_the_base_no_longer_has(tmp_path: Path) -> None:
    renamed = BASE.replace("  units: {{value: 2", "  min_units: {{value: 2").replace(
        "involved >= units", "involved >= min_units")
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n"}, base=renamed)
    assert errors(root) == []
    # a warning (as for an unused input) at the variant's key, naming where the base keeps
    # its parameters; the generic unused_parameter warning is not repeated
    (found,) = [str(d) for d in Catalog.scan(root).diagnostics if "'units'" in d.message]
    assert f"v.yaml:{HEAD_LINES + 2}:3: warning: unused_parameter: parameter 'units' is not " \
           "in the base " \
           "test/base@1.0.0 (" in found
    assert "base-1.0.0.yaml:7:1)" in found
    assert "did you mean 'min_units'?" in found


def test_moving_or_changing_an_outcome_the_base_no_longer_has(tmp_path: Path) -> None:
    renamed = BASE.replace("id: already", "id: has_one")
    body = "outcomes:\n  - id: already\n    after: likely\n  - id: x\n    title: X\n" \
           "    when: D\n    before: already\n"
    root = catalogue(tmp_path, {"v": body}, base=renamed)
    found = errors(root)
    assert any(f"v.yaml:{HEAD_LINES + 2}:5: unknown_base_outcome: outcome 'already' is not in "
               "the base test/base@1.0.0 (" in e and "base-1.0.0.yaml:17:1)" in e
               for e in found), found
    assert any(f"v.yaml:{HEAD_LINES + 7}:13: unknown_base_outcome: before: outcome 'already'"
               in e for e in found), found


def test_a_type_error_in_the_variant_against_a_changed_base_input(tmp_path: Path) -> None:
    retyped = BASE.replace("involved: {{type: integer", "involved: {{type: boolean").replace(
        "involved >= units", "involved")
    body = "criteria:\n  A: {title: A, when: involved >= 3}\n"
    root = catalogue(tmp_path, {"v": body}, base=retyped)
    (found,) = errors(root)
    assert f"v.yaml:{HEAD_LINES + 2}:" in found and "type_error" in found
    assert "'involved' is declared in the base at " in found
    assert "base-1.0.0.yaml:12:3" in found


def test_a_name_the_base_no_longer_declares(tmp_path: Path) -> None:
    body = "criteria:\n  A: {title: A, when: followup > months and frail}\n"
    (found,) = errors(catalogue(tmp_path, {"v": body}))
    assert "unknown_name: unknown name 'frail'" in found
    assert "the base test/base@1.0.0 (" in found and "base-1.0.0.yaml:10:1) does not declare" \
        in found


def test_an_error_in_the_base_part_caused_by_the_variant_names_both_files(
        tmp_path: Path) -> None:
    body = "parameters:\n  months: {value: six}\n"    # the base compares a number with it
    (found,) = errors(catalogue(tmp_path, {"v": body}))
    assert found.startswith(str(tmp_path / "criteria" / "test" / "v.yaml") + f":{HEAD_LINES}:10:")
    assert "(in the base test/base@1.0.0 at " in found and "base-1.0.0.yaml:15:36)" in found


def test_redeclaring_a_base_input_is_an_error_naming_the_base(tmp_path: Path) -> None:
    body = "inputs:\n  involved: {type: number, kind: data}\n"
    (found,) = errors(catalogue(tmp_path, {"v": body}))
    assert f"v.yaml:{HEAD_LINES + 2}:3: input_redeclared" in found
    assert "base-1.0.0.yaml:12:3" in found


@pytest.mark.parametrize(("body", "code"), [
    ("outcomes:\n  - id: x\n    title: X\n    when: A\n    before: likely\n    after: likely\n",
     "bad_placement"),
    ("outcomes:\n  - id: x\n    title: X\n    when: A\n    after: rest\n", "bad_placement"),
    ("outcomes:\n  - id: rest\n    when: A\n", "schema_error"),
    ("outcomes:\n  - id: likely\n    otherwise: true\n", "schema_error"),
    ("outcomes:\n  - id: x\n    when: A\n", "schema_error"),
])
def test_misplaced_or_malformed_outcome_entries(tmp_path: Path, body: str, code: str) -> None:
    found = errors(catalogue(tmp_path, {"v": body}))
    assert any(f": {code}: " in e for e in found), found


def test_a_variant_does_not_repeat_its_base_warnings(tmp_path: Path) -> None:
    noisy = BASE.replace("  units: {{value: 2, unit: units}}\n",
                         "  units: {{value: 2, unit: units}}\n  spare: {{value: 1}}\n")
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n"}, base=noisy)
    warnings = [str(d) for d in Catalog.scan(root).diagnostics if d.severity == "warning"]
    assert len(warnings) == 1 and "base-1.0.0.yaml" in warnings[0]


def test_a_warning_the_variant_causes_in_the_base_part_is_reported_at_the_variant(
        tmp_path: Path) -> None:
    body = "criteria:\n  D: {title: D, when: involved >= 3}\n"   # 'units' is now unused
    root = catalogue(tmp_path, {"v": body})
    (warning,) = [str(d) for d in Catalog.scan(root).diagnostics if d.severity == "warning"]
    assert "v.yaml" in warning.split(":")[0] and "unused_parameter" in warning
    assert "(in the base test/base@1.0.0 at " in warning


def test_monotone_is_inherited_unless_the_variant_writes_its_own(tmp_path: Path) -> None:
    base = BASE + "monotone:\n  - {{outcome: already, inputs: [has_coordinator]}}\n"
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n",
                                "w": "parameters:\n  units: {value: 3}\nmonotone: []\n"},
                     base=base)
    cat = Catalog.load(root)
    assert len(cat.get("test/v@1.0.0").monotone) == 1
    assert cat.get("test/w@1.0.0").monotone == ()


def test_load_of_a_variant_file_uses_the_catalogue_it_lives_in(tmp_path: Path) -> None:
    root = catalogue(tmp_path, {"v": "parameters:\n  units: {value: 3}\n"})
    cs = load(root / "test" / "v.yaml")
    assert cs.key == "test/v@1.0.0" and cs.extends == "test/base@1.0.0"
    only = Catalog.scan(root / "test" / "v.yaml")
    assert [c.key for c in only] == ["test/v@1.0.0"] and only.diagnostics == []


def test_a_variant_outside_any_catalogue_extends_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(HEAD.format(name="local", extends="helse-vest/anbefaling-3@^1.0.0")
                    + "parameters:\n  long_term_months: {value: 12}\n", encoding="utf-8")
    cs = load(path)
    assert cs.extends == "helse-vest/anbefaling-3@1.0.2"
    assert cs.parameter("long_term_months") is not None


def test_load_of_a_broken_variant_raises_with_its_errors(tmp_path: Path) -> None:
    root = catalogue(tmp_path, {"v": "criteria:\n  A: {title: A, when: followup >}\n"})
    with pytest.raises(CriteriaError) as info:
        load(root / "test" / "v.yaml")
    assert [d.code for d in info.value.diagnostics] == ["parse_error"]
