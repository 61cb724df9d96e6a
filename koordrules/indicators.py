"""Indicators of the coordinator scheme, as versioned data (``criteria/**/*.indicators.yaml``).

Helse Vest's regional plan names «Del pasientar som har fått koordinator» as an indicator of
goal attainment. An indicator file says, as data a KE may revise, which record field names
the *unit* and which record fields mean *the patient has a coordinator*::

    id: helse-vest/indikatorar
    version: 1.0.0
    unit_field: unit
    indicators:
      - id: del_med_koordinator
        title: {nn: Del pasientar som har fått koordinator, nb: …, en: …}
        any_true: [has_coordinator, has_course_coordinator]

A record *has* a coordinator when one of the ``any_true`` fields is true, *has none* when
every such field the record carries is false, and is *unknown* otherwise (a field that is
null, empty or not a truth value; or the record carries none of them). A field the record
does not carry at all is left out (a cohort that counts course coordinators among its
coordinator roles has no separate column for them). :class:`IndicatorTally` counts records per
unit; the share is of every record counted, with the unknown ones shown, never guessed.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from koordrules.ast import InputDecl, LocalText
from koordrules.catalog import shipped_locked
from koordrules.errors import CatalogError, CriteriaError, Diagnostic, KoordError
from koordrules.fileformat import DataFileHeader
from koordrules.inputs import from_text
from koordrules.resources import criteria_dir, files_with_suffix, pick_version
from koordrules.yamldoc import YamlDoc, parse_yaml, read_yaml, validate

INDICATORS_SUFFIX = ".indicators.yaml"
MISSING_UNIT = "(missing)"
DEFAULT_INDICATORS = "helse-vest/indikatorar"
"""The shipped indicator file ``eval --summary`` and ``diff`` use unless told otherwise."""

_NAME = r"^[a-z][a-z0-9_]*$"


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Indicator(_Spec):
    """One indicator: the share of records for which one of ``any_true`` is true."""

    id: Annotated[str, StringConstraints(pattern=_NAME)]
    title: LocalText
    description: str | None = None
    any_true: tuple[Annotated[str, StringConstraints(min_length=1)], ...] = Field(min_length=1)
    """Record fields (the criteria sets' inputs, filled by the mapping); true in one of them
    counts the record."""


class IndicatorFile(DataFileHeader):
    """Indicators, as written in ``*.indicators.yaml``."""

    unit_field: Annotated[str, StringConstraints(min_length=1)]
    """The record field that names the patient's unit (the figures are per value of it)."""
    indicators: tuple[Indicator, ...]

    @field_validator("indicators")
    @classmethod
    def _some(cls, value: tuple[Indicator, ...]) -> tuple[Indicator, ...]:
        # after validation, so a bad indicator is one error at the indicator, not two
        if not value:
            raise ValueError("list at least one indicator")
        return value

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"


class IndicatorFigures(BaseModel):
    """An indicator's counts for one unit (or ``total``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str
    records: int
    yes: int
    """Records with a coordinator."""
    no: int
    unknown: int
    share: float
    """``yes / records`` (0 when there are none); the unknown ones are not guessed."""


class IndicatorReport(BaseModel):
    """One indicator over a cohort: overall and per unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    indicator: str
    defined_in: str
    """``id@version`` of the indicator file."""
    title: LocalText
    unit_field: str
    fields: tuple[str, ...]
    total: IndicatorFigures
    units: tuple[IndicatorFigures, ...]
    """Per unit, in order of the unit's name; empty when no record carries the unit field."""


def _validated(doc: YamlDoc) -> IndicatorFile:
    spec, problems = validate(IndicatorFile, doc)
    if spec is None:
        raise CriteriaError(problems, file=doc.file)
    return spec


def load_indicators(path: str | Path) -> IndicatorFile:
    """Read and check an indicator file; a :class:`CriteriaError` with positions if it is
    not one."""
    return _validated(read_yaml(path, raw_keys=()))


def load_indicators_text(text: str, *, file: str | None = None) -> IndicatorFile:
    return _validated(parse_yaml(text, file=file, raw_keys=()))


def check_indicator_file(path: str | Path, inputs: Collection[str]) -> list[Diagnostic]:
    """The problems of one indicator file: schema errors with positions, and a warning for a
    field in ``any_true`` that no set in the catalogue has as an input (``inputs``)."""
    try:
        doc = read_yaml(path, raw_keys=())
        spec = _validated(doc)
    except CriteriaError as ex:
        return list(ex.diagnostics)
    except KoordError as ex:
        return [ex.diagnostic()]
    found = []
    for i, indicator in enumerate(spec.indicators):
        for j, name in enumerate(indicator.any_true):
            if name not in inputs:
                near = difflib.get_close_matches(name, sorted(inputs), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                found.append(Diagnostic(
                    "warning", "indicator_field_unknown",
                    f"no criteria set has an input {name!r}, so the records will not carry "
                    f"it{hint}", doc.span(("indicators", i, "any_true", j)), doc.file))
    return found


def indicator_files(root: str | Path) -> list[Path]:
    return files_with_suffix(root, INDICATORS_SUFFIX)


def builtin_indicators(ref: str = DEFAULT_INDICATORS) -> IndicatorFile:
    """The shipped indicator file ``ref`` (``id``, its active version; or ``id@version``)."""
    loaded = [(load_indicators(p), p) for p in indicator_files(criteria_dir())]
    found = pick_version([s for s, p in loaded if shipped_locked(s.key, p)], ref)
    if found is None:
        if pick_version([s for s, _ in loaded], ref) is not None:
            raise CatalogError(f"the indicator file {ref!r} is in the shipped catalogue but not "
                               "in its lock with this content, so it is not served; lock it "
                               "(koordrules lock) or name the file with --indicators",
                               code="not_locked")
        raise CatalogError(f"no indicator file {ref!r} in the shipped catalogue", code="not_found")
    return found


_BOOLEAN = InputDecl(name="indicator", type="boolean", kind="data")


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            parsed = from_text(_BOOLEAN, value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, bool) else None
    return None


def has_it(indicator: Indicator, record: Mapping[str, Any]) -> bool | None:
    """True: one of the fields is true; False: every field the record carries is false;
    None: otherwise (the record carries none of them, or one is unknown)."""
    values = [_truth(record[f]) for f in indicator.any_true if f in record]
    if True in values:
        return True
    if values and all(v is False for v in values):
        return False
    return None


class _Count:
    def __init__(self) -> None:
        self.yes = self.no = self.unknown = 0

    def add(self, answer: bool | None) -> None:
        if answer is True:
            self.yes += 1
        elif answer is False:
            self.no += 1
        else:
            self.unknown += 1

    def figures(self, unit: str) -> IndicatorFigures:
        records = self.yes + self.no + self.unknown
        return IndicatorFigures(unit=unit, records=records, yes=self.yes, no=self.no,
                                unknown=self.unknown,
                                share=self.yes / records if records else 0.0)


class IndicatorTally:
    """Counts each indicator of a file over records, per unit. :meth:`add` each record that
    the cohort report counts; :meth:`reports` when done."""

    def __init__(self, spec: IndicatorFile) -> None:
        self.spec = spec
        self._total = [_Count() for _ in spec.indicators]
        self._units: list[dict[str, _Count]] = [{} for _ in spec.indicators]
        self._seen_field = False
        self._seen_unit = False

    def add(self, record: Mapping[str, Any]) -> None:
        self._seen_unit |= self.spec.unit_field in record
        value = record.get(self.spec.unit_field)
        unit = MISSING_UNIT if value is None or value == "" else str(value)
        for i, indicator in enumerate(self.spec.indicators):
            self._seen_field |= any(f in record for f in indicator.any_true)
            answer = has_it(indicator, record)
            self._total[i].add(answer)
            self._units[i].setdefault(unit, _Count()).add(answer)

    @property
    def applies(self) -> bool:
        """Whether a record carried one of the indicators' fields."""
        return self._seen_field

    def reports(self) -> tuple[IndicatorReport, ...]:
        """One report per indicator; none when no record carried any of their fields (the
        cohort holds nothing to count). Without per-unit figures when no record carried the
        unit field."""
        if not self._seen_field:
            return ()
        return tuple(
            IndicatorReport(indicator=ind.id, defined_in=self.spec.key, title=ind.title,
                            unit_field=self.spec.unit_field, fields=ind.any_true,
                            total=self._total[i].figures("total"),
                            units=tuple(c.figures(u) for u, c in sorted(self._units[i].items()))
                            if self._seen_unit else ())
            for i, ind in enumerate(self.spec.indicators))


def tally(spec: IndicatorFile, records: Iterable[Mapping[str, Any]]) -> tuple[IndicatorReport, ...]:
    """Every indicator of ``spec`` over ``records``."""
    counter = IndicatorTally(spec)
    for record in records:
        counter.add(record)
    return counter.reports()


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def render_indicators(reports: Iterable[IndicatorReport], *,
                      lang: str = "nb") -> list[str]:
    """Text lines: per indicator a table by unit (records, with, without, unknown, share)."""
    out: list[str] = []
    for r in reports:
        by = f"by {r.unit_field}" if r.units else f"total only, no record has {r.unit_field!r}"
        out += ["", f"{r.title.get(lang)} ({r.defined_in}), {by}:"]
        header = [r.unit_field, "records", "yes", "no", "unknown", "share"]
        rows = [[f.unit, str(f.records), str(f.yes), str(f.no), str(f.unknown),
                 _pct(f.yes, f.records)] for f in (*r.units, r.total)]
        widths = [max(len(x[i]) for x in [header, *rows]) for i in range(len(header))]
        for cells in [header, *rows]:
            first = cells[0].ljust(widths[0])
            rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
            out.append("  " + "  ".join([first, *rest]).rstrip())
        out.append(f"  (yes = one of {', '.join(r.fields)} is true; share = yes / records)")
    return out
