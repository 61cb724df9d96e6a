"""Decision records: an append-only JSON-lines log with one entry per evaluation.

An entry says which decision was made, when, by which criteria set (id, version and content
hash), from which input (the SHA-256 of the record's canonical form, and the inputs themselves
when the log's policy keeps them), and with what outcome, criteria values, missing inputs and
warnings. When the record came from FHIR, ``mapping`` names the mapping (id, version, hash).
With a key from the application the entry is signed (HMAC-SHA256 over the entry's canonical
JSON), so an edited entry cannot pass as genuine.

:func:`verify` checks an entry completely: the set's hash, the input hash (against the stored
inputs or the record given), and every stored result field recomputed by re-evaluating the
record under exactly that set; then the signature. Nothing is trusted from the entry but the
decision id and the time, which only the signature protects.

Entries never contain a trace: the explanation is re-derived on demand (``koordrules explain
--result LOG INPUT``), so a log stays small and holds patient values only by policy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.errors import AuditError, InputError
from koordrules.inputs import validate_record
from koordrules.result import RECORD_ID, Result
from koordrules.values import to_json

__all__ = ("FORMAT", "AuditLog", "Stored", "canonical_input", "decision_record", "input_hash",
           "is_decision_record", "read_log", "read_stored", "sign", "verify_decision",
           "verify_result")

FORMAT = "koordrules-decision/1"
"""The ``format`` of an entry; a reader refuses any other."""

InputPolicy = Literal["hash", "inputs"]
"""``hash``: only the input's SHA-256 is kept; ``inputs``: the validated inputs too."""

RESULT_FIELDS = ("outcome", "possible_outcomes", "missing", "criteria", "warnings")
FIELDS = ("format", "decision_id", "time", "library", "criteria_set", "mapping",
          "input_sha256", "inputs", *RESULT_FIELDS, "signature")
SIGNATURE_PREFIX = "hmac-sha256:"


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def canonical_input(cs: ast.CriteriaSet, record: Mapping[str, Any], *,
                    ignore: Collection[str] = frozenset()) -> dict[str, Any]:
    """The record as the set sees it: declared inputs only, validated, unknowns left out,
    dates as ISO text. Two records that the set cannot tell apart have the same form."""
    inputs, _ = validate_record(cs, record, strict=False, ignore=ignore)
    return {k: to_json(v) for k, v in sorted(inputs.items()) if v is not None}


