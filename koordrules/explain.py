"""Plain-text rendering of a result and its trace, in Norwegian bokmål or English.

A view of the structured :class:`~koordrules.trace.Trace`: nothing here decides anything.
Reading only this text, a clinician should see which criteria held and why the outcome followed.
"""

from __future__ import annotations

from typing import Any

from koordrules.result import Result
from koordrules.textguard import lines_text
from koordrules.trace import TraceNode

_WORDS = {
    "nb": {True: "JA", False: "NEI", None: "UKJENT", "set": "Kriteriesett",
           "criteria": "Kriterier", "rules": "Regler, prøvd i rekkefølge",
           "chosen": "valgt", "missing": "Opplysninger som mangler og kan avgjøre utfallet",
           "undecided": "Utfall: ikke avgjort", "otherwise": "ellers",
           "warnings": "Advarsler", "redacted": "(inndata er skjult)", "from": "fra",
           "parameters": "Parametere", "mapping": "FHIR-mapping",
           "unreviewed": "IKKE GJENNOMGÅTT: denne versjonen står ikke i låsefila"},
    "en": {True: "YES", False: "NO", None: "UNKNOWN", "set": "Criteria set",
           "criteria": "Criteria", "rules": "Rules, tried in order",
           "chosen": "chosen", "missing": "Missing information that could decide the outcome",
           "undecided": "Outcome: undecided", "otherwise": "otherwise",
           "warnings": "Warnings", "redacted": "(input values hidden)", "from": "from",
           "parameters": "Parameters", "mapping": "FHIR mapping",
           "unreviewed": "NOT REVIEWED: this version is not in the lock file"},
}

_SKIP = {"boolean", "number", "string", "date", "duration"}


def show_value(value: Any, lang: str) -> str:
    """A trace value as shown to a reader: JA/NEI/UKJENT (YES/NO/UNKNOWN) for truth values."""
    if value is None or isinstance(value, bool):
        return str(_WORDS[lang][value])
    return str(value)


def node_lines(node: TraceNode, lang: str, depth: int, *, top: bool = False) -> list[str]:
    """An expression's trace as indented lines: text → value, then its sub-expressions
    (literals left out). ``top`` adds the file position and shows a bare name as a condition."""
    pad = "  " * depth
    where = f"   ({node.span})" if node.span and top else ""
    if node.kind == "name" and not top:
        return [f"{pad}{node.text} = {show_value(node.value, lang)}"]
    lines = [f"{pad}{' '.join(node.text.split())} → {show_value(node.value, lang)}{where}"]
    for child in node.children:
        if child.kind not in _SKIP:
            lines += node_lines(child, lang, depth + 1)
    return lines


def render_text(result: Result, *, lang: str = "nb") -> str:
    """The result as plain text: outcome sentence, criteria with sub-expressions, rules tried."""
    if lang not in _WORDS:
        raise ValueError(f"unsupported language {lang!r}; use 'nb' or 'en'")
    w = _WORDS[lang]
    ref = result.criteria_set
    out = [f"{w['set']}: {ref.id} {ref.version} (sha256 {ref.sha256[:12]}…)"]
    if ref.unreviewed:
        out.append(f"{w['unreviewed']}")
    if result.mapping is not None:
        m = result.mapping
        out.append(f"{w['mapping']}: {m.id} {m.version} (sha256 {m.sha256[:12]}…)")
    out.append("")
    trace = result.trace
    if trace is None:
        out.append(f"outcome: {result.outcome}")
        return lines_text(out)
    out += [trace.sentence.get(lang), ""]
    out.append(w["criteria"] + (f" {w['redacted']}" if trace.redacted else ""))
    own = f"{ref.id}@{ref.version}"

    def origin(item_origin: str | None) -> str:
        """Where an item of a variant came from, when that is not the variant itself."""
        return f" ({w['from']} {item_origin})" if item_origin and item_origin != own else ""

    for c in trace.criteria:
        out.append(f"  [{show_value(c.value, lang)}] {c.sentence.get(lang)}{origin(c.origin)}")
        out += node_lines(c.expression, lang, 3, top=True)
    out += ["", w["rules"]]
    for i, r in enumerate(trace.rules, start=1):
        condition = " ".join(r.expression.text.split()) if r.expression else w["otherwise"]
        mark = f"  ← {w['chosen']}" if r.chosen else ""
        out.append(f"  {i}. {r.outcome} ({r.title.get(lang)}): {condition} → "
                   f"{show_value(r.value, lang)}{mark}{origin(r.origin)}")
    if any(p.origin and p.origin != own for p in trace.parameters):
        out += ["", w["parameters"]]
        for p in trace.parameters:
            unit = f" {p.unit}" if p.unit else ""
            out.append(f"  {p.name} = {show_value(p.value, lang)}{unit}{origin(p.origin)}")
    if result.missing:
        out += ["", f"{w['missing']}: {', '.join(result.missing)}"]
    if result.warnings:
        out += ["", f"{w['warnings']}:"] + [f"  - {m}" for m in result.warnings]
    return lines_text(out)

