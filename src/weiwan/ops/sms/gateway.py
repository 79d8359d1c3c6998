"""SMS gateways: the interface, the embedded outbox and an HTTP (JSON) gateway.

A gateway takes a batch of messages and answers one :class:`GatewayResult` per message. It
never touches the database: :func:`weiwan.ops.sms.dispatch.dispatch_due` records the results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from weiwan.core.settings import Settings

#: the HTTP gateway's timeouts: connecting, and each read/write
CONNECT_TIMEOUT_S = 5.0
TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """One message handed to a gateway."""

    message_id: int
    msisdn: str
    body: str


@dataclass(frozen=True, slots=True)
class GatewayResult:
    """What the gateway did with one message: accepted (with its id for delivery receipts)
    or refused with an error; ``unknown`` when its answer was lost after the request went
    out (a read timeout, a dropped connection, an unreadable answer): the message may have
    been sent, so it is never sent again without a check."""

    message_id: int
    ok: bool
    gateway_message_id: str | None = None
    error: str | None = None
    unknown: bool = False


class SmsGateway(Protocol):
    """Anything that can send a batch of SMS."""

    def send(self, messages: Sequence[OutgoingSms]) -> list[GatewayResult]:
        """Send ``messages``; one result per message, in any order."""
        ...


#: failures before the request reached the gateway: nothing was sent
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class OutboxGateway:
    """The embedded default: nothing leaves the machine.

    Messages stay in the ``sms_messages`` table (the outbox) and are marked sent with the
    gateway id ``outbox-<id>``. With ``path`` every message is also appended as one JSON line
    (``{"id", "to", "text"}``) to that file, for a separate forwarder that knows nothing of
    weiwan (e.g. a script feeding an SMPP client).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def send(self, messages: Sequence[OutgoingSms]) -> list[GatewayResult]:
        """Accept every message (and append it to the file if one is configured)."""
        if self.path is not None and messages:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                for m in messages:
                    line = {"id": f"outbox-{m.message_id}", "to": m.msisdn, "text": m.body}
                    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return [GatewayResult(m.message_id, True, f"outbox-{m.message_id}") for m in messages]


class HttpGateway:
    """POSTs a batch as JSON to ``url`` with ``Authorization: Bearer <token>``.

    Request: ``{"messages": [{"id": "<our id>", "to": "<msisdn>", "text": "<body>"}]}``.
    Expected answer (2xx): ``{"results": [{"id": "<our id>", "status": "accepted" |
    "rejected", "message_id": "<gateway id>", "error": "<why>"}]}``. A message missing from
    the answer, a non-2xx answer or a gateway that cannot be reached fails the messages
    concerned with the error. When the request went out but the answer was lost (read
    timeout, connection dropped, unreadable 2xx answer) the batch may have gone out: its
    results are ``unknown``. Nothing is retried automatically (a customer must not get the
    same SMS twice).
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.timeout = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout))
        self.transport = transport

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            return client.post(self.url, json=payload, headers=headers)

    def send(self, messages: Sequence[OutgoingSms]) -> list[GatewayResult]:
        """Send one batch; see the class doc for the formats and failures."""
        if not messages:
            return []
        payload = {
            "messages": [
                {"id": str(m.message_id), "to": m.msisdn, "text": m.body} for m in messages
            ]
        }

        def all_failed(error: str, *, unknown: bool = False) -> list[GatewayResult]:
            return [
                GatewayResult(m.message_id, False, None, error[:500], unknown=unknown)
                for m in messages
            ]

        try:
            response = self._post(payload)
        except _NOT_SENT as exc:
            return all_failed(f"gateway unreachable: {type(exc).__name__}: {exc}")
        except httpx.TimeoutException:
            return all_failed("gateway timeout: the batch may have gone out", unknown=True)
        except httpx.HTTPError as exc:
            error = f"gateway answer lost: {type(exc).__name__}: {exc}; the batch may have gone out"
            return all_failed(error, unknown=True)
        if not response.is_success:
            return all_failed(
                f"gateway answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            answers = response.json()["results"]
            by_id = {str(a["id"]): a for a in answers}
        except (ValueError, KeyError, TypeError):
            return all_failed("gateway answer is not {'results': [...]} JSON", unknown=True)
        results = []
        for m in messages:
            answer = by_id.get(str(m.message_id))
            if not isinstance(answer, dict):
                results.append(GatewayResult(m.message_id, False, None, "no result from gateway"))
            elif answer.get("status") == "accepted":
                gid = answer.get("message_id")
                results.append(GatewayResult(m.message_id, True, str(gid) if gid else None))
            else:
                error = str(answer.get("error") or answer.get("status") or "rejected")
                results.append(GatewayResult(m.message_id, False, None, error[:500]))
        return results


def gateway_from_settings(settings: Settings) -> SmsGateway:
    """The gateway the settings name (``sms_gateway``: outbox or http)."""
    if settings.sms_gateway == "http":
        if not settings.sms_http_url:
            raise ValueError("sms_gateway is http but sms_http_url is not set")
        return HttpGateway(settings.sms_http_url, settings.sms_http_token)
    return OutboxGateway()
