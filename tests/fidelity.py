"""Fidelity to the sources: what a criteria, mapping or value set file quotes must be in the
source documents, word for word.

The sources are the plain-text seed documents beside the repository (``../shared/seeds/``, or
``KOORDRULES_SEEDS``). Rules, each checked mechanically:

- ``source.quote`` — every fragment (split at ``…`` and editorial ``[…]``) appears verbatim,
  whitespace-normalised, in the seed file the ``source.document`` names;
- text in «guillemets» in a file's values (notes, descriptions, titles, quotes) is a quotation
  and appears verbatim in one of the seeds; a term or code name is written in `backticks` or
  "double quotes" instead (comments are for readers and not checked);
- a parameter marked ``from_source: true`` has its value (as digits or as a Norwegian number
  word) in the set's quoted passage;
- a ``source_quote`` anywhere in a file (the journal template's sections) is a quotation too and
  appears verbatim in the seed the file's ``source.document`` names (else in one of the seeds);
- a file that quotes the coordinator procedure (seed 002: its ``source``, or a quotation found
  in no other seed) names it as the procedure of Oslo universitetssykehus (OUS), because the
  procedure is one hospital's («innleggelse ved OUS»), not Helse Vest's or the report's.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from koordrules.semver import Version

REPO = Path(__file__).resolve().parents[1]

# which seed file each source document is; matched on words of ``source.document``
DOCUMENTS = (
    ("sluttrapport", "000_7653e96834009eaa.txt"),
    ("regional plan", "001_4fb75d113022e1cc.txt"),
    ("prosedyre", "002_d39ca68722324c7f.txt"),
    ("oppfølgingsteam", "003_d65b02cb73d30a99.txt"),
    ("forprosjekt", "004_ea1be622f5d88811.txt"),
)
# a document that is not a source: the file's own local choice (no quote expected)
LOCAL = "koordrules:"
# the coordinator procedure is Oslo universitetssykehus' own («innleggelse ved OUS»)
PROCEDURE = "002_d39ca68722324c7f.txt"
OUS = re.compile(r"\bOUS\b|Oslo universitetssykehus")

NUMBER_WORDS = {"en": 1, "ett": 1, "én": 1, "to": 2, "tre": 3, "fire": 4, "fem": 5, "seks": 6,
                "sju": 7, "syv": 7, "åtte": 8, "ni": 9, "ti": 10, "tolv": 12}


def seeds_dir() -> Path:
    return Path(os.environ.get("KOORDRULES_SEEDS", REPO.parent / "shared" / "seeds"))


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u00ad", "")
    return " ".join(text.split()).casefold()


def fragments(quote: str) -> list[str]:
    """The verbatim pieces of a quotation: split at ellipses and editorial brackets."""
    parts = re.split(r"…|\.\.\.|\[[^\]]*\]", quote)
    return [p.strip(" .,;:") for p in parts if len(p.strip(" .,;:")) > 3]


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the criteria folder
    rule: str  # quote_not_in_source | guillemets_not_in_source | from_source_value | ...
    text: str  # the offending fragment (first 60 characters)

    def __str__(self) -> str:
        return f"{self.file}: {self.rule}: {self.text}"


def _source_quotes(node: Any) -> Iterator[str]:
    """Every ``source_quote`` value in a file's data, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source_quote" and isinstance(value, str):
                yield value
            else:
                yield from _source_quotes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _source_quotes(item)


def _strings(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, (*path, str(i)))
    elif isinstance(node, str):
        yield path, node


def seed_for(document: str) -> str | None:
    low = document.lower()
    return next((seed for word, seed in DOCUMENTS if word in low), None)


