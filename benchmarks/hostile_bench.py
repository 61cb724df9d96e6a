"""Hostile input (issue 16): time and peak memory of every size item, against a baseline.

    python benchmarks/hostile_bench.py [--records-mb 100] [--check] [--json FILE]

Each case runs in its own process: a criteria file or record file built beforehand (by this
process, so building it is not measured), then one call to koordrules. Its time is that call
(without imports); its peak memory is the process's maximum resident set size (``wait4``).
Every case is compared with a baseline of the same kind in the same run:

- criteria files: ``koordrules.load`` of the shipped Anbefaling 3 (a well-formed file);
- record files: ``koordrules eval`` of 10,000 well-formed records in JSON lines.

The hostile cases are the size items of issue 16: 150,000 top-level keys, nesting 100,000
deep, a list of 950,000 values, a YAML bomb (anchors and aliases), a 1.9 MB string, a
5,000-digit integer, a 10 MB file; and in records: nesting 100,000 deep, a 5,000-digit
integer, a list of 400,000 values, a 900,000-character string, a record of 100,000 fields, a
200,000-character CSV cell, a 50 MB JSON line, and a ``--records-mb`` JSON array (read
record by record, so its memory does not grow with its size).

Each case must end with the expected result (a typed :class:`koordrules.KoordError` code, or
the records read). ``--check`` exits 1 unless every case has its expected result, its peak
memory stays within :data:`MEMORY_SLACK_MB` of its baseline, and its time within
:data:`TIME_BOUND_S` (the records array: within :data:`STREAM_RATIO` × the time per byte of
the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SET = ROOT / "criteria" / "helse-vest" / "anbefaling-3.yaml"
MEMORY_SLACK_MB = 64
"""How much more peak memory than its baseline a hostile case may take."""
TIME_BOUND_S = 5.0
"""Seconds a hostile case may take (its baseline takes well under one on a loaded machine)."""
STREAM_RATIO = 3.0
"""The big JSON array may take this many times the baseline's time per byte."""

SET_BODY = """\
id: bench/hostile
version: 1.0.0
title: Hostile bench
status: draft
effective_from: 2024-01-01
source:
  document: Issue 16 (hostile input)
inputs:
  x: {type: number, kind: data}
  s: {type: string, kind: data}
  tags: {type: list, items: string, kind: data}
criteria:
  A:
    title: big
    when: x > 1
outcomes:
  - id: likely
    title: Likely
    when: A
  - id: other
    title: Other
    otherwise: true
"""

JOB = r"""
import io, json, sys, time
sys.path.insert(0, {root!r})
kind, path, setfile = sys.argv[1], sys.argv[2], sys.argv[3]
import koordrules
from koordrules import KoordError
from koordrules.cli import main
if kind == "criteria":
    start = time.perf_counter()
    try:
        koordrules.load(path)
        outcome = "ok"
    except KoordError as ex:
        outcome = getattr(ex, "code", None) or type(ex).__name__
        if hasattr(ex, "diagnostics") and ex.diagnostics:
            outcome = ex.diagnostics[0].code
else:
    from koordrules.records import read_records
    cs = koordrules.load(setfile)
    start = time.perf_counter()
    if kind == "read":
        read, errors = 0, []
        for _, item in read_records(path, cs):
            if isinstance(item, KoordError):
                errors.append(item.code)
            else:
                read += 1
        outcome = f"{{read}} read" + "".join(f", {{e}}" for e in sorted(set(errors)))
    else:
        out, err = io.StringIO(), io.StringIO()
        code = main(["eval", setfile, path], out=out, err=err)
        lines = [json.loads(line) for line in out.getvalue().splitlines() if line]
        bad = sorted({{line.get("error", {{}}).get("code", "?") for line in lines
                      if "error" in line}})
        outcome = f"exit {{code}}, {{sum('error' not in l for l in lines)}} results" + (
            "".join(f", {{b}}" for b in bad) or (", " + err.getvalue().strip()[:60]
                                                  if code and not lines else ""))
seconds = time.perf_counter() - start
import resource
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "outcome": outcome, "rss_mb": rss_mb}}))
"""


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "criteria" (koordrules.load), "eval" (koordrules eval), "read" (read_records)
    suffix: str
    build: Callable[[Path], object]
    expect: str
    """A text the outcome must hold (an error code, or a count of results)."""
    group: str
    """The baseline it is compared with: the case of this group named "(baseline)"."""

    @property
    def is_baseline(self) -> bool:
        return self.name.endswith("(baseline)")


def _text(content: str) -> Callable[[Path], object]:
    return lambda path: path.write_text(content, encoding="utf-8")


