"""koordrules: declarative, explainable criteria for who needs a care coordinator.

The public API is what ``__all__`` lists; everything else may change without notice.
"""

from koordrules.ast import (
    CriteriaSet,
    Criterion,
    InputDecl,
    LocalText,
    OutcomeRule,
    Parameter,
    SetRef,
)
from koordrules.audit import AuditLog, decision_record, read_log, verify_decision
from koordrules.backends import UnsupportedError
from koordrules.cache import CacheInfo, cache_info, set_cache_budget
from koordrules.catalog import Catalog, load
from koordrules.compiler import Outcome, Program
from koordrules.compiler import compile_set as compile
from koordrules.engine import evaluate
from koordrules.errors import (
    AuditError,
    BackendError,
    CatalogError,
    CriteriaError,
    Diagnostic,
    EvalError,
    FhirPathError,
    FhirVersionError,
    InputError,
    InputProblem,
    KoordError,
    LoadError,
    NotEncodableError,
    ParseError,
    UndecidedError,
)
from koordrules.explain import render_text
from koordrules.impact import ImpactReport, diff
from koordrules.indicators import IndicatorReport, load_indicators
from koordrules.journal import JournalNote, journal_note, render_journal
from koordrules.loader import load_text
from koordrules.parser import parse_expression
from koordrules.result import Result
from koordrules.trace import CriterionTrace, ParameterTrace, RuleTrace, Trace, TraceNode

__version__ = "0.1.0"

__all__ = (
    "AuditError",
    "AuditLog",
    "BackendError",
    "CacheInfo",
    "Catalog",
    "CatalogError",
    "CriteriaError",
    "CriteriaSet",
    "Criterion",
    "CriterionTrace",
    "Diagnostic",
    "EvalError",
    "FhirPathError",
    "FhirVersionError",
    "ImpactReport",
    "IndicatorReport",
    "InputDecl",
    "InputError",
    "InputProblem",
    "JournalNote",
    "KoordError",
    "LoadError",
    "LocalText",
    "NotEncodableError",
    "Outcome",
    "OutcomeRule",
    "Parameter",
    "ParameterTrace",
    "ParseError",
    "Program",
    "Result",
    "RuleTrace",
    "SetRef",
    "Trace",
    "TraceNode",
    "UndecidedError",
    "UnsupportedError",
    "__version__",
    "cache_info",
    "compile",
    "decision_record",
    "diff",
    "evaluate",
    "journal_note",
    "load",
    "load_indicators",
    "load_text",
    "parse_expression",
    "read_log",
    "render_journal",
    "render_text",
    "set_cache_budget",
    "verify_decision",
)
