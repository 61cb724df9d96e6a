"""Deriving one input from a patient's resources, as its mapping entry says.

The steps are the same for every input, and none is specific to a clinical fact: select the
resources of one type (``where``), optionally their elements (``each``), place each in time
(``start``/``end`` against the as-of date and the ``window``), test its code against a value
set (``code``/``in``), then aggregate. Membership is three-valued: a resource whose date is
too imprecise, or whose code is in no system the value set knows, *may* count, and an
aggregate that depends on it is unknown with the reason — never a guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from koordrules.errors import FhirPathError
from koordrules.fhir import fhirpath
from koordrules.fhir.fhirpath import DateRange, NotADateError
from koordrules.fhir.identity import PatientRecord
from koordrules.fhir.mapfile import FhirMapping, InputSpec, parse_window
from koordrules.fhir.valuesets import Answer, ValueSet, _codings
from koordrules.values import add_duration


@dataclass(frozen=True)
class Derived:
    """One input derived from the bundle."""

    input: str
    aggregate: str
    value: Any
    """The value (``None`` = unknown)."""
    sources: tuple[str, ...] = ()
    """The bundle entries it was derived from (``entry[3]``)."""
    reason: str | None = None
    """Why the value is unknown, or a note on how it was found."""
    missing_resource: str | None = None
    """The resource type whose absence left the value unknown (or at its ``absent`` value)."""
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"aggregate": self.aggregate, "value": self.value,
                               "sources": list(self.sources)}
        if self.reason:
            out["reason"] = self.reason
        if self.missing_resource:
            out["missing_resource"] = self.missing_resource
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


class _Unknown(Exception):
    """The input cannot be decided; the message says why."""


@dataclass
class Context:
    record: PatientRecord
    as_of: dt.date
    mapping: FhirMapping


@dataclass
class _Item:
    where: str
    node: Any
    member: bool | None
    doubt: str | None = None
    """Why membership is unknown."""


@dataclass
class _Selection:
    items: list[_Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def sure(self) -> list[_Item]:
        return [i for i in self.items if i.member is True]

    def maybe(self) -> list[_Item]:
        return [i for i in self.items if i.member is None]

    def require_decided(self, inp: InputSpec) -> None:
        maybe = self.maybe()
        if maybe:
            raise _Unknown(_doubts(maybe, inp))


def _doubts(items: list[_Item], inp: InputSpec) -> str:
    reasons = sorted({i.doubt or "unknown" for i in items})
    return (f"{len(items)} {inp.resource} resource(s) may count or not: "
            + "; ".join(reasons))


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return True if a and b else None


def _first(values: list[Any]) -> Any:
    return values[0] if values else None


def _date_of(text: str | None, node: Any, variables: dict[str, Any]) -> DateRange | None:
    if text is None:
        return None
    return fhirpath.date_range(_first(fhirpath.evaluate(text, node, variables)))


def _covers(period: Any, day: dt.date) -> bool | None:
    if not isinstance(period, dict):
        return None
    try:
        start = fhirpath.date_range(period.get("start"))
        end = fhirpath.date_range(period.get("end"))
    except NotADateError:
        return None
    if (start and start[0] > day) or (end and end[1] < day):
        return False
    if (start and start[1] > day) or (end and end[0] < day):
        return None
    return True


def status_at(resource: dict[str, Any], day: dt.date) -> tuple[Any, bool]:
    """The resource's status on ``day`` from ``statusHistory`` (else ``status``), and
    whether that is certain."""
    history = resource.get("statusHistory")
    if isinstance(history, list):
        unsure = False
        for entry in history:
            if not isinstance(entry, dict):
                continue
            covers = _covers(entry.get("period"), day)
            if covers is True:
                return entry.get("status"), True
            unsure = unsure or covers is None
        if unsure:
            return resource.get("status"), False
    return resource.get("status"), True


def _in_time(ctx: Context, inp: InputSpec, node: Any, variables: dict[str, Any],
             lo: dt.date | None) -> tuple[bool | None, str | None]:
    """Whether ``node`` falls in the input's time frame, and why not known."""
    day = ctx.as_of
    if inp.status:
        status, sure = status_at(node, day)
        if not isinstance(status, str):
            return None, "no status"
        if status not in inp.status:
            return (False, None) if sure else (None, "the status on the as-of date is unclear")
    try:
        if inp.recorded is not None:
            rec = _date_of(inp.recorded, node, variables)
            if rec is not None and rec[0] > day:
                return False, None
            if rec is not None and rec[1] > day:
                return None, "the recorded date is too imprecise"
        if inp.start is None:
            return True, None
        start = _date_of(inp.start, node, variables)
        end = _date_of(inp.end, node, variables)
    except NotADateError as ex:
        return None, f"{ex} (the date cannot be read)"
    if start is None:
        if inp.undated == "unknown" or lo is not None:
            return None, "no start date"
        start = (dt.date.min, dt.date.min)
    if start[0] > day:
        return False, None
    result: bool | None = True if start[1] <= day else None
    doubt = "the start date is too imprecise" if result is None else None
    if inp.active and end is not None:
        # ended on or before the as-of date: not active any more
        ended = True if end[1] <= day else False if end[0] > day else None
        result = _and(result, None if ended is None else not ended)
        doubt = doubt or ("the end date is too imprecise" if ended is None else None)
    if lo is not None:
        if inp.window_test == "start":
            inside = True if start[0] > lo else False if start[1] <= lo else None
        else:
            inside = True if end is None or end[0] > lo else False if end[1] <= lo else None
        result = _and(result, inside)
        doubt = doubt or ("a date is too imprecise for the window" if inside is None else None)
    return result, doubt if result is None else None


