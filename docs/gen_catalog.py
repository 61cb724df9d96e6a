"""Pages generated at build time from the shipped files (run by mkdocs-gen-files).

Nothing on these pages is copied by hand:

- ``catalog/``: one page per criteria set — source quote, parameters (from the source or a local
  choice), inputs, criteria, outcome rules, variants and what they override, test cases and
  version history — read from the shipped catalogue with koordrules' public API;
- ``cli.md`` gets the full option reference appended, read from the ``koordrules`` argparse
  parser;
- ``trace.md`` gets a real trace appended (text and JSON), produced by evaluating an example
  patient.

The functions return ``{path: markdown}`` so tests can run them without mkdocs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Document the checkout this script sits in, not whatever koordrules is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import koordrules
from koordrules import Catalog, CriteriaSet, LocalText
from koordrules.cli import build_parser
from koordrules.explain import render_text
from koordrules.resources import criteria_dir

CATALOG_DIR = "catalog"


# --- small Markdown helpers --------------------------------------------------------------


def cell(value: object) -> str:
    """A value for one Markdown table cell: one line, pipes escaped, ``—`` for nothing."""
    if value is None or value == "" or value == ():
        return "—"
    text = value.nb if isinstance(value, LocalText) else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def code(text: str | None) -> str:
    """An inline code span that survives backticks and pipes inside tables."""
    if not text:
        return "—"
    flat = " ".join(text.split()).replace("|", "\\|")
    return f"<code>{_html(flat)}</code>"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def quote(text: str) -> list[str]:
    """A block quote keeping the source's line breaks."""
    lines = text.strip("\n").splitlines()
    return [f"> {_html(line.rstrip())}  " if line.strip() else ">" for line in lines] + [""]


def slug(set_id: str) -> str:
    """Page path of a set inside ``catalog/``: ``helse-vest/anbefaling-3.md``."""
    return f"{set_id}.md"


def texts(value: LocalText | None) -> str:
    """A localised text, every language given, for a table cell."""
    if value is None:
        return "—"
    parts = [cell(value.nb)]
    parts += [f"*{lang}:* {cell(getattr(value, lang))}" for lang in ("nn", "en")
              if getattr(value, lang)]
    return "<br>".join(parts)


# --- one set -----------------------------------------------------------------------------


def _origin(item_origin: str | None, cs: CriteriaSet, base: CriteriaSet | None,
            name: str, kind: str) -> str:
    """Where an item of a resolved set comes from, as shown in the catalogue."""
    if base is None:
        return ""
    if item_origin is None or item_origin != cs.key:
        return f"from {item_origin or base.key}"
    exists = {
        "parameter": base.parameter(name),
        "input": base.input(name),
        "criterion": base.criterion(name),
        "outcome": next((o for o in base.outcomes if o.id == name), None),
    }[kind]
    return "**overrides** the base" if exists is not None else "**added** by this variant"


def _base_of(cs: CriteriaSet, catalog: Catalog) -> CriteriaSet | None:
    """The base a variant was resolved against (read from its items' ``origin``)."""
    if cs.extends is None:
        return None
    base_id, _, wanted = cs.extends.partition("@")
    if wanted and all(part.isdigit() for part in wanted.split(".")):
        try:
            return catalog.get(cs.extends)  # an exact id@version
        except koordrules.KoordError:
            pass
    origins = {i.origin for i in (*cs.parameters, *cs.inputs, *cs.criteria, *cs.outcomes)}
    candidates = []
    for origin in origins:
        if not origin or origin == cs.key or origin.split("@")[0] != base_id:
            continue
        try:
            candidates.append(catalog.get(origin))
        except koordrules.KoordError:
            continue
    # In a chain (a variant of a variant of the same id), the newest is the direct base.
    return max(candidates, key=lambda b: _semver_key(b.version), default=None)


def _range(decl: koordrules.InputDecl) -> str:
    def num(x: float | None) -> str:
        return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))

    if decl.min is None and decl.max is None:
        return "—"
    return f"{num(decl.min)} … {num(decl.max)}"


def _type(decl: koordrules.InputDecl) -> str:
    if decl.type == "enum" and decl.values:
        return "enum: " + ", ".join(code(v) for v in decl.values)
    if decl.type == "list" and decl.items:
        return f"list of {decl.items}"
    return decl.type


