"""Griffe extension for the API pages: Sphinx cross-reference roles → Markdown code spans.

koordrules' docstrings use reStructuredText roles (``:class:`~koordrules.ast.CriteriaSet```)
that mkdocstrings would show literally; this turns them into ``CriteriaSet`` (the last
component when the target starts with ``~``, as Sphinx does) and double backticks into single.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _plain(text: str) -> str:
    def code(match: re.Match[str]) -> str:
        target = match.group(2)
        return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"

    return _ROLE.sub(code, text).replace("``", "`")


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        todo: list[griffe.Object] = [pkg]
        while todo:
            obj = todo.pop()
            if obj.docstring is not None:
                obj.docstring.value = _plain(obj.docstring.value)
            todo += [m for m in obj.members.values() if not m.is_alias]  # type: ignore[misc]