def check_file(path: Path, root: Path, seeds: dict[str, str]) -> list[Finding]:
    rel = path.relative_to(root).as_posix()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    everything = " ".join(seeds.values())
    found: list[Finding] = []
    source = data.get("source") or {}
    quote = source.get("quote")
    document = str(source.get("document", ""))
    procedure: list[str] = []  # what the file quotes from the OUS procedure
    if quote:
        seed = seed_for(f"{document} {source.get('chapter') or ''}")
        if seed is None:
            found.append(Finding(rel, "unknown_source_document", document[:60]))
        else:
            for piece in fragments(quote):
                if normalise(piece) not in seeds[seed]:
                    found.append(Finding(rel, "quote_not_in_source", piece[:60]))
            if seed == PROCEDURE:
                procedure.append(document)
    own = seed_for(f"{document} {source.get('chapter') or ''}")
    for text in _source_quotes(data):
        where = seeds.get(own or "", everything)
        for piece in fragments(text):
            if normalise(piece) not in where:
                found.append(Finding(rel, "source_quote_not_in_source", piece[:60]))
    for _, text in _strings(data):
        for m in re.finditer(r"«([^»]*)»", text):
            for piece in fragments(m.group(1)):
                if normalise(piece) not in everything:
                    found.append(Finding(rel, "guillemets_not_in_source", piece[:60]))
                elif PROCEDURE in seeds and all(normalise(piece) not in other for name, other
                                                in seeds.items() if name != PROCEDURE):
                    procedure.append(piece)
    if procedure and not any(OUS.search(text) for _, text in _strings(data)):
        found.append(Finding(rel, "procedure_not_ous", procedure[0][:60]))
    for name, spec in (data.get("parameters") or {}).items():
        if isinstance(spec, dict) and spec.get("from_source"):
            found += _from_source(rel, name, spec)
    return found


def _from_source(rel: str, name: str, spec: dict[str, Any]) -> list[Finding]:
    """A ``from_source: true`` value must be in the passage the parameter's description quotes
    in «guillemets», and that passage must state a rule, not an example («f.eks.»)."""
    value = spec.get("value")
    passages = [normalise(q) for q in re.findall(r"«([^»]*)»", str(spec.get("description")))]
    holding = [q for q in passages
               if (str(value) in (words := re.findall(r"\w+", q))
                   or any(NUMBER_WORDS.get(w) == value for w in words))]
    if isinstance(value, bool) or not holding:
        return [Finding(rel, "from_source_value", f"{name} = {value!r}")]
    if all(re.search(r"\bf\.eks\.|\bfor eksempel\b|\beksempel", q) for q in holding):
        return [Finding(rel, "from_source_example", f"{name} = {value!r}")]
    return []


def check_catalogue(root: Path, seeds_path: Path | None = None) -> list[Finding]:
    """Every finding in the criteria folder ``root`` (criteria, mapping and value set files)."""
    where = seeds_path or seeds_dir()
    seeds = {p.name: normalise(p.read_text(encoding="utf-8")) for p in where.glob("0*.txt")}
    findings: list[Finding] = []
    for path in sorted(root.rglob("*.yaml")):
        if path.name.endswith(".cases.yaml"):
            continue
        findings += check_file(path, root, seeds)
    return findings


def superseded_files(root: Path) -> set[str]:
    """The files (relative to ``root``) that hold an older version of a set, mapping or value set
    than another file in ``root`` does: published history, kept unchanged, never the current
    text (a published version is never redefined; a finding there is fixed by a newer version)."""
    newest: dict[str, tuple[Version, str]] = {}
    files: dict[str, tuple[str, Version]] = {}
    for path in sorted(root.rglob("*.yaml")):
        if path.name.endswith(".cases.yaml"):
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or "id" not in data or "version" not in data:
            continue
        rel = path.relative_to(root).as_posix()
        version = Version.parse(str(data["version"]))
        files[rel] = (str(data["id"]), version)
        key = str(data["id"])
        if key not in newest or newest[key][0] < version:
            newest[key] = (version, rel)
    return {rel for rel, (key, _) in files.items() if newest[key][1] != rel}
