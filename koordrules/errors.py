"""The library's exceptions and diagnostics.

Every error is a :class:`KoordError` with a stable ``code`` (tests and tools match on it), a
one-line ``message`` and, where there is one, a :class:`~koordrules.span.Span`. ``str(err)``
reads ``criteria/x.yaml:12:9: type_error: ...``, the format editors and CI logs understand.
Third-party exceptions (lark, PyYAML, pydantic) are translated at the boundary and chained.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from koordrules.span import Span

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a file: an error (the file cannot be used) or a warning."""

    severity: Severity
    code: str
    message: str
    span: Span | None = None
    file: str | None = None
    translations: tuple[tuple[str, str], ...] = ()
    """The message in other languages: ``(("nb", "..."), ("nn", "..."))``."""

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` when there is a translation, else the English one."""
        return dict(self.translations).get(lang, self.message)

    @property
    def location(self) -> str:
        if self.span is not None:
            return str(self.span)
        return self.file or "<input>"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.location}: {tag}{self.code}: {self.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return (self.file or "", 0, 0, self.code)
        return (self.span.file or "", self.span.line, self.span.column, self.code)


class KoordError(Exception):
    """Root of every exception raised by koordrules."""

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        span: Span | None = None,
        code: str | None = None,
        file: str | None = None,
        translations: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.translations = tuple(sorted((translations or {}).items()))
        self.span = span
        self.file = file if file is not None else (span.file if span else None)
        if code is not None:
            self.code = code

    def diagnostic(self, severity: Severity = "error") -> Diagnostic:
        return Diagnostic(severity, self.code, self.message, self.span, self.file,
                          self.translations)

    def __str__(self) -> str:
        return str(self.diagnostic())


class LoadError(KoordError):
    """A criteria or case file cannot be read: missing, empty, not YAML, or wrong shape."""

    code = "load_error"


class ParseError(KoordError):
    """An expression does not follow the grammar."""

    code = "parse_error"


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One problem with one field of a record. ``message`` names the field, never its value."""

    field: str | None
    """The record's key (``None`` for the record as a whole)."""
    code: str
    message: str


class InputError(KoordError):
    """A patient record does not match the set's declared inputs.

    ``problems`` lists every problem found in the record (field, code, message), not only the
    first; ``code`` and ``message`` are the first one's. No message contains an input value.
    """

    code = "input_error"

    def __init__(
        self,
        message: str,
        *,
        span: Span | None = None,
        code: str | None = None,
        file: str | None = None,
        field: str | None = None,
        problems: tuple[InputProblem, ...] = (),
    ) -> None:
        super().__init__(message, span=span, code=code, file=file)
        self.problems = problems or (InputProblem(field, self.code, message),)
        self.field = self.problems[0].field

    @classmethod
    def of(cls, problems: list[InputProblem]) -> InputError:
        """One error carrying every problem (the first gives ``code`` and ``message``)."""
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        return cls(first.message + more, code=first.code, field=first.field,
                   problems=tuple(problems))


class EvalError(KoordError):
    """Evaluation failed for a reason the checker could not rule out."""

    code = "eval_error"


class BackendError(EvalError):
    """A cohort backend (polars, DuckDB, …) failed on the data. The library it uses raised an
    error of its own; the message names only its kind, never the values that caused it."""

    code = "backend_failed"


class CatalogError(KoordError):
    """A set id or version is not in the catalogue, or a stored result does not match it."""

    code = "catalog_error"


class AuditError(KoordError):
    """A decision record cannot be written, read or verified (edited, unsigned, duplicate)."""

    code = "audit_error"


class FhirVersionError(LoadError):
    """FHIR input is not R4 (an STU3 or DSTU2 resource shape was recognised)."""

    code = "fhir_version"


class FhirPathError(KoordError):
    """A FHIRPath expression in a mapping is malformed, or failed while it was evaluated."""

    code = "fhirpath_error"


class CriteriaError(KoordError):
    """A criteria file has errors. ``diagnostics`` holds all of them, sorted by position."""

    code = "criteria_error"

    def __init__(self, diagnostics: list[Diagnostic], *, file: str | None = None) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        first = errors[0] if errors else None
        super().__init__(
            f"{len(errors)} error(s)" + (f"; first: {first.message}" if first else ""),
            span=first.span if first else None,
            file=file or (first.file if first else None),
        )

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


class UndecidedError(KoordError):
    """Something that needs a decided result (a journal note) was given an undecided one."""

    code = "undecided"


class NotEncodableError(KoordError):
    """A construct the proof encoding (:mod:`koordrules.verify`) cannot decide exactly; the
    sampled properties are used for it instead."""

    code = "not_encodable"
