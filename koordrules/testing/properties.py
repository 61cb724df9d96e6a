"""Rule-consistency properties, checked with hypothesis over generated records.

Each ``check_*`` function runs one property for a criteria set and returns ``None`` when it
holds; when it does not, it raises :class:`PropertyFailure` with a minimal counterexample record
(hypothesis shrinks it) and that record's explanation rendered by
:func:`koordrules.explain.render_text`. They are plain functions: call them from a pytest test
(not from inside another ``@given`` test) or through :func:`run_properties`
(``koordrules test --properties``).

Every check takes ``examples`` (how many records hypothesis tries), ``seed`` (``None`` for a
random run, an int to reproduce one) and ``evaluator`` (default :func:`koordrules.evaluate`; pass
another backend with the same signature to check it instead).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TextIO

from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from koordrules import ast
from koordrules.engine import evaluate
from koordrules.errors import InputError, KoordError
from koordrules.evaluator import Interpreter
from koordrules.explain import render_text
from koordrules.inputs import validate_record
from koordrules.operators import FUNCTIONS
from koordrules.operators.reference import kleene_and, kleene_or
from koordrules.result import Result
from koordrules.testing.strategies import input_values, records, representatives
from koordrules.trace import REDACTED, TraceNode
from koordrules.values import to_json

__all__ = (
    "DEFAULT_EXAMPLES",
    "Evaluator",
    "PropertyFailure",
    "check_determinism",
    "check_monotonicity",
    "check_narrowing",
    "check_reachability",
    "check_soundness",
    "check_totality",
    "check_trace_agreement",
    "check_variant",
    "run_properties",
    "touched_items",
    "trace_problems",
)

DEFAULT_EXAMPLES = 100
EXHAUSTIVE_LIMIT = 128
"""Soundness enumerates every completion of a record's unknowns when there are at most this many."""

Evaluator = Callable[..., Result]
"""``evaluator(criteria_set, record, *, trace=True, ignore=frozenset()) -> Result``."""

_KNOWLEDGE = frozenset({"is_known", "coalesce"})


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


class _Violation(Exception):
    def __init__(self, message: str, record: Mapping[str, Any],
                 cs: ast.CriteriaSet | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.record = dict(record)
        self.cs = cs


@dataclass
class _State:
    """What the last run of a test body looked at (the final replay is the shrunk example)."""

    record: dict[str, Any] | None = None
    cs: ast.CriteriaSet | None = None
    notes: list[str] = field(default_factory=list)


def _explain(cs: ast.CriteriaSet, record: Mapping[str, Any] | None,
             evaluator: Evaluator) -> str | None:
    if record is None:
        return None
    try:
        return render_text(evaluator(cs, record, ignore=_extra(cs, record)), lang="en")
    except KoordError as ex:
        return f"(evaluation raised {type(ex).__name__}: {ex})"


def _extra(cs: ast.CriteriaSet, record: Mapping[str, Any]) -> frozenset[str]:
    names = {i.name for i in cs.inputs}
    return frozenset(k for k in record if k not in names)


def _settings(examples: int) -> settings:
    # no "explain" phase: it re-runs the test hundreds of times only to annotate the report
    return settings(max_examples=examples, deadline=None, database=None,
                    verbosity=Verbosity.quiet, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                            Phase.shrink])


def _run(prop: str, cs: ast.CriteriaSet, body: Callable[[st.DataObject, _State], None], *,
         examples: int, seed: int | None, evaluator: Evaluator) -> None:
    """Run ``body`` under hypothesis; turn the shrunk failure into a :class:`PropertyFailure`."""
    state = _State()

    def test(data: st.DataObject) -> None:
        state.record, state.cs = None, None
        body(data, state)

    runner = given(st.data())(test)
    runner = _settings(examples)(runner)
    if seed is not None:
        runner = hypothesis_seed(seed)(runner)
    try:
        runner()
    except _Violation as v:
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


