"""The façade: outcome choice, the explanation trace, redaction and the JSON form of a result."""

from __future__ import annotations

from typing import Any

import pytest

from koordrules import CriteriaSet, Result, evaluate
from koordrules.evaluator import choose
from koordrules.trace import REDACTED, TraceNode

RECORD: dict[str, Any] = {
    "expected_followup_months": 7,
    "high_treatment_intensity": True,
    "individually_adapted_pathway": False,
    "involved_units": 2,
    "has_coordinator": False,
}


@pytest.fixture(scope="module")
def result(shipped_set: CriteriaSet) -> Result:
    return evaluate(shipped_set, RECORD)


def nodes(node: TraceNode) -> list[TraceNode]:
    out = [node]
    for kid in node.children:
        out += nodes(kid)
    return out


# --- choosing the outcome ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "outcome", "possible"),
    [
        ([True], "already_has_coordinator", ("already_has_coordinator",)),
        ([False, True], "coordinator_likely", ("coordinator_likely",)),
        ([False, False], "not_indicated", ("not_indicated",)),
        ([None, True], None, ("already_has_coordinator", "coordinator_likely")),
        ([None, False], None, ("already_has_coordinator", "not_indicated")),
        ([False, None], None, ("coordinator_likely", "not_indicated")),
        ([None, None], None, ("already_has_coordinator", "coordinator_likely",
                              "not_indicated")),
    ],
)
def test_first_true_rule_wins_unless_an_unknown_rule_comes_before(
    shipped_set: CriteriaSet, values: list[bool | None], outcome: str | None,
    possible: tuple[str, ...],
) -> None:
    assert choose(shipped_set, values) == (outcome, possible)


def test_rules_after_the_chosen_one_are_not_tried(shipped_set: CriteriaSet) -> None:
    result = evaluate(shipped_set, {**RECORD, "has_coordinator": True})
    assert result.trace is not None
    assert [(r.outcome, r.value, r.chosen) for r in result.trace.rules] == [
        ("already_has_coordinator", True, True)]


# --- trace contents ---------------------------------------------------------------------------


def test_every_criterion_is_in_the_trace_with_its_value(result: Result) -> None:
    assert result.trace is not None
    assert [(c.name, c.value) for c in result.trace.criteria] == [
        ("A", True), ("B", True), ("C", None), ("D", True)]
    assert result.criteria == {"A": True, "B": True, "C": None, "D": True}


def test_criterion_trace_has_sentences_in_bokmal_and_english(result: Result) -> None:
    assert result.trace is not None
    a, _, c, _ = result.trace.criteria
    assert a.sentence.nb == (
        "A – Forventet langvarig oppfølging i spesialisthelsetjenesten: oppfylt.")
    assert a.sentence.en == "A – Expected long-term follow-up in specialist care: met."
    assert c.sentence.nb.endswith(": ukjent (mangler opplysninger).")
    assert c.sentence.en.endswith(": unknown (information missing).")
    assert a.title.en == "Expected long-term follow-up in specialist care"


def test_trace_records_the_origin_of_each_criterion_and_rule(result: Result) -> None:
    assert result.trace is not None
    assert {c.origin for c in result.trace.criteria} == {"helse-vest/anbefaling-3@1.0.2"}
    assert {r.origin for r in result.trace.rules} == {"helse-vest/anbefaling-3@1.0.2"}


def test_expression_tree_has_text_span_value_and_inputs(result: Result,
                                                        shipped_set: CriteriaSet) -> None:
    assert result.trace is not None
    a = result.trace.criteria[0].expression
    assert (a.kind, a.text, a.value) == ("compare", "expected_followup_months > long_term_months",
                                         True)
    assert a.inputs == {"expected_followup_months": 7}
    months, limit = a.children
    assert (months.kind, months.ref, months.value) == ("name", "input", 7)
    assert (limit.kind, limit.ref, limit.value, limit.inputs) == ("name", "parameter", 6, {})
    assert months.span is not None and months.span.file == "criteria/helse-vest/anbefaling-3.yaml"
    assert shipped_set.file is not None and shipped_set.file.endswith(months.span.file)
    source = shipped_set.criterion("A")
    assert source is not None and source.expr.span is not None
    assert months.span.line == source.expr.span.line


def test_trace_node_text_is_the_source_of_each_sub_expression(result: Result) -> None:
    assert result.trace is not None
    b = result.trace.criteria[1].expression
    assert b.kind == "call" and b.text.startswith("any(high_treatment_intensity,")
    assert [k.text for k in b.children] == [
        "high_treatment_intensity", "individually_adapted_pathway", "newly_diagnosed_chronic",
        "lifelong_course", "transition_child_to_adult"]
    assert [k.value for k in b.children] == [True, False, None, None, None]
    assert b.inputs == {"high_treatment_intensity": True, "individually_adapted_pathway": False,
                        "lifelong_course": None, "newly_diagnosed_chronic": None,
                        "transition_child_to_adult": None}


