"""The customer card's two paths (one statement on PostgreSQL, Core statements elsewhere) give
the same card."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from customer_fixtures import publish_customers, publish_rules
from weiwan.core.db import session_scope
from weiwan.ops.card.service import HISTORY_LIMIT, customer_card
from weiwan.ops.consents.service import Statement, record_statements
from weiwan.ops.contacts.models import Acceptance, Contact, ContactOutcome, DoNotDisturb
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import AuditEvent, User
from weiwan.ops.tasks.models import CustomerAssignment
from weiwan.ops.tasks.service import TaskSpec, create_tasks

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 24)
PG_ONLY = [pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("empty_engine", PG_ONLY, indirect=True)
def test_both_paths_give_the_same_card(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    publish_customers(engine, branches["city"], 3)
    publish_rules(engine, {})
    start = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=TZ)
    with session_scope(engine) as session:
        session.add(
            CustomerAssignment(
                subscriber_id="S00001", kind="retention_manager", user_id=people["agent"]
            )
        )
        session.add(
            CustomerAssignment(
                subscriber_id="S00001", kind="account_manager", user_id=people["agent2"]
            )
        )
        session.add(DoNotDisturb(subscriber_id="S00001", channel="sms", reason="x"))
        said = [  # objects to calls, then consents again to account-manager calls
            Statement("S00001", "outbound_call", "all", "objection", "agent", start),
            Statement("S00001", "marketing_sms", "sms", "consent", "crm_import", start),
            Statement(
                "S00001",
                "outbound_call",
                "account_manager_call",
                "consent",
                "agent",
                start + timedelta(hours=1),
            ),
        ]
        record_statements(session, said, recorded_by=None)
        create_tasks(
            session,
            [
                TaskSpec(
                    subscriber_id="S00001",
                    source="manual",
                    origin="p",
                    channel=c,
                    policy_id="keep168",
                    due_at=start + timedelta(days=i) if i else None,
                    title_zh="挽留",
                    title_en="keep",
                )
                for i, c in enumerate(("outbound_call", "store", "hotline"))
            ],
        )
        for n in range(HISTORY_LIMIT + 3):  # more than the card shows
            contact = Contact(
                subscriber_id="S00001",
                at=start + timedelta(hours=n),
                channel="outbound_call",
                status="sent",
                user_id=people["agent"],
                note=f"第{n}次",
            )
            session.add(contact)
            session.flush()
            session.add(ContactOutcome(contact_id=contact.id, outcome="connected"))
            if n % 3 == 0:
                session.add(
                    ContactOutcome(
                        contact_id=contact.id,
                        outcome="call_back",
                        call_back_at=start + timedelta(days=2),
                    )
                )
        session.add(
            Acceptance(
                subscriber_id="S00001",
                policy_id="keep168",
                contact_id=contact.id,
                channel="store",
                at=start,
                status="active",
                cost=120.0,
            )
        )
    with session_scope(engine) as session:
        session.get(CustomerView, "S00003").eligible_policies = None  # type: ignore[union-attr]
    for sid in ("S00001", "S00002", "S00003"):
        with session_scope(engine) as session:
            for username in ("clerk", "agent"):
                user = session.scalar(select(User).where(User.username == username))
                assert user is not None
                actor = actor_for(session, user)
                customer = session.get(CustomerView, sid)
                assert customer is not None
                one = customer_card(
                    session, actor, customer, channel="hotline", today=TODAY, one_statement=True
                )
                parts = customer_card(
                    session, actor, customer, channel="hotline", today=TODAY, one_statement=False
                )
                assert one == parts
    assert len(one.contacts) == 0 and len(one.policies) == 0
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == "clerk"))
        assert user is not None
        first = session.get(CustomerView, "S00001")
        assert first is not None
        card = customer_card(session, actor_for(session, user), first, channel="store", today=TODAY)
        assert len(card.contacts) == HISTORY_LIMIT
        assert card.contacts[0]["note"] == f"第{HISTORY_LIMIT + 2}次"
        assert [t["channel"] for t in card.open_tasks] == ["store", "hotline", "outbound_call"]
        assert card.managers == {"retention_manager": "Agent", "account_manager": "Agent2"}
        assert card.do_not_disturb == ["sms"]
        assert card.objections == [{"purpose": "outbound_call", "channel": "outbound_call"}]
        assert card.acceptances[0]["status"] == "active"
        audited = session.scalar(select(func.count()).where(AuditEvent.action == "pii_view"))
    assert audited == 13  # every card built is one audit event, on both paths
