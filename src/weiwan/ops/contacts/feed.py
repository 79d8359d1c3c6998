"""The contact feed back to the warehouse: what was done with whom, for learning and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.ops.contacts.models import Contact, ContactOutcome, DoNotDisturb

FEED_COLUMNS = (
    "contact_id",
    "subscriber_id",
    "at",
    "channel",
    "status",
    "task_id",
    "campaign_id",
    "policy_id",
    "outcomes",
    "accepted",
    "refused",
)


def contact_feed(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Contacts made in [``since``, ``until``) with their outcomes joined by ``|`` (no personal
    data beyond the subscriber id), oldest first."""
    contacts = session.scalars(
        select(Contact).where(Contact.at >= since, Contact.at < until).order_by(Contact.id)
    ).all()
    outcomes: dict[int, list[str]] = {}
    if contacts:
        first, last = contacts[0].id, contacts[-1].id
        for contact_id, outcome in session.execute(
            select(ContactOutcome.contact_id, ContactOutcome.outcome)
            .where(ContactOutcome.contact_id.between(first, last))
            .order_by(ContactOutcome.id)
        ):
            outcomes.setdefault(contact_id, []).append(outcome)
    return [
        {
            "contact_id": c.id,
            "subscriber_id": c.subscriber_id,
            "at": c.at,
            "channel": c.channel,
            "status": c.status,
            "task_id": c.task_id,
            "campaign_id": c.campaign_id,
            "policy_id": c.policy_id,
            "outcomes": "|".join(outcomes.get(c.id, [])) or None,
            "accepted": "accepted" in outcomes.get(c.id, []),
            "refused": "refused" in outcomes.get(c.id, []),
        }
        for c in contacts
    ]


def do_not_disturb_feed(session: Session) -> list[dict[str, Any]]:
    """Every do-not-disturb wish (subscriber_id, channel) for the day's decisions."""
    return [
        {"subscriber_id": sid, "channel": channel}
        for sid, channel in session.execute(
            select(DoNotDisturb.subscriber_id, DoNotDisturb.channel).order_by(
                DoNotDisturb.subscriber_id, DoNotDisturb.channel
            )
        )
    ]
