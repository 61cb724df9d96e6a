"""The result of evaluating one record: outcome, criteria values, what is missing, trace."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from koordrules.ast import SetRef
from koordrules.trace import Trace


class Result(BaseModel):
    """What a criteria set concluded for one record.

    ``outcome`` is ``None`` when the known data cannot decide it; then ``possible_outcomes``
    lists what it could still be and ``missing`` the unknown inputs that would decide it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    criteria_set: SetRef
    outcome: str | None
    possible_outcomes: tuple[str, ...]
    missing: tuple[str, ...]
    criteria: dict[str, bool | None]
    warnings: tuple[str, ...] = ()
    trace: Trace | None = None

    @property
    def decided(self) -> bool:
        return self.outcome is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back to an equal result."""
        return self.model_dump(mode="json", exclude_none=False)

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        return cls.model_validate(data)

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls.model_validate_json(text)
