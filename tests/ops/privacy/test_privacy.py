"""One subscriber's personal data in the operational database: the report (who may read it,
masked per role, audited), the erasure (nothing of the person left, the aggregates and the
audit trail kept, idempotent) and the retention purge (batched, audited)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, String, func, or_, select

from api_helpers import login
from customer_fixtures import publish_customers
from weiwan.core.db import session_scope
from weiwan.core.errors import ConfigError
from weiwan.core.personal_data import OPS_PLACES, REDACTED, digest, pseudonym_of
from weiwan.core.retention import load_rules
from weiwan.ops.base import Base
from weiwan.ops.consents.models import ConsentEvent
from weiwan.ops.contacts.models import Contact, ContactOutcome, DoNotDisturb
from weiwan.ops.events.models import EventRecord
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import AuditEvent, User
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.privacy.ledger import read_ledger, record_erasure
from weiwan.ops.privacy.models import Erasure
from weiwan.ops.privacy.purge import purge_ops
from weiwan.ops.privacy.service import reapply_erasures, salt_of
from weiwan.ops.reports.live import forget_live_figures, user_counts
from weiwan.ops.sms.models import SmsMessage

NOW = datetime.now(UTC)


def _seed(engine: Engine, people: dict[str, int], sid: str, days_ago: int = 1) -> None:
    """Two calls (one reached and refused, one not reached), an SMS, an event, a consent
    statement, a do-not-disturb wish and audit events about ``sid``."""
    number = f"138{int(sid[1:]):08d}"
    at = NOW - timedelta(days=days_ago)
    with session_scope(engine) as session:
        calls = [
            Contact(
                subscriber_id=sid,
                at=at,
                channel="outbound_call",
                status="sent",
                user_id=people["agent"],
                note=f"客户说住在西湖区文三路 1 号（{sid}）",
            ),
            Contact(
                subscriber_id=sid,
                at=at,
                channel="outbound_call",
                status="sent",
                user_id=people["agent"],
            ),
            Contact(subscriber_id=sid, at=at, channel="sms", status="sent"),
        ]
        session.add_all(calls)
        session.flush()
        session.add_all(
            [
                ContactOutcome(contact_id=calls[0].id, outcome="connected"),
                ContactOutcome(
                    contact_id=calls[0].id,
                    outcome="refused",
                    refusal_reason=f"嫌贵，老婆不同意（{sid}）",
                ),
                ContactOutcome(contact_id=calls[1].id, outcome="not_reached"),
                SmsMessage(
                    subscriber_id=sid,
                    msisdn=number,
                    body=f"尊敬的{sid}客户，流量包",
                    segments=1,
                    contact_id=calls[2].id,
                    status="sent",
                    purpose="marketing",
                    created_at=at,
                ),
                EventRecord(
                    source="crm",
                    event_id=f"ev-{days_ago}-{sid[-1]}",
                    subscriber_id=sid,
                    msisdn=number,
                    type="complaint",
                    occurred_at=at,
                    attributes=json.dumps({"text": f"信号差 {sid}"}),
                    received_at=at,
                ),
                # an event naming the subscriber by number only
                EventRecord(
                    source="dialer",
                    event_id=f"ev-{days_ago}-{sid[-1]}",
                    msisdn=number,
                    type="call_dropped",
                    occurred_at=at,
                    received_at=at,
                ),
                ConsentEvent(
                    subscriber_id=sid,
                    purpose="marketing_sms",
                    channel="sms",
                    state="objection",
                    source="agent",
                    effective_at=at,
                    reference=f"录音 {sid}",
                ),
                DoNotDisturb(subscriber_id=sid, channel="sms", reason=f"夜班，白天睡觉（{sid}）"),
            ]
        )
        audit(
            session,
            people["director"],
            AuditAction.PII_VIEW,
            "customer",
            sid,
            {"msisdn": number, "subscribers": [sid, "S99999"]},
            ip="127.0.0.1",
        )


def _mentions(engine: Engine, sid: str, number: str) -> dict[str, int]:
    """Rows of every ops place with the subscriber's id or number in any text (the seeded
    free texts name the subscriber too)."""
    found: dict[str, int] = {}
    with session_scope(engine) as session:
        for place in OPS_PLACES:
            table = Base.metadata.tables[place.table]
            conditions = []
            for column in table.c:
                if isinstance(column.type, String):  # Text too
                    for value in (sid, number):
                        conditions.append(column.contains(value))
            hits = session.scalar(select(func.count()).select_from(table).where(or_(*conditions)))
            if hits:
                found[place.table] = int(hits)
    return found


def _tallies(engine: Engine) -> dict[str, Any]:
    """What the reports count: contacts by day, channel and outcome, and the dashboards'
    per-user counts."""
    with session_scope(engine) as session:
        by_outcome = session.execute(
            select(func.date(Contact.at), Contact.channel, ContactOutcome.outcome, func.count())
            .outerjoin(ContactOutcome, ContactOutcome.contact_id == Contact.id)
            .group_by(func.date(Contact.at), Contact.channel, ContactOutcome.outcome)
        ).all()
        director = session.scalar(select(User).where(User.username == "director"))
        assert director is not None
        forget_live_figures()
        users = user_counts(
            session, actor_for(session, director), NOW - timedelta(days=30), NOW + timedelta(1)
        )
        return {
            "outcomes": sorted(map(tuple, by_outcome), key=repr),
            "users": sorted(((u.user_id, u.counts) for u in users), key=repr),
            "sms": session.scalar(select(func.count()).select_from(SmsMessage)),
            "events": session.scalar(select(func.count()).select_from(EventRecord)),
        }


@pytest.fixture
def seeded(engine: Engine, branches: dict[str, int], people: dict[str, int]) -> Engine:
    publish_customers(engine, branches["city"], 3)
    _seed(engine, people, "S00001")
    _seed(engine, people, "S00002")
    return engine


def test_the_report_lists_every_place_for_the_admin_and_the_director_only(
    app: FastAPI, seeded: Engine
) -> None:
    url = "/api/v1/customers/S00001/personal-data"
    admin = login(app, "admin").get(url)
    assert admin.status_code == 200, admin.text
    body = admin.json()
    assert body["subject"]["msisdn"] == "138****0001"  # ADR 0002: the admin sees masked numbers
    assert body["subject"]["id_number"].startswith("450102") and "*" in body["subject"]["id_number"]
    places = {(p["store"], p["table"]): p for p in body["places"]}
    assert places["ops", "contacts"]["rows"] == 3
    assert places["ops", "contact_outcomes"]["rows"] == 3  # through the contacts
    assert places["ops", "sms_messages"]["fields"] == ["subscriber_id", "msisdn", "body"]
    assert places["ops", "sms_messages"]["retention_months"] == 12
    assert places["ops", "audit_events"]["rows"] == 1
    assert places["warehouse", "monthly_usage"]["rows"] is None  # counted by the CLI
    assert places["ops", "contacts"]["purpose_zh"] and places["ops", "contacts"]["purpose_en"]
    director = login(app, "director").get(url).json()
    assert director["subject"]["msisdn"] == "13800000001"
    for user in ("head", "agent", "analyst", "clerk"):
        assert login(app, user).get(url).status_code == 403, user
    assert login(app, "admin").get("/api/v1/customers/S77777/personal-data").status_code == 404
    with session_scope(seeded) as session:
        exports = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "export", AuditEvent.target_id == "S00001"
            )
        ).all()
    assert len(exports) == 2 and all("personal_data_report" in str(e.detail) for e in exports)


def test_erasure_leaves_nothing_of_the_person_and_keeps_the_counts(
    app: FastAPI, seeded: Engine, people: dict[str, int]
) -> None:
    before = _tallies(seeded)
    assert _mentions(seeded, "S00001", "13800000001")
    url = "/api/v1/customers/S00001/erasure"
    for user in ("director", "head", "agent"):
        refused = login(app, user).post(url, json={"reason": "PIPL-REQ-7"})
        assert refused.status_code == 403, user
    admin = login(app, "admin")
    assert admin.post(url, json={"reason": ""}).status_code == 422  # the reason is required
    done = admin.post(url, json={"reason": "PIPL-REQ-7"})
    assert done.status_code == 200, done.text
    pseudonym = done.json()["pseudonym"]
    assert pseudonym.startswith("E") and done.json()["already_erased"] is False
    assert done.json()["rows"]["contacts"] == 3 and done.json()["rows"]["customer_view"] == 1
    assert _mentions(seeded, "S00001", "13800000001") == {}
    assert _mentions(seeded, "S00002", "13800000002")  # the other subscriber is untouched
    assert _tallies(seeded) == before
    with session_scope(seeded) as session:
        erasure = session.scalar(select(Erasure))
        assert erasure is not None and erasure.pseudonym == pseudonym
        assert erasure.erased_by == people["admin"] and erasure.reason == "PIPL-REQ-7"
        assert "S00001" not in json.dumps([erasure.digest, erasure.rows, erasure.pseudonym])
        views = session.scalars(select(AuditEvent).where(AuditEvent.action == "pii_view")).all()
        assert sorted(str(v.target_id) for v in views) == sorted([pseudonym, "S00002"])
        viewed = next(v for v in views if v.target_id == pseudonym)  # the event stays
        assert json.loads(str(viewed.detail)) == {
            "msisdn": REDACTED,
            "subscribers": [pseudonym, "S99999"],
        }
        erased = session.scalars(select(AuditEvent).where(AuditEvent.action == "erasure")).all()
        assert [e.target_id for e in erased] == [pseudonym]
        body = session.scalar(select(SmsMessage.body).where(SmsMessage.subscriber_id == pseudonym))
        assert body == REDACTED
    # erasing again changes nothing
    again = admin.post(url, json={"reason": "PIPL-REQ-7"})
    assert again.status_code == 200 and again.json() == {
        "pseudonym": pseudonym,
        "rows": {},
        "already_erased": True,
    }
    with session_scope(seeded) as session:
        assert session.scalar(select(func.count()).select_from(Erasure)) == 1
        assert session.scalar(select(func.count()).where(AuditEvent.action == "erasure")) == 1
    assert admin.post("/api/v1/customers/S77777/erasure", json={"reason": "x"}).status_code == 404
    # the card is gone: 404 like any missing customer
    assert login(app, "director").get("/api/v1/customers/S00001").status_code == 404


def test_the_purge_blanks_and_deletes_what_is_past_its_period_in_batches(
    engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    publish_customers(engine, branches["city"], 2)
    _seed(engine, people, "S00001", days_ago=500)  # past the SMS and event periods (1 year)
    _seed(engine, people, "S00002", days_ago=10)
    with session_scope(engine) as session:
        old = session.scalar(select(AuditEvent).where(AuditEvent.target_id == "S00001"))
        assert old is not None
        old.at = NOW - timedelta(days=4 * 365)  # past the audit period (3 years)
    rules = load_rules(None)
    today = date.today()
    counted = {c.table: c.rows for c in purge_ops(engine, rules, today, dry_run=True)}
    assert counted["sms_messages"] == 1 and counted["events"] == 2
    assert counted["audit_events"] == 1 and counted["contacts"] == 0  # contacts: 3 years
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).where(SmsMessage.body == REDACTED)) == 0
    purged = {c.table: c.rows for c in purge_ops(engine, rules, today, batch_rows=1)}
    assert purged == counted
    with session_scope(engine) as session:
        sms = dict(session.execute(select(SmsMessage.subscriber_id, SmsMessage.body)).all())
        assert sms == {"S00001": REDACTED, "S00002": "尊敬的S00002客户，流量包"}
        events = session.execute(
            select(EventRecord.event_id, EventRecord.msisdn).where(EventRecord.source == "dialer")
        ).all()
        assert sorted(map(tuple, events)) == [("ev-10-2", "13800000002"), ("ev-500-1", None)]
        kept = session.scalars(select(AuditEvent.target_id).where(AuditEvent.action == "pii_view"))
        assert list(kept) == ["S00002"]
    # nothing left to do: a second purge changes nothing
    assert sum(c.rows for c in purge_ops(engine, rules, today)) == 0


def test_the_erasure_ledger_erases_again_whom_an_older_copy_still_holds(
    app: FastAPI, seeded: Engine, tmp_path: Any
) -> None:
    """Each erasure is appended to the ledger (the salt, then digests and pseudonyms: no id, no
    number; readable by its owner only). Re-applied to a database that holds subscribers the
    ledger names as erased — as a backup made before their erasure does — it erases them as
    any erasure, records the ones it does not hold, and changes nothing the second time; a
    ledger of another installation or with a broken line is refused naming it."""
    ledger = app.state.settings.erasure_ledger_file
    done = login(app, "admin").post(
        "/api/v1/customers/S00001/erasure", json={"reason": "PIPL-REQ-8"}
    )
    assert done.status_code == 200, done.text
    text = ledger.read_text()
    assert len(text.splitlines()) == 2 and oct(ledger.stat().st_mode & 0o777) == "0o600"
    assert "S00001" not in text and "13800000001" not in text
    with session_scope(seeded) as session:
        salt = salt_of(session)
    assert read_ledger(ledger).salt == salt
    # erased later, by the installation this database is an older copy of
    for sid in ("S00002", "S55555"):
        record_erasure(ledger, salt, digest(salt, sid), pseudonym_of(salt, sid))
    with session_scope(seeded) as session:
        again = reapply_erasures(session, read_ledger(ledger))
    assert [p for _, p in again] == [pseudonym_of(salt, "S00002"), pseudonym_of(salt, "S55555")]
    assert _mentions(seeded, "S00002", "13800000002") == {}
    assert login(app, "director").get("/api/v1/customers/S00002").status_code == 404
    with session_scope(seeded) as session:
        reasons = session.scalars(select(Erasure.reason).order_by(Erasure.id)).all()
        assert reasons[0] == "PIPL-REQ-8" and len(reasons) == 3
        assert all(r.startswith("re-applied from the erasure ledger") for r in reasons[1:])
        assert reapply_erasures(session, read_ledger(ledger)) == []
    # a ledger that cannot be written: a clear error, and nothing erased
    app.state.settings = app.state.settings.model_copy(update={"erasure_ledger": tmp_path})
    refused = login(app, "admin").post(
        "/api/v1/customers/S00003/erasure", json={"reason": "PIPL-REQ-9"}
    )
    assert refused.status_code == 400 and "cannot be written" in refused.json()["detail"]
    assert login(app, "director").get("/api/v1/customers/S00003").status_code == 200
    other = tmp_path / "other.jsonl"
    record_erasure(other, "another salt", "d" * 64, "E" + "0" * 19)
    with session_scope(seeded) as session, pytest.raises(ConfigError, match="another installation"):
        reapply_erasures(session, read_ledger(other))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"salt": "x"}\n{"digest": "y"}\n')
    with pytest.raises(ConfigError, match=r"broken\.jsonl, line 2: not an erasure ledger entry"):
        read_ledger(broken)
