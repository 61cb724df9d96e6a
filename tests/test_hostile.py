"""Hostile input (issue 16): every finding of the red-team, one test each.

Each bad criteria file or record gives a :class:`koordrules.KoordError` subclass with a clear
message (and a position where there is one); a bad record never hides the records after it.
Time and memory bounds of the size items are asserted in ``benchmarks/hostile_bench.py``,
not here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import HEADER, SHIPPED_SET

from koordrules import InputError, LoadError, load_text
from koordrules.cli import main
from koordrules.lock import LOCK_NAME, read_lock, update_lock, verify
from koordrules.records import read_records

BODY = """\
inputs:
  x: {type: number, kind: data}
  s: {type: string, kind: data}
criteria:
  A:
    title: big
    when: x * x > 1
outcomes:
  - id: likely
    title: Likely
    when: A
  - id: other
    title: Other
    otherwise: true
"""
SET_TEXT = HEADER + BODY


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def set_path(tmp_path: Path) -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(SET_TEXT, encoding="utf-8")
    return path


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _items(path: Path, set_path: Path) -> list[tuple[int, object]]:
    from koordrules import load

    return list(read_records(path, load(set_path)))


# --- criteria files (YAML) ---------------------------------------------------------------


def _load_error(text: str) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_text(text, file="hostile.yaml")
    assert info.value.span is not None, str(info.value)
    assert info.value.file == "hostile.yaml"
    return info.value


def test_yaml_integer_over_4300_digits_is_a_load_error_at_the_number() -> None:
    err = _load_error(SET_TEXT + "notes: " + "9" * 5000 + "\n")
    assert err.code == "number_too_large"
    assert "4300 digits" in err.message
    assert err.span is not None and err.span.line == SET_TEXT.count("\n") + 1


@pytest.mark.parametrize("date", ["2024-02-30", "2023-02-29", "2024-13-01"])
def test_yaml_impossible_date_is_a_load_error_at_the_date(date: str) -> None:
    err = _load_error(SET_TEXT.replace("2024-01-01", date))
    assert err.code in ("yaml_value", "schema_error")
    assert err.span is not None and err.span.line == 5


def test_yaml_impossible_timestamp_day_out_of_range() -> None:
    err = _load_error(SET_TEXT.replace("2024-01-01", "2024-02-30"))
    assert err.code == "yaml_value"
    assert "2024-02-30" in err.message and "not a valid date" in err.message


def test_yaml_unpaired_surrogate_escape_is_a_load_error() -> None:
    err = _load_error(SET_TEXT.replace("title: big", 'title: "a\\ud800b"'))
    assert err.code == "yaml_value"
    assert "surrogate" in err.message
    assert err.span is not None and (err.span.line, err.span.column) == (13, 12)


def test_yaml_surrogate_pair_escape_is_one_character() -> None:
    cs = load_text(SET_TEXT.replace("title: big", 'title: "\\ud83d\\ude00"'))
    assert cs.criteria[0].title.get("nb") == "\U0001f600"
    assert len(cs.sha256) == 64


def test_yaml_150000_top_level_keys_are_refused_while_reading() -> None:
    err = _load_error("".join(f"k{i}: 1\n" for i in range(150_000)))
    assert err.code == "too_large"
    assert "more than 10000 entries" in err.message
    assert err.span is not None and err.span.line == 10_001


def test_yaml_too_many_values_are_refused_while_reading() -> None:
    err = _load_error("a: [" + ", ".join("1" for _ in range(60_000)) + "]\n")
    assert err.code == "too_large"
    assert "more than 50000 values" in err.message


@pytest.mark.parametrize("text", ["[" * 100_000, "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
                                  "a:\n" + "".join("  " * i + "- \n" for i in range(1, 300))])
def test_yaml_nested_too_deeply_has_a_position(text: str) -> None:
    err = _load_error(text)
    assert err.code == "too_large"
    assert "nested more than 100 levels" in err.message


# --- record files ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["json", "jsonl"])
def test_record_integer_over_4300_digits(tmp_path: Path, set_path: Path, suffix: str) -> None:
    path = _write(tmp_path, f"r.{suffix}", '{"x": ' + "9" * 5000 + "}\n")
    code, out, err = run("eval", str(set_path), str(path))
    assert code == 1
    assert "bad_record: a number has more than 4300 digits" in err
    assert "9999" not in out + err


def test_json_lines_keep_every_record_after_a_bad_one(tmp_path: Path, set_path: Path) -> None:
    lines = ['{"x": ' + "9" * 5000 + "}", '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}",
             '{"x": 2, "x": 3}', '{"x": 1, "s": "\\ud800"}', '{"x": NaN}', '{"x": 2}']
    path = _write(tmp_path, "r.jsonl", "\n".join(lines) + "\n" + '{"x": 0}\n')
    items = _items(path, set_path)
    assert [n for n, _ in items] == [1, 2, 3, 4, 5, 6, 7]
    errors = [r for _, r in items[:5]]
    assert all(isinstance(e, InputError) and e.span is not None for e in errors)
    assert [e.span.line for e in errors if isinstance(e, InputError) and e.span] == [1, 2, 3,
                                                                                    4, 5]
    assert items[5][1] == {"x": 2} and items[6][1] == {"x": 0}


def test_json_record_nested_100000_deep(tmp_path: Path, set_path: Path) -> None:
    path = _write(tmp_path, "r.json", '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code, _, err = run("eval", str(set_path), str(path))
    assert code == 1 and "nested too deeply" in err


def test_json_record_nested_past_the_depth_limit(tmp_path: Path, set_path: Path) -> None:
    path = _write(tmp_path, "r.jsonl", '{"x": ' + "[" * 40 + "]" * 40 + "}\n")
    [(_, item)] = _items(path, set_path)
    assert isinstance(item, InputError) and "nested more than 32 levels" in item.message


@pytest.mark.parametrize("suffix,content", [
    ("json", b'[{"x": 1}, {"x": 1, "s": "\xff"}, {"x": 2}]'),
    ("jsonl", b'{"x": 1}\n{"x": 1, "s": "\xff"}\n{"x": 2}\n'),
    ("csv", b"x,s\n1,a\n1,\xff\n2,b\n"),
])
def test_invalid_utf8_is_an_error_for_that_record_only(tmp_path: Path, set_path: Path,
                                                      suffix: str, content: bytes) -> None:
    items = _items(_write(tmp_path, f"r.{suffix}", content), set_path)
    assert len(items) == 3
    assert not isinstance(items[0][1], InputError)
    assert isinstance(items[1][1], InputError) and "not valid UTF-8" in items[1][1].message
    assert not isinstance(items[2][1], InputError)


def test_csv_cell_over_the_csv_limit(tmp_path: Path, set_path: Path) -> None:
    path = _write(tmp_path, "r.csv", "x,s\n1," + "a" * 200_000 + "\n2,b\n")
    items = _items(path, set_path)
    assert isinstance(items[0][1], InputError) and items[0][1].code == "bad_csv"
    assert "field limit" in items[0][1].message
    assert items[1][1] == {"x": 2, "s": "b"}


@pytest.mark.parametrize("command", [("eval", "--trace"), ("explain",), ("eval",)])
def test_lone_surrogate_in_value_or_id_is_a_record_error(tmp_path: Path, set_path: Path,
                                                          command: tuple[str, ...]) -> None:
    path = _write(tmp_path, "r.jsonl", '{"x": 1, "s": "\\ud800", "id": "\\udfff"}\n'
                  '{"x": 2, "id": "b"}\n')
    code, out, err = run(command[0], str(set_path), str(path), *command[1:], "--id-field", "id")
    assert code == 1
    assert "record 1: bad_record" in err
    (out + err).encode("utf-8")  # nothing unencodable reached the output
    assert "likely" in out or "Likely" in out  # the second record was still evaluated


def test_json_duplicate_key_is_an_error(tmp_path: Path, set_path: Path) -> None:
    path = _write(tmp_path, "r.json", '[{"x": 1, "x": 2}, {"x": 2, "s": {"a": 1, "a": 2}}]')
    items = _items(path, set_path)
    assert all(isinstance(r, InputError) and "appears twice" in r.message for _, r in items)


def test_csv_duplicate_header_column_is_an_error(tmp_path: Path, set_path: Path) -> None:
    [(number, item)] = _items(_write(tmp_path, "r.csv", "x,s,x\n1,a,2\n"), set_path)
    assert number == 1 and isinstance(item, InputError)
    assert "'x' more than once" in item.message


@pytest.mark.parametrize("cell", ["1_000", "١٢", "１２", "inf", "nan", "0x10", " 1 2", "1e"])
def test_csv_numbers_follow_one_strict_grammar(tmp_path: Path, set_path: Path,
                                               cell: str) -> None:
    [(_, item)] = _items(_write(tmp_path, "r.csv", f"x,s\n{cell},a\n"), set_path)
    assert isinstance(item, InputError) and item.code == "bad_input_value"


@pytest.mark.parametrize("cell,value", [("12", 12), ("-3", -3), ("+4", 4), ("2.5", 2.5),
                                        (".5", 0.5), ("1e3", 1000.0), ("", None)])
def test_csv_numbers_in_the_grammar_are_read(tmp_path: Path, set_path: Path, cell: str,
                                             value: object) -> None:
    [(_, item)] = _items(_write(tmp_path, "r.csv", f"x,s\n{cell},a\n"), set_path)
    assert item == {"x": value, "s": "a"}


@pytest.mark.parametrize("row", ["1", "1,a,extra"])
def test_csv_short_and_long_rows_are_both_errors(tmp_path: Path, set_path: Path,
                                                 row: str) -> None:
    items = _items(_write(tmp_path, "r.csv", f"x,s\n{row}\n2,b\n"), set_path)
    assert isinstance(items[0][1], InputError) and items[0][1].code == "bad_csv"
    assert "cells but the header has 2 columns" in items[0][1].message
    assert items[1] == (3, {"x": 2, "s": "b"})


def test_json_array_is_streamed_record_by_record(tmp_path: Path, set_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from koordrules import records

    monkeypatch.setattr(records, "CHUNK", 7)  # every record crosses a chunk boundary
    rows = [{"x": i * 1234567, "s": "ø" * (i % 5)} for i in range(50)]
    path = _write(tmp_path, "r.json", json.dumps(rows, indent=1, ensure_ascii=False))
    items = _items(path, set_path)
    assert [r for _, r in items] == rows
    assert [n for n, _ in items] == list(range(1, 51))


@pytest.mark.parametrize("chunk", [5, 64, 1 << 20])
def test_json_array_errors_carry_their_line_across_chunks(tmp_path: Path, set_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          chunk: int) -> None:
    # each newline is counted once (counting from the chunk start for every record made a
    # 10 MB array take 480 µs a record; benchmarks/hostile_bench.py)
    from koordrules import records

    monkeypatch.setattr(records, "CHUNK", chunk)
    rows: list[object] = [[] if i % 4 == 3 else {"x": i, "s": "a\nb"} for i in range(40)]
    text = json.dumps(rows, indent=2)
    path = _write(tmp_path, "r.json", text)
    starts = [n + 1 for n, line in enumerate(text.splitlines())
              if line.rstrip(",") in ("  {", "  []")]
    items = _items(path, set_path)
    assert len(items) == 40
    bad = [(n, e.span.line) for n, e in items if isinstance(e, InputError) and e.span]
    assert bad == [(i + 1, starts[i]) for i in range(3, 40, 4)]


def test_json_array_syntax_error_keeps_the_records_before_it(tmp_path: Path,
                                                             set_path: Path) -> None:
    path = _write(tmp_path, "r.json", '[{"x": 1},\n {"x": 2}\n {"x": 3}]')
    items = _items(path, set_path)
    assert items[:2] == [(1, {"x": 1}), (2, {"x": 2})]
    err = items[2][1]
    assert isinstance(err, InputError) and err.code == "bad_json"
    assert err.span is not None and err.span.line == 3


def test_json_record_over_the_record_limit(tmp_path: Path, set_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from koordrules import records

    monkeypatch.setattr(records, "MAX_RECORD", 100)
    monkeypatch.setattr(records, "CHUNK", 16)
    path = _write(tmp_path, "r.json", '[{"x": 1}, {"s": "' + "a" * 500 + '"}]')
    items = _items(path, set_path)
    assert items[0] == (1, {"x": 1})
    assert isinstance(items[1][1], InputError) and items[1][1].code == "too_large"


def test_json_line_over_the_line_limit(tmp_path: Path, set_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from koordrules import records

    monkeypatch.setattr(records, "MAX_LINE", 50)
    path = _write(tmp_path, "r.jsonl", '{"s": "' + "a" * 500 + '"}\n{"x": 1}\n')
    items = _items(path, set_path)
    assert isinstance(items[0][1], InputError) and items[0][1].code == "too_large"
    assert items[1] == (2, {"x": 1})


_DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("chunk", [7, 1 << 20])
@pytest.mark.parametrize("bad,code", [
    ('{"x": ' + _DEEP + ', "s": "]}\\","}', "bad_record"),      # past Python's recursion limit
    ('{"s": "' + 'a\\"[{' * 100 + '"}', "too_large"),         # longer than MAX_RECORD
    ('{"x": 2 "s": "a"}', "bad_json"),                        # broken inside
])
def test_json_array_keeps_every_record_after_one_it_cannot_decode(
        tmp_path: Path, set_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, bad: str,
        code: str) -> None:
    from koordrules import records

    monkeypatch.setattr(records, "CHUNK", chunk)
    if code == "too_large":  # (a record is measured only when it does not fit in a chunk)
        monkeypatch.setattr(records, "MAX_RECORD", 300)
        monkeypatch.setattr(records, "CHUNK", 16)
    path = _write(tmp_path, "r.json", '[{"x": 1},\n' + bad + ',\n{"x": 3}, {"x": 4}]')
    items = _items(path, set_path)
    assert [n for n, _ in items] == [1, 2, 3, 4]
    error = items[1][1]
    assert isinstance(error, InputError) and error.code == code
    assert error.span is not None and error.span.line == 2
    assert [r for _, r in items[2:]] == [{"x": 3}, {"x": 4}]


def test_json_array_broken_inside_a_record_before_a_long_tail_is_that_records_error(
        tmp_path: Path, set_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the reader cannot tell a broken record from a long one until it has read MAX_RECORD
    from koordrules import records

    monkeypatch.setattr(records, "MAX_RECORD", 100)
    monkeypatch.setattr(records, "CHUNK", 16)
    tail = ",\n".join(json.dumps({"x": i}) for i in range(50))
    items = _items(_write(tmp_path, "r.json", '[{"x": 2 "s": "a"},\n' + tail + "]"), set_path)
    assert len(items) == 51
    error = items[0][1]
    assert isinstance(error, InputError) and error.code == "bad_json"
    assert "inside record 1" in error.message
    assert [r for _, r in items[1:]] == [{"x": i} for i in range(50)]


def test_json_array_that_ends_inside_a_deep_record_gives_one_error(tmp_path: Path,
                                                                   set_path: Path) -> None:
    items = _items(_write(tmp_path, "r.json", '[{"x": 1},\n{"x": ' + "[" * 100_000),
                   set_path)
    assert items[0] == (1, {"x": 1})
    assert [(n, getattr(e, "code", None)) for n, e in items[1:]] == [(2, "bad_record")]


def test_json_array_broken_where_no_record_can_end_gives_one_error(tmp_path: Path,
                                                                  set_path: Path) -> None:
    items = _items(_write(tmp_path, "r.json", '[{"x": 1},\n tru}, {"x": 3}]'), set_path)
    assert items[0] == (1, {"x": 1})
    assert [(n, getattr(e, "code", None)) for n, e in items[1:]] == [(2, "bad_json")]


@pytest.mark.parametrize("suffix", ["json", "jsonl"])
def test_diff_reads_past_a_huge_integer_and_deep_nesting(tmp_path: Path, set_path: Path,
                                                         suffix: str) -> None:
    bad = ['{"x": ' + "9" * 5000 + "}", '{"x": ' + _DEEP + "}"]
    rows = [*bad, '{"x": 3}']
    text = "[" + ",\n".join(rows) + "]" if suffix == "json" else "\n".join(rows) + "\n"
    new = _write(tmp_path, "new.yaml", SET_TEXT.replace("x * x > 1", "x * x > 100"))
    code, out, err = run("diff", str(set_path), str(new), str(_write(tmp_path, f"r.{suffix}",
                                                                      text)), "--format", "json")
    assert code == 1
    assert "more than 4300 digits" in err and "nested too deeply" in err
    assert json.loads(out)["total"] == 1  # the third record is still compared
    assert "9999" not in out + err


OVERFLOW_SET = HEADER + """\
inputs:
  n: {type: integer, kind: data}
  x: {type: number, kind: data}
