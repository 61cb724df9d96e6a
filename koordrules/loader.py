"""Criteria files → :class:`~koordrules.ast.CriteriaSet`.

``read`` parses and schema-validates a file; ``build_*`` turn its parts into AST pieces whose
expressions carry file positions; :func:`load` does all of it and runs the checker, raising one
:class:`~koordrules.errors.CriteriaError` that lists every problem in the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from koordrules import ast
from koordrules.check import check_expressions, check_set, declared_names
from koordrules.errors import CriteriaError, Diagnostic, ParseError
from koordrules.fileformat import (
    CriteriaFile,
    CriterionSpec,
    InputSpec,
    OutcomeSpec,
    ParameterSpec,
    local_text,
)
from koordrules.messages import parameter_value
from koordrules.operators.numeric import is_finite_number
from koordrules.parser import parse_expression
from koordrules.yamldoc import Path_, YamlDoc, parse_yaml, read_yaml, validate


@dataclass(frozen=True)
class SetFile:
    """A criteria file that parsed and matched the schema (its expressions are still text)."""

    spec: CriteriaFile
    doc: YamlDoc

    @property
    def key(self) -> str:
        return f"{self.spec.id}@{self.spec.version}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.doc.canonical().encode("utf-8")).hexdigest()


def read(path: str | Path) -> SetFile:
    """Read and schema-check a criteria file; raises :class:`CriteriaError`."""
    return _validated(read_yaml(path))


def read_text(text: str, *, file: str | None = None) -> SetFile:
    return _validated(parse_yaml(text, file=file))


def _validated(doc: YamlDoc) -> SetFile:
    spec, problems = validate(CriteriaFile, doc)
    if spec is None:
        raise CriteriaError(problems, file=doc.file)
    return SetFile(spec, doc)


def _file_position(doc: YamlDoc, path: Path_, text: str, line: int,
                   column: int) -> tuple[int, int]:
    """File (line, column) of (line, column) inside the expression ``text`` found at ``path``.

    Exact for every scalar style: a literal block (``|``) keeps lines; in a folded (``>``),
    plain or quoted scalar that spans lines YAML folds line breaks, so the position is found by
    counting the non-blank characters, which the folding keeps in order."""
    info = doc.scalars.get(path)
    if info is None:
        return doc.positions.get(path, (1, 1))
    if info.style == "|" or info.single_line:
        return info.position(line, column)
    lines = text.split("\n")
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + column - 1
    wanted = sum(1 for ch in text[:offset] if not ch.isspace())
    after = offset >= len(text) or text[offset].isspace()
    if after:
        wanted -= 1
    source = doc.text.split("\n")
    row, col = info.line - 1, info.column - 1
    if info.style in (">",):
        row, col = row + 1, 0
    elif info.style in ("'", '"'):
        col += 1
    seen = -1
    while row < len(source):
        current = source[row]
        while col < len(current):
            if not current[col].isspace():
                seen += 1
                if seen == max(wanted, 0):
                    return row + 1, col + 1 + (1 if after and wanted >= 0 else 0)
            col += 1
        row, col = row + 1, 0
    return info.line, info.column


def _relocate(node: Any, doc: YamlDoc, path: Path_, text: str) -> Any:
    """Copy of an expression tree with spans moved from expression text to file positions."""
    updates: dict[str, Any] = {}
    span = node.span
    if span is not None:
        line, col = _file_position(doc, path, text, span.line, span.column)
        end_line, end_col = _file_position(doc, path, text, span.end_line, span.end_column)
        updates["span"] = span.model_copy(update={"file": doc.file, "line": line,
                                                  "column": col, "end_line": end_line,
                                                  "end_column": end_col})
    for name in type(node).model_fields:
        value = getattr(node, name)
        if isinstance(value, ast.Node):
            updates[name] = _relocate(value, doc, path, text)
        elif isinstance(value, tuple) and value and isinstance(value[0], ast.Node):
            updates[name] = tuple(_relocate(v, doc, path, text) for v in value)
    return node.model_copy(update=updates)


def parse_at(text: str, doc: YamlDoc, path: Path_) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse the expression found at ``path`` in ``doc``, with file positions on every node."""
    try:
        expr = parse_expression(text)
    except ParseError as ex:
        if ex.span is not None:
            line, col = _file_position(doc, path, text, ex.span.line, ex.span.column)
            end_line, end_col = _file_position(doc, path, text, ex.span.end_line,
                                               ex.span.end_column)
            if (end_line, end_col) <= (line, col):
                end_line, end_col = line, col + 1
            span = ex.span.model_copy(update={"file": doc.file, "line": line, "column": col,
                                              "end_line": end_line, "end_column": end_col})
        else:
            span = doc.span(path)
        return None, [Diagnostic("error", ex.code, ex.message, span, doc.file,
                                 ex.translations)]
    return _relocate(expr, doc, path, text), []


