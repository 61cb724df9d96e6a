"""The documentation says what the code does.

- every table marked ``<!-- evaluated -->`` in ``docs/language.md`` is evaluated row by row;
- every function, operator and keyword of the language is documented;
- every ``koordrules …`` command line shown in the docs parses, and every output block marked
  ``<!-- output-of: {...} -->`` is what the command prints today (refresh them with
  ``KOORDRULES_UPDATE_DOCS=1 pytest tests/test_docs.py``);
- the generated pages (catalogue, CLI reference, trace example) cover everything shipped.
"""

from __future__ import annotations

import io
import json
import os
import re
import runpy
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

import koordrules
from koordrules import Catalog
from koordrules.cli import build_parser, main
from koordrules.evaluator import Interpreter
from koordrules.operators import FUNCTIONS
from koordrules.resources import criteria_dir
from koordrules.values import Value, show

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LANGUAGE = DOCS / "language.md"
UPDATE = os.environ.get("KOORDRULES_UPDATE_DOCS") == "1"

# --- the language page: evaluated tables ----------------------------------------------------

TABLE_SET = """
id: docs/truth-tables
version: 1.0.0
title: Truth tables
status: draft
effective_from: 2024-01-01
source: {document: docs/language.md}
inputs:
  a: {type: boolean, kind: data}
  b: {type: boolean, kind: data}
  c: {type: boolean, kind: data}
  x: {type: number, kind: data}
  y: {type: number, kind: data}
criteria:
  T:
    title: uses every input
    when: all(a, b, c) or x < y
outcomes:
  - {id: t, title: T holds, when: T}
  - {id: f, title: otherwise, otherwise: true}
"""

MARKER = "<!-- evaluated -->"


