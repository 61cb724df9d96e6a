"""The lock file: deterministic writing, version-discipline violations, stored-result lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from koordrules import Catalog, CatalogError, evaluate
from koordrules.lock import (
    LOCK_NAME,
    published,
    read_lock,
    stored_set,
    update_lock,
    verify,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "criteria" / "helse-vest" / "anbefaling-3-1.0.0.yaml"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A catalogue with the shipped Anbefaling 3 file, locked."""
    (tmp_path / "vest").mkdir()
    (tmp_path / "vest" / "a3.yaml").write_text(SHIPPED.read_text(encoding="utf-8"),
                                               encoding="utf-8")
    update = update_lock(tmp_path)
    assert update.written and update.added == ["helse-vest/anbefaling-3@1.0.0"]
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def codes(root: Path) -> list[str]:
    return [d.code for d in verify(root)]


def test_the_shipped_catalogue_matches_its_committed_lock() -> None:
    assert verify(ROOT / "criteria") == []
    lock, _ = read_lock(ROOT / "criteria" / LOCK_NAME)
    assert set(lock.sets) == {p.key for p in published(ROOT / "criteria")}


def test_writing_is_deterministic_and_idempotent(tree: Path) -> None:
    text = (tree / LOCK_NAME).read_text(encoding="utf-8")
    assert '  "helse-vest/anbefaling-3@1.0.0":\n    sha256: "' in text
    assert '    file: "vest/a3.yaml"\n' in text
    again = update_lock(tree)
    assert not again.written and again.added == again.updated == []
    assert (tree / LOCK_NAME).read_text(encoding="utf-8") == text


def test_comments_and_layout_do_not_count_as_content(tree: Path) -> None:
    edit(tree / "vest" / "a3.yaml", "id: helse-vest/anbefaling-3",
         "# a new comment\nid:   helse-vest/anbefaling-3")
    assert verify(tree) == []


def test_content_changed_without_version_bump_is_an_error_at_the_version(tree: Path) -> None:
    edit(tree / "vest" / "a3.yaml", "    value: 6\n", "    value: 9\n")
    (d,) = verify(tree)
    assert d.code == "version_not_bumped" and d.severity == "error"
    assert d.span is not None and d.span.file == str(tree / "vest" / "a3.yaml")
    assert d.span.line == 16  # the line of `version: 1.0.0`
    assert "changed but its version did not" in d.message


def test_lock_refuses_to_accept_a_changed_active_version(tree: Path) -> None:
    edit(tree / "vest" / "a3.yaml", "    value: 6\n", "    value: 9\n")
    before = (tree / LOCK_NAME).read_text(encoding="utf-8")
    update = update_lock(tree)
    assert not update.written and [d.code for d in update.refused] == ["version_not_bumped"]
    assert (tree / LOCK_NAME).read_text(encoding="utf-8") == before
    forced = update_lock(tree, force=True)
    assert forced.written and forced.updated == ["helse-vest/anbefaling-3@1.0.0"]
    assert verify(tree) == []


def test_a_draft_may_change_and_be_relocked(tmp_path: Path) -> None:
    (tmp_path / "vest").mkdir()
    draft = tmp_path / "vest" / "a3.yaml"
    draft.write_text(SHIPPED.read_text(encoding="utf-8").replace("status: active",
                                                                 "status: draft"),
                     encoding="utf-8")
    assert update_lock(tmp_path).written
    edit(draft, "    value: 6\n", "    value: 9\n")
    assert codes(tmp_path) == ["version_not_bumped"]
    assert "a draft may still change" in verify(tmp_path)[0].message
    update = update_lock(tmp_path)
    assert update.updated == ["helse-vest/anbefaling-3@1.0.0"] and verify(tmp_path) == []


def test_a_new_version_is_missing_from_the_lock_until_locked(tree: Path) -> None:
    edit(tree / "vest" / "a3.yaml", "version: 1.0.0", "version: 1.1.0")
    edit(tree / "vest" / "a3.yaml", "  - version: 1.0.0", "  - version: 1.1.0")
    found = {d.code: d for d in verify(tree)}
    assert sorted(found) == ["lock_missing", "lock_stale"]
    assert "run `koordrules lock" in found["lock_missing"].message
    assert found["lock_missing"].severity == "error"
    assert found["lock_stale"].severity == "warning"
    update = update_lock(tree)
    assert update.added == ["helse-vest/anbefaling-3@1.1.0"]
    assert codes(tree) == ["lock_stale"]  # 1.0.0 stays in the lock's history
    lock, _ = read_lock(tree / LOCK_NAME)
    assert list(lock.sets) == ["helse-vest/anbefaling-3@1.0.0", "helse-vest/anbefaling-3@1.1.0"]


