"""The consent ledger's vocabulary: which statements it takes, which channels a statement
sets, what an objection blocks, and which SMS replies unsubscribe."""

from __future__ import annotations

import pytest

from weiwan.core.consent_rules import (
    check_statement,
    is_unsubscribe,
    objection_blocks,
    state_channels,
    unsubscribe_keywords,
)


def test_statements_name_a_channel_of_their_purpose_or_all() -> None:
    assert check_statement("outbound_call", "account_manager_call", "objection") is None
    assert check_statement("automated_decision", "all", "consent") is None
    assert str(check_statement("marketing_sms", "outbound_call", "objection")).startswith(
        "channel: marketing_sms takes one of all, sms"
    )
    assert str(check_statement("automated_decision", "sms", "consent")).startswith("channel:")
    assert str(check_statement("newsletter", "all", "consent")).startswith("purpose:")
    assert str(check_statement("marketing_sms", "all", "maybe")).startswith("state:")
    assert state_channels("outbound_call", "all") == ("outbound_call", "account_manager_call")
    assert state_channels("marketing_sms", "all") == ("sms",)
    assert state_channels("automated_decision", "all") == ("all",)


def test_an_objection_to_marketing_sms_lets_service_notices_through_calls_never() -> None:
    assert objection_blocks("sms", {"sms"})
    assert not objection_blocks("sms", {"sms"}, marketing=False)
    assert objection_blocks("outbound_call", {"outbound_call"}, marketing=False)
    assert not objection_blocks("account_manager_call", {"outbound_call"})
    assert not objection_blocks("store", {"store", "sms"})  # no purpose covers the store


@pytest.mark.parametrize(
    ("text", "unsubscribes"),
    [
        ("TD", True),
        (" td \n", True),
        ("Td", True),
        ("ＴＤ", True),  # full-width, as some phones send it
        ("T", True),
        ("t", True),
        ("退订", True),
        (" 退订 ", True),
        ("N", True),  # the setting's extra keyword
        ("TD please", False),
        ("退订了吗", False),
        ("", False),
        ("好的", False),
    ],
)
def test_unsubscribe_replies_trimmed_and_in_any_case(text: str, unsubscribes: bool) -> None:
    assert is_unsubscribe(text, unsubscribe_keywords(["n", " "])) is unsubscribes


def test_the_default_keywords_always_count() -> None:
    assert unsubscribe_keywords() == {"td", "t", "退订"}
    assert not is_unsubscribe("N", unsubscribe_keywords())