def _yaml_bomb(path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path.write_text(SET_BODY + "\n".join(lines) + "\n", encoding="utf-8")


def _records(n: int) -> str:
    return "".join(json.dumps({"x": i % 3, "s": f"r{i}", "tags": ["a", "b"][: i % 3]}) + "\n"
                   for i in range(n))


def _json_array(megabytes: int) -> Callable[[Path], object]:
    def build(path: Path) -> None:
        record = '{"x": 2, "s": "' + "p" * 60 + '", "tags": ["a", "b", "c"]}'
        count = megabytes * 1_000_000 // (len(record) + 2)
        chunk = ",\n".join([record] * 10_000)
        with path.open("w", encoding="utf-8") as handle:
            handle.write("[\n")
            for done in range(0, count, 10_000):
                if done:
                    handle.write(",\n")
                handle.write(chunk if count - done >= 10_000
                             else ",\n".join([record] * (count - done)))
            handle.write("\n]\n")
    return build


def cases(records_mb: int) -> list[Case]:
    deep_yaml = SET_BODY + "notes: " + "[" * 100_000 + "\n"
    return [
        Case("criteria: shipped Anbefaling 3 (baseline)", "criteria", ".yaml",
             _text(SHIPPED_SET.read_text(encoding="utf-8")), "ok", "criteria"),
        Case("criteria: 150,000 top-level keys (1.3 MB)", "criteria", ".yaml",
             _text("".join(f"k{i}: 1\n" for i in range(150_000))), "too_large", "criteria"),
        Case("criteria: nested 100,000 deep", "criteria", ".yaml", _text(deep_yaml),
             "too_large", "criteria"),
        Case("criteria: a list of 950,000 values (1.9 MB)", "criteria", ".yaml",
             _text("a: [" + ",".join("1" * 950_000) + "]\n"), "too_large", "criteria"),
        Case("criteria: YAML bomb (9 levels of 9 aliases)", "criteria", ".yaml", _yaml_bomb,
             "yaml", "criteria"),
        Case("criteria: a 1.9 MB string", "criteria", ".yaml",
             _text(SET_BODY.replace("title: big", "title: " + "a" * 1_900_000)),
             "ok", "criteria"),
        Case("criteria: a 5,000-digit integer", "criteria", ".yaml",
             _text(SET_BODY + "notes: " + "9" * 5000 + "\n"), "number_too_large", "criteria"),
        Case("criteria: a 10 MB file", "criteria", ".yaml",
             _text(SET_BODY + "notes: |\n" + ("  " + "z" * 98 + "\n") * 100_000),
             "too_large", "criteria"),
        Case("records: 10,000 well-formed records, JSON lines (baseline)", "eval", ".jsonl",
             _text(_records(10_000)), "exit 0, 10000 results", "records"),
        Case("records: nested 100,000 deep", "eval", ".json",
             _text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"), "exit 1", "records"),
        Case("records: a 5,000-digit integer, then 9,999 good ones", "eval", ".jsonl",
             _text('{"x": ' + "9" * 5000 + "}\n" + _records(9_999)),
             "9999 results", "records"),
        Case("records: a list of 400,000 values", "eval", ".json",
             _text('[{"tags": [' + ",".join(['"a"'] * 200_000) + "]}]"), "0 results",
             "records"),
        Case("records: a 900,000-character string", "eval", ".jsonl",
             _text('{"s": "' + "a" * 900_000 + '"}\n' + _records(9_999)),
             "9999 results", "records"),
        Case("records: a record of 100,000 fields", "eval", ".json",
             _text("[{" + ",".join(f'"f{i}": 1' for i in range(100_000)) + "}]"),
             "0 results", "records"),
        Case("records: a 200,000-character CSV cell", "eval", ".csv",
             _text("x,s,tags\n1,a,\n1," + "b" * 200_000 + ",\n2,c,\n"), "2 results",
             "records"),
        Case("records: a 50 MB JSON line, then 9,999 good ones", "eval", ".jsonl",
             lambda p: p.write_text('{"s": "' + "a" * 50_000_000 + '"}\n' + _records(9_999),
                                    encoding="utf-8"),
             "9999 results, too_large", "records"),
        Case("records: a JSON array with a 100,000-deep and a 50 MB record, then 9,999 good "
             "ones", "eval", ".json",
             lambda p: p.write_text(
                 "[" + '{"x": ' + "[" * 100_000 + "]" * 100_000 + "},\n"
                 + '{"s": "' + "a" * 50_000_000 + '"},\n'
                 + ",\n".join(_records(9_999).splitlines()) + "]", encoding="utf-8"),
             "9999 results, bad_record, too_large", "records"),
        Case("records: a 10 MB JSON array, read record by record (baseline)", "read",
             ".json", _json_array(10), "read", "records-read"),
        Case(f"records: a {records_mb} MB JSON array, read record by record", "read", ".json",
             _json_array(records_mb), "read", "records-read"),
    ]


def _run(case: Case, path: Path, setfile: Path) -> dict[str, float | str]:
    job = JOB.format(root=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", job, case.kind, str(path), str(setfile)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"seconds": float("nan"), "rss_mb": float("nan"),
                "outcome": f"crashed: {proc.stderr.strip()[-300:]}"}
    result: dict[str, float | str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _environment() -> list[str]:
    import koordrules

    load = os.getloadavg()[0]
    return [f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            f"- machine: {platform.machine()}, {os.cpu_count()} cores, load average at "
            f"start {load:.1f}",
            f"- Python {platform.python_version()}, koordrules {koordrules.__version__}"]


def measure(records_mb: int) -> list[dict[str, object]]:
    """Run every case; each row has the figures and the ratios to its baseline."""
    rows: list[dict[str, object]] = []
    baselines: dict[str, dict[str, float | str]] = {}
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        setfile = Path(tmp) / "set.yaml"
        setfile.write_text(SET_BODY, encoding="utf-8")
        for n, case in enumerate(cases(records_mb)):
            path = Path(tmp) / f"case{n}{case.suffix}"
            # built in another process: a process started from this one starts with this
            # one's peak memory, so this one stays small
            subprocess.run([sys.executable, __file__, "--records-mb", str(records_mb),
                            "--build", str(n), str(path)], check=True)
            size = path.stat().st_size
            result = _run(case, path, setfile)
            path.unlink()
            if case.is_baseline:
                baselines[case.group] = {**result, "bytes": size}
            base = baselines[case.group]
            row: dict[str, object] = {
                "case": case.name, "bytes": size, "outcome": result["outcome"],
                "expected": case.expect, "seconds": result["seconds"],
                "rss_mb": result["rss_mb"], "baseline": case.is_baseline,
                "time_ratio": float(result["seconds"]) / float(base["seconds"]),
                "rss_ratio": float(result["rss_mb"]) / float(base["rss_mb"]),
                "rss_over_mb": float(result["rss_mb"]) - float(base["rss_mb"]),
                "per_byte_ratio": (float(result["seconds"]) / size)
                / (float(base["seconds"]) / float(base["bytes"])),
                "group": case.group,
            }
            row["ok"] = _within_bounds(case, row)
            rows.append(row)
            print(f"{case.name}: {result['outcome']} in {float(result['seconds']):.3f} s, "
                  f"{float(result['rss_mb']):.0f} MB", file=sys.stderr, flush=True)
    return rows


def _within_bounds(case: Case, row: dict[str, object]) -> bool:
    if case.expect not in str(row["outcome"]) or str(row["outcome"]).startswith("crashed"):
        return False
    if case.is_baseline:
        return True
    if float(str(row["rss_over_mb"])) > MEMORY_SLACK_MB:
        return False
    if case.group == "records-read":
        return float(str(row["per_byte_ratio"])) <= STREAM_RATIO
    return float(str(row["seconds"])) <= TIME_BOUND_S


def render(rows: list[dict[str, object]], command: str) -> str:
    lines = [f"Produced by `{command}`. Each case in its own process; time is the one call "
             "(no imports), memory the process's peak resident set. Ratios are to the "
             "baseline of the same kind in the same run.", "", *_environment(), ""]
    for group, title in (("criteria", "Criteria files (`koordrules.load`)"),
                         ("records", "Record files (`koordrules eval`)"),
                         ("records-read", "Big JSON array (`read_records`, streamed)")):
        lines += [f"| {title} | bytes | result | s | × baseline | peak MB | × baseline |"
                  " bound |", "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |"]
        for row in (r for r in rows if r["group"] == group):
            ratio = row["per_byte_ratio"] if group == "records-read" else row["time_ratio"]
            tag = "s/byte " if group == "records-read" and not row["baseline"] else ""
            lines.append(
                f"| {row['case']} | {row['bytes']:,} | {row['outcome']} | "
                f"{float(str(row['seconds'])):.3f} | {tag}{float(str(ratio)):.2f}× | "
                f"{float(str(row['rss_mb'])):.0f} | {float(str(row['rss_ratio'])):.2f}× | "
                f"{'ok' if row['ok'] else 'FAILED'} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records-mb", type=int, default=100,
                        help="size of the big JSON array in MB (default 100)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless every case has its result within its bounds")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--build", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        cases(args.records_mb)[int(args.build[0])].build(Path(args.build[1]))
        return 0
    rows = measure(args.records_mb)
    command = "python benchmarks/hostile_bench.py" + (
        f" --records-mb {args.records_mb}" if args.records_mb != 100 else "")
    print(render(rows, command))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    failed = [str(r["case"]) for r in rows if not r["ok"]]
    for name in failed:
        print(f"out of bounds: {name}", file=sys.stderr)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
