"""One policy for the names a criteria set declares: inputs, parameters, criteria, outcomes.

A name is read by people and by every backend, so two names must never look alike and no
name may mean something else somewhere. :func:`name_problems` gives one diagnostic per
problem, at the name:

- ``name_not_normalised``: the name changes under Unicode NFKC (``ﬁ`` for ``fi``, full-width
  letters); a reader and a record would not agree which name it is;
- ``mixed_script``: letters from more than one script in one name (Latin ``A`` with Cyrillic
  ``А``);
- ``confusable_name``: two names that look the same (``A`` and Cyrillic ``А``, ``l`` and
  ``I``) after the mapping in :data:`CONFUSABLES`;
- ``case_clash``: two names that differ only in case (``x`` and ``X``): SQL, DuckDB and Spark
  treat them as one column;
- ``keyword_name``: a word of the expression language (``and``, ``true``); no expression could
  refer to it;
- ``reserved_name``: a name the batch backends generate themselves (``outcome``, ``missing``,
  anything beginning with ``__koordrules_``);

Outcome ids are values in the results, not names in expressions or columns: they get the
first three checks and the case check among themselves. Every message is in English, bokmål
and nynorsk (:attr:`Diagnostic.translations`).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from koordrules import ast
from koordrules.errors import CriteriaError, Diagnostic
from koordrules.grammar import get_parser
from koordrules.messages import Message
from koordrules.span import Span

GENERATED_PREFIX = "__koordrules_"
"""Columns and variables the backends and the compiler generate begin with this."""

RESULT_COLUMNS = ("outcome", "missing")
"""Columns of a batch result next to one column per criterion."""

CONFUSABLES = {
    # Cyrillic and Greek letters drawn like Latin ones, and the Latin look-alikes among
    # letters and digits (a subset of Unicode's confusables.txt, UTS #39 section 4)
    **dict(zip("АВЕЅІЈКМНОРСТХУԁеһіјӏорԛсѕԝхуаь", "ABESIJKMHOPCTXYdehijlopqcswxyab",
               strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαιονρτυχ", "ABEZHIKMNOPTYXaiovptux", strict=True)),
    "0": "o", "O": "o", "1": "l", "I": "l", "|": "l",
}


KINDS = {"input": "opplysning", "parameter": "parameter", "criterion": "kriterium",
         "outcome": "utfall"}
"""What each kind of name is called in bokmål and nynorsk."""


@dataclass(frozen=True, slots=True)
class Declared:
    """A name as declared, with what it is (``input``, ``criterion`` …) and where."""

    name: str
    kind: str
    span: Span | None


@functools.cache
def keywords() -> frozenset[str]:
    """The words of the expression language, read from the grammar."""
    return frozenset(
        t.pattern.value for t in get_parser().terminals
        if type(t.pattern).__name__ == "PatternStr" and t.pattern.value.isalpha())


def skeleton(name: str) -> str:
    """What a name looks like: NFKC, look-alike letters mapped, case folded."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(CONFUSABLES.get(c, c) for c in text).casefold()


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    word = unicodedata.name(char, "UNKNOWN").split()[0]
    return "CJK" if word in ("CJK", "HIRAGANA", "KATAKANA") else word


def _one(name: str, kind: str, *, expression_name: bool) -> list[tuple[str, Message]]:
    found: list[tuple[str, Message]] = []
    no = KINDS.get(kind, kind)
    normal = unicodedata.normalize("NFKC", name)
    if normal != name:
        found.append(("name_not_normalised", Message.of(
            f"the {kind} name {name!r} is written with compatibility characters; "
            f"write {normal!r}",
            f"navnet «{name}» ({no}) er skrevet med kompatibilitetstegn; skriv «{normal}»",
            f"namnet «{name}» ({no}) er skrive med kompatibilitetsteikn; skriv «{normal}»")))
    scripts = sorted({s for s in map(_script, name) if s is not None})
    if len(scripts) > 1:
        listed = ", ".join(s.title() for s in scripts)
        found.append(("mixed_script", Message.of(
            f"the {kind} name {name!r} mixes letters of several scripts ({listed}); "
            "write it in one script",
            f"navnet «{name}» ({no}) blander bokstaver fra flere skriftsystemer ({listed}); "
            "skriv det med ett skriftsystem",
            f"namnet «{name}» ({no}) blandar bokstavar frå fleire skriftsystem ({listed}); "
            "skriv det med eitt skriftsystem")))
    if not expression_name:
        return found
    if name in keywords():
        found.append(("keyword_name", Message.of(
            f"{name!r} is a word of the expression language and cannot name "
            f"{_article(kind)}; choose another name",
            f"«{name}» er et ord i uttrykksspråket og kan ikke brukes som navn ({no}); "
            "velg et annet navn",
            f"«{name}» er eit ord i uttrykksspråket og kan ikkje brukast som namn ({no}); "
            "vel eit anna namn")))
    if name in RESULT_COLUMNS or name.startswith(GENERATED_PREFIX):
        found.append(("reserved_name", Message.of(
            f"{name!r} is reserved for the columns koordrules generates and cannot "
            f"name {_article(kind)}; choose another name",
            f"«{name}» er reservert for kolonnene koordrules lager selv, og kan ikke brukes "
            f"som navn ({no}); velg et annet navn",
            f"«{name}» er reservert for kolonnane koordrules lagar sjølv, og kan ikkje "
            f"brukast som namn ({no}); vel eit anna namn")))
    return found


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _error(code: str, message: Message, span: Span | None) -> Diagnostic:
    return Diagnostic("error", code, message.text, span,
                      translations=tuple(sorted(message.translations.items())))


