"""The typed, immutable syntax tree: expression nodes and the loaded criteria set.

Data only: no parsing, evaluation or I/O lives here. Every model is a frozen pydantic model
with ``extra="forbid"``; children are tuples, so a tree is hashable and round-trips through
JSON (expression nodes are discriminated on ``kind``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from koordrules.span import Span


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span | None = None


class BooleanLiteral(Node):
    kind: Literal["boolean"] = "boolean"
    value: bool


class NumberLiteral(Node):
    kind: Literal["number"] = "number"
    value: int | float


class StringLiteral(Node):
    kind: Literal["string"] = "string"
    value: str


class DateLiteral(Node):
    kind: Literal["date"] = "date"
    value: dt.date


class DurationLiteral(Node):
    kind: Literal["duration"] = "duration"
    amount: int
    unit: Literal["days", "weeks", "months", "years"]


class Name(Node):
    """A reference to an input, a parameter or another criterion (resolved by the checker)."""

    kind: Literal["name"] = "name"
    name: str


class ListExpr(Node):
    kind: Literal["list"] = "list"
    items: tuple[Expr, ...]


class Not(Node):
    kind: Literal["not"] = "not"
    operand: Expr


class Negate(Node):
    kind: Literal["negate"] = "negate"
    operand: Expr


class And(Node):
    kind: Literal["and"] = "and"
    operands: tuple[Expr, ...]


class Or(Node):
    kind: Literal["or"] = "or"
    operands: tuple[Expr, ...]


CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
ArithOp = Literal["+", "-", "*", "/"]


class Compare(Node):
    kind: Literal["compare"] = "compare"
    op: CompareOp
    left: Expr
    right: Expr


class Arith(Node):
    kind: Literal["arith"] = "arith"
    op: ArithOp
    left: Expr
    right: Expr


class In(Node):
    """``item in container`` (``negated`` for ``not in``); the container is a list."""

    kind: Literal["in"] = "in"
    item: Expr
    container: Expr
    negated: bool = False


class Call(Node):
    kind: Literal["call"] = "call"
    function: str
    args: tuple[Expr, ...]


class If(Node):
    """``if condition then then else else_``; an unknown condition gives unknown."""

    kind: Literal["if"] = "if"
    condition: Expr
    then: Expr
    else_: Expr


class Implies(Node):
    """``left implies right`` (Kleene: ``not left or right``)."""

    kind: Literal["implies"] = "implies"
    left: Expr
    right: Expr


class Xor(Node):
    """``left xor right``: unknown when either side is unknown."""

    kind: Literal["xor"] = "xor"
    left: Expr
    right: Expr


class Between(Node):
    """``operand between low and high``: ``operand >= low and operand <= high`` (Kleene)."""

    kind: Literal["between"] = "between"
    operand: Expr
    low: Expr
    high: Expr


Expr: TypeAlias = Annotated[
    BooleanLiteral
    | NumberLiteral
    | StringLiteral
    | DateLiteral
    | DurationLiteral
    | Name
    | ListExpr
    | Not
    | Negate
    | And
    | Or
    | Compare
    | Arith
    | In
    | Call
    | If
    | Implies
    | Xor
    | Between,
    Field(discriminator="kind"),
]

for _model in (ListExpr, Not, Negate, And, Or, Compare, Arith, In, Call, If, Implies, Xor,
               Between):
    _model.model_rebuild()


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node``, in source order."""
    match node:
        case ListExpr(items=items):
            return items
        case Not(operand=o) | Negate(operand=o):
            return (o,)
        case And(operands=ops) | Or(operands=ops):
            return ops
        case Compare(left=a, right=b) | Arith(left=a, right=b):
            return (a, b)
        case Implies(left=a, right=b) | Xor(left=a, right=b):
            return (a, b)
        case If(condition=c, then=t, else_=e):
            return (c, t, e)
        case Between(operand=x, low=lo, high=hi):
            return (x, lo, hi)
        case In(item=a, container=b):
            return (a, b)
        case Call(args=args):
            return args
    return ()


def walk(node: Expr) -> list[Expr]:
    """Every node of the tree, parents before children (iterative: safe for deep trees)."""
    out: list[Expr] = []
    stack: list[Expr] = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out


