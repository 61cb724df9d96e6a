"""Decision records and stored results: every field checked, ids unique, signatures."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import koordrules
from koordrules import AuditError, Catalog
from koordrules.audit import (
    FIELDS,
    AuditLog,
    canonical_input,
    decision_record,
    read_log,
    read_stored,
    verify_decision,
    verify_result,
)

CATALOG = Catalog.builtin()
SET = CATALOG.get("helse-vest/anbefaling-3")
OTHER = CATALOG.get(next(k for k in CATALOG.ids() if k != "helse-vest/anbefaling-3"))
RECORD = {"has_coordinator": False, "expected_followup_months": 12.5, "lifelong_course": True,
          "involved_units": 3}
KEY = b"application-secret"


def _entry(**kw: Any) -> dict[str, Any]:
    return decision_record(SET, RECORD, koordrules.evaluate(SET, RECORD), **kw)


def _tampered(value: Any) -> Any:
    """A different value of the same shape (or a different shape where there is none)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, "x"]
    if isinstance(value, dict):
        changed = copy.deepcopy(value)
        if changed:
            first = next(iter(changed))
            changed[first] = _tampered(changed[first])
        else:
            changed["x"] = 1
        return changed
    if value is None:
        return "x"
    if isinstance(value, int | float):
        return value + 1
    raise AssertionError(value)  # pragma: no cover


def test_a_decision_record_verifies_and_re_explains() -> None:
    entry = _entry()
    assert set(entry) == set(FIELDS)
    assert entry["inputs"] is None and entry["signature"] is None
    assert entry["criteria_set"] == SET.ref.model_dump(mode="json")
    assert entry["mapping"] is None
    fresh = verify_decision(entry, SET, RECORD)
    assert fresh.outcome == entry["outcome"] and fresh.trace is not None
    with pytest.raises(AuditError) as info:
        verify_decision(entry, SET)  # only the hash was kept: the record is needed
    assert info.value.code == "needs_record"


def test_the_inputs_policy_keeps_the_canonical_record() -> None:
    entry = _entry(policy="inputs")
    assert entry["inputs"] == canonical_input(SET, RECORD)
    assert verify_decision(entry, SET).outcome == entry["outcome"]
    # absent and unknown are the same input
    assert canonical_input(SET, {**RECORD, "newly_diagnosed_chronic": None}) == entry["inputs"]


@pytest.mark.parametrize("field", [f for f in FIELDS if f != "signature"])
def test_every_field_of_a_signed_record_is_protected(field: str) -> None:
    entry = _entry(key=KEY, policy="inputs")
    verify_decision(entry, SET, RECORD, key=KEY)
    entry[field] = _tampered(entry[field])
    with pytest.raises(AuditError) as info:
        verify_decision(entry, SET, RECORD, key=KEY)
    assert info.value.code in ("bad_signature", "bad_record")


RECOMPUTED = ("criteria_set", "input_sha256", "inputs", "outcome", "possible_outcomes",
              "missing", "criteria", "warnings")


@pytest.mark.parametrize("field", RECOMPUTED)
def test_every_recomputable_field_is_recomputed_without_a_key(field: str) -> None:
    entry = _entry(policy="inputs")
    entry[field] = _tampered(entry[field])
    with pytest.raises(AuditError) as info:
        verify_decision(entry, SET, RECORD)
    assert info.value.code in ("result_differs", "tampered")


def test_a_record_with_an_added_or_removed_field_is_refused() -> None:
    entry = _entry()
    with pytest.raises(AuditError, match="unexpected note"):
        verify_decision({**entry, "note": "x"}, SET, RECORD)
    del entry["missing"]
    with pytest.raises(AuditError, match="missing missing"):
        verify_decision(entry, SET, RECORD)


def test_signatures_need_the_right_key() -> None:
    signed = _entry(key=KEY)
    with pytest.raises(AuditError) as info:
        verify_decision(signed, SET, RECORD)
    assert info.value.code == "needs_key"
    with pytest.raises(AuditError) as info:
        verify_decision(signed, SET, RECORD, key=b"another key")
    assert info.value.code == "bad_signature"
    with pytest.raises(AuditError) as info:
        verify_decision(_entry(), SET, RECORD, key=KEY)
    assert info.value.code == "unsigned"


def test_a_record_of_another_set_is_refused() -> None:
    with pytest.raises(AuditError):
        decision_record(OTHER, RECORD, koordrules.evaluate(SET, RECORD))


