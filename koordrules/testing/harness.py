"""Running one property under hypothesis: the settings, the shrunk counterexample and
:class:`PropertyFailure` with the counterexample's explanation."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from koordrules import ast
from koordrules.errors import KoordError
from koordrules.explain import render_text
from koordrules.result import Result

__all__ = (
    "DEFAULT_EXAMPLES",
    "Evaluator",
    "PropertyFailure",
    "State",
    "Violation",
    "draw",
    "extra_keys",
    "hypothesis_settings",
    "run_property",
)


DEFAULT_EXAMPLES = 100

Evaluator = Callable[..., Result]
"""``evaluator(criteria_set, record, *, trace=True, ignore=frozenset()) -> Result``."""



class PropertyFailure(AssertionError):
    """A property does not hold. ``record`` is the (shrunk) counterexample, ``explanation`` its
    rendered trace; both are ``None`` when the failure has no single record (a dead outcome)."""

    def __init__(self, prop: str, set_key: str, message: str, *,
                 record: Mapping[str, Any] | None = None,
                 explanation: str | None = None) -> None:
        self.property = prop
        self.set_key = set_key
        self.message = message
        self.record = dict(record) if record is not None else None
        self.explanation = explanation
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.property} fails for {self.set_key}: {self.message}"]
        if self.record is not None:
            lines.append("counterexample: " + json.dumps(self.record, sort_keys=True,
                                                          ensure_ascii=False, default=str))
        if self.explanation:
            lines += ["", self.explanation.rstrip()]
        return "\n".join(lines)


class Violation(Exception):
    def __init__(self, message: str, record: Mapping[str, Any],
                 cs: ast.CriteriaSet | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.record = dict(record)
        self.cs = cs


@dataclass
class State:
    """What the last run of a test body looked at (the final replay is the shrunk example)."""

    record: dict[str, Any] | None = None
    cs: ast.CriteriaSet | None = None
    notes: list[str] = field(default_factory=list)


def _explain(cs: ast.CriteriaSet, record: Mapping[str, Any] | None,
             evaluator: Evaluator) -> str | None:
    if record is None:
        return None
    try:
        return render_text(evaluator(cs, record, ignore=extra_keys(cs, record)), lang="en",
                           criteria_set=cs, verbose=True)
    except KoordError as ex:
        return f"(evaluation raised {type(ex).__name__}: {ex})"


def extra_keys(cs: ast.CriteriaSet, record: Mapping[str, Any]) -> frozenset[str]:
    names = {i.name for i in cs.inputs}
    return frozenset(k for k in record if k not in names)


def hypothesis_settings(examples: int) -> settings:
    # no "explain" phase: it re-runs the test hundreds of times only to annotate the report
    return settings(max_examples=examples, deadline=None, database=None,
                    verbosity=Verbosity.quiet, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                            Phase.shrink])


def run_property(prop: str, cs: ast.CriteriaSet, body: Callable[[st.DataObject, State], None], *,
                 examples: int, seed: int | None, evaluator: Evaluator) -> None:
    """Run ``body`` under hypothesis; turn the shrunk failure into a :class:`PropertyFailure`."""
    state = State()

    def test(data: st.DataObject) -> None:
        state.record, state.cs = None, None
        body(data, state)

    runner = given(st.data())(test)
    runner = hypothesis_settings(examples)(runner)
    if seed is not None:
        runner = hypothesis_seed(seed)(runner)
    try:
        runner()
    except Violation as v:
        target = v.cs or cs
        raise PropertyFailure(prop, cs.key, v.message, record=v.record,
                              explanation=_explain(target, v.record, evaluator)) from None
    except Unsatisfiable:
        raise PropertyFailure(prop, cs.key, "could not generate enough valid records") from None
    except PropertyFailure:
        raise
    except Exception as ex:  # a crash is a failure of the property, with its record
        target = state.cs or cs
        raise PropertyFailure(prop, cs.key, f"raised {type(ex).__name__}: {ex}",
                              record=state.record,
                              explanation=_explain(target, state.record, evaluator)) from ex


def draw(data: st.DataObject, state: State, cs: ast.CriteriaSet,
         strategy: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    record = data.draw(strategy)
    state.record, state.cs = record, cs
    return record
