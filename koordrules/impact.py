"""Revision impact: what changes for a cohort when a criteria set is replaced by another.

:func:`diff` evaluates every record of a cohort under an old and a new set and returns an
:class:`ImpactReport`: the outcome transition matrix (undetermined included), the share
flagged under each set, an optional breakdown by a record field (e.g. the unit), and for each
record whose outcome changed, the criteria that changed value. :func:`summarize` gives the
outcome distribution of a cohort under one set.

**Flagged.** A record is *flagged* when its outcome is one of the set's flagging outcomes. By
default those are every outcome rule except the set's ``otherwise`` outcome (the fall-through
"criteria not met"); pass ``flagged=`` to name them instead. An undetermined outcome is never
flagged: it is counted separately.

Cohort files carry the union of several sets' inputs plus id and grouping fields, so each set
is evaluated on the record's fields that it declares; other fields are ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.errors import InputError, KoordError
from koordrules.impact_text import render_impact as render_impact
from koordrules.impact_text import render_summary as render_summary
from koordrules.indicators import IndicatorFile, IndicatorReport, IndicatorTally
from koordrules.records import read_records
from koordrules.result import Result

UNDETERMINED = "undetermined"
MISSING_GROUP = "(missing)"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Distribution(_Model):
    """How a cohort's records fall into one set's outcomes."""

    total: int
    """Records evaluated (records that could not be evaluated are not counted)."""
    counts: dict[str, int]
    """Records per outcome id, in the set's rule order (zeros included)."""
    undetermined: int
    """Records whose outcome the known data cannot decide."""
    flagged: int
    """Records whose outcome is one of ``flagged_outcomes``."""
    flagged_outcomes: tuple[str, ...]

    flagged_share: float
    """``flagged / total`` (0 for an empty cohort)."""
    undetermined_share: float
    """``undetermined / total`` (0 for an empty cohort)."""


class Transition(_Model):
    """One cell of the transition matrix: records with outcome ``old`` → ``new``
    (``None`` = undetermined)."""

    old: str | None
    new: str | None
    count: int


class CriterionChange(_Model):
    """A criterion whose value differs between the sets for one record.

    ``only_in`` says the criterion exists in one set only (its value in the other is ``None``).
    """

    name: str
    old: bool | None
    new: bool | None
    only_in: Literal["old", "new"] | None = None


class ChangedRecord(_Model):
    """A record whose outcome changed, and the criteria behind the change."""

    record: int
    """1-based position in the cohort."""
    id: str | None = None
    """The value of the ``id_field``, when given."""
    group: str | None = None
    old: str | None
    new: str | None
    criteria: tuple[CriterionChange, ...]


class RecordProblem(_Model):
    """A record that could not be evaluated under one of the sets (it is left out)."""

    record: int
    id: str | None = None
    side: Literal["old", "new", "both"]
    code: str
    message: str


class LackingInput(_Model):
    """An input of one of the sets that no record of the cohort has a value for."""

    name: str
    side: Literal["old", "new", "both"]
    """Whose input it is."""
    undetermined: int
    """Records undetermined under the new set (the old one for an ``old`` input) that this
    input could decide."""
    became_undetermined: int
    """Of those, records decided under the old set: undetermined because the cohort lacks it."""


class GroupImpact(_Model):
    """The impact for the records of one group (value of the ``by`` field)."""

    group: str
    old: Distribution
    new: Distribution
    changed: int
    transitions: tuple[Transition, ...]


