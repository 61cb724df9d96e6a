"""The criteria file as written: pydantic models of the YAML document.

These models define what a KE editor may write (and generate the JSON Schema editors use);
expressions are still text here. :mod:`koordrules.loader` turns a validated file into the
typed :class:`~koordrules.ast.CriteriaSet`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from koordrules.ast import ChangelogEntry, InputType, ItemType, LocalText, Monotonicity, Source

NAME_PATTERN = r"^[^\W\d]\w*$"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)+$"
SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$"

SetId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Semver = Annotated[str, StringConstraints(pattern=SEMVER_PATTERN)]
Text = LocalText | str


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParameterSpec(_Spec):
    value: bool | int | float | str | dt.date
    unit: str | None = None
    description: str | None = None
    from_source: bool = False
    """True only when the value is stated in the source document; say where in ``description``."""


class InputSpec(_Spec):
    type: InputType
    kind: Literal["data", "judgement"]
    description: str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    items: ItemType | None = None


class CriterionSpec(_Spec):
    title: Text
    description: str | None = None
    when: str


class OutcomeSpec(_Spec):
    id: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
    title: Text | None = None
    explanation: Text | None = None
    when: str | None = None
    otherwise: bool = False
    before: str | None = None
    """Variants only: place this rule before the base rule with this id."""
    after: str | None = None
    """Variants only: place this rule after the base rule with this id."""


class CriteriaFile(_Spec):
    """One criteria set, as written in ``criteria/**.yaml``."""

    id: SetId
    version: Semver
    title: Text
    status: Literal["draft", "active", "retired"]
    effective_from: dt.date
    source: Source
    notes: str | None = None
    changelog: tuple[ChangelogEntry, ...] = ()
    extends: str | None = None
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    criteria: dict[str, CriterionSpec] = Field(default_factory=dict)
    outcomes: tuple[OutcomeSpec, ...] = ()
    monotone: tuple[Monotonicity, ...] = ()

    @field_validator("parameters", "inputs", "criteria")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a valid name (letters, digits, _)")
        return value


def local_text(text: Text) -> LocalText:
    return text if isinstance(text, LocalText) else LocalText(nb=text)
