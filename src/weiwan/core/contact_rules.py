"""Contact policy rules (触点管理) as data: shared by the daily decisions and the ops service.

The model and its point-in-time checks live here so the analytics side (which applies the caps
to a whole day's candidates as one Ibis expression) and the operational side (which checks one
contact as it is recorded) read one definition. Format: docs/policies.md.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: contact channels (触点渠道), shared with the policy library
CHANNELS = ("outbound_call", "account_manager_call", "sms", "store", "hotline", "self_service")
#: a channel as a type (request fields, task and anomaly shapes)
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
#: channel value of a do-not-disturb row that covers every proactive channel
DND_ALL = "all"
#: why a candidate contact is blocked, in the order they are checked (the first one is kept)
BLOCK_REASONS = (
    "unknown_channel",
    "cap_day",
    "cap_week",
    "cap_month",
    "cross_channel_cap",
    "objection",  # the consent ledger (core.consent_rules), where do-not-disturb blocks
    "dnd",
    "cool_off",
)
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


class Caps(BaseModel):
    """Most contacts allowed per subscriber in each window (omitted: no cap; 0: never)."""

    model_config = _STRICT
    day: int | None = Field(default=None, ge=0)
    week: int | None = Field(default=None, ge=0)
    month: int | None = Field(default=None, ge=0)


def _clock(raw: Any) -> Any:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raise ValueError(
            "write times as quoted 'HH:MM' strings (YAML reads unquoted 21:00 as a number)"
        )
    if isinstance(raw, str):
        try:
            return dt.time.fromisoformat(raw)
        except ValueError as exc:
            raise ValueError(f"{raw!r} is not a time of day 'HH:MM'") from exc
    return raw


class QuietHours(BaseModel):
    """No contact from ``start`` (included) to ``end`` (excluded); may cross midnight."""

    model_config = _STRICT
    start: dt.time
    end: dt.time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, raw: Any) -> Any:
        return _clock(raw)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal; omit quiet_hours for none")
        return self

    def contains(self, moment: dt.time) -> bool:
        """Whether a time of day is quiet."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def next_end(self, at: dt.datetime) -> dt.datetime:
        """The first moment after ``at`` when the quiet window ends."""
        end = at.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > at else end + dt.timedelta(days=1)


class Capacity(BaseModel):
    """Contacts a channel can make per day: ``per_day``, or ``agents`` × ``per_agent_per_day``;
    0 on weekdays (ISO 1 = Monday … 7 = Sunday) not in ``weekdays``."""

    model_config = _STRICT
    per_day: int | None = Field(default=None, ge=0)
    agents: int | None = Field(default=None, ge=0)
    per_agent_per_day: int | None = Field(default=None, ge=0)
    weekdays: tuple[int, ...] = Field(default=(1, 2, 3, 4, 5, 6, 7), strict=False)

    @model_validator(mode="after")
    def _one_form(self) -> Capacity:
        staffed = self.agents is not None or self.per_agent_per_day is not None
        if (self.per_day is None) == (not staffed):
            raise ValueError("give per_day, or agents and per_agent_per_day (not both)")
        if staffed and (self.agents is None or self.per_agent_per_day is None):
            raise ValueError("agents and per_agent_per_day go together")
        if any(d not in range(1, 8) for d in self.weekdays):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return self

    def on(self, day: dt.date) -> int:
        """Contacts possible on ``day``."""
        if day.isoweekday() not in self.weekdays:
            return 0
        if self.per_day is not None:
            return self.per_day
        assert self.agents is not None and self.per_agent_per_day is not None
        return self.agents * self.per_agent_per_day


class ChannelRule(BaseModel):
    """The rules of one channel."""

    model_config = _STRICT
    inbound: bool = False
    caps: Caps = Caps()
    quiet_hours: QuietHours | None = None
    cool_off_days: int = Field(default=0, ge=0, le=366)
    capacity: Capacity | None = None
    #: share of the day's capacity the daily decisions leave for real-time events
    reserve_for_events: float = Field(default=0.0, ge=0.0, le=0.9)


class ContactRules(BaseModel):
    """The contact policy: per-channel rules, cross-channel caps, cool-off and priorities."""

    model_config = _STRICT
    channels: dict[str, ChannelRule] = {}
    cross_channel_caps: Caps = Caps()
    cool_off_days: int = Field(default=0, ge=0, le=366)
    refusal_outcomes: tuple[str, ...] = Field(default=("refused",), strict=False, min_length=1)
    trigger_priority: tuple[str, ...] = Field(
        default=("risk", "alert", "care", "campaign"), strict=False, min_length=1
    )
    campaign_priority: tuple[str, ...] = Field(default=(), strict=False)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, ChannelRule]) -> dict[str, ChannelRule]:
        unknown = [c for c in value if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channels {unknown}; use {', '.join(CHANNELS)}")
        return value

    @field_validator("trigger_priority", "campaign_priority")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({v for v in value if value.count(v) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {repeated}")
        return value

    def rule(self, channel: str) -> ChannelRule:
        """The rules of ``channel`` (defaults when the file does not mention it)."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; use {', '.join(CHANNELS)}")
        return self.channels.get(channel, ChannelRule())

    # ------------------------------------------------------------------ time and capacity
    def in_quiet_hours(self, channel: str, at: dt.datetime) -> bool:
        """Whether ``at`` (local time) is in the channel's quiet hours."""
        quiet = self.rule(channel).quiet_hours
        return quiet is not None and quiet.contains(at.time())

    def next_allowed_time(self, channel: str, at: dt.datetime) -> dt.datetime:
        """``at`` itself when the channel may contact then, else the end of its quiet hours."""
        quiet = self.rule(channel).quiet_hours
        if quiet is None or not quiet.contains(at.time()):
            return at
        return quiet.next_end(at)

    def capacity(self, channel: str, day: dt.date) -> int | None:
        """Contacts the channel can make on ``day``; None = not limited."""
        capacity = self.rule(channel).capacity
        return None if capacity is None else capacity.on(day)

    def batch_capacity(self, channel: str, day: dt.date) -> int | None:
        """What the daily decisions may plan of ``day``'s capacity: all of it but the
        ``reserve_for_events`` share kept for real-time events (which may use all of it)."""
        full = self.capacity(channel, day)
        if full is None:
            return None
        return full - math.ceil(full * self.rule(channel).reserve_for_events)

    def event_capacity(self, channel: str, day: dt.date) -> int | None:
        """What real-time events may use of ``day``'s capacity: the ``reserve_for_events``
        share the daily decisions leave (so the two together never pass the capacity)."""
        full = self.capacity(channel, day)
        planned = self.batch_capacity(channel, day)
        return None if full is None or planned is None else full - planned

    # ------------------------------------------------------------------ priorities
    def priority_rank(self, kind: str) -> int:
        """0 for the most important trigger kind; ValueError for a kind not in the list."""
        try:
            return self.trigger_priority.index(kind)
        except ValueError:
            raise ValueError(
                f"unknown trigger kind {kind!r}; trigger_priority lists "
                f"{', '.join(self.trigger_priority)}"
            ) from None

    def campaign_rank(self, campaign_id: str) -> int:
        """0 for the first campaign in ``campaign_priority``; unlisted campaigns come last."""
        if campaign_id in self.campaign_priority:
            return self.campaign_priority.index(campaign_id)
        return len(self.campaign_priority)