class ImpactReport(_Model):
    """The revision impact of replacing ``old_set`` by ``new_set`` on a cohort.

    ``transitions`` holds every cell of the matrix, rows in ``old_outcomes`` order, columns in
    ``new_outcomes`` order, each followed by undetermined (``None``).
    """

    old_set: ast.SetRef
    new_set: ast.SetRef
    by: str | None = None
    id_field: str | None = None
    total: int
    old_outcomes: tuple[str, ...]
    new_outcomes: tuple[str, ...]
    old: Distribution
    new: Distribution
    transitions: tuple[Transition, ...]
    changed: int
    """Records whose outcome differs (undetermined counts as an outcome)."""
    groups: tuple[GroupImpact, ...] = ()
    changed_records: tuple[ChangedRecord, ...] = ()
    problems: tuple[RecordProblem, ...] = ()
    indicators: tuple[IndicatorReport, ...] = ()
    """The indicators asked for (``indicators=``), per unit, over the records both sets
    evaluated (they count record fields, so they are the same under both sets)."""
    lacking: tuple[LackingInput, ...] = ()
    """Inputs of the sets that no record has: why records may be undetermined."""

    def count(self, old: str | None, new: str | None) -> int:
        """Records that went from ``old`` to ``new`` (``None`` = undetermined)."""
        return next((t.count for t in self.transitions if t.old == old and t.new == new), 0)


class GroupSummary(_Model):
    group: str
    distribution: Distribution


class OutcomeSummary(_Model):
    """A cohort's outcomes under one set, overall and per group."""

    criteria_set: ast.SetRef
    by: str | None = None
    outcomes: tuple[str, ...]
    distribution: Distribution
    groups: tuple[GroupSummary, ...] = ()
    problems: tuple[RecordProblem, ...] = ()
    indicators: tuple[IndicatorReport, ...] = ()
    """The indicators asked for (``indicators=``), per unit, over the evaluated records."""


def read_cohort(source: str | Path, sets: Sequence[ast.CriteriaSet], *,
                strict: bool = True) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    """Records of a cohort file (JSON, JSON lines, CSV) meant for several sets: CSV cells are
    typed by whichever of ``sets`` declares the column. Yields ``(number, record)``, or
    ``(number, InputError)`` for a record that cannot be read."""
    decls: dict[str, ast.InputDecl] = {}
    for cs in sets:
        for decl in cs.inputs:
            decls.setdefault(decl.name, decl)
    union = sets[0].model_copy(update={"inputs": tuple(decls.values())})
    yield from read_records(source, union, strict=strict)


# --- computing ---------------------------------------------------------------------------------


def flagged_outcomes(cs: ast.CriteriaSet,
                     flagged: Collection[str] | None = None) -> tuple[str, ...]:
    """The set's flagging outcomes: ``flagged`` ∩ its outcomes, or by default every rule's
    outcome except ``otherwise``."""
    if flagged is None:
        return tuple(r.id for r in cs.rules)
    return tuple(o.id for o in cs.outcomes if o.id in flagged)


class _Tally:
    def __init__(self, cs: ast.CriteriaSet, flagged: tuple[str, ...]) -> None:
        self.cs, self.flagged = cs, flagged
        self.counts = {o.id: 0 for o in cs.outcomes}
        self.undetermined = 0

    def add(self, outcome: str | None) -> None:
        if outcome is None:
            self.undetermined += 1
        else:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def distribution(self) -> Distribution:
        total = sum(self.counts.values()) + self.undetermined
        flagged = sum(self.counts.get(o, 0) for o in self.flagged)
        return Distribution(total=total, counts=dict(self.counts),
                            undetermined=self.undetermined, flagged=flagged,
                            flagged_outcomes=self.flagged,
                            flagged_share=flagged / total if total else 0.0,
                            undetermined_share=self.undetermined / total if total else 0.0)


def _restricted(cs: ast.CriteriaSet, record: Mapping[str, Any]) -> dict[str, Any]:
    names = {d.name for d in cs.inputs}
    return {k: v for k, v in record.items() if k in names}


def _run(cs: ast.CriteriaSet, record: Mapping[str, Any], strict: bool) -> Result | KoordError:
    try:
        return evaluate(cs, _restricted(cs, record), strict=strict, trace=False)
    except KoordError as ex:
        return ex


def _ident(record: Mapping[str, Any], field: str | None) -> str | None:
    value = record.get(field) if field is not None else None
    return None if value is None or value == "" else str(value)