def _draw(data: st.DataObject, state: _State, cs: ast.CriteriaSet,
          strategy: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    record = data.draw(strategy)
    state.record, state.cs = record, cs
    return record


# --- totality ------------------------------------------------------------------------------


def check_totality(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                   seed: int | None = None, evaluator: Evaluator = evaluate) -> None:
    """Every valid record (unknowns included) evaluates without error to exactly one outcome of
    the set, or to *undetermined* with at least two possible outcomes; every criterion gets a
    value (true, false or unknown)."""
    ids = [o.id for o in cs.outcomes]
    names = [c.name for c in cs.criteria]
    strategy = records(cs, missing=0.3)

    def body(data: st.DataObject, state: _State) -> None:
        record = _draw(data, state, cs, strategy)
        try:
            result = evaluator(cs, record, trace=False)
        except KoordError as ex:
            raise _Violation(f"a valid record raised {type(ex).__name__}: {ex}", record) from ex
        if result.outcome is not None:
            if result.outcome not in ids:
                raise _Violation(f"outcome {result.outcome!r} is not an outcome of the set",
                                 record)
            if tuple(result.possible_outcomes) != (result.outcome,):
                raise _Violation("a decided result lists other possible outcomes", record)
        else:
            possible = list(result.possible_outcomes)
            if len(possible) < 2 or any(p not in ids for p in possible):
                raise _Violation(f"undetermined with possible outcomes {possible}", record)
        if list(result.criteria) != names or any(
            v not in (True, False, None) for v in result.criteria.values()
        ):
            raise _Violation("the criteria values do not match the set's criteria", record)

    _run("totality", cs, body, examples=examples, seed=seed, evaluator=evaluator)


# --- determinism ---------------------------------------------------------------------------


def check_determinism(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                      seed: int | None = None, evaluator: Evaluator = evaluate) -> None:
    """The same record gives the same result and the same trace: evaluated twice, and with its
    keys in reverse order."""
    strategy = records(cs, missing=0.3)

    def body(data: st.DataObject, state: _State) -> None:
        record = _draw(data, state, cs, strategy)
        first = evaluator(cs, record).to_dict()
        again = evaluator(cs, dict(record)).to_dict()
        reordered = evaluator(cs, dict(reversed(list(record.items())))).to_dict()
        for other, how in ((again, "a second evaluation"), (reordered, "reordered keys")):
            if other != first:
                keys = sorted(k for k in first if first[k] != other.get(k))
                raise _Violation(f"{how} gives a different result (differs in {keys})", record)

    _run("determinism", cs, body, examples=examples, seed=seed, evaluator=evaluator)


# --- trace agreement -----------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _recompute(expr: ast.Expr, node: TraceNode) -> tuple[bool, Any]:
    """(known, value) of ``expr`` recomputed from its children's trace values."""
    kids: list[Any] = [k.value for k in node.children]
    if any(k == REDACTED for k in kids):
        return False, None
    match expr:
        case ast.Not():
            return True, None if kids[0] is None else not kids[0]
        case ast.And():
            return True, kleene_and(kids)
        case ast.Or():
            return True, kleene_or(kids)
        case ast.Compare(op=op, left=left, right=right):
            a, b = kids
            if a is None or b is None:
                return True, None
            durationish = any(isinstance(x, ast.DurationLiteral | ast.Arith)
                              for x in (left, right))
            if op in ("==", "!=") and not durationish:
                return True, (a == b) == (op == "==")
            if (_number(a) and _number(b)) or (
                isinstance(a, str) and isinstance(b, str) and not durationish
            ):
                return True, {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
            return False, None
        case ast.Call(function=fn) if fn in ("any", "all", "at_least", "count_true", "is_known"):
            args = [tuple(k) if isinstance(k, list) else k for k in kids]
            return True, FUNCTIONS[fn].impl(args)
    return False, None


def _node_problems(expr: ast.Expr, node: TraceNode, where: str, criteria: Mapping[str, Any],
                   inputs: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    children = ast.children(expr)
    if node.kind != expr.kind or len(node.children) != len(children):
        return [f"{where}: the trace of {node.text!r} does not mirror the expression"]
    problems: list[str] = []
    if isinstance(expr, ast.Name) and node.value != REDACTED:
        if node.ref == "criterion":
            expected: Any = criteria.get(expr.name)
        elif node.ref == "input":
            expected = inputs.get(expr.name)
        elif node.ref == "parameter":
            expected = params.get(expr.name)
        else:
            return [f"{where}: {expr.name!r} has no reference kind in the trace"]
        if node.value != expected:
            problems.append(f"{where}: {expr.name} is {node.value!r} in the trace, "
                            f"but the {node.ref} is {expected!r}")
    known, value = _recompute(expr, node)
    if known and node.value != value:
        problems.append(f"{where}: {node.text!r} is {node.value!r} in the trace, but its "
                        f"operands give {value!r}")
    for child_expr, child in zip(children, node.children, strict=False):
        problems += _node_problems(child_expr, child, where, criteria, inputs, params)
    return problems


def trace_problems(cs: ast.CriteriaSet, record: Mapping[str, Any], result: Result) -> list[str]:
    """Every disagreement between ``result``, its trace and a recomputation from the trace's own
    values: each node's value from its operands, names from the record and parameters, each
    criterion from its expression's root, each rule from its root, and the outcome, the possible
    outcomes and the chosen mark from the rules' values (first true rule after false ones)."""
    trace = result.trace
    if trace is None:
        return ["the result has no trace"]
    problems: list[str] = []
    inputs, _ = validate_record(cs, record, strict=False, ignore=_extra(cs, record))
    inputs_json = {k: to_json(v) for k, v in inputs.items()}
    params = {p.name: to_json(p.value) for p in cs.parameters}
    traced = {c.name: c.value for c in trace.criteria}
    if list(traced) != [c.name for c in cs.criteria]:
        problems.append("the trace does not list the set's criteria in order")
    if traced != dict(result.criteria):
        problems.append(f"criteria in the trace {traced} differ from the result's "
                        f"{dict(result.criteria)}")
    for c in trace.criteria:
        criterion = cs.criterion(c.name)
        if c.value != c.expression.value:
            problems.append(f"criterion {c.name} is {c.value!r} but its expression is "
                            f"{c.expression.value!r}")
        if criterion is not None:
            problems += _node_problems(criterion.expr, c.expression, f"criterion {c.name}",
                                       traced, inputs_json, params)
    tried = [r for r in trace.rules if r.expression is not None]
    expected_ids = [r.id for r in cs.rules[: len(tried)]]
    if [r.outcome for r in tried] != expected_ids:
        problems.append(f"rules tried {[r.outcome for r in tried]}, expected {expected_ids}")
    values = [r.value for r in tried]
    for rule_trace, rule in zip(tried, cs.rules, strict=False):
        if rule_trace.expression is not None and rule_trace.value != rule_trace.expression.value:
            problems.append(f"rule {rule_trace.outcome} is {rule_trace.value!r} but its "
                            f"expression is {rule_trace.expression.value!r}")
        if rule.when is not None and rule_trace.expression is not None:
            problems += _node_problems(rule.when, rule_trace.expression,
                                       f"rule {rule.id}", traced, inputs_json, params)
    if True in values[:-1]:
        problems.append("a rule was tried after a true rule")
    if len(tried) < len(cs.rules) and (not values or values[-1] is not True):
        problems.append("rules stopped before a true rule")
    possible: list[str] = []
    for rule_trace in tried:
        if rule_trace.value is True:
            possible.append(rule_trace.outcome)
            break
        if rule_trace.value is None:
            possible.append(rule_trace.outcome)
    else:
        possible.append(cs.otherwise.id)
    outcome = possible[0] if len(possible) == 1 else None
    if outcome != result.outcome:
        problems.append(f"the rules' values give outcome {outcome!r}, the result says "
                        f"{result.outcome!r}")
    if tuple(possible) != tuple(result.possible_outcomes):
        problems.append(f"the rules' values give possible outcomes {possible}, the result "
                        f"says {list(result.possible_outcomes)}")
    chosen = [r.outcome for r in trace.rules if r.chosen]
    if chosen != ([outcome] if outcome is not None else []):
        problems.append(f"the trace marks {chosen} as chosen, expected {outcome!r}")
    if outcome is not None and result.missing:
        problems.append("a decided result lists missing inputs")
    declared = {i.name for i in cs.inputs}
    if any(m not in declared or inputs.get(m) is not None for m in result.missing):
        problems.append(f"missing {list(result.missing)} names inputs that are not unknown")
    return problems


def check_trace_agreement(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                          seed: int | None = None, evaluator: Evaluator = evaluate) -> None:
    """The trace's values recompute to the reported criteria and outcome (see
    :func:`trace_problems`)."""
    strategy = records(cs, missing=0.3)

    def body(data: st.DataObject, state: _State) -> None:
        record = _draw(data, state, cs, strategy)
        problems = trace_problems(cs, record, evaluator(cs, record))
        if problems:
            raise _Violation("; ".join(problems[:3]), record)

    _run("trace agreement", cs, body, examples=examples, seed=seed, evaluator=evaluator)


# --- three-valued soundness ----------------------------------------------------------------


def _occurrences(cs: ast.CriteriaSet) -> list[tuple[ast.Expr, ast.Expr | None]]:
    """Every (node, parent) pair of every expression in the set."""
    out: list[tuple[ast.Expr, ast.Expr | None]] = []
    roots = [c.expr for c in cs.criteria] + [r.when for r in cs.rules if r.when is not None]
    for root in roots:
        stack: list[tuple[ast.Expr, ast.Expr | None]] = [(root, None)]
        while stack:
            node, parent = stack.pop()
            out.append((node, parent))
            stack.extend((child, node) for child in ast.children(node))
    return out


def knowledge_inputs(cs: ast.CriteriaSet) -> set[str]:
    """Inputs read by ``is_known``/``coalesce``: for them "unknown" means "absent", so
    completing them is not a refinement and soundness leaves them as they are."""
    out: set[str] = set()
    inputs = {i.name for i in cs.inputs}
    criteria = {c.name: c.expr for c in cs.criteria}
    for node, _ in _occurrences(cs):
        if isinstance(node, ast.Call) and node.function in _KNOWLEDGE:
            for arg in node.args:
                names = ast.names(arg)
                seen: set[str] = set()
                while names - seen:  # follow criteria to the inputs behind them
                    name = (names - seen).pop()
                    seen.add(name)
                    if name in criteria:
                        names |= ast.names(criteria[name])
                out |= names & inputs
    return out


def _is_constant(node: ast.Expr, params: set[str]) -> bool:
    if isinstance(node, ast.NumberLiteral | ast.StringLiteral | ast.DateLiteral
                  | ast.BooleanLiteral):
        return True
    if isinstance(node, ast.Negate):
        return _is_constant(node.operand, params)
    if isinstance(node, ast.Name):
        return node.name in params
    if isinstance(node, ast.ListExpr):
        return all(_is_constant(i, params) for i in node.items)
    return False


def covered_inputs(cs: ast.CriteriaSet) -> set[str]:
    """Inputs whose :func:`~koordrules.testing.strategies.representatives` meet every
    behaviour of the set: booleans, enums, and inputs only ever compared with constants (or
    tested for membership in a constant list)."""
    params = {p.name for p in cs.parameters}
    out = {i.name for i in cs.inputs if i.type in ("boolean", "enum")}
    simple = {i.name for i in cs.inputs if i.type in ("integer", "number", "date", "string")}
    for node, parent in _occurrences(cs):
        if not isinstance(node, ast.Name) or node.name not in simple:
            continue
        ok = False
        if isinstance(parent, ast.Compare):
            other = parent.right if parent.left is node else parent.left
            ok = _is_constant(other, params)
        elif isinstance(parent, ast.In) and parent.item is node:
            ok = _is_constant(parent.container, params)
        elif parent is None:
            ok = False
        if not ok:
            simple.discard(node.name)
    return out | simple


def _used_inputs(cs: ast.CriteriaSet) -> set[str]:
    used: set[str] = set()
    for node, _ in _occurrences(cs):
        if isinstance(node, ast.Name):
            used.add(node.name)
    return used


def check_soundness(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                    seed: int | None = None, evaluator: Evaluator = evaluate,
                    exhaustive_limit: int = EXHAUSTIVE_LIMIT) -> None:
    """Three-valued soundness of records with unknown inputs.

    A *completion* gives every unknown input a value. If the record is decided, every
    completion gives the same outcome. If it is undetermined, every completion gives one of
    ``possible_outcomes``, and ``missing`` is exactly the set of inputs *x* for which two
    completions differing only in *x* give different outcomes.

    When every unknown input is :func:`covered <covered_inputs>` and there are at most
    ``exhaustive_limit`` combinations of their representative values, all completions are
    enumerated and both directions of the ``missing`` claim are checked exactly. Otherwise one
    completion is drawn, and one input outside ``missing`` is changed in it: the outcome must
    not move (an input named in ``missing`` cannot be refuted by one sample). Inputs read by
    ``is_known``/``coalesce`` are left unknown (see :func:`knowledge_inputs`).
    """
    sensitive = knowledge_inputs(cs)
    covered = covered_inputs(cs)
    used = _used_inputs(cs)
    strategy = records(cs, missing=0.5)
    values = {i.name: input_values(cs, i.name) for i in cs.inputs}
    reps = {i.name: representatives(cs, i.name) for i in cs.inputs}

    def outcome_of(record: dict[str, Any]) -> str | None:
        return evaluator(cs, record, trace=False).outcome

    def body(data: st.DataObject, state: _State) -> None:
        record = _draw(data, state, cs, strategy)
        result = evaluator(cs, record, trace=False)
        unknown = [i.name for i in cs.inputs
                   if record.get(i.name) is None and i.name not in sensitive]
        claimed = set(result.missing) - sensitive
        if not claimed <= set(unknown):
            raise _Violation(f"missing {sorted(claimed)} names inputs the record knows", record)
        if result.outcome is not None and result.missing:
            raise _Violation("a decided result lists missing inputs", record)
        domains = {n: reps[n] if n in used else reps[n][:1] for n in unknown}
        size = math.prod(len(d) for d in domains.values())
        if all(n in covered or n not in used for n in unknown) and size <= exhaustive_limit:
            _exhaustive(record, result, unknown, domains, claimed, outcome_of)
            return
        completion = {n: data.draw(values[n]) for n in unknown}
        first = outcome_of({**record, **completion})
        if result.outcome is not None:
            if first != result.outcome:
                raise _Violation(f"decided {result.outcome!r}, but the completion "
                                 f"{completion} gives {first!r}", record)
            return
        if first is not None and first not in result.possible_outcomes:
            raise _Violation(f"the completion {completion} gives {first!r}, not one of "
                             f"{list(result.possible_outcomes)}", record)
        others = [n for n in unknown if n not in claimed]
        if others:
            x = data.draw(st.sampled_from(others))
            changed = {**completion, x: data.draw(values[x])}
            second = outcome_of({**record, **changed})
            if second != first:
                raise _Violation(f"{x!r} is not in missing, but changing it alone moves the "
                                 f"outcome from {first!r} to {second!r} ({completion} → "
                                 f"{changed})", record)

    _run("three-valued soundness", cs, body, examples=examples, seed=seed, evaluator=evaluator)


def _exhaustive(record: dict[str, Any], result: Result, unknown: list[str],
                domains: Mapping[str, list[Any]], claimed: set[str],
                outcome_of: Callable[[dict[str, Any]], str | None]) -> None:
    outcomes: dict[tuple[int, ...], str | None] = {}
    ranges = [range(len(domains[n])) for n in unknown]
    for combo in itertools.product(*ranges):
        completion = {n: domains[n][i] for n, i in zip(unknown, combo, strict=True)}
        outcome = outcome_of({**record, **completion})
        outcomes[combo] = outcome
        if result.outcome is not None and outcome != result.outcome:
            raise _Violation(f"decided {result.outcome!r}, but the completion {completion} "
                             f"gives {outcome!r}", record)
        if result.outcome is None and outcome is not None and (
            outcome not in result.possible_outcomes
        ):
            raise _Violation(f"the completion {completion} gives {outcome!r}, not one of "
                             f"{list(result.possible_outcomes)}", record)
    if result.outcome is not None:
        return
    relevant: set[str] = set()
    for position, name in enumerate(unknown):
        groups: dict[tuple[int, ...], set[str | None]] = {}
        for combo, outcome in outcomes.items():
            groups.setdefault(combo[:position] + combo[position + 1:], set()).add(outcome)
        if any(len(g) > 1 for g in groups.values()):
            relevant.add(name)
    if relevant != claimed:
        raise _Violation(f"missing is {sorted(claimed)}, but the inputs that can change the "
                         f"outcome are {sorted(relevant)}", record)


# --- declared monotonicity -----------------------------------------------------------------


def check_monotonicity(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                       seed: int | None = None, evaluator: Evaluator = evaluate,
                       declarations: Sequence[ast.Monotonicity] | None = None) -> None:
    """Each ``monotone`` declaration of the set holds on complete records: with
    ``direction: increasing``, turning any listed input from false to true never moves a record
    out of the outcome (``decreasing``: from true to false)."""
    for decl in cs.monotone if declarations is None else declarations:
        low, high = (False, True) if decl.direction == "increasing" else (True, False)
        pinned = {name: records(cs, fixed={name: low}) for name in decl.inputs}

        def body(data: st.DataObject, state: _State, decl: ast.Monotonicity = decl,
                 low: bool = low, high: bool = high,
                 pinned: dict[str, st.SearchStrategy[dict[str, Any]]] = pinned) -> None:
            name = data.draw(st.sampled_from(decl.inputs))
            record = _draw(data, state, cs, pinned[name])
            if evaluator(cs, record, trace=False).outcome != decl.outcome:
                return
            turned = {**record, name: high}
            after = evaluator(cs, turned, trace=False).outcome
            if after != decl.outcome:
                raise _Violation(f"turning {name} from {str(low).lower()} to "
                                 f"{str(high).lower()} moves the record from {decl.outcome!r} "
                                 f"to {after!r}", record)

        _run(f"monotonicity of {decl.outcome} ({decl.direction})", cs, body,
             examples=examples, seed=seed, evaluator=evaluator)


# --- narrowing and variants ----------------------------------------------------------------


def _pair_records(first: ast.CriteriaSet, second: ast.CriteriaSet,
                  missing: float) -> st.SearchStrategy[dict[str, Any]]:
    """Records over both sets' inputs; shared inputs take ``first``'s declaration."""
    return st.builds(lambda a, b: {**b, **a}, records(first, missing=missing),
                     records(second, missing=missing))


def _valid_for(cs: ast.CriteriaSet, record: Mapping[str, Any]) -> bool:
    try:
        validate_record(cs, record, ignore=_extra(cs, record))
    except InputError:
        return False
    return True


def check_narrowing(narrow: ast.CriteriaSet, wide: ast.CriteriaSet, *,
                    flagged: Collection[str] | None = None,
                    examples: int = DEFAULT_EXAMPLES, seed: int | None = None,
                    evaluator: Evaluator = evaluate) -> None:
    """Every complete record flagged by ``narrow`` is flagged by ``wide``.

    A record is *flagged* when its outcome is in ``flagged`` (default: any outcome rule of that
    set, i.e. anything but its ``otherwise``). Records cover both sets' inputs; each set
    ignores the inputs it does not declare.
    """
    flagged_narrow = set(flagged) if flagged is not None else {r.id for r in narrow.rules}
    flagged_wide = set(flagged) if flagged is not None else {r.id for r in wide.rules}
    strategy = _pair_records(narrow, wide, 0.0)

    def body(data: st.DataObject, state: _State) -> None:
        record = _draw(data, state, narrow, strategy)
        assume(_valid_for(wide, record))
        n = evaluator(narrow, record, trace=False, ignore=_extra(narrow, record)).outcome
        if n not in flagged_narrow:
            return
        w = evaluator(wide, record, trace=False, ignore=_extra(wide, record)).outcome
        if w not in flagged_wide:
            raise _Violation(f"{narrow.key} flags it ({n!r}) but {wide.key} does not ({w!r})",
                             record, narrow)

    _run(f"narrowing ({narrow.key} within {wide.key})", narrow, body, examples=examples,
         seed=seed, evaluator=evaluator)


def _shape(value: Any) -> str:
    """A JSON form of an AST item without positions, provenance or wording."""
    skip = {"span", "origin", "title", "description", "explanation", "source", "unit",
            "from_source", "kind_", "sentence"}

    def drop(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: drop(x) for k, x in v.items() if k not in skip}
        if isinstance(v, list):
            return [drop(x) for x in v]
        return v

    return json.dumps(drop(value.model_dump(mode="json")), sort_keys=True)


def touched_items(base: ast.CriteriaSet, variant: ast.CriteriaSet) -> tuple[set[str], set[str]]:
    """The criteria and outcome rules a variant's overrides touch: ``(criteria, outcomes)``.

    A parameter, input or criterion is *changed* when the variant declares it itself (its
    ``origin`` is the variant), adds it, drops it, or gives it a different definition (value,
    declaration or expression). A criterion is *touched* when it is changed or refers, directly
    or through other criteria, to a changed name. An outcome is touched when its rule is
    changed in the same sense, refers to a touched or changed name, is only in one of the two
    sets, or changes place relative to the untouched rules; ``otherwise`` is touched when its id
    or origin changes. Everything else is evaluated identically by construction, which is what
    :func:`check_variant` verifies.
    """
    def items(cs: ast.CriteriaSet) -> dict[str, Any]:
        found: list[ast.Parameter | ast.InputDecl | ast.Criterion] = [
            *cs.parameters, *cs.inputs, *cs.criteria]
        return {x.name: x for x in found}

    old, new = items(base), items(variant)
    changed = {n for n in old.keys() | new.keys()
               if n not in old or n not in new or _shape(old[n]) != _shape(new[n])
               or getattr(new[n], "origin", None) == variant.key}
    exprs = {c.name: c.expr for c in (*base.criteria, *variant.criteria)}
    touched_criteria = {c for c in exprs if c in changed}
    grew = True
    while grew:
        grew = False
        for cs in (base, variant):
            for c in cs.criteria:
                if c.name not in touched_criteria and ast.names(c.expr) & (
                    changed | touched_criteria
                ):
                    touched_criteria.add(c.name)
                    grew = True
    dirty = changed | touched_criteria
    old_rules = {r.id: r for r in base.rules}
    new_rules = {r.id: r for r in variant.rules}
    touched_rules: set[str] = set()
    for rid in old_rules.keys() | new_rules.keys():
        a, b = old_rules.get(rid), new_rules.get(rid)
        if a is None or b is None or _shape(a) != _shape(b) or b.origin == variant.key:
            touched_rules.add(rid)
            continue
        assert a.when is not None
        if ast.names(a.when) & dirty:
            touched_rules.add(rid)
    base_order = [r.id for r in base.rules if r.id not in touched_rules]
    variant_order = [r.id for r in variant.rules if r.id not in touched_rules]
    for i, (x, y) in enumerate(zip(base_order, variant_order, strict=False)):
        if x != y:
            touched_rules |= set(base_order[i:]) | set(variant_order[i:])
            break
    if (base.otherwise.id != variant.otherwise.id
            or variant.otherwise.origin == variant.key):
        touched_rules |= {base.otherwise.id, variant.otherwise.id}
    return touched_criteria, touched_rules


def check_variant(base: ast.CriteriaSet, variant: ast.CriteriaSet, *,
                  examples: int = DEFAULT_EXAMPLES, seed: int | None = None,
                  evaluator: Evaluator = evaluate) -> None:
    """A variant differs from its base only on records its overrides touch.

    A record *touches* the overrides when, under the base or under the variant, a touched
    outcome rule (see :func:`touched_items`) is tried and is not false, or the outcome could be a
    touched ``otherwise``. For every other record (unknowns included) both sets give the same
    outcome and possible outcomes, and every untouched criterion has the same value.
    """
    touched_criteria, touched_rules = touched_items(base, variant)

    def touches(result: Result) -> bool:
        assert result.trace is not None
        return any(r.outcome in touched_rules and (r.value is not False or r.chosen)
                   for r in result.trace.rules) or any(
            o in touched_rules for o in result.possible_outcomes)

    strategy = _pair_records(variant, base, 0.2)

    def body(data: st.DataObject, state: _State) -> None:
        record = _draw(data, state, variant, strategy)
        assume(_valid_for(base, record))
        b = evaluator(base, record, ignore=_extra(base, record))
        v = evaluator(variant, record, ignore=_extra(variant, record))
        if touches(b) or touches(v):
            return
        if (b.outcome, tuple(b.possible_outcomes)) != (v.outcome, tuple(v.possible_outcomes)):
            raise _Violation(f"no override touches the record, but {base.key} gives "
                             f"{b.outcome!r} and {variant.key} gives {v.outcome!r}", record,
                             variant)
        for name, value in b.criteria.items():
            if name not in touched_criteria and name in v.criteria and (
                v.criteria[name] != value
            ):
                raise _Violation(f"criterion {name} is not touched, but it is {value!r} in "
                                 f"the base and {v.criteria[name]!r} in the variant", record,
                                 variant)

    _run(f"variant ({variant.key} over {base.key})", variant, body, examples=examples,
         seed=seed, evaluator=evaluator)


# --- reachability --------------------------------------------------------------------------


def check_reachability(cs: ast.CriteriaSet, *, examples: int = DEFAULT_EXAMPLES,
                       seed: int | None = None, evaluator: Evaluator = evaluate) -> None:
    """Every outcome is the decided outcome of some record, and every criterion is true for
    some record and false for another.

    A sweep over ``examples`` records collects what is reached. For each goal still open a
    targeted search follows (``3 * examples`` records, no shrinking): for an outcome it steers
    hypothesis (``hypothesis.target``) towards records for which more of the rules before it
    are false, then more of the criteria those rules read; then a coordinate ascent over each
    input's :func:`~koordrules.testing.strategies.representatives` with the same score (three
    restarts). Goals no search reaches are reported as dead.
    """
    goals: set[tuple[str, Any]] = {("outcome", o.id) for o in cs.outcomes}
    goals |= {(c.name, v) for c in cs.criteria for v in (True, False)}
    rule_index = {o.id: i for i, o in enumerate(cs.outcomes)}

    def reached(result: Result) -> set[tuple[str, Any]]:
        out: set[tuple[str, Any]] = {("outcome", result.outcome)}
        out |= {(name, v) for name, v in result.criteria.items() if v is not None}
        return out

    seen: set[tuple[str, Any]] = set()
    sweeping, complete = records(cs, missing=0.1), records(cs)

    def sweep(data: st.DataObject, state: _State) -> None:
        record = _draw(data, state, cs, sweeping)
        seen.update(reached(evaluator(cs, record, trace=False)))

    _run("reachability", cs, sweep, examples=examples, seed=seed, evaluator=evaluator)

    def false_before(record: Mapping[str, Any], index: int) -> int:
        """How far a record is from letting rule ``index`` be reached: the rules before it that
        are false (weighted), then the criteria those rules read that are false."""
        interpreter = Interpreter(cs, validate_record(cs, record)[0])
        rules = [rule.when for rule in cs.rules[:index] if rule.when is not None]
        read: set[str] = set()
        for when in rules:
            read |= ast.names(when)
        criteria = {c.name: c for c in cs.criteria}
        frontier = read & set(criteria)
        while frontier:  # the criteria behind those criteria
            name = frontier.pop()
            more = ast.names(criteria[name].expr) & set(criteria) - read
            read |= more
            frontier |= more
        false_rules = sum(1 for when in rules if interpreter.evaluate(when) is False)
        false_criteria = sum(1 for name in read & set(criteria)
                             if interpreter.criterion(name) is False)
        return 1000 * false_rules + false_criteria

    def searcher(goal: tuple[str, Any]) -> Callable[[st.DataObject], None]:
        def search(data: st.DataObject) -> None:
            record = data.draw(complete if goal[0] == "outcome" else sweeping)
            got = reached(evaluator(cs, record, trace=False))
            seen.update(got)
            if goal in got:
                raise _Found
            if goal[0] == "outcome":
                target(false_before(record, rule_index[goal[1]]))

        return search

    domains = {i.name: representatives(cs, i.name) for i in cs.inputs}
    rng = random.Random(seed)

    def climb(goal: tuple[str, Any], restarts: int = 3, passes: int = 4) -> None:
        """Coordinate ascent over representative values, steered like the search above."""
        def score(record: dict[str, Any]) -> int:
            return false_before(record, rule_index[goal[1]]) if goal[0] == "outcome" else 0

        for _ in range(restarts):
            record = {n: rng.choice(values) for n, values in domains.items()}
            best = score(record)
            for _ in range(passes):
                improved = False
                for name, values in domains.items():
                    for value in values:
                        candidate = {**record, name: value}
                        got = reached(evaluator(cs, candidate, trace=False))
                        seen.update(got)
                        if goal in got:
                            return
                        if (points := score(candidate)) > best:
                            record, best, improved = candidate, points, True
                if not improved:
                    break

    for goal in sorted(goals, key=str):
        if goal in seen:
            continue
        runner = settings(_settings(3 * examples), phases=[Phase.generate, Phase.target])(
            given(st.data())(searcher(goal)))
        if seed is not None:
            runner = hypothesis_seed(seed)(runner)
        try:
            runner()
        except _Found:
            continue
        if goal not in seen:
            climb(goal)
    dead = [f"outcome {value!r} is never reached" if kind == "outcome"
            else f"criterion {kind} is never {str(value).lower()}"
            for kind, value in sorted(goals - seen, key=str)]
    if dead:
        raise PropertyFailure("reachability", cs.key,
                              f"dead after searching {3 * examples} records per goal: "
                              + "; ".join(dead))


class _Found(Exception):
    """Ends a reachability search early."""


# --- running everything --------------------------------------------------------------------


def _resolve_base(variant: ast.CriteriaSet,
                  sets: Sequence[ast.CriteriaSet]) -> ast.CriteriaSet | None:
    by_key = {cs.key: cs for cs in sets}
    found: list[ast.Parameter | ast.InputDecl | ast.Criterion | ast.OutcomeRule] = [
        *variant.parameters, *variant.inputs, *variant.criteria, *variant.outcomes]
    origins = {x.origin for x in found if x.origin and x.origin != variant.key}
    extends = variant.extends or ""
    set_id, _, version = extends.partition("@")
    for key in sorted(origins):
        if key in by_key and key.partition("@")[0] == set_id:
            return by_key[key]
    if extends in by_key:
        return by_key[extends]
    same = [cs for cs in sets if cs.id == set_id and cs.key != variant.key]
    if same and not version:
        return same[-1]
    return None


def _declared_narrowing(cs: ast.CriteriaSet) -> list[str]:
    """Refs a set declares itself narrower than (its ``narrows`` field)."""
    return list(cs.narrows)


def run_properties(
    sets: Sequence[ast.CriteriaSet],
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int | None = None,
    out: TextIO,
    narrowing: Iterable[tuple[str, str]] = (),
) -> int:
    """Run every applicable property for each set and print a report to ``out``.

    Per set: totality, determinism, trace agreement, three-valued soundness, reachability, each
    ``monotone`` declaration, and for a variant (``extends``) the variant property against its
    base when the base is among ``sets``. Narrowing is checked for each ``(narrower, wider)``
    pair of refs in ``narrowing`` and for sets that declare it; for consecutive versions of one
    id without a declaration the report says which way they relate, without failing.
    Returns 0 when everything holds, 1 otherwise.
    """
    failures = 0
    by_key = {cs.key: cs for cs in sets}

    def report(name: str, check: Callable[[], None]) -> None:
        nonlocal failures
        try:
            check()
        except PropertyFailure as ex:
            failures += 1
            print(f"  FAIL {name}", file=out)
            for line in str(ex).splitlines():
                print(f"       {line}", file=out)
        else:
            print(f"  ok   {name}", file=out)

    common: dict[str, Any] = {"examples": examples, "seed": seed}
    for cs in sets:
        print(f"{cs.key} ({examples} examples per property"
              + (f", seed {seed})" if seed is not None else ")"), file=out)
        report("totality", partial(check_totality, cs, **common))
        report("determinism", partial(check_determinism, cs, **common))
        report("trace agreement", partial(check_trace_agreement, cs, **common))
        report("three-valued soundness", partial(check_soundness, cs, **common))
        report("reachability", partial(check_reachability, cs, **common))
        for decl in cs.monotone:
            report(f"monotonicity: {decl.outcome} {decl.direction} in {', '.join(decl.inputs)}",
                   partial(check_monotonicity, cs, declarations=[decl], **common))
        if cs.extends:
            base = _resolve_base(cs, sets)
            if base is None:
                print(f"  skip variant: its base {cs.extends} is not among the sets", file=out)
            else:
                report(f"variant: differs from {base.key} only where it overrides",
                       partial(check_variant, base, cs, **common))
        for ref in _declared_narrowing(cs):
            wide = by_key.get(ref)
            if wide is None:
                print(f"  skip narrowing: {ref} is not among the sets", file=out)
                continue
            report(f"narrowing: within {ref}", partial(check_narrowing, cs, wide, **common))
    for narrow_ref, wide_ref in narrowing:
        if narrow_ref not in by_key or wide_ref not in by_key:
            print(f"skip narrowing {narrow_ref} within {wide_ref}: not among the sets", file=out)
            continue
        print(f"{narrow_ref} within {wide_ref}", file=out)
        report("narrowing", partial(check_narrowing, by_key[narrow_ref], by_key[wide_ref],
                                    **common))
    declared = {(cs.key, ref) for cs in sets for ref in _declared_narrowing(cs)}
    declared |= set(narrowing)
    ids = sorted({cs.id for cs in sets})
    for set_id in ids:
        versions = [cs for cs in sets if cs.id == set_id]
        for older, newer in itertools.pairwise(versions):
            if {(newer.key, older.key), (older.key, newer.key)} & declared:
                continue
            print(f"{newer.key} vs {older.key}: {_relation(older, newer, **common)}", file=out)
    print(f"{len(sets)} set(s): " + (f"{failures} property failure(s)" if failures
                                     else "all properties hold"), file=out)
    return 1 if failures else 0


def _relation(older: ast.CriteriaSet, newer: ast.CriteriaSet, *, examples: int,
              seed: int | None) -> str:
    """Which way two versions relate on sampled records (information only; three times the
    examples of one property, since only a counterexample settles it)."""
    examples *= 3
    narrower = wider = True
    try:
        check_narrowing(newer, older, examples=examples, seed=seed)
    except PropertyFailure:
        narrower = False
    try:
        check_narrowing(older, newer, examples=examples, seed=seed)
    except PropertyFailure:
        wider = False
    if narrower and wider:
        return "flag the same records (as far as sampled)"
    if narrower:
        return "narrower (everything the newer flags, the older flags; as far as sampled)"
    if wider:
        return "wider (everything the older flags, the newer flags; as far as sampled)"
    return "neither narrower nor wider (each flags records the other does not)"
