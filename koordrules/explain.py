"""Plain-text rendering of a result and its trace, in Norwegian bokmål, nynorsk or English.

A view of the structured :class:`~koordrules.trace.Trace`: nothing here decides anything.
Reading only this text, a clinician should see which criteria held and why the outcome followed.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from koordrules import ast
from koordrules.ast import CriteriaSet
from koordrules.errors import KoordError
from koordrules.result import Result
from koordrules.span import Span
from koordrules.textguard import lines_text
from koordrules.trace import Trace, TraceNode

_WORDS = {
    "nb": {True: "JA", False: "NEI", None: "UKJENT", "set": "Kriteriesett",
           "criteria": "Kriterier", "rules": "Regler, prøvd i rekkefølge",
           "chosen": "valgt", "missing": "Opplysninger som mangler og kan avgjøre utfallet",
           "undecided": "Utfall: ikke avgjort", "otherwise": "ellers",
           "warnings": "Advarsler", "redacted": "(inndata er skjult)", "from": "fra",
           "parameters": "Parametere", "mapping": "FHIR-mapping",
           "unreviewed": "IKKE GJENNOMGÅTT: denne versjonen står ikke i låsefila",
           "version": "versjon", "outcome": "Utfall", "held": "Oppfylt",
           "not_held": "Ikke oppfylt", "unknown": "Ukjent (mangler opplysninger)",
           "may_be": "det kan bli", "ask": "Dette kan avgjøre utfallet – spør om det",
           "judgement": "Spørsmål til klinikeren eller pasienten",
           "technical": "Teknisk (for den som vedlikeholder kriteriene)",
           "fallback": ""},
    "nn": {True: "JA", False: "NEI", None: "UKJEND", "set": "Kriteriesett",
           "criteria": "Kriterium", "rules": "Reglar, prøvde i rekkjefølgje",
           "chosen": "valt", "missing": "Opplysningar som manglar og kan avgjere utfallet",
           "undecided": "Utfall: ikkje avgjort", "otherwise": "elles",
           "warnings": "Åtvaringar", "redacted": "(inndata er skjulte)", "from": "frå",
           "parameters": "Parametrar", "mapping": "FHIR-mapping",
           "unreviewed": "IKKJE GJENNOMGÅTT: denne versjonen står ikkje i låsefila",
           "version": "versjon", "outcome": "Utfall", "held": "Oppfylt",
           "not_held": "Ikkje oppfylt", "unknown": "Ukjend (manglar opplysningar)",
           "may_be": "det kan bli", "ask": "Dette kan avgjere utfallet – spør om det",
           "judgement": "Spørsmål til klinikaren eller pasienten",
           "technical": "Teknisk (for den som held ved like kriteria)",
           "fallback": "Nokre tekstar finst ikkje på nynorsk i kriteriefila og står her på "
                       "bokmål."},
    "en": {True: "YES", False: "NO", None: "UNKNOWN", "set": "Criteria set",
           "criteria": "Criteria", "rules": "Rules, tried in order",
           "chosen": "chosen", "missing": "Missing information that could decide the outcome",
           "undecided": "Outcome: undecided", "otherwise": "otherwise",
           "warnings": "Warnings", "redacted": "(input values hidden)", "from": "from",
           "parameters": "Parameters", "mapping": "FHIR mapping",
           "unreviewed": "NOT REVIEWED: this version is not in the lock file",
           "version": "version", "outcome": "Outcome", "held": "Met",
           "not_held": "Not met", "unknown": "Unknown (information missing)",
           "may_be": "it may be", "ask": "This could decide the outcome – ask about it",
           "judgement": "A question for the clinician or the patient",
           "technical": "Technical (for those who maintain the criteria)",
           "fallback": "Some texts are not in English in the criteria file and are shown in "
                       "Norwegian bokmål."},
}

#: The languages explanations are written in.
LANGUAGES = tuple(_WORDS)

_SKIP = {"boolean", "number", "string", "date", "duration"}


def show_value(value: Any, lang: str) -> str:
    """A trace value as shown to a reader: JA/NEI/UKJENT (YES/NO/UNKNOWN) for truth values."""
    if value is None or isinstance(value, bool):
        return str(_WORDS[lang][value])
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        # a number input is a binary64 (docs/language.md): the 6 a record gave reads as 6
        return str(int(value))
    return str(value)


def node_lines(node: TraceNode, lang: str, depth: int, *, top: bool = False) -> list[str]:
    """An expression's trace as indented lines: text → value, then its sub-expressions
    (literals left out). ``top`` adds the file position and shows a bare name as a condition."""
    pad = "  " * depth
    where = f"   ({short_span(node.span)})" if node.span and top else ""
    if node.kind == "name" and not top:
        return [f"{pad}{node.text} = {show_value(node.value, lang)}"]
    lines = [f"{pad}{' '.join(node.text.split())} → {show_value(node.value, lang)}{where}"]
    for child in node.children:
        if child.kind not in _SKIP:
            lines += node_lines(child, lang, depth + 1)
    return lines


def short_span(span: Span) -> str:
    """A position as a KE reads it: the file relative to its catalogue (the nearest folder
    with a ``criteria.lock``), e.g. ``helse-vest/anbefaling-3.yaml:121:11``."""
    return f"{_catalogue_relative(span.file)}:{span.line}:{span.column}"


@functools.lru_cache(maxsize=256)
def _catalogue_relative(file: str | None) -> str:
    if not file:
        return "<expr>"
    path = Path(file)
    try:
        absolute = path.resolve()
    except OSError:
        return file
    for folder in absolute.parents:
        if (folder / "criteria.lock").is_file():
            return absolute.relative_to(folder).as_posix()
    return file


@functools.lru_cache(maxsize=64)
def _shipped(set_id: str, version: str, sha256: str) -> CriteriaSet | None:
    """The shipped catalogue's set with exactly this id, version and content, if any."""
    from koordrules.catalog import Catalog

    try:
        cs = Catalog.builtin().get(f"{set_id}@{version}")
    except KoordError:
        return None
    return cs if cs.sha256 == sha256 else None


