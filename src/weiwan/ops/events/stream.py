"""The Redis Streams consumer of events (``weiwan events consume``): the same intake as
``POST /api/v1/events``, fed from a stream the operator's systems write to.

Each stream entry carries one event of the contract as JSON in its field ``event``
(``XADD weiwan:events * event '{"event_id": …}'``); the consumer reads them in a consumer
group (several consumers share a stream, each entry goes to one), takes a batch in and
processes it in one database transaction, and acknowledges the entries (``XACK``) only after
the commit. So a consumer killed at any moment loses nothing: entries read and not acknowledged
stay pending and are read again — by the same consumer when it restarts (its own pending
entries first) or by another one once they have been idle for ``claim_idle_ms`` (``XAUTOCLAIM``)
— and intake is idempotent by (source, event id), so nothing is taken in or acted on twice.
An entry that is not an event (bad JSON, a contract violation) is kept as a dead letter with
its reason and acknowledged. While the backlog of unprocessed events is full the consumer reads
nothing and waits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.core.logging import get_logger
from weiwan.ops.base import utcnow
from weiwan.ops.events import intake
from weiwan.ops.events.processing import process_events

log = get_logger(__name__)
#: the stream entry's field holding the event
FIELD = "event"


@dataclass(frozen=True)
class StreamSettings:
    """Where to read and as whom."""

    stream: str = "weiwan:events"
    group: str = "weiwan"
    consumer: str = "weiwan-1"
    #: the events' source (the producing system), as a token's name is for the API
    source: str = "stream"
    batch: int = 200
    block_ms: int = 1000
    claim_idle_ms: int = 60_000
    max_backlog: int = 100_000
    process: bool = True


@dataclass
class Polled:
    """What one poll did."""

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    acknowledged: int = 0
    waited: bool = False
    tasks: list[int] = field(default_factory=list)


class StreamConsumer:
    """Reads events from a Redis stream into the operational database (see the module doc)."""

    def __init__(self, client: redis.Redis, engine: Engine, settings: StreamSettings) -> None:
        self.client = client
        self.engine = engine
        self.settings = settings

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless they exist; a new group starts
        at the stream's beginning, so events written before the first consumer are read."""
        try:
            self.client.xgroup_create(
                self.settings.stream, self.settings.group, id="0", mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _entries(self) -> list[tuple[str, dict[str, str]]]:
        """The next entries: this consumer's own pending ones (after a restart), else ones
        idle too long at another consumer, else new ones (waiting up to ``block_ms``)."""
        s = self.settings
        own = self.client.xreadgroup(s.group, s.consumer, {s.stream: "0"}, count=s.batch)
        entries = _flatten(own)
        if entries:
            return entries
        claimed = self.client.xautoclaim(
            s.stream,
            s.group,
            s.consumer,
            min_idle_time=s.claim_idle_ms,
            start_id="0-0",
            count=s.batch,
        )
        entries = [(i, f) for i, f in claimed[1] if f is not None] if claimed else []
        if entries:
            return entries
        fresh = self.client.xreadgroup(
            s.group, s.consumer, {s.stream: ">"}, count=s.batch, block=s.block_ms
        )
        return _flatten(fresh)

    def poll(self) -> Polled:
        """Read one batch, take it in and process it in one transaction, then acknowledge."""
        s = self.settings
        polled = Polled()
        with session_scope(self.engine) as session:
            if intake.backlog(session) >= s.max_backlog:
                polled.waited = True
                return polled
        entries = self._entries()
        polled.read = len(entries)
        if not entries:
            return polled
        parsed = [_event_of(fields) for _, fields in entries]
        events = [event for event, _ in parsed]
        refused = {i: why for i, (_, why) in enumerate(parsed) if why is not None}
        now = utcnow()
        with session_scope(self.engine) as session:
            result = intake.take_in(session, s.source, events, now, refused)
            if result.new_ids and s.process:
                done = process_events(session, result.records, now)
                polled.tasks = done.tasks
        # committed: only now may the entries go (a crash before this re-reads them)
        polled.acknowledged = int(self.client.xack(s.stream, s.group, *[i for i, _ in entries]))
        polled.accepted, polled.duplicates = result.accepted, result.duplicates
        polled.rejected = len(result.rejected)
        for rejected in result.rejected:
            log.warning(
                "events.stream_rejected",
                entry=entries[rejected["index"]][0],
                reason=rejected["reason"],
            )
        return polled

    def run(self, *, stop: Callable[[], bool] = lambda: False, once: bool = False) -> Polled:
        """Poll until ``stop()`` says so (``once``: until nothing is left); the totals."""
        self.ensure_group()
        total = Polled()
        while not stop():
            polled = self.poll()
            for name in ("read", "accepted", "duplicates", "rejected", "acknowledged"):
                setattr(total, name, getattr(total, name) + getattr(polled, name))
            total.tasks += polled.tasks
            if polled.waited:
                if once:
                    break
                time.sleep(self.settings.block_ms / 1000)
            elif once and not polled.read:
                break
        return total


def _flatten(answer: Any) -> list[tuple[str, dict[str, str]]]:
    """XREADGROUP's [[stream, [(id, fields), …]]] as [(id, fields), …]."""
    out: list[tuple[str, dict[str, str]]] = []
    for _stream, entries in answer or []:
        out.extend((str(i), dict(f)) for i, f in entries if f is not None)
    return out


def _event_of(fields: dict[str, str]) -> tuple[Any, str | None]:
    """The entry's event (its field ``event`` as JSON), or what there is and why it is no
    event (it then lands among the dead letters with that reason)."""
    text = fields.get(FIELD)
    if text is None:
        return json.dumps(fields, ensure_ascii=False), f"entry: no field {FIELD!r}"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return text, f"{FIELD}: not JSON ({exc.msg})"