def _label(record: Mapping[str, Any], field: str | None) -> str | None:
    if field is None:
        return None
    value = record.get(field)
    return MISSING_GROUP if value is None or value == "" else str(value)


def _cells(old: ast.CriteriaSet, new: ast.CriteriaSet,
           counts: Mapping[tuple[str | None, str | None], int]) -> tuple[Transition, ...]:
    rows = [*(o.id for o in old.outcomes), None]
    cols = [*(o.id for o in new.outcomes), None]
    extra = [k for k in counts if k[0] not in rows or k[1] not in cols]  # unexpected ids
    cells = [Transition(old=r, new=c, count=counts.get((r, c), 0)) for r in rows for c in cols]
    cells += [Transition(old=r, new=c, count=counts[(r, c)]) for r, c in extra]
    return tuple(cells)


def _criteria_changes(old: Result, new: Result) -> tuple[CriterionChange, ...]:
    changes = []
    for name, value in old.criteria.items():
        if name not in new.criteria:
            changes.append(CriterionChange(name=name, old=value, new=None, only_in="old"))
        elif new.criteria[name] is not value:
            changes.append(CriterionChange(name=name, old=value, new=new.criteria[name]))
    changes += [CriterionChange(name=name, old=None, new=value, only_in="new")
                for name, value in new.criteria.items() if name not in old.criteria]
    return tuple(changes)