def input_hash(canonical: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a canonical input's JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(_canonical(dict(canonical))).hexdigest()


def sign(entry: Mapping[str, Any], key: bytes) -> str:
    """The entry's signature: HMAC-SHA256 over its canonical JSON without ``signature``."""
    body = {k: v for k, v in entry.items() if k != "signature"}
    return SIGNATURE_PREFIX + hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()


def decision_record(
    cs: ast.CriteriaSet,
    record: Mapping[str, Any],
    result: Result,
    *,
    decision_id: str | None = None,
    policy: InputPolicy = "hash",
    key: bytes | None = None,
    ignore: Collection[str] = frozenset(),
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The decision record of ``result``, the evaluation of ``record`` under ``cs``.

    ``decision_id`` defaults to a random UUID; ``policy`` says whether the inputs are kept;
    ``key`` signs the entry. When the record was derived from FHIR, ``result.mapping`` (the
    mapping's id, version, sha256 and as-of date) is recorded as ``mapping``; ``record`` is
    then the derived record (``FhirRecord.record``)."""
    if result.criteria_set != cs.ref:
        raise AuditError(f"the result was made with {result.criteria_set.id}@"
                         f"{result.criteria_set.version}, not {cs.key}", code="wrong_set")
    if policy not in ("hash", "inputs"):
        raise AuditError(f"unknown input policy {policy!r}; use 'hash' or 'inputs'",
                         code="bad_policy")
    canonical = canonical_input(cs, record, ignore=ignore)
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    data = result.to_dict()
    entry: dict[str, Any] = {
        "format": FORMAT,
        "decision_id": decision_id or uuid.uuid4().hex,
        "time": when.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "library": _library_version(),
        "criteria_set": data["criteria_set"],
        "mapping": data["mapping"],
        "input_sha256": input_hash(canonical),
        "inputs": canonical if policy == "inputs" else None,
        **{name: data[name] for name in RESULT_FIELDS},
        "signature": None,
    }
    if key is not None:
        entry["signature"] = sign(entry, key)
    return entry


def _library_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("koordrules")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def is_decision_record(item: object) -> bool:
    return isinstance(item, Mapping) and item.get("format") == FORMAT


def verify_decision(
    entry: Mapping[str, Any],
    cs: ast.CriteriaSet,
    record: Mapping[str, Any] | None = None,
    *,
    key: bytes | None = None,
    ignore: Collection[str] = frozenset(),
    redact: bool = False,
) -> Result:
    """Check every field of ``entry`` and return the re-evaluated, traced result.

    ``cs`` must be exactly the set the entry names (same sha256); ``record`` is the original
    record (needed when the log kept only the input hash; when given it must hash to the
    stored value). With ``key`` the signature must be present and valid; a signed entry
    cannot be verified without the key. Raises :class:`~koordrules.errors.AuditError` naming
    every field that does not match."""
    if not isinstance(entry, Mapping) or entry.get("format") != FORMAT:
        raise AuditError(f"not a decision record (format must be {FORMAT!r})",
                         code="bad_record")
    extra = sorted(set(entry) - set(FIELDS))
    absent = sorted(set(FIELDS) - set(entry))
    if extra or absent:
        raise AuditError("the decision record's fields were changed: "
                         + "; ".join(([f"unexpected {', '.join(extra)}"] if extra else [])
                                     + ([f"missing {', '.join(absent)}"] if absent else [])),
                         code="tampered")
    _check_signature(entry, key)
    problems: list[str] = []
    if entry["criteria_set"] != cs.ref.model_dump(mode="json"):
        problems.append("criteria_set")
    stored_inputs = entry["inputs"]
    if stored_inputs is not None and not isinstance(stored_inputs, dict):
        raise AuditError("the decision record's inputs are not an object", code="tampered")
    if record is None and stored_inputs is None:
        raise AuditError("this decision record keeps only the input hash: give the original "
                         "record to verify it", code="needs_record")
    try:
        if stored_inputs is not None:
            if input_hash(stored_inputs) != entry["input_sha256"]:
                problems.append("inputs")
            if canonical_input(cs, stored_inputs) != stored_inputs:
                problems.append("inputs")
        if record is not None and input_hash(canonical_input(cs, record, ignore=ignore)) \
                != entry["input_sha256"]:
            problems.append("input_sha256")
        source: Mapping[str, Any] = record if record is not None else stored_inputs or {}
        fresh = evaluate(cs, source, strict=False, trace=True, redact=redact, ignore=ignore)
    except InputError as ex:
        raise AuditError(f"the decision record's inputs cannot be read: {ex.message}",
                         code="tampered") from None
    recomputed = fresh.to_dict()
    problems += [name for name in RESULT_FIELDS if entry[name] != recomputed[name]]
    if problems:
        raise AuditError("the decision record does not match its re-evaluation in: "
                         + ", ".join(dict.fromkeys(problems)) + ": it was edited, or this is "
                         "not the record that was decided", code="result_differs")
    return fresh


def _check_signature(entry: Mapping[str, Any], key: bytes | None) -> None:
    signature = entry.get("signature")
    if key is None:
        if signature is not None:
            raise AuditError("the decision record is signed: give the key to verify it",
                             code="needs_key")
        return
    if not isinstance(signature, str):
        raise AuditError("the decision record is not signed, but a key was given",
                         code="unsigned")
    if not hmac.compare_digest(signature, sign(entry, key)):
        raise AuditError("the decision record's signature does not match: it was edited "
                         "or signed with another key", code="bad_signature")


class AuditLog:
    """An append-only JSON-lines file of decision records.

    ``AuditLog(path, policy="hash", key=None)``; :meth:`record` evaluates nothing, it writes
    the entry of a result the application already has, one line per call, flushed (and
    ``fsync`` ed with ``durable=True``). Decision ids must be unique in the file: the ids
    already in it are read when it is opened, and a repeated id is refused. Safe to share
    between threads of one process; use one log per process (or per worker).
    """

    def __init__(self, path: str | os.PathLike[str], *, policy: InputPolicy = "hash",
                 key: bytes | None = None, durable: bool = False) -> None:
        self.path = Path(path)
        self.policy: InputPolicy = policy
        self._key = key
        self._durable = durable
        self._lock = threading.Lock()
        self._ids: set[str] = {e["decision_id"] for e in read_log(self.path)} \
            if self.path.exists() else set()

    def record(self, cs: ast.CriteriaSet, record: Mapping[str, Any], result: Result, *,
               decision_id: str | None = None,
               ignore: Collection[str] = frozenset()) -> dict[str, Any]:
        """Append the decision record of ``result`` and return it."""
        entry = decision_record(cs, record, result, decision_id=decision_id,
                                policy=self.policy, key=self._key,
                                ignore=ignore)
        line = json.dumps(entry, ensure_ascii=False, allow_nan=False) + "\n"
        with self._lock:
            if entry["decision_id"] in self._ids:
                raise AuditError(f"decision id {entry['decision_id']!r} is already in "
                                 f"{self.path.name}", code="duplicate_id")
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                if self._durable:
                    os.fsync(f.fileno())
            self._ids.add(entry["decision_id"])
        return entry


def read_log(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The entries of a log, in order, read line by line. A line that is not a decision
    record, or a decision id seen before, raises :class:`~koordrules.errors.AuditError`
    with its line number."""
    name = Path(path).name
    try:
        with Path(path).open(encoding="utf-8") as f:
            yield from _entries(f, name)
    except OSError as ex:
        raise AuditError(f"cannot read {name}: {ex.strerror}", code="io_error") from None


def _entries(lines: Iterator[str], name: str) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise AuditError(f"{name}:{number}: not JSON", code="bad_record") from None
        if not is_decision_record(entry):
            raise AuditError(f"{name}:{number}: not a decision record", code="bad_record")
        ident = entry.get("decision_id")
        if not isinstance(ident, str) or ident in seen:
            raise AuditError(f"{name}:{number}: decision id {ident!r} is not unique",
                             code="duplicate_id")
        seen.add(ident)
        yield entry


# --- stored results and records, as `koordrules explain --result` reads them ---------------


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored item: a result written by ``koordrules eval`` (``result``) or a decision
    record (``entry``), with its id (``record_id`` / ``decision_id``) when it has one."""

    ident: str | None
    result: Result | None = None
    entry: Mapping[str, Any] | None = None

    @property
    def criteria_set(self) -> ast.SetRef:
        if self.result is not None:
            return self.result.criteria_set
        assert self.entry is not None
        try:
            return ast.SetRef.model_validate(self.entry.get("criteria_set"))
        except ValueError:
            raise AuditError("the decision record's criteria_set is not an id, version and "
                             "sha256", code="tampered") from None


def read_stored(path: str | os.PathLike[str]) -> list[Stored]:
    """The stored results or decision records in a file: one JSON object, a JSON array, or
    JSON lines (the output of ``koordrules eval``, or an :class:`AuditLog`). Error lines of
    ``eval`` are skipped. A repeated id is refused: it would pair records with the wrong
    stored result."""
    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as ex:
        raise InputError(f"cannot read {name}: {ex.strerror}", file=str(path),
                         code="io_error") from ex
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as ex:
            raise InputError(f"{name} is neither JSON nor JSON lines: {ex.msg}",
                             file=str(path), code="bad_json") from None
    found: list[Stored] = []
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        if is_decision_record(item):
            ident = item.get("decision_id")
            stored = Stored(None if ident is None else str(ident), entry=item)
        elif isinstance(item, dict) and "criteria_set" in item:
            ident = item.get(RECORD_ID)
            try:
                result = Result.from_dict(item)
            except InputError as ex:
                raise InputError(f"{name}: item {number}: {ex.message}", file=str(path),
                                 code=ex.code, problems=ex.problems) from None
            stored = Stored(None if ident is None else str(ident), result=result)
        else:
            continue  # an error line from eval
        if stored.ident is not None:
            if stored.ident in seen:
                raise AuditError(f"{name}: item {number}: id {stored.ident!r} appears more "
                                 "than once; each stored result needs its own id",
                                 code="duplicate_id", file=str(path))
            seen.add(stored.ident)
        found.append(stored)
    if not found:
        raise InputError(f"{name} holds no stored result", file=str(path), code="bad_result")
    return found


def verify_result(stored: Result, cs: ast.CriteriaSet, record: Mapping[str, Any], *,
                  strict: bool = True, ignore: Collection[str] = frozenset()) -> Result:
    """Re-evaluate ``record`` under ``cs`` and check that *every* field of the stored result
    is what the evaluation gives (the set's id, version and hash, outcome, possible outcomes,
    missing, criteria, warnings, and the trace when one was stored). Returns the fresh result;
    raises :class:`~koordrules.errors.AuditError` ``result_differs`` naming the fields that
    differ."""
    redact = stored.trace.redacted if stored.trace is not None else False
    fresh = evaluate(cs, record, strict=strict, trace=stored.trace is not None, redact=redact,
                     ignore=ignore)
    mine, theirs = fresh.to_dict(), stored.to_dict()
    differs = [k for k in mine if mine[k] != theirs.get(k)]
    if differs:
        raise AuditError("the stored result does not match its re-evaluation in: "
                         + ", ".join(differs) + ": it was edited, or this is not the record "
                         "that was stored", code="result_differs")
    return fresh
