"""Version discipline: the lock file, and finding the exact set a stored result used.

``criteria/criteria.lock`` records, for every published ``id@version``, the sha256 that
results record (``Result.criteria_set.sha256``: the canonical JSON of the file's YAML data, so
comments and layout do not count; for a variant, also its base's hash) and the file it came
from. Once a version is locked its content may not change:

- ``version_not_bumped`` — the content of a locked ``id@version`` changed (its file, or for a
  variant its base) but its version did not;
- ``version_reused`` — another file claims a locked ``id@version`` with different content;
- ``lock_missing`` — a set is not in the lock yet (run ``koordrules lock``);
- ``lock_stale`` (warning) — a locked version has no file any more, so results stored under
  it can no longer be re-explained.

The same holds for FHIR mappings (``mappings:``) and for the versioned data files beside the
sets (``data:``): indicator files (``*.indicators.yaml``) and journal templates
(``*.journal.yaml``). Their hash is that of the file's canonical YAML data, like a set's.

A version locked with ``status: draft`` may still change: ``koordrules lock`` accepts its new
content. A version locked as active or retired is published: its content never changes,
whatever its status says now (setting it back to ``draft`` does not reopen it), and ``lock``
refuses (unless forced): give the set a new version instead. Each entry records the status the
version was locked with; for an entry written before that was recorded, the file's status
counts.

``koordrules check`` consults the lock for any path inside a locked catalogue: a folder with
the lock, a sub-folder or a single file (:func:`verify_path`).

Entries are never dropped, so the lock is also the history of published versions.
:func:`stored_set` finds the set a stored :class:`~koordrules.result.Result` names and checks
that its content is still exactly what produced the result.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from koordrules import ast
from koordrules.catalog import Catalog, criteria_files, data_sha256
from koordrules.errors import CatalogError, CriteriaError, Diagnostic, KoordError
from koordrules.loader import read
from koordrules.span import Span
from koordrules.yamldoc import YamlDoc, read_yaml, validate

LOCK_NAME = "criteria.lock"
SHA256_PATTERN = r"^[0-9a-f]{64}$"

_HEADER = """\
# koordrules criteria lock: written by `koordrules lock`, checked by `koordrules check`.
# One entry per published id@version: the sha256 of the file's content (comments and layout
# do not count) and the file it came from. A locked version's content must not change:
# give the changed set a new version instead. Do not edit by hand.
"""


class LockEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=SHA256_PATTERN)
    """The set's content hash, as results record it (``criteria_set.sha256``)."""
    file: str
    """The file, relative to the lock's directory (POSIX separators)."""
    status: str | None = None
    """The set's status when it was locked (``None``: a lock written before it was kept)."""
    base: str | None = None
    """A variant's base, exactly (``id@version``), as it was locked: a published variant keeps
    this base even when a newer version of the base matches its ``extends`` range."""

    def open_for(self, p: Published) -> bool:
        """Whether this locked version may still take new content: only a draft may."""
        return (self.status or p.status) == "draft"


class LockFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lock_version: int = 1
    sets: dict[str, LockEntry] = Field(default_factory=dict)
    """``id@version`` → entry, sorted by key."""
    mappings: dict[str, LockEntry] = Field(default_factory=dict)
    """FHIR mappings: ``id@version`` → entry (the hash results record in ``mapping.sha256``,
    which covers the value sets the mapping uses)."""

    data: dict[str, LockEntry] = Field(default_factory=dict)
    """Indicator files and journal templates: ``id@version`` → entry (the sha256 of the
    file's canonical YAML data)."""

    @field_validator("mappings", "data", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return {} if value is None else value  # `mappings:` with every entry removed


@dataclass(frozen=True)
class Published:
    """A set file found in the tree: its key, content hash and status.

    ``sha256`` is ``None`` for a variant that does not resolve (``check`` reports why)."""

    key: str
    sha256: str | None
    file: str
    status: str
    doc: YamlDoc
    base: str | None = None

    @property
    def version_span(self) -> Span:
        return self.doc.span(("version",))


def lock_path(root: str | Path) -> Path:
    """Where the lock file of the catalogue ``root`` lives."""
    return Path(root) / LOCK_NAME


def published(root: str | Path) -> list[Published]:
    """Every set file under ``root`` that parses (files with errors are ``check``'s business),
    with the hash of the resolved set (what results record)."""
    base = Path(root)
    resolved = {cs.key: cs for cs in Catalog.scan(base)}
    found = []
    for path in criteria_files(base):
        try:
            setfile = read(path)
        except KoordError:
            continue
        cs = resolved.get(setfile.key)
        if cs is not None and cs.file is not None and Path(cs.file).resolve() == path.resolve():
            sha: str | None = cs.sha256
        else:  # a duplicate of another file's id@version, or a variant that does not resolve
            sha = setfile.sha256 if setfile.spec.extends is None else None
        found.append(Published(setfile.key, sha, path.relative_to(base).as_posix(),
                               setfile.spec.status, setfile.doc,
                               cs.extends if cs is not None and sha is not None else None))
    return found


def published_mappings(root: str | Path) -> list[Published] | None:
    """Every FHIR mapping file under ``root`` that loads, with the hash results record;
    ``None`` when the ``fhir`` extra is missing (then mappings are not checked)."""
    from koordrules.errors import LoadError

    try:
        from koordrules.fhir import load_mapping, mapping_files
        from koordrules.fhir.fhirpath import check_expression

        check_expression("x")
    except LoadError:
        return None
    base = Path(root)
    found = []
    for path in mapping_files(base):
        try:
            m = load_mapping(path)
        except KoordError:
            continue
        found.append(Published(m.key, m.sha256, path.relative_to(base).as_posix(),
                               m.spec.status, m.doc))
    return found


def published_data(root: str | Path) -> list[Published]:
    """Every indicator file and journal template under ``root`` that loads, with the sha256
    of its canonical YAML data (comments and layout do not count)."""
    from koordrules.indicators import indicator_files, load_indicators
    from koordrules.journal import journal_files, load_journal_template

    base = Path(root)
    found = []
    for files, load in ((indicator_files, load_indicators),
                        (journal_files, load_journal_template)):
        for path in files(base):
            try:
                spec = load(path)
                doc = read_yaml(path, raw_keys=())
            except KoordError:
                continue  # `check` reports why
            sha = data_sha256(path)
            found.append(Published(spec.key, sha, path.relative_to(base).as_posix(),
                                   spec.status, doc))
    return found


def read_lock(path: str | Path) -> tuple[LockFile, YamlDoc]:
    """Read a lock file; raises :class:`CriteriaError` (with positions) if it is malformed."""
    doc = read_yaml(path, raw_keys=())
    lock, problems = validate(LockFile, doc)
    if lock is None:
        raise CriteriaError(problems, file=doc.file)
    return lock, doc


def render_lock(lock: LockFile) -> str:
    """The lock file's text: deterministic (sorted keys, fixed layout, quoted strings)."""
    lines = [_HEADER.rstrip("\n"), f"lock_version: {lock.lock_version}", "sets:"]
    for key in sorted(lock.sets):
        entry = lock.sets[key]
        lines += [f"  {json.dumps(key)}:", f"    sha256: {json.dumps(entry.sha256)}",
                  f"    file: {json.dumps(entry.file)}"]
        if entry.status is not None:
            lines.append(f"    status: {json.dumps(entry.status)}")
        if entry.base is not None:
            lines.append(f"    base: {json.dumps(entry.base)}")
    if not lock.sets:
        lines[-1] = "sets: {}"
    for name, group in (("mappings", lock.mappings), ("data", lock.data)):
        if not group:
            continue
        lines.append(f"{name}:")
        for key in sorted(group):
            entry = group[key]
            lines += [f"  {json.dumps(key)}:", f"    sha256: {json.dumps(entry.sha256)}",
                      f"    file: {json.dumps(entry.file)}"]
            if entry.status is not None:
                lines.append(f"    status: {json.dumps(entry.status)}")
    return "\n".join(lines) + "\n"


def _violation(p: Published, entry: LockEntry, noun: str = "set") -> Diagnostic:
    set_id, _, version = p.key.partition("@")
    now = (p.sha256 or "")[:12]
    if entry.file == p.file:
        if entry.open_for(p):
            hint = "; a draft may still change: run `koordrules lock` to accept it"
        elif p.status == "draft":
            hint = (f"; it was locked as {entry.status or 'published'}, and a published "
                    "version stays as it was even when set back to draft")
        else:
            hint = ""
        return Diagnostic(
            "error", "version_not_bumped",
            f"the content of {p.key} changed but its version did not (locked sha256 "
            f"{entry.sha256[:12]}…, now {now}…): give the changed {noun} a new version "
            f"and a changelog entry{hint}", p.version_span, p.doc.file)
    return Diagnostic(
        "error", "version_reused",
        f"version {version} of {set_id} is already locked for different content (from "
        f"{entry.file}): use a new version", p.version_span, p.doc.file)


def _second_copy(p: Published, seen: dict[str, Published], noun: str = "set") -> Diagnostic | None:
    """``version_reused`` when another file already claimed ``p.key`` with other content;
    otherwise ``p`` is recorded in ``seen`` and there is no problem."""
    first = seen.get(p.key)
    if first is not None and first.sha256 != p.sha256:
        assert first.sha256 is not None
        return _violation(p, LockEntry(sha256=first.sha256, file=first.file), noun)
    seen[p.key] = p
    return None


def _unreadable(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        read(path)
    except KoordError:
        return True
    return False


def verify(root: str | Path) -> list[Diagnostic]:
    """Check the sets under ``root`` against its lock file (none: nothing to check)."""
    path = lock_path(root)
    if not path.is_file():
        return []
    try:
        lock, doc = read_lock(path)
    except CriteriaError as ex:
        return ex.diagnostics
    except KoordError as ex:
        return [ex.diagnostic()]
    problems: list[Diagnostic] = []
    keys = set()
    for p in published(root):
        keys.add(p.key)
        entry = lock.sets.get(p.key)
        if p.sha256 is None:
            continue
        if entry is None:
            problems.append(Diagnostic(
                "error", "lock_missing",
                f"{p.key} is not in {path}: run `koordrules lock {root}` and commit the lock",
                p.version_span, p.doc.file))
        elif entry.sha256 != p.sha256:
            problems.append(_violation(p, entry))
    for key in sorted(set(lock.sets) - keys):
        if _unreadable(Path(root) / lock.sets[key].file):
            continue  # the file is there but does not read: its own error says why
        problems.append(Diagnostic(
            "warning", "lock_stale",
            f"{key} is locked but no file defines it any more: results stored under it can no "
            "longer be re-explained", doc.span(("sets", key)), doc.file))
    problems += _verify_mappings(root, lock, doc)
    problems += _verify_data(root, lock, doc)
    return sorted(problems, key=Diagnostic.sort_key)


def _verify_mappings(root: str | Path, lock: LockFile, doc: YamlDoc) -> list[Diagnostic]:
    mappings = published_mappings(root)
    if mappings is None:
        return []
    return _verify_group(root, mappings, lock.mappings, "mappings", "the FHIR mapping ", doc,
                         any_file=True)


def _verify_data(root: str | Path, lock: LockFile, doc: YamlDoc) -> list[Diagnostic]:
    return _verify_group(root, published_data(root), lock.data, "data", "the data file ", doc,
                         noun="file")


def _verify_group(root: str | Path, found: list[Published], locked: dict[str, LockEntry],
                  group: str, what: str, doc: YamlDoc, *, any_file: bool = False,
                  noun: str = "set") -> list[Diagnostic]:
    """Lock problems of one group. A locked entry whose file is still there but does not load
    is left to that file's own error; with ``any_file`` (mappings, whose older versions were
    overwritten in place before this was checked), any file still there counts as present."""
    problems = []
    seen: dict[str, Published] = {}
    for p in found:
        entry = locked.get(p.key)
        second = _second_copy(p, seen, noun)
        if second is not None:
            problems.append(second)
            continue
        if entry is None:
            problems.append(Diagnostic(
                "error", "lock_missing",
                f"{what}{p.key} is not in {lock_path(root)}: run `koordrules lock "
                f"{root}` and commit the lock", p.version_span, p.doc.file))
        elif entry.sha256 != p.sha256:
            problems.append(_violation(p, entry, noun))
    loaded = {p.file for p in found}
    for key in sorted(set(locked) - {p.key for p in found}):
        file = locked[key].file
        if (Path(root) / file).is_file() and (any_file or file not in loaded):
            continue  # the file is there but does not load: its own error says why
        problems.append(Diagnostic(
            "warning", "lock_stale",
            f"{what}{key} is locked but no file defines it any more: results "
            "stored under it can no longer be re-explained", doc.span((group, key)),
            doc.file))
    return problems


def catalogue_root(path: str | Path) -> Path | None:
    """The folder of the lock that governs ``path``: the nearest one at or above it."""
    given = Path(path)
    for start in (given, given.resolve()):  # as given (for messages), else from the root
        for folder in (start, *start.parents) if start.is_dir() else start.parents:
            if lock_path(folder).is_file():
                if start is not given and not given.is_absolute():
                    return Path(os.path.relpath(folder))  # `..` from inside, as given
                return folder
    return None


def verify_path(path: str | Path) -> list[Diagnostic]:
    """:func:`verify` for any path inside a locked catalogue: the lock's folder, a sub-folder
    or one file. Only the problems of files at or under ``path`` are reported (stale entries
    only when ``path`` is the lock's folder)."""
    root = catalogue_root(path)
    if root is None:
        return []
    target = Path(path).resolve()
    if target == root.resolve():
        return verify(root)
    out = []
    for d in verify(root):
        where = d.span.file if d.span is not None and d.span.file else d.file
        if where is None or Path(where).resolve() == lock_path(root).resolve():
            continue
        inside = Path(where).resolve()
        if inside == target or target in inside.parents:
            out.append(d)
    return out


@dataclass
class LockUpdate:
    """What :func:`update_lock` did (or refused to do)."""

    path: Path
    added: list[str]
    updated: list[str]
    refused: list[Diagnostic]
    written: bool


def update_lock(root: str | Path, *, force: bool = False) -> LockUpdate:
    """Write ``root``'s lock file with an entry for every set under ``root``.

    Existing entries are kept (history). A locked version whose content changed is updated
    only for drafts (or with ``force``); otherwise nothing is written and ``refused`` says why.
    """
    path = lock_path(root)
    old = read_lock(path)[0] if path.is_file() else LockFile()
    entries = dict(old.sets)
    added: list[str] = []
    updated: list[str] = []
    refused: list[Diagnostic] = []
    seen: dict[str, Published] = {}
    for p in published(root):
        if p.sha256 is None:
            refused.append(Diagnostic(
                "error", "not_resolved", f"{p.key} does not load (see `koordrules check`), so "
                "it cannot be locked", p.version_span, p.doc.file))
            continue
        second = _second_copy(p, seen)
        if second is not None:
            refused.append(second)
            continue
        entry = entries.get(p.key)
        assert p.sha256 is not None
        new = LockEntry(sha256=p.sha256, file=p.file, status=p.status, base=p.base)
        if entry is None:
            added.append(p.key)
        elif entry.sha256 != p.sha256:
            if not entry.open_for(p) and not force:
                refused.append(_violation(p, entry))
                continue
            updated.append(p.key)
        entries[p.key] = new
    maps = _update_group(old.mappings, published_mappings(root) or [], force,
                         added, updated, refused)
    data = _update_group(old.data, published_data(root), force, added, updated, refused,
                         "file")
    if refused:
        return LockUpdate(path, added, updated, sorted(refused, key=Diagnostic.sort_key), False)
    text = render_lock(LockFile(sets=dict(sorted(entries.items())),
                                mappings=dict(sorted(maps.items())),
                                data=dict(sorted(data.items()))))
    written = not path.is_file() or path.read_text(encoding="utf-8") != text
    if written:
        path.write_text(text, encoding="utf-8")
    return LockUpdate(path, added, updated, [], written)


def _update_group(old: dict[str, LockEntry], found: list[Published], force: bool,
                  added: list[str], updated: list[str],
                  refused: list[Diagnostic], noun: str = "set") -> dict[str, LockEntry]:
    """The new entries of one group (mappings, data files); appends to the three lists."""
    entries = dict(old)
    seen: dict[str, Published] = {}
    for p in found:
        assert p.sha256 is not None
        second = _second_copy(p, seen, noun)
        if second is not None:
            refused.append(second)
            continue
        entry = entries.get(p.key)
        if entry is not None and entry.sha256 != p.sha256:
            if not entry.open_for(p) and not force:
                refused.append(_violation(p, entry, noun))
                continue
            updated.append(p.key)
        elif entry is None:
            added.append(p.key)
        entries[p.key] = LockEntry(sha256=p.sha256, file=p.file, status=p.status)
    return entries


def stored_set(catalog: Catalog, ref: ast.SetRef) -> ast.CriteriaSet:
    """The set a stored result was made with, exactly: same id, version and content hash.

    Raises :class:`CatalogError` ``version_gone`` when the catalogue no longer has that
    version, ``hash_mismatch`` when its content differs from what produced the result.
    """
    key = f"{ref.id}@{ref.version}"
    try:
        cs = catalog.get(key)
    except CatalogError as ex:
        raise CatalogError(f"the stored result was made with {key}, which is not in the "
                           f"catalogue: {ex.message}", code="version_gone") from None
    if cs.sha256 != ref.sha256:
        raise CatalogError(
            f"the stored result was made with {key} with sha256 {ref.sha256[:12]}…, but the "
            f"catalogue's {key} has sha256 {cs.sha256[:12]}…: the file was changed without a "
            "new version, so the result cannot be re-explained under exactly the set that "
            "produced it", code="hash_mismatch")
    return cs
