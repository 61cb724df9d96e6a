"""The JSON Schemas editors use: generated from the models, committed, shipped, and right."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from koordrules import schema
from koordrules.catalog import criteria_files
from koordrules.cli import main
from koordrules.resources import criteria_dir

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "koordrules" / "schemas"
CRITERIA_FILES = criteria_files(criteria_dir())
CASE_FILES = sorted(criteria_dir().rglob("*.cases.yaml"))
LANGUAGE_SERVER = "# yaml-language-server: $schema="


def _json_ready(value: Any) -> Any:
    """YAML data as an editor's language server sees it: dates are strings."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _load(path: Path) -> Any:
    return _json_ready(yaml.safe_load(path.read_text(encoding="utf-8")))


def _validator(name: schema.SchemaName) -> jsonschema.Draft202012Validator:
    committed = json.loads((SCHEMA_DIR / schema.FILES[name]).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(committed)
    return jsonschema.Draft202012Validator(
        committed, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def criteria_validator() -> jsonschema.Draft202012Validator:
    return _validator("criteria")


@pytest.fixture(scope="module")
def good() -> dict[str, Any]:
    return _load(criteria_dir() / "helse-vest" / "anbefaling-3.yaml")  # type: ignore[no-any-return]


# --- committed == generated -------------------------------------------------------------


@pytest.mark.parametrize("name", ["criteria", "cases"])
def test_committed_schema_equals_the_generated_one(name: schema.SchemaName) -> None:
    committed = (SCHEMA_DIR / schema.FILES[name]).read_text(encoding="utf-8")
    assert committed == schema.dumps(schema.generate(name)), (
        f"regenerate: koordrules schema {name} -o koordrules/schemas/{schema.FILES[name]}")


@pytest.mark.parametrize("name", ["criteria", "cases"])
def test_shipped_schema_is_read_from_the_package(name: schema.SchemaName) -> None:
    assert schema.shipped(name) == schema.generate(name)


def test_cli_schema_prints_the_generated_schema() -> None:
    out = io.StringIO()
    assert main(["schema", "criteria"], out=out, err=io.StringIO()) == 0
    assert json.loads(out.getvalue()) == schema.criteria_schema()


def test_cli_schema_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    err = io.StringIO()
    assert main(["schema", "-o", str(target)], out=io.StringIO(), err=err) == 0
    assert target.read_text(encoding="utf-8") == schema.dumps(schema.criteria_schema())
    assert str(target) in err.getvalue()


def test_cli_schema_rejects_an_unknown_format() -> None:
    assert main(["schema", "patients"], out=io.StringIO(), err=io.StringIO()) == 2


def test_generate_rejects_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown schema"):
        schema.generate("patients")  # type: ignore[arg-type]


# --- the schema describes what editors need ---------------------------------------------


def test_every_field_of_the_criteria_schema_has_a_description() -> None:
    generated = schema.criteria_schema()
    missing = [f"{name}.{field}"
               for name, definition in [("CriteriaFile", generated),
                                        *generated["$defs"].items()]
               for field, prop in definition.get("properties", {}).items()
               if not prop.get("description")]
    assert missing == []


def test_descriptions_are_plain_text_without_docstring_markup() -> None:
    text = json.dumps(schema.criteria_schema(), ensure_ascii=False)
    assert "``" not in text
    assert ":mod:" not in text and ":class:" not in text


def test_title_may_be_a_string_or_localised_text(
        criteria_validator: jsonschema.Draft202012Validator, good: dict[str, Any]) -> None:
    for title in ("Anbefaling 3", {"nb": "Anbefaling 3"},
                  {"nb": "Anbefaling 3", "nn": "Tilråding 3", "en": "Recommendation 3"}):
        criteria_validator.validate({**good, "title": title})
        criterion = {**good["criteria"]["A"], "title": title}
        criteria_validator.validate({**good, "criteria": {**good["criteria"], "A": criterion}})


# --- shipped files ----------------------------------------------------------------------


def test_the_catalogue_has_criteria_files() -> None:
    assert len(CRITERIA_FILES) >= 1


@pytest.mark.parametrize("path", CRITERIA_FILES, ids=lambda p: p.name)
def test_shipped_criteria_file_validates_against_the_committed_schema(
        path: Path, criteria_validator: jsonschema.Draft202012Validator) -> None:
    errors = sorted(criteria_validator.iter_errors(_load(path)), key=str)
    assert errors == []


@pytest.mark.parametrize("path", CRITERIA_FILES, ids=lambda p: p.name)
def test_shipped_criteria_file_names_the_schema_on_its_first_line(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(LANGUAGE_SERVER)
    target = (path.parent / first.removeprefix(LANGUAGE_SERVER).strip()).resolve()
    assert target == (SCHEMA_DIR / "criteria-set.schema.json").resolve()


def test_the_catalogue_has_case_files() -> None:
    assert len(CASE_FILES) >= 1


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_shipped_case_file_validates_against_the_committed_schema(path: Path) -> None:
    errors = sorted(_validator("cases").iter_errors(_load(path)), key=str)
    assert errors == []


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_shipped_case_file_names_the_case_schema_on_its_first_line(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(LANGUAGE_SERVER)
    target = (path.parent / first.removeprefix(LANGUAGE_SERVER).strip()).resolve()
    assert target == (SCHEMA_DIR / "case-file.schema.json").resolve()


# --- known-bad files are rejected -------------------------------------------------------


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


BAD: dict[str, Any] = {
    "missing id": lambda g: _without(g, "id"),
    "missing when": lambda g: {**g, "criteria": {"A": {"title": "A"}}},
    "unknown top-level field": lambda g: {**g, "colour": "blue"},
    "unknown input field": lambda g: {**g, "inputs": {"x": {"type": "boolean", "kind": "data",
                                                               "optional": True}}},
    "status not allowed": lambda g: {**g, "status": "published"},
    "version not semver": lambda g: {**g, "version": "1.0"},
    "id with capitals": lambda g: {**g, "id": "Helse-Vest/A3"},
    "id without owner": lambda g: {**g, "id": "anbefaling-3"},
    "date not a date": lambda g: {**g, "effective_from": "1. oktober 2024"},
    "input type unknown": lambda g: {**g, "inputs": {"x": {"type": "float", "kind": "data"}}},
    "input kind unknown": lambda g: {**g, "inputs": {"x": {"type": "boolean", "kind": "guess"}}},
    "parameter name with a space": lambda g: {**g, "parameters": {"two units": {"value": 2}}},
    "criterion name starting with a digit": lambda g: {**g, "criteria": {
        "1A": {"title": "A", "when": "true"}}},
    "title as a list": lambda g: {**g, "title": ["Anbefaling", "3"]},
    "title without bokmål": lambda g: {**g, "title": {"en": "Recommendation 3"}},
    "title with an unknown language": lambda g: {**g, "title": {"nb": "A", "sv": "A"}},
    "outcomes as a mapping": lambda g: {**g, "outcomes": {"x": {"when": "true"}}},
    "outcome id with a dash": lambda g: {**g, "outcomes": [{"id": "not-indicated",
                                                            "otherwise": True}]},
    "source without document": lambda g: {**g, "source": {"chapter": "5.2"}},
    "changelog entry without changes": lambda g: {**g, "changelog": [{"version": "1.0.0"}]},
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_known_bad_criteria_file_is_rejected(
        case: str, criteria_validator: jsonschema.Draft202012Validator,
        good: dict[str, Any]) -> None:
    criteria_validator.validate(good)
    assert not criteria_validator.is_valid(BAD[case](good))


CASE = {"set": "helse-vest/anbefaling-3@1.0.0",
        "cases": [{"name": "A", "inputs": {"involved_units": 3},
                   "expect": {"outcome": "coordinator_likely", "criteria": {"A": None},
                              "missing": ["has_coordinator"]}}]}


def _case_with(**expect: Any) -> dict[str, Any]:
    return {**CASE, "cases": [{**CASE["cases"][0], "expect": expect}]}


BAD_CASES: dict[str, Any] = {
    "missing set": {"cases": CASE["cases"]},
    "no cases": {**CASE, "cases": []},
    "case without expect": {**CASE, "cases": [{"name": "A", "inputs": {}}]},
    "expect without outcome": _case_with(criteria={"A": True}),
    "criterion value not a truth value": _case_with(outcome=None, criteria={"A": "yes"}),
    "unknown field in a case": {**CASE, "cases": [{**CASE["cases"][0], "note": "x"}]},
    "empty case name": {**CASE, "cases": [{**CASE["cases"][0], "name": ""}]},
    "missing as a string": _case_with(outcome=None, missing="has_coordinator"),
}


def test_a_good_case_file_is_accepted() -> None:
    _validator("cases").validate(CASE)
    _validator("cases").validate(_case_with(outcome=None))


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_known_bad_case_file_is_rejected(case: str) -> None:
    assert not _validator("cases").is_valid(BAD_CASES[case])