def names(node: Expr) -> set[str]:
    """All names an expression refers to."""
    return {n.name for n in walk(node) if isinstance(n, Name)}


# --- the loaded criteria set --------------------------------------------------------------


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalText(Model):
    """A text in Norwegian bokmål, optionally nynorsk and English."""

    nb: str
    nn: str | None = None
    en: str | None = None

    def get(self, lang: str) -> str:
        value = getattr(self, lang, None)
        return value if isinstance(value, str) and value else self.nb


InputType = Literal["boolean", "integer", "number", "string", "date", "enum", "list"]
ItemType = Literal["boolean", "integer", "number", "string", "date"]


class Source(Model):
    document: str
    chapter: str | None = None
    quote: str | None = None
    url: str | None = None


class ChangelogEntry(Model):
    version: str
    date: dt.date | None = None
    changes: str


class Parameter(Model):
    name: str
    value: bool | int | float | str | dt.date
    unit: str | None = None
    description: str | None = None
    from_source: bool = False
    origin: str | None = None
    span: Span | None = None


class InputDecl(Model):
    name: str
    type: InputType
    kind: Literal["data", "judgement"]
    description: str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    items: ItemType | None = None
    origin: str | None = None
    span: Span | None = None


class Criterion(Model):
    name: str
    title: LocalText
    description: str | None = None
    source: str
    """The expression as written in the file."""
    expr: Expr
    origin: str | None = None
    span: Span | None = None
    local_reading: LocalText | None = None
    """The set's own reading where the source leaves the criterion open (a local choice)."""


class OutcomeRule(Model):
    id: str
    title: LocalText
    explanation: LocalText | None = None
    source: str | None = None
    """The condition as written; ``None`` for the ``otherwise`` outcome."""
    when: Expr | None = None
    origin: str | None = None
    span: Span | None = None


class Monotonicity(Model):
    """A declared property: turning any of ``inputs`` from false to true never moves a record
    out of ``outcome`` (checked by :mod:`koordrules.testing`)."""

    outcome: str
    inputs: tuple[str, ...]
    direction: Literal["increasing", "decreasing"] = "increasing"


class SetRef(Model):
    """What a result records about the set that produced it."""

    id: str
    version: str
    sha256: str
    unreviewed: bool = False
    """``True`` only for a version served without being in its catalogue's lock
    (``Catalog.builtin(unlocked=True)``); left out of the JSON when ``False``."""

    @model_serializer(mode="wrap")
    def _drop_reviewed(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.unreviewed:
            data.pop("unreviewed", None)
        return data


class CriteriaSet(Model):
    """A loaded, checked criteria set. Immutable; build it with :func:`koordrules.load`."""

    id: str
    version: str
    title: LocalText
    status: Literal["draft", "active", "retired"]
    effective_from: dt.date
    source: Source
    notes: str | None = None
    changelog: tuple[ChangelogEntry, ...] = ()
    extends: str | None = None
    parameters: tuple[Parameter, ...] = ()
    inputs: tuple[InputDecl, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    rules: tuple[OutcomeRule, ...] = ()
    otherwise: OutcomeRule
    monotone: tuple[Monotonicity, ...] = ()
    narrows: tuple[str, ...] = ()
    """Sets (``id@version``) this one is declared narrower than (checked by the properties)."""
    file: str | None = None
    sha256: str
    unreviewed: bool = False
    """``True`` for a version served although its catalogue's lock does not record it (an
    explicit opt-in, :meth:`Catalog.builtin` with ``unlocked=True``); every result says so."""

    @property
    def ref(self) -> SetRef:
        return SetRef(id=self.id, version=self.version, sha256=self.sha256,
                      unreviewed=self.unreviewed)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def outcomes(self) -> tuple[OutcomeRule, ...]:
        """Every outcome, rules in order, then ``otherwise``."""
        return (*self.rules, self.otherwise)

    def input(self, name: str) -> InputDecl | None:
        return next((i for i in self.inputs if i.name == name), None)

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def criterion(self, name: str) -> Criterion | None:
        return next((c for c in self.criteria if c.name == name), None)
