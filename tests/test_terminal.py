"""Text output cannot be steered by what it shows (koordrules/textguard.py).

ESC sequences, carriage returns, newlines and bidi controls from record values, ids and file
names reach the terminal only as ``\\uXXXX``: no colour, no cleared screen, no forged
``[JA]`` line. JSON output stays the same data (``\\uXXXX`` is a JSON escape).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import HEADER

import koordrules
from koordrules import load_text
from koordrules.cli import main
from koordrules.explain import render_text
from koordrules.impact import render_impact
from koordrules.textguard import escape, lines_text

SET = HEADER + """\
inputs:
  x: {type: integer, kind: data}
  s: {type: string, kind: data}
criteria:
  A:
    title: Stor
    when: x > 1 and s != "q"
outcomes:
  - id: likely
    title: Likely
    when: A
  - id: other
    title: Other
    otherwise: true
"""

FORGE = "a\x1b[2J\r\n  [JA] A \u2013 forged\u202e\x9b31m\u2028"
"""Clears the screen, returns the carriage, starts a new line that looks like a criterion."""


def _clean(text: str) -> None:
    for bad in ("\x1b", "\r", "\u202e", "\x9b", "\u2028"):
        assert bad not in text, repr(bad)
    assert not any(line.lstrip().startswith("[JA] A \u2013 forged")
                   for line in text.splitlines())


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    set_path = tmp_path / "set.yaml"
    set_path.write_text(SET, encoding="utf-8")
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps({"id": FORGE, "x": 5, "s": FORGE}) + "\n", encoding="utf-8")
    return set_path, records


def test_render_text_escapes_values_from_the_record() -> None:
    cs = load_text(SET)
    text = render_text(koordrules.evaluate(cs, {"x": 5, "s": FORGE}), verbose=True)
    _clean(text)
    assert "s = a\\u001b[2J\\u000d\\u000a  [JA] A \u2013 forged\\u202e\\u009b31m\\u2028" in text
    assert "[JA] A \u2013 Stor" in text  # the real line is still there


def test_explain_escapes_values_and_ids(files: tuple[Path, Path]) -> None:
    set_path, records = files
    code, out, err = run("explain", str(set_path), str(records), "--id-field", "id")
    assert code == 0, err
    _clean(out + err)
    assert out.startswith("record a\\u001b[2J\\u000d\\u000a")


def test_eval_json_output_is_the_same_data(files: tuple[Path, Path]) -> None:
    set_path, records = files
    code, out, err = run("eval", str(set_path), str(records), "--id-field", "id", "--trace")
    assert code == 0, err
    _clean(out)
    assert json.loads(out.splitlines()[0])["record_id"] == FORGE


def test_a_file_name_with_control_characters_is_escaped(tmp_path: Path) -> None:
    path = tmp_path / "bad\x1b[31m.yaml"
    path.write_text("a: [\n", encoding="utf-8")
    code, out, err = run("check", str(path))
    assert code == 1
    assert "\x1b" not in out + err and "bad\\u001b[31m.yaml" in out + err


def test_impact_text_escapes_record_ids() -> None:
    old = load_text(SET)
    new = load_text(SET.replace("version: 1.0.0", "version: 1.1.0").replace("x > 1", "x > 9"))
    report = koordrules.diff(old, new, [{"id": FORGE, "x": 5, "s": "b"}], id_field="id")
    _clean(render_impact(report))


def test_escape_keeps_ordinary_text() -> None:
    text = "Alder ≥ 18 år\tog «høy» risiko\nneste linje 🙂"
    assert escape(text) == text
    assert escape(text, one_line=True) == text.replace("\t", "\\u0009").replace("\n", "\\u000a")
    assert lines_text(["a\nb", "c"]) == "a\\u000ab\nc\n"