class _Side:
    """Tallies and transitions for one slice of the cohort (all records or one group)."""

    def __init__(self, old: ast.CriteriaSet, new: ast.CriteriaSet,
                 flags: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
        self.old, self.new = _Tally(old, flags[0]), _Tally(new, flags[1])
        self.transitions: dict[tuple[str | None, str | None], int] = {}
        self.changed = 0

    def add(self, a: str | None, b: str | None) -> None:
        self.old.add(a)
        self.new.add(b)
        self.transitions[(a, b)] = self.transitions.get((a, b), 0) + 1
        self.changed += a != b


def diff(
    old: ast.CriteriaSet,
    new: ast.CriteriaSet,
    records: Iterable[Mapping[str, Any]],
    *,
    by: str | None = None,
    id_field: str | None = None,
    flagged: Collection[str] | None = None,
    strict: bool = True,
    indicators: IndicatorFile | None = None,
) -> ImpactReport:
    """Evaluate ``records`` under ``old`` and ``new`` and report what changed.

    Each set sees only the record fields it declares as inputs. ``by`` names a record field
    to break the figures down by (e.g. the unit), ``id_field`` the field that identifies a
    record in the list of changed records. ``flagged`` names the flagging outcomes (default:
    every outcome except the set's ``otherwise``). A record that does not fit a set's input
    declarations (with ``strict=False``: bad values become unknown) is left out and listed in
    ``problems``. ``indicators`` (an indicator file) adds its indicators per unit.
    """
    flags = (flagged_outcomes(old, flagged), flagged_outcomes(new, flagged))
    overall = _Side(old, new, flags)
    groups: dict[str, _Side] = {}
    changed: list[ChangedRecord] = []
    problems: list[RecordProblem] = []
    counter = IndicatorTally(indicators) if indicators is not None else None
    present: set[str] = set()
    waits: dict[str, list[int]] = {}  # input -> [undetermined, became undetermined]
    for number, record in enumerate(records, start=1):
        rid = _ident(record, id_field)
        present.update(k for k, v in record.items() if v is not None and v != "")
        a, b = _run(old, record, strict), _run(new, record, strict)
        if not isinstance(a, Result) or not isinstance(b, Result):
            bad = a if isinstance(a, KoordError) else b
            assert isinstance(bad, KoordError)
            side: Literal["old", "new", "both"] = (
                "both" if isinstance(a, KoordError) and isinstance(b, KoordError)
                else "old" if isinstance(a, KoordError) else "new")
            problems.append(RecordProblem(record=number, id=rid, side=side, code=bad.code,
                                          message=bad.message))
            continue
        for name in b.missing if b.outcome is None else ():
            tally = waits.setdefault(name, [0, 0])
            tally[0] += 1
            tally[1] += a.outcome is not None
        for name in a.missing if a.outcome is None else ():
            if new.input(name) is None:
                waits.setdefault(name, [0, 0])[0] += 1
        group = _label(record, by)
        overall.add(a.outcome, b.outcome)
        if counter is not None:
            counter.add(record)
        if group is not None:
            groups.setdefault(group, _Side(old, new, flags)).add(a.outcome, b.outcome)
        if a.outcome != b.outcome:
            changed.append(ChangedRecord(record=number, id=rid, group=group, old=a.outcome,
                                         new=b.outcome, criteria=_criteria_changes(a, b)))
    return ImpactReport(
        old_set=old.ref, new_set=new.ref, by=by, id_field=id_field,
        total=overall.old.distribution().total,
        old_outcomes=tuple(o.id for o in old.outcomes),
        new_outcomes=tuple(o.id for o in new.outcomes),
        old=overall.old.distribution(), new=overall.new.distribution(),
        transitions=_cells(old, new, overall.transitions), changed=overall.changed,
        groups=tuple(GroupImpact(group=g, old=s.old.distribution(), new=s.new.distribution(),
                                 changed=s.changed, transitions=_cells(old, new, s.transitions))
                     for g, s in sorted(groups.items())),
        changed_records=tuple(changed), problems=tuple(problems),
        indicators=counter.reports() if counter is not None else (),
        lacking=_lacking(old, new, present, waits),
    )


def _lacking(old: ast.CriteriaSet, new: ast.CriteriaSet, present: set[str],
             waits: Mapping[str, list[int]]) -> tuple[LackingInput, ...]:
    names = [i.name for i in new.inputs] + [i.name for i in old.inputs
                                             if new.input(i.name) is None]
    out = []
    for name in names:
        if name in present:
            continue
        side: Literal["old", "new", "both"] = (
            "both" if old.input(name) and new.input(name) else "new" if new.input(name)
            else "old")
        undetermined, became = waits.get(name, [0, 0])
        out.append(LackingInput(name=name, side=side, undetermined=undetermined,
                                became_undetermined=became))
    return tuple(out)


def summarize(
    cs: ast.CriteriaSet,
    records: Iterable[Mapping[str, Any]],
    *,
    by: str | None = None,
    id_field: str | None = None,
    flagged: Collection[str] | None = None,
    strict: bool = True,
    indicators: IndicatorFile | None = None,
) -> OutcomeSummary:
    """The outcome distribution of ``records`` under ``cs``, overall and per ``by`` group;
    with ``indicators`` (an indicator file), its indicators per unit."""
    flags = flagged_outcomes(cs, flagged)
    overall = _Tally(cs, flags)
    groups: dict[str, _Tally] = {}
    problems: list[RecordProblem] = []
    counter = IndicatorTally(indicators) if indicators is not None else None
    for number, record in enumerate(records, start=1):
        result = _run(cs, record, strict)
        if isinstance(result, KoordError):
            problems.append(RecordProblem(record=number, id=_ident(record, id_field),
                                          side="old", code=result.code,
                                          message=result.message))
            continue
        overall.add(result.outcome)
        if counter is not None:
            counter.add(record)
        group = _label(record, by)
        if group is not None:
            groups.setdefault(group, _Tally(cs, flags)).add(result.outcome)
    return OutcomeSummary(
        criteria_set=cs.ref, by=by, outcomes=tuple(o.id for o in cs.outcomes),
        distribution=overall.distribution(),
        groups=tuple(GroupSummary(group=g, distribution=t.distribution())
                     for g, t in sorted(groups.items())),
        problems=tuple(problems),
        indicators=counter.reports() if counter is not None else ())
