"""The catalogue: loading a tree of sets, versions, lookup by id, id@version and date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from koordrules import Catalog, CatalogError, CriteriaError
from koordrules.resources import criteria_dir, grammar_text

# the published 1.0.0 file: a fixed text to build test catalogues from
SHIPPED = Path(__file__).parents[1] / "criteria/helse-vest/anbefaling-3-1.0.0.yaml"


def _version(text: str, version: str, *, status: str = "active",
             effective: str = "2024-10-01", threshold: int = 6) -> str:
    text = text.replace("version: 1.0.0", f"version: {version}")
    text = text.replace("status: active", f"status: {status}", 1)
    text = text.replace("effective_from: 2024-10-01", f"effective_from: {effective}", 1)
    return text.replace("    value: 6\n", f"    value: {threshold}\n", 1)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    base = SHIPPED.read_text(encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "v1.yaml").write_text(base, encoding="utf-8")
    (tmp_path / "a" / "v1_1.yaml").write_text(
        _version(base, "1.1.0", effective="2025-03-01", threshold=7), encoding="utf-8")
    (tmp_path / "a" / "v2.yaml").write_text(
        _version(base, "2.0.0", status="draft", effective="2026-01-01", threshold=12),
        encoding="utf-8")
    (tmp_path / "a" / "notes.cases.yaml").write_text("not: a criteria set\n", encoding="utf-8")
    return tmp_path


def test_builtin_catalogue_has_anbefaling_3() -> None:
    catalog = Catalog.builtin()
    cs = catalog.get("helse-vest/anbefaling-3")
    assert cs.key == "helse-vest/anbefaling-3@1.0.2"
    assert Catalog.builtin() is catalog  # loaded once


def test_shipped_data_found_through_package_resources() -> None:
    assert (criteria_dir() / "helse-vest" / "anbefaling-3.yaml").is_file()
    assert "?start" in grammar_text()


def test_several_versions_coexist_and_latest_active_wins(tree: Path) -> None:
    catalog = Catalog.load(tree)
    set_id = "helse-vest/anbefaling-3"
    assert [c.version for c in catalog.versions(set_id)] == ["1.0.0", "1.1.0", "2.0.0"]
    assert catalog.get(set_id).version == "1.1.0"  # 2.0.0 is a draft
    assert catalog.get(f"{set_id}@2.0.0").version == "2.0.0"
    assert catalog.get(set_id, as_of=dt.date(2024, 12, 1)).version == "1.0.0"
    assert len(catalog) == 3 and catalog.ids() == [set_id]


def test_missing_id_version_or_active_version_is_a_catalog_error(tree: Path) -> None:
    catalog = Catalog.load(tree)
    with pytest.raises(CatalogError) as ex:
        catalog.get("helse-vest/unknown")
    assert ex.value.code == "not_found"
    with pytest.raises(CatalogError) as ex:
        catalog.get("helse-vest/anbefaling-3@9.9.9")
    assert ex.value.code == "version_not_found" and "1.0.0, 1.1.0, 2.0.0" in ex.value.message
    with pytest.raises(CatalogError) as ex:
        catalog.get("helse-vest/anbefaling-3", as_of=dt.date(2020, 1, 1))
    assert ex.value.code == "not_active"


def test_same_id_and_version_twice_is_an_error(tree: Path) -> None:
    (tree / "copy.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CriteriaError) as ex:
        Catalog.load(tree)
    assert [d.code for d in ex.value.diagnostics] == ["duplicate_version"]


def test_scan_keeps_good_sets_and_reports_bad_files(tree: Path) -> None:
    (tree / "bad.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    catalog = Catalog.scan(tree)
    assert len(catalog) == 3
    errors = [d for d in catalog.diagnostics if d.severity == "error"]
    assert len(errors) == 1 and errors[0].code == "yaml_error"
    assert errors[0].span is not None and errors[0].span.line >= 1
