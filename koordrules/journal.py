"""The journal note and discharge-summary text for a decided result, from a versioned template
(``criteria/**/*.journal.yaml``).

The coordinator procedure (seed 002) says what is documented after the assessment: whether
the patient has been offered a coordinator, whether one is appointed and the basis for the
need, the coordinator's name, tentative times for further appointments; and that the
discharge summary says whether a coordinator is appointed and which concrete measures follow.
A template file holds those fields as data (labels in nb/nn/en, and how each is filled);
:func:`journal_note` fills them from a result:

- ``basis``: the outcome, the criteria that hold and the set (id and version) — from the
  result;
- ``outcome``: a text per outcome id, written in the template (e.g. "the patient has declined");
  an outcome the template does not name leaves the field to the clinician;
- ``assessed_at``: the time of the assessment, when the caller gives it;
- ``clinician``: left blank for the clinician (a name, a time, the measures).

Only a decided result has a note: an undecided one raises :class:`UndecidedError`, with the
inputs that would decide it (names only, never values).
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from koordrules.ast import CriteriaSet, LocalText
from koordrules.catalog import shipped_locked
from koordrules.errors import CatalogError, CriteriaError, Diagnostic, KoordError, UndecidedError
from koordrules.fileformat import DataFileHeader
from koordrules.resources import criteria_dir, files_with_suffix, pick_version
from koordrules.result import Result
from koordrules.textguard import lines_text
from koordrules.yamldoc import YamlDoc, parse_yaml, read_yaml, validate

JOURNAL_SUFFIX = ".journal.yaml"
DEFAULT_JOURNAL = "ous/koordinator-journalnotat"
LANGS = ("nb", "nn", "en")

_NAME = r"^[a-z][a-z0-9_]*$"

_WORDS = {
    "nb": {"blank": "(fylles ut av klinikeren)", "set": "Kriteriesett",
           "outcome": "Utfall", "held": "Kriterier som er oppfylt", "none": "ingen",
           "mapping": "FHIR-mapping", "template": "Mal", "when": "Vurderes"},
    "nn": {"blank": "(fyllast ut av klinikaren)", "set": "Kriteriesett",
           "outcome": "Utfall", "held": "Kriterium som er oppfylte", "none": "ingen",
           "mapping": "FHIR-mapping", "template": "Mal", "when": "Blir vurdert"},
    "en": {"blank": "(to be filled in by the clinician)", "set": "Criteria set",
           "outcome": "Outcome", "held": "Criteria that hold", "none": "none",
           "mapping": "FHIR mapping", "template": "Template", "when": "Assessed"},
}


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class NoteField(_Spec):
    """One line of the note: a label and how it is filled."""

    id: Annotated[str, StringConstraints(pattern=_NAME)]
    label: LocalText
    fill: Literal["basis", "outcome", "assessed_at", "clinician"]
    texts: dict[str, LocalText] = {}
    """With ``fill: outcome``: the text for each outcome id (other outcomes: the clinician)."""


class NoteSection(_Spec):
    title: LocalText
    source_quote: str | None = None
    """The procedure's sentence this section follows, verbatim."""
    fields: tuple[NoteField, ...] = Field(min_length=1)


class JournalTemplate(DataFileHeader):
    """A journal-note template, as written in ``*.journal.yaml``."""

    document_title: str
    """The journal document's name, as the procedure gives it."""
    when_to_assess: tuple[LocalText, ...] = ()
    """When the sources say the need is assessed (shown at the top of the note)."""
    note: NoteSection
    discharge_summary: NoteSection

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"


class NoteLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    label: str
    text: str | None
    """``None``: for the clinician to fill in."""


