"""The lock covers the versioned data files beside the sets: indicator files and journal
templates (hash and version history; an edit without a version bump is caught)."""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from koordrules.cli import main
from koordrules.lock import LOCK_NAME, published_data, read_lock, update_lock, verify

ROOT = Path(__file__).resolve().parent.parent
CRITERIA = ROOT / "criteria"
INDICATORS = CRITERIA / "helse-vest" / "koordinator.indicators.yaml"
JOURNAL = CRITERIA / "ous" / "koordinator-journalnotat.journal.yaml"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A catalogue with the shipped indicator file and journal template, locked."""
    for src, dst in ((INDICATORS, "vest/k.indicators.yaml"), (JOURNAL, "ous/j.journal.yaml")):
        (tmp_path / dst).parent.mkdir(exist_ok=True)
        shutil.copy(src, tmp_path / dst)
    update = update_lock(tmp_path)
    assert update.written
    assert sorted(update.added) == ["helse-vest/indikatorar@1.0.0",
                                    "ous/koordinator-journalnotat@1.0.0"]
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_data_files_are_in_the_committed_lock() -> None:
    lock, _ = read_lock(CRITERIA / LOCK_NAME)
    found = {p.key: p for p in published_data(CRITERIA)}
    assert set(found) == {"helse-vest/indikatorar@1.0.0", "ous/koordinator-journalnotat@1.0.0"}
    assert set(lock.data) >= set(found)
    for key, p in found.items():
        assert lock.data[key].sha256 == p.sha256 and lock.data[key].file == p.file
    assert verify(CRITERIA) == []


def test_the_lock_file_lists_them_under_data(tree: Path) -> None:
    text = (tree / LOCK_NAME).read_text(encoding="utf-8")
    assert '\ndata:\n  "helse-vest/indikatorar@1.0.0":\n    sha256: "' in text
    assert '    file: "ous/j.journal.yaml"\n' in text
    assert not update_lock(tree).written  # idempotent


def test_comments_do_not_count_as_content(tree: Path) -> None:
    edit(tree / "vest" / "k.indicators.yaml", "unit_field: unit", "# eininga\nunit_field:  unit")
    assert verify(tree) == []


@pytest.mark.parametrize(("file", "old", "new", "line"), [
    ("vest/k.indicators.yaml", "unit_field: unit", "unit_field: post", 12),
    ("ous/j.journal.yaml", "Om det er oppnevnt KO", "Om det er oppnevnt koordinator", 18),
])
def test_an_edit_without_a_version_bump_is_an_error_at_the_version(
        tree: Path, file: str, old: str, new: str, line: int) -> None:
    edit(tree / file, old, new)
    (d,) = verify(tree)
    assert d.code == "version_not_bumped" and d.severity == "error"
    assert d.span is not None and d.span.file == str(tree / file) and d.span.line == line
    refused = update_lock(tree)
    assert not refused.written and [x.code for x in refused.refused] == ["version_not_bumped"]


def test_a_new_version_is_locked_and_the_old_one_stays_in_the_history(tree: Path) -> None:
    path = tree / "vest" / "k.indicators.yaml"
    old_sha = read_lock(tree / LOCK_NAME)[0].data["helse-vest/indikatorar@1.0.0"].sha256
    edit(path, "unit_field: unit", "unit_field: post")
    edit(path, "version: 1.0.0", "version: 1.1.0")
    assert sorted(d.code for d in verify(tree)) == ["lock_missing", "lock_stale"]
    update = update_lock(tree)
    assert update.added == ["helse-vest/indikatorar@1.1.0"]
    lock = read_lock(tree / LOCK_NAME)[0]
    assert lock.data["helse-vest/indikatorar@1.0.0"].sha256 == old_sha  # history kept
    assert [d.code for d in verify(tree)] == ["lock_stale"]  # 1.0.0 has no file any more


def test_two_files_claiming_one_version_with_different_content(tree: Path) -> None:
    copy = tree / "vest" / "kopi.indicators.yaml"
    shutil.copy(tree / "vest" / "k.indicators.yaml", copy)
    assert verify(tree) == []  # the same content twice is harmless
    edit(copy, "unit_field: unit", "unit_field: post")
    (d,) = verify(tree)
    assert d.code == "version_reused" and d.span is not None and d.span.file == str(copy)


def test_a_draft_may_change_and_be_relocked(tree: Path) -> None:
    path = tree / "ous" / "j.journal.yaml"
    edit(path, "status: active", "status: draft")
    assert [d.code for d in verify(tree)] == ["version_not_bumped"]  # locked as active
    edit(path, "version: 1.0.0", "version: 1.1.0")
    assert update_lock(tree).written
    edit(path, "Om det er oppnevnt KO", "Om det er oppnevnt koordinator")
    (error,) = [d for d in verify(tree) if d.severity == "error"]
    assert error.code == "version_not_bumped" and "a draft may still change" in error.message
    assert update_lock(tree).updated == ["ous/koordinator-journalnotat@1.1.0"]


def test_check_reports_an_unbumped_edit_of_a_data_file(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edit(tree / "vest" / "k.indicators.yaml", "unit_field: unit", "unit_field: post")
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    code = main(["check", str(tree)])
    assert code != 0
    assert "version_not_bumped" in out.getvalue() + err.getvalue()


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped catalogue as an editor's working tree installs it, with the indicator file
    and the journal template edited after the last `koordrules lock`."""
    from koordrules import catalog, indicators, journal

    root = tmp_path / "criteria"
    shutil.copytree(CRITERIA, root)
    for module in (catalog, indicators, journal):
        monkeypatch.setattr(module, "criteria_dir", lambda: root)
    catalog._shipped_data_lock.cache_clear()
    yield root
    catalog._shipped_data_lock.cache_clear()


def test_the_shipped_data_files_are_served_only_as_locked(installed: Path) -> None:
    from koordrules import CatalogError
    from koordrules.indicators import builtin_indicators
    from koordrules.journal import builtin_journal_template

    assert builtin_indicators().key == "helse-vest/indikatorar@1.0.0"
    assert builtin_journal_template().key == "ous/koordinator-journalnotat@1.0.0"
    edit(installed / "helse-vest" / "koordinator.indicators.yaml", "unit_field: unit",
         "unit_field: post")
    edit(installed / "ous" / "koordinator-journalnotat.journal.yaml", "Om det er oppnevnt KO",
         "Om det er oppnevnt koordinator")
    for load in (builtin_indicators, builtin_journal_template):
        with pytest.raises(CatalogError) as caught:
            load()
        assert caught.value.code == "not_locked"
    with pytest.raises(CatalogError) as missing:
        builtin_indicators("helse-vest/finst-ikkje")
    assert missing.value.code == "not_found"
