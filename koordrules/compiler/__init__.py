"""The compiled evaluation path: a criteria set turned once into Python functions.

:func:`compile_set` walks the *checked* syntax tree and generates Python source from it
(:mod:`.codegen`, lowering each operator through :mod:`koordrules.operators.python`): every
input becomes a local ``x<i>``, every criterion ``c<i>``, every sub-expression ``v<i>``
(numbered by :mod:`.layout`). No text from the criteria file is ever copied into the code, and
nothing from the file is executed. The source is compiled with the built-in ``compile`` into a
private namespace.

Two evaluation modes share the result of one compilation (:mod:`.program`):

* **outcome-only** (:meth:`Program.outcome`, ``Program.evaluate(..., trace=False)``): the
  connectives short-circuit (no operator raises), no trace object is built, and the inputs
  that would decide an undecided outcome (``missing``) are worked out only when the outcome
  is undecided;
* **traced** (``Program.evaluate(..., trace=True)``, :mod:`.traces`): every sub-expression of
  every criterion and of every rule tried is evaluated (as the interpreter does) and the trace
  is assembled from a static description of the tree, sharing immutable sub-trees.

Both modes give exactly the interpreter's :class:`~koordrules.result.Result` (tested with
hypothesis on every shipped set). Records are validated by a generated per-set check that
accepts only what :func:`koordrules.inputs.validate_record` accepts without a warning; any
other record goes through ``validate_record`` itself, so errors and warnings are the reference
ones.
"""

from koordrules.compiler.program import Outcome, Program, compile_set, compiled_or_none

__all__ = ("Outcome", "Program", "compile_set", "compiled_or_none")
