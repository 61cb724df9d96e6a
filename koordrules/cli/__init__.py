"""The ``koordrules`` command: check criteria files, evaluate records, explain results.

Exit codes: 0 success; 1 problems found (errors in a criteria file, a record that could not
be evaluated); 2 wrong usage. Messages about files read ``file:line:col: code: message``.
Input values are never written to standard error.

One module per group of subcommands; each has a ``register(sub)`` that adds its parsers.
A new subcommand is a new module here and one entry in ``_COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO, cast

import koordrules
from koordrules import KoordError
from koordrules.cli import cases, evaluate, explain, files, impact, verify
from koordrules.cli.common import EXIT_OK, EXIT_PROBLEMS, SafeStream

__all__ = ["build_parser", "main"]

# the order of the subcommands in --help
_COMMANDS = (
    files.register_check,
    evaluate.register,
    explain.register,
    cases.register,
    impact.register,
    files.register_lock,
    evaluate.register_sql,
    files.register_schema,
    verify.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="koordrules",
        description="Declarative, explainable criteria for who needs a care coordinator.")
    parser.add_argument("--version", action="version",
                        version=f"koordrules {koordrules.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in _COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    # everything written goes through the escaping stream (koordrules/textguard.py)
    out = cast(TextIO, SafeStream(out or sys.stdout))
    err = cast(TextIO, SafeStream(err or sys.stderr))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as ex:
        return int(ex.code or 0)
    if args.command in ("eval", "explain") and args.id_field:
        args.ignore = [*(args.ignore or ()), args.id_field]
    try:
        return int(args.run(args, out, err))
    except KoordError as ex:
        print(str(ex), file=err)
        return EXIT_PROBLEMS
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
