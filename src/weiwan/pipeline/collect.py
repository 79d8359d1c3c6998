"""Collect the operational side's contacts (``ops_contacts``), do-not-disturb wishes
(``do_not_disturb``), the objections of the consent ledger (``objections``), real-time events
(``ops_events``) and the offers granted for them (``ops_online_grants``) into the warehouse,
and applies the erasures of personal data made there (``collect_erasures``).

Runs before the day's steps so the outcomes of closed decisions (``analytics.outcomes``) and
the learned uplift see what agents, stores and SMS actually did. The window is the
``LOOKBACK_DAYS`` local days up to the snapshot: late imports from dialers inside it are
picked up; re-collecting a day replaces the window's rows (idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from weiwan.analytics.privacy import apply_erasures, require_duckdb
from weiwan.analytics.warehouse import Store
from weiwan.core.db import session_scope
from weiwan.ops.consents.service import FEED_COLUMNS as OBJECTION_COLUMNS
from weiwan.ops.consents.service import objection_feed
from weiwan.ops.contacts.feed import FEED_COLUMNS, contact_feed, do_not_disturb_feed
from weiwan.ops.events.feed import FEED_COLUMNS as EVENT_COLUMNS
from weiwan.ops.events.feed import event_feed
from weiwan.ops.ledger.service import GRANT_COLUMNS, grant_feed
from weiwan.ops.privacy.service import erasure_feed

TABLE = "ops_contacts"
DND_TABLE = "do_not_disturb"
OBJECTIONS_TABLE = "objections"
EVENTS_TABLE = "ops_events"
GRANTS_TABLE = "ops_online_grants"
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
    feed = (contact_feed, list(FEED_COLUMNS))
    return _collect(engine, warehouse, snapshot, tz, feed, TABLE, _SCHEMA, ("at", "contact_date"))


#: a feed of the operational database over [since, until) and its columns
Feed = tuple[Callable[[Session, datetime, datetime], Sequence[Any]], list[str]]


def _collect(
    engine: Engine,
    warehouse: Store,
    snapshot: date,
    tz: ZoneInfo,
    feed: Feed,
    name: str,
    schema: dict[str, str],
    columns: tuple[str, str],
) -> int:
    """The window's rows of ``feed`` as table ``name`` (earlier rows kept): its UTC time column
    ``columns[0]`` made local and its local day written to ``columns[1]``; the rows stored."""
    first = snapshot - timedelta(days=LOOKBACK_DAYS - 1)
    since = datetime.combine(first, time(0, 0), tzinfo=tz)
    until = datetime.combine(snapshot + timedelta(days=1), time(0, 0), tzinfo=tz)
    read, names = feed
    with session_scope(engine) as session:
        frame = pd.DataFrame(read(session, since, until), columns=names)
    moment, day = columns
    local = pd.to_datetime(frame[moment], utc=True).dt.tz_convert(tz)
    frame[moment] = local.dt.tz_localize(None)
    frame[day] = local.dt.date
    table = ibis.memtable(frame, schema=ibis.schema(schema)).select(*schema)
    if warehouse.has_table(name):  # the window's rows are replaced, earlier ones kept
        stored = warehouse.table(name)
        kept = stored.filter(~stored[day].between(first, snapshot))
        table = kept.select(*schema).cast(schema).union(table)
    warehouse.replace_table(name, table)
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


def collect_events(engine: Engine, warehouse: Store, snapshot: date, *, tz: ZoneInfo) -> int:
    """Copy the window's real-time events into ``ops_events`` (local times, ``event_date``),
    so the next days' features and reports see them; the rows copied."""
    feed = (event_feed, list(EVENT_COLUMNS))
    columns = ("occurred_at", "event_date")
    return _collect(engine, warehouse, snapshot, tz, feed, EVENTS_TABLE, _EVENT_SCHEMA, columns)


_GRANT_SCHEMA = {
    "subscriber_id": "string",
    "policy_id": "string",
    "channel": "string",
    "cost": "float64",
    "expected_value": "float64",
    "granted_at": "timestamp",
    "granted_on": "date",
}


def collect_online_grants(engine: Engine, warehouse: Store, snapshot: date, *, tz: ZoneInfo) -> int:
    """Copy the window's offers granted for real-time events into ``ops_online_grants`` (local
    times, ``granted_on``): the day's decisions count them against the budgets, value caps and
    entry limits like their own earlier grants; the rows copied."""
    feed = (grant_feed, list(GRANT_COLUMNS))
    columns = ("granted_at", "granted_on")
    return _collect(engine, warehouse, snapshot, tz, feed, GRANTS_TABLE, _GRANT_SCHEMA, columns)


def collect_do_not_disturb(engine: Engine, warehouse: Store) -> int:
    """Replace the warehouse's ``do_not_disturb`` (subscriber_id, channel) with the wishes
    recorded in the operational database; the day's decisions leave those contacts out."""
    with session_scope(engine) as session:
        rows = do_not_disturb_feed(session)
    frame = pd.DataFrame(rows, columns=["subscriber_id", "channel"])
    schema = ibis.schema({"subscriber_id": "string", "channel": "string"})
    return warehouse.replace_table(DND_TABLE, ibis.memtable(frame, schema=schema))


def collect_objections(engine: Engine, warehouse: Store) -> int:
    """Replace the warehouse's ``objections`` (subscriber_id, purpose, channel) with the
    current objections of the consent ledger; the day's decisions leave out the contacts they
    cover and decide nothing for those who refuse automated decisions."""
    with session_scope(engine) as session:
        rows = objection_feed(session)
    frame = pd.DataFrame(rows, columns=list(OBJECTION_COLUMNS))
    schema = ibis.schema({name: "string" for name in OBJECTION_COLUMNS})
    return warehouse.replace_table(OBJECTIONS_TABLE, ibis.memtable(frame, schema=schema))


def collect_erasures(engine: Engine, warehouse: Store) -> int:
    """Bring the erasures made in the operational database (``weiwan privacy erase``, the
    API) into the warehouse: the subscribers not erased there yet are erased (their rows
    pseudonymised, their profile deleted) and later deliveries drop them. The number of
    warehouse rows changed; on the Spark engine an erasure is refused, not half done."""
    with session_scope(engine) as session:
        salt, erasures = erasure_feed(session)
    if salt is None or not erasures:
        return 0
    wh = require_duckdb(warehouse)
    return sum(apply_erasures(wh, salt, erasures).values())