def test_a_rule_that_refers_to_a_criterion_reports_the_inputs_behind_it(result: Result) -> None:
    assert result.trace is not None
    likely = result.trace.rules[1]
    assert (likely.outcome, likely.value, likely.chosen) == ("coordinator_likely", True, True)
    assert likely.expression is not None
    assert likely.expression.text == "A and at_least(min_of_b_to_d, B, C, D)"
    a_ref = likely.expression.children[0]
    assert (a_ref.ref, a_ref.value, a_ref.inputs) == ("criterion", True,
                                                       {"expected_followup_months": 7})
    assert "involved_units" in (likely.expression.inputs or {})


def test_every_trace_node_has_a_span(result: Result) -> None:
    assert result.trace is not None
    roots = [c.expression for c in result.trace.criteria] + [
        r.expression for r in result.trace.rules if r.expression]
    assert all(n.span is not None and n.span.line > 0 for root in roots for n in nodes(root))


def test_outcome_sentence(result: Result) -> None:
    assert result.trace is not None
    assert result.trace.sentence.en.startswith(
        "Outcome: A coordinator is likely. The rule «A and at_least(min_of_b_to_d, B, C, D)» "
        "is met (the rules before it, already_has_coordinator, are not met).")
    assert result.trace.sentence.nb.startswith("Utfall: Koordinator er sannsynlig.")


def test_undecided_sentence_names_the_options_and_missing_inputs(shipped_set: CriteriaSet) -> None:
    result = evaluate(shipped_set, {**RECORD, "has_coordinator": None})
    assert result.trace is not None
    assert result.trace.sentence.en == (
        "The outcome cannot be decided from the information given: it may be «Already has a "
        "coordinator» or «A coordinator is likely». Information that decides it: "
        "has_coordinator.")


def test_otherwise_is_traced_when_chosen(shipped_set: CriteriaSet) -> None:
    result = evaluate(shipped_set, {**RECORD, "expected_followup_months": 6})
    assert result.trace is not None
    last = result.trace.rules[-1]
    assert (last.outcome, last.value, last.chosen, last.expression) == (
        "not_indicated", True, True, None)
    assert "None of the rules is met." in result.trace.sentence.en


def test_trace_can_be_left_out(shipped_set: CriteriaSet) -> None:
    result = evaluate(shipped_set, RECORD, trace=False)
    assert result.trace is None
    assert result.outcome == "coordinator_likely"


# --- redaction ----------------------------------------------------------------------------------


def test_redact_removes_inputs_and_non_boolean_patient_values(shipped_set: CriteriaSet) -> None:
    result = evaluate(shipped_set, RECORD, redact=True)
    assert result.trace is not None and result.trace.redacted
    all_nodes = [n for c in result.trace.criteria for n in nodes(c.expression)] + [
        n for r in result.trace.rules if r.expression for n in nodes(r.expression)]
    assert all(n.inputs is None for n in all_nodes)
    months = result.trace.criteria[0].expression.children[0]
    assert months.value == REDACTED
    units = result.trace.criteria[3].expression.children[0]
    assert units.value == REDACTED
    # booleans, unknowns and parameters are not patient data worth hiding
    assert result.trace.criteria[0].expression.value is True
    assert result.trace.criteria[0].expression.children[1].value == 6
    assert result.trace.criteria[1].expression.children[0].value is True



def test_redacted_json_contains_no_input_values(shipped_set: CriteriaSet) -> None:
    record = {**RECORD, "expected_followup_months": 37, "involved_units": 13}
    text = evaluate(shipped_set, record, redact=True).to_json()
    assert '"value": 37' not in text and '"value": 13' not in text


def test_redaction_does_not_change_the_outcome(shipped_set: CriteriaSet) -> None:
    plain, redacted = evaluate(shipped_set, RECORD), evaluate(shipped_set, RECORD, redact=True)
    assert (plain.outcome, plain.criteria, plain.missing) == (
        redacted.outcome, redacted.criteria, redacted.missing)


# --- JSON round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [RECORD, {**RECORD, "has_coordinator": None}, {}, {**RECORD, "expected_followup_months": 6.5}],
    ids=["decided", "undecided", "empty", "float"],
)
@pytest.mark.parametrize("redact", [False, True])
def test_result_round_trips_through_json(shipped_set: CriteriaSet, record: dict[str, Any],
                                         redact: bool) -> None:
    result = evaluate(shipped_set, record, redact=redact)
    assert Result.from_json(result.to_json()) == result
    assert Result.from_dict(result.to_dict()) == result
    assert Result.from_json(result.to_json(indent=2)).to_json() == result.to_json()


def test_result_without_trace_round_trips(shipped_set: CriteriaSet) -> None:
    result = evaluate(shipped_set, RECORD, trace=False)
    assert Result.from_json(result.to_json()) == result


def test_result_json_is_deterministic(shipped_set: CriteriaSet) -> None:
    assert evaluate(shipped_set, RECORD).to_json() == evaluate(shipped_set, RECORD).to_json()


def test_result_records_the_set_and_its_hash(result: Result, shipped_set: CriteriaSet) -> None:
    data = result.to_dict()
    assert data["criteria_set"] == {"id": "helse-vest/anbefaling-3", "version": "1.0.2",
                                    "sha256": shipped_set.sha256}
