"""Saved target groups (固定场景目标客户群) as data, shared by the nightly run and the editor: a
group's fields, its filter parsed with the filter language (:mod:`weiwan.core.filters`), and
the checks across the file that need no warehouse (duplicate ids). Whether each field of a
filter exists is checked where the table is: the run against the profile.

Every problem carries a stable ``code`` and its figures, like the policy rules', so a page can
say it in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from weiwan.core.filters import FilterError, TargetFilter
from weiwan.core.policy_rules import PolicyIssue, duplicate_issues, refusal, validate_each

_STRICT = ConfigDict(extra="forbid", frozen=True)


class TargetGroup(BaseModel):
    """A saved target group (固定场景): a named filter refreshed on every run."""

    model_config = _STRICT
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    #: what the group is for, in English and in Chinese (the pages show the reader's)
    description: str = ""
    description_zh: str = ""
    filter: TargetFilter

    @field_validator("filter", mode="before")
    @classmethod
    def _parse_filter(cls, raw: Any) -> TargetFilter:
        try:
            return TargetFilter.parse(raw)
        except FilterError as exc:
            raise refusal("target_invalid", str(exc), path=exc.path or "") from exc


def check_groups(
    entries: Sequence[Any], *, source: str = "(target groups)"
) -> tuple[list[PolicyIssue], list[TargetGroup]]:
    """Each entry checked on its own, then the ids across the file: (problems by group and
    field, the groups that passed)."""
    problems, groups, ids = validate_each(entries, TargetGroup, source=source, what="(group)")
    problems += duplicate_issues(ids, source=source, what="group")
    return problems, [g for g in groups if ids.count(g.id) == 1]
