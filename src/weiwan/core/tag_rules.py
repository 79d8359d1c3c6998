"""The tag library's tags as data (标签库): a flag tag's condition or a band tag's ranges, the
names and the category, checked without the features — shared by the nightly run
(``analytics.tags`` computes them) and the tag editor (which checks a tag when it is saved).
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from weiwan.core.expressions import ExpressionError, parse_expression
from weiwan.core.policy_rules import PolicyIssue, duplicate_issues, refusal, validate_each

#: the key columns of the tags table (no tag may take their names)
KEY_COLUMNS = ("subscriber_id", "snapshot_date")
Category = Literal["basic", "behaviour", "preference", "value", "risk"]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
_ID = r"^[a-z][a-z0-9_]*$"


class Band(BaseModel):
    """One range of a band tag; ``min`` is included, ``max`` excluded, either may be open."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise refusal(
                "band_order", f"band {self.id!r}: min {self.min} must be below max {self.max}"
            )
        return self


class BandSpec(BaseModel):
    """A numeric feature cut into non-overlapping bands."""

    model_config = ConfigDict(extra="forbid")

    feature: str = Field(pattern=r"^[^\W\d]\w*$")  # a feature column name
    bands: list[Band] = Field(min_length=1)

    @model_validator(mode="after")
    def _disjoint(self) -> BandSpec:
        ids = [b.id for b in self.bands]
        if len(set(ids)) != len(ids):
            raise ValueError(
                f"band ids repeat: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}"
            )
        ordered = sorted(self.bands, key=lambda b: -math.inf if b.min is None else b.min)
        for low, high in itertools.pairwise(ordered):
            top = math.inf if low.max is None else low.max
            if high.min is None or top > high.min:
                raise refusal("bands_overlap", f"bands {low.id!r} and {high.id!r} overlap")
        return self


class TagDefinition(BaseModel):
    """One tag as written in a library file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID, max_length=63)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    category: Category
    version: int = Field(ge=1)
    description: str | None = None
    expression: str | None = None
    band: BandSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TagDefinition:
        if (self.expression is None) == (self.band is None):
            raise refusal("tag_kind", "give exactly one of 'expression' (a flag) or 'band'")
        if self.id in KEY_COLUMNS:
            raise refusal("reserved_id", f"id: id {self.id!r} is reserved for the key column")
        if self.expression is not None:
            try:
                parse_expression(self.expression)
            except ExpressionError as exc:
                raise refusal("expression_invalid", f"expression: {exc}") from None
        return self

    @property
    def kind(self) -> Literal["flag", "band"]:
        return "flag" if self.band is None else "band"


def check_tags(entries: list[object], *, source: str = "(tags)") -> list[PolicyIssue]:
    """The tag editor's tags checked with the run's rules: each tag on its own (names,
    category, a flag's expression or a band's ranges) and the ids within the file."""
    problems, _tags, ids = validate_each(entries, TagDefinition, source=source, what="(tag)")
    return problems + duplicate_issues(ids, source=source, what="tag")
