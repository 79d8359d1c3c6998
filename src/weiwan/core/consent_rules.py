"""The consent and objection ledger's vocabulary (个人信息保护法 / PIPL), shared by the daily
decisions (analytics) and the operational side (ops), and the SMS unsubscribe keywords.

A subscriber consents to or objects to one **purpose** of processing, on one channel the
purpose covers or on all of them (``all``). Three purposes are enforced:

- ``marketing_sms`` — marketing SMS (营销短信). An objection blocks marketing SMS only: service
  and care notices still go, as 通信短信息服务管理规定 allows;
- ``outbound_call`` — proactive calls (外呼), whatever their purpose;
- ``automated_decision`` — personalised automated decisions (Article 24 PIPL): the subscriber
  gets nothing the models or rules choose for them individually (see docs/privacy.md).

The channels of the purposes do not overlap, so a contact channel names at most one purpose.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from enum import StrEnum


class Purpose(StrEnum):
    """What a consent or an objection is about."""

    MARKETING_SMS = "marketing_sms"
    OUTBOUND_CALL = "outbound_call"
    AUTOMATED_DECISION = "automated_decision"


PURPOSES: tuple[str, ...] = tuple(p.value for p in Purpose)
#: a statement about every channel the purpose covers (the only one for automated decisions)
ALL_CHANNELS = "all"
#: the contact channels each purpose covers (automated decisions are not a contact)
PURPOSE_CHANNELS: dict[str, tuple[str, ...]] = {
    Purpose.MARKETING_SMS: ("sms",),
    Purpose.OUTBOUND_CALL: ("outbound_call", "account_manager_call"),
    Purpose.AUTOMATED_DECISION: (),
}
#: purposes whose objection blocks only marketing contacts on their channels (a service or care
#: SMS still goes); an objection to any other purpose blocks every proactive contact
MARKETING_ONLY: frozenset[str] = frozenset({Purpose.MARKETING_SMS})
#: the purpose a contact channel falls under (channels of no purpose: none)
PURPOSE_OF_CHANNEL: dict[str, str] = {
    channel: purpose for purpose, channels in PURPOSE_CHANNELS.items() for channel in channels
}
assert len(PURPOSE_OF_CHANNEL) == sum(map(len, PURPOSE_CHANNELS.values())), "channels overlap"

CONSENT = "consent"
OBJECTION = "objection"
STATES: tuple[str, ...] = (CONSENT, OBJECTION)
#: where a statement came from: the CRM's file, an agent on the card or the API, the
#: subscriber's SMS reply, the operator's self-service portal (through the API)
SOURCES: tuple[str, ...] = ("crm_import", "agent", "sms_reply", "self_service")

#: unsubscribe replies (退订回复) that always count, compared trimmed and case-folded
DEFAULT_UNSUBSCRIBE_KEYWORDS: tuple[str, ...] = ("TD", "T", "退订")


def statement_channels(purpose: str) -> tuple[str, ...]:
    """The channels a statement about ``purpose`` may name: ``all`` and each it covers."""
    return (ALL_CHANNELS, *PURPOSE_CHANNELS[purpose])


def check_statement(purpose: str, channel: str, state: str) -> str | None:
    """Why (purpose, channel, state) is not a statement the ledger takes (None: it is); the
    field at fault leads the message."""
    if purpose not in PURPOSE_CHANNELS:
        return f"purpose: use one of {', '.join(PURPOSES)}"
    if channel not in statement_channels(purpose):
        return f"channel: {purpose} takes one of {', '.join(statement_channels(purpose))}"
    if state not in STATES:
        return f"state: use one of {', '.join(STATES)}"
    return None


def state_channels(purpose: str, channel: str) -> tuple[str, ...]:
    """The channels whose current state a statement sets: the one it names, or every channel
    of the purpose for ``all`` (``all`` itself for a purpose without channels)."""
    if channel != ALL_CHANNELS:
        return (channel,)
    return PURPOSE_CHANNELS[purpose] or (ALL_CHANNELS,)


def objection_blocks(channel: str, objected: Collection[str], *, marketing: bool = True) -> bool:
    """Whether a proactive contact on ``channel`` is blocked by the subscriber's current
    objections (``objected``: the contact channels they object to): always for a channel of
    ``outbound_call``, for ``marketing_sms`` only when the contact is ``marketing``."""
    purpose = PURPOSE_OF_CHANNEL.get(channel)
    if purpose is None or channel not in objected:
        return False
    return marketing or purpose not in MARKETING_ONLY


def normalised_reply(text: str) -> str:
    """An SMS reply as compared with the keywords: full-width forms folded (ＴＤ → TD),
    trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def unsubscribe_keywords(extra: Iterable[str] = ()) -> frozenset[str]:
    """The keywords an unsubscribe reply may be: the defaults and ``extra`` (the setting
    ``sms_unsubscribe_keywords``), normalised; blank ones ignored."""
    words = (normalised_reply(w) for w in (*DEFAULT_UNSUBSCRIBE_KEYWORDS, *extra))
    return frozenset(w for w in words if w)


def is_unsubscribe(text: str, keywords: Collection[str]) -> bool:
    """Whether a reply, trimmed and case-folded, is one of ``keywords`` (normalised)."""
    return normalised_reply(text) in keywords