def set_section(cs: CriteriaSet, catalog: Catalog, cases: list[dict[str, Any]],
                *, level: int = 2) -> list[str]:
    """Everything about one version of a set, as Markdown."""
    h = "#" * level
    base = _base_of(cs, catalog)
    variant = base is not None or cs.extends is not None
    out: list[str] = []
    facts = [
        ("Id", code(cs.id)),
        ("Version", cs.version),
        ("Status", cs.status),
        ("Effective from", cs.effective_from.isoformat()),
        ("Title", texts(cs.title)),
        ("Content hash (sha256)", code(cs.sha256)),
    ]
    if cs.extends:
        resolved = base is not None and base.key != cs.extends
        facts.append(("Extends", code(cs.extends)
                      + (f" → resolved against {code(base.key)}" if resolved and base else "")))
    if cs.file:
        facts.append(("File", code(_relative_file(cs.file))))
    out += table(["", ""], facts)

    src = cs.source
    out += [f"{h} Source", "", f"**{cell(src.document)}**"
            + (f", {cell(src.chapter)}" if src.chapter else "")
            + (f" — <{src.url}>" if src.url else ""), ""]
    if src.quote:
        out += quote(src.quote)
    if cs.notes:
        out += ["**Notes:**", "", *quote(cs.notes)]

    if cs.parameters:
        header = ["Parameter", "Value", "Unit", "Where the value comes from", "Description"]
        if variant:
            header.append("Origin")
        rows = []
        for p in cs.parameters:
            value = p.value.isoformat() if hasattr(p.value, "isoformat") else p.value
            row = [code(p.name), code(json.dumps(value, ensure_ascii=False)), cell(p.unit),
                   "the source document" if p.from_source else "**local choice**",
                   cell(p.description)]
            if variant:
                row.append(_origin(p.origin, cs, base, p.name, "parameter"))
            rows.append(row)
        out += [f"{h} Parameters", ""]
        out += table(header, rows)
        local = [p.name for p in cs.parameters if not p.from_source]
        if local:
            out += ["Local choices (not stated in the source): "
                    + ", ".join(code(n) for n in local) + ".", ""]
        out += _fixed_and_local(cs)

    if cs.inputs:
        header = ["Input", "Type", "Kind", "Unit", "Range", "Description"]
        if variant:
            header.append("Origin")
        rows = []
        for i in cs.inputs:
            row = [code(i.name), _type(i), i.kind, cell(i.unit), _range(i),
                   cell(i.description)]
            if variant:
                row.append(_origin(i.origin, cs, base, i.name, "input"))
            rows.append(row)
        out += [f"{h} Inputs", "", "*data*: from the record; *judgement*: a clinician's "
                "assessment or the conversation with the patient.", ""]
        out += table(header, rows)

    if cs.criteria:
        header = ["Criterion", "Title", "Rule (when)"]
        if variant:
            header.append("Origin")
        rows = []
        for c in cs.criteria:
            row = [f"**{cell(c.name)}**", texts(c.title), code(c.source)]
            if variant:
                row.append(_origin(c.origin, cs, base, c.name, "criterion"))
            rows.append(row)
        out += [f"{h} Criteria", ""]
        out += table(header, rows)

    header = ["#", "Outcome", "Title", "Condition"]
    if variant:
        header.append("Origin")
    rows = []
    for n, o in enumerate(cs.outcomes, start=1):
        condition = code(o.source) if o.when is not None else "*otherwise*"
        row = [str(n), code(o.id), texts(o.title), condition]
        if variant:
            row.append(_origin(o.origin, cs, base, o.id, "outcome"))
        rows.append(row)
    out += [f"{h} Outcomes", "", "Tried from the top; the first rule that holds decides. "
            "*otherwise* applies when none holds.", ""]
    out += table(header, rows)
    explained = [o for o in cs.outcomes if o.explanation]
    for o in explained:
        assert o.explanation is not None
        out += [f"- {code(o.id)}: {cell(o.explanation.nb)}"]
    if explained:
        out.append("")

    if cs.monotone:
        out += [f"{h} Declared properties", ""]
        for m in cs.monotone:
            verb = "never leaves" if m.direction == "increasing" else "never enters"
            out.append(f"- Turning any of {', '.join(code(i) for i in m.inputs)} from false to "
                       f"true {verb} {code(m.outcome)}.")
        out.append("")

    out += [f"{h} Test cases", ""]
    if cases:
        rows = []
        for case in cases:
            inputs = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}"
                               for k, v in case["inputs"].items())
            expect = case["expect"]
            extra = []
            if expect.get("criteria"):
                extra.append(", ".join(f"{k}={_truth(v)}" for k, v in expect["criteria"].items()))
            if expect.get("missing") is not None:
                extra.append("missing: " + (", ".join(expect["missing"]) or "none"))
            rows.append([cell(case["name"]), code(inputs) if inputs else "*(none)*",
                         code(expect["outcome"]) if expect["outcome"] else "*undetermined*",
                         cell("; ".join(extra))])
        out += table(["Case", "Inputs", "Expected outcome", "Also expected"], rows)
    else:
        out += ["No test cases are shipped for this version.", ""]
    return out


