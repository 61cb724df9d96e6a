"""Human sentences for criteria and outcomes, in Norwegian bokmål and English.

Built only from the titles and explanations in the criteria file and the values found; the
same functions serve the interpreter's trace and every other backend.
"""

from __future__ import annotations

from collections.abc import Sequence

from koordrules import ast

_STATE = {
    "nb": {True: "oppfylt", False: "ikke oppfylt", None: "ukjent (mangler opplysninger)"},
    "en": {True: "met", False: "not met", None: "unknown (information missing)"},
}


def _join(words: Sequence[str], lang: str, *, alternative: bool = False) -> str:
    last = {("nb", False): " og ", ("en", False): " and ", ("nb", True): " eller ",
            ("en", True): " or "}[lang, alternative]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + last + words[-1]


def criterion_sentence(criterion: ast.Criterion, value: bool | None) -> ast.LocalText:
    def say(lang: str) -> str:
        return f"{criterion.name} – {criterion.title.get(lang)}: {_STATE[lang][value]}."

    return ast.LocalText(nb=say("nb"), en=say("en"))


def outcome_sentence(
    cs: ast.CriteriaSet,
    outcome: str | None,
    possible: Sequence[str],
    missing: Sequence[str],
    passed: Sequence[str],
) -> ast.LocalText:
    """Why the outcome followed: which rule fired (and which were not met before it), or,
    when undecided, what it could still be and which inputs would decide it."""
    rules = {o.id: o for o in cs.outcomes}

    def say(lang: str) -> str:
        if outcome is None:
            options = _join([f"«{rules[p].title.get(lang)}»" for p in possible], lang,
                            alternative=True)
            need = _join(list(missing), lang) if missing else "-"
            if lang == "nb":
                return (f"Utfallet kan ikke avgjøres med opplysningene som finnes: det kan bli "
                        f"{options}. Opplysninger som avgjør: {need}.")
            return (f"The outcome cannot be decided from the information given: it may be "
                    f"{options}. Information that decides it: {need}.")
        rule = rules[outcome]
        head = f"{'Utfall' if lang == 'nb' else 'Outcome'}: {rule.title.get(lang)}."
        if rule.when is None:
            why = (" Ingen av reglene er oppfylt." if lang == "nb"
                   else " None of the rules is met.")
        else:
            why = (f" Regelen «{rule.source}» er oppfylt" if lang == "nb"
                   else f" The rule «{rule.source}» is met")
            if passed:
                names = _join(list(passed), lang)
                why += (f" (reglene før den, {names}, er ikke oppfylt)" if lang == "nb"
                        else f" (the rules before it, {names}, are not met)")
            why += "."
        extra = f" {rule.explanation.get(lang)}" if rule.explanation else ""
        return head + why + extra

    return ast.LocalText(nb=say("nb"), en=say("en"))
