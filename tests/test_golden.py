"""Golden files: for every shipped set, the SQL each dialect gets (``to_sql``) and the Python
the compiler generates (``Program.source``) are kept in ``tests/golden/`` and compared here, so
a change to a lowering shows up as a readable diff in review.

Regenerate after an intended change with ``KOORDRULES_UPDATE_GOLDEN=1 python -m pytest
tests/test_golden.py`` and read the diff (``git diff tests/golden``) before committing it.

The SQL is printed by sqlglot. The version that wrote the files is kept in
``tests/golden/sql/sqlglot-version.txt``; with another version installed, the golden query and
today's are both read back and printed by the installed sqlglot before they are compared, so a
new printer alone is not a failure, but a different query still is.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import koordrules
from koordrules import CriteriaSet

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KOORDRULES_UPDATE_GOLDEN") == "1"
SETS = list(koordrules.Catalog.builtin())
IDS = [cs.key for cs in SETS]
DIALECTS = ("duckdb", "spark", "postgres")
VERSION_FILE = GOLDEN / "sql" / "sqlglot-version.txt"


def slug(cs: CriteriaSet) -> str:
    """A file name for a set: ``helse-vest/anbefaling-3@1.0.1`` is
    ``helse-vest--anbefaling-3--1.0.1``."""
    return cs.key.replace("/", "--").replace("@", "--")


def python_file(cs: CriteriaSet) -> Path:
    return GOLDEN / "python" / f"{slug(cs)}.py.txt"  # not .py: it is data, not linted code


def sql_file(cs: CriteriaSet, dialect: str) -> Path:
    return GOLDEN / "sql" / dialect / f"{slug(cs)}.sql"


def drift(path: Path, want: str, got: str) -> str | None:
    """``None`` when equal, else a unified diff of the golden file and today's text."""
    if want == got:
        return None
    lines = difflib.unified_diff(want.splitlines(keepends=True), got.splitlines(keepends=True),
                                 fromfile=f"{path.relative_to(GOLDEN.parent)} (golden)",
                                 tofile="generated now", n=2)
    text = "".join(lines)
    limit = 6000
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more)"


def compare(path: Path, got: str, normalise: Callable[[str], str] | None = None) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path.relative_to(GOLDEN.parent)}; write it with "
                    "KOORDRULES_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py")
    want = path.read_text(encoding="utf-8")
    if normalise is not None:
        want, got = normalise(want), normalise(got)
    diff = drift(path, want, got)
    if diff is not None:
        pytest.fail("the generated text differs from the golden file (if the change is "
                    "intended, rerun with KOORDRULES_UPDATE_GOLDEN=1 and commit the files):\n"
                    + diff, pytrace=False)


@pytest.mark.parametrize("cs", SETS, ids=IDS)
def test_generated_python_matches_golden(cs: CriteriaSet) -> None:
    compare(python_file(cs), koordrules.compile(cs).source + "\n")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("cs", SETS, ids=IDS)
def test_sql_matches_golden(cs: CriteriaSet, dialect: str) -> None:
    sqlglot = pytest.importorskip("sqlglot")
    from koordrules.backends.sql import to_sql

    got = to_sql(cs, dialect=dialect) + "\n"
    if UPDATE:
        VERSION_FILE.parent.mkdir(parents=True, exist_ok=True)
        VERSION_FILE.write_text(sqlglot.__version__ + "\n", encoding="utf-8")
    written_by = VERSION_FILE.read_text(encoding="utf-8").strip() if VERSION_FILE.exists() else ""

    def reprinted(sql: str) -> str:
        return str(sqlglot.parse_one(sql, read=dialect).sql(dialect=dialect, pretty=True)) + "\n"

    compare(sql_file(cs, dialect), got,
            None if written_by == sqlglot.__version__ else reprinted)


def test_no_golden_file_without_a_shipped_set() -> None:
    """A removed or renamed set leaves no stale golden file behind."""
    expected = {python_file(cs) for cs in SETS} | {
        sql_file(cs, d) for cs in SETS for d in DIALECTS} | {VERSION_FILE}
    # only the folders this test writes: tests/golden/ holds other tests' files too
    present = {p for folder in (GOLDEN / "python", GOLDEN / "sql") for p in folder.rglob("*")
               if p.is_file()}
    if UPDATE:
        for stale in present - expected:
            stale.unlink()
        return
    assert not present - expected, sorted(str(p) for p in present - expected)
    assert expected <= present, sorted(str(p) for p in expected - present)


def test_a_drift_is_shown_as_a_diff() -> None:
    """The comparison fails on one changed line and shows that line, not the whole file."""
    path = python_file(SETS[0])
    want = "".join(f"line {i}\n" for i in range(200))
    got = want.replace("line 100\n", "line one hundred\n")
    diff = drift(path, want, got)
    assert diff is not None
    assert "-line 100\n" in diff and "+line one hundred\n" in diff
    assert "line 10\n" not in diff and len(diff.splitlines()) < 12
    assert drift(path, want, want) is None
