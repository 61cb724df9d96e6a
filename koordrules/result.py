"""The result of evaluating one record: outcome, criteria values, what is missing, trace."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from koordrules.ast import SetRef
from koordrules.errors import InputError, InputProblem
from koordrules.trace import Trace

RECORD_ID = "record_id"
"""The key ``koordrules eval`` adds to a stored result; accepted (and dropped) when reading."""


class MappingRef(BaseModel):
    """What a result records about the FHIR mapping that derived its inputs (id, version
    and content hash, which covers the value sets the mapping uses)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: str
    sha256: str
    as_of: dt.date | None = None
    """The date the facts were derived for (they depend on it)."""


class Result(BaseModel):
    """What a criteria set concluded for one record.

    ``outcome`` is ``None`` when the known data cannot decide it; then ``possible_outcomes``
    lists what it could still be and ``missing`` the unknown inputs that would decide it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    criteria_set: SetRef
    mapping: MappingRef | None = None
    """The FHIR mapping the inputs came from, when they came from one."""
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
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """Read a stored result (:meth:`to_dict`, or a line of ``koordrules eval``, whose
        ``record_id`` is accepted and dropped). Raises :class:`~koordrules.errors.InputError`
        (code ``bad_result``, one problem per wrong field; no value is quoted)."""
        if not isinstance(data, Mapping):
            raise InputError(f"a stored result is an object, not {type(data).__name__}",
                             code="bad_result")
        fields = {k: v for k, v in data.items() if k != RECORD_ID}
        try:
            return cls.model_validate(fields)
        except ValidationError as ex:
            problems = []
            for e in ex.errors(include_input=False, include_url=False):
                where = ".".join(str(p) for p in e["loc"])
                problems.append(InputProblem(where or None, "bad_result",
                                             f"stored result: {where}: {e['msg']}"))
            raise InputError.of(problems) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> Result:
        """:meth:`from_dict` of JSON text; invalid JSON is an
        :class:`~koordrules.errors.InputError` (code ``bad_json``)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as ex:
            raise InputError(f"a stored result is not JSON: {ex.msg} (line {ex.lineno}, "
                             f"column {ex.colno})", code="bad_json") from None
        except UnicodeDecodeError:
            raise InputError("a stored result is not UTF-8 text", code="bad_json") from None
        return cls.from_dict(data)
