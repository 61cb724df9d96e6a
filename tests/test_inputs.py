"""Records checked against declared inputs: types, ranges, unknown keys, size limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest import set_with_inputs

from koordrules import InputError, evaluate
from koordrules.inputs import MAX_KEYS, MAX_LIST, MAX_STRING, from_text, validate_record

SET = set_with_inputs({
    "flag": "boolean",
    "count": {"type": "integer", "min": 0, "max": 100},
    "months": {"type": "number", "min": 0},
    "note": "string",
    "status": {"type": "enum", "values": ["active", "paused"]},
    "seen": "date",
    "codes": {"type": "list", "items": "string"},
})


def valid(record: dict[str, Any]) -> dict[str, Any]:
    return validate_record(SET, record)[0]


def invalid(record: Any) -> InputError:
    with pytest.raises(InputError) as info:
        validate_record(SET, record)
    return info.value


def test_valid_record_keeps_its_values() -> None:
    record = {"flag": True, "count": 3, "months": 6.5, "note": "x", "status": "active",
              "seen": dt.date(2024, 1, 2), "codes": ["a", "b"]}
    assert valid(record) == {**record, "codes": ("a", "b")}


def test_missing_keys_and_none_are_unknown() -> None:
    assert valid({}) == {}
    assert valid({"flag": None, "codes": None}) == {"flag": None, "codes": None}
    assert valid({"codes": ["a", None]}) == {"codes": ("a", None)}


def test_dates_may_be_iso_strings() -> None:
    assert valid({"seen": "2024-02-29"}) == {"seen": dt.date(2024, 2, 29)}


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"months": True}, "'months' must be a number, got true/false"),
        ({"count": False}, "'count' must be a number, got true/false"),
        ({"flag": 1}, "'flag' must be true or false, got a number"),
        ({"flag": "true"},
         "'flag' must be true or false, got text (write true or false without quotes)"),
        ({"count": "2"}, "'count' must be a number, got text (write the number without "
                         "quotes, with a point for decimals)"),
        ({"count": 2.0}, "'count' must be a whole number"),
        ({"count": 2.5}, "'count' must be a whole number"),
        ({"months": float("nan")}, "'months' must be a finite number"),
        ({"months": float("inf")}, "'months' must be a finite number"),
        ({"note": 5}, "'note' must be text, got a number"),
        ({"status": "closed"}, "'status' must be one of active, paused"),
        ({"seen": "2024-02-30"}, "'seen' must be a date (YYYY-MM-DD)"),
        ({"seen": "01.02.2024"}, "'seen' must be a date (YYYY-MM-DD)"),
        ({"seen": 20240101}, "'seen' must be a date (YYYY-MM-DD)"),
        ({"seen": dt.datetime(2024, 1, 1, 12)}, "'seen' must be a date without time"),
        ({"codes": "a"}, "'codes' must be a list, got text"),
        ({"codes": [1]}, "'codes' must be text, got a number"),
    ],
)
def test_wrong_type_is_an_input_error(record: dict[str, Any], fragment: str) -> None:
    err = invalid(record)
    assert err.code == "bad_input_value"
    assert fragment in err.message


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"count": -1}, "must be at least 0"),
        ({"count": 101}, "must be at most 100"),
        ({"months": -0.5}, "must be at least 0"),
    ],
)
def test_out_of_range_is_an_input_error(record: dict[str, Any], fragment: str) -> None:
    err = invalid(record)
    assert err.code == "bad_input_value"
    assert fragment in err.message


def test_range_bounds_are_inclusive() -> None:
    assert valid({"count": 0}) == {"count": 0}
    assert valid({"count": 100}) == {"count": 100}


def test_unknown_key_is_an_input_error() -> None:
    err = invalid({"flag": True, "colour": "blue"})
    assert err.code == "unknown_input"
    assert "'colour' is not an input of test/expr@1.0.0" in err.message


def test_messages_name_the_input_but_not_its_value() -> None:
    err = invalid({"note": 12345678})
    assert "12345678" not in str(err)


def test_not_a_mapping() -> None:
    assert invalid(["flag"]).code == "bad_record"


def test_strict_false_turns_bad_values_into_unknown_with_a_warning() -> None:
    inputs, warnings = validate_record(
        SET, {"flag": 1, "count": 7, "colour": "blue", "months": -1}, strict=False)
    assert inputs == {"flag": None, "count": 7, "months": None}
    assert warnings == [
        "input 'flag' must be true or false, got a number; treated as unknown",
        "'colour' is not an input of test/expr@1.0.0; ignored",
        "input 'months' must be at least 0; treated as unknown",
    ]


def test_ignored_keys_are_skipped() -> None:
    inputs, warnings = validate_record(SET, {"id": "p1", "flag": True},
                                       ignore=frozenset({"id"}))
    assert (inputs, warnings) == ({"flag": True}, [])


def test_too_many_keys() -> None:
    err = invalid({f"k{i}": None for i in range(MAX_KEYS + 1)})
    assert err.code == "too_large"


def test_too_long_string() -> None:
    assert valid({"note": "x" * MAX_STRING}) == {"note": "x" * MAX_STRING}
    err = invalid({"note": "x" * (MAX_STRING + 1)})
    assert err.code == "bad_input_value"
    assert "longer than" in err.message


def test_too_long_list() -> None:
    err = invalid({"codes": ["a"] * (MAX_LIST + 1)})
    assert "more than" in err.message


def test_evaluate_raises_input_error_in_strict_mode() -> None:
    with pytest.raises(InputError) as info:
        evaluate(SET, {"flag": "yes"})
    assert info.value.code == "bad_input_value"
    assert str(info.value).startswith("<input>: bad_input_value: ")


def test_evaluate_reports_warnings_when_not_strict() -> None:
    result = evaluate(SET, {"flag": "yes"}, strict=False)
    assert result.warnings == (
        "input 'flag' must be true or false, got text (write true or false without quotes); "
        "treated as unknown",)


# --- text cells (CSV) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "want"),
    [
        ("flag", "ja", True), ("flag", "No", False), ("flag", "1", True), ("flag", " ", None),
        ("count", "12", 12), ("months", "6.5", 6.5), ("months", "6", 6),
        ("codes", "a;b", ["a", "b"]), ("note", " hei ", "hei"),
    ],
)
def test_from_text(name: str, text: str, want: Any) -> None:
    decl = SET.input(name)
    assert decl is not None
    assert from_text(decl, text) == want


@pytest.mark.parametrize(("name", "text"), [("flag", "maybe"), ("count", "1.5"),
                                            ("months", "six")])
def test_from_text_rejects_bad_cells(name: str, text: str) -> None:
    decl = SET.input(name)
    assert decl is not None
    with pytest.raises(ValueError):
        from_text(decl, text)
