"""Collect the operational side's contacts (``ops_contacts``), do-not-disturb wishes
(``do_not_disturb``) and real-time events (``ops_events``) into the warehouse.

Runs before the day's steps so the outcomes of closed decisions (``analytics.outcomes``) and
the learned uplift see what agents, stores and SMS actually did. The window is the
``LOOKBACK_DAYS`` local days up to the snapshot: late imports from dialers inside it are
picked up; re-collecting a day replaces the window's rows (idempotent).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
from sqlalchemy import Engine

from weiwan.analytics.warehouse import Store
from weiwan.core.db import session_scope
from weiwan.ops.contacts.feed import FEED_COLUMNS, contact_feed, do_not_disturb_feed
from weiwan.ops.events.feed import FEED_COLUMNS as EVENT_COLUMNS
from weiwan.ops.events.feed import event_feed

TABLE = "ops_contacts"
DND_TABLE = "do_not_disturb"
EVENTS_TABLE = "ops_events"
LOOKBACK_DAYS = 40
_SCHEMA = {
    "contact_id": "int64",
    "subscriber_id": "string",
    "at": "timestamp",
    "contact_date": "date",
    "channel": "string",
    "status": "string",
    "task_id": "int64",
    "campaign_id": "int64",
    "policy_id": "string",
    "outcomes": "string",
    "accepted": "boolean",
    "refused": "boolean",
}


def collect_contacts(engine: Engine, warehouse: Store, snapshot: date, *, tz: ZoneInfo) -> int:
    """Copy the window's contacts into ``ops_contacts``; the number of rows copied."""
    first, since, until = _window(snapshot, tz)
    with session_scope(engine) as session:
        rows = contact_feed(session, since, until)
    frame = pd.DataFrame(rows, columns=list(FEED_COLUMNS))
    local = pd.to_datetime(frame["at"], utc=True).dt.tz_convert(tz)
    frame["at"] = local.dt.tz_localize(None)
    frame["contact_date"] = local.dt.date
    table = ibis.memtable(frame, schema=ibis.schema(_SCHEMA)).select(*_SCHEMA)
    if warehouse.has_table(TABLE):  # the window's rows are replaced, earlier ones kept
        stored = warehouse.table(TABLE)
        kept = stored.filter(~stored.contact_date.between(first, snapshot))
        table = kept.select(*_SCHEMA).cast(_SCHEMA).union(table)
    warehouse.replace_table(TABLE, table)
    return len(frame)


_EVENT_SCHEMA = {
    "source": "string",
    "event_id": "string",
    "subscriber_id": "string",
    "type": "string",
    "occurred_at": "timestamp",
    "event_date": "date",
    "attributes": "string",
    "status": "string",
    "rule_id": "string",
    "task_id": "int64",
}


def _window(snapshot: date, tz: ZoneInfo) -> tuple[date, datetime, datetime]:
    first = snapshot - timedelta(days=LOOKBACK_DAYS - 1)
    since = datetime.combine(first, time(0, 0), tzinfo=tz)
    until = datetime.combine(snapshot + timedelta(days=1), time(0, 0), tzinfo=tz)
    return first, since, until


def collect_events(engine: Engine, warehouse: Store, snapshot: date, *, tz: ZoneInfo) -> int:
    """Copy the window's real-time events into ``ops_events`` (local times, ``event_date``),
    so the next days' features and reports see them; the rows copied."""
    first, since, until = _window(snapshot, tz)
    with session_scope(engine) as session:
        rows = event_feed(session, since, until)
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    local = pd.to_datetime(frame["occurred_at"], utc=True).dt.tz_convert(tz)
    frame["occurred_at"] = local.dt.tz_localize(None)
    frame["event_date"] = local.dt.date
    schema = ibis.schema(_EVENT_SCHEMA)
    table = ibis.memtable(frame, schema=schema).select(*_EVENT_SCHEMA)
    if warehouse.has_table(EVENTS_TABLE):  # the window's rows are replaced, earlier ones kept
        stored = warehouse.table(EVENTS_TABLE)
        kept = stored.filter(~stored.event_date.between(first, snapshot))
        table = kept.select(*_EVENT_SCHEMA).cast(_EVENT_SCHEMA).union(table)
    warehouse.replace_table(EVENTS_TABLE, table)
    return len(frame)


def collect_do_not_disturb(engine: Engine, warehouse: Store) -> int:
    """Replace the warehouse's ``do_not_disturb`` (subscriber_id, channel) with the wishes
    recorded in the operational database; the day's decisions leave those contacts out."""
    with session_scope(engine) as session:
        rows = do_not_disturb_feed(session)
    frame = pd.DataFrame(rows, columns=["subscriber_id", "channel"])
    schema = ibis.schema({"subscriber_id": "string", "channel": "string"})
    return warehouse.replace_table(DND_TABLE, ibis.memtable(frame, schema=schema))