def render_text(result: Result, *, lang: str = "nb", criteria_set: CriteriaSet | None = None,
                verbose: bool = False) -> str:
    """The result as plain text for people: the outcome and the criteria that held and did
    not, in the file's titles, then what to ask next (the inputs' descriptions; judgement
    inputs marked as questions for the clinician or the patient). ``criteria_set`` (the set
    that made the result) gives the titles and descriptions; when it is not given, the
    shipped catalogue's set with the same id, version and sha256 is used if there is one.
    With ``verbose``, a technical section follows: code names, expressions, rules tried and
    positions in the files."""
    if lang not in _WORDS:
        raise ValueError(f"unsupported language {lang!r}; use 'nb', 'nn' or 'en'")
    w = _WORDS[lang]
    ref = result.criteria_set
    if criteria_set is None:
        criteria_set = _shipped(ref.id, ref.version, ref.sha256)
    texts: list[ast.LocalText] = []
    if criteria_set is not None and criteria_set.id == ref.id:
        texts.append(criteria_set.title)
        head = (f"{w['set']}: {criteria_set.title.get(lang)} ({ref.id}, {w['version']} "
                f"{ref.version}, sha256 {ref.sha256[:12]}…)")
    else:
        head = f"{w['set']}: {ref.id} {ref.version} (sha256 {ref.sha256[:12]}…)"
    out = [head]
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
    out += _people(result, trace, lang, criteria_set, texts)
    if result.warnings:
        out += ["", f"{w['warnings']}:"] + [f"  - {m}" for m in result.warnings]
    if w["fallback"] and any(getattr(t, lang) is None for t in texts):
        out += ["", f"({w['fallback']})"]
    if verbose:
        out += ["", w["technical"], "", *_technical(result, trace, lang)]
    return lines_text(out)


def _people(result: Result, trace: Trace, lang: str, cs: CriteriaSet | None,
            texts: list[ast.LocalText]) -> list[str]:
    """The outcome and the criteria in the file's words, then what to ask."""
    w = _WORDS[lang]
    titles = {r.outcome: r.title for r in trace.rules}
    rules = {o.id: o for o in cs.outcomes} if cs is not None else {}
    titles.update({k: o.title for k, o in rules.items()})
    if result.outcome is None:
        options = " / ".join(f"«{titles[o].get(lang) if o in titles else o}»"
                             for o in result.possible_outcomes)
        texts += [titles[o] for o in result.possible_outcomes if o in titles]
        out = [f"{w['undecided']} – {w['may_be']} {options}."]
    else:
        title = titles.get(result.outcome)
        texts += [title] if title is not None else []
        out = [f"{w['outcome']}: {title.get(lang) if title else result.outcome}."]
        rule = rules.get(result.outcome)
        if rule is not None and rule.explanation is not None:
            texts.append(rule.explanation)
            out.append(" ".join(rule.explanation.get(lang).split()))
    for value, label in ((True, "held"), (False, "not_held"), (None, "unknown")):
        named = [c for c in trace.criteria if c.value is value]
        if named:
            texts += [c.title for c in named]
            out.append(f"{w[label]}: " + "; ".join(
                f"{c.name} – {c.title.get(lang)}" for c in named) + ".")
    out += local_choices(trace, lang)
    out += local_readings(trace, lang)
    texts += [r.text for r in trace.local_readings]
    asks = _asks(result, lang, cs, texts)
    if asks:
        out += ["", f"{w['ask']}:", *(f"  - {a}" for a in asks)]
    return out


def _asks(result: Result, lang: str, cs: CriteriaSet | None,
          texts: list[ast.LocalText]) -> list[str]:
    """What to ask next: each missing input's description; a judgement input as a
    question for the clinician or the patient."""
    w = _WORDS[lang]
    out = []
    for name in result.missing:
        decl = cs.input(name) if cs is not None else None
        text = " ".join(decl.description.split()) if decl and decl.description else name
        if decl is not None and decl.description:
            texts.append(ast.LocalText(nb=text))  # descriptions are written in bokmål only
        if decl is not None and decl.kind == "judgement":
            text = f"{w['judgement']}: {text}"
        out.append(text)
    return out


