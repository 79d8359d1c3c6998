"""Checking the directory accounts that have an open session against the directory, between
logins (``weiwan users directory-check``, every few minutes from cron: docs/ldap.md).

A login asks the directory; an open session does not (every request would wait on it). So an
account disabled in the directory, taken out of every mapped group or deleted would keep its
open sessions until they end. This check closes that window to the schedule's interval: for
each active directory account with a live session it asks the directory what a login would,
and

- disabled, in no mapped group, or gone: the local user is deactivated (marked as refused by
  the directory, so its next accepted login activates it again) and its sessions end;
- in another mapped group: its role, branch and team follow at once, as at a login (the next
  request already has the new rights);
- anything the check cannot tell (several entries of the name, a rule whose branch or team does
  not exist here): left as it is and logged, as a login would refuse it.

Each change is audited (``directory_check``). A directory that cannot be asked stops the check
and changes nothing (:class:`DirectoryUnavailableError`): an outage of the directory must not
end everybody's work.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from weiwan.ops.org.directory_config import DirectoryConfig, GroupRule
from weiwan.ops.org.directory_login import (
    DirectoryAnswer,
    deactivate_refused,
    look_up,
    matching_rule,
    placement_of,
)
from weiwan.ops.org.ldap_directory import service_connection
from weiwan.ops.org.models import AUTH_LDAP, User, UserSession
from weiwan.ops.org.service import AuditAction, audit

log = structlog.get_logger(__name__)


@dataclass
class DirectoryCheck:
    """What one check found: accounts asked about, deactivated (by reason), moved to another
    role, branch or team, left as they were for a reason the log names, sessions ended."""

    checked: int = 0
    deactivated: Counter[str] = field(default_factory=Counter)
    moved: int = 0
    unresolved: int = 0
    sessions_ended: int = 0


def accounts_in_session(session: Session, now: datetime) -> list[User]:
    """The active directory accounts with at least one session that has not ended or
    expired."""
    live = exists().where(
        UserSession.user_id == User.id,
        UserSession.ended_at.is_(None),
        UserSession.expires_at > now,
    )
    query = select(User).where(User.auth_source == AUTH_LDAP, User.active, live)
    return list(session.scalars(query.order_by(User.id)))


def check_directory_accounts(
    session: Session, config: DirectoryConfig, *, now: datetime
) -> DirectoryCheck:
    """Ask the directory about every directory account in session (see the module's text);
    raises ``DirectoryUnavailableError`` before changing anything when it cannot be asked."""
    result = DirectoryCheck()
    users = accounts_in_session(session, now)
    if not users:
        return result
    with service_connection(config) as conn:
        answers = [(user, look_up(conn, config, user.username)) for user in users]
    for user, answer in answers:
        result.checked += 1
        rule = matching_rule(config.rules, answer.groups)
        reason = _refusal(answer, rule)
        if reason == "directory_ambiguous":
            log.error("ldap.ambiguous_user", username=user.username)
            result.unresolved += 1
        elif reason is not None:
            ended = deactivate_refused(session, user, now)
            detail = {"reason": reason, "deactivated": True, "sessions_ended": ended}
            audit(session, None, AuditAction.DIRECTORY_CHECK, "user", str(user.id), detail)
            result.sessions_ended += ended
            result.deactivated[reason] += 1
        else:
            assert rule is not None  # _refusal refuses an entry in no mapped group
            outcome = _follow_rule(session, user, rule)
            result.moved += outcome == "moved"
            result.unresolved += outcome == "unresolved"
    session.flush()
    return result


def _refusal(answer: DirectoryAnswer, rule: GroupRule | None) -> str | None:
    """Why a login would be refused on the directory's ``answer`` (its first matching
    ``rule``), or None."""
    if answer.entry is None:
        return "directory_ambiguous" if answer.found > 1 else "directory_gone"
    if answer.disabled:
        return "directory_disabled"
    return "directory_refused" if rule is None else None


def _follow_rule(session: Session, user: User, rule: GroupRule) -> str:
    """Move ``user`` to the role, branch and team of its first matching group's ``rule``
    (audited): ``"moved"``, ``"same"``, or ``"unresolved"`` when the rule's branch or team is
    not here."""
    placement = placement_of(session, rule)
    if placement is None:
        log.error("ldap.mapping_target_missing", group=rule.group, branch=rule.branch)
        return "unresolved"
    wanted: dict[str, Any] = {
        "role": placement.role,
        "branch_id": placement.branch_id,
        "team_id": placement.team_id,
    }
    changed = {k: v for k, v in wanted.items() if getattr(user, k) != v}
    if not changed:
        return "same"
    for name, value in changed.items():
        setattr(user, name, value)
    detail = {"reason": "directory_groups", "changed": changed}
    audit(session, None, AuditAction.DIRECTORY_CHECK, "user", str(user.id), detail)
    return "moved"