def test_reusing_a_version_for_different_content_is_an_error(tree: Path) -> None:
    (tree / "vest" / "a3.yaml").rename(tree / "vest" / "old.yaml.bak")
    copy = tree / "vest" / "renamed.yaml"
    copy.write_text(SHIPPED.read_text(encoding="utf-8").replace("    value: 6\n",
                                                                 "    value: 7\n"),
                    encoding="utf-8")
    (d,) = verify(tree)
    assert d.code == "version_reused"
    assert "already locked for different content (from vest/a3.yaml)" in d.message


VARIANT = """\
id: test/variant
version: 1.0.0
extends: helse-vest/anbefaling-3@^1.0.0
title: Variant
status: active
effective_from: 2024-01-01
source: {document: Test}
parameters:
  min_units_involved: {value: 3}
"""


def test_a_variant_is_locked_with_the_hash_its_results_record(tree: Path) -> None:
    (tree / "vest" / "variant.yaml").write_text(VARIANT, encoding="utf-8")
    assert codes(tree) == ["lock_missing"]
    assert update_lock(tree).added == ["test/variant@1.0.0"]
    lock, _ = read_lock(tree / LOCK_NAME)
    variant = Catalog.load(tree).get("test/variant@1.0.0")
    assert lock.sets["test/variant@1.0.0"].sha256 == evaluate(variant, {}).criteria_set.sha256


def test_a_published_variant_stays_on_the_base_it_was_locked_with(tree: Path) -> None:
    """A newer base version that matches the variant's range does not change the published
    variant (its lock entry pins the base); a new version of the variant moves onto it."""
    variant = tree / "vest" / "variant.yaml"
    variant.write_text(VARIANT, encoding="utf-8")
    update_lock(tree)
    assert "base: \"helse-vest/anbefaling-3@1.0.0\"" in (tree / LOCK_NAME).read_text("utf-8")
    newer = tree / "vest" / "a3-1.1.yaml"
    newer.write_text(SHIPPED.read_text(encoding="utf-8").replace("version: 1.0.0",
                                                                 "version: 1.1.0"),
                     encoding="utf-8")
    edit(newer, "    value: 6\n", "    value: 9\n")
    assert [(d.code, d.file) for d in verify(tree)] == [("lock_missing", str(newer))]
    assert Catalog.scan(tree).get("test/variant@1.0.0").extends == (
        "helse-vest/anbefaling-3@1.0.0")
    (tree / "vest" / "variant-1.1.yaml").write_text(
        VARIANT.replace("version: 1.0.0", "version: 1.1.0"), encoding="utf-8")
    catalog = Catalog.scan(tree)
    assert catalog.get("test/variant@1.1.0").extends == "helse-vest/anbefaling-3@1.1.0"
    assert catalog.get("test/variant@1.0.0").extends == "helse-vest/anbefaling-3@1.0.0"
    assert catalog.get("test/variant").version == "1.1.0"


def test_a_variant_that_does_not_resolve_is_left_to_check(tree: Path) -> None:
    (tree / "vest" / "variant.yaml").write_text(
        VARIANT.replace("@^1.0.0", "@^7.0.0"), encoding="utf-8")
    assert verify(tree) == []
    update = update_lock(tree)
    assert [d.code for d in update.refused] == ["not_resolved"] and not update.written


def test_a_malformed_lock_is_reported_with_a_position(tree: Path) -> None:
    (tree / LOCK_NAME).write_text('sets:\n  "x@1.0.0": {sha256: "nothex", file: f}\n',
                                  encoding="utf-8")
    (d,) = verify(tree)
    assert d.code == "schema_error" and d.span is not None and d.span.line == 2


def test_no_lock_file_means_nothing_to_verify(tmp_path: Path) -> None:
    assert verify(tmp_path) == []


def test_stored_set_finds_the_exact_version_and_checks_its_hash() -> None:
    catalog = Catalog.builtin()
    cs = catalog.get("helse-vest/anbefaling-3@1.0.0")
    ref = evaluate(cs, {}).criteria_set
    assert stored_set(catalog, ref) is cs
    with pytest.raises(CatalogError) as info:
        stored_set(catalog, ref.model_copy(update={"sha256": "0" * 64}))
    assert info.value.code == "hash_mismatch"
    assert "changed without a new version" in info.value.message
    with pytest.raises(CatalogError) as info:
        stored_set(catalog, ref.model_copy(update={"version": "0.9.0"}))
    assert info.value.code == "version_gone"
    assert "helse-vest/anbefaling-3@0.9.0, which is not in the catalogue" in info.value.message
