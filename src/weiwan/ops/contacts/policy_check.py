"""Checking one contact against the contact rules at the moment it is made.

The same semantics as the day's decisions in ``analytics.contact_policy`` (whose Ibis form
works on a whole day's candidates): windows end on the contact's local day and include it —
day, the 7 days up to it, the dates after the same day one month earlier; inbound channels
skip the cross-channel cap, the global cool-off and the do-not-disturb entry for all
channels. Written here because ops may not import analytics and this checks one subscriber
against the live contact table, not a daily batch.

A subscriber's objections in the consent ledger (``consents``) block where their
do-not-disturb wishes do, with the reason ``objection``: an objection to outbound calls every
proactive call, an objection to marketing SMS a ``marketing`` SMS only (a service or care SMS
still goes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, false, select, true, union_all
from sqlalchemy.orm import Session

from weiwan.core.consent_rules import OBJECTION, PURPOSE_OF_CHANNEL, objection_blocks
from weiwan.core.contact_rules import CHANNELS, DND_ALL, ContactRules
from weiwan.core.months import add_months
from weiwan.ops.base import as_utc, one_of
from weiwan.ops.consents.models import Consent
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


@dataclass(frozen=True, slots=True)
class Window:
    """The days one contact is checked against: its local day, the cap windows' first days and
    the history to read (sent contacts at or after ``since`` and before ``until``)."""

    today: date
    windows: dict[str, date]
    cool_days: int
    since: datetime
    until: datetime


def window_of(rules: ContactRules, channel: str, at: datetime, tz: ZoneInfo) -> Window:
    """The :class:`Window` of a contact on a known ``channel`` at ``at``."""
    rule = rules.rule(channel)
    today = as_utc(at).astimezone(tz).date()
    month_start = add_months(today, -1) + timedelta(days=1)
    cool_days = max(rule.cool_off_days, 0 if rule.inbound else rules.cool_off_days)
    earliest = min(month_start, today - timedelta(days=max(cool_days - 1, 0)))
    return Window(
        today=today,
        windows={"day": today, "week": today - timedelta(days=6), "month": month_start},
        cool_days=cool_days,
        since=_start_of(earliest, tz),
        until=_start_of(today + timedelta(days=1), tz),
    )


#: one sent contact of the history: channel, time, whether it had a refusal outcome
HistoryRow = tuple[str, datetime, bool]


def check_contact(
    session: Session,
    rules: ContactRules,
    subscriber_id: str,
    channel: str,
    at: datetime,
    tz: ZoneInfo,
    *,
    marketing: bool = True,
) -> Verdict:
    """The verdict for contacting ``subscriber_id`` on ``channel`` at ``at`` (``marketing``
    False: a service or care message, which an objection to marketing SMS lets through).

    Run it while holding the subscriber's lock (see ``contacts.service``) so two concurrent
    contacts cannot both see room under a cap.
    """
    if channel not in CHANNELS:
        return Verdict(False, "unknown_channel")
    early = _quiet_hours(rules, channel, at, tz)
    if early is not None:
        return early
    window = window_of(rules, channel, at, tz)
    history = read_history(session, rules, subscriber_id, window)
    wishes, objections = read_wishes(session, subscriber_id, channel)
    return verdict_of(rules, channel, at, tz, history, wishes, objections, marketing=marketing)


def read_wishes(session: Session, subscriber_id: str, channel: str) -> tuple[set[str], set[str]]:
    """(the subscriber's do-not-disturb wishes among ``channel`` and ``all``, the contact
    channels among ``channel`` they object to in the consent ledger), in one query."""
    wishes: set[str] = set()
    objections: set[str] = set()
    params = {"sid": subscriber_id, "channels": [channel, DND_ALL], "objected": [channel]}
    for wished, objected in session.execute(_WISHES, params):
        (objections if objected else wishes).add(str(wished))
    return wishes, objections


def check_contacts(
    session: Session,
    rules: ContactRules,
    contacts: Sequence[tuple[str, str, datetime]],
    tz: ZoneInfo,
    *,
    marketing: Sequence[bool] | None = None,
) -> list[Verdict]:
    """:func:`check_contact` for many (subscriber, channel, time) at once — one history, one
    do-not-disturb and one objection query for all of them (the real-time decisions of a batch
    of events); ``marketing`` per contact (default: all marketing). Hold the subscribers'
    locks first."""
    known = [(s, c, a) for s, c, a in contacts if c in CHANNELS]
    if not known:
        return [Verdict(False, "unknown_channel") for _ in contacts]
    windows = {(s, c, a): window_of(rules, c, a, tz) for s, c, a in known}
    ids = sorted({s for s, _, _ in known})
    params = {
        "since": min(w.since for w in windows.values()),
        "until": max(w.until for w in windows.values()),
        "refusals": list(rules.refusal_outcomes),
    }
    histories = select(Contact.subscriber_id, Contact.channel, Contact.at, _REFUSED).where(
        one_of(session, Contact.subscriber_id, ids),
        Contact.status == SENT,
        Contact.at >= bindparam("since"),
        Contact.at < bindparam("until"),
    )
    history: dict[str, list[tuple[str, datetime, bool]]] = defaultdict(list)
    for sid, channel, at, refused in session.execute(histories, params):
        history[str(sid)].append((str(channel), at, bool(refused)))
    all_wishes = select(DoNotDisturb.subscriber_id, DoNotDisturb.channel).where(
        one_of(session, DoNotDisturb.subscriber_id, ids)
    )
    wishes: dict[str, set[str]] = defaultdict(set)
    for sid, channel in session.execute(all_wishes):
        wishes[str(sid)].add(str(channel))
    all_objections = select(Consent.subscriber_id, Consent.channel).where(
        one_of(session, Consent.subscriber_id, ids),
        Consent.state == OBJECTION,
        Consent.channel.in_(sorted(PURPOSE_OF_CHANNEL)),
    )
    objections: dict[str, set[str]] = defaultdict(set)
    for sid, channel in session.execute(all_objections):
        objections[str(sid)].add(str(channel))
    flags = list(marketing) if marketing is not None else [True] * len(contacts)
    out = []
    for (sid, channel, at), flag in zip(contacts, flags, strict=True):
        if channel not in CHANNELS:
            out.append(Verdict(False, "unknown_channel"))
            continue
        window = windows[(sid, channel, at)]
        mine = [h for h in history[sid] if window.since <= as_utc(h[1]) < window.until]
        found = wishes[sid] & {channel, DND_ALL}
        objected = objections[sid] & {channel}
        out.append(verdict_of(rules, channel, at, tz, mine, found, objected, marketing=flag))
    return out


def read_history(
    session: Session, rules: ContactRules, subscriber_id: str, window: Window
) -> list[HistoryRow]:
    """The subscriber's sent contacts in the window (one query for the caps and the
    cool-off)."""
    params = {
        "sid": subscriber_id,
        "since": window.since,
        "until": window.until,
        "refusals": list(rules.refusal_outcomes),
    }
    return [(c, a, bool(r)) for c, a, r in session.execute(_HISTORY, params)]


_REFUSED = (
    exists()
    .where(
        ContactOutcome.contact_id == Contact.id,
        ContactOutcome.outcome.in_(bindparam("refusals", expanding=True)),
    )
    .label("refused")
)
_HISTORY = select(Contact.channel, Contact.at, _REFUSED).where(
    Contact.subscriber_id == bindparam("sid"),
    Contact.status == SENT,
    Contact.at >= bindparam("since"),
    Contact.at < bindparam("until"),
)
#: (channel, is an objection): the do-not-disturb wishes among ``channels`` and the contact
#: channels among ``objected`` the subscriber objects to in the consent ledger
_WISHES = union_all(
    select(DoNotDisturb.channel, false().label("objected")).where(
        DoNotDisturb.subscriber_id == bindparam("sid"),
        DoNotDisturb.channel.in_(bindparam("channels", expanding=True)),
    ),
    select(Consent.channel, true().label("objected")).where(
        Consent.subscriber_id == bindparam("sid"),
        Consent.state == OBJECTION,
        Consent.channel.in_(bindparam("objected", expanding=True)),
    ),
)


def _quiet_hours(rules: ContactRules, channel: str, at: datetime, tz: ZoneInfo) -> Verdict | None:
    """The refusal when ``at`` falls in the channel's quiet hours, else None."""
    quiet = rules.rule(channel).quiet_hours
    local = as_utc(at).astimezone(tz)
    if quiet is not None and quiet.contains(local.time()):
        return Verdict(
            False, "quiet_hours", quiet.next_end(local.replace(tzinfo=None)).replace(tzinfo=tz)
        )
    return None


