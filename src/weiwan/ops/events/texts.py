"""An event rule's SMS, for its first contact and its follow-up steps alike."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from weiwan.core.contact_rules import ContactRules
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.sms.service import send_for_event


def send_text(
    session: Session,
    customer: CustomerView,
    template: str,
    rule_id: str,
    offer_name: str | None,
    rules: ContactRules,
    tz: ZoneInfo,
    now: datetime,
) -> tuple[int | None, str | None]:
    """Send the rule's template to the customer through the contact policy: (message id,
    note) — no note when it is queued, "SMS scheduled" past the quiet hours; (None, "no SMS:
    why") when it cannot be sent (no such template …)."""
    sent = send_for_event(
        session,
        customer,
        template,
        origin=f"event:{rule_id}",
        offer_name=offer_name,
        rules=rules,
        tz=tz,
        now=now,
    )
    if isinstance(sent, str):
        return None, f"no SMS: {sent}"[:200]
    return sent.id, None if sent.status == "queued" else f"SMS {sent.status}"
