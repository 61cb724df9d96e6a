"""HTML reports: a result's explanation as a decision tree, and a revision's impact.

Each report is one self-contained HTML file: inline CSS and inline SVG, no scripts, no fonts,
images or links to fetch, so it opens offline and can be attached to a case or a review. Every
value is shown with a word and a symbol as well as a colour (JA ✓ / NEI ✗ / UKJENT ?), and all
text from criteria files and records is escaped. Like :mod:`koordrules.explain`, these are
views of the structured :class:`~koordrules.trace.Trace` and
:class:`~koordrules.impact.ImpactReport`; nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import koordrules
from koordrules.ast import CriteriaSet
from koordrules.explain import for_people
from koordrules.result import Result
from koordrules.trace import REDACTED, TraceNode

if TYPE_CHECKING:
    from koordrules.impact import Distribution, ImpactReport, Transition
    from koordrules.indicators import IndicatorReport

_WORDS: dict[str, dict[Any, str]] = {
    "nb": {True: "JA", False: "NEI", None: "UKJENT", "report": "Forklaring av resultat",
           "set": "Kriteriesett", "outcome": "Utfall", "undecided": "Ikke avgjort",
           "legend": "Tegnforklaring", "criteria": "Kriterier", "tree": "Beslutningstre",
           "rules": "Regler, prøvd i rekkefølge", "chosen": "valgt",
           "otherwise": "ellers (ingen regel over er oppfylt)",
           "missing": "Opplysninger som mangler og kan avgjøre utfallet",
           "ask": "Avklar disse med pasienten eller i journalen.",
           "inputs": "Opplysninger som ble lest", "input": "Opplysning", "value": "Verdi",
           "redacted": "Verdiene er skjult (--redact).", "warnings": "Advarsler",
           "possible": "Mulige utfall", "record": "Pasient", "contents": "Innhold",
           "not_tried": "ikke prøvd", "where": "Kilde", "none": "ingen",
           "diff": "Konsekvenser av ny versjon", "old": "Gammel", "new": "Ny",
           "records": "Pasienter", "changed": "Endret utfall", "flagged": "Flagget",
           "transitions": "Overganger (rader: gammel versjon, kolonner: ny versjon)",
           "chart": "Utfall per versjon", "per_group": "Per gruppe",
           "changed_records": "Pasienter med endret utfall", "problems": "Pasienter som ikke "
           "kunne vurderes", "input_ref": "opplysning", "parameter_ref": "parameter",
           "criterion_ref": "kriterium", "group": "Gruppe",
           "criteria_changed": "Kriterier som endret verdi",
           "undetermined": "ikke avgjort", "total": "sum",
           "technical": "Teknisk: uttrykk og kilde"},
    "nn": {True: "JA", False: "NEI", None: "UKJEND", "report": "Forklaring av resultat",
           "set": "Kriteriesett", "outcome": "Utfall", "undecided": "Ikkje avgjort",
           "legend": "Teiknforklaring", "criteria": "Kriterium", "tree": "Avgjerdstre",
           "rules": "Reglar, prøvde i rekkjefølgje", "chosen": "valt",
           "otherwise": "elles (ingen regel over er oppfylt)",
           "missing": "Opplysningar som manglar og kan avgjere utfallet",
           "ask": "Avklar desse med pasienten eller i journalen.",
           "inputs": "Opplysningar som vart lesne", "input": "Opplysning", "value": "Verdi",
           "redacted": "Verdiane er skjulte (--redact).", "warnings": "Åtvaringar",
           "possible": "Moglege utfall", "record": "Pasient", "contents": "Innhald",
           "not_tried": "ikkje prøvd", "where": "Kjelde", "none": "ingen",
           "diff": "Konsekvensar av ny versjon", "old": "Gammal", "new": "Ny",
           "records": "Pasientar", "changed": "Endra utfall", "flagged": "Flagga",
           "transitions": "Overgangar (rader: gammal versjon, kolonnar: ny versjon)",
           "chart": "Utfall per versjon", "per_group": "Per gruppe",
           "changed_records": "Pasientar med endra utfall", "problems": "Pasientar som ikkje "
           "kunne vurderast", "input_ref": "opplysning", "parameter_ref": "parameter",
           "criterion_ref": "kriterium", "group": "Gruppe",
           "criteria_changed": "Kriterium som endra verdi",
           "undetermined": "ikkje avgjort", "total": "sum",
           "technical": "Teknisk: uttrykk og kjelde"},
    "en": {True: "YES", False: "NO", None: "UNKNOWN", "report": "Result explanation",
           "set": "Criteria set", "outcome": "Outcome", "undecided": "Undecided",
           "legend": "Legend", "criteria": "Criteria", "tree": "Decision tree",
           "rules": "Rules, tried in order", "chosen": "chosen",
           "otherwise": "otherwise (no rule above holds)",
           "missing": "Missing information that could decide the outcome",
           "ask": "Clarify these with the patient or in the record.",
           "inputs": "Information read", "input": "Input", "value": "Value",
           "redacted": "Values are hidden (--redact).", "warnings": "Warnings",
           "possible": "Possible outcomes", "record": "Record", "contents": "Contents",
           "not_tried": "not tried", "where": "Source", "none": "none",
           "diff": "Impact of a new version", "old": "Old", "new": "New",
           "records": "Records", "changed": "Changed outcome", "flagged": "Flagged",
           "transitions": "Transitions (rows: old version, columns: new version)",
           "chart": "Outcomes per version", "per_group": "Per group",
           "changed_records": "Records with a changed outcome",
           "problems": "Records that could not be evaluated", "group": "Group",
           "input_ref": "input", "parameter_ref": "parameter", "criterion_ref": "criterion",
           "criteria_changed": "Criteria that changed value", "undetermined": "undetermined",
           "total": "total", "technical": "Technical: expression and source"},
}

_SYMBOL = {True: "✓", False: "✗", None: "?"}
_CLASS = {True: "t", False: "f", None: "u"}
_SKIP = {"boolean", "number", "string", "date", "duration"}

_CSS = """
:root { --t: #1a7f37; --t-bg: #dafbe1; --f: #b42318; --f-bg: #ffebe9; --u: #7a5a00;
  --u-bg: #fff4c2; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; margin: 0; background: #f6f8fa; }
main { max-width: 980px; margin: 0 auto; padding: 24px; background: #fff; }
h1 { font-size: 1.5em; margin: 0 0 4px; } h2 { font-size: 1.2em; margin: 28px 0 8px;
  border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 0; }
.meta, .muted { color: var(--muted); font-size: .9em; }
code { font: .92em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  white-space: pre-wrap; }
.v { display: inline-block; border-radius: 10px; padding: 0 8px; font-weight: 600;
  font-size: .85em; border: 1px solid; white-space: nowrap; }
.v-t { color: var(--t); background: var(--t-bg); border-color: var(--t); }
.v-f { color: var(--f); background: var(--f-bg); border-color: var(--f); }
.v-u { color: var(--u); background: var(--u-bg); border-color: var(--u); }
.v-x { color: #1f2328; background: #eaeef2; border-color: #afb8c1; }
.banner { border-left: 6px solid; padding: 10px 14px; margin: 16px 0; border-radius: 4px; }
.banner.b-t { border-color: var(--t); background: var(--t-bg); }
.banner.b-u { border-color: var(--u); background: var(--u-bg); }
.banner .o { font-size: 1.2em; font-weight: 700; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: .9em; margin: 8px 0; }
.criterion { border: 1px solid var(--line); border-left: 6px solid; border-radius: 6px;
  padding: 10px 14px; margin: 10px 0; }
.criterion.c-t { border-left-color: var(--t); } .criterion.c-f { border-left-color: var(--f); }
.criterion.c-u { border-left-color: var(--u); }
.criterion header { display: flex; gap: 10px; align-items: center; }
.criterion .letter { font-size: 1.3em; font-weight: 700; min-width: 1.6em; }
ul.tree { list-style: none; margin: 6px 0 0; padding-left: 18px;
  border-left: 2px solid var(--line); }
ul.tree li { margin: 3px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: .93em; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.diag { font-weight: 700; } td.zero { color: #8c959f; }
ol.rules li { margin: 4px 0; } ol.rules li.chosen { font-weight: 600; }
.missing { background: var(--u-bg); border: 1px solid var(--u); border-radius: 6px;
  padding: 8px 14px; }
.record { border-top: 3px solid #1f2328; margin-top: 36px; padding-top: 8px; }
svg text { font: 12px system-ui, sans-serif; }
details.technical { margin: 6px 0 0; font-size: .93em; }
details.technical summary { color: var(--muted); cursor: pointer; }
footer { margin-top: 36px; color: var(--muted); font-size: .8em; }
@media print { body { background: #fff; } main { padding: 0; } }
"""


def _words(lang: str) -> dict[Any, str]:
    if lang not in _WORDS:
        raise ValueError(f"unsupported language {lang!r}; use 'nb', 'nn' or 'en'")
    return _WORDS[lang]


def _badge(value: Any, w: dict[Any, str]) -> str:
    """A value as a labelled badge: word and symbol, colour only as a third cue."""
    if value is None or isinstance(value, bool):
        return (f'<span class="v v-{_CLASS[value]}" data-value="{_CLASS[value]}">'
                f"{_SYMBOL[value]} {w[value]}</span>")
    return f'<span class="v v-x" data-value="x">{escape(_show(value))}</span>'


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str) and value != REDACTED:
        return value
    return str(value)


def _page(title: str, body: list[str], lang: str) -> str:
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{escape(lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body><main>",
        *body,
        f"<footer>koordrules {escape(koordrules.__version__)}</footer>",
        "</main></body>",
        "</html>",
        "",
    ])


def _technical(inner: str, w: dict[Any, str], summary: str | None = None) -> str:
    """Code names, expressions and positions, folded away for the people the page is for."""
    return (f'<details class="technical"><summary>{escape(summary or w["technical"])}'
            f"</summary>{inner}</details>")


def _legend(w: dict[Any, str]) -> str:
    items = " ".join(f"<span>{_badge(v, w)}</span>" for v in (True, False, None))
    return f'<div class="legend" aria-label="{escape(w["legend"])}"><strong>' \
           f'{escape(w["legend"])}:</strong> {items}</div>'


# --------------------------------------------------------------------------- result


def _tree(node: TraceNode, w: dict[Any, str], *, top: bool = False) -> str:
    text = " ".join(node.text.split())
    if node.kind == "name" and not top:
        head = f"<code>{escape(text)}</code> = {_badge(node.value, w)}"
        if node.ref:
            ref = w.get(f"{node.ref}_ref", node.ref)
            head += f' <span class="muted">({escape(ref)})</span>'
    else:
        head = f"<code>{escape(text)}</code> → {_badge(node.value, w)}"
    kids = [k for k in node.children if k.kind not in _SKIP]
    inner = "".join(f"<li>{_tree(k, w)}</li>" for k in kids)
    return head + (f'<ul class="tree">{inner}</ul>' if inner else "")


def _svg_overview(result: Result, w: dict[Any, str], lang: str) -> str:
    """Criteria boxes flowing into the outcome box, each with its word and symbol."""
    trace = result.trace
    assert trace is not None
    crit = trace.criteria
    box_w, box_h, gap = 118, 54, 12
    width = max(len(crit), 1) * (box_w + gap) + 250
    height = box_h + 70
    colours = {True: ("#dafbe1", "#1a7f37"), False: ("#ffebe9", "#b42318"),
               None: ("#fff4c2", "#7a5a00")}
    parts = [f'<svg role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(w["tree"])}">']
    out_x = len(crit) * (box_w + gap) + 40
    for i, c in enumerate(crit):
        x = i * (box_w + gap) + 4
        fill, stroke = colours[c.value]
        title = escape(c.title.get(lang))
        parts.append(
            f'<g><title>{escape(c.name)} – {title}</title>'
            f'<rect x="{x}" y="8" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="2"/>'
            f'<text x="{x + 10}" y="30" font-weight="700" fill="{stroke}">'
            f"{escape(c.name[:10])}</text>"
            f'<text x="{x + 10}" y="50" fill="{stroke}">{_SYMBOL[c.value]} '
            f"{escape(w[c.value])}</text></g>")
        parts.append(f'<line x1="{x + box_w / 2}" y1="{8 + box_h}" x2="{x + box_w / 2}" '
                     f'y2="{box_h + 30}" stroke="#8c959f" stroke-width="1.5"/>')
    if crit:
        last = (len(crit) - 1) * (box_w + gap) + 4 + box_w / 2
        parts.append(f'<line x1="{4 + box_w / 2}" y1="{box_h + 30}" x2="{out_x}" '
                     f'y2="{box_h + 30}" stroke="#8c959f" stroke-width="1.5"/>'
                     f'<line x1="{last}" y1="{box_h + 30}" x2="{out_x}" y2="{box_h + 30}" '
                     f'stroke="#8c959f" stroke-width="1.5"/>')
    decided = result.outcome is not None
    fill, stroke = colours[True] if decided else colours[None]
    label = (_outcome_title(result, result.outcome, lang) if decided
             else w["undecided"])
    parts.append(
        f'<polygon points="{out_x - 8},{box_h + 24} {out_x},{box_h + 30} {out_x - 8},'
        f'{box_h + 36}" fill="#8c959f"/>'
        f'<rect x="{out_x}" y="{box_h + 8}" width="200" height="44" rx="6" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="2"/>'
        f'<text x="{out_x + 10}" y="{box_h + 26}" fill="{stroke}" font-weight="700">'
        f"{escape(w['outcome'])}</text>"
        f'<text x="{out_x + 10}" y="{box_h + 44}" fill="{stroke}">'
        f"{escape(_clip(label, 30))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _outcome_title(result: Result, outcome: str | None, lang: str) -> str:
    if result.trace is not None:
        for r in result.trace.rules:
            if r.outcome == outcome:
                return r.title.get(lang)
    return outcome or ""


def _inputs_read(result: Result) -> dict[str, Any]:
    reads: dict[str, Any] = {}
    if result.trace is None:
        return reads
    nodes = [c.expression for c in result.trace.criteria]
    nodes += [r.expression for r in result.trace.rules if r.expression is not None]
    for node in nodes:
        reads.update(node.inputs or {})
    return dict(sorted(reads.items()))


def _result_body(result: Result, w: dict[Any, str], lang: str, *, heading: str,
                 criteria_set: CriteriaSet | None = None) -> list[str]:
    ref = result.criteria_set
    trace = result.trace
    summary, asks = for_people(result, lang=lang, criteria_set=criteria_set)
    out = [f"<h1>{escape(heading)}</h1>",
           f'<p class="meta">{escape(w["set"])}: <strong>{escape(ref.id)}</strong> '
           f"{escape(ref.version)} · sha256 <code>{escape(ref.sha256[:12])}</code></p>"]
    decided = result.outcome is not None
    banner_cls = "b-t" if decided else "b-u"
    name = (_outcome_title(result, result.outcome, lang) if decided else w["undecided"])
    out.append(f'<section class="banner {banner_cls}" id="outcome">'
               f'<div class="o">{escape(w["outcome"])}: {escape(name)}</div>')
    out += [f"<p>{escape(line)}</p>" for line in summary[1:]]
    if not decided:
        possible = ", ".join(escape(_outcome_title(result, p, lang))
                             for p in result.possible_outcomes)
        out.append(f"<p>{escape(w['possible'])}: {possible}</p>")
    out.append("</section>")
    out.append(_legend(w))
    if trace is None:
        out.append("<table><tr><th>" + escape(w["criteria"]) + "</th><th>"
                   + escape(w["value"]) + "</th></tr>")
        out += [f"<tr><td>{escape(k)}</td><td>{_badge(v, w)}</td></tr>"
                for k, v in result.criteria.items()]
        out.append("</table>")
    else:
        out.append(f"<h2>{escape(w['tree'])}</h2>")
        out.append(_svg_overview(result, w, lang))
        out.append(f"<h2>{escape(w['criteria'])}</h2>")
        for c in trace.criteria:
            cls = _CLASS[c.value]
            where = (f'<div class="muted">{escape(w["where"])}: '
                     f"{escape(str(c.expression.span))}"
                     + (f" · {escape(c.origin)}" if c.origin else "") + "</div>"
                     if c.expression.span else "")
            out.append(
                f'<section class="criterion c-{cls}" id="criterion-{escape(c.name)}" '
                f'data-criterion="{escape(c.name)}" data-value="{cls}">'
                f'<header><span class="letter">{escape(c.name)}</span>'
                f"<h3>{escape(c.title.get(lang))}</h3> {_badge(c.value, w)}</header>"
                f"<p>{escape(c.sentence.get(lang))}</p>"
                + _technical(f'<ul class="tree"><li>{_tree(c.expression, w, top=True)}'
                             f"</li></ul>{where}", w) + "</section>")
        out.append(f"<h2>{escape(w['rules'])}</h2><ol class=\"rules\">")
        for r in trace.rules:
            cond = (_technical(f"<code>{escape(' '.join(r.expression.text.split()))}</code>",
                               w) if r.expression else f"<em>{escape(w['otherwise'])}</em>")
            chosen = f" ← <strong>{escape(w['chosen'])}</strong>" if r.chosen else ""
            out.append(f'<li class="{"chosen" if r.chosen else ""}" '
                       f'data-outcome="{escape(r.outcome)}">'
                       f"{escape(r.title.get(lang))} → {_badge(r.value, w)}{chosen}"
                       f"{cond}</li>")
        out.append("</ol>")
        out.append(f"<h2>{escape(w['inputs'])}</h2>")
        if trace.redacted:
            out.append(f'<p class="muted">{escape(w["redacted"])}</p>')
        else:
            reads = _inputs_read(result)
            rows = "".join(f"<tr><td><code>{escape(k)}</code></td><td>{_badge(v, w)}</td></tr>"
                           for k, v in reads.items())
            out.append(_technical(f"<table class=\"inputs\"><tr><th>{escape(w['input'])}</th>"
                                  f"<th>{escape(w['value'])}</th></tr>{rows}</table>", w,
                                  w["inputs"]))
    if result.missing:
        items = "".join(f"<li>{escape(a)}</li>" for a in asks or result.missing)
        out.append(f'<h2>{escape(w["missing"])}</h2><div class="missing" id="missing">'
                   f"<p>{escape(w['ask'])}</p><ul>{items}</ul></div>")
    if result.warnings:
        items = "".join(f"<li>{escape(m)}</li>" for m in result.warnings)
        out.append(f'<h2>{escape(w["warnings"])}</h2><ul class="warnings">{items}</ul>')
    return out


def render_result_html(result: Result, *, lang: str = "nb", title: str | None = None,
                       criteria_set: CriteriaSet | None = None) -> str:
    """One result as a self-contained HTML page: the outcome and its sentence, criteria A–D
    as a decision tree with their values, the rules tried, the inputs read (unless the trace
    is redacted) and what is missing."""
    w = _words(lang)
    heading = title or w["report"]
    return _page(heading, _result_body(result, w, lang, heading=heading,
                                       criteria_set=criteria_set), lang)


def render_results_html(results: Sequence[tuple[str | None, Result]], *, lang: str = "nb",
                        title: str | None = None, criteria_set: CriteriaSet | None = None
                        ) -> str:
    """Several results (``(label, result)``, e.g. one per record) in one page, with a table
    of contents."""
    w = _words(lang)
    if len(results) == 1:
        label, result = results[0]
        return render_result_html(result, lang=lang,
                                  title=title or (f"{w['record']} {label}" if label else None),
                                  criteria_set=criteria_set)
    heading = title or w["report"]
    body = [f"<h1>{escape(heading)}</h1>", f"<h2>{escape(w['contents'])}</h2><ol>"]
    for i, (label, result) in enumerate(results, start=1):
        name = (_outcome_title(result, result.outcome, lang) if result.outcome
                else w["undecided"])
        body.append(f'<li><a href="#record-{i}">{escape(w["record"])} '
                    f"{escape(label or str(i))}</a>: {escape(name)}</li>")
    body.append("</ol>")
    for i, (label, result) in enumerate(results, start=1):
        body.append(f'<div class="record" id="record-{i}">')
        body += _result_body(result, w, lang, heading=f"{w['record']} {label or i}",
                             criteria_set=criteria_set)
        body.append("</div>")
    return _page(heading, body, lang)


# --------------------------------------------------------------------------- impact


_PALETTE = ("#0969da", "#1a7f37", "#bf3989", "#9a6700", "#8250df", "#0a7d8c", "#b35900",
            "#57606a")
_UNDETERMINED_COLOUR = "#afb8c1"


def _outcome_label(outcome: str | None, w: dict[Any, str]) -> str:
    """An outcome by its title in the report's language (``w`` carries the titles of the
    sets, see :func:`render_diff_html`), else its id."""
    if outcome is None:
        return f"({w['undetermined']})"
    return w.get(("title", outcome), outcome)


def _colours(report: ImpactReport) -> dict[str | None, str]:
    names: list[str] = []
    for o in (*report.old_outcomes, *report.new_outcomes):
        if o not in names:
            names.append(o)
    out: dict[str | None, str] = {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names)}
    out[None] = _UNDETERMINED_COLOUR
    return out


def _segments(d: Distribution) -> list[tuple[str | None, int]]:
    return [*d.counts.items(), (None, d.undetermined)]


def _bar_chart(rows: list[tuple[str, Distribution]], colours: dict[str | None, str],
               w: dict[Any, str], *, label: str) -> str:
    """Horizontal stacked bars, one per (version or group × version), with counts written in
    each segment wide enough and a legend with the outcome names (patterns are not needed:
    every segment is also listed in the transition table)."""
    bar_w, label_w, row_h = 520, 190, 30
    height = len(rows) * row_h + 60
    width = label_w + bar_w + 70
    parts = [f'<svg role="img" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(label)}">']
    for i, (name, d) in enumerate(rows):
        y = 10 + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
                     f"{escape(_clip(name, 28))}</text>")
        x = float(label_w)
        total = d.total or 1
        for outcome, count in _segments(d):
            if not count:
                continue
            seg = bar_w * count / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{seg:.1f}" height="22" '
                f'fill="{colours.get(outcome, "#57606a")}" stroke="#fff">'
                f"<title>{escape(_outcome_label(outcome, w))}: {count}</title></rect>")
            if seg > 26:
                parts.append(f'<text x="{x + seg / 2:.1f}" y="{y + 16}" text-anchor="middle" '
                             f'fill="#fff" font-weight="700">{count}</text>')
            x += seg
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 16}">{d.total}</text>')
    ly = len(rows) * row_h + 24
    lx = 4
    for outcome, colour in colours.items():
        text = _outcome_label(outcome, w)
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{lx + 16}" y="{ly + 11}">{escape(text)}</text>')
        lx += 30 + 7 * len(text)
    parts.append("</svg>")
    return "".join(parts)


def _transition_table(old: Sequence[str], new: Sequence[str],
                      cells: Sequence[Transition], w: dict[Any, str]) -> str:
    cols: list[str | None] = [*new, None]
    rows: list[str | None] = [*old, None]
    count = {(t.old, t.new): t.count for t in cells}
    out = [f'<table class="transitions"><tr><th>{escape(w["old"])} ↓ / '
           f'{escape(w["new"])} →</th>']
    out += [f"<th>{escape(_outcome_label(c, w))}</th>" for c in cols]
    out.append(f"<th>{escape(w['total'])}</th></tr>")
    for r in rows:
        out.append(f"<tr><th>{escape(_outcome_label(r, w))}</th>")
        total = 0
        for c in cols:
            n = count.get((r, c), 0)
            total += n
            cls = "n diag" if r == c and n else ("n zero" if n == 0 else "n")
            out.append(f'<td class="{cls}" data-old="{escape(str(r))}" '
                       f'data-new="{escape(str(c))}">{n}</td>')
        out.append(f'<td class="n">{total}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _distribution_rows(report: ImpactReport, w: dict[Any, str]) -> str:
    out = [f"<table><tr><th></th><th>{escape(w['old'])} "
           f"{escape(report.old_set.version)}</th><th>{escape(w['new'])} "
           f"{escape(report.new_set.version)}</th></tr>"]
    for name, a, b in ((w["records"], report.old.total, report.new.total),
                       (w["flagged"], f"{report.old.flagged} ({report.old.flagged_share:.1%})",
                        f"{report.new.flagged} ({report.new.flagged_share:.1%})"),
                       (w["undetermined"], f"{report.old.undetermined} "
                        f"({report.old.undetermined_share:.1%})",
                        f"{report.new.undetermined} ({report.new.undetermined_share:.1%})")):
        out.append(f'<tr><th>{escape(str(name))}</th><td class="n">{escape(str(a))}</td>'
                   f'<td class="n">{escape(str(b))}</td></tr>')
    out.append(f'<tr><th>{escape(w["changed"])}</th><td class="n" colspan="2">'
               f"{report.changed}</td></tr></table>")
    return "".join(out)


def render_diff_html(report: ImpactReport, *, lang: str = "nb", limit: int = 50,
                     sets: Sequence[CriteriaSet] = ()) -> str:
    """A revision's impact as a self-contained HTML page: the figures per version, the
    outcome transition table, an inline-SVG bar chart of outcomes per version (and per group),
    and the records whose outcome changed (at most ``limit``). ``sets`` (old, new) give the
    outcomes' titles in ``lang``."""
    w = dict(_words(lang))
    for cs in reversed(sets):
        w.update({("title", o.id): o.title.get(lang) for o in cs.outcomes})
    old, new = report.old_set, report.new_set
    title = f"{w['diff']}: {old.id} {old.version} → {new.id} {new.version}"
    colours = _colours(report)
    body = [f"<h1>{escape(w['diff'])}</h1>",
            f'<p class="meta">{escape(w["old"])}: <strong>{escape(old.id)} '
            f"{escape(old.version)}</strong> · {escape(w['new'])}: <strong>"
            f"{escape(new.id)} {escape(new.version)}</strong> · {report.total} "
            f"{escape(w['records'].lower())}</p>",
            _distribution_rows(report, w),
            f"<h2>{escape(w['transitions'])}</h2>",
            _transition_table(report.old_outcomes, report.new_outcomes, report.transitions, w),
            f"<h2>{escape(w['chart'])}</h2>"]
    rows = [(f"{w['old']} {old.version}", report.old), (f"{w['new']} {new.version}", report.new)]
    body.append(_bar_chart(rows, colours, w, label=w["chart"]))
    if report.groups:
        body.append(f"<h2>{escape(w['per_group'])}"
                    + (f" ({escape(report.by)})" if report.by else "") + "</h2>")
        grows: list[tuple[str, Distribution]] = []
        for g in report.groups:
            grows += [(f"{g.group} · {w['old']}", g.old), (f"{g.group} · {w['new']}", g.new)]
        body.append(_bar_chart(grows, colours, w, label=w["per_group"]))
        for g in report.groups:
            body.append(f'<h3 data-group="{escape(g.group)}">{escape(w["group"])} '
                        f"{escape(g.group)} – {escape(w['changed'].lower())}: {g.changed}</h3>")
            body.append(_transition_table(report.old_outcomes, report.new_outcomes,
                                          g.transitions, w))
    if report.changed_records:
        body.append(f"<h2>{escape(w['changed_records'])}</h2>")
        body.append(f"<table><tr><th>{escape(w['record'])}</th><th>{escape(w['group'])}</th>"
                    f"<th>{escape(w['old'])}</th><th>{escape(w['new'])}</th>"
                    f"<th>{escape(w['criteria_changed'])}</th></tr>")
        for rec in report.changed_records[:limit]:
            changes = ", ".join(
                f"{escape(c.name)}: {_badge(c.old, w)} → {_badge(c.new, w)}"
                for c in rec.criteria) or escape(w["none"])
            body.append(f"<tr><td>{escape(rec.id or str(rec.record))}</td>"
                        f"<td>{escape(rec.group or '')}</td>"
                        f"<td>{escape(_outcome_label(rec.old, w))}</td>"
                        f"<td>{escape(_outcome_label(rec.new, w))}</td><td>{changes}</td></tr>")
        body.append("</table>")
        if len(report.changed_records) > limit:
            body.append(f'<p class="muted">… +{len(report.changed_records) - limit}</p>')
    body += [_indicator_table(ind, lang) for ind in report.indicators]
    if report.problems:
        items = "".join(f"<li>{escape(w['record'])} {escape(p.id or str(p.record))} "
                        f"({escape(p.side)}): <code>{escape(p.code)}</code> "
                        f"{escape(p.message)}</li>" for p in report.problems)
        body.append(f"<h2>{escape(w['problems'])}</h2><ul>{items}</ul>")
    return _page(title, body, lang)


_INDICATOR_HEAD = {"nb": ("pasienter", "ja", "nei", "ukjent", "andel"),
                   "en": ("records", "yes", "no", "unknown", "share")}


def _indicator_table(ind: IndicatorReport, lang: str) -> str:
    """An indicator per unit (``eval --summary``'s table): records, yes, no, unknown, share."""
    head = _INDICATOR_HEAD.get(lang, _INDICATOR_HEAD["en"])
    rows = "".join(
        f'<tr data-unit="{escape(f.unit)}"><td>{escape(f.unit)}</td>'
        + "".join(f'<td class="n">{n}</td>' for n in (f.records, f.yes, f.no, f.unknown))
        + f'<td class="n">{100 * f.share:.1f}%</td></tr>' for f in (*ind.units, ind.total))
    return (f"<h2>{escape(ind.title.get(lang))}</h2>"
            f'<p class="muted">{escape(ind.defined_in)}: {escape(", ".join(ind.fields))}</p>'
            f"<table><tr><th>{escape(ind.unit_field)}</th>"
            + "".join(f"<th>{escape(h)}</th>" for h in head) + f"</tr>{rows}</table>")