def _tables(text: str) -> list[tuple[int, list[list[str]]]]:
    """Every table right after the marker: (line number, rows of cells incl. header)."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        rows = []
        for row in lines[i + 1:]:
            if not row.startswith("|"):
                break
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            if all(set(c) <= {"-", " ", ":"} for c in cells):
                continue
            rows.append(cells)
        found.append((i + 2, rows))
    return found


def _unquote(cell: str) -> str:
    return cell[1:-1] if cell.startswith("`") and cell.endswith("`") else cell


def _value(cell: str) -> Any:
    """A table cell as a record value (``unknown`` → absent)."""
    text = _unquote(cell)
    if text == "unknown":
        return None
    return json.loads(text)


def _rows() -> list[tuple[str, str, dict[str, Any], str]]:
    """(id, expression, inputs, expected shown value) for every evaluated cell."""
    out = []
    cs = koordrules.load_text(TABLE_SET)
    inputs = {i.name for i in cs.inputs}
    for line, rows in _tables(LANGUAGE.read_text(encoding="utf-8")):
        header, body = [_unquote(h) for h in rows[0]], rows[1:]
        if header == ["Expression", "Value"]:
            for k, (expr, value) in enumerate(body):
                out.append((f"L{line}.{k}", _unquote(expr), {}, _unquote(value)))
            continue
        given = [h for h in header if h in inputs]
        assert given == header[:len(given)], f"line {line}: input columns must come first"
        for k, row in enumerate(body):
            record = {h: _value(c) for h, c in zip(given, row, strict=False)}
            for h, c in zip(header[len(given):], row[len(given):], strict=True):
                out.append((f"L{line}.{k} {h}", h, record, _unquote(c)))
    return out


ROWS = _rows()


def test_the_language_page_has_evaluated_tables() -> None:
    assert len(ROWS) > 100


@pytest.fixture(scope="module")
def table_set() -> koordrules.CriteriaSet:
    return koordrules.load_text(TABLE_SET)


@pytest.mark.parametrize(("expr", "record", "expected"),
                         [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_language_table_row_is_what_the_engine_computes(
        expr: str, record: dict[str, Any], expected: str,
        table_set: koordrules.CriteriaSet) -> None:
    from koordrules.check import environment
    from koordrules.typecheck import infer

    node = koordrules.parse_expression(expr)
    _type, problems = infer(node, environment(table_set))
    assert problems == [], f"{expr} does not type-check: {problems}"
    inputs: dict[str, Value] = {k: v for k, v in record.items() if v is not None}
    assert show(Interpreter(table_set, inputs).evaluate(node)) == expected


def test_every_function_is_documented_with_its_signature() -> None:
    text = LANGUAGE.read_text(encoding="utf-8")
    for name, fn in FUNCTIONS.items():
        assert f"### `{name}`" in text, name
        assert f"`{fn.signature.split(' or ')[0]}`" in text, fn.signature


def _grammar_literals() -> set[str]:
    grammar = (ROOT / "grammars" / "criteria.lark").read_text(encoding="utf-8")
    return set(re.findall(r'"(\w+|[=!<>]=?|[-+*/(),\[\]])"', grammar))


def test_every_operator_and_keyword_of_the_grammar_is_documented() -> None:
    text = LANGUAGE.read_text(encoding="utf-8")
    spans = set(re.findall(r"`([^`]+)`", text))
    missing = sorted(lit for lit in _grammar_literals()
                     if lit not in spans and not any(lit in s.split() for s in spans))
    assert missing == []
    for word in ("not in", "days", "weeks", "months", "years", "#"):
        assert any(word in s for s in spans), word


def test_the_documented_precedence_is_the_grammars() -> None:
    text = LANGUAGE.read_text(encoding="utf-8")
    order = re.findall(r"^\| \d[^|]*\| (`[^|]*)\|", text, flags=re.M)
    grammar = (ROOT / "grammars" / "criteria.lark").read_text(encoding="utf-8")
    assert "if-then-else  <  implies  <  or  <  xor  <  and  <  not" in grammar
    assert [o.split("`")[1].split()[0] for o in order[:6]] == [
        "if", "implies", "or", "xor", "and", "not"]


# --- command lines and their output in the docs --------------------------------------------

PAGES = sorted(p for p in DOCS.glob("*.md"))
_COMMAND = re.compile(r"^\s*(?:\$ )?(koordrules(?: [^\n|>#]*)?)$", re.M)


def _fenced(text: str) -> list[str]:
    return re.findall(r"```(?:sh|bash|console|text)\n(.*?)```", text, flags=re.S)


def _commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in _fenced(page.read_text(encoding="utf-8")):
            for line in _COMMAND.findall(block):
                found.append((page.name, line.strip()))
    return found


COMMANDS = _commands()


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 10
    assert {p for p, _ in COMMANDS} >= {"ke-guide.md", "cli.md", "getting-started.md"}


def _subcommands() -> set[str]:
    parser = build_parser()
    return {name for action in parser._actions
            for name in getattr(action, "choices", None) or {}
            if action.dest == "command"}


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_every_command_shown_in_the_docs_parses(page: str, command: str) -> None:
    argv = shlex.split(command)[1:]
    if "…" in command or "..." in command:
        pytest.skip("an elided example")
    parser = build_parser()
    parser.exit_on_error = False
    for action in parser._actions:
        for sub in (getattr(action, "choices", None) or {}).values():
            if hasattr(sub, "exit_on_error"):
                sub.exit_on_error = False
    err = io.StringIO()
    import contextlib
    with contextlib.redirect_stderr(err):
        try:
            parser.parse_args(argv)
        except SystemExit as ex:
            assert ex.code == 0, f"{command!r} does not parse: {err.getvalue()}"


_OUTPUT = re.compile(r"<!-- output-of: (\{.*?\}) -->\n+```text\n(.*?)```", re.S)


_SCENARIO = re.compile(r"<!-- scenario (\S+): (\{.*?\}) -->", re.S)
_FILE = re.compile(r"<!-- scenario (\S+) writes (\S+) -->\n+```yaml\n(.*?)```", re.S)
"""A scenario step that writes the YAML block right after it to a file: the file the reader
is shown is the file the commands run on."""


def _outputs() -> list[tuple[str, dict[str, Any], str]]:
    """(page, spec, shown output); a spec naming a ``scenario`` gets that scenario's steps
    (``copy``, ``edit``, ``write``) first, then its own."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        scenarios = {name: json.loads(spec) for name, spec in _SCENARIO.findall(text)}
        scenarios.update({name: {"write": {path: block}}
                          for name, path, block in _FILE.findall(text)})
        for spec, block in _OUTPUT.findall(text):
            found.append((page.name, json.loads(spec), block))
            found[-1][1]["_setup"] = [scenarios[n] for n in found[-1][1].get("scenario", [])]
    return found