def test_the_log_is_append_only_json_lines_with_unique_ids(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = AuditLog(path, key=KEY)
    result = koordrules.evaluate(SET, RECORD)
    first = log.record(SET, RECORD, result, decision_id="d-1")
    log.record(SET, RECORD, result)
    with pytest.raises(AuditError) as info:
        log.record(SET, RECORD, result, decision_id="d-1")
    assert info.value.code == "duplicate_id"
    # reopening reads the ids already written
    with pytest.raises(AuditError):
        AuditLog(path, key=KEY).record(SET, RECORD, result, decision_id="d-1")
    entries = list(read_log(path))
    assert len(entries) == 2 and entries[0] == first
    assert all(verify_decision(e, SET, RECORD, key=KEY).outcome == result.outcome for e in entries)
    # an edited file with a repeated id is refused when read
    path.write_text(path.read_text() + json.dumps(first) + "\n")
    with pytest.raises(AuditError) as info:
        list(read_log(path))
    assert info.value.code == "duplicate_id"
    assert "12.5" not in path.read_text()  # the default policy keeps no input values


# --- stored results (koordrules eval output) -----------------------------------------------


def _stored(trace: bool = True) -> dict[str, Any]:
    return koordrules.evaluate(SET, RECORD, trace=trace).to_dict()


STORED_FIELDS = ("outcome", "possible_outcomes", "missing", "criteria", "warnings", "trace")


@pytest.mark.parametrize("field", STORED_FIELDS)
def test_every_field_of_a_stored_result_is_recomputed(field: str) -> None:
    data = _stored()
    assert verify_result(koordrules.Result.from_dict(data), SET, RECORD).outcome
    data[field] = _tampered(data[field]) if field != "trace" else _tampered_trace(data[field])
    try:
        stored = koordrules.Result.from_dict(data)
    except koordrules.InputError:
        return  # not even a result any more
    with pytest.raises(AuditError) as info:
        verify_result(stored, SET, RECORD)
    assert info.value.code == "result_differs" and field in info.value.message


def _tampered_trace(trace: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(trace)
    changed["criteria"][0]["expression"]["text"] += " "
    return changed


@pytest.mark.parametrize("part", ["id", "version", "sha256"])
def test_the_stored_set_reference_is_checked(part: str, tmp_path: Path) -> None:
    from koordrules.lock import stored_set

    data = _stored()
    data["criteria_set"][part] = "0" * 64 if part == "sha256" else _tampered(
        data["criteria_set"][part])
    with pytest.raises(koordrules.CatalogError):
        stored_set(CATALOG, koordrules.Result.from_dict(data).criteria_set)


def test_every_nested_trace_field_of_a_stored_result_is_checked() -> None:
    base = _stored()
    paths: list[tuple[Any, ...]] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i))
        else:
            paths.append(path)

    walk(base["trace"], ("trace",))
    assert len(paths) > 50
    for path in paths[:: max(1, len(paths) // 60)]:
        data = copy.deepcopy(base)
        holder: Any = data
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = _tampered(holder[path[-1]])
        try:
            stored = koordrules.Result.from_dict(data)
        except koordrules.InputError:
            continue
        with pytest.raises(AuditError):
            verify_result(stored, SET, RECORD)


def test_duplicate_record_ids_in_a_stored_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "stored.jsonl"
    line = json.dumps({"record_id": "p1", **_stored(trace=False)})
    path.write_text(line + "\n" + line + "\n")
    with pytest.raises(AuditError) as info:
        read_stored(path)
    assert info.value.code == "duplicate_id"
    path.write_text(line + "\n")
    [item] = read_stored(path)
    assert item.ident == "p1" and item.result is not None


def test_a_stored_result_that_is_not_one_is_a_library_error() -> None:
    with pytest.raises(koordrules.InputError) as info:
        koordrules.Result.from_json('{"criteria_set": {"id": "x"}, "outcome": 12.5}')
    assert info.value.code == "bad_result"
    assert "12.5" not in str(info.value)
    assert len(info.value.problems) > 1
    with pytest.raises(koordrules.InputError) as info:
        koordrules.Result.from_json("{not json")
    assert info.value.code == "bad_json"
    with_id = json.dumps({"record_id": 7, **_stored()})
    assert koordrules.Result.from_json(with_id) == koordrules.evaluate(SET, RECORD)
