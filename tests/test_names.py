"""The name policy (koordrules/names.py): one diagnostic per problem, at the name.

Each test loads a whole criteria file whose names break one rule and checks the code, that
the message names the problem, and that the position is the name's key in the file.
"""

from __future__ import annotations

import pytest
from conftest import HEADER, HEADER_LINES

from koordrules import load_text
from koordrules.errors import CriteriaError, LoadError
from koordrules.names import CONFUSABLES, keywords, skeleton


def _set(inputs: list[str], criteria: list[str], outcome: str = "likely") -> str:
    lines = ["inputs:"]
    lines += [f"  {name}: {{type: boolean, kind: data}}" for name in inputs]
    lines += ["criteria:"]
    for i, name in enumerate(criteria):
        lines += [f"  {name}:", f"    title: C{i}", f"    when: {inputs[i % len(inputs)]}"]
    uses = " or ".join(criteria)
    lines += ["outcomes:", f"  - id: {outcome}", "    title: Likely", f"    when: {uses}",
              "  - id: other", "    title: Other", "    otherwise: true"]
    return HEADER + "\n".join(lines) + "\n"


def _errors(text: str) -> list[tuple[str, str, int, int]]:
    with pytest.raises(CriteriaError) as info:
        load_text(text, file="names.yaml")
    return [(d.code, d.message, d.span.line - HEADER_LINES if d.span else 0,
             d.span.column if d.span else 0)
            for d in info.value.diagnostics if d.severity == "error"]


def test_latin_and_cyrillic_a_as_two_criteria_are_confusable() -> None:
    errors = _errors(_set(["x", "y"], ["A", "\u0410"]))
    assert [(code, line, col) for code, _, line, col in errors] == [("confusable_name", 8, 3)]
    assert "'A'" in errors[0][1] and "look" in errors[0][1]


def test_a_name_mixing_scripts_is_an_error_at_the_name() -> None:
    errors = _errors(_set(["\u0430lder", "y"], ["A"]))  # Cyrillic а + Latin lder
    assert ("mixed_script", 2, 3) in [(c, ln, col) for c, _, ln, col in errors]


def test_names_differing_only_in_case_clash() -> None:
    errors = _errors(_set(["x", "X"], ["A"]))
    assert [(c, ln) for c, _, ln, _ in errors] == [("case_clash", 3)]
    assert "only in case" in errors[0][1]


def test_case_clash_across_kinds() -> None:
    errors = _errors(_set(["x", "y"], ["Y"]))
    assert [c for c, *_ in errors] == ["case_clash"]
    assert "criterion name 'Y'" in errors[0][1] and "input name 'y'" in errors[0][1]


@pytest.mark.parametrize("word", ["true", "not", "and", "between", "else"])
def test_keyword_as_input_name_is_refused(word: str) -> None:
    text = _set(["x", word], ["A"]).replace(f"when: {word}", "when: x")
    errors = _errors(text)
    assert ("keyword_name", 3) in [(c, ln) for c, _, ln, _ in errors]


def test_keyword_as_criterion_name_is_refused() -> None:
    errors = _errors(_set(["x"], ["A", "not"]).replace("when: A or not", "when: A"))
    assert "keyword_name" in [c for c, *_ in errors]


@pytest.mark.parametrize("name", ["outcome", "missing", "__koordrules_outcome",
                                  "__koordrules_c0"])
def test_generated_column_names_are_reserved(name: str) -> None:
    errors = _errors(_set(["x"], [name]))
    assert [(c, ln) for c, _, ln, _ in errors] == [("reserved_name", 4)]


def test_compatibility_characters_in_a_name_are_refused() -> None:
    errors = _errors(_set(["x"], ["\ufb01lter"]))  # the ligature ﬁ
    assert [c for c, *_ in errors] == ["name_not_normalised"]
    assert "'filter'" in errors[0][1]


def test_outcome_ids_are_checked_for_case_and_look_alikes() -> None:
    errors = _errors(_set(["x"], ["A"], outcome="Other"))
    assert [c for c, *_ in errors] == ["case_clash"]


