"""Roles, their data scope and their permissions (one frozen table, documented in ADR 0002)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    """The roles of a retention centre."""

    ADMIN = "admin"
    DIRECTOR = "director"
    CENTRE_HEAD = "centre_head"
    SHIFT_LEAD = "shift_lead"
    AGENT = "agent"  # agent / account manager
    ANALYST = "analyst"
    STORE_CLERK = "store_clerk"
    HOTLINE_AGENT = "hotline_agent"


class Scope(StrEnum):
    """Which customers and tasks a role sees."""

    OWN = "own"
    TEAM = "team"
    BRANCH = "branch"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Permissions:
    """What a role may do beyond viewing its scope."""

    scope: Scope
    may_see_full_numbers: bool
    may_export: bool
    may_approve: bool
    may_configure: bool
    #: full resident ID numbers: only the managers who handle complaints and audits; a store
    #: clerk checks the card the customer shows against the masked number (its last 4)
    may_see_full_id_numbers: bool = False
    #: define the saved target groups (analysts build them; administrators too)
    may_define_targets: bool = False


_P = Permissions
#: The permission table. Full phone numbers only for roles that must call or identify a
#: customer in person (agents dial through the system, so they see masked numbers); full ID
#: numbers only for the director and the centre head (the store clerk sees them masked, like
#: the hotline: the customer's own card is in front of them).
PERMISSIONS: MappingProxyType[Role, Permissions] = MappingProxyType(
    {
        Role.ADMIN: _P(Scope.ALL, False, False, False, True, may_define_targets=True),
        Role.DIRECTOR: _P(Scope.ALL, True, True, True, False, True),
        Role.CENTRE_HEAD: _P(Scope.BRANCH, True, True, True, False, True),
        Role.SHIFT_LEAD: _P(Scope.TEAM, False, False, True, False),
        Role.AGENT: _P(Scope.OWN, False, False, False, False),
        Role.ANALYST: _P(Scope.ALL, False, True, False, False, may_define_targets=True),
        Role.STORE_CLERK: _P(Scope.BRANCH, True, False, False, False),
        Role.HOTLINE_AGENT: _P(Scope.BRANCH, False, False, False, False),  # any caller
    }
)


def permissions(role: Role | str) -> Permissions:
    """The permissions of ``role``."""
    return PERMISSIONS[Role(role)]


def scope_of(role: Role | str) -> Scope:
    """The data scope of ``role``."""
    return permissions(role).scope