def _element_on(inp: InputSpec, node: Any, variables: dict[str, Any],
                day: dt.date) -> tuple[bool | None, str | None]:
    """Whether an element (a participant) is current on ``day`` by its own dates."""
    try:
        start = _date_of(inp.each_start, node, variables)
        end = _date_of(inp.each_end, node, variables)
    except NotADateError as ex:
        return None, f"{ex} (an element's date cannot be read)"
    if (start and start[0] > day) or (end and end[1] <= day):
        return False, None
    if (start and start[1] > day) or (end and end[0] <= day):
        return None, "an element's date is too imprecise"
    return True, None


def _text_match(inp: InputSpec, concept: Any) -> bool:
    assert inp.text_fallback is not None
    texts = []
    for c in concept if isinstance(concept, list) else [concept]:
        if isinstance(c, dict):
            texts.append(str(c.get("text") or "").lower())
            texts += [str(cd.get("display") or "").lower() for cd in _codings(c)]
    fb = inp.text_fallback
    if any(w.lower() in t for w in fb.exclude for t in texts):
        return False
    return any(w.lower() in t for w in fb.contains for t in texts)


def _select(ctx: Context, inp: InputSpec, variables: dict[str, Any],
            lo: dt.date | None) -> _Selection:
    if inp.resource == "Patient":
        pairs = ([(ctx.record.patient_where or "Patient", ctx.record.patient)]
                 if ctx.record.patient is not None else [])
    else:
        pairs = ctx.record.of(inp.resource)
    valueset = ctx.mapping.valuesets.get(inp.in_) if inp.in_ else None
    selection = _Selection()
    fallback_used = 0
    for where, resource in pairs:
        if inp.where is not None and fhirpath.truthy(
                fhirpath.evaluate(inp.where, resource, variables)) is not True:
            continue
        in_time, when_doubt = _in_time(ctx, inp, resource, variables, lo)
        if in_time is False:
            continue
        nodes: Iterable[tuple[str, Any]] = [(where, resource)]
        if inp.each is not None:
            found = fhirpath.evaluate(inp.each, resource, variables)
            nodes = [(f"{where}.{inp.each.split('.')[0]}[{i}]", n) for i, n in enumerate(found)]
        for at, node in nodes:
            member: bool | None = in_time
            doubt = when_doubt
            if inp.each is not None and (inp.each_start or inp.each_end):
                on, why = _element_on(inp, node, variables, ctx.as_of)
                member, doubt = _and(member, on), doubt or why
            if valueset is not None and inp.code is not None:
                concept = fhirpath.evaluate(inp.code, node, variables)
                answer: Answer = valueset.classify(concept)
                if answer is None and inp.text_fallback is not None:
                    answer = _text_match(inp, concept)
                    fallback_used += answer is True
                if answer is None:
                    doubt = doubt or (f"coded only in systems the value set "
                                      f"{valueset.spec.id} does not know")
                member = _and(member, answer)
            selection.items.append(_Item(at, node, member, doubt))
    if fallback_used:
        selection.warnings.append(
            f"{fallback_used} {inp.resource} element(s) recognised by their text, not a code "
            "(the mapping's opt-in text_fallback); check them")
    return selection


