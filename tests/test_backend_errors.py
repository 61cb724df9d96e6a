"""No patient value on standard error when a backend fails: a foreign library's exception is
translated at the boundary (``evaluate_batch``, ``evaluate``) into a typed error that names only
its kind. Each case runs the command line with distinctive marker values in the record."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import koordrules
from koordrules import BackendError, EvalError
from koordrules.cli import main

MARKERS = ("ZZMARKER777", "8888123")

SET = """\
id: test/backend-errors
version: 1.0.0
title: Backend errors
status: draft
effective_from: 2024-01-01
source:
  document: Test document
inputs:
  units: {type: integer, kind: data}
  months: {type: number, kind: data}
  code: {type: string, kind: data}
criteria:
  P:
    title: arithmetic
    when: units + 1 > 0 and months * 2 > 1 and code != "abc"
outcomes:
  - {id: flagged, title: flagged, when: P}
  - {id: rest, title: rest, otherwise: true}
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    criteria = tmp_path / "set.yaml"
    criteria.write_text(SET, encoding="utf-8")
    data = tmp_path / "records.jsonl"
    data.write_text(json.dumps({"units": 5, "months": 8888123, "code": "ZZMARKER777"}) + "\n"
                    + json.dumps({"units": 7, "months": 3, "code": "ZZMARKER777"}) + "\n",
                    encoding="utf-8")
    return criteria, data


def _cut_parquet(folder: Path) -> Path:
    """A Parquet file of marker values cut in half: the column engines' library (pyarrow)
    cannot read it and raises its own error (``ArrowInvalid``)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    whole, cut = folder / "whole.parquet", folder / "records.parquet"
    pq.write_table(pa.table({"units": [8888123, 5], "months": [8888123.5, 3.0],
                             "code": ["ZZMARKER777", "ZZMARKER777"]}), whole)
    body = whole.read_bytes()
    cut.write_bytes(body[: len(body) // 2])
    return cut


def _no_marker(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text


@pytest.mark.parametrize("backend", ["polars", "duckdb", "spark"])
@pytest.mark.parametrize("lenient", [False, True])
def test_a_column_backend_failure_prints_no_value(files: tuple[Path, Path], backend: str,
                                                  lenient: bool, tmp_path: Path) -> None:
    """A real failure of the backend's library, not a simulated one: every value is valid
    for its type (those are checked before any backend runs), but the file is damaged."""
    pytest.importorskip("polars")
    pytest.importorskip("duckdb")
    if backend == "spark":
        pytest.importorskip("pyspark")
    criteria, _ = files
    data = _cut_parquet(tmp_path)
    argv = [sys.executable, "-m", "koordrules.cli", "eval", str(criteria), str(data),
            "--backend", backend, *(["--lenient"] if lenient else [])]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1, run.stderr
    assert "backend_failed" in run.stderr and "Traceback" not in run.stderr
    _no_marker(run.stderr + run.stdout)


def _raise_with_values(*_: Any, **__: Any) -> Any:
    # what DuckDB says for an int64 overflow, quoting the values
    raise RuntimeError("Overflow in addition of INT64 (9223372036854775807 + 1) "
                       "for code ZZMARKER777")


@pytest.mark.parametrize("backend", ["python", "polars", "duckdb", "spark"])
def test_a_foreign_error_inside_any_backend_is_translated(
        files: tuple[Path, Path], backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The library raising inside the backend (DuckDB's execute, polars' collect, the
    compiled program) is simulated, with a message that quotes values; the translation at
    the boundaries (``evaluate_batch``, the command line's stream) is what is tested."""
    if backend != "python":
        pytest.importorskip("pyspark" if backend == "spark" else backend)
    module = __import__(f"koordrules.backends.{backend}", fromlist=["evaluate"])
    monkeypatch.setattr(module, "evaluate", _raise_with_values)
    # the command line streams in chunks through the engines' frame entry points
    for name in {"polars": ("evaluate_frame",), "duckdb": ("run", "Session")}.get(backend, ()):
        monkeypatch.setattr(module, name, _raise_with_values)
    criteria, data = files
    program = koordrules.compile(koordrules.load(criteria))
    with pytest.raises(BackendError) as info:
        program.evaluate_batch([{"units": 1, "months": 2.0, "code": "ZZMARKER777"}],
                               backend=backend)
    assert "RuntimeError" in info.value.message
    _no_marker(str(info.value))
    assert "9223372036854775807" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    if backend != "python":
        err = io.StringIO()
        code = main(["eval", str(criteria), str(data), "--backend", backend],
                    out=io.StringIO(), err=err)
        assert code == 1
        assert "backend_failed" in err.getvalue()
        _no_marker(err.getvalue())
        assert "9223372036854775807" not in err.getvalue()


def test_the_record_path_translates_foreign_errors(files: tuple[Path, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``eval`` with the default python backend evaluates record by record (engine façade)."""
    criteria, data = files
    cs = koordrules.load(criteria)
    program = koordrules.compile(cs)
    monkeypatch.setattr(type(program), "evaluate", _raise_with_values)
    with pytest.raises(EvalError) as info:
        koordrules.evaluate(cs, {"units": 1, "months": 2.0, "code": "ZZMARKER777"})
    assert info.value.code == "evaluation_failed"
    _no_marker(str(info.value))
    err = io.StringIO()
    code = main(["eval", str(criteria), str(data)], out=io.StringIO(), err=err)
    assert code == 1 and "evaluation_failed" in err.getvalue()
    _no_marker(err.getvalue())
    assert "9223372036854775807" not in err.getvalue()
