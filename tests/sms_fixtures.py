"""Small factories of the survey and SMS tests: customers, managers, rules, contacts, actors."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from weiwan.core.db import session_scope
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.contacts.models import Contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor, actor_for
from weiwan.ops.org.models import ConfigDocument, User
from weiwan.ops.tasks.models import CustomerAssignment

SNAPSHOT = date(2026, 10, 31)


def add_customers(engine: Engine, branch_id: int, ids: list[str], **overrides: Any) -> None:
    """Published customers ``ids`` (``S00001`` → number ``13800000001``) in ``branch_id``."""
    with session_scope(engine) as session:
        for sid in ids:
            number = int(sid[1:])
            values: dict[str, Any] = {
                "subscriber_id": sid,
                "snapshot_date": SNAPSHOT,
                "msisdn": f"138{number:08d}",
                "name": f"客户{number}",
                "branch_id": branch_id,
                "plan_id": "TC096",
                "value_tier": "gold",
                "arpu_1m": 96.5,
                "status": "active",
            }
            values.update(overrides)
            session.add(CustomerView(**values))


def assign(engine: Engine, ids: list[str], user_id: int) -> None:
    """Make ``user_id`` the retention manager of ``ids`` (puts them in an agent's scope)."""
    with session_scope(engine) as session:
        session.add_all(
            CustomerAssignment(subscriber_id=sid, kind="retention_manager", user_id=user_id)
            for sid in ids
        )


def publish_rules(engine: Engine, rules: dict[str, Any]) -> None:
    """Publish contact rules (``config_documents['contact_rules']``)."""
    with session_scope(engine) as session:
        session.merge(ConfigDocument(name="contact_rules", content=json.dumps(rules)))


def add_contact(
    engine: Engine,
    subscriber_id: str,
    at: datetime,
    *,
    channel: str = "outbound_call",
    user_id: int | None = None,
    status: str = "sent",
) -> int:
    """A recorded contact; its id."""
    with session_scope(engine) as session:
        contact = Contact(
            subscriber_id=subscriber_id,
            at=at,
            channel=channel,
            status=status,
            blocked_reason=None if status == "sent" else "cap_day",
            user_id=user_id,
        )
        session.add(contact)
        session.flush()
        return contact.id


def actor(session: Session, user_id: int) -> Actor:
    """The :class:`Actor` of a user."""
    user = session.get(User, user_id)
    assert user is not None
    return actor_for(session, user)


def add_campaign(engine: Engine, branch_id: int, user_id: int) -> int:
    """A draft campaign (only its id matters to SMS); its id."""
    with session_scope(engine) as session:
        campaign = Campaign(
            name="关怀短信",
            branch_id=branch_id,
            target_filter="{}",
            policy_ids="",
            channels=" sms ",
            holdout_share=0.1,
            created_by=user_id,
        )
        session.add(campaign)
        session.flush()
        return campaign.id