def test_norwegian_letters_are_one_script() -> None:
    cs = load_text(_set(["år", "ønske"], ["Ærlig", "blå"]), file="names.yaml")
    assert [c.name for c in cs.criteria] == ["Ærlig", "blå"]


def test_keywords_come_from_the_grammar() -> None:
    assert {"and", "or", "not", "true", "false", "in", "if", "then", "else"} <= keywords()
    assert "length" not in keywords()  # a function name is fine as a plain name


def test_skeleton_maps_look_alikes() -> None:
    assert skeleton("\u0410\u0412\u0421") == skeleton("ABC")
    assert skeleton("Il1") == skeleton("lll")
    assert skeleton("alder") != skeleton("ålder")
    assert all(len(v) == 1 for v in CONFUSABLES.values())


def test_bidi_control_in_a_title_is_a_load_error_at_its_position() -> None:
    text = _set(["x"], ["A"]).replace("title: C0", "title: C0 \u202eevil")
    with pytest.raises(LoadError) as info:
        load_text(text, file="names.yaml")
    assert info.value.code == "unsafe_character"
    assert info.value.span is not None
    assert (info.value.span.line - HEADER_LINES, info.value.span.column) == (5, 15)
    assert "U+202E" in info.value.message


def test_bidi_control_in_a_comment_or_literal_is_refused() -> None:
    for text in (_set(["x"], ["A"]) + "# \u2067 hidden\n",
                 _set(["x"], ["A"]).replace("when: x\n", "when: x and 'a\u202e' == 'a'\n")):
        with pytest.raises(LoadError) as info:
            load_text(text, file="names.yaml")
        assert info.value.code == "unsafe_character"


@pytest.mark.parametrize("escape", ["\\e[31m", "\\x1b", "\\r", "\\x85", "\\u2028"])
def test_control_character_written_as_an_escape_is_refused(escape: str) -> None:
    text = _set(["x"], ["A"]).replace("title: C0", f'title: "C0 {escape}"')
    with pytest.raises(LoadError) as info:
        load_text(text, file="names.yaml")
    assert info.value.code == "unsafe_character"
    assert info.value.span is not None and info.value.span.line - HEADER_LINES == 5


@pytest.mark.parametrize("inputs,criteria,outcome,code,nb,nn", [
    (["x", "y"], ["A", "\u0410"], "likely", "confusable_name", "ser ut som «A» (kriterium)",
     "gi eitt av dei eit nytt namn"),
    (["\u0430lder", "y"], ["A"], "likely", "mixed_script", "blander bokstaver fra flere",
     "blandar bokstavar frå fleire"),
    (["x", "X"], ["A"], "likely", "case_clash", "«X» (opplysning) skiller seg fra «x»",
     "berre i store og små bokstavar"),
    (["x", "and"], ["A"], "likely", "keyword_name", "«and» er et ord i uttrykksspråket",
     "kan ikkje brukast som namn (opplysning)"),
    (["x", "y"], ["outcome"], "likely", "reserved_name", "kolonnene koordrules lager selv",
     "kolonnane koordrules lagar sjølv"),
    (["x", "y"], ["A"], "ﬁne", "name_not_normalised", "(utfall) er skrevet med "
     "kompatibilitetstegn; skriv «fine»", "kompatibilitetsteikn"),
])
def test_every_name_message_is_in_bokmal_and_nynorsk(inputs: list[str], criteria: list[str],
                                                      outcome: str, code: str, nb: str,
                                                      nn: str) -> None:
    text = _set(inputs, criteria, outcome).replace("when: and", "when: x")
    with pytest.raises(CriteriaError) as info:
        load_text(text, file="names.yaml")
    [d] = [d for d in info.value.diagnostics if d.code == code]
    assert nb in d.text("nb"), d.text("nb")
    assert nn in d.text("nn"), d.text("nn")
    assert d.text("en") == d.message and d.text("nb") != d.text("nn")
