"""Where a customer stands against the contact rules before anyone reaches out: per channel,
the contacts already made in each cap's window against the cap, whether the rules allow a
contact now and, when not, the first moment they will ("今日已接触 1/1，下次 12/5 09:00").

The rules govern proactive outreach: this is what the agent sees before the call, on the card
and in ``GET /api/v1/customers/{id}/contact-state``; a call that took place is recorded all
the same (``contacts.service.record_call``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.consent_rules import OBJECTION
from weiwan.core.contact_rules import CHANNELS, DND_ALL, ContactRules
from weiwan.ops.base import as_utc, utcnow
from weiwan.ops.consents.models import Consent
from weiwan.ops.contacts.models import Contact, DoNotDisturb
from weiwan.ops.contacts.policy_check import (
    SENT,
    HistoryRow,
    Verdict,
    read_history,
    verdict_of,
    window_of,
)
from weiwan.ops.contacts.rules import current_rules
from weiwan.ops.customers.models import CustomerView

#: how many days ahead the next allowed moment is looked for (a month cap's window, and more)
LOOK_AHEAD_DAYS = 40
WINDOWS = ("day", "week", "month")
#: the rules that lift only when a person changes them: no next allowed moment by itself
STANDING = frozenset({"dnd", "objection"})


@dataclass(frozen=True, slots=True)
class ChannelState:
    """One channel's standing: contacts made in each cap window (``used``) against the caps
    (``caps``, None: no cap), the verdict for a proactive (marketing) contact now, and when
    one is next allowed (None when allowed now, or never by itself: a do-not-disturb wish, an
    objection)."""

    channel: str
    used: dict[str, int] = field(default_factory=dict)
    caps: dict[str, int | None] = field(default_factory=dict)
    verdict: Verdict = field(default_factory=lambda: Verdict(True))
    next_allowed_at: datetime | None = None


def contacted_between(
    session: Session, subscriber_ids: Sequence[str], since: datetime, until: datetime
) -> set[str]:
    """Which of ``subscriber_ids`` were contacted (a contact that took place) in
    [``since``, ``until``): the task list's 今日已接触 mark, one query for a page."""
    wanted = sorted(set(subscriber_ids))
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(Contact.subscriber_id)
            .where(
                Contact.subscriber_id.in_(wanted),
                Contact.status == SENT,
                Contact.at >= since,
                Contact.at < until,
            )
            .distinct()
        )
    )


def contact_state(
    session: Session,
    customer: CustomerView,
    channels: Sequence[str] = CHANNELS,
    *,
    tz: ZoneInfo,
    rules: ContactRules | None = None,
    now: datetime | None = None,
) -> list[ChannelState]:
    """The standing of ``customer`` (found in the reader's scope by the caller) on each of
    ``channels`` at ``now``."""
    subscriber_id = customer.subscriber_id
    rules = rules or current_rules(session)
    now = now or utcnow()
    known = [c for c in channels if c in CHANNELS]
    if not known:
        return []
    # one read of the history covering every channel's window (the widest of them)
    windows = [window_of(rules, c, now, tz) for c in known]
    widest = min(windows, key=lambda w: w.since)
    history = read_history(session, rules, subscriber_id, widest)
    wishes = set(
        session.scalars(
            select(DoNotDisturb.channel).where(DoNotDisturb.subscriber_id == subscriber_id)
        )
    )
    objections = set(
        session.scalars(
            select(Consent.channel).where(
                Consent.subscriber_id == subscriber_id, Consent.state == OBJECTION
            )
        )
    )
    return [
        _state(rules, channel, window.windows, now, tz, history, wishes, objections)
        for channel, window in zip(known, windows, strict=True)
    ]


def _state(
    rules: ContactRules,
    channel: str,
    starts: dict[str, date],
    now: datetime,
    tz: ZoneInfo,
    history: list[HistoryRow],
    wishes: set[str],
    objections: set[str],
) -> ChannelState:
    caps = rules.rule(channel).caps
    days = [as_utc(a).astimezone(tz).date() for c, a, _ in history if c == channel]
    used = {name: sum(1 for d in days if d >= starts[name]) for name in WINDOWS}
    own = {w for w in wishes if w in (channel, DND_ALL)}
    objected = objections & {channel}
    verdict = verdict_of(rules, channel, now, tz, history, own, objected)
    next_at = None
    if not verdict.allowed:
        next_at = verdict.next_allowed_at or next_allowed(
            rules, channel, now, tz, history, own, objected
        )
    return ChannelState(
        channel=channel,
        used=used,
        caps={name: getattr(caps, name) for name in WINDOWS},
        verdict=verdict,
        next_allowed_at=next_at,
    )


def next_allowed(
    rules: ContactRules,
    channel: str,
    now: datetime,
    tz: ZoneInfo,
    history: list[HistoryRow],
    wishes: set[str],
    objections: set[str] | frozenset[str] = frozenset(),
) -> datetime | None:
    """The first moment after ``now`` the rules allow a contact on ``channel``: the start of
    a following local day, moved past the channel's quiet hours; None when none comes within
    :data:`LOOK_AHEAD_DAYS` (a do-not-disturb wish or an objection lifts only by hand)."""
    today = as_utc(now).astimezone(tz).date()
    quiet = rules.rule(channel).quiet_hours
    for ahead in range(1, LOOK_AHEAD_DAYS + 1):
        moment = datetime.combine(today + timedelta(days=ahead), time(0, 0))
        if quiet is not None and quiet.contains(moment.time()):
            moment = quiet.next_end(moment)
        at = moment.replace(tzinfo=tz)
        verdict = verdict_of(rules, channel, at, tz, history, wishes, objections)
        if verdict.allowed:
            return at
        if verdict.reason in STANDING:
            return None
    return None
