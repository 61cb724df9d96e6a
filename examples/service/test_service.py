"""The example service: evaluate, the catalogue, re-explain from decision records, and the
mapping of every library error to its HTTP status — through a real server on a free port."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from koordservice import Service, make_server

import koordrules

KEY = b"test-key-from-a-secret-store"
SET = "helse-vest/anbefaling-3"
RECORD: dict[str, Any] = {"expected_followup_months": 12.5, "high_treatment_intensity": True,
                          "situation_indicates_need": True, "involved_units": 3,
                          "has_coordinator": False}


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "decisions.jsonl"


@pytest.fixture
def base(log_path: Path) -> Iterator[str]:
    log = koordrules.AuditLog(log_path, key=KEY)
    server = make_server(Service(koordrules.Catalog.builtin(), log, key=KEY))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def call(url: str, body: Any = None, *, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as ex:
        return ex.code, json.loads(ex.read())


def test_the_catalogue_lists_every_shipped_set(base: str) -> None:
    status, body = call(f"{base}/sets")
    assert status == 200
    listed = {(s["id"], s["version"]) for s in body["sets"]}
    assert listed == {(cs.id, cs.version) for cs in koordrules.Catalog.builtin()}
    assert (SET, koordrules.Catalog.builtin().get(SET).version) in listed


def test_evaluate_then_re_explain_the_decision(base: str, log_path: Path) -> None:
    status, body = call(f"{base}/evaluate", {"set": SET, "record": RECORD,
                                             "decision_id": "d-1"})
    assert status == 200, body
    assert body["decision_id"] == "d-1"
    assert body["result"]["outcome"] == "coordinator_likely"
    first_line = body["text"].splitlines()[0]
    assert first_line.startswith("Kriteriesett: Anbefaling 3")
    assert "(helse-vest/anbefaling-3, versjon " in first_line
    entry = next(koordrules.read_log(log_path))
    assert entry["decision_id"] == "d-1" and entry["inputs"] is None  # policy: hash only
    status, explained = call(f"{base}/explain", {"decision": entry, "record": RECORD,
                                                 "lang": "en"})
    assert status == 200, explained
    assert explained["verified"] is True
    assert explained["result"]["outcome"] == "coordinator_likely"
    assert "Criteria set: Recommendation 3" in explained["text"]
    assert "(helse-vest/anbefaling-3, version " in explained["text"]
    # the same id again is refused: decision records pair with exactly one result
    status, again = call(f"{base}/evaluate", {"set": SET, "record": RECORD, "decision_id": "d-1"})
    assert status == 409 and again["error"]["code"] == "duplicate_id"


@pytest.mark.parametrize("field", ["outcome", "criteria", "missing", "possible_outcomes",
                                   "input_sha256"])
def test_an_edited_decision_record_is_refused(base: str, log_path: Path, field: str) -> None:
    call(f"{base}/evaluate", {"set": SET, "record": RECORD, "decision_id": "d-2"})
    entry = next(koordrules.read_log(log_path))
    edited = {**entry, field: {"outcome": "not_indicated", "criteria": {"A": False},
                               "missing": ["lifelong_course"], "possible_outcomes": [],
                               "input_sha256": "0" * 64}[field]}
    status, body = call(f"{base}/explain", {"decision": edited, "record": RECORD})
    assert status == 422, body
    assert body["error"]["code"] in ("bad_signature", "tampered", "result_differs")


def test_a_bad_record_is_422_with_every_problem_and_no_value(base: str) -> None:
    record = {**RECORD, "involved_units": "ZZMARKER777", "expected_followup_months": -4711.25,
              "unknown_field": 1}
    status, body = call(f"{base}/evaluate", {"set": SET, "record": record})
    assert status == 422
    problems = body["error"]["problems"]
    assert {p["field"] for p in problems} == {"involved_units", "expected_followup_months",
                                              "unknown_field"}
    text = json.dumps(body)
    assert "ZZMARKER777" not in text and "4711" not in text


def test_errors_map_to_statuses(base: str) -> None:
    assert call(f"{base}/evaluate", {"set": "no/such-set", "record": {}})[0] == 404
    assert call(f"{base}/evaluate", {"set": SET})[0] == 400
    assert call(f"{base}/evaluate", raw=b"{not json")[0] == 400
    assert call(f"{base}/explain", {"decision": {"format": "other"}})[0] == 400
    status, body = call(f"{base}/explain", {"decision": {
        "format": "other", "criteria_set": {"id": SET, "version": "1.0.0"}}})
    assert status in (404, 422), body
    assert call(f"{base}/nowhere")[0] == 404
