"""The real-time event contract (实时事件): one churn signal as an operator's system sends it.

In core because both sides use it: the operational side takes events in (``POST
/api/v1/events``) and the warehouse lands them for the next day's features; the data contract
documents it from here.

An event: ``event_id`` (unique per source), ``subscriber_id`` or ``msisdn`` (at least one),
``type`` (:data:`EVENT_TYPES`), ``time`` (ISO 8601 with its UTC offset) and ``attributes``,
typed per type (:data:`ATTRIBUTES`; unknown attributes are refused, so a misspelt one is not
silently lost).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

_STRICT = ConfigDict(extra="forbid", frozen=True)
#: how far ahead of the receiving server's clock an event's time may be (clock skew)
MAX_FUTURE = timedelta(minutes=10)
NETWORKS = ("china_mobile", "china_unicom", "china_telecom", "china_broadnet", "other")


class PortOutCodeRequest(BaseModel):
    """A port-out authorisation code (携号转网授权码) was requested."""

    model_config = _STRICT
    channel: Literal["sms", "app", "store", "hotline", "other"] | None = None


class CallForwardingOn(BaseModel):
    """Unconditional call forwarding was set, to a number on ``target_network``."""

    model_config = _STRICT
    target_network: Literal[NETWORKS]  # type: ignore[valid-type]


class CompetitorHotlineCall(BaseModel):
    """The subscriber called a competitor's service line."""

    model_config = _STRICT
    competitor: Literal[NETWORKS]  # type: ignore[valid-type]
    duration_seconds: int | None = Field(None, ge=0, le=86_400)


class PreDisconnectRequest(BaseModel):
    """A pre-disconnect (预销户) request at a store or the hotline."""

    model_config = _STRICT
    channel: Literal["store", "hotline", "app", "other"] | None = None
    store_id: str | None = Field(None, max_length=32)


class Complaint(BaseModel):
    """A complaint was lodged."""

    model_config = _STRICT
    category: str = Field(min_length=1, max_length=32)
    severity: Literal["low", "medium", "high"] | None = None


class PlanDowngradeRequest(BaseModel):
    """A request to move to a cheaper plan."""

    model_config = _STRICT
    from_plan: str | None = Field(None, max_length=32)
    to_plan: str | None = Field(None, max_length=32)
    fee_drop: float | None = Field(None, ge=0, le=100_000)


class RechargeDrop(BaseModel):
    """Recharges fell sharply (prepaid): the recent amount against the usual one."""

    model_config = _STRICT
    usual_amount: float = Field(ge=0, le=1_000_000)
    recent_amount: float = Field(ge=0, le=1_000_000)
    window_days: int = Field(30, ge=1, le=366)


class StoreVisit(BaseModel):
    """The subscriber came to a store."""

    model_config = _STRICT
    store_id: str | None = Field(None, max_length=32)
    purpose: str | None = Field(None, max_length=64)


#: each event type's attributes
ATTRIBUTES: dict[str, type[BaseModel]] = {
    "port_out_code_request": PortOutCodeRequest,
    "call_forwarding_on": CallForwardingOn,
    "competitor_hotline_call": CompetitorHotlineCall,
    "pre_disconnect_request": PreDisconnectRequest,
    "complaint": Complaint,
    "plan_downgrade_request": PlanDowngradeRequest,
    "recharge_drop": RechargeDrop,
    "store_visit": StoreVisit,
}
EVENT_TYPES: tuple[str, ...] = tuple(ATTRIBUTES)
EventType = Literal[
    "port_out_code_request",
    "call_forwarding_on",
    "competitor_hotline_call",
    "pre_disconnect_request",
    "complaint",
    "plan_downgrade_request",
    "recharge_drop",
    "store_visit",
]


class Event(BaseModel):
    """One event as received (see the module doc)."""

    model_config = _STRICT
    event_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    subscriber_id: str | None = Field(None, min_length=1, max_length=32)
    msisdn: str | None = Field(None, pattern=r"^\+?[0-9]{5,20}$")
    type: EventType
    time: AwareDatetime
    attributes: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _someone(self) -> Event:
        if self.subscriber_id is None and self.msisdn is None:
            raise ValueError("give subscriber_id or msisdn")
        return self


def _problem(exc: ValidationError, prefix: str = "") -> str:
    error = exc.errors()[0]
    where = prefix + ".".join(str(p) for p in error["loc"]) or "(event)"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


def check_event(raw: Any, now: datetime) -> tuple[Event | None, str | None]:
    """(the event, None) or (None, why it is refused: "field: problem", the attributes' as
    "attributes.name: problem"); ``now`` (aware) bounds the time an event may claim."""
    if not isinstance(raw, dict):
        return None, "(event): expected an object"
    try:
        event = Event.model_validate(raw)
    except ValidationError as exc:
        return None, _problem(exc)
    try:
        ATTRIBUTES[event.type].model_validate(event.attributes)
    except ValidationError as exc:
        return None, _problem(exc, "attributes.")
    if event.time > now + MAX_FUTURE:
        return None, f"time: more than {int(MAX_FUTURE.total_seconds() // 60)} minutes ahead"
    return event, None