def parameter_problems(name: str, spec: ParameterSpec, doc: YamlDoc) -> list[Diagnostic]:
    """A value written as text but meant as a number or date (``"6"``, ``3,5``, ``3 months``,
    ``01.10.2024``): one error at the value, saying how to write it."""
    value = spec.value
    if not is_finite_number(value):
        # NaN is refused while reading the YAML; .inf (or 1e+400) would print as a name in
        # SQL and as null in a trace; a whole number beyond 64 bits has no column type
        return [_parameter_out_of_model(name, value, doc)]
    found = parameter_value(name, value, spec.unit is not None)
    if found is None:
        return []
    message = found[1]
    return [Diagnostic("error", "parameter_as_text", message.text,
                       doc.span(("parameters", name, "value")), doc.file,
                       tuple(sorted(message.translations.items())))]


def _parameter_out_of_model(name: str, value: Any, doc: YamlDoc) -> Diagnostic:
    span = doc.span(("parameters", name, "value"))
    if isinstance(value, float):
        return Diagnostic(
            "error", "not_finite",
            f"parameter {name!r}: the value must be a finite number, not infinity; write "
            "the largest value the rule needs", span, doc.file,
            (("nb", f"parameter «{name}»: verdien må være et endelig tall, ikke uendelig; "
                    "skriv den største verdien regelen trenger"),
             ("nn", f"parameter «{name}»: verdien må vere eit endeleg tal, ikkje uendeleg; "
                    "skriv den største verdien regelen treng")))
    return Diagnostic(
        "error", "number_too_large",
        f"parameter {name!r}: the whole number is outside 64 bits "
        f"(-{2**63} to {2**63 - 1}); write a smaller number", span, doc.file,
        (("nb", f"parameter «{name}»: heltallet er utenfor 64 bit (-{2**63} til {2**63 - 1}); "
                "skriv et mindre tall"),
         ("nn", f"parameter «{name}»: heiltalet er utanfor 64 bit (-{2**63} til {2**63 - 1}); "
                "skriv eit mindre tal")))


def changelog_problems(setfile: SetFile) -> list[Diagnostic]:
    """A file that keeps a changelog needs an entry for its own version (a bump without
    one is the usual slip)."""
    spec, doc = setfile.spec, setfile.doc
    if not spec.changelog or any(e.version == spec.version for e in spec.changelog):
        return []
    latest = spec.changelog[-1].version if spec.changelog else "-"
    return [Diagnostic(
        "error", "no_changelog_entry",
        f"version {spec.version} has no changelog entry (the last one is for {latest}): add "
        f"'- version: {spec.version}' with date and changes under changelog",
        doc.span(("version",)), doc.file,
        (("nb", f"versjon {spec.version} står ikke i endringsloggen (siste linje gjelder "
                f"{latest}): legg til «- version: {spec.version}» med date og changes under "
                "changelog"),
         ("nn", f"versjon {spec.version} står ikkje i endringsloggen (siste linja gjeld "
                f"{latest}): legg til «- version: {spec.version}» med date og changes under "
                "changelog")))]


def build_parameter(name: str, spec: ParameterSpec, doc: YamlDoc, origin: str) -> ast.Parameter:
    """The parameter; a value written as text but meant as a number gets the intended value,
    so the rules that use it are not reported too (:func:`parameter_problems` reports it)."""
    intended = parameter_value(name, spec.value, spec.unit is not None)
    value = spec.value if intended is None else intended[0]
    return ast.Parameter(name=name, value=value, unit=spec.unit,
                         description=spec.description, from_source=spec.from_source,
                         origin=origin, span=doc.key_span(("parameters", name)))


def build_input(name: str, spec: InputSpec, doc: YamlDoc, origin: str) -> ast.InputDecl:
    return ast.InputDecl(name=name, origin=origin, span=doc.key_span(("inputs", name)),
                         **spec.model_dump())


def build_criterion(name: str, spec: CriterionSpec, doc: YamlDoc,
                    origin: str) -> tuple[ast.Criterion | None, list[Diagnostic]]:
    expr, problems = parse_at(spec.when, doc, ("criteria", name, "when"))
    if expr is None:
        return None, problems
    reading = None if spec.local_reading is None else local_text(spec.local_reading)
    return ast.Criterion(name=name, title=local_text(spec.title), description=spec.description,
                         source=spec.when, expr=expr, origin=origin,
                         span=doc.key_span(("criteria", name)), local_reading=reading), []