def for_people(result: Result, *, lang: str = "nb", criteria_set: CriteriaSet | None = None
               ) -> tuple[list[str], list[str]]:
    """The explanation's two parts for people, as the HTML report shows them: the outcome
    and the criteria that held, did not or are unknown (in the file's titles), and what to
    ask next. ``criteria_set`` as for :func:`render_text`."""
    if result.trace is None:
        return [], []
    cs = criteria_set or _shipped(result.criteria_set.id, result.criteria_set.version,
                                  result.criteria_set.sha256)
    texts: list[ast.LocalText] = []
    summary = _people(result.replace(missing=()), result.trace, lang, cs, texts)
    return summary, _asks(result, lang, cs, texts)


def _technical(result: Result, trace: Trace, lang: str) -> list[str]:
    """Code names, expressions with their values, the rules tried, positions in the files."""
    w = _WORDS[lang]
    ref = result.criteria_set
    out = [trace.sentence.get(lang), ""]
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
    if any((p.origin and p.origin != own) or p.from_source is False for p in trace.parameters):
        out += ["", w["parameters"]]
        for p in trace.parameters:
            unit = f" {p.unit}" if p.unit else ""
            out.append(f"  {p.name} = {show_value(p.value, lang)}{unit}{origin(p.origin)}"
                       f"{parameter_origin(p.from_source, lang)}")
    if result.missing:
        out += ["", f"{w['missing']}: {', '.join(result.missing)}"]
    return out



#: What a parameter's value rests on, as the explanation says it (``from_source``).
_FROM_SOURCE = {
    "nb": {True: "fra kilden", False: "lokalt valg"},
    "nn": {True: "frå kjelda", False: "lokalt val"},
    "en": {True: "from the source", False: "local choice"},
}


def parameter_origin(from_source: bool | None, lang: str) -> str:
    """`` (lokalt valg)`` for a value the unit chose itself, `` (fra kilden)`` for one the
    quoted source gives (nb; nynorsk and English likewise); nothing when not known (a result
    stored before traces recorded it)."""
    if from_source is None:
        return ""
    words = _FROM_SOURCE.get(lang, _FROM_SOURCE["nb"])
    return f" ({words[from_source]})"


_LOCAL_CHOICES = {"nb": ("Lokalt valg (ikke fastsatt i kilden)", "i"),
                  "nn": ("Lokalt val (ikkje fastsett i kjelda)", "i"),
                  "en": ("Local choice (not fixed by the source)", "in")}


#: A parameter's ``unit`` (an English word in the files) as the reader's language says it.
_UNIT_WORDS = {
    "nb": {"months": "måneder", "years": "år", "days": "dager", "weeks": "uker",
           "units": "enheter", "admissions": "innleggelser", "attendances": "oppmøter",
           "services": "tjenester", "factors": "faktorer"},
    "nn": {"months": "månader", "years": "år", "days": "dagar", "weeks": "veker",
           "units": "einingar", "admissions": "innleggingar", "attendances": "oppmøte",
           "services": "tenester", "factors": "faktorar"},
}


def unit_word(unit: str, lang: str) -> str:
    """``months`` → ``måneder`` (nb), ``månader`` (nn); English and unknown units as written."""
    return _UNIT_WORDS.get(lang, {}).get(unit, unit)


def local_choices(trace: Trace, lang: str) -> list[str]:
    """One line naming the figures the unit chose itself (``from_source: false``) and the
    criteria that use them, without code names (``6 måneder i A``); nothing when every figure
    is the source's."""
    local = [p for p in trace.parameters if p.from_source is False]
    if not local:
        return []
    label, where = _LOCAL_CHOICES.get(lang, _LOCAL_CHOICES["nb"])

    def reads(node: TraceNode, name: str) -> bool:
        if node.kind == "name" and node.ref == "parameter" and node.text == name:
            return True
        return any(reads(child, name) for child in node.children)

    parts = []
    for p in local:
        unit = f" {unit_word(p.unit, lang)}" if p.unit else ""
        value = f"{show_value(p.value, lang)}{unit}"
        used = [c.name for c in trace.criteria if reads(c.expression, p.name)]
        parts.append(f"{value} {where} {', '.join(used)}" if used else value)
    return [f"{label}: " + "; ".join(parts) + "."]


_LOCAL_READING = {"nb": "Lokalt valg i", "nn": "Lokalt val i", "en": "Local choice in"}


def local_readings(trace: Trace, lang: str) -> list[str]:
    """One line per criterion the set reads in its own way where the source leaves it open
    (``local_reading`` in the file): «Lokalt valg i D: …»."""
    label = _LOCAL_READING.get(lang, _LOCAL_READING["nb"])
    return [f"{label} {r.criterion}: {' '.join(r.text.get(lang).split())}"
            for r in trace.local_readings]
