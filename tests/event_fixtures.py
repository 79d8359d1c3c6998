"""Event intake fixtures: a known service token seeded straight into the database (the
product only ever prints a random one), and events built to the contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.ops.events.models import ServiceToken
from weiwan.ops.events.tokens import digest

EVENT_TOKEN = "wwe_test-source-token-0123456789abcdefghijklmnop"
SOURCE = "crm-test"


def seed_event_token(engine: Engine, name: str = SOURCE, token: str = EVENT_TOKEN) -> None:
    """A live token ``token`` for source ``name``."""
    with session_scope(engine) as session:
        session.add(ServiceToken(name=name, scope="events", token_hash=digest(token)))


def bearer(token: str = EVENT_TOKEN) -> dict[str, str]:
    """The intake's Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def event(event_id: str, subscriber_id: str | None = "S00001", **changes: Any) -> dict[str, Any]:
    """A port-out code request an hour ago, with ``changes``."""
    when = datetime.now(UTC) - timedelta(hours=1)
    base: dict[str, Any] = {
        "event_id": event_id,
        "subscriber_id": subscriber_id,
        "type": "port_out_code_request",
        "time": when.isoformat(),
        "attributes": {"channel": "sms"},
    }
    return {**base, **changes}


def seed_event(engine: Engine, event_id: str, subscriber_id: str, source: str = SOURCE) -> None:
    """An event already taken in (status received)."""
    from weiwan.ops.events.models import EventRecord

    with session_scope(engine) as session:
        session.add(
            EventRecord(
                source=source,
                event_id=event_id,
                subscriber_id=subscriber_id,
                msisdn="13800000001",
                type="port_out_code_request",
                occurred_at=datetime.now(UTC) - timedelta(hours=1),
                attributes='{"channel": "sms"}',
            )
        )
