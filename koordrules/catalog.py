"""A catalogue of criteria sets: every set in a directory tree, several versions per id.

``catalog.get("helse-vest/anbefaling-3")`` gives the latest active version (or the one in force
on ``as_of``); ``catalog.get("helse-vest/anbefaling-3@1.0.0")`` an exact version.
:meth:`Catalog.builtin` is the catalogue shipped with the package.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from pathlib import Path

from koordrules import ast
from koordrules.errors import CatalogError, CriteriaError, Diagnostic, KoordError
from koordrules.loader import SetFile, build, finish, read
from koordrules.resources import criteria_dir
from koordrules.semver import Version

#: Files in a criteria tree that are not criteria sets.
OTHER_SUFFIXES = (".cases.yaml", ".mapping.yaml")


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

    @classmethod
    def scan(cls, root: str | Path) -> Catalog:
        """Load every set under ``root`` that loads; problems go to ``diagnostics``."""
        files: list[SetFile] = []
        problems: list[Diagnostic] = []
        for path in criteria_files(Path(root)):
            try:
                files.append(read(path))
            except CriteriaError as ex:
                problems += ex.diagnostics
            except KoordError as ex:
                problems.append(ex.diagnostic())
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
        for setfile in bases:
            try:
                cs, warnings = finish(*build(setfile), setfile.doc.file)
            except CriteriaError as ex:
                problems += ex.diagnostics
                continue
            sets.append(cs)
            problems += warnings
        for setfile in variants:
            problems.append(Diagnostic(
                "error", "variant_unsupported",
                f"variants (extends: {setfile.spec.extends}) are not supported yet",
                setfile.doc.span(("extends",)), setfile.doc.file))
        return cls(sets, sorted(problems, key=Diagnostic.sort_key))

    @classmethod
    def load(cls, root: str | Path) -> Catalog:
        """Load every set under ``root``; raise :class:`CriteriaError` if any file has errors."""
        catalog = cls.scan(root)
        if any(d.severity == "error" for d in catalog.diagnostics):
            raise CriteriaError(catalog.diagnostics, file=str(root))
        return catalog

    @classmethod
    def builtin(cls) -> Catalog:
        """The catalogue shipped with koordrules (loaded once per process)."""
        return _builtin()

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
        (the latest active one in force on ``as_of`` when given)."""
        set_id, version = split_ref(ref)
        if set_id not in self._sets:
            raise CatalogError(f"no criteria set {set_id!r} in the catalogue", code="not_found")
        if version is not None:
            try:
                return self._sets[set_id][str(Version.parse(version))]
            except (KeyError, ValueError):
                raise CatalogError(f"{set_id} has no version {version!r}; it has "
                                   + ", ".join(c.version for c in self.versions(set_id)),
                                   code="version_not_found") from None
        candidates = [c for c in self.versions(set_id) if c.status == "active"
                      and (as_of is None or c.effective_from <= as_of)]
        if not candidates:
            when = f" on {as_of.isoformat()}" if as_of else ""
            raise CatalogError(f"{set_id} has no active version{when}", code="not_active")
        return candidates[-1]


@functools.cache
def _builtin() -> Catalog:
    return Catalog.load(criteria_dir())