OUTPUTS = _outputs()


# The examples run in a catalogue holding only Anbefaling 3, so that their output does not
# change whenever another set is added to the shipped catalogue.
EXAMPLE_FILES = ("helse-vest/anbefaling-3.yaml", "helse-vest/anbefaling-3.cases.yaml",
                 # the published 1.0.0 and 1.0.1, kept as history (results stored under them)
                 "helse-vest/anbefaling-3-1.0.0.yaml", "helse-vest/anbefaling-3-1.0.0.cases.yaml",
                 "helse-vest/anbefaling-3-1.0.1.yaml", "helse-vest/anbefaling-3-1.0.1.cases.yaml")
EXAMPLE_LOCK_KEY = '  "helse-vest/anbefaling-3@'


def _example_catalog(tmp: Path) -> None:
    criteria = tmp / "criteria"
    for name in EXAMPLE_FILES:
        (criteria / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "criteria" / name, criteria / name)
    lock = ROOT / "criteria" / "criteria.lock"
    if lock.is_file():
        kept: list[str] = []
        keep = True
        for line in lock.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.startswith('  "'):
                keep = line.startswith(EXAMPLE_LOCK_KEY)
            elif not line.startswith("    "):
                keep = True
            if keep:
                kept.append(line)
        (criteria / "criteria.lock").write_text("".join(kept), encoding="utf-8")


