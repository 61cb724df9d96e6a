"""The shipped files say only what the sources say (issue 10), checked mechanically.

The seed documents are beside the repository (``../shared/seeds/``, or ``KOORDRULES_SEEDS``);
without them the test fails rather than passing unseen, unless ``KOORDRULES_NO_SEEDS=1``.

``KNOWN_OPEN`` lists the findings in current files that are not fixed yet (none now);
``HISTORY`` those in published older versions, kept unchanged because a published version is
never redefined, each fixed in a newer version of its set (and only allowed in a file that a
newer version supersedes). Both lists are exact: a new finding fails, and a fixed one must be
taken off.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from fidelity import (
    REPO,
    Finding,
    check_catalogue,
    fragments,
    normalise,
    seeds_dir,
    superseded_files,
)

from koordrules import Catalog, CatalogError

CRITERIA = REPO / "criteria"

# Report kap. 4.5: «I forlengelsen av piloten har prosjektgruppen utarbeidet kriterier som
# blir presentert i kap 5.2, anbefaling nr. 3.» — the pilot and its ward variants are
# superseded by Anbefaling 3 and must not be served as a unit's current criteria.
SUPERSEDED = ("helse-forde/pilot-2023", "helse-forde/nevrologi",
              "helse-forde/medisinsk-sengepost")

KNOWN_OPEN: set[Finding] = set()
# Findings in published older versions, kept unchanged as history (a published version is never
# redefined): each is fixed in the set's newer version, which the catalogue serves instead.
HISTORY = {
    # issue 10 point 4, fixed in anbefaling-3 1.0.1: «flere» is not a number; «f.eks.» is an
    # example, so both are local choices (from_source: false)
    Finding("helse-vest/anbefaling-3-1.0.0.yaml", "from_source_example", "long_term_months = 6"),
    Finding("helse-vest/anbefaling-3-1.0.0.yaml", "from_source_value", "min_units_involved = 2"),
    # «guillemets» around words that are not quotations, fixed in buk-nefrologi 1.1.0
    Finding("helse-bergen/buk-nefrologi-1.0.0.yaml", "guillemets_not_in_source", "ikke avgjort"),
    # a local phrase in «guillemets»; the whole pilot is retired (no version is served as
    # current, kap. 4.5 sends readers to Anbefaling 3)
    Finding("helse-forde/pilot-2023-1.0.0.yaml", "guillemets_not_in_source", "mange oppmøter"),
}
# issue 10 point 2: fixed by retired versions (pilot-2023 2.1.0, nevrologi and
# medisinsk-sengepost 1.1.0); a retired version retires the set in Catalog.get.
KNOWN_SERVED: set[str] = set()


def _seeds() -> Path:
    where = seeds_dir()
    if not where.is_dir():
        if os.environ.get("KOORDRULES_NO_SEEDS") == "1":
            pytest.skip("KOORDRULES_NO_SEEDS=1: the source documents are not here")
        pytest.fail(f"the source documents are not at {where} (set KOORDRULES_SEEDS)")
    return where


def test_the_shipped_files_quote_the_sources_verbatim() -> None:
    found = check_catalogue(CRITERIA, _seeds())
    new = [str(f) for f in found if f not in KNOWN_OPEN | HISTORY]
    fixed = [str(f) for f in KNOWN_OPEN | HISTORY if f not in found]
    assert not new, "not in the sources:\n" + "\n".join(new)
    assert not fixed, "fixed – take these off KNOWN_OPEN:\n" + "\n".join(fixed)


def test_history_is_only_in_superseded_files() -> None:
    old = superseded_files(CRITERIA)
    assert {"helse-vest/anbefaling-3-1.0.0.yaml", "helse-forde/nevrologi-1.0.0.yaml"} <= old
    assert "helse-vest/anbefaling-3.yaml" not in old
    assert not [str(f) for f in HISTORY if f.file not in old], "a current file is not history"


def test_no_set_the_report_supersedes_is_served_as_current() -> None:
    catalog = Catalog.load(CRITERIA)
    served = set()
    for set_id in SUPERSEDED:
        try:
            catalog.get(set_id)
        except CatalogError:
            continue
        served.add(set_id)
    assert served == KNOWN_SERVED


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(CRITERIA / "helse-vest", tmp_path / "helse-vest",
                    ignore=shutil.ignore_patterns("*-1.0.0.*"))
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _findings(root: Path) -> set[tuple[str, str]]:
    return {(f.rule, f.text) for f in check_catalogue(root, _seeds())
            if f.file == "helse-vest/anbefaling-3.yaml"} - {
        (f.rule, f.text) for f in KNOWN_OPEN if f.file == "helse-vest/anbefaling-3.yaml"}


def test_an_edited_quote_fails(copy: Path) -> None:
    _edit(copy / "helse-vest/anbefaling-3.yaml", "minst en av følgende", "minst tre av følgende")
    (finding,) = _findings(copy)
    assert finding[0] == "quote_not_in_source" and finding[1].startswith("Dersom pasienten")


def test_a_made_up_figure_marked_from_source_fails(copy: Path) -> None:
    _edit(copy / "helse-vest/anbefaling-3.yaml", "  min_of_b_to_d:\n    value: 2\n",
          "  min_of_b_to_d:\n    value: 3\n")
    assert _findings(copy) == {("from_source_value", "min_of_b_to_d = 3")}


def test_a_misquote_in_guillemets_fails(copy: Path) -> None:
    _edit(copy / "helse-vest/anbefaling-3.yaml", "«Fortsatt vil det være viktig",
          "«Fortsatt vil det alltid være viktig")
    (finding,) = _findings(copy)
    assert finding[0] == "guillemets_not_in_source"


def test_an_elided_quote_matches_piece_by_piece(copy: Path) -> None:
    path = copy / "helse-vest/anbefaling-3.yaml"
    _edit(path, "«Fortsatt vil det være viktig å bruke faglig skjønn og snakke med\n  pasienten",
          "«Fortsatt vil det være viktig […] og snakke med\n  pasienten")
    assert _findings(copy) == set()


def test_a_quote_from_the_procedure_must_name_ous(copy: Path) -> None:
    # «første visitt etter innleggelse på post» is only in the coordinator procedure (seed 002),
    # which is Oslo universitetssykehus' own
    path = copy / "helse-vest/anbefaling-3.yaml"
    _edit(path, "notes: |\n", "notes: |\n  Vurderes på «første visitt etter innleggelse på "
          "post».\n")
    assert _findings(copy) == {("procedure_not_ous", "første visitt etter innleggelse på post")}
    _edit(path, "post».\n", "post» (prosedyren ved OUS).\n")
    assert _findings(copy) == set()


def test_the_ke_guide_quotes_the_sources_verbatim_where_it_says_what_they_fix() -> None:
    # the section on what the report fixes and what each unit decides itself
    text = (REPO / "docs" / "ke-guide.md").read_text(encoding="utf-8")
    start = text.index("### Hva rapporten fastsetter, og hva hver enhet må avgjøre selv")
    section = text[start:text.index("\n## ", start)]
    seeds = " ".join(normalise(p.read_text(encoding="utf-8")) for p in _seeds().glob("0*.txt"))
    quotes = [piece for m in re.finditer(r"«([^»]*)»", section) for piece in fragments(m.group(1))]
    assert len(quotes) >= 10
    assert [q for q in quotes if normalise(q) not in seeds] == []
    assert "Oslo" in section and "OUS" in section


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """The Helse Vest files and the OUS journal template (the data files beside the sets)."""
    for folder in ("helse-vest", "ous"):
        shutil.copytree(CRITERIA / folder, tmp_path / folder)
    return tmp_path


def _findings_in(root: Path, rel: str) -> set[tuple[str, str]]:
    return {(f.rule, f.text) for f in check_catalogue(root, _seeds()) if f.file == rel}


def test_the_data_files_are_checked_as_they_ship(data_copy: Path) -> None:
    for rel in ("helse-vest/koordinator.indicators.yaml",
                "ous/koordinator-journalnotat.journal.yaml"):
        assert _findings_in(data_copy, rel) == set()


def test_an_edited_indicator_quote_fails(data_copy: Path) -> None:
    rel = "helse-vest/koordinator.indicators.yaml"
    _edit(data_copy / rel, "  quote: Del pasientar som har fått koordinator",
          "  quote: Del pasientar som har koordinator")
    assert _findings_in(data_copy, rel) == {
        ("quote_not_in_source", "Del pasientar som har koordinator")}


def test_an_edited_source_quote_in_the_journal_template_fails(data_copy: Path) -> None:
    rel = "ous/koordinator-journalnotat.journal.yaml"
    _edit(data_copy / rel, "source_quote: Epikrise skal inneholde informasjon",
          "source_quote: Epikrise må inneholde informasjon")
    (finding,) = _findings_in(data_copy, rel)
    assert finding[0] == "source_quote_not_in_source"
    assert finding[1].startswith("Epikrise må inneholde")


def test_a_misquote_in_a_local_reading_fails(data_copy: Path) -> None:
    rel = "helse-vest/anbefaling-3.yaml"
    _edit(data_copy / rel, "Rapporten sier «flere behandlingsenheter/sykehus/profesjoner",
          "Rapporten sier «flere behandlingsenheter/profesjoner")
    assert _findings_in(data_copy, rel) == {
        ("guillemets_not_in_source", "flere behandlingsenheter/profesjoner involvert")}
