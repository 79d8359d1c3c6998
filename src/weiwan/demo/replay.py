"""``weiwan simulate replay-events``: a simulated operator's event stream posted to a running
weiwan in time order, as the operator's systems would, at a set rate.

Batches of up to ``batch`` events go out every ``batch / rate`` seconds; a 429 is retried after
its Retry-After (the intake's back-pressure), a network error or a 5xx a few times with a
growing pause, so a replay survives a server restart and — intake being idempotent per event
id — never sends an event twice into the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from weiwan.core.errors import WeiwanError
from weiwan.sim.event_stream import time_of

RETRIES = 5


@dataclass
class ReplayResult:
    """What the server answered over the whole replay."""

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)
    throttled: int = 0  # 429 answers waited out
    retried: int = 0  # requests sent again after a network error or a 5xx
    seconds: float = 0.0


def window(
    events: Sequence[dict[str, object]], since: datetime | None, until: datetime | None
) -> list[dict[str, object]]:
    """The events with ``since`` ≤ time < ``until`` (aware bounds; None: open)."""
    return [
        e
        for e in events
        if (since is None or time_of(e) >= since) and (until is None or time_of(e) < until)
    ]


def _post(
    client: httpx.Client, url: str, batch: list[dict[str, object]], sleep: Callable[[float], None]
) -> tuple[dict[str, object], int, int]:
    """The answer to one batch (after waiting out 429s and retrying errors), the 429s and the
    retries."""
    throttled = retried = 0
    for attempt in range(RETRIES + 1):
        try:
            answer = client.post(url, json={"events": batch})
        except httpx.TransportError as exc:
            if attempt == RETRIES:
                raise WeiwanError(f"{url}: {exc}") from exc
            retried += 1
            sleep(2.0**attempt)
            continue
        if answer.status_code == 429:
            throttled += 1
            sleep(float(answer.headers.get("Retry-After", "5")))
            continue
        if answer.status_code >= 500 and attempt < RETRIES:
            retried += 1
            sleep(2.0**attempt)
            continue
        if answer.status_code != 202:
            raise WeiwanError(f"{url}: {answer.status_code} {answer.text[:300]}")
        body: dict[str, object] = answer.json()
        return body, throttled, retried
    raise WeiwanError(f"{url}: still refused after {RETRIES} retries")


def replay(
    events: Sequence[dict[str, object]],
    url: str,
    token: str,
    *,
    rate: float,
    batch: int = 100,
    sleep: Callable[[float], None] = time.sleep,
    client: httpx.Client | None = None,
    as_now: bool = False,
) -> ReplayResult:
    """Post ``events`` to ``url`` (the intake, ``…/api/v1/events``) with ``token``, ``rate``
    events a second in batches of ``batch``; ``as_now``: each event happens when it is sent
    (the demo's live morning), not at its recorded time."""
    if rate <= 0 or batch < 1:
        raise WeiwanError("rate must be positive and batch at least 1")
    result = ReplayResult()
    started = time.monotonic()
    own = client is None
    http = client or httpx.Client(timeout=30.0)
    http.headers["Authorization"] = f"Bearer {token}"
    try:
        for start in range(0, len(events), batch):
            chunk = list(events[start : start + batch])
            due = started + start / rate
            pause = due - time.monotonic()
            if pause > 0:
                sleep(pause)
            if as_now:
                moment = datetime.now(UTC).isoformat(timespec="seconds")
                chunk = [{**event, "time": moment} for event in chunk]
            body, throttled, retried = _post(http, url, chunk, sleep)
            result.sent += len(chunk)
            result.accepted += int(str(body.get("accepted", 0)))
            result.duplicates += int(str(body.get("duplicates", 0)))
            rejected = body.get("rejected")
            for item in rejected if isinstance(rejected, list) else []:
                result.rejected.append({**item, "index": start + int(item["index"])})
            result.throttled += throttled
            result.retried += retried
    finally:
        if own:
            http.close()
    result.seconds = time.monotonic() - started
    return result


def last_morning(events: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """The events of the stream's last day between 08:00 and 12:00 (the events' own offset)."""
    if not events:
        return []
    day = time_of(events[-1]).normalize().to_pydatetime()
    return window(events, day.replace(hour=8), day.replace(hour=12))
