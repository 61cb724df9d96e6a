"""Source positions: where a piece of a criteria file starts and ends."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A region of a source file. Lines and columns are 1-based; ``end_column`` is exclusive.

    ``start`` and ``end`` are character offsets into the *expression* text the node came
    from, so a trace can show the exact source text of each sub-expression.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str | None = None
    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0
    end: int = 0

    def __str__(self) -> str:
        return f"{self.file or '<expr>'}:{self.line}:{self.column}"

    def shifted(self, *, file: str | None, line: int, column: int) -> Span:
        """Move an expression-relative span to where the expression sits in a file.

        ``line``/``column`` are the file position of the expression's first character.
        Columns move only on the expression's first line.
        """
        first = self.line == 1
        end_first = self.end_line == 1
        return self.model_copy(
            update={
                "file": file,
                "line": self.line + line - 1,
                "column": self.column + (column - 1 if first else 0),
                "end_line": self.end_line + line - 1,
                "end_column": self.end_column + (column - 1 if end_first else 0),
            }
        )


def render_snippet(source: str, span: Span, *, context: int = 0) -> str:
    """Return the source line(s) of ``span`` with a caret line under the start column."""
    lines = source.splitlines()
    if not 1 <= span.line <= len(lines):
        return ""
    first = max(1, span.line - context)
    out = [f"{n:>5} | {lines[n - 1]}" for n in range(first, span.line + 1)]
    width = (
        max(1, span.end_column - span.column) if span.end_line == span.line else 1
    )
    out.append("      | " + " " * (span.column - 1) + "^" * width)
    return "\n".join(out)