def build_outcome(index: int, spec: OutcomeSpec, doc: YamlDoc,
                  origin: str) -> tuple[ast.OutcomeRule | None, list[Diagnostic]]:
    path: Path_ = ("outcomes", index)
    problems: list[Diagnostic] = []
    if spec.title is None:
        problems.append(Diagnostic("error", "schema_error",
                                   f"outcome {spec.id!r} needs a title", doc.span(path), doc.file))
    if spec.otherwise == (spec.when is not None):
        problems.append(Diagnostic("error", "schema_error",
                                   f"outcome {spec.id!r} needs exactly one of 'when' and "
                                   "'otherwise: true'", doc.span(path), doc.file))
    expr = None
    if spec.when is not None:
        expr, more = parse_at(spec.when, doc, (*path, "when"))
        problems += more
    if problems or spec.title is None:
        return None, problems
    return ast.OutcomeRule(
        id=spec.id, title=local_text(spec.title),
        explanation=local_text(spec.explanation) if spec.explanation else None,
        source=spec.when, when=expr, origin=origin, span=doc.span(path)), []


def build(setfile: SetFile) -> tuple[ast.CriteriaSet | None, list[Diagnostic]]:
    """Turn a validated file (without ``extends``) into a criteria set, collecting problems."""
    spec, doc, origin = setfile.spec, setfile.doc, setfile.key
    problems: list[Diagnostic] = changelog_problems(setfile)
    criteria: list[ast.Criterion] = []
    for name, cspec in spec.criteria.items():
        criterion, more = build_criterion(name, cspec, doc, origin)
        problems += more
        if criterion is not None:
            criteria.append(criterion)
    if spec.drop is not None:
        problems.append(Diagnostic("error", "schema_error",
                                   "'drop' is only allowed in a variant (extends:)",
                                   doc.key_span(("drop",)), doc.file))
    outcomes: list[ast.OutcomeRule] = []
    for i, ospec in enumerate(spec.outcomes):
        for field in ("before", "after"):
            if getattr(ospec, field) is not None:
                problems.append(Diagnostic("error", "schema_error",
                                           f"'{field}' is only allowed in a variant (extends:)",
                                           doc.span(("outcomes", i, field)), doc.file))
        rule, more = build_outcome(i, ospec, doc, origin)
        problems += more
        if rule is not None:
            outcomes.append(rule)
    if not spec.outcomes:
        problems.append(Diagnostic("error", "schema_error", "the set has no outcomes",
                                   doc.span(()), doc.file))
    otherwise = [o for o in outcomes if o.when is None]
    if outcomes and (len(otherwise) != 1 or outcomes[-1].when is not None):
        problems.append(Diagnostic("error", "schema_error",
                                   "the last outcome, and only it, must be 'otherwise: true'",
                                   doc.span(("outcomes",)), doc.file))
    parameters = tuple(build_parameter(n, p, doc, origin) for n, p in spec.parameters.items())
    for n, p in spec.parameters.items():
        problems += parameter_problems(n, p, doc)
    inputs = tuple(build_input(n, i, doc, origin) for n, i in spec.inputs.items())
    if problems:
        # still check the expressions that did parse, so one run reports every problem
        env = declared_names(parameters, inputs, spec.criteria)
        return None, problems + check_expressions(criteria, outcomes, env)
    cs = ast.CriteriaSet(
        id=spec.id, version=spec.version, title=local_text(spec.title), status=spec.status,
        effective_from=spec.effective_from, source=spec.source, notes=spec.notes,
        changelog=spec.changelog, extends=spec.extends,
        parameters=parameters,
        inputs=inputs,
        criteria=tuple(criteria), rules=tuple(outcomes[:-1]), otherwise=outcomes[-1],
        monotone=spec.monotone, narrows=spec.narrows, file=doc.file, sha256=setfile.sha256,
    )
    return cs, []


def finish(cs: ast.CriteriaSet | None, problems: list[Diagnostic],
           file: str | None) -> tuple[ast.CriteriaSet, list[Diagnostic]]:
    """Check a built set; raise :class:`CriteriaError` on any error, else return warnings."""
    if cs is not None:
        # set-level problems without a span (e.g. a bad ``monotone`` entry) still name the file
        problems = problems + [d if d.span or d.file else replace(d, file=file)
                               for d in check_set(cs)]
    if cs is None or any(d.severity == "error" for d in problems):
        raise CriteriaError(problems, file=file)
    return cs, problems


def load_text(text: str, *, file: str | None = None) -> ast.CriteriaSet:
    """Load and check a criteria set from text (``file`` names it in messages).

    A variant (``extends:``) needs its base: load it from a file or a catalogue
    (:func:`koordrules.load`, :class:`koordrules.Catalog`)."""
    setfile = read_text(text, file=file)
    if setfile.spec.extends is not None:
        raise CriteriaError([Diagnostic(
            "error", "needs_catalog",
            f"this set extends {setfile.spec.extends!r}: load it from a file or a Catalog",
            setfile.doc.span(("extends",)), setfile.doc.file)], file=setfile.doc.file)
    cs, problems = build(setfile)
    return finish(cs, problems, file)[0]

