"""Every audit action has its name on the audit page (a new action shows words, not a code)."""

from __future__ import annotations

from weiwan.ops.org.service import AuditAction
from weiwan.web.pages.admin_audit import ACTIONS


def test_every_audit_action_has_a_name_on_the_audit_page() -> None:
    assert {a.value for a in AuditAction} == set(ACTIONS)
