"""The operators of the expression language, defined once: the table (:mod:`.spec`), the
numeric and date model (:mod:`.numeric`), the reference implementations (:mod:`.reference`),
the function signatures (:mod:`.functions`) and the generated-Python lowering (:mod:`.python`).
"""

from koordrules.operators.functions import FUNCTIONS, Function
from koordrules.operators.spec import OPERATORS, OpSpec, missing, operator_name

__all__ = ("FUNCTIONS", "OPERATORS", "Function", "OpSpec", "missing", "operator_name")