criteria:
  A:
    title: big
    when: n * n > 1
  B:
    title: bigger
    when: x * x > 1
outcomes:
  - id: likely
    title: Likely
    when: A or B
  - id: other
    title: Other
    otherwise: true
"""


@pytest.mark.parametrize("command", [("eval", "--trace"), ("explain",),
                                     ("explain", "--format", "html")])
def test_arithmetic_past_64_bits_or_binary64_is_unknown_in_every_output(
        tmp_path: Path, command: tuple[str, ...]) -> None:
    # the red-team's `x * x` on a 4,300-digit integer: integers are 64-bit and numbers
    # binary64, so the product overflows to unknown and no output holds a huge integer
    set_path = _write(tmp_path, "set.yaml", OVERFLOW_SET)
    rows = [{"n": 2**63 - 1, "x": 1.7e308}, {"n": -(2**63), "x": -1.7e308}]
    path = _write(tmp_path, "r.jsonl", "".join(json.dumps(r) + "\n" for r in rows)
                  + '{"x": ' + "9" * 4300 + "}\n")
    code, out, err = run(command[0], str(set_path), str(path), *command[1:])
    assert code == 1  # the 4,300-digit number is no finite binary64: that record's error
    assert "record 3: bad_input_value: input 'x' must be a finite number" in err
    assert "9" * 30 not in out + err
    if command[0] == "eval":
        *results, last = [json.loads(line) for line in out.splitlines()]
        assert last["error"]["code"] == "bad_input_value"
        assert [r["outcome"] for r in results] == [None, None]
        assert all(r["criteria"] == {"A": None, "B": None} for r in results)
    else:
        assert out.count("Likely") >= 2


# --- versions and stored results ---------------------------------------------------------


@pytest.fixture
def locked(tmp_path: Path) -> Path:
    """A locked catalogue holding the shipped (active) Anbefaling 3 in a sub-folder."""
    (tmp_path / "vest").mkdir()
    (tmp_path / "vest" / "a3.yaml").write_text(SHIPPED_SET.read_text(encoding="utf-8"),
                                               encoding="utf-8")
    assert update_lock(tmp_path).written
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("where", ["vest/a3.yaml", "vest", "."])
def test_check_consults_the_lock_for_any_path_inside_the_catalogue(locked: Path,
                                                                   where: str) -> None:
    _edit(locked / "vest" / "a3.yaml", "    value: 6\n", "    value: 9\n")
    code, out, _ = run("check", str(locked / where))
    assert code == 1
    assert "version_not_bumped" in out and f"{locked / 'vest' / 'a3.yaml'}:" in out


def test_check_of_a_file_reports_only_that_files_lock_problems(locked: Path) -> None:
    other = locked / "vest" / "other.yaml"
    other.write_text((locked / "vest" / "a3.yaml").read_text(encoding="utf-8")
                     .replace("id: helse-vest/anbefaling-3", "id: helse-vest/other"),
                     encoding="utf-8")
    code, out, _ = run("check", str(locked / "vest" / "a3.yaml"))
    assert "lock_missing" not in out
    code, out, _ = run("check", str(other))
    assert code == 1 and "lock_missing" in out


def test_a_locked_active_version_set_to_draft_cannot_be_redefined(locked: Path) -> None:
    before = (locked / LOCK_NAME).read_text(encoding="utf-8")
    assert '    status: "active"' in before
    a3 = locked / "vest" / "a3.yaml"
    _edit(a3, "status: active", "status: draft")
    _edit(a3, "    value: 6\n", "    value: 9\n")
    update = update_lock(locked)
    assert not update.written and [d.code for d in update.refused] == ["version_not_bumped"]
    assert "locked as active" in update.refused[0].message
    assert (locked / LOCK_NAME).read_text(encoding="utf-8") == before  # history kept
    code, out, _ = run("check", str(locked))
    assert code == 1 and "version_not_bumped" in out and "set back to draft" in out
    lock, _ = read_lock(locked / LOCK_NAME)
    assert lock.sets["helse-vest/anbefaling-3@1.0.2"].status == "active"


def test_a_lock_written_before_statuses_were_kept_still_reads(locked: Path) -> None:
    path = locked / LOCK_NAME
    path.write_text(path.read_text(encoding="utf-8").replace('    status: "active"\n', ""),
                    encoding="utf-8")
    assert verify(locked) == []
    update = update_lock(locked)
    assert update.written and '    status: "active"' in path.read_text(encoding="utf-8")


# --- memory (found by the large fuzz run) ------------------------------------------------


def test_records_on_the_slow_path_are_not_kept_alive() -> None:
    # the compiled validator raised one shared exception instance; each raise grew its
    # traceback, which kept every frame and every record alive (1.5 GB after 86,000 inputs)
    import gc
    import weakref

    from koordrules import evaluate

    class Record(dict[str, object]):  # not a plain dict: the validator sends it the slow way
        pass

    cs = load_text(SET_TEXT)
    refs = []
    for i in range(20):
        record = Record(x=i, s="a")
        refs.append(weakref.ref(record))
        assert evaluate(cs, record).outcome in ("likely", "other")
        del record
    gc.collect()
    assert [r for r in refs if r() is not None] == []


@pytest.mark.parametrize("bad_id", [["p1"], {"value": "p1"}, 7])
def test_fhir_patient_id_that_is_not_a_string_is_no_id(tmp_path: Path, bad_id: object) -> None:
    # found by the large fuzz run: a list or object as Patient.id was a TypeError
    from koordrules import KoordError, fhir

    source = Path(__file__).resolve().parent.parent / "examples" / "fhir" / "synthea"
    bundle = json.loads((source / "r4-deedra-lockman-teen.json").read_text(encoding="utf-8"))
    patients = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    second = json.loads(json.dumps(patients[0]))
    patients[0]["resource"]["id"] = bad_id
    bundle["entry"].append(second)
    path = _write(tmp_path, "bundle.json", json.dumps(bundle))
    try:
        record = fhir.read_patient_file(path)
    except KoordError as ex:
        assert ex.code == "fhir_several_patients"
    else:
        assert record.patient is not None


def test_fhir_json_with_an_integer_over_4300_digits_is_a_load_error(tmp_path: Path) -> None:
    # found by the large fuzz run (fhir-bundle seed=16 index=9685): a foreign ValueError
    from koordrules import fhir

    path = _write(tmp_path, "bundle.json", '{"resourceType": "Bundle", "total": '
                  + "9" * 5041 + "}")
    with pytest.raises(LoadError) as info:
        fhir.read_patient_file(path)
    assert info.value.code == "number_too_large" and "4300 digits" in info.value.message
