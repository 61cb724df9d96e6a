"""A catalogue of criteria sets: every set in a directory tree, several versions per id.

``catalog.get("helse-vest/anbefaling-3")`` gives the latest active version (or the one in force
on ``as_of``); ``catalog.get("helse-vest/anbefaling-3@1.0.0")`` an exact version.
:meth:`Catalog.builtin` is the catalogue shipped with the package.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from koordrules import ast
from koordrules.errors import CatalogError, CriteriaError, Diagnostic, KoordError
from koordrules.loader import SetFile, build, finish, read
from koordrules.resources import criteria_dir
from koordrules.semver import Version
from koordrules.variants import Resolution, resolve_all
from koordrules.yamldoc import read_yaml

#: Files in a criteria tree that are not criteria sets.
OTHER_SUFFIXES = (".cases.yaml", ".mapping.yaml", ".valueset.yaml", ".indicators.yaml",
                  ".journal.yaml")


def criteria_files(root: Path) -> list[Path]:
    """The criteria-set files under ``root`` (or ``root`` itself if it is a file), sorted."""
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*.yaml")
        if p.is_file() and not p.name.endswith(OTHER_SUFFIXES)
    )


def split_ref(ref: str) -> tuple[str, str | None]:
    """``"id@1.2.0"`` → ``("id", "1.2.0")``; ``"id"`` → ``("id", None)``."""
    set_id, _, version = ref.partition("@")
    return set_id, version or None


class Catalog:
    """Criteria sets by id and version. Build it with :meth:`load` or :meth:`builtin`."""

    def __init__(self, sets: list[ast.CriteriaSet],
                 diagnostics: list[Diagnostic] | None = None) -> None:
        self._sets: dict[str, dict[str, ast.CriteriaSet]] = {}
        for cs in sets:
            self._sets.setdefault(cs.id, {})[cs.version] = cs
        self.diagnostics: list[Diagnostic] = diagnostics or []
        """Warnings (and, for :meth:`scan`, errors) found while loading."""
        self.withheld: tuple[str, ...] = ()
        """``id@version`` of the versions left out because the lock does not record them
        (only for :meth:`builtin`)."""

    @classmethod
    def scan(cls, root: str | Path) -> Catalog:
        """Load every set under ``root`` that loads; problems go to ``diagnostics``.

        ``root`` may be one file. A variant file (``extends:``) is resolved against the
        catalogue it lives in (see :func:`catalog_root`); the result holds only its own set
        and problems.
        """
        path = Path(root)
        files, problems = _read_files(criteria_files(path))
        if not (path.is_file() and files and files[0].spec.extends is not None):
            return cls._from_files(files, problems, locked_bases(path))
        home = catalog_root(path)
        others, _ = _read_files(p for p in criteria_files(home) if not _same_file(p, path))
        mine = files[0]
        catalog = cls._from_files([f for f in others if f.key != mine.key] + files, problems,
                                  locked_bases(home))
        file = str(path)
        found = catalog._sets.get(mine.spec.id, {}).get(mine.spec.version)
        catalog._sets = ({mine.spec.id: {mine.spec.version: found}}
                         if found is not None and found.file == file else {})
        catalog.diagnostics = [d for d in catalog.diagnostics if d.file == file or (
            d.span is not None and d.span.file == file)]
        return catalog

    @classmethod
    def _from_files(cls, files: list[SetFile], problems: list[Diagnostic],
                    pinned: dict[str, str] | None = None) -> Catalog:
        sets: list[ast.CriteriaSet] = []
        seen: dict[str, SetFile] = {}
        for setfile in files:
            if setfile.key in seen:
                problems.append(Diagnostic(
                    "error", "duplicate_version",
                    f"{setfile.key} is also defined in {seen[setfile.key].doc.file}",
                    setfile.doc.span(("version",)), setfile.doc.file))
                continue
            seen[setfile.key] = setfile
        bases = [f for f in seen.values() if f.spec.extends is None]
        variants = [f for f in seen.values() if f.spec.extends is not None]
        resolution = Resolution(seen, pinned=pinned or {})
        for setfile in bases:
            try:
                cs, warnings = finish(*build(setfile), setfile.doc.file)
            except CriteriaError as ex:
                problems += ex.diagnostics
                resolution.failed.add(setfile.key)
                continue
            sets.append(cs)
            problems += warnings
            resolution.sets[cs.key] = cs
            resolution.base_problems[cs.key] = warnings
        resolve_all(resolution, variants)
        sets += [resolution.sets[f.key] for f in variants if f.key in resolution.sets]
        problems += resolution.problems
        return cls(sets, sorted(problems, key=Diagnostic.sort_key))

    @classmethod
    def load(cls, root: str | Path) -> Catalog:
        """Load every set under ``root``; raise :class:`CriteriaError` if any file has errors."""
        catalog = cls.scan(root)
        if any(d.severity == "error" for d in catalog.diagnostics):
            raise CriteriaError(catalog.diagnostics, file=str(root))
        return catalog

    @classmethod
    def builtin(cls, *, unlocked: bool = False) -> Catalog:
        """The catalogue shipped with koordrules (loaded once per process).

        Only versions recorded in its ``criteria.lock`` with exactly that content are served:
        a version edited or added after the last review (for instance by ``pip install .``
        from an editor's working tree) is withheld, and asking for it exactly raises
        :class:`CatalogError` (``not_locked``). ``unlocked=True`` serves those versions too,
        marked ``unreviewed`` in the set and in every result made with it."""
        return _builtin(unlocked)

    def __iter__(self) -> Iterator[ast.CriteriaSet]:
        for set_id in sorted(self._sets):
            yield from self.versions(set_id)

    def __len__(self) -> int:
        return sum(len(v) for v in self._sets.values())

    def ids(self) -> list[str]:
        return sorted(self._sets)

    def versions(self, set_id: str) -> list[ast.CriteriaSet]:
        """All versions of ``set_id``, oldest first."""
        found = self._sets.get(set_id, {})
        return [found[v] for v in sorted(found, key=Version.parse)]

    def get(self, ref: str, *, as_of: dt.date | None = None) -> ast.CriteriaSet:
        """The set ``"id@version"`` exactly, or for ``"id"`` the latest active version
        (the latest active one in force on ``as_of`` when given). A retired version retires
        the set: an older active version is then never the current one."""
        set_id, version = split_ref(ref)
        if version is not None and self.withheld:
            with_version = f"{set_id}@{version}"
            if with_version in self.withheld and with_version not in {
                    c.key for c in self.versions(set_id)}:
                raise CatalogError(
                    f"{with_version} is in the shipped catalogue but not in its lock, so it "
                    "has not been reviewed and is not served; lock it (koordrules lock) or "
                    "opt in with Catalog.builtin(unlocked=True) / --unlocked",
                    code="not_locked")
        if set_id not in self._sets:
            raise CatalogError(f"no criteria set {set_id!r} in the catalogue", code="not_found")
        if version is not None:
            try:
                return self._sets[set_id][str(Version.parse(version))]
            except (KeyError, ValueError):
                raise CatalogError(f"{set_id} has no version {version!r}; it has "
                                   + ", ".join(c.version for c in self.versions(set_id)),
                                   code="version_not_found") from None
        in_force = [c for c in self.versions(set_id)
                    if as_of is None or c.effective_from <= as_of]
        retired = [i for i, c in enumerate(in_force) if c.status == "retired"]
        # a retired version retires the set: no older version is current after it
        candidates = [c for c in in_force[retired[-1] + 1 if retired else 0:]
                      if c.status == "active"]
        if not candidates:
            when = f" on {as_of.isoformat()}" if as_of else ""
            raise CatalogError(f"{set_id} has no active version{when}", code="not_active")
        return candidates[-1]


def _read_files(paths: Iterable[Path]) -> tuple[list[SetFile], list[Diagnostic]]:
    files: list[SetFile] = []
    problems: list[Diagnostic] = []
    for path in paths:
        try:
            files.append(read(path))
        except CriteriaError as ex:
            problems += ex.diagnostics
        except KoordError as ex:
            problems.append(ex.diagnostic())
    return files, problems


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


#: A file that marks a folder as the root of a catalogue.
LOCK_FILE = "criteria.lock"


def locked_bases(path: str | Path) -> dict[str, str]:
    """For each published variant in the lock that governs ``path`` (the nearest
    ``criteria.lock`` at or above it), the exact base ``id@version`` it was locked with.

    Only the ``base`` fields are read here; a lock that does not read gives no pins (and
    ``koordrules check`` reports why).
    """
    start = Path(path).resolve()
    folders = [start, *start.parents] if start.is_dir() else list(start.parents)
    lock = next((f / LOCK_FILE for f in folders if (f / LOCK_FILE).is_file()), None)
    return _lock_field(lock, "base")


def _lock_field(lock: Path | None, name: str, section: str = "sets") -> dict[str, str]:
    """``id@version`` → the text field ``name`` of each entry in ``section`` of a lock file
    (no file, or a file that does not read: empty)."""
    if lock is None or not lock.is_file():
        return {}
    try:
        doc = read_yaml(lock, raw_keys=())
    except KoordError:
        return {}
    sets = doc.data.get(section) if isinstance(doc.data, Mapping) else None
    if not isinstance(sets, Mapping):
        return {}
    return {str(key): entry[name] for key, entry in sets.items()
            if isinstance(entry, Mapping) and isinstance(entry.get(name), str)}


def catalog_root(path: str | Path) -> Path:
    """The catalogue a criteria file belongs to: its nearest ancestor folder that is named
    ``criteria`` or holds a ``criteria.lock`` file; else the shipped catalogue."""
    start = Path(path).resolve()
    for folder in start.parents if start.is_file() or not start.exists() else [start,
                                                                              *start.parents]:
        if folder.name == "criteria" or (folder / LOCK_FILE).is_file():
            return folder
    return criteria_dir()


def load_with_warnings(path: str | Path) -> tuple[ast.CriteriaSet, list[Diagnostic]]:
    """Load and check one criteria file; return the set and its warnings."""
    setfile = read(path)
    if setfile.spec.extends is not None:
        # a variant resolves against the catalogue it lives in
        catalog = Catalog.scan(path)
        if any(d.severity == "error" for d in catalog.diagnostics) or not len(catalog):
            raise CriteriaError(catalog.diagnostics, file=setfile.doc.file)
        return catalog.get(setfile.key), catalog.diagnostics
    cs, problems = build(setfile)
    return finish(cs, problems, setfile.doc.file)


def load(path: str | Path) -> ast.CriteriaSet:
    """Load and check one criteria file. Raises :class:`CriteriaError` listing every problem.

    A variant (``extends:``) is resolved against the catalogue the file lives in: the nearest
    ancestor folder named ``criteria`` or holding ``criteria.lock``, else the shipped one."""
    return load_with_warnings(path)[0]


def locked_hashes(root: str | Path) -> dict[str, str]:
    """``id@version`` → sha256 for every set in ``root``'s own lock file (none: empty)."""
    return _lock_field(Path(root) / LOCK_FILE, "sha256")


def data_sha256(path: str | Path) -> str:
    """The content hash of a versioned data file (indicators, journal template): the sha256
    of its canonical YAML data, so comments and layout do not count."""
    doc = read_yaml(path, raw_keys=())
    return hashlib.sha256(doc.canonical().encode("utf-8")).hexdigest()


def locked_data(root: str | Path) -> dict[str, str]:
    """``id@version`` → sha256 for every data file in ``root``'s own lock (``data:``)."""
    return _lock_field(Path(root) / LOCK_FILE, "sha256", "data")


def shipped_locked(key: str, path: str | Path) -> bool:
    """Whether the shipped data file ``path`` (``id@version`` ``key``) is in the shipped lock
    with exactly this content: only such a file is served by default."""
    return _shipped_data_lock().get(key) == data_sha256(path)


@functools.cache
def _shipped_data_lock() -> dict[str, str]:
    return locked_data(criteria_dir())


@functools.cache
def _builtin(unlocked: bool) -> Catalog:
    full = Catalog.load(criteria_dir())
    locked = locked_hashes(criteria_dir())
    served: list[ast.CriteriaSet] = []
    withheld: list[str] = []
    for cs in full:
        if locked.get(cs.key) == cs.sha256:
            served.append(cs)
            continue
        withheld.append(cs.key)
        if unlocked:
            served.append(cs.model_copy(update={"unreviewed": True}))
    catalog = Catalog(served, full.diagnostics)
    catalog.withheld = tuple(withheld)
    return catalog
