"""Set-level checks: names, types, duplicates, cycles, dead rules and warnings, all at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import HEADER_LINES

from koordrules import CriteriaError, Diagnostic, load
from koordrules.catalog import load_with_warnings

MakeSet = Callable[..., Path]

INPUTS = """\
parameters:
  limit: {value: 6}
inputs:
  flag: {type: boolean, kind: data}
  other: {type: boolean, kind: data}
  months: {type: number, kind: data}
  status: {type: enum, kind: data, values: [active, paused]}
"""
IN_LINES = HEADER_LINES + INPUTS.count("\n")  # the last line before `criteria:`


def body(criteria: str, rules: str, *, inputs: str = INPUTS) -> str:
    return (inputs + "criteria:\n" + criteria + "outcomes:\n" + rules
            + "  - id: fallback\n    title: Fallback\n    otherwise: true\n")


def criterion(name: str, when: str) -> str:
    return f"  {name}:\n    title: {name}\n    when: {when}\n"


def rule(id_: str, when: str) -> str:
    return f"  - id: {id_}\n    title: {id_}\n    when: {when}\n"


USES_ALL = criterion("K", 'flag and other and months > limit and status == "active"')


def diagnostics(make_set: MakeSet, text: str) -> list[Diagnostic]:
    with pytest.raises(CriteriaError) as info:
        load(make_set(text))
    return info.value.diagnostics


def found(diags: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diags if d.span]


def warnings_of(make_set: MakeSet, text: str) -> list[Diagnostic]:
    _, warnings = load_with_warnings(make_set(text))
    return warnings


def test_a_clean_set_has_no_warnings(make_set: MakeSet) -> None:
    assert warnings_of(make_set, body(USES_ALL, rule("hit", "K"))) == []


# --- names and types, with positions ------------------------------------------------------


def test_unknown_name_with_did_you_mean(make_set: MakeSet) -> None:
    diags = diagnostics(make_set, body(criterion("K", "flag and mnths > limit"),
                                       rule("hit", "K")))
    assert found(diags) == [("unknown_name", IN_LINES + 4, 20)]
    assert "did you mean 'months'?" in diags[0].message


def test_unknown_function(make_set: MakeSet) -> None:
    diags = diagnostics(make_set, body(criterion("K", "anyof(flag, other)"), rule("hit", "K")))
    assert found(diags) == [("unknown_function", IN_LINES + 4, 11)]


@pytest.mark.parametrize(
    ("when", "column", "fragment"),
    [
        ("months == flag", 11, "cannot compare number with boolean"),
        ("months - 1 > 2024-01-01", 11, "cannot order number and date"),
        ("2024-01-01 - months > 6 months", 11, "cannot subtract date and number"),
        ('status == "closed"', 21, "'closed' is not one of active, paused"),
        ("months + limit", 11, "criterion 'K' must be a condition (boolean), got number"),
        ("'\"text\"'", 12, "must be a condition (boolean), got string"),
    ],
)
def test_type_errors_in_criteria(make_set: MakeSet, when: str, column: int,
                                 fragment: str) -> None:
    diags = diagnostics(make_set, body(criterion("K", when), rule("hit", "K")))
    assert found(diags) == [("type_error", IN_LINES + 4, column)]
    assert fragment in diags[0].message


def test_non_boolean_outcome_condition(make_set: MakeSet) -> None:
    diags = diagnostics(make_set, body(USES_ALL, rule("hit", "months")))
    assert [d.code for d in diags] == ["type_error"]
    assert "the condition of 'hit' must be a condition" in diags[0].message


def test_all_problems_in_one_file_are_reported_at_once_and_sorted(make_set: MakeSet) -> None:
    text = body(criterion("K", "flag and mnths > 1") + criterion("J", "J2 or other")
                + criterion("J2", "months"), rule("hit", "K and nope(1)") + rule("hit", "J"))
    diags = diagnostics(make_set, text)
    assert [d.code for d in diags] == ["unknown_name", "type_error", "unknown_function",
                                       "duplicate_outcome"]
    lines = [d.span.line for d in diags if d.span]
    assert lines == sorted(lines)
    assert len(str(CriteriaError(diags)).splitlines()) == 4


# --- declarations -------------------------------------------------------------------------


def test_a_name_declared_twice_is_a_duplicate_name(make_set: MakeSet) -> None:
    inputs = INPUTS + "  limit: {type: number, kind: data}\n"
    diags = diagnostics(make_set, body(USES_ALL, rule("hit", "K"), inputs=inputs))
    assert found(diags) == [("duplicate_name", HEADER_LINES + 2, 3)]
    assert "'limit' is both" in diags[0].message


def test_criterion_with_the_name_of_an_input(make_set: MakeSet) -> None:
    diags = diagnostics(make_set, body(USES_ALL + criterion("flag", "other"), rule("hit", "K")))
    assert "duplicate_name" in [d.code for d in diags]


@pytest.mark.parametrize(
    ("decl", "fragment"),
    [
        ("{type: enum, kind: data}", "needs 'values'"),
        ("{type: number, kind: data, values: [a]}", "'values' is only for enum inputs"),
        ("{type: list, kind: data}", "needs 'items'"),
        ("{type: number, kind: data, min: 5, max: 1}", "min is larger than max"),
        ("{type: string, kind: data, max: 3}", "min/max are only for numbers"),
    ],
)
def test_bad_input_declarations(make_set: MakeSet, decl: str, fragment: str) -> None:
    inputs = INPUTS + f"  extra: {decl}\n"
    diags = diagnostics(make_set, body(USES_ALL + criterion("X", "is_known(extra)"),
                                       rule("hit", "K or X"), inputs=inputs))
    assert [d.code for d in diags] == ["bad_input"]
    assert fragment in diags[0].message


# --- cycles -------------------------------------------------------------------------------


def test_cycle_between_criteria(make_set: MakeSet) -> None:
    text = body(USES_ALL + criterion("P", "Q and flag") + criterion("Q", "P or other"),
                rule("hit", "K or P"))
    diags = diagnostics(make_set, text)
    assert [d.code for d in diags] == ["cycle"]
    assert "P → Q → P" in diags[0].message
    assert found(diags) == [("cycle", IN_LINES + 5, 3)]


def test_criterion_that_refers_to_itself(make_set: MakeSet) -> None:
    diags = diagnostics(make_set, body(criterion("K", "K or flag"), rule("hit", "K")))
    assert [d.code for d in diags] == ["cycle"]
    assert "K → K" in diags[0].message


def test_a_chain_without_a_cycle_is_fine(make_set: MakeSet) -> None:
    text = body(USES_ALL + criterion("P", "Q and K") + criterion("Q", "flag"), rule("hit", "P"))
    assert warnings_of(make_set, text) == []


# --- dead rules ---------------------------------------------------------------------------


def dead(make_set: MakeSet, rules: str) -> list[tuple[str, str]]:
    diags = diagnostics(make_set, body(USES_ALL, rules))
    return [(d.code, d.message) for d in diags]


def test_rule_that_is_always_false(make_set: MakeSet) -> None:
    found_ = dead(make_set, rule("hit", "K") + rule("never", "K and 1 > 2"))
    assert found_ == [("dead_rule", "outcome 'never' can never fire: its condition is false "
                                    "whatever the data")]


def test_rule_after_an_always_true_rule(make_set: MakeSet) -> None:
    found_ = dead(make_set, rule("always", "limit > 1 or K") + rule("hit", "K"))
    assert found_ == [
        ("dead_rule", "outcome 'hit' can never fire: 'always' before it always fires"),
        ("dead_rule", "outcome 'fallback' can never be reached: 'always' always fires"),
    ]


def test_otherwise_unreachable_after_a_literal_true(make_set: MakeSet) -> None:
    found_ = dead(make_set, rule("hit", "K") + rule("all_others", "true"))
    assert found_ == [
        ("dead_rule", "outcome 'fallback' can never be reached: 'all_others' always fires")]


def test_rule_with_the_same_condition_as_an_earlier_one(make_set: MakeSet) -> None:
    found_ = dead(make_set, rule("hit", "K and flag") + rule("again", "K  and\n      flag"))
    assert found_ == [("dead_rule", "outcome 'again' can never fire: it has the same condition "
                                    "as 'hit'")]


def test_dead_rule_has_the_rule_position(make_set: MakeSet) -> None:
    diags = diagnostics(make_set, body(USES_ALL, rule("hit", "K") + rule("never", "false")))
    assert found(diags) == [("dead_rule", IN_LINES + 9, 5)]


@pytest.mark.parametrize(
    "when",
    ["coalesce(flag, false)", "not is_known(flag)", "is_known(months) and months > 1",
     "coalesce(months, 0) > limit"],
)
def test_rules_that_look_at_missing_data_are_not_dead(make_set: MakeSet, when: str) -> None:
    text = body(USES_ALL, rule("data_rule", when) + rule("hit", "K"))
    assert warnings_of(make_set, text) == []


# --- warnings -----------------------------------------------------------------------------


def test_unused_input_parameter_and_criterion_are_warnings(make_set: MakeSet) -> None:
    inputs = INPUTS + "  spare: {type: boolean, kind: data}\n" + (
        "  pad: {type: number, kind: data}\n")
    inputs = inputs.replace("parameters:\n", "parameters:\n  unused_limit: {value: 3}\n")
    text = body(USES_ALL + criterion("Lonely", "flag"), rule("hit", "K"), inputs=inputs)
    warnings = warnings_of(make_set, text)
    assert [(w.severity, w.code, w.message) for w in warnings] == [
        ("warning", "unused_parameter", "parameter 'unused_limit' is never used"),
        ("warning", "unused_input", "input 'spare' is never used"),
        ("warning", "unused_input", "input 'pad' is never used"),
        ("warning", "unused_criterion", "criterion 'Lonely' is never used"),
    ]
    assert str(warnings[0]).endswith(": warning: unused_parameter: parameter 'unused_limit' "
                                     "is never used")


def test_constant_criterion_is_a_warning(make_set: MakeSet) -> None:
    text = body(USES_ALL + criterion("Always", "limit > 1"), rule("hit", "K and Always"))
    warnings = warnings_of(make_set, text)
    assert [(w.code, w.message) for w in warnings] == [
        ("constant_criterion", "criterion 'Always' is always true, whatever the data")]


def test_criterion_that_is_always_false_is_a_warning(make_set: MakeSet) -> None:
    text = body(USES_ALL + criterion("Never", "flag and not flag and 1 > 2"),
                rule("hit", "K or Never"))
    assert [w.code for w in warnings_of(make_set, text)] == ["constant_criterion"]


def test_warnings_alone_do_not_stop_loading(make_set: MakeSet) -> None:
    text = body(USES_ALL + criterion("Lonely", "flag"), rule("hit", "K"))
    assert load(make_set(text)).criterion("Lonely") is not None


def test_warnings_are_not_computed_while_there_are_errors(make_set: MakeSet) -> None:
    text = body(USES_ALL + criterion("Lonely", "nope"), rule("hit", "K"))
    assert [d.code for d in diagnostics(make_set, text)] == ["unknown_name"]


def test_monotone_declaration_must_name_boolean_or_numeric_inputs_and_known_outcomes(
    make_set: MakeSet,
) -> None:
    text = body(USES_ALL, rule("hit", "K")) + (
        "monotone:\n  - outcome: nowhere\n    inputs: [flag, months, status]\n")
    diags = diagnostics(make_set, text)
    assert [(d.code, d.message) for d in diags] == [
        ("bad_property", "monotone: unknown outcome 'nowhere'"),
        ("bad_property", "monotone: 'status' is not a boolean, integer or number input"),
    ]
    fine = body(USES_ALL, rule("hit", "K")) + (
        "monotone:\n  - outcome: hit\n    inputs: [flag, months]\n")
    assert load(make_set(fine)).monotone[0].inputs == ("flag", "months")
