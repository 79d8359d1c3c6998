"""Contact policy (触点管理): one set of rules for every channel, so nobody is over-contacted.

Per-channel and cross-channel frequency caps per day / week / month, quiet hours, do-not-disturb
lists, cool-off after a refusal, priorities between trigger kinds and campaigns, and each
channel's daily capacity, read from ``contact_policy.yaml``. :meth:`ContactPolicy.explain_contacts`
is one Ibis expression over the candidates and the contact history that says why each candidate
contact is blocked (or NULL when it is allowed). The format is in ``docs/policies.md``.

Windows end at the decision day and include it: day = that date, week = the 7 days up to it,
month = the dates after the same day one calendar month earlier. Inbound channels (the
customer comes to us: store, hotline, self-service) ignore the cross-channel cap, the global
cool-off and the "all" do-not-disturb entry; their own per-channel settings still apply.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from weiwan.analytics.config_files import problems, read_yaml
from weiwan.core.errors import ConfigError
from weiwan.core.months import add_months

#: contact channels (触点渠道), shared with the policy library
CHANNELS = ("outbound_call", "account_manager_call", "sms", "store", "hotline", "self_service")
#: channel value of a do-not-disturb row that covers every proactive channel
DND_ALL = "all"
#: why a candidate contact is blocked, in the order they are checked (the first one is kept)
BLOCK_REASONS = (
    "unknown_channel",
    "cap_day",
    "cap_week",
    "cap_month",
    "cross_channel_cap",
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


class ContactPolicy(BaseModel):
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

    def priority_expression(self, kind: ir.StringValue) -> ir.IntegerValue:
        """:meth:`priority_rank` over a column; unknown kinds rank after every listed one."""
        ranked = kind.cases(
            *[(k, i) for i, k in enumerate(self.trigger_priority)],
            else_=len(self.trigger_priority),
        )
        result: ir.IntegerValue = ranked.cast("int64")
        return result

    # ------------------------------------------------------------------ contacts
    def _params(self, day: dt.date) -> ir.Table:
        rules = [(c, self.rule(c)) for c in CHANNELS]
        since = [
            day - dt.timedelta(days=r.cool_off_days - 1) if r.cool_off_days else None
            for _, r in rules
        ]
        return ibis.memtable(
            pa.table(
                {
                    "cp_channel": pa.array([c for c, _ in rules], pa.string()),
                    "cp_inbound": pa.array([r.inbound for _, r in rules], pa.bool_()),
                    "cp_cap_day": pa.array([r.caps.day for _, r in rules], pa.int64()),
                    "cp_cap_week": pa.array([r.caps.week for _, r in rules], pa.int64()),
                    "cp_cap_month": pa.array([r.caps.month for _, r in rules], pa.int64()),
                    "cp_cool_since": pa.array(since, pa.date32()),
                }
            )
        )

    def explain_contacts(
        self,
        candidates: ir.Table,
        history: ir.Table,
        dnd: ir.Table | None,
        day: dt.date,
    ) -> ir.Table:
        """``candidates`` (subscriber_id, channel, …) with ``blocked_reason``: the first of
        :data:`BLOCK_REASONS` that blocks each contact on ``day``, or NULL when allowed.

        ``history``: subscriber_id, channel, contacted_at (timestamp or date), outcome; every
        contact up to and including ``day`` counts towards the caps, a refusal (an outcome in
        ``refusal_outcomes``) starts the cool-off. ``dnd``: subscriber_id, channel (a channel
        name or ``"all"``). A cap of N blocks the contact when N contacts are already in the
        window; the cool-off of N days blocks the N days from the refusal's date on.
        """
        week_start = day - dt.timedelta(days=7)
        month_start = add_months(day, -1)
        longest_cool_off = max(
            [self.cool_off_days, *(self.rule(c).cool_off_days for c in CHANNELS)]
        )
        horizon = min(month_start, day - dt.timedelta(days=longest_cool_off))
        refusals = list(self.refusal_outcomes)
        contacted = history.contacted_at
        hist = history.select(
            h_sub=history.subscriber_id.cast("string"),
            h_channel=history.channel.cast("string"),
            h_day=contacted if contacted.type().is_date() else contacted.cast("date"),
            h_refused=history.outcome.cast("string").isin(refusals).fill_null(False),
        )
        hist = hist.filter(hist.h_day > horizon, hist.h_day <= day)

        def counted(condition: ir.BooleanValue) -> ir.IntegerScalar:
            return ibis.ifelse(condition, 1, 0).sum()

        per_channel = hist.group_by(cp_c_sub="h_sub", cp_c_channel="h_channel").aggregate(
            cp_c_day=counted(hist.h_day == day),
            cp_c_week=counted(hist.h_day > week_start),
            cp_c_month=counted(hist.h_day > month_start),
            cp_c_refusal=hist.h_day.max(where=hist.h_refused),
        )
        proactive = [c for c in CHANNELS if not self.rule(c).inbound]
        out_hist = hist.filter(hist.h_channel.isin(proactive))
        cross = out_hist.group_by(cp_x_sub="h_sub").aggregate(
            cp_x_day=counted(out_hist.h_day == day),
            cp_x_week=counted(out_hist.h_day > week_start),
            cp_x_month=counted(out_hist.h_day > month_start),
        )
        refused = (
            hist.filter(hist.h_refused)
            .group_by(cp_g_sub="h_sub")
            .aggregate(cp_g_refusal=hist.h_day.max())
        )
        params = self._params(day)

        c = candidates
        sub, channel = c.subscriber_id.cast("string"), c.channel.cast("string")
        joined = (
            c.left_join(params, channel == params.cp_channel)
            .left_join(
                per_channel,
                [sub == per_channel.cp_c_sub, channel == per_channel.cp_c_channel],
            )
            .left_join(cross, sub == cross.cp_x_sub)
            .left_join(refused, sub == refused.cp_g_sub)
        )
        if dnd is not None:
            entries = dnd.select(
                cp_d_sub=dnd.subscriber_id.cast("string"), cp_d_channel=dnd.channel.cast("string")
            ).distinct()
            dnd_channel = entries.filter(entries.cp_d_channel != DND_ALL)
            dnd_all = (
                entries.filter(entries.cp_d_channel == DND_ALL)
                .select(cp_a_sub="cp_d_sub", cp_a_flag=ibis.literal(True))
                .distinct()
            )
            joined = joined.left_join(
                dnd_channel,
                [sub == dnd_channel.cp_d_sub, channel == dnd_channel.cp_d_channel],
            ).left_join(dnd_all, sub == dnd_all.cp_a_sub)
        t = joined
        proactive_row = ~t.cp_inbound.fill_null(False)

        def over(count: ir.IntegerValue, cap: ir.IntegerValue) -> ir.BooleanValue:
            result: ir.BooleanValue = (cap.notnull() & (count.fill_null(0) >= cap)).fill_null(False)
            return result

        cross_caps = self.cross_channel_caps
        cross_over = ibis.literal(False)
        for count, cap in (
            (t.cp_x_day, cross_caps.day),
            (t.cp_x_week, cross_caps.week),
            (t.cp_x_month, cross_caps.month),
        ):
            if cap is not None:
                cross_over = cross_over | (count.fill_null(0) >= cap)
        dnd_hit = ibis.literal(False)
        if dnd is not None:
            dnd_hit = t.cp_d_sub.notnull() | (proactive_row & t.cp_a_flag.fill_null(False))
        cool = (t.cp_cool_since.notnull() & (t.cp_c_refusal >= t.cp_cool_since)).fill_null(False)
        if self.cool_off_days:
            since = day - dt.timedelta(days=self.cool_off_days - 1)
            cool = cool | (proactive_row & (t.cp_g_refusal >= since).fill_null(False))
        reason = ibis.cases(
            (t.cp_channel.isnull(), "unknown_channel"),
            (over(t.cp_c_day, t.cp_cap_day), "cap_day"),
            (over(t.cp_c_week, t.cp_cap_week), "cap_week"),
            (over(t.cp_c_month, t.cp_cap_month), "cap_month"),
            (proactive_row & cross_over, "cross_channel_cap"),
            (dnd_hit, "dnd"),
            (cool, "cool_off"),
            else_=ibis.null("string"),
        )
        return t.select(*candidates.columns, blocked_reason=reason)

    def allowed_contacts(
        self,
        candidates: ir.Table,
        history: ir.Table,
        dnd: ir.Table | None,
        day: dt.date,
    ) -> ir.Table:
        """The candidates (same columns) no cap, do-not-disturb entry or cool-off blocks."""
        explained = self.explain_contacts(candidates, history, dnd, day)
        return explained.filter(explained.blocked_reason.isnull()).drop("blocked_reason")


def load_contact_policy(path: Path | None = None) -> ContactPolicy:
    """Read a contact-policy file (``None``: the shipped one); errors name file and field."""
    source, raw = read_yaml(path, "contact_policy.yaml", "contact policy")
    try:
        return ContactPolicy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {problems(exc)}") from exc
