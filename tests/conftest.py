"""Shared fixtures: the shipped Anbefaling 3 set and a helper that writes a criteria file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from koordrules import CriteriaSet, ast, load

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SET = ROOT / "criteria" / "helse-vest" / "anbefaling-3.yaml"

HEADER = """\
id: test/set
version: 1.0.0
title: Test set
status: draft
effective_from: 2024-01-01
source:
  document: Test document
"""
"""The fields every set needs; ``write_set(..., header=True)`` puts them in front of a body."""

HEADER_LINES = HEADER.count("\n")


def write_set(tmp_path: Path, yaml_text: str, *, name: str = "set.yaml",
              header: bool = False) -> Path:
    """Write ``yaml_text`` (prefixed with :data:`HEADER` when ``header``) and return its path."""
    path = tmp_path / name
    path.write_text((HEADER if header else "") + yaml_text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def shipped_set_path() -> Path:
    return SHIPPED_SET


@pytest.fixture(scope="session")
def shipped_set(shipped_set_path: Path) -> CriteriaSet:
    return load(shipped_set_path)


@pytest.fixture
def make_set(tmp_path: Path) -> Callable[..., Path]:
    """``make_set(body)`` writes a set file (header added) in a fresh folder and returns it."""

    def make(body: str, *, name: str = "set.yaml", header: bool = True) -> Path:
        return write_set(tmp_path, body, name=name, header=header)

    return make


def set_with_inputs(inputs: dict[str, str | dict[str, object]],
                    parameters: dict[str, object] | None = None) -> CriteriaSet:
    """A minimal set declaring ``inputs`` (``name: type`` or ``name: {type: enum, ...}``), to
    evaluate free-standing expressions against."""
    decls = []
    for name, spec in inputs.items():
        fields = {"type": spec} if isinstance(spec, str) else dict(spec)
        decls.append(ast.InputDecl(name=name, kind="data", **fields))  # type: ignore[arg-type]
    return CriteriaSet(
        id="test/expr", version="1.0.0", title=ast.LocalText(nb="Test"), status="draft",
        effective_from=dt.date(2024, 1, 1), source=ast.Source(document="Test"),
        parameters=tuple(ast.Parameter(name=n, value=v)  # type: ignore[arg-type]
                         for n, v in (parameters or {}).items()),
        inputs=tuple(decls),
        otherwise=ast.OutcomeRule(id="none", title=ast.LocalText(nb="None")),
        sha256="0" * 64,
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the HL7 CQL conformance figures when ``tests/test_cql.py`` ran."""
    import sys

    cql = sys.modules.get("test_cql")
    if cql is not None:
        for line in cql.summary_lines():
            terminalreporter.write_line(line)
