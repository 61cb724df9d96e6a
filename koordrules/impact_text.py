"""The revision impact and the outcome summary as text, in bokmål, nynorsk or English, fitted
to a width (a terminal's, 80 columns by default).

A view of :class:`~koordrules.impact.ImpactReport` and
:class:`~koordrules.impact.OutcomeSummary`: nothing here decides anything. With the two sets
given, outcomes are shown by their titles in the chosen language (the table numbers them and
names them under it); without, by their ids.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from koordrules import ast
from koordrules.indicators import render_indicators
from koordrules.textguard import lines_text

if TYPE_CHECKING:
    from koordrules.impact import Distribution, ImpactReport, OutcomeSummary

_WORDS: dict[str, dict[Any, str]] = {
    "en": {True: "true", False: "false", None: "unknown", "title": "Revision impact",
           "records": "record(s)", "total": "total", "flagged": "flagged",
           "undetermined": "undetermined", "changed": "outcome changed",
           "changed_records": "Changed records", "no_change": "no criterion changed value",
           "only_old": "only in the old set", "only_new": "only in the new set",
           "more": "more changed record(s) not shown (use --limit, or --format json for all)",
           "problems": "record(s) could not be evaluated and are left out", "column": "records",
           "by": "By", "group": "group", "changed_n": "changed", "old": "old", "new": "new",
           "rows": "rows: old, columns: new", "none": "none", "record": "record",
           "flagged_is": "flagged", "lacking": "Inputs no record in the cohort has",
           "lacks": "{n} record(s) undetermined under the {side} set for want of it, {m} "
                    "of them decided under the old one",
           "side_new": "new", "side_old": "old", "side_both": "both", "outcome": "outcome",
           "share": "share", "input_of": "input of the {side} set"},
    "nb": {True: "ja", False: "nei", None: "ukjent", "title": "Konsekvenser av endringen",
           "records": "pasient(er)", "total": "sum", "flagged": "flagget",
           "undetermined": "ikke avgjort", "changed": "endret utfall",
           "changed_records": "Pasienter med endret utfall",
           "no_change": "ingen kriterier endret verdi",
           "only_old": "bare i det gamle settet", "only_new": "bare i det nye settet",
           "more": "flere pasienter med endret utfall vises ikke (bruk --limit, eller "
                   "--format json for alle)",
           "problems": "pasient(er) kunne ikke vurderes og er holdt utenfor", "column": "pasienter",
           "by": "Per", "group": "gruppe", "changed_n": "endret", "old": "gammel",
           "new": "ny", "rows": "rader: gammel, kolonner: ny", "none": "ingen",
           "record": "rad", "flagged_is": "flagget",
           "lacking": "Opplysninger ingen i pasientgruppa har",
           "lacks": "{n} pasient(er) får «ikke avgjort» med det {side} settet fordi den "
                    "mangler, {m} av dem var avgjort med det gamle",
           "side_new": "nye", "side_old": "gamle", "side_both": "nye", "outcome": "utfall",
           "share": "andel", "input_of": "opplysning i det {side} settet"},
    "nn": {True: "ja", False: "nei", None: "ukjend", "title": "Konsekvensar av endringa",
           "records": "pasient(ar)", "total": "sum", "flagged": "flagga",
           "undetermined": "ikkje avgjort", "changed": "endra utfall",
           "changed_records": "Pasientar med endra utfall",
           "no_change": "ingen kriterium endra verdi",
           "only_old": "berre i det gamle settet", "only_new": "berre i det nye settet",
           "more": "fleire pasientar med endra utfall er ikkje viste (bruk --limit, eller "
                   "--format json for alle)",
           "problems": "pasient(ar) kunne ikkje vurderast og er haldne utanfor",
           "column": "pasientar",
           "by": "Per", "group": "gruppe", "changed_n": "endra", "old": "gammal",
           "new": "ny", "rows": "rader: gammal, kolonnar: ny", "none": "ingen",
           "record": "rad", "flagged_is": "flagga",
           "lacking": "Opplysningar ingen i pasientgruppa har",
           "lacks": "{n} pasient(ar) får «ikkje avgjort» med det {side} settet fordi ho "
                    "manglar, {m} av dei var avgjorde med det gamle",
           "side_new": "nye", "side_old": "gamle", "side_both": "nye", "outcome": "utfall",
           "share": "del", "input_of": "opplysning i det {side} settet"},
}

#: The languages the text is written in.
LANGUAGES = tuple(_WORDS)
WIDTH = 80


def _words(lang: str) -> dict[Any, str]:
    if lang not in _WORDS:
        raise ValueError(f"unsupported language {lang!r}; use 'nb', 'nn' or 'en'")
    return _WORDS[lang]


def _pct(part: int, whole: int, lang: str) -> str:
    if not whole:
        return "-"
    text = f"{100 * part / whole:.1f}%"
    return text.replace(".", ",").replace("%", " %") if lang != "en" else text


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def _table(header: list[str], rows: list[list[str]], width: int) -> list[str]:
    """Columns right-aligned after a left-aligned first one, clipped to ``width``."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rest = sum(w + 2 for w in widths[1:]) + 2
    widths[0] = max(min(widths[0], width - rest), 8)

    def line(cells: list[str]) -> str:
        first = _clip(cells[0], widths[0]).ljust(widths[0])
        cols = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *cols]).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _wrap(text: str, width: int, indent: str = "  ", more: str = "    ") -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=more,
                         break_on_hyphens=False, break_long_words=False) or [indent]


