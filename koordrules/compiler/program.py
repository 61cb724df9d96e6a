"""The compiled program: a checked criteria set turned once into Python functions.

See :mod:`koordrules.compiler` for the two evaluation modes; this module generates the
functions (through :mod:`koordrules.compiler.codegen`), validates records and runs the
outcome-only mode; the traced mode is :class:`koordrules.compiler.traces.TraceBuilder`.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from koordrules import ast
from koordrules.cache import cached, replace
from koordrules.check import evaluation_order
from koordrules.compiler.codegen import Gen, Slow, indent
from koordrules.compiler.layout import Layout
from koordrules.compiler.traces import TraceBuilder, new_result
from koordrules.errors import KoordError
from koordrules.evaluator import choose
from koordrules.inputs import MAX_KEYS, MAX_STRING, check_value, validate_record
from koordrules.names import require_good_names
from koordrules.result import Result
from koordrules.values import Value

if TYPE_CHECKING:
    from koordrules.backends import RowProblem, Table
    from koordrules.backends.stream import Progress, StreamSummary

_CHOICE_CACHE_LIMIT = 4096


class Outcome(NamedTuple):
    """The outcome-only answer for one record (no trace, no warnings)."""

    outcome: str | None
    possible_outcomes: tuple[str, ...]
    missing: tuple[str, ...]
    criteria: dict[str, bool | None]


_new_outcome: Callable[[tuple[Any, ...]], Outcome] = functools.partial(tuple.__new__, Outcome)


class Program(TraceBuilder):
    """A criteria set compiled for fast evaluation. Build it with :func:`compile_set`
    (``koordrules.compile``); programs are cached per set.

    :meth:`evaluate` has the contract of :func:`koordrules.evaluate` and gives equal results.
    """

    def __init__(self, cs: ast.CriteriaSet) -> None:
        """Compile ``cs``; a set whose names break the name policy is refused
        (:func:`koordrules.names.require_good_names`)."""
        require_good_names(cs)
        self.criteria_set = cs
        self.order = evaluation_order(cs)
        layout = Layout(cs, self.order)
        self._layout = layout
        self.input_names: tuple[str, ...] = tuple(layout.inputs)
        self.criteria_names: tuple[str, ...] = tuple(layout.criteria)
        self.outcome_ids: tuple[str, ...] = tuple(o.id for o in cs.outcomes)
        self._allowed = frozenset(self.input_names)
        self._allowed_with: dict[frozenset[str], frozenset[str] | None] = {}
        self._ref = cs.ref
        self._choices: dict[tuple[Value, ...], tuple[str | None, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self.source = self._generate()
        self._fast_outcome: Callable[..., Any]
        self._core_outcome: Callable[..., Any]
        self._core_values: Callable[..., Any]
        self._fast_inputs: Callable[..., Any]
        namespace = self._namespace()
        code = compile(self.source, f"<koordrules {cs.key}>", "exec")
        exec(code, namespace)  # the source is generated from the checked AST only
        self._fast_outcome = namespace["fast_outcome"]
        self._core_outcome = namespace["core_outcome"]
        self._core_values = namespace["core_values"]
        namespace["_general"] = self._general_outcome
        namespace["_ALLOWED"] = self._allowed
        self.outcome = namespace["outcome"]  # type: ignore[method-assign]
        self._fast_inputs = namespace["fast_inputs"]
        self._prepare_trace()

    # ---- generation ---------------------------------------------------------------------

    def _generate(self) -> str:
        layout = self._layout
        gen = Gen(layout)
        self._gen = gen
        xs = ", ".join(f"x{i}" for i in range(len(layout.inputs)))
        crits = "{" + "".join(f"{c!r}: c{i}, " for i, c in enumerate(layout.criteria)) + "}"

        body: list[str] = []
        for c in self.order:
            body.append(f"c{layout.criterion_index[c.name]} = {gen.expr(c.expr)}")
        rules = self.criteria_set.rules
        for r, rule in enumerate(rules):
            assert rule.when is not None
            body.append(f"r{r} = {gen.expr(rule.when)}")
            tried = "(" + "".join(f"r{j}, " for j in range(r + 1)) + ")"
            body.append(f"if r{r} is True: return {crits}, {tried}")
        tried = "(" + "".join(f"r{j}, " for j in range(len(rules))) + ")"
        body.append(f"return {crits}, {tried}")

        values: list[str] = []
        done: list[int] = []
        for c in self.order:
            i = layout.criterion_index[c.name]
            root = layout.criterion_roots[i]
            for k in range(len(done), root.top + 1):
                values.append(gen.node_statement(layout.nodes[k]))
                done.append(k)
            values.append(f"c{i} = v{root.top}")
        for r, root in enumerate(layout.rule_roots):
            for k in range(len(done), root.top + 1):
                values.append(gen.node_statement(layout.nodes[k]))
                done.append(k)
            values.append(f"r{r} = v{root.top}")
            vs = "(" + "".join(f"v{k}, " for k in done) + ")"
            tried = "(" + "".join(f"r{j}, " for j in range(r + 1)) + ")"
            values.append(f"if r{r} is True: return {vs}, {crits}, {tried}")
        vs = "(" + "".join(f"v{k}, " for k in done) + ")"
        tried = "(" + "".join(f"r{j}, " for j in range(len(rules))) + ")"
        values.append(f"return {vs}, {crits}, {tried}")

        decided: list[str] = [body_line for body_line in body
                              if body_line.startswith("c")]  # the criteria
        other = self.criteria_set.otherwise.id
        gen.bound = {}  # back to whole expressions (the all-nodes mode bound every node)
        for r, rule in enumerate(rules):
            assert rule.when is not None
            decided += [
                f"r{r} = {gen.expr(rule.when)}",
                f"if r{r} is not False:",
                f"    if r{r} is True: return _tnew(_Outcome, "
                f"({rule.id!r}, ({rule.id!r},), (), {crits}))",
                "    return _general(record, strict, ignore)",
            ]
        decided.append(f"return _tnew(_Outcome, ({other!r}, ({other!r},), (), {crits}))")

        check = gen.validator()
        outcome = [
            "def outcome(record, *, strict=True, ignore=_EMPTY):",
            "    if ignore:",
            "        return _general(record, strict, ignore)",
            "    allowed = _ALLOWED",
            "    try:",
            *indent(indent(check)),
            "    except _Slow:",
            "        return _general(record, strict, ignore)",
            *indent(decided),
        ]
        lines = [*outcome,
                 "def fast_outcome(record, allowed):", *indent(check), *indent(body),
                 f"def core_outcome({xs}):", *indent(body or ["pass"]),
                 f"def core_values({xs}):", *indent(values),
                 "def fast_inputs(record, allowed):", *indent(check),
                 f"    return ({''.join(f'x{i}, ' for i in range(len(layout.inputs)))})"]
        return "\n".join(lines) + "\n"

    def _namespace(self) -> dict[str, Any]:
        return {
            "__builtins__": {"len": len, "dict": dict, "int": int, "float": float,
                             "bool": bool, "str": str, "ValueError": ValueError,
                             "KeyError": KeyError},
            "_Slow": Slow,
            "_EMPTY": frozenset(),
            "_tnew": tuple.__new__,
            "_Outcome": Outcome,
            "_MAX_KEYS": MAX_KEYS,
            "_MAX_STRING": MAX_STRING,
            "_isfinite": math.isfinite,
            "_fromiso": dt.date.fromisoformat,
            "_date": dt.date,
            "_check_value": check_value,
            **self._gen.consts,
        }

    # ---- inputs -------------------------------------------------------------------------

    def _allowed_for(self, ignore: frozenset[str]) -> frozenset[str] | None:
        """The keys the fast validator accepts, or ``None`` when ``ignore`` hides an input."""
        if not ignore:
            return self._allowed
        found = self._allowed_with.get(ignore, self)
        if found is self:
            found = None if ignore & self._allowed else self._allowed | ignore
            if len(self._allowed_with) < 64:
                self._allowed_with[ignore] = found
        return found  # type: ignore[return-value]

    def _slow_inputs(self, record: Mapping[str, Any], strict: bool,
                     ignore: frozenset[str]) -> tuple[tuple[Value, ...], list[str]]:
        inputs, warnings = validate_record(self.criteria_set, record, strict=strict,
                                           ignore=ignore)
        return tuple(inputs.get(n) for n in self.input_names), warnings

    def inputs(self, record: Mapping[str, Any], *, strict: bool = True,
               ignore: frozenset[str] = frozenset()) -> tuple[tuple[Value, ...], list[str]]:
        """The validated input values in declaration order, and the warnings."""
        allowed = self._allowed_for(ignore)
        if allowed is not None:
            try:
                return self._fast_inputs(record, allowed), []
            except Slow:
                pass
        return self._slow_inputs(record, strict, ignore)

    # ---- outcome-only -------------------------------------------------------------------

    def _choose(self, tried: tuple[Value, ...]) -> tuple[str | None, tuple[str, ...]]:
        found = self._choices.get(tried)
        if found is None:
            found = choose(self.criteria_set, list(tried))
            if len(self._choices) < _CHOICE_CACHE_LIMIT:
                self._choices[tried] = found
        return found

    def _missing(self, values: tuple[Value, ...], tried: int) -> tuple[str, ...]:
        """The interpreter's ``unknown_inputs`` over the unknown rules tried."""
        layout = self._layout
        nodes = layout.nodes
        memo: dict[int, set[int]] = {}

        def drivers(k: int) -> set[int]:
            n = nodes[k]
            if values[k] is not None:
                return set()
            if n.input is not None:
                return {n.input}
            if n.criterion is not None:
                if n.criterion not in memo:
                    memo[n.criterion] = set()
                    memo[n.criterion] = drivers(layout.criterion_roots[n.criterion].top)
                return memo[n.criterion]
            out: set[int] = set()
            for kid in n.kids:
                out |= drivers(kid)
            return out

        found: set[int] = set()
        for root in layout.rule_roots[:tried]:
            if values[root.top] is None:
                found |= drivers(root.top)
        return tuple(sorted(layout.inputs[i] for i in found))

    def _run(self, record: Mapping[str, Any], strict: bool, ignore: frozenset[str]
             ) -> tuple[tuple[Value, ...], tuple[Value, ...], list[str], str | None,
                        tuple[str, ...], tuple[str, ...]]:
        """Outcome-only evaluation: criteria values, rule values tried, warnings, outcome,
        possible outcomes, missing."""
        allowed = self._allowed if not ignore else self._allowed_for(ignore)
        warnings: list[str] = []
        xs: tuple[Value, ...] | None = None
        if allowed is not None:
            try:
                crit, tried = self._fast_outcome(record, allowed)
            except Slow:
                xs, warnings = self._slow_inputs(record, strict, ignore)
                crit, tried = self._core_outcome(*xs)
        else:
            xs, warnings = self._slow_inputs(record, strict, ignore)
            crit, tried = self._core_outcome(*xs)
        choice = self._choices.get(tried)
        if choice is None:
            choice = self._choose(tried)
        outcome, possible = choice
        if outcome is None:
            if xs is None:
                xs = self.inputs(record, strict=strict, ignore=ignore)[0]
            values, _, tried = self._core_values(*xs)
            return crit, tried, warnings, None, possible, self._missing(values, len(tried))
        return crit, tried, warnings, outcome, possible, ()

    def _general_outcome(self, record: Mapping[str, Any], strict: bool,
                         ignore: Collection[str]) -> Outcome:
        crit, _, _, outcome, possible, missing = self._run(record, strict, _frozen(ignore))
        return _new_outcome((outcome, possible, missing, crit))

    def outcome(self, record: Mapping[str, Any], *, strict: bool = True,
                ignore: Collection[str] = frozenset()) -> Outcome:
        """Outcome-only evaluation of one record: outcome, possible outcomes, the inputs that
        would decide an undecided outcome, and each criterion's value; no trace is built.
        Invalid records raise :class:`~koordrules.errors.InputError` (``strict=False``:
        the bad values count as unknown, and the warnings are dropped)."""
        if not ignore:
            try:
                crit, tried = self._fast_outcome(record, self._allowed)
                choice = self._choices.get(tried)
                if choice is not None and choice[0] is not None:
                    return _new_outcome((choice[0], choice[1], (), crit))
            except Slow:
                pass
        crit, _, _, outcome, possible, missing = self._run(record, strict, _frozen(ignore))
        return _new_outcome((outcome, possible, missing, crit))

    # ---- evaluate -----------------------------------------------------------------------

    def evaluate(
        self,
        record: Mapping[str, Any],
        *,
        strict: bool = True,
        trace: bool = True,
        redact: bool = False,
        ignore: Collection[str] = frozenset(),
    ) -> Result:
        """Evaluate ``record``; the contract and the result of :func:`koordrules.evaluate`."""
        ignore = _frozen(ignore)
        if not trace:
            crit, _, warnings, outcome, possible, missing = self._run(record, strict, ignore)
            return new_result(self._ref, outcome, possible, missing, crit, tuple(warnings),
                              None)
        xs, warnings = self.inputs(record, strict=strict, ignore=ignore)
        return self._traced(xs, warnings, redact)

    def traces(self, data: Any, *, strict: bool = True, redact: bool = False,
               ignore: Collection[str] = frozenset()) -> Iterator[Result]:
        """Traced results for each record of ``data`` (anything
        :func:`koordrules.backends.iter_records` reads), produced one at a time: nothing
        is kept once the caller drops a result."""
        from koordrules.backends import iter_records

        for record in iter_records(data, self.criteria_set, strict=strict):
            yield self.evaluate(record, strict=strict, trace=True, redact=redact, ignore=ignore)

    def evaluate_batch(self, data: Any, *, backend: str = "python", strict: bool = True,
                       ignore: Collection[str] = frozenset(), id_field: str | None = None,
                       keep: Sequence[str] = (),
                       on_problem: Callable[[RowProblem], None] | None = None) -> Table:
        """Outcome-only evaluation of a cohort: one row per record with the outcome, each
        criterion's value and ``missing``: a polars DataFrame when polars is installed, else
        a list of dicts. ``id_field`` and ``keep`` name input columns carried to the front
        of each row. With ``strict=False``, a record of a file that cannot be read is left
        out and handed to ``on_problem`` (or summed up in one warning). See
        :mod:`koordrules.backends`."""
        from koordrules.backends import evaluate_batch

        return evaluate_batch(self, data, backend=backend, strict=strict,
                              ignore=_frozen(ignore), id_field=id_field, keep=tuple(keep),
                              on_problem=on_problem)

    def evaluate_stream(self, data: Any, output: Any, *, backend: str = "polars",
                        strict: bool = True, ignore: Collection[str] = frozenset(),
                        id_field: str | None = None, keep: Sequence[str] = (),
                        chunk_size: int = 100_000, on_error: str = "raise",
                        progress: Callable[[Progress], None] | None = None,
                        on_problem: Callable[[RowProblem], None] | None = None
                        ) -> StreamSummary:
        """Evaluate a cohort larger than memory chunk by chunk, writing the rows to
        ``output`` (a ``.parquet``/``.ndjson``/``.csv`` path or a function taking each
        chunk) as they go; returns the run's summary. See :mod:`koordrules.backends.stream`."""
        from koordrules.backends.stream import evaluate_stream

        return evaluate_stream(self, data, output, backend=backend, strict=strict,
                               ignore=_frozen(ignore), id_field=id_field, keep=tuple(keep),
                               chunk_size=chunk_size, on_error=on_error, progress=progress,
                               on_problem=on_problem)

    def sql(self, *, dialect: str = "duckdb", table: str = "records") -> str:
        """The set as one SQL query over ``table`` (see :mod:`koordrules.backends.sql`)."""
        from koordrules.backends.sql import to_sql

        return str(to_sql(self.criteria_set, dialect=dialect, table=table))

