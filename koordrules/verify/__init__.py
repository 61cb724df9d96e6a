"""Proofs about criteria sets with an SMT solver (z3): the ``verify`` extra.

``import koordrules`` never imports this package; it needs ``pip install 'koordrules[verify]'``.
"""
