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
from koordrules.indicators import IndicatorFile, IndicatorReport, IndicatorTally, render_indicators
from koordrules.records import read_records
from koordrules.result import Result
from koordrules.textguard import lines_text

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
    for number, record in enumerate(records, start=1):
        rid = _ident(record, id_field)
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
    )


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


# --- text --------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest]).rstrip()
    return [line(header), *(line(r) for r in rows)]


def _name(outcome: str | None) -> str:
    return UNDETERMINED if outcome is None else outcome


def _flag_line(d: Distribution) -> str:
    return f"{d.flagged} ({_pct(d.flagged, d.total)})"


def _undetermined_line(d: Distribution) -> str:
    return f"{d.undetermined} ({_pct(d.undetermined, d.total)})"


def render_impact(report: ImpactReport, *, limit: int = 20) -> str:
    """The report as text: transition table, shares, groups, changed records (``limit``)."""
    o, n = report.old_set, report.new_set
    same = o.id == n.id
    old_name, new_name = (o.version, n.version) if same else (f"{o.id}@{o.version}",
                                                              f"{n.id}@{n.version}")
    title = f"{o.id} {o.version} → {n.version}" if same else f"{old_name} → {new_name}"
    out = [f"Revision impact: {title}, {report.total} record(s)", ""]
    rows_ids = [*report.old_outcomes, None]
    cols_ids = [*report.new_outcomes, None]
    header = [f"{old_name} \\ {new_name}", *(_name(c) for c in cols_ids), "total"]
    rows = []
    for r in rows_ids:
        cells = [report.count(r, c) for c in cols_ids]
        rows.append([_name(r), *(str(x) for x in cells), str(sum(cells))])
    col_totals = [sum(report.count(r, c) for r in rows_ids) for c in cols_ids]
    rows.append(["total", *(str(x) for x in col_totals), str(report.total)])
    out += _table(header, rows)
    out.append("")
    out += _table(["", old_name, new_name], [
        ["flagged", _flag_line(report.old), _flag_line(report.new)],
        ["undetermined", _undetermined_line(report.old), _undetermined_line(report.new)],
        ["outcome changed", f"{report.changed} ({_pct(report.changed, report.total)})", ""],
    ])
    flag_old = ", ".join(report.old.flagged_outcomes) or "none"
    flag_new = ", ".join(report.new.flagged_outcomes) or "none"
    out.append(f"  (flagged = {flag_old}" + ("" if flag_old == flag_new
                                              else f" | {flag_new}") + ")")
    if report.groups:
        out += ["", f"By {report.by}:"]
        out += _table([report.by or "group", "records", f"flagged {old_name}",
                       f"flagged {new_name}", "changed"], [
            [g.group, str(g.old.total), _flag_line(g.old),
             _flag_line(g.new), str(g.changed)] for g in report.groups])
    if report.changed_records:
        shown = report.changed_records[:limit]
        out += ["", f"Changed records ({len(shown)} of {len(report.changed_records)}):"]
        for c in shown:
            label = c.id if c.id is not None else f"record {c.record}"
            group = f" [{c.group}]" if c.group is not None else ""
            why = ", ".join(
                f"{x.name}: {_word(x.old)} → {_word(x.new)}"
                + (f" (only in {x.only_in})" if x.only_in else "")
                for x in c.criteria) or "no criterion changed value"
            out.append(f"  {label}{group}: {_name(c.old)} → {_name(c.new)}; {why}")
        more = len(report.changed_records) - len(shown)
        if more:
            out.append(f"  … {more} more changed record(s) not shown "
                       "(use --limit, or --format json for all)")
    out += render_indicators(report.indicators)
    if report.problems:
        out += ["", f"{len(report.problems)} record(s) could not be evaluated and are left "
                "out:"]
        out += [f"  record {p.record} ({p.side}): {p.code}: {p.message}"
                for p in report.problems[:limit]]
    return lines_text(out)


def _word(value: bool | None) -> str:
    return {True: "true", False: "false", None: "unknown"}[value]


def render_summary(summary: OutcomeSummary) -> str:
    """The outcome distribution as text, with a per-group table when grouped."""
    ref, d = summary.criteria_set, summary.distribution
    out = [f"{ref.id}@{ref.version}: {d.total} record(s)", ""]
    rows = [[o, str(d.counts.get(o, 0)), _pct(d.counts.get(o, 0), d.total)]
            for o in summary.outcomes]
    rows.append([UNDETERMINED, str(d.undetermined), _pct(d.undetermined, d.total)])
    rows.append(["flagged", str(d.flagged), _pct(d.flagged, d.total)])
    out += _table(["outcome", "records", "share"], rows)
    out.append(f"  (flagged = {', '.join(d.flagged_outcomes) or 'none'})")
    if summary.groups:
        out += ["", f"By {summary.by}:"]
        out += _table([summary.by or "group", "records", *summary.outcomes, UNDETERMINED,
                       "flagged"], [
            [g.group, str(g.distribution.total),
             *(str(g.distribution.counts.get(o, 0)) for o in summary.outcomes),
             str(g.distribution.undetermined),
             f"{g.distribution.flagged} ({_pct(g.distribution.flagged, g.distribution.total)})"]
            for g in summary.groups])
    out += render_indicators(summary.indicators)
    if summary.problems:
        out += ["", f"{len(summary.problems)} record(s) could not be evaluated and are left "
                "out:"]
        out += [f"  record {p.record}: {p.code}: {p.message}" for p in summary.problems[:20]]
    return lines_text(out)