def _frozen(names: Collection[str]) -> frozenset[str]:
    return names if isinstance(names, frozenset) else frozenset(names)


_PROGRAMS_LIMIT = 64
_PROGRAM_BYTES = 16_384
_NODE_BYTES = 4_096


def compile_set(cs: ast.CriteriaSet) -> Program:
    """The compiled :class:`Program` of a loaded, checked set, kept per set object in the
    process-wide cache (:mod:`koordrules.cache`; least recently used sets go first)."""
    key = ("program", id(cs))
    found = cached(key, lambda: (cs, Program(cs)),
                   lambda e: _PROGRAM_BYTES + _NODE_BYTES * len(e[1]._layout.nodes))
    if found[0] is not cs:  # the id of a set collected since: compile this one
        found = (cs, Program(cs))
        replace(key, found, _PROGRAM_BYTES + _NODE_BYTES * len(found[1]._layout.nodes))
    return found[1]


_UNCOMPILABLE: dict[int, ast.CriteriaSet] = {}


def compiled_or_none(cs: ast.CriteriaSet) -> Program | None:
    """The compiled program of ``cs``, or ``None`` when it cannot be compiled (a set that was
    not checked, or an expression too deep for Python's compiler); callers then use the
    interpreter."""
    if _UNCOMPILABLE.get(id(cs)) is cs:
        return None
    try:
        return compile_set(cs)
    except (KoordError, SyntaxError, RecursionError, MemoryError):
        if len(_UNCOMPILABLE) >= _PROGRAMS_LIMIT:
            _UNCOMPILABLE.clear()
        _UNCOMPILABLE[id(cs)] = cs
        return None
