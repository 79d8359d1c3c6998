"""The policy library, the target groups and the tags checked when an edit is saved, with the
rules the nightly run applies (:mod:`weiwan.core.policy_rules`, ``core.target_groups``,
``core.tag_rules``): a negative cost, an unknown channel, an end before the start, a duplicate
id or an unknown target group is refused at once, naming the entry and the field.

The target groups known here are those the last run published (``labels:target_groups``); before
any run published them, a reference is left for the run to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from weiwan.core.errors import InvalidRequestError
from weiwan.core.policy_rules import (
    PolicyIssue,
    ValueCapsRule,
    check_entries,
    entry_issues,
    generosity_warnings,
)
from weiwan.core.tag_rules import check_tags
from weiwan.core.target_groups import TargetGroup, check_groups
from weiwan.ops.org.published import read_entries

#: the config document holding [{"id", "name_zh", "name_en"}] of the target groups in effect
TARGET_GROUPS_DOCUMENT = "labels:target_groups"


class EditRefusedError(InvalidRequestError):
    """An edit the rules refuse (the policy library, the target groups): every problem, by
    entry and field."""

    def __init__(self, issues: Sequence[PolicyIssue]) -> None:
        self.issues = list(issues)
        first = self.issues[0]
        super().__init__(
            f"policy {first.policy_id}: {first.field}: {first.message}"
            + (f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""),
            field=first.field,
        )


def target_groups(session: Session) -> list[dict[str, Any]]:
    """The target groups the last run published: [{"id", "name_zh", "name_en"}]."""
    return read_entries(session, TARGET_GROUPS_DOCUMENT)


def check_library(session: Session, raw: dict[str, Any]) -> list[PolicyIssue]:
    """The library's refusals (raises :class:`EditRefusedError`) and its warnings."""
    groups = target_groups(session)
    group_ids = {g["id"] for g in groups} if groups else None
    entries = raw.get("policies") or []
    checked = check_entries(entries, group_ids, source="(edit)")
    errors = list(checked.errors)
    try:
        ValueCapsRule.model_validate(raw.get("value_caps"))
    except ValidationError as exc:
        errors += [
            PolicyIssue("(edit)", "value_caps", f, m, code=c, params=p)
            for f, m, c, p in entry_issues(exc)
        ]
    if errors:
        raise EditRefusedError(errors)
    return generosity_warnings(checked.valid, source="(edit)")


def check_tag_file(raw: dict[str, Any]) -> None:
    """The tag editor's tags checked with the run's rules: raises :class:`EditRefusedError`
    with every problem."""
    problems = check_tags(raw.get("tags") or [], source="(edit)")
    if problems:
        raise EditRefusedError(problems)


def check_document(session: Session, kind: str, raw: dict[str, Any]) -> None:
    """An edit of ``kind`` checked with the run's rules where there are shared ones (the
    policy library, the target groups, the tags); raises :class:`EditRefusedError`."""
    if kind == "policies":
        check_library(session, raw)
    elif kind == "target_groups":
        check_group_file(raw)
    elif kind == "tags":
        check_tag_file(raw)


def check_group_file(raw: dict[str, Any]) -> list[TargetGroup]:
    """The target groups of an edit checked with the run's rules (each group's fields and
    filter, duplicate ids): raises :class:`EditRefusedError` with every problem."""
    problems, groups = check_groups(raw.get("groups") or [], source="(edit)")
    if problems:
        raise EditRefusedError(problems)
    return groups