def _fitted(lines: list[str], width: int) -> list[str]:
    """Lines from elsewhere (the indicators) wrapped where they are wider than ``width``."""
    out: list[str] = []
    for line in lines:
        pad = line[: len(line) - len(line.lstrip())]
        out += _wrap(line.strip(), width, pad, pad + "  ") if len(line) > width else [line]
    return out


class _Names:
    """Outcome names as the reader sees them: titles from the sets, else ids."""

    def __init__(self, sets: Sequence[ast.CriteriaSet], lang: str, w: dict[Any, str]) -> None:
        self.titles: dict[str, str] = {}
        for cs in sets:
            for o in cs.outcomes:
                self.titles.setdefault(o.id, o.title.get(lang))
        self.w = w

    def __call__(self, outcome: str | None) -> str:
        if outcome is None:
            return self.w["undetermined"]
        return self.titles.get(outcome, outcome)


def _set_name(ref: ast.SetRef) -> str:
    return f"{ref.id} {ref.version}"


def render_impact(report: ImpactReport, *, limit: int = 20, lang: str = "en",
                  width: int = WIDTH, sets: Sequence[ast.CriteriaSet] = ()) -> str:
    """The report as text: the transition table, shares, groups, the inputs no record has
    (why records may be undetermined) and the changed records (``limit``). ``sets`` (old,
    new) give the outcomes' titles."""
    w = _words(lang)
    name = _Names(sets, lang, w)
    o, n = report.old_set, report.new_set
    title = (f"{o.id} {o.version} → {n.version}" if o.id == n.id
             else f"{_set_name(o)} → {_set_name(n)}")
    out = _wrap(f"{w['title']}: {title}, {report.total} {w['records']}", width, "", "  ")
    out.append("")
    rows_ids = [*report.old_outcomes, None]
    cols_ids = [*report.new_outcomes, None]
    ids = [i for i in dict.fromkeys([*rows_ids, *cols_ids]) if i is not None]
    numbers: dict[str | None, str] = {c: str(i) for i, c in enumerate(ids, 1)}
    numbers[None] = "?"
    out.append(f"{w['outcome'].capitalize()} ({w['rows']}):")
    header = ["", *(numbers[c] for c in cols_ids), w["total"]]
    rows = []
    for r in rows_ids:
        cells = [report.count(r, c) for c in cols_ids]
        rows.append([f"{numbers[r]} {name(r)}", *(str(x) for x in cells), str(sum(cells))])
    col_totals = [sum(report.count(r, c) for r in rows_ids) for c in cols_ids]
    rows.append([w["total"], *(str(x) for x in col_totals), str(report.total)])
    out += _table(header, rows, width)
    out.append("")
    old_name, new_name = w["old"], w["new"]
    out += _table(["", old_name, new_name], [
        [w["flagged"], _count(report.old.flagged, report.old.total, lang),
         _count(report.new.flagged, report.new.total, lang)],
        [w["undetermined"], _count(report.old.undetermined, report.old.total, lang),
         _count(report.new.undetermined, report.new.total, lang)],
        [w["changed"], _count(report.changed, report.total, lang), ""],
    ], width)
    flag_old = ", ".join(name(f) for f in report.old.flagged_outcomes) or w["none"]
    flag_new = ", ".join(name(f) for f in report.new.flagged_outcomes) or w["none"]
    out += _wrap(f"({w['flagged_is']} = {flag_old}"
                 + ("" if flag_old == flag_new else f" | {flag_new}") + ")", width)
    if report.lacking:
        out += ["", f"{w['lacking']}:"]
        for x in report.lacking:
            side = w[f"side_{x.side}"]
            lacks = w["lacks"].format(n=x.undetermined, m=x.became_undetermined, side=side)
            out += _wrap(f"{x.name} ({w['input_of'].format(side=side)}): {lacks}", width)
    if report.groups:
        out += ["", f"{w['by']} {report.by}:"]
        out += _table([report.by or w["group"], w["column"], f"{w['flagged']} {old_name}",
                       f"{w['flagged']} {new_name}", w["changed_n"]], [
            [g.group, str(g.old.total), _count(g.old.flagged, g.old.total, lang),
             _count(g.new.flagged, g.new.total, lang), str(g.changed)]
            for g in report.groups], width)
    if report.changed_records:
        shown = report.changed_records[:limit]
        out += ["", f"{w['changed_records']} ({len(shown)} / {len(report.changed_records)}):"]
        for c in shown:
            label = c.id if c.id is not None else f"{w['record']} {c.record}"
            group = f" [{c.group}]" if c.group is not None else ""
            why = ", ".join(
                f"{x.name}: {w[x.new]} ({w['only_new']})" if x.only_in == "new" else
                f"{x.name}: {w[x.old]} ({w['only_old']})" if x.only_in == "old" else
                f"{x.name}: {w[x.old]} → {w[x.new]}"
                for x in c.criteria) or w["no_change"]
            out += _wrap(f"{label}{group}: {name(c.old)} → {name(c.new)}; {why}", width)
        more = len(report.changed_records) - len(shown)
        if more:
            out += _wrap(f"… {more} {w['more']}", width)
    out += _fitted(render_indicators(report.indicators, lang=lang), width)
    if report.problems:
        out += ["", f"{len(report.problems)} {w['problems']}:"]
        out += [f"  {w['record']} {p.record} ({w.get(p.side, p.side)}): "
                f"{p.code}: {p.message}" for p in report.problems[:limit]]
    return lines_text(out)