def _numeric(value: Any, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unknown(f"{what} is not a number")
    return value


def _value_of(inp: InputSpec, item: _Item, variables: dict[str, Any]) -> Any:
    assert inp.value is not None
    return _first(fhirpath.evaluate(inp.value, item.node, variables))


def _with_range(inp: InputSpec, low: float, high: float) -> Any:
    if inp.range is None:
        if low != high:
            raise _Unknown("the value is too imprecise to decide")
        return low
    r = inp.range
    answers = {(r.min is None or v >= r.min) and (r.max is None or v <= r.max)
               for v in (low, high)}
    if len(answers) > 1:
        raise _Unknown("the value is too imprecise for the range")
    return answers.pop()


def _aggregate(ctx: Context, inp: InputSpec, sel: _Selection,
               variables: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
    kind = inp.aggregate
    sure = sel.sure()
    sources = tuple(i.where for i in sure)
    if kind == "exists":
        if sure:
            return True, sources[:1] if inp.range is None else sources
        sel.require_decided(inp)
        return False, ()
    if kind == "classify":
        return _classify(ctx, inp, sel)
    sel.require_decided(inp)
    if kind == "count":
        return _with_range(inp, len(sure), len(sure)), sources
    if not sure and kind != "count_distinct":
        if inp.otherwise is not None:
            return inp.otherwise, ()
        raise _Unknown(f"no {inp.resource} resource is selected")
    if kind == "count_distinct":
        keys: dict[str, str] = {}
        unnamed = []
        assert inp.value is not None
        for item in sure:
            found = [k for k in fhirpath.evaluate(inp.value, item.node, variables)
                     if k is not None and k != ""]
            if not found:
                unnamed.append(item.where)
            for key in found:
                keys.setdefault(str(key), item.where)
        if unnamed and inp.missing_value == "unknown":
            raise _Unknown(f"{len(unnamed)} selected {inp.resource} resource(s) have no "
                           f"{inp.value}")
        if unnamed:
            sel.warnings.append(f"{len(unnamed)} {inp.resource} resource(s) have no "
                                f"{inp.value}; they are not counted")
        n = len(keys)
        return _with_range(inp, n, n), tuple(sorted(keys.values()))
    if kind == "age_years":
        item = sure[0]
        try:
            born = fhirpath.date_range(_value_of(inp, item, variables))
        except NotADateError as ex:
            raise _Unknown(f"the birth date cannot be read: {ex}") from ex
        if born is None:
            raise _Unknown(f"{inp.value} is missing")
        if born[0] > ctx.as_of:
            raise _Unknown("the birth date is after the as-of date")
        low = fhirpath.years_between(born[1], ctx.as_of)
        high = fhirpath.years_between(born[0], ctx.as_of)
        return _with_range(inp, low, high), (item.where,)
    if kind == "months_until":
        best: float | None = None
        for item in sure:
            try:
                end = fhirpath.date_range(_value_of(inp, item, variables))
            except NotADateError as ex:
                raise _Unknown(f"an end date cannot be read: {ex}") from ex
            if end is None:
                if inp.open_ended is None:
                    raise _Unknown(f"a selected {inp.resource} has no end date")
                months = inp.open_ended
            elif end[1] < ctx.as_of:
                continue
            else:
                months = fhirpath.months_between(ctx.as_of, end[1])
            best = months if best is None else max(best, months)
        if best is None:
            if inp.otherwise is not None:
                return inp.otherwise, ()
            raise _Unknown(f"every selected {inp.resource} has ended")
        return _with_range(inp, best, best), sources
    values = []
    for item in sure:
        v = _value_of(inp, item, variables)
        if v is None:
            if inp.missing_value == "unknown":
                raise _Unknown(f"a selected {inp.resource} has no {inp.value}")
            continue
        values.append((item, v))
    if not values:
        raise _Unknown(f"no selected {inp.resource} has {inp.value}")
    if kind == "latest":
        def start_of(item: _Item) -> dt.date:
            rng = _date_of(inp.start, item.node, variables) if inp.start else None
            return rng[1] if rng else dt.date.min
        item, v = max(values, key=lambda iv: start_of(iv[0]))
        return v, (item.where,)
    numbers = [(_numeric(v, str(inp.value)), item) for item, v in values]
    chosen = min(numbers, key=lambda n: n[0]) if kind == "min" else max(numbers,
                                                                       key=lambda n: n[0])
    return _with_range(inp, chosen[0], chosen[0]), (chosen[1].where,)


def _classify(ctx: Context, inp: InputSpec, sel: _Selection) -> tuple[Any, tuple[str, ...]]:
    groups = list(inp.groups)
    if inp.pick == "max":
        groups.sort(key=lambda g: g.result, reverse=True)  # type: ignore[arg-type,return-value,unused-ignore]
    candidates = [i for i in sel.items if i.member is not False]
    for group in groups:
        vs: ValueSet = ctx.mapping.valuesets[group.in_]
        hits, doubtful = [], []
        for item in candidates:
            assert inp.code is not None
            answer = vs.classify(fhirpath.evaluate(inp.code, item.node, {}))
            if answer is True and item.member is True:
                hits.append(item.where)
            elif answer is not False:
                doubtful.append(item)
        if hits:
            return group.result, tuple(hits)
        if doubtful:
            raise _Unknown(f"{len(doubtful)} {inp.resource} resource(s) may be in "
                           f"{vs.spec.id} or not (imprecise dates, or codes in systems it "
                           "does not know)")
    if inp.otherwise is None:
        raise _Unknown(f"no {inp.resource} is in any of the groups")
    return inp.otherwise, ()


def derive(ctx: Context, name: str, inp: InputSpec) -> Derived:
    """The value of one input, with its sources, or unknown with the reason."""
    present = (ctx.record.patient is not None if inp.resource == "Patient"
               else bool(ctx.record.of(inp.resource)))
    if not present:
        reason = f"the bundle has no {inp.resource} resources"
        if inp.absent is not None:
            reason += "; the mapping's 'absent' value is used"
        return Derived(name, inp.aggregate, inp.absent, (), reason, inp.resource)
    lo = add_duration(ctx.as_of, -parse_window(inp.window)) if inp.window else None
    variables = {"asOf": ctx.as_of.isoformat(),
                 "windowStart": lo.isoformat() if lo else []}
    sel = _Selection()
    try:
        sel = _select(ctx, inp, variables, lo)
        value, sources = _aggregate(ctx, inp, sel, variables)
    except _Unknown as ex:
        return Derived(name, inp.aggregate, None, (), str(ex), warnings=tuple(sel.warnings))
    except FhirPathError as ex:
        return Derived(name, inp.aggregate, None, (), f"FHIRPath: {ex.message}",
                       warnings=tuple(sel.warnings))
    return Derived(name, inp.aggregate, value, sources, warnings=tuple(sel.warnings))
