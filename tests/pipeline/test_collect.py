"""Contacts flow back from the operational database into the warehouse."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from customer_fixtures import publish_customers
from weiwan.analytics.policies import load_policies, remaining_budgets
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import make_engine, session_scope
from weiwan.ops.contacts.models import DoNotDisturb
from weiwan.ops.contacts.service import record_system_contact
from weiwan.ops.events.models import EventRecord
from weiwan.ops.ledger.models import OnlineGrant
from weiwan.ops.migrate import upgrade
from weiwan.ops.org.models import Branch
from weiwan.pipeline.collect import (
    collect_contacts,
    collect_do_not_disturb,
    collect_events,
    collect_online_grants,
)
from weiwan.pipeline.decision_steps import with_online_grants
from weiwan.pipeline.steps import RunContext

TZ = ZoneInfo("Asia/Shanghai")


def test_collect_is_idempotent_uses_local_days_and_picks_up_late_contacts(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        branch = Branch(code="HZ", name_zh="杭州", name_en="Hangzhou")
        session.add(branch)
        session.flush()
        branch_id = branch.id
    publish_customers(engine, branch_id, 3)

    def contact(sid: str, at: datetime, channel: str = "sms") -> None:
        with session_scope(engine) as session:
            record_system_contact(session, sid, channel, tz=TZ, at=at)

    contact("S00001", datetime(2026, 10, 31, 23, 30, tzinfo=TZ))  # 15:30 UTC, local 31 Oct
    contact("S00002", datetime(2026, 11, 1, 0, 30, tzinfo=TZ))  # after the snapshot day
    contact("S00003", datetime(2026, 8, 1, 10, 0, tzinfo=TZ))  # before the window
    day = date(2026, 10, 31)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        assert collect_contacts(engine, wh, day, tz=TZ) == 1
        assert collect_contacts(engine, wh, day, tz=TZ) == 1
        rows = wh.execute("SELECT subscriber_id, contact_date, status FROM ops_contacts")
        assert rows == [("S00001", day, "sent")]
        contact("S00003", datetime(2026, 10, 20, 10, 0, tzinfo=TZ))  # a late dialer import
        assert collect_contacts(engine, wh, day, tz=TZ) == 2
        assert wh.execute("SELECT count(*) FROM ops_contacts")[0][0] == 2
    engine.dispose()


def test_do_not_disturb_wishes_reach_the_warehouse(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        session.add_all(
            [
                DoNotDisturb(subscriber_id="S00001", channel="all"),
                DoNotDisturb(subscriber_id="S00002", channel="sms"),
            ]
        )
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        assert collect_do_not_disturb(engine, wh) == 2
        assert collect_do_not_disturb(engine, wh) == 2
        rows = wh.execute("SELECT subscriber_id, channel FROM do_not_disturb ORDER BY 1")
        assert rows == [("S00001", "all"), ("S00002", "sms")]
    engine.dispose()


def test_real_time_events_land_in_the_warehouse_by_local_day(tmp_path: Path) -> None:
    """Events of the window, with what processing made of them and no phone number; collected
    again, the window is replaced, not doubled."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)

    def arrived(event_id: str, at: datetime, subscriber: str | None, msisdn: str | None) -> None:
        with session_scope(engine) as session:
            session.add(
                EventRecord(
                    source="crm",
                    event_id=event_id,
                    subscriber_id=subscriber,
                    msisdn=msisdn,
                    type="port_out_code_request",
                    occurred_at=at,
                    attributes='{"channel": "sms"}',
                    status="processed",
                    rule_id="port_out_code_request",
                )
            )

    arrived("e1", datetime(2026, 10, 31, 23, 30, tzinfo=TZ), "S00001", None)  # local 31 Oct
    arrived("e2", datetime(2026, 11, 1, 0, 30, tzinfo=TZ), "S00002", None)  # after the day
    arrived("e3", datetime(2026, 10, 30, 9, 0, tzinfo=TZ), None, "13800000009")  # not resolved
    day = date(2026, 10, 31)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        assert collect_events(engine, wh, day, tz=TZ) == 2
        assert collect_events(engine, wh, day, tz=TZ) == 2
        rows = wh.execute(
            "SELECT event_id, subscriber_id, event_date, rule_id FROM ops_events ORDER BY 1"
        )
        assert rows == [
            ("e1", "S00001", day, "port_out_code_request"),
            ("e3", None, date(2026, 10, 30), "port_out_code_request"),
        ]
        columns = [c[0] for c in wh.execute("DESCRIBE ops_events")]
        assert "msisdn" not in columns
    engine.dispose()


def test_offers_granted_for_events_count_against_the_days_budgets(tmp_path: Path) -> None:
    """Online grants of the window land by local day; the day's decisions count those up to
    the snapshot against the budgets like their own earlier grants."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    policy = "prepay_100_get_200"
    with session_scope(engine) as session:
        for n, at in enumerate(
            [
                datetime(2026, 10, 31, 23, 30, tzinfo=TZ),  # local 31 Oct: counted
                datetime(2026, 10, 20, 9, 0, tzinfo=TZ),  # counted
                datetime(2026, 11, 1, 0, 30, tzinfo=TZ),  # after the snapshot day
            ]
        ):
            session.add(
                OnlineGrant(
                    event_record_id=n + 1,
                    subscriber_id=f"S0000{n + 1}",
                    policy_id=policy,
                    channel="outbound_call",
                    cost=200.0,
                    expected_value=50.0,
                    granted_on=at.date(),
                    created_at=at,
                )
            )
    day = date(2026, 10, 31)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        assert collect_online_grants(engine, wh, day, tz=TZ) == 2
        assert collect_online_grants(engine, wh, day, tz=TZ) == 2
        rows = wh.execute("SELECT subscriber_id, granted_on FROM ops_online_grants ORDER BY 1")
        assert rows == [("S00001", day), ("S00002", date(2026, 10, 20))]
        granted = with_online_grants(RunContext(wh, day), None)
        library = load_policies()
        budgets = remaining_budgets(library.policies, granted, day).to_pandas()
        row = budgets.set_index("policy_id").loc[policy]
        budget = next(p for p in library.policies if p.id == policy).budget
        assert (row["used_count"], row["used_money"]) == (2, 400.0)
        assert row["remaining_count"] == (budget.count or 0) - 2
    engine.dispose()