def _pairs(group: Sequence[Declared]) -> Iterable[Diagnostic]:
    """Case-clashing or look-alike names: one error at each later one, naming the first."""
    by_case: dict[str, Declared] = {}
    by_look: dict[str, Declared] = {}
    for d in group:
        no, other_no = KINDS.get(d.kind, d.kind), ""
        folded = unicodedata.normalize("NFKC", d.name).casefold()
        other = by_case.setdefault(folded, d)
        if other is not d and other.name != d.name:
            other_no = KINDS.get(other.kind, other.kind)
            yield _error("case_clash", Message.of(
                f"the {d.kind} name {d.name!r} differs from the {other.kind} name "
                f"{other.name!r} only in case; SQL and Spark would read them as one column "
                "— rename one",
                f"navnet «{d.name}» ({no}) skiller seg fra «{other.name}» ({other_no}) bare "
                "i store og små bokstaver; SQL og Spark ville lest dem som én kolonne — gi "
                "ett av dem et nytt navn",
                f"namnet «{d.name}» ({no}) skil seg frå «{other.name}» ({other_no}) berre i "
                "store og små bokstavar; SQL og Spark ville lese dei som éin kolonne — gi "
                "eitt av dei eit nytt namn"), d.span)
            continue
        other = by_look.setdefault(skeleton(d.name), d)
        if other is not d and other.name != d.name:
            other_no = KINDS.get(other.kind, other.kind)
            yield _error("confusable_name", Message.of(
                f"the {d.kind} name {d.name!r} looks like the {other.kind} name "
                f"{other.name!r} (look-alike letters from another script, or l/I/1, O/0); "
                "rename one",
                f"navnet «{d.name}» ({no}) ser ut som «{other.name}» ({other_no}) (like "
                "bokstaver fra et annet skriftsystem, eller l/I/1, O/0); gi ett av dem et "
                "nytt navn",
                f"namnet «{d.name}» ({no}) ser ut som «{other.name}» ({other_no}) (like "
                "bokstavar frå eit anna skriftsystem, eller l/I/1, O/0); gi eitt av dei eit "
                "nytt namn"), d.span)


def name_problems(names: Iterable[Declared], outcomes: Iterable[Declared] = ()
                  ) -> list[Diagnostic]:
    """Every problem with the declared names (inputs, parameters, criteria share one name
    space) and the outcome ids."""
    problems: list[Diagnostic] = []
    declared, ids = list(names), list(outcomes)
    for group, in_expressions in ((declared, True), (ids, False)):
        for d in group:
            problems += [_error(code, message, d.span)
                         for code, message in _one(d.name, d.kind,
                                                   expression_name=in_expressions)]
        problems += _pairs(group)
    return problems


def set_name_problems(cs: ast.CriteriaSet) -> list[Diagnostic]:
    """:func:`name_problems` of a built set's inputs, parameters, criteria and outcome ids."""
    return name_problems(
        [Declared(item.name, kind, item.span)
         for kind, items in (("input", cs.inputs), ("parameter", cs.parameters),
                             ("criterion", cs.criteria)) for item in items],
        [Declared(rule.id, "outcome", rule.span) for rule in (*cs.rules, cs.otherwise)])


def require_good_names(cs: ast.CriteriaSet) -> None:
    """Raise :class:`CriteriaError` with the name problems of ``cs``, as ``check`` reports
    them. The compiler and every batch backend call this first, so a set built by hand (not
    loaded, so not checked) cannot put look-alike, keyword or reserved names into generated
    code, SQL or columns."""
    problems = set_name_problems(cs)
    if problems:
        raise CriteriaError(problems, file=cs.file)
