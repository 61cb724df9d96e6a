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
from koordrules.catalog import Catalog, load
from koordrules.compiler import Outcome, Program
from koordrules.compiler import compile_set as compile
from koordrules.engine import evaluate
from koordrules.errors import (
    CatalogError,
    CheckError,
    CriteriaError,
    Diagnostic,
    EvalError,
    InputError,
    KoordError,
    LoadError,
    ParseError,
    TypeCheckError,
)
from koordrules.impact import ImpactReport, diff
from koordrules.loader import load_text
from koordrules.parser import parse_expression
from koordrules.result import Result
from koordrules.trace import Trace, TraceNode

__version__ = "0.1.0"

__all__ = (
    "Catalog",
    "CatalogError",
    "CheckError",
    "CriteriaError",
    "CriteriaSet",
    "Criterion",
    "Diagnostic",
    "EvalError",
    "ImpactReport",
    "InputDecl",
    "InputError",
    "KoordError",
    "LoadError",
    "LocalText",
    "Outcome",
    "OutcomeRule",
    "Parameter",
    "ParseError",
    "Program",
    "Result",
    "SetRef",
    "Trace",
    "TraceNode",
    "TypeCheckError",
    "__version__",
    "compile",
    "diff",
    "evaluate",
    "load",
    "load_text",
    "parse_expression",
)