def _run(spec: dict[str, Any], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    _example_catalog(tmp)
    shutil.copytree(ROOT / "examples", tmp / "examples")
    for step in [*spec["_setup"], spec]:
        for src, dst in step.get("copy", {}).items():
            (tmp / dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp / src, tmp / dst)
        for name, replacements in step.get("edit", {}).items():
            path = tmp / name
            text = path.read_text(encoding="utf-8")
            for old, new in replacements:
                assert old in text, f"{name}: {old!r} not found"
                text = text.replace(old, new, 1)
            path.write_text(text, encoding="utf-8")
        for name, content in step.get("write", {}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(content, encoding="utf-8")
        monkeypatch.chdir(tmp)
        for command in step.get("before", []):
            assert main(shlex.split(command)[1:], out=io.StringIO(), err=io.StringIO()) == 0
    monkeypatch.chdir(tmp / spec.get("cwd", "."))  # "cwd": run from a sub-folder
    for command in spec.get("run_first", []):  # from "cwd", before the command shown
        assert main(shlex.split(command)[1:], out=io.StringIO(), err=io.StringIO()) == 0
    out, err = io.StringIO(), io.StringIO()
    code = main(shlex.split(spec["cmd"])[1:], out=out, err=err)
    assert code == spec.get("exit", 0), f"{spec['cmd']} exited {code}: {err.getvalue()}"
    text = out.getvalue() + err.getvalue()
    # The shipped catalogue's files appear with their absolute path: show it from the checkout.
    text = text.replace(f"{criteria_dir()}{os.sep}", "criteria/")
    if "first" in spec:
        text = "".join(text.splitlines(keepends=True)[:spec["first"]])
    if "last" in spec:
        text = "".join(text.splitlines(keepends=True)[-spec["last"]:])
    return text if text.endswith("\n") else text + "\n"


def test_the_ke_guide_shows_real_output() -> None:
    assert sum(1 for p, _, _ in OUTPUTS if p == "ke-guide.md") >= 4


@pytest.mark.parametrize(("page", "spec", "shown"), OUTPUTS,
                         ids=[f"{p}: {s['cmd']}" for p, s, _ in OUTPUTS])
def test_output_shown_in_the_docs_is_what_the_command_prints(
        page: str, spec: dict[str, Any], shown: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    command = shlex.split(spec["cmd"])
    if len(command) > 1 and command[1] not in _subcommands():
        pytest.skip(f"koordrules {command[1]} is not implemented yet")
    actual = _run(spec, tmp_path, monkeypatch)
    if UPDATE and actual != shown:
        path = DOCS / page
        shown_spec = {k: v for k, v in spec.items() if k != "_setup"}
        marker = f"<!-- output-of: {json.dumps(shown_spec, ensure_ascii=False)} -->"
        text = path.read_text(encoding="utf-8")
        text = re.sub(
            re.escape(marker).replace("\\ ", " ") + r"\n+```text\n.*?```",
            lambda _m: f"{marker}\n\n```text\n{actual}```", text, count=1, flags=re.S)
        path.write_text(text, encoding="utf-8")
        return
    assert actual == shown, (
        f"{page} shows outdated output for {spec['cmd']!r}; refresh with "
        "KOORDRULES_UPDATE_DOCS=1 pytest tests/test_docs.py")


# --- generated pages -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gen() -> dict[str, Any]:
    return runpy.run_path(str(DOCS / "gen_catalog.py"), run_name="gen_catalog")


def test_the_catalogue_has_a_page_for_every_shipped_set(gen: dict[str, Any]) -> None:
    pages = gen["catalog_pages"]()
    catalog = Catalog.builtin()
    assert catalog.ids()
    for set_id in catalog.ids():
        page = pages[f"catalog/{set_id}.md"]
        for cs in catalog.versions(set_id):
            assert f"## Version {cs.version}" in page
            for c in cs.criteria:
                assert f"**{c.name}**" in page
            for o in cs.outcomes:
                assert f"<code>{o.id}</code>" in page
            for p in cs.parameters:
                assert f"<code>{p.name}</code>" in page
        assert f"({set_id}.md)" in pages["catalog/index.md"]
        assert f"[{set_id}]({set_id}.md)" in pages["catalog/SUMMARY.md"]


def test_the_catalogue_is_generated_from_the_files_not_copied(
        gen: dict[str, Any], tmp_path: Path) -> None:
    shutil.copytree(criteria_dir(), tmp_path / "criteria")
    src = tmp_path / "criteria" / "helse-vest" / "anbefaling-3.yaml"
    text = src.read_text(encoding="utf-8")
    text = text.replace("id: helse-vest/anbefaling-3", "id: test-hf/anbefaling-3", 1)
    (tmp_path / "criteria" / "test-hf").mkdir()
    (tmp_path / "criteria" / "test-hf" / "a3.yaml").write_text(
        text.replace("value: 6\n", "value: 7\n", 1).replace(
            "    from_source: true", "    from_source: false", 1), encoding="utf-8")
    pages = gen["catalog_pages"](tmp_path / "criteria")
    page = pages["catalog/test-hf/anbefaling-3.md"]
    assert "<code>7</code>" in page
    assert "**local choice**" in page
    assert ("Local choices (not stated in the source): <code>long_term_months</code>, "
            "<code>min_units_involved</code>, <code>min_of_b_to_d</code>.") in page
    assert "catalog/helse-vest/anbefaling-3.md" in pages


def test_each_catalogue_page_says_what_the_source_fixes_and_what_the_unit_chose(
        gen: dict[str, Any]) -> None:
    page = gen["catalog_pages"]()["catalog/helse-vest/anbefaling-3.md"]
    current = page[page.index("## Version 1.0.2"):page.index("## Version 1.0.1")]
    assert "**Hva kilden fastsetter, og hva enheten må avgjøre selv**" in current
    assert ("- Fastsatt i kilden: <code>min_of_b_to_d</code> = <code>2</code> — Rapporten "
            "krever A og «minst to av kriteriene B-D».") in current
    assert "- Lokalt valg: <code>min_units_involved</code> = <code>2</code> units" in current
    assert "- Lokalt valg: <code>long_term_months</code> = <code>6</code> months" in current
    # a criterion the set reads in its own way (local_reading) is a local choice too
    assert ("- Lokalt valg i kriterium D: Rapporten sier «flere behandlingsenheter/sykehus/"
            "profesjoner involvert», men ikke hvordan de telles.") in current
    assert "«antall åpne henvisninger», som Anbefaling 10 (kap. 5.3)" in current
    assert "- Lokalt valg i kriterium B: Rapporten sier ikke hvilke aldre" in current
    assert "(../../ke-guide.md#hva-rapporten-fastsetter-og-hva-hver-enhet-ma-avgjre-selv)" in page


VARIANT = """
id: test-hf/strengere
version: 1.0.0
extends: helse-vest/anbefaling-3@1.0.0
title: Strengere D
status: active
effective_from: 2025-01-01
source: {document: test}
parameters:
  min_units_involved: {value: 3, description: lokalt valg}
inputs:
  ward: {type: string, kind: data}
outcomes:
  - id: ward_rule
    title: Avdelingsregel
    after: already_has_coordinator
    when: ward == "x"
"""


def test_the_catalogue_shows_what_a_variant_overrides_and_adds(
        gen: dict[str, Any], tmp_path: Path) -> None:
    base = tmp_path / "criteria" / "helse-vest"
    base.mkdir(parents=True)
    shutil.copyfile(criteria_dir() / "helse-vest" / "anbefaling-3-1.0.0.yaml", base / "a3.yaml")
    (tmp_path / "criteria" / "test-hf").mkdir()
    (tmp_path / "criteria" / "test-hf" / "strengere.yaml").write_text(VARIANT, encoding="utf-8")
    pages = gen["catalog_pages"](tmp_path / "criteria")
    page = pages["catalog/test-hf/strengere.md"]
    rows = {line.split("|")[1].strip(): line for line in page.splitlines()
            if line.startswith("| <code>") or line.startswith("| **")}
    assert "**overrides** the base" in rows["<code>min_units_involved</code>"]
    assert "from helse-vest/anbefaling-3@1.0.0" in rows["<code>long_term_months</code>"]
    assert "**added** by this variant" in rows["<code>ward</code>"]
    assert "from helse-vest/anbefaling-3@1.0.0" in rows["**A**"]
    outcome = next(line for line in page.splitlines() if "<code>ward_rule</code>" in line)
    assert outcome.startswith("| 2 |") and "**added** by this variant" in outcome
    base_page = pages["catalog/helse-vest/anbefaling-3.md"]
    assert "## Variants of this set" in base_page
    assert "(../test-hf/strengere.md)" in base_page
    assert "variant of <code>helse-vest/anbefaling-3@1.0.0</code>" in pages["catalog/index.md"]


def test_the_catalogue_lists_shipped_test_cases(gen: dict[str, Any]) -> None:
    cases = sorted(criteria_dir().rglob("*.cases.yaml"))
    if not cases:
        pytest.skip("no case files shipped yet")
    pages = gen["catalog_pages"]()
    text = "".join(pages.values())
    import yaml

    for path in cases:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            assert " ".join(case["name"].split()).replace("|", "\\|") in text


def test_the_cli_reference_lists_every_subcommand_and_option(gen: dict[str, Any]) -> None:
    reference = gen["cli_reference"]()
    parser = build_parser()
    subs = {name: sub for action in parser._actions if action.dest == "command"
            for name, sub in action.choices.items()}  # type: ignore[union-attr]
    assert subs
    for name, sub in subs.items():
        assert f"### `koordrules {name}`" in reference
        section = reference.split(f"### `koordrules {name}`")[1].split("\n### ")[0]
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section, f"{name} {option}"
            if not action.option_strings:
                assert f"`{action.metavar or action.dest}`" in section, f"{name} {action.dest}"


def test_the_cli_page_explains_every_subcommand() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name in sorted(_subcommands()):
        assert f"koordrules {name}" in text, name


def test_the_trace_example_is_a_real_result(gen: dict[str, Any]) -> None:
    example = gen["trace_example"]()
    cs = Catalog.builtin().get(gen["EXAMPLE_SET"])
    result = koordrules.evaluate(cs, gen["EXAMPLE_PATIENT"])
    shown = gen["example_result"]()
    assert shown.replace(trace=None) == result.replace(trace=None)
    assert shown.to_json(indent=2) in example
    assert '"trace"' in example and "Kriterier" in example


def test_the_criteria_file_page_describes_every_field() -> None:
    from pydantic import BaseModel

    from koordrules import fileformat

    text = (DOCS / "criteria-file.md").read_text(encoding="utf-8")
    rows = "\n".join(line for line in text.splitlines() if line.startswith("| `"))
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [fileformat.CriteriaFile]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            assert f"`{name}`" in rows, f"{model.__name__}.{name}"
            todo += _models(field.annotation)
    assert len(seen) >= 8


def _models(annotation: Any) -> list[Any]:
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def test_the_api_page_names_only_existing_objects() -> None:
    import importlib

    for target in re.findall(r"^::: ([\w.]+)", (DOCS / "api.md").read_text(), flags=re.M):
        module, _, name = target.rpartition(".")
        try:
            importlib.import_module(target)
        except ImportError:
            assert hasattr(importlib.import_module(module), name), target


def test_every_page_in_the_nav_exists_or_is_generated() -> None:
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        if isinstance(node, dict):
            return [p for v in node.values() for p in pages(v)]
        return []

    for page in pages(config["nav"]):
        assert page == "catalog/" or (DOCS / page).is_file(), page


# --- Python examples -----------------------------------------------------------------------

_PYTHON = re.compile(r"```python\n(.*?)```", re.S)
PY_PAGES = [page.name for page in PAGES if _PYTHON.search(page.read_text(encoding="utf-8"))]


def test_the_docs_have_python_examples() -> None:
    assert set(PY_PAGES) >= {"getting-started.md", "api.md"}


@pytest.mark.parametrize("page", PY_PAGES)
def test_python_examples_run_and_print_what_they_say(
        page: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A page's Python blocks run in order, in one namespace; a ``# …`` line right after a
    ``print(…)`` line is (a line of) that print's output."""
    namespace: dict[str, Any] = {}
    blocks = _PYTHON.findall((DOCS / page).read_text(encoding="utf-8"))
    for index, block in enumerate(blocks):
        exec(compile(block, f"{page}#{index}", "exec"), namespace)
        printed = capsys.readouterr().out.splitlines()
        lines = block.splitlines()
        for i, line in enumerate(lines[:-1]):
            if line.startswith("print(") and lines[i + 1].startswith("# "):
                assert lines[i + 1][2:] in printed, f"{page}#{index}: {line}"


def test_every_command_of_the_variant_chapter_is_run_from_the_variants_folder() -> None:
    """The KE guide's chapter on making a unit's own variant (the geriatric variant of
    Anbefaling 3): every koordrules command it tells the reader to type is run by
    test_output_shown_in_the_docs_is_what_the_command_prints, from the variant's own folder,
    on exactly the files the chapter shows."""
    text = (DOCS / "ke-guide.md").read_text(encoding="utf-8")
    chapter = text[text.index("## 11. Lag avdelingens egen variant"):
                   text.index("## Hvis noe går galt")]
    typed = [line.strip() for block in _fenced(chapter) if "output-of" not in block
             for line in _COMMAND.findall(block)]
    assert len(typed) >= 5
    shown = [spec for page, spec, _ in OUTPUTS if page == "ke-guide.md"
             and spec["cmd"] in chapter and spec.get("cwd") == "criteria/helse-stavanger"]
    run = {spec["cmd"] for spec in shown}
    assert [c for c in typed if c not in run] == []
    files = {path: block for _, path, block in _FILE.findall(chapter)}
    assert set(files) == {"criteria/helse-stavanger/geriatri.yaml",
                          "criteria/helse-stavanger/geriatri.cases.yaml"}
    # the variant passes check, test and lock from its own folder
    final = [s for s in shown if s["cmd"] == "koordrules check . --lang nb"
             and s.get("run_first") == ["koordrules lock ."]]
    assert len(final) == 1 and final[0].get("exit", 0) == 0
