"""The static description of a set's expression trees: every node of every criterion and rule
numbered in the interpreter's evaluation order, with what it reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from koordrules import ast
from koordrules.check import environment
from koordrules.errors import EvalError
from koordrules.typecheck import infer
from koordrules.types import Type


@dataclass(slots=True)
class Node:
    index: int
    node: ast.Expr
    kids: tuple[int, ...]
    text: str
    ref: str | None
    input: int | None  # input index for a Name that reads an input
    criterion: int | None  # criterion index for a Name that refers to a criterion
    reads: tuple[int, ...]  # input indices read by the sub-tree (sorted by input name)
    patient_data: bool


@dataclass(slots=True)
class Root:
    """A criterion's or rule's expression tree."""

    top: int
    reads: tuple[int, ...]
    cacheable: bool  # no list inputs under it
    numeric: tuple[int, ...]  # positions in ``reads`` of number inputs (ints only are cached)
    cache: dict[Any, Any]


class Layout:
    """Numbers every node of every criterion and rule, in the interpreter's evaluation order."""

    def __init__(self, cs: ast.CriteriaSet, order: Sequence[ast.Criterion]) -> None:
        self.cs = cs
        self.inputs = [d.name for d in cs.inputs]
        self.input_index = {n: i for i, n in enumerate(self.inputs)}
        self.params = {p.name: p.value for p in cs.parameters}
        self.criteria = [c.name for c in cs.criteria]
        self.criterion_index = {n: i for i, n in enumerate(self.criteria)}
        self.env = environment(cs)
        self.nodes: list[Node] = []
        self.criterion_roots: dict[int, Root] = {}
        for c in order:
            self.criterion_roots[self.criterion_index[c.name]] = self._root(c.expr, c.source)
        self.rule_roots: list[Root] = []
        for rule in cs.rules:
            assert rule.when is not None
            self.rule_roots.append(self._root(rule.when, rule.source or ""))

    def _root(self, expr: ast.Expr, source: str) -> Root:
        top = self._add(expr, source)
        reads = self.nodes[top].reads
        types = {d.name: d.type for d in self.cs.inputs}
        return Root(
            top=top,
            reads=reads,
            cacheable=all(types[self.inputs[i]] != "list" for i in reads),
            numeric=tuple(p for p, i in enumerate(reads) if types[self.inputs[i]] == "number"),
            cache={},
        )

    def _add(self, expr: ast.Expr, source: str) -> int:
        kids = tuple(self._add(k, source) for k in ast.children(expr))
        ref: str | None = None
        input_i = criterion_i = None
        reads: set[int] = set()
        for k in kids:
            reads.update(self.nodes[k].reads)
        if isinstance(expr, ast.Name):
            if expr.name in self.input_index:
                ref, input_i = "input", self.input_index[expr.name]
                reads.add(input_i)
            elif expr.name in self.params:
                ref = "parameter"
            elif expr.name in self.criterion_index:
                ref, criterion_i = "criterion", self.criterion_index[expr.name]
                reads.update(self.criterion_roots[criterion_i].reads)
            else:
                raise EvalError(f"unknown name {expr.name!r}", code="unknown_name")
        span = expr.span
        node = Node(
            index=len(self.nodes),
            node=expr,
            kids=kids,
            text=source[span.start:span.end] if span else "",
            ref=ref,
            input=input_i,
            criterion=criterion_i,
            reads=tuple(sorted(reads, key=lambda i: self.inputs[i])),
            patient_data=ref == "input" or bool(reads),
        )
        self.nodes.append(node)
        return node.index

    def type_of(self, expr: ast.Expr) -> Type:
        return infer(expr, self.env)[0]