def verdict_of(
    rules: ContactRules,
    channel: str,
    at: datetime,
    tz: ZoneInfo,
    history: list[HistoryRow],
    wishes: set[str],
    objections: set[str] | frozenset[str] = frozenset(),
    *,
    marketing: bool = True,
) -> Verdict:
    """The verdict from what was read: ``history`` (see :func:`read_history`), the
    subscriber's do-not-disturb ``wishes`` among the channel and ``all`` and the contact
    channels they object to (``objections``, the consent ledger; a ``marketing`` False contact
    passes an objection to marketing SMS). Checks in the order of ``BLOCK_REASONS`` (quiet
    hours first)."""
    if channel not in CHANNELS:
        return Verdict(False, "unknown_channel")
    early = _quiet_hours(rules, channel, at, tz)
    if early is not None:
        return early
    rule = rules.rule(channel)
    window = window_of(rules, channel, at, tz)
    today = window.today
    days = [(c, as_utc(a).astimezone(tz).date()) for c, a, _refused in history]
    caps = rule.caps
    for name, start in window.windows.items():
        cap = getattr(caps, name)
        if cap is not None and sum(1 for c, d in days if c == channel and d >= start) >= cap:
            return Verdict(False, f"cap_{name}")
    if not rule.inbound:
        proactive = {c for c in CHANNELS if not rules.rule(c).inbound}
        for name, start in window.windows.items():
            cap = getattr(rules.cross_channel_caps, name)
            if cap is not None and sum(1 for c, d in days if c in proactive and d >= start) >= cap:
                return Verdict(False, "cross_channel_cap")
    if objection_blocks(channel, objections, marketing=marketing):
        return Verdict(False, "objection")
    if channel in wishes or (DND_ALL in wishes and not rule.inbound):
        return Verdict(False, "dnd")
    if window.cool_days:
        for refused_channel, refused_at, was_refused in history:
            if not was_refused:
                continue
            refused_day = as_utc(refused_at).astimezone(tz).date()
            own = refused_channel == channel and refused_day > today - timedelta(
                days=rule.cool_off_days
            )
            across = not rule.inbound and refused_day > today - timedelta(days=rules.cool_off_days)
            if own or across:
                return Verdict(False, "cool_off")
    return Verdict(True)
