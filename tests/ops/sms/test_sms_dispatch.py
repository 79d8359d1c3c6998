"""SMS dispatch sends each message exactly once: concurrent dispatchers, a gateway that fails
mid-batch, a dispatcher that dies between the gateway call and recording its answer. The
gateway is a real HTTP server on 127.0.0.1 that counts what it receives (through the
product's HttpGateway), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine, select

from weiwan.core.db import session_scope
from weiwan.ops.contacts.models import Contact
from weiwan.ops.sms import dispatch
from weiwan.ops.sms.gateway import GatewayResult, HttpGateway, OutgoingSms
from weiwan.ops.sms.models import SmsMessage

from ..race import race

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


class _Gateway:
    """An SMS gateway on a local port: answers every message accepted and counts them; the
    requests numbered in ``drop`` are received (the messages go out) but the connection is
    closed without an answer, as a gateway that fails mid-batch."""

    def __init__(self) -> None:
        self.received: Counter[int] = Counter()
        self.requests = 0
        self.drop: set[int] = set()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ids = [int(m["id"]) for m in body["messages"]]
                with gateway.lock:
                    gateway.requests += 1
                    number = gateway.requests
                    gateway.received.update(ids)
                if number in gateway.drop:
                    self.close_connection = True
                    return
                answer = json.dumps(
                    {
                        "results": [
                            {"id": str(i), "status": "accepted", "message_id": f"gw-{i}"}
                            for i in ids
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def client(self) -> HttpGateway:
        return HttpGateway(self.url, "token", timeout=10)


@pytest.fixture
def gateway() -> Iterator[_Gateway]:
    fake = _Gateway()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(timeout=10)


def _queue(engine: Engine, count: int) -> list[int]:
    """``count`` queued messages (each with its contact), due at ``NOW``; their ids."""
    with session_scope(engine) as session:
        messages = []
        for n in range(1, count + 1):
            contact = Contact(subscriber_id=f"S{n:05d}", at=NOW, channel="sms", status="sent")
            session.add(contact)
            session.flush()
            messages.append(
                SmsMessage(
                    subscriber_id=contact.subscriber_id,
                    msisdn=f"138{n:08d}",
                    body=f"message {n}",
                    segments=1,
                    contact_id=contact.id,
                    status="queued",
                    scheduled_at=NOW,
                )
            )
        session.add_all(messages)
        session.flush()
        return [m.id for m in messages]


def _statuses(engine: Engine) -> dict[int, str]:
    with session_scope(engine) as session:
        return {i: s for i, s in session.execute(select(SmsMessage.id, SmsMessage.status))}


def _dispatch(engine: Engine, sender: object, at: datetime = NOW) -> dispatch.DispatchResult:
    with session_scope(engine) as session:
        return dispatch.dispatch_due(session, sender, at, batch_size=10)  # type: ignore[arg-type]


def test_concurrent_dispatchers_send_each_message_once(engine: Engine, gateway: _Gateway) -> None:
    ids = _queue(engine, 120)
    results = race([lambda: _dispatch(engine, gateway.client()) for _ in range(3)])
    assert all(isinstance(r, dispatch.DispatchResult) for r in results), results
    assert sorted(gateway.received) == ids
    assert set(gateway.received.values()) == {1}  # every message reached the gateway once
    assert sum(r.sent for r in results if isinstance(r, dispatch.DispatchResult)) == len(ids)
    assert set(_statuses(engine).values()) == {"sent"}


def test_gateway_failing_mid_batch_loses_nothing_and_sends_nothing_twice(
    engine: Engine, gateway: _Gateway
) -> None:
    ids = _queue(engine, 50)
    gateway.drop = {3}  # the third batch goes out, but its answer never comes back
    first = _dispatch(engine, gateway.client())
    assert (first.sent, first.failed, first.unknown) == (20, 0, 10)
    assert first.error and "may have gone out" in first.error
    statuses = _statuses(engine)
    third_batch = set(ids[20:30])
    assert {i for i, s in statuses.items() if s == "sent"} == set(ids[:20])
    assert {i for i, s in statuses.items() if s == "unknown"} == third_batch
    assert {i for i, s in statuses.items() if s == "queued"} == set(ids[30:])  # kept
    assert set(gateway.received) == set(ids[:30])  # the state says what went out
    second = _dispatch(engine, gateway.client())  # the gateway is back
    assert (second.sent, second.unknown) == (20, 0)
    assert sorted(gateway.received) == ids and set(gateway.received.values()) == {1}
    with session_scope(engine) as session:  # checked with the gateway: they went out
        assert dispatch.resolve_unknown(session, sorted(third_batch), "sent") == sorted(third_batch)
    assert set(_statuses(engine).values()) == {"sent"}


class _Crash(BaseException):
    """The dispatcher process dies (killed, power cut) inside the gateway call."""


class _DyingGateway:
    def __init__(self, real: HttpGateway) -> None:
        self.real = real

    def send(self, messages: Sequence[OutgoingSms]) -> list[GatewayResult]:
        self.real.send(messages)
        raise _Crash


def test_dispatcher_dying_before_recording_leaves_sending_rows_that_are_never_resent(
    engine: Engine, gateway: _Gateway
) -> None:
    ids = _queue(engine, 15)
    with pytest.raises(_Crash):
        _dispatch(engine, _DyingGateway(gateway.client()))
    statuses = _statuses(engine)
    assert [statuses[i] for i in ids[:10]] == ["sending"] * 10  # committed before the call
    assert [statuses[i] for i in ids[10:]] == ["queued"] * 5
    later = _dispatch(engine, gateway.client(), NOW + timedelta(minutes=1))  # within grace
    assert (later.sent, later.reconciled) == (5, 0)
    assert [_statuses(engine)[i] for i in ids[:10]] == ["sending"] * 10
    after_grace = _dispatch(engine, gateway.client(), NOW + timedelta(minutes=30))
    assert (after_grace.sent, after_grace.reconciled) == (0, 10)
    assert [_statuses(engine)[i] for i in ids[:10]] == ["unknown"] * 10
    assert set(gateway.received.values()) == {1} and sorted(gateway.received) == ids
    with session_scope(engine) as session:
        left = [m.id for m in dispatch.unresolved_messages(session)]
        assert left == ids[:10]
        # checked with the gateway: say the first did not go out; it is sent again once
        assert dispatch.resolve_unknown(session, [ids[0]], "queued", NOW) == [ids[0]]
    again = _dispatch(engine, gateway.client(), NOW + timedelta(minutes=31))
    assert again.sent == 1 and gateway.received[ids[0]] == 2
