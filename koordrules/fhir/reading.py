"""Reading FHIR JSON safely: one size limit for ``.json`` and NDJSON, deep nesting a typed
error, bad NDJSON lines reported and skipped, and the FHIR version detected.

Nothing here keeps or changes the caller's data: the readers return freshly parsed JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from koordrules.errors import FhirVersionError, KoordError, LoadError
from koordrules.yamldoc import read_text_file

#: The largest FHIR input file read, ``.json`` and NDJSON alike (bytes).
MAX_FHIR_BYTES = 50_000_000
#: The most entries one Bundle may hold.
MAX_ENTRIES = 50_000


def parse_json(text: str, *, file: str | None = None, line: int | None = None) -> Any:
    """JSON text → data; malformed or too deeply nested JSON is a :class:`LoadError`."""
    where = f"line {line}: " if line is not None else ""
    try:
        return json.loads(text)
    except json.JSONDecodeError as ex:
        at = f"column {ex.colno}" if line is not None else f"line {ex.lineno}, column {ex.colno}"
        raise LoadError(f"{where}invalid JSON at {at}: {ex.msg}", file=file,
                        code="json_error") from ex
    except RecursionError as ex:
        raise LoadError(f"{where}the JSON is nested too deeply to read", file=file,
                        code="json_too_deep") from ex
    except ValueError as ex:  # Python's limit on converting text to an int
        raise LoadError(f"{where}the JSON holds an integer of more than 4300 digits",
                        file=file, code="number_too_large") from ex


def load_json(path: str | Path) -> Any:
    """A JSON file (UTF-8, at most :data:`MAX_FHIR_BYTES`); errors are :class:`LoadError`."""
    text = read_text_file(path, max_bytes=MAX_FHIR_BYTES)
    return parse_json(text, file=str(path))


def is_ndjson(path: str | Path) -> bool:
    return str(path).lower().endswith((".jsonl", ".ndjson"))


def iter_ndjson(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, data)`` for each non-blank line; a bad line gives ``(number,
    LoadError)`` and reading goes on. The file obeys the same size limit as ``.json``."""
    text = read_text_file(path, max_bytes=MAX_FHIR_BYTES)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, parse_json(line, file=str(path), line=number)
        except LoadError as ex:
            yield number, ex


def iter_json_items(path: str | Path) -> Iterator[tuple[int, Any]]:
    """The items of a file: one JSON value, a JSON array of them, or NDJSON lines."""
    if is_ndjson(path):
        yield from iter_ndjson(path)
        return
    data = load_json(path)
    if isinstance(data, list):
        yield from enumerate(data, start=1)
    else:
        yield 1, data


# --------------------------------------------------------------------------- FHIR version

#: Shapes that exist only before R4: (resource type, element, test, version it shows).
_OLD_SHAPES: tuple[tuple[str, str, type, str], ...] = (
    ("Condition", "clinicalStatus", str, "STU3 or DSTU2"),
    ("Condition", "verificationStatus", str, "STU3 or DSTU2"),
    ("Condition", "patient", dict, "DSTU2"),
    ("Condition", "assertedDate", str, "STU3"),
    ("Encounter", "patient", dict, "DSTU2"),
    ("Encounter", "class", str, "DSTU2"),
    ("Encounter", "reason", list, "STU3"),
    ("AllergyIntolerance", "clinicalStatus", str, "STU3"),
)
_OLD_TYPES = {"MedicationOrder": "DSTU2", "DiagnosticOrder": "DSTU2", "ProcedureRequest":
              "STU3", "ReferralRequest": "STU3", "DeviceUseRequest": "DSTU2"}


def detect_version(resources: list[Any], *, file: str | None = None) -> None:
    """Raise :class:`FhirVersionError` when a resource has a shape R4 does not have
    (``Condition.clinicalStatus`` as a plain code, ``MedicationOrder``, …)."""
    for i, resource in enumerate(resources):
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if isinstance(kind, str) and kind in _OLD_TYPES:
            _raise_version(_OLD_TYPES[kind], f"a {kind} resource", i, file)
        for rtype, element, shape, version in _OLD_SHAPES:
            if kind == rtype and isinstance(resource.get(element), shape):
                _raise_version(version, f"{rtype}.{element} in the {version} form", i, file)


def _raise_version(version: str, what: str, index: int, file: str | None) -> None:
    raise FhirVersionError(
        f"this is FHIR {version}, not R4 ({what}, entry {index}); koordrules reads FHIR R4 "
        "only: convert the data to R4 first", file=file)


def bundle_entries(data: Any, *, file: str | None = None) -> list[Any]:
    """The ``entry`` list of a Bundle (checked); raises :class:`LoadError` otherwise."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise LoadError(f"expected a FHIR Bundle, found {found!r}", file=file,
                        code="fhir_not_bundle")
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise LoadError("Bundle.entry must be a list", file=file, code="fhir_invalid_bundle")
    if len(entries) > MAX_ENTRIES:
        raise LoadError(f"the bundle has more than {MAX_ENTRIES} entries", file=file,
                        code="too_large")
    return entries


def paging_problem(data: dict[str, Any]) -> str | None:
    """Why a Bundle is only part of the record (a ``next`` link, ``total`` above the
    entries of a search set), or ``None``."""
    links = data.get("link")
    if isinstance(links, list):
        for link in links:
            if isinstance(link, dict) and link.get("relation") == "next":
                return ("the bundle is one page of a paged result (it has a 'next' link); "
                        "facts from it may be incomplete")
    total = data.get("total")
    entries = data.get("entry")
    if (isinstance(total, int) and not isinstance(total, bool) and isinstance(entries, list)
            and total > len(entries)):
        return (f"the bundle says it has {total} matches but holds {len(entries)} entries; "
                "facts from it may be incomplete")
    return None


def as_error(ex: Exception, *, file: str | None) -> KoordError:
    return ex if isinstance(ex, KoordError) else LoadError(str(ex), file=file)