class JournalNote(BaseModel):
    """A filled note: the journal document and the discharge-summary lines, in one language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: str
    """``id@version`` of the template."""
    lang: str
    document_title: str
    when_to_assess: tuple[str, ...]
    criteria_set: str
    """``id@version`` of the set that decided."""
    outcome: str
    note_title: str
    note: tuple[NoteLine, ...]
    discharge_title: str
    discharge_summary: tuple[NoteLine, ...]


def _validated(doc: YamlDoc) -> JournalTemplate:
    spec, problems = validate(JournalTemplate, doc)
    if spec is None:
        raise CriteriaError(problems, file=doc.file)
    return spec


def load_journal_template(path: str | Path) -> JournalTemplate:
    """Read and check a template file (a :class:`CriteriaError` with positions if it is not
    one)."""
    return _validated(read_yaml(path, raw_keys=()))


def load_journal_template_text(text: str, *, file: str | None = None) -> JournalTemplate:
    return _validated(parse_yaml(text, file=file, raw_keys=()))


def check_journal_file(path: str | Path, outcomes: Collection[str]) -> list[Diagnostic]:
    """The problems of one template file: schema errors with positions, and a warning for an
    outcome under ``texts`` that no set in the catalogue has (``outcomes``)."""
    try:
        doc = read_yaml(path, raw_keys=())
        spec = _validated(doc)
    except CriteriaError as ex:
        return list(ex.diagnostics)
    except KoordError as ex:
        return [ex.diagnostic()]
    found = []
    for section in ("note", "discharge_summary"):
        for i, f in enumerate(getattr(spec, section).fields):
            for outcome in f.texts:
                if outcome not in outcomes:
                    near = difflib.get_close_matches(outcome, sorted(outcomes), n=1)
                    hint = f" (did you mean {near[0]!r}?)" if near else ""
                    found.append(Diagnostic(
                        "warning", "journal_outcome_unknown",
                        f"no criteria set has an outcome {outcome!r}, so this text is never "
                        f"used{hint}", doc.key_span((section, "fields", i, "texts", outcome)),
                        doc.file))
    return found


def journal_files(root: str | Path) -> list[Path]:
    return files_with_suffix(root, JOURNAL_SUFFIX)


def builtin_journal_template(ref: str = DEFAULT_JOURNAL) -> JournalTemplate:
    """The shipped template ``ref`` (``id``: its active version; or ``id@version``)."""
    loaded = [(load_journal_template(p), p) for p in journal_files(criteria_dir())]
    found = pick_version([s for s, p in loaded if shipped_locked(s.key, p)], ref)
    if found is None and pick_version([s for s, _ in loaded], ref) is not None:
        raise CatalogError(f"the journal template {ref!r} is in the shipped catalogue but not in "
                           "its lock with this content, so it is not served; lock it "
                           "(koordrules lock) or name the file with --journal-template",
                           code="not_locked")
    if found is None:
        raise CatalogError(f"no journal template {ref!r} in the shipped catalogue",
                           code="not_found")
    return found


def _basis(result: Result, cs: CriteriaSet, lang: str) -> str:
    w = _WORDS[lang]
    outcome = next(o for o in cs.outcomes if o.id == result.outcome)
    held = [c.title.get(lang) for c in cs.criteria if result.criteria.get(c.name) is True]
    text = (f"{w['outcome']}: {outcome.title.get(lang)}. {w['held']}: "
            f"{'; '.join(held) if held else w['none']}. {w['set']}: {cs.id} {cs.version}")
    if result.mapping is not None:
        text += f", {w['mapping']}: {result.mapping.id} {result.mapping.version}"
    return text + "."


def _fill(f: NoteField, result: Result, cs: CriteriaSet, lang: str,
          assessed_at: dt.datetime | dt.date | None) -> str | None:
    if f.fill == "basis":
        return _basis(result, cs, lang)
    if f.fill == "outcome":
        text = f.texts.get(result.outcome or "")
        return text.get(lang) if text is not None else None
    if f.fill == "assessed_at" and isinstance(assessed_at, dt.datetime):
        return assessed_at.isoformat(sep=" ", timespec="minutes")
    if f.fill == "assessed_at" and assessed_at is not None:
        return assessed_at.isoformat()
    return None


def journal_note(result: Result, cs: CriteriaSet, *, template: JournalTemplate | None = None,
                 lang: str = "nb",
                 assessed_at: dt.datetime | dt.date | None = None) -> JournalNote:
    """The journal note and discharge-summary lines for ``result``, decided by ``cs``.

    ``template`` defaults to the shipped one (:data:`DEFAULT_JOURNAL`). Raises
    :class:`UndecidedError` when the result has no outcome, :class:`CatalogError` when it was
    not made by ``cs``, and ``ValueError`` for a language other than nb, nn, en.
    """
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; use 'nb', 'nn' or 'en'")
    if result.criteria_set.sha256 != cs.sha256:
        raise CatalogError(f"the result was made by {result.criteria_set.id} "
                           f"{result.criteria_set.version}, not by {cs.id} {cs.version}",
                           code="wrong_set")
    if result.outcome is None:
        missing = ", ".join(result.missing) or "-"
        raise UndecidedError(
            "the result is not decided, so there is no journal note: the known data cannot "
            f"decide the outcome (inputs that would decide it: {missing})",
            translations={"nb": "resultatet er ikke avgjort, så det blir ikke noe journalnotat: "
                                "opplysningene som er kjent, avgjør ikke utfallet "
                                f"(opplysninger som kan avgjøre det: {missing})"})
    spec = template or builtin_journal_template()

    def lines(section: NoteSection) -> tuple[NoteLine, ...]:
        return tuple(NoteLine(id=f.id, label=f.label.get(lang),
                              text=_fill(f, result, cs, lang, assessed_at))
                     for f in section.fields)

    return JournalNote(
        template=spec.key, lang=lang, document_title=spec.document_title,
        when_to_assess=tuple(t.get(lang) for t in spec.when_to_assess),
        criteria_set=cs.key, outcome=result.outcome,
        note_title=spec.note.title.get(lang), note=lines(spec.note),
        discharge_title=spec.discharge_summary.title.get(lang),
        discharge_summary=lines(spec.discharge_summary))


def render_journal(note: JournalNote) -> str:
    """The note as plain text, ready to paste into the journal document."""
    w = _WORDS[note.lang]
    out = [note.document_title, ""]
    out += [f"{w['when']}: {t}" for t in note.when_to_assess]
    if note.when_to_assess:
        out.append("")
    out.append(note.note_title)
    out += [f"- {line.label}: {line.text if line.text is not None else w['blank']}"
            for line in note.note]
    out += ["", note.discharge_title]
    out += [f"- {line.label}: {line.text if line.text is not None else w['blank']}"
            for line in note.discharge_summary]
    out += ["", f"({w['template']}: {note.template})"]
    return lines_text(out)
