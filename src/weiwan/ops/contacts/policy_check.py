"""Checking one contact against the contact rules at the moment it is made.

The same semantics as the day's decisions in ``analytics.contact_policy`` (whose Ibis form
works on a whole day's candidates): windows end on the contact's local day and include it —
day, the 7 days up to it, the dates after the same day one month earlier; inbound channels
skip the cross-channel cap, the global cool-off and the do-not-disturb entry for all
channels. Written here because ops may not import analytics and this checks one subscriber
against the live contact table, not a daily batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from weiwan.core.contact_rules import CHANNELS, DND_ALL, ContactRules
from weiwan.core.months import add_months
from weiwan.ops.base import as_utc
from weiwan.ops.contacts.models import Contact, ContactOutcome, DoNotDisturb

SENT = "sent"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a contact may be made now; ``reason`` names the first rule that blocks it."""

    allowed: bool
    reason: str | None = None
    next_allowed_at: datetime | None = None


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def check_contact(
    session: Session,
    rules: ContactRules,
    subscriber_id: str,
    channel: str,
    at: datetime,
    tz: ZoneInfo,
) -> Verdict:
    """The verdict for contacting ``subscriber_id`` on ``channel`` at ``at``.

    Run it while holding the subscriber's lock (see ``contacts.service``) so two concurrent
    contacts cannot both see room under a cap.
    """
    if channel not in CHANNELS:
        return Verdict(False, "unknown_channel")
    rule = rules.rule(channel)
    local = as_utc(at).astimezone(tz)
    today = local.date()
    if rule.quiet_hours is not None and rule.quiet_hours.contains(local.time()):
        return Verdict(
            False,
            "quiet_hours",
            rule.quiet_hours.next_end(local.replace(tzinfo=None)).replace(tzinfo=tz),
        )
    month_start = add_months(today, -1) + timedelta(days=1)
    cool_days = max(rule.cool_off_days, 0 if rule.inbound else rules.cool_off_days)
    earliest = min(month_start, today - timedelta(days=max(cool_days - 1, 0)))
    since = _start_of(earliest, tz)
    until = _start_of(today + timedelta(days=1), tz)
    refused = (
        exists()
        .where(
            ContactOutcome.contact_id == Contact.id,
            ContactOutcome.outcome.in_(rules.refusal_outcomes),
        )
        .label("refused")
    )
    # one query for the caps and the cool-off: sent contacts in the longer of the two windows
    history = session.execute(
        select(Contact.channel, Contact.at, refused).where(
            Contact.subscriber_id == subscriber_id,
            Contact.status == SENT,
            Contact.at >= since,
            Contact.at < until,
        )
    ).all()
    days = [(c, as_utc(a).astimezone(tz).date()) for c, a, _refused in history]
    windows = {"day": today, "week": today - timedelta(days=6), "month": month_start}
    caps = rule.caps
    for name, start in windows.items():
        cap = getattr(caps, name)
        if cap is not None and sum(1 for c, d in days if c == channel and d >= start) >= cap:
            return Verdict(False, f"cap_{name}")
    if not rule.inbound:
        proactive = {c for c in CHANNELS if not rules.rule(c).inbound}
        for name, start in windows.items():
            cap = getattr(rules.cross_channel_caps, name)
            if cap is not None and sum(1 for c, d in days if c in proactive and d >= start) >= cap:
                return Verdict(False, "cross_channel_cap")
    wishes = set(
        session.scalars(
            select(DoNotDisturb.channel).where(
                DoNotDisturb.subscriber_id == subscriber_id,
                DoNotDisturb.channel.in_([channel, DND_ALL]),
            )
        )
    )
    if channel in wishes or (DND_ALL in wishes and not rule.inbound):
        return Verdict(False, "dnd")
    if cool_days:
        refusals = [(c, a) for c, a, was_refused in history if was_refused]
        for refused_channel, refused_at in refusals:
            refused_day = as_utc(refused_at).astimezone(tz).date()
            own = refused_channel == channel and refused_day > today - timedelta(
                days=rule.cool_off_days
            )
            across = not rule.inbound and refused_day > today - timedelta(days=rules.cool_off_days)
            if own or across:
                return Verdict(False, "cool_off")
    return Verdict(True)