def _truth(value: object) -> str:
    return {True: "true", False: "false", None: "unknown"}.get(value, str(value))  # type: ignore[call-overload]


def _relative_file(file: str) -> str:
    path = Path(file)
    parts = path.parts
    if "criteria" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("criteria") - 1:])
    return path.name


# --- test cases --------------------------------------------------------------------------


def shipped_cases(root: Path, catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
    """Case files under ``root``, by the ``id@version`` they test."""
    try:
        from koordrules import cases as cases_module
    except ImportError:  # pragma: no cover - older koordrules without case files
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for path in cases_module.case_files(root):
        spec, _doc = cases_module.read_case_file(path)
        key = catalog.get(spec.set).key
        found.setdefault(key, []).extend(c.model_dump(mode="json") for c in spec.cases)
    return found


KE_GUIDE_SECTION = "ke-guide.md#hva-rapporten-fastsetter-og-hva-hver-enhet-ma-avgjre-selv"


def _fixed_and_local(cs: CriteriaSet) -> list[str]:
    """In bokmål, for a KE: which figures the source fixes and which the unit chose itself,
    each with the file's own description (where the quotation is)."""
    up = "../" * (cs.id.count("/") + 1)
    out = [f"**Hva kilden fastsetter, og hva enheten må avgjøre selv** (se "
           f"[KE-veiledningen]({up}{KE_GUIDE_SECTION})):", ""]
    for p in sorted(cs.parameters, key=lambda p: not p.from_source):
        value = p.value.isoformat() if hasattr(p.value, "isoformat") else p.value
        unit = f" {cell(p.unit)}" if p.unit else ""
        where = "Fastsatt i kilden" if p.from_source else "Lokalt valg"
        out.append(f"- {where}: {code(p.name)} = {code(json.dumps(value, ensure_ascii=False))}"
                   f"{unit} — {cell(p.description)}")
    for c in cs.criteria:
        if c.local_reading is not None:
            out.append(f"- Lokalt valg i kriterium {c.name}: "
                       f"{cell(' '.join(c.local_reading.nb.split()))}")
    return [*out, ""]


# --- the whole catalogue -----------------------------------------------------------------


def catalog_pages(root: Path | None = None) -> dict[str, str]:
    """``{path under docs/: markdown}`` for the catalogue section."""
    root = root or criteria_dir()
    catalog = Catalog.load(root)
    cases = shipped_cases(root, catalog)
    pages: dict[str, str] = {}
    index = ["# Criteria catalogue", "",
             "Generated from the criteria files shipped with koordrules "
             f"{koordrules.__version__} when this site was built. Every page lists the set's "
             "source, parameters, inputs, criteria, outcomes, variants, test cases and "
             "version history.", ""]
    rows = []
    variants: dict[str, list[CriteriaSet]] = {}
    for cs in catalog:
        if cs.extends:
            base = _base_of(cs, catalog)
            variants.setdefault(base.id if base else cs.extends.split("@")[0], []).append(cs)
    for set_id in catalog.ids():
        versions = catalog.versions(set_id)
        latest = versions[-1]
        kind = f"variant of {code(latest.extends)}" if latest.extends else "base set"
        rows.append([f"[{code(set_id)}]({slug(set_id)})", texts(latest.title),
                     ", ".join(f"{v.version} ({v.status})" for v in versions), kind])
        pages[f"{CATALOG_DIR}/{slug(set_id)}"] = "\n".join(
            set_page(set_id, catalog, cases, variants.get(set_id, []))) + "\n"
    index += table(["Set", "Title", "Versions", "Kind"], rows)
    index += ["", "The indicators the cohort reports show per unit, and the journal-note "
              "templates (with when the need is assessed), are on "
              "[Indicators and journal note](reporting.md).", ""]
    pages[f"{CATALOG_DIR}/index.md"] = "\n".join(index) + "\n"
    pages[f"{CATALOG_DIR}/reporting.md"] = "\n".join(reporting_page(root)) + "\n"
    summary = ["* [Overview](index.md)"]
    summary += [f"* [{set_id}]({slug(set_id)})" for set_id in catalog.ids()]
    summary.append("* [Indicators and journal note](reporting.md)")
    pages[f"{CATALOG_DIR}/SUMMARY.md"] = "\n".join(summary) + "\n"
    return pages


def reporting_page(root: Path) -> list[str]:
    """The indicator files and journal templates of the catalogue at ``root``."""
    from koordrules.indicators import indicator_files, load_indicators
    from koordrules.journal import journal_files, load_journal_template

    out = ["# Indicators and journal note", "",
           "Generated from the `*.indicators.yaml` and `*.journal.yaml` files shipped with "
           "koordrules. `koordrules eval --summary` and `koordrules diff` show the indicators "
           "per unit; `koordrules explain --journal` fills the journal note from a decided "
           "result.", ""]
    for spec in map(load_indicators, indicator_files(root)):
        out += [f"## {cell(spec.title.nb)}", "",
                f"{code(spec.key)} ({spec.status}"
                + (", local choices" if spec.local_choice else "") + f"). Unit field: "
                f"{code(spec.unit_field)}.", ""]
        if spec.source.quote:
            out += [f"Source: {cell(spec.source.document)}", "", *quote(spec.source.quote)]
        if spec.description:
            out += [cell(spec.description), ""]
        out += table(["Indicator", "Title", "Counts a record when one of these is true"],
                     [[code(i.id), texts(i.title), ", ".join(code(f) for f in i.any_true)]
                      for i in spec.indicators])
        out.append("")
    for tpl in map(load_journal_template, journal_files(root)):
        out += [f"## {cell(tpl.title.nb)}", "", f"{code(tpl.key)} ({tpl.status}). "
                f"Journal document: {cell(tpl.document_title)}.", ""]
        if tpl.source.quote:
            out += [f"Source: {cell(tpl.source.document)}", "", *quote(tpl.source.quote)]
        if tpl.description:
            out += [cell(tpl.description), ""]
        if tpl.when_to_assess:
            out += ["**When the need is assessed:**", ""]
            out += [f"- {cell(t.nb)}" for t in tpl.when_to_assess]
            out.append("")
        for section in (tpl.note, tpl.discharge_summary):
            out += [f"**{cell(section.title.nb)}:**", ""]
            out += table(["Field", "Filled by", "Texts for outcomes"],
                         [[cell(f.label.nb), f.fill,
                           ", ".join(code(o) for o in f.texts) or "–"]
                          for f in section.fields])
            out.append("")
    return out


def set_page(set_id: str, catalog: Catalog, cases: dict[str, list[dict[str, Any]]],
             variants: list[CriteriaSet]) -> list[str]:
    versions = catalog.versions(set_id)
    latest = versions[-1]
    out = [f"# {cell(latest.title.nb)}", "", f"{code(set_id)} — {len(versions)} version(s) "
           "in the catalogue; newest first below.", ""]
    out += ["## Version history", ""]
    out += table(["Version", "Status", "Effective from", "sha256"],
                 [[v.version, v.status, v.effective_from.isoformat(), code(v.sha256[:12])]
                  for v in reversed(versions)])
    log = {(e.version, e.date, e.changes) for v in versions for e in v.changelog}
    if log:
        out += ["**Changelog** (from the files):", ""]
        for version, date, changes in sorted(log, key=lambda e: _semver_key(e[0]),
                                             reverse=True):
            when = f" ({date.isoformat()})" if date else ""
            out.append(f"- **{cell(version)}**{when}: {cell(changes)}")
        out.append("")
    if variants:
        out += ["## Variants of this set", ""]
        up = "../" * set_id.count("/")
        out += [f"- [{code(v.key)}]({up}{slug(v.id)}) — {cell(v.title.nb)}" for v in variants]
        out.append("")
    for cs in reversed(versions):
        out += [f"## Version {cs.version}", ""]
        out += set_section(cs, catalog, cases.get(cs.key, []), level=3)
    return out


def _semver_key(version: str) -> tuple[int, ...]:
    core = version.split("-")[0].split("+")[0]
    try:
        return tuple(int(p) for p in core.split("."))
    except ValueError:
        return (0,)


# --- CLI reference -----------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    if text == argparse.SUPPRESS:
        return ""
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        text += ("; " if text else "") + "one of " + ", ".join(
            f"`{c}`" for c in action.choices)
    default = action.default
    if default not in (None, False, argparse.SUPPRESS, []) and (
            action.option_strings or action.nargs == "?") and "default" not in text:
        text += f" (default: `{default}`)"
    return text.replace("|", "\\|")


def _option_name(action: argparse.Action) -> str:
    if not action.option_strings:
        name = action.metavar or action.dest
        return f"`{name}`" + (" …" if action.nargs in ("+", "*") else "")
    takes = action.nargs != 0
    metavar = action.metavar or action.dest.upper()
    return ", ".join(f"`{o} {metavar}`" if takes else f"`{o}`" for o in action.option_strings)


def cli_reference() -> str:
    """Every subcommand and option of ``koordrules``, read from its argparse parser."""
    parser = build_parser()
    out = ["## Reference (generated)", "",
           "Generated from the `koordrules` argument parser when the site was built, so it "
           "lists every subcommand and option of this version.", ""]
    for name, sub in sorted(_subparsers(parser).items()):
        sub.prog = f"koordrules {name}"
        out += [f"### `koordrules {name}`", ""]
        description = sub.description or _subcommand_help(parser, name)
        if description:
            out += [description, ""]
        out += ["```text", sub.format_usage().strip(), "```", ""]
        rows = [[_option_name(a), _help(a)] for a in sub._actions
                if not isinstance(a, argparse._HelpAction)]
        if rows:
            out += table(["Argument", "Meaning"], rows)
    return "\n".join(out) + "\n"


def _subcommand_help(parser: argparse.ArgumentParser, name: str) -> str:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == name:
                    return choice.help or ""
    return ""


# --- trace example -----------------------------------------------------------------------

EXAMPLE_PATIENT: dict[str, Any] = {
    "expected_followup_months": 9,
    "lifelong_course": True,
    "involved_units": 1,
    "has_coordinator": False,
}
EXAMPLE_SET = "helse-vest/anbefaling-3@1.0.0"


def example_result() -> koordrules.Result:
    """The example patient evaluated under :data:`EXAMPLE_SET`, with file paths relative to
    the current directory (the repository root when mkdocs runs)."""
    catalog = Catalog.load(os.path.relpath(criteria_dir()))
    return koordrules.evaluate(catalog.get(EXAMPLE_SET), EXAMPLE_PATIENT)


def trace_example() -> str:
    """A real result for an example patient: the text explanation and the JSON, generated."""
    result = example_result()
    record = json.dumps(EXAMPLE_PATIENT, ensure_ascii=False)
    cs = Catalog.load(os.path.relpath(criteria_dir())).get(EXAMPLE_SET)
    text = render_text(result, lang="nb", criteria_set=cs, verbose=True)
    data = result.to_json(indent=2)
    out = ["## A real example (generated)", "",
           f"Generated when the site was built: {code(EXAMPLE_SET)} evaluated for this "
           "record, in which criterion C and several of B's factors are unknown:", "",
           "```json", record, "```", "",
           "### Text (`koordrules explain --verbose`, `--lang nb`)", "",
           "```text", text.rstrip(), "```",
           "", "### JSON (`koordrules eval --trace`; here indented)", "",
           "```json", data, "```", ""]
    return "\n".join(out)


# --- entry point -------------------------------------------------------------------------


def pages() -> dict[str, str]:
    """New pages to create."""
    return catalog_pages()


def appendices() -> dict[str, str]:
    """Text to append to hand-written pages."""
    return {"cli.md": "\n" + cli_reference(), "trace.md": "\n" + trace_example()}


def main() -> None:
    import mkdocs_gen_files

    for path, text in pages().items():
        with mkdocs_gen_files.open(path, "w") as f:
            f.write(text)
    for path, text in appendices().items():
        with mkdocs_gen_files.open(path, "a") as f:
            f.write(text)


if __name__ in ("__main__", "<run_path>"):
    main()