def _count(part: int, whole: int, lang: str) -> str:
    return f"{part} ({_pct(part, whole, lang)})"


def render_summary(summary: OutcomeSummary, *, lang: str = "en", width: int | None = None,
                   sets: Sequence[ast.CriteriaSet] = ()) -> str:
    """The outcome distribution as text, with a per-group table when grouped (fitted to
    ``width`` when given)."""
    w = _words(lang)
    fit = width is not None
    width = width or 10**6
    name = _Names(sets, lang, w)
    ref, d = summary.criteria_set, summary.distribution
    out = [f"{ref.id}@{ref.version}: {d.total} {w['records']}", ""]
    rows = [[name(o), str(d.counts.get(o, 0)), _pct(d.counts.get(o, 0), d.total, lang)]
            for o in summary.outcomes]
    rows.append([w["undetermined"], str(d.undetermined), _pct(d.undetermined, d.total, lang)])
    rows.append([w["flagged"], str(d.flagged), _pct(d.flagged, d.total, lang)])
    out += _table([w["outcome"], w["column"], w["share"]], rows, width)
    out += _wrap(f"({w['flagged_is']} = "
                 f"{', '.join(name(f) for f in d.flagged_outcomes) or w['none']})", width)
    if summary.groups:
        out += ["", f"{w['by']} {summary.by}:"]
        out += _table([summary.by or w["group"], w["column"], *summary.outcomes,
                       w["undetermined"], w["flagged"]], [
            [g.group, str(g.distribution.total),
             *(str(g.distribution.counts.get(o, 0)) for o in summary.outcomes),
             str(g.distribution.undetermined),
             _count(g.distribution.flagged, g.distribution.total, lang)]
            for g in summary.groups], width)
    indicators = render_indicators(summary.indicators, lang=lang if sets else "nb")
    out += _fitted(indicators, width) if fit else indicators
    if summary.problems:
        out += ["", f"{len(summary.problems)} {w['problems']}:"]
        out += [f"  {w['record']} {p.record}: {p.code}: {p.message}"
                for p in summary.problems[:20]]
    return lines_text(out)


def distribution_text(d: Distribution, lang: str = "en") -> str:
    """``flagged (share)`` for one distribution, as the tables show it."""
    return _count(d.flagged, d.total, lang)
