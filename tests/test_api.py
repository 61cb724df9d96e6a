"""The public API an application sees: typed, complete, and nothing dead in it."""

from __future__ import annotations

import ast as pyast
import importlib.resources
from pathlib import Path

import pytest

import koordrules
from koordrules import InputError, InputProblem, KoordError

PACKAGE = Path(koordrules.__file__).parent
SET = koordrules.Catalog.builtin().get("helse-vest/anbefaling-3")


def test_the_package_is_marked_typed() -> None:
    assert (importlib.resources.files("koordrules") / "py.typed").is_file()


def test_every_public_name_exists() -> None:
    for name in koordrules.__all__:
        assert hasattr(koordrules, name), name


def _raised_error_classes() -> set[str]:
    """Names of the KoordError subclasses that some module of the package raises."""
    raised: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        for node in pyast.walk(tree):
            if isinstance(node, pyast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, pyast.Call) else node.exc
                while isinstance(exc, pyast.Attribute) and exc.attr == "of":
                    exc = exc.value
                if isinstance(exc, pyast.Attribute) and exc.attr[:1].isupper():
                    raised.add(exc.attr)
                elif isinstance(exc, pyast.Name):
                    raised.add(exc.id)
            elif isinstance(node, pyast.Return) and isinstance(node.value, pyast.Call) \
                    and isinstance(node.value.func, pyast.Name):
                raised.add(node.value.func.id)  # an error built by a helper, then raised
    return raised


def _error_classes() -> dict[str, type[KoordError]]:
    found: dict[str, type[KoordError]] = {}
    todo: list[type[KoordError]] = [KoordError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo += cls.__subclasses__()
    return found


def test_every_raised_error_class_is_exported() -> None:
    raised = _raised_error_classes() & set(_error_classes())
    assert raised, "no error class found"
    assert raised <= set(koordrules.__all__), raised - set(koordrules.__all__)


def test_every_exported_error_class_is_raised() -> None:
    exported = {n for n in koordrules.__all__ if n in _error_classes()}
    # KoordError is the root applications catch; the rest must really be raised somewhere
    assert exported - {"KoordError"} <= _raised_error_classes()


def test_an_input_error_lists_every_problem_without_values() -> None:
    record = {"expected_followup_months": "987.25", "involved_units": -37,
              "not_an_input": "secret-value", "has_coordinator": "ja"}
    with pytest.raises(InputError) as info:
        koordrules.evaluate(SET, record)
    err = info.value
    fields = [p.field for p in err.problems]
    assert sorted(fields) == sorted(record)
    assert all(isinstance(p, InputProblem) for p in err.problems)
    assert {p.code for p in err.problems} == {"bad_input_value", "unknown_input"}
    assert err.code == err.problems[0].code and err.field == err.problems[0].field
    text = str(err) + "".join(p.message for p in err.problems)
    for value in ("987.25", "secret-value", "-37"):
        assert value not in text


def test_ignore_accepts_any_collection_of_names() -> None:
    record = {"expected_followup_months": 9, "involved_units": 3, "patient": "x"}
    plain = koordrules.evaluate(SET, {k: v for k, v in record.items() if k != "patient"})
    for ignore in ({"patient"}, ["patient"], ("patient",), frozenset({"patient"})):
        assert koordrules.evaluate(SET, record, ignore=ignore) == plain

