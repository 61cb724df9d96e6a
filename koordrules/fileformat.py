"""The criteria file as written: pydantic models of the YAML document.

These models define what a KE editor may write (and generate the JSON Schema editors use);
expressions are still text here. :mod:`koordrules.loader` turns a validated file into the
typed :class:`~koordrules.ast.CriteriaSet`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from koordrules.ast import ChangelogEntry, InputType, ItemType, LocalText, Monotonicity, Source

NAME_PATTERN = r"^[^\W\d]\w*$"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)+$"
SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$"

SetId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Semver = Annotated[str, StringConstraints(pattern=SEMVER_PATTERN)]
Text = LocalText | str


class _Spec(BaseModel):
    # Attribute docstrings become the JSON Schema descriptions editors show on hover.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


_NAMES: dict[str, Any] = {"propertyNames": {"pattern": NAME_PATTERN}}


class ParameterSpec(_Spec):
    """A named value (threshold, count) that expressions refer to by name."""

    value: bool | int | float | str | dt.date
    """The value: a number, true/false, text or a date (YYYY-MM-DD)."""
    unit: str | None = None
    """What the number counts, for readers (``months``, ``units``); not used in evaluation."""
    description: str | None = None
    """What the parameter means and where the value comes from."""
    from_source: bool = False
    """True only when the value is stated in the source document; say where in ``description``."""


class InputSpec(_Spec):
    """A fact about the patient that the criteria read."""

    type: InputType
    """The value's type; ``enum`` needs ``values``, ``list`` needs ``items``."""
    kind: Literal["data", "judgement"]
    """``data``: from the record or journal; ``judgement``: a clinician's assessment or the
    conversation with the patient."""
    description: str | None = None
    """What the input means, for readers."""
    unit: str | None = None
    """The unit of a number (``months``, ``units``), for readers."""
    min: float | None = None
    """Smallest allowed value of a number; a record outside the range is rejected."""
    max: float | None = None
    """Largest allowed value of a number."""
    values: tuple[str, ...] | None = None
    """The allowed values of an ``enum`` input."""
    items: ItemType | None = None
    """The element type of a ``list`` input."""


class CriterionSpec(_Spec):
    """A named criterion (A, B, …): a title and the rule that decides it."""

    title: Text
    """The criterion's title: text in bokmål, or ``{nb, nn, en}``."""
    description: str | None = None
    """Longer explanation, e.g. the source's own wording."""
    when: str
    """The rule: an expression over inputs, parameters and other criteria."""
    local_reading: Text | None = None
    """Where the source leaves the criterion's meaning open and this set reads it in its own
    way: what the local reading is (text in bokmål, or ``{nb, nn, en}``). The trace and the
    explanation show it as «Lokalt valg»."""


class OutcomeSpec(_Spec):
    """An outcome rule. Rules are tried top to bottom; the first that holds decides."""

    id: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
    """The outcome's name, as it appears in results (``coordinator_likely``)."""
    title: Text | None = None
    """Short title: text in bokmål, or ``{nb, nn, en}``."""
    explanation: Text | None = None
    """What the outcome means for the patient and the clinician."""
    when: str | None = None
    """The condition; leave it out on the last rule and write ``otherwise: true``."""
    otherwise: bool = False
    """True on the last rule: it applies when no rule above holds."""
    before: str | None = None
    """Variants only: place this rule before the base rule with this id."""
    after: str | None = None
    """Variants only: place this rule after the base rule with this id."""


class DropSpec(_Spec):
    """Variants only: items of the base this variant leaves out."""

    parameters: tuple[str, ...] = ()
    """Base parameters nothing in the variant uses any more."""
    criteria: tuple[str, ...] = ()
    """Base criteria nothing in the variant uses any more."""
    inputs: tuple[str, ...] = ()
    """Base inputs nothing in the variant reads any more."""


class CriteriaFile(_Spec):
    """One criteria set, as written in ``criteria/**.yaml``."""

    id: SetId
    """The set's identity: ``owner/name`` in lower case (``helse-vest/anbefaling-3``)."""
    version: Semver
    """Semantic version ``MAJOR.MINOR.PATCH``; raise it on every change."""
    title: Text
    """The set's title: text in bokmål, or ``{nb, nn, en}``."""
    status: Literal["draft", "active", "retired"]
    """``active`` sets are used by default; ``draft`` and ``retired`` only when named exactly."""
    effective_from: dt.date
    """The date (YYYY-MM-DD) from which this version applies."""
    source: Source
    """The document the criteria come from, with chapter and quote."""
    notes: str | None = None
    """Free text for readers: context, caveats, figures from the source."""
    changelog: tuple[ChangelogEntry, ...] = ()
    """One entry per version: version, date and what changed."""
    extends: str | None = None
    """Variants only: the base set, ``id@version`` or ``id@range``."""
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict, json_schema_extra=_NAMES)
    """Named values (thresholds, counts) used by the rules."""
    inputs: dict[str, InputSpec] = Field(default_factory=dict, json_schema_extra=_NAMES)
    """The facts about the patient the rules read."""
    criteria: dict[str, CriterionSpec] = Field(default_factory=dict, json_schema_extra=_NAMES)
    """The named criteria, each with a title and a rule."""
    outcomes: tuple[OutcomeSpec, ...] = ()
    """The outcome rules, tried top to bottom; the last one has ``otherwise: true``."""
    monotone: tuple[Monotonicity, ...] = ()
    """Declared properties that the test tools check (more of an input never lowers an
    outcome)."""
    drop: DropSpec | None = None
    """Variants only: base parameters, criteria or inputs this variant leaves out, e.g.
    ``drop: {parameters: [min_of_b_to_d]}`` when a changed rule no longer uses them."""
    narrows: tuple[str, ...] = ()
    """Sets (``id@version``) this one is declared narrower than: every patient it flags, they
    flag too. Checked by ``koordrules test --properties``. Not inherited by variants."""

    @field_validator("parameters", "inputs", "criteria")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a valid name (letters, digits, _)")
        return value


def local_text(text: Text) -> LocalText:
    return text if isinstance(text, LocalText) else LocalText(nb=text)


class DataFileHeader(_Spec):
    """What a versioned data file beside the criteria sets (indicators, journal templates)
    starts with: identity, status, source and history."""

    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    version: Annotated[str, StringConstraints(pattern=SEMVER_PATTERN)]
    title: LocalText
    status: Literal["draft", "active", "retired"]
    effective_from: dt.date | None = None
    source: Source
    local_choice: bool
    """True when what the file says is a local reading, not given by the source."""
    description: str | None = None
    changelog: tuple[ChangelogEntry, ...] = ()
