"""Contact policy: caps at window boundaries, cross-channel cap, do-not-disturb, cool-off,
quiet hours across midnight, capacity, priorities and file errors."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from weiwan.analytics.contact_policy import ContactPolicy, load_contact_policy
from weiwan.core.errors import ConfigError

DAY = date(2026, 3, 31)


def rules(**changes: Any) -> ContactPolicy:
    raw: dict[str, Any] = {
        "channels": {
            "outbound_call": {"caps": {"day": 1, "week": 2, "month": 3}, "cool_off_days": 30},
            "sms": {"caps": {"day": 1}},
            "store": {"inbound": True},
            "hotline": {"inbound": True},
        },
        "cross_channel_caps": {"day": 2},
        "cool_off_days": 0,
    }
    raw.update(changes)
    return ContactPolicy.model_validate(raw)


def candidates(rows: list[tuple[str, str]]) -> ir.Table:
    return ibis.memtable(
        pa.table(
            {
                "subscriber_id": pa.array([r[0] for r in rows], pa.string()),
                "channel": pa.array([r[1] for r in rows], pa.string()),
                "policy_id": pa.array([f"p{i}" for i in range(len(rows))], pa.string()),
            }
        )
    )


def history(rows: list[tuple[str, str, datetime, str]]) -> ir.Table:
    return ibis.memtable(
        pa.table(
            {
                "subscriber_id": pa.array([r[0] for r in rows], pa.string()),
                "channel": pa.array([r[1] for r in rows], pa.string()),
                "contacted_at": pa.array([r[2] for r in rows], pa.timestamp("us")),
                "outcome": pa.array([r[3] for r in rows], pa.string()),
            }
        )
    )


def dnd_table(rows: list[tuple[str, str]]) -> ir.Table:
    return ibis.memtable(
        pa.table(
            {
                "subscriber_id": pa.array([r[0] for r in rows], pa.string()),
                "channel": pa.array([r[1] for r in rows], pa.string()),
            }
        )
    )


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def reasons(
    policy: ContactPolicy,
    cands: list[tuple[str, str]],
    hist: list[tuple[str, str, datetime, str]],
    dnd: list[tuple[str, str]] | None = None,
    day: date = DAY,
) -> dict[tuple[str, str], str | None]:
    table = policy.explain_contacts(
        candidates(cands), history(hist), None if dnd is None else dnd_table(dnd), day
    )
    rows = table.to_pyarrow().to_pylist()
    assert len(rows) == len(cands)
    return {(r["subscriber_id"], r["channel"]): r["blocked_reason"] for r in rows}


EMPTY: list[tuple[str, str, datetime, str]] = []


def test_no_history_allows_everything() -> None:
    cands = [("a", "outbound_call"), ("b", "sms"), ("c", "store")]
    assert set(reasons(rules(), cands, EMPTY).values()) == {None}


def test_day_cap_counts_only_the_day() -> None:
    cands = [("today", "outbound_call"), ("yesterday", "outbound_call")]
    hist = [
        ("today", "outbound_call", at(DAY, 8), "no_answer"),
        ("yesterday", "outbound_call", at(DAY - timedelta(days=1), 20), "no_answer"),
        ("today", "outbound_call", at(DAY + timedelta(days=1)), "no_answer"),  # future: ignored
    ]
    assert reasons(rules(), cands, hist) == {
        ("today", "outbound_call"): "cap_day",
        ("yesterday", "outbound_call"): None,
    }


def test_week_cap_is_the_seven_days_up_to_the_day() -> None:
    inside, outside = DAY - timedelta(days=6), DAY - timedelta(days=7)
    cands = [("in", "outbound_call"), ("out", "outbound_call")]
    hist = [
        ("in", "outbound_call", at(inside), "accepted"),
        ("in", "outbound_call", at(DAY - timedelta(days=3)), "accepted"),
        ("out", "outbound_call", at(outside), "accepted"),
        ("out", "outbound_call", at(DAY - timedelta(days=3)), "accepted"),
    ]
    assert reasons(rules(), cands, hist) == {
        ("in", "outbound_call"): "cap_week",
        ("out", "outbound_call"): None,
    }


def test_month_cap_is_one_calendar_month_up_to_the_day() -> None:
    # DAY is 31 March: the month window is 1 to 31 March (28 February is outside)
    cands = [("in", "outbound_call"), ("out", "outbound_call")]
    spread = [date(2026, 3, 10), date(2026, 3, 20)]
    hist = [
        ("in", "outbound_call", at(date(2026, 3, 1)), "accepted"),
        ("out", "outbound_call", at(date(2026, 2, 28)), "accepted"),
    ] + [(s, "outbound_call", at(d), "accepted") for s in ("in", "out") for d in spread]
    assert reasons(rules(), cands, hist) == {
        ("in", "outbound_call"): "cap_month",
        ("out", "outbound_call"): None,
    }


def test_caps_are_per_channel_and_cross_channel_cap_counts_proactive_channels() -> None:
    cands = [
        ("a", "sms"),  # one outbound call today: sms has its own cap, cross cap 2 not reached
        ("b", "sms"),  # call + account-manager call today: cross-channel cap
        ("b", "store"),  # inbound: the cross-channel cap does not apply
        ("c", "outbound_call"),  # two store visits today do not count towards the cross cap
    ]
    hist = [
        ("a", "outbound_call", at(DAY, 9), "no_answer"),
        ("b", "outbound_call", at(DAY, 9), "no_answer"),
        ("b", "account_manager_call", at(DAY, 11), "accepted"),
        ("c", "store", at(DAY, 9), "accepted"),
        ("c", "store", at(DAY, 12), "accepted"),
    ]
    assert reasons(rules(), cands, hist) == {
        ("a", "sms"): None,
        ("b", "sms"): "cross_channel_cap",
        ("b", "store"): None,
        ("c", "outbound_call"): None,
    }


def test_do_not_disturb_per_channel_and_all() -> None:
    cands = [
        ("a", "sms"),
        ("a", "outbound_call"),
        ("b", "sms"),
        ("b", "outbound_call"),
        ("b", "store"),  # "all" covers proactive channels, not the customer's own visit
        ("c", "hotline"),  # a DND row naming an inbound channel applies to it
        ("d", "sms"),
    ]
    dnd = [("a", "sms"), ("b", "all"), ("c", "hotline"), ("a", "sms")]
    assert reasons(rules(), cands, EMPTY, dnd) == {
        ("a", "sms"): "dnd",
        ("a", "outbound_call"): None,
        ("b", "sms"): "dnd",
        ("b", "outbound_call"): "dnd",
        ("b", "store"): None,
        ("c", "hotline"): "dnd",
        ("d", "sms"): None,
    }


def test_cool_off_after_refusal_expires_after_n_days() -> None:
    policy = rules()  # outbound cool-off 30 days, no global cool-off
    cands = [("recent", "outbound_call"), ("expired", "outbound_call"), ("recent", "sms")]
    hist = [
        ("recent", "outbound_call", at(DAY - timedelta(days=29)), "refused"),
        ("expired", "outbound_call", at(DAY - timedelta(days=30)), "refused"),
    ]
    assert reasons(policy, cands, hist) == {
        ("recent", "outbound_call"): "cool_off",
        ("expired", "outbound_call"): None,
        ("recent", "sms"): None,  # the refusal was on another channel
    }
    accepted = [("recent", "outbound_call", at(DAY - timedelta(days=29)), "accepted")]
    assert reasons(policy, cands[:1], accepted) == {("recent", "outbound_call"): None}


def test_global_cool_off_covers_every_proactive_channel() -> None:
    policy = rules(cool_off_days=7)
    cands = [("a", "sms"), ("a", "store"), ("b", "sms")]
    hist = [
        ("a", "outbound_call", at(DAY - timedelta(days=6)), "refused"),
        ("b", "outbound_call", at(DAY - timedelta(days=7)), "refused"),
    ]
    assert reasons(policy, cands, hist) == {
        ("a", "sms"): "cool_off",
        ("a", "store"): None,
        ("b", "sms"): None,
    }


def test_first_reason_wins_and_unknown_channel() -> None:
    cands = [("a", "outbound_call"), ("a", "fax")]
    hist = [("a", "outbound_call", at(DAY, 9), "refused")]
    assert reasons(rules(), cands, hist, [("a", "all")]) == {
        ("a", "outbound_call"): "cap_day",  # also dnd and cool-off: the first reason is kept
        ("a", "fax"): "unknown_channel",
    }


def test_allowed_contacts_keeps_candidate_columns() -> None:
    cands = candidates([("a", "outbound_call"), ("b", "outbound_call")])
    hist = history([("a", "outbound_call", at(DAY, 9), "no_answer")])
    allowed = rules().allowed_contacts(cands, hist, None, DAY)
    assert allowed.columns == cands.columns
    assert allowed.to_pyarrow().to_pylist() == [
        {"subscriber_id": "b", "channel": "outbound_call", "policy_id": "p1"}
    ]


def test_date_typed_history() -> None:
    hist = ibis.memtable(
        pa.table(
            {
                "subscriber_id": ["a"],
                "channel": ["sms"],
                "contacted_at": pa.array([DAY], pa.date32()),
                "outcome": [None],
            },
            schema=pa.schema(
                [
                    ("subscriber_id", pa.string()),
                    ("channel", pa.string()),
                    ("contacted_at", pa.date32()),
                    ("outcome", pa.string()),
                ]
            ),
        )
    )
    table = rules().explain_contacts(candidates([("a", "sms")]), hist, None, DAY)
    assert table.blocked_reason.to_pyarrow().to_pylist() == ["cap_day"]


# ----------------------------------------------------------------------------- time, capacity


def test_quiet_hours_across_midnight() -> None:
    policy = load_contact_policy()  # outbound 21:00-09:00, sms 22:00-08:00
    day = date(2026, 5, 4)

    def t(hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute)

    assert not policy.in_quiet_hours("outbound_call", t(20, 59))
    assert policy.in_quiet_hours("outbound_call", t(21))
    assert policy.in_quiet_hours("outbound_call", t(0, 30))
    assert policy.in_quiet_hours("outbound_call", t(8, 59))
    assert not policy.in_quiet_hours("outbound_call", t(9))
    assert not policy.in_quiet_hours("sms", t(21, 30))
    assert policy.in_quiet_hours("sms", t(22))
    assert not policy.in_quiet_hours("store", t(23))
    assert policy.next_allowed_time("outbound_call", t(23, 30)) == t(9) + timedelta(days=1)
    assert policy.next_allowed_time("outbound_call", t(3, 15)) == t(9)
    assert policy.next_allowed_time("outbound_call", t(10, 5)) == t(10, 5)
    assert policy.next_allowed_time("sms", t(22)) == t(8) + timedelta(days=1)
    assert policy.next_allowed_time("store", t(23)) == t(23)


def test_quiet_hours_within_a_day() -> None:
    policy = rules(channels={"sms": {"quiet_hours": {"start": "12:00", "end": "14:00"}}})
    assert policy.in_quiet_hours("sms", datetime(2026, 5, 4, 13))
    assert not policy.in_quiet_hours("sms", datetime(2026, 5, 4, 14))
    assert policy.next_allowed_time("sms", datetime(2026, 5, 4, 12)) == datetime(2026, 5, 4, 14)


def test_capacity_and_priorities() -> None:
    policy = load_contact_policy()
    monday, saturday = date(2026, 5, 4), date(2026, 5, 9)
    assert policy.capacity("outbound_call", monday) == 20 * 80
    assert policy.capacity("account_manager_call", monday) == 40 * 15
    assert policy.capacity("account_manager_call", saturday) == 0
    assert policy.capacity("sms", saturday) == 50000
    assert policy.capacity("store", monday) is None
    assert [policy.priority_rank(k) for k in ("risk", "alert", "care", "campaign")] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="unknown trigger kind 'lottery'"):
        policy.priority_rank("lottery")
    custom = rules(trigger_priority=["care", "risk"], campaign_priority=["spring", "vip"])
    assert custom.priority_rank("care") < custom.priority_rank("risk")
    assert [custom.campaign_rank(c) for c in ("spring", "vip", "other")] == [0, 1, 2]
    kinds = ibis.memtable({"kind": ["risk", "care", "other"]})
    ranked = kinds.select(r=custom.priority_expression(kinds.kind)).r.to_pyarrow().to_pylist()
    assert ranked == [1, 0, 2]
    with pytest.raises(ValueError, match="unknown channel"):
        policy.capacity("fax", monday)


# ----------------------------------------------------------------------------- files


def test_shipped_file_loads() -> None:
    policy = load_contact_policy()
    assert policy.rule("hotline").inbound and not policy.rule("sms").inbound
    assert policy.cool_off_days > 0 and policy.rule("outbound_call").cool_off_days > 0
    assert policy.cross_channel_caps.day is not None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("channels: {outbound_call: {caps: {day: -1}}}", "channels.outbound_call.caps.day"),
        ("channels: {fax: {}}", "channels: unknown channels ['fax']"),
        (
            "channels: {sms: {quiet_hours: {start: 22:00, end: '08:00'}}}",
            "channels.sms.quiet_hours.start: write times as quoted 'HH:MM'",
        ),
        ("channels: {sms: {quiet_hours: {start: '25:00', end: '08:00'}}}", "quiet_hours.start"),
        ("channels: {sms: {capacity: {per_day: 5, agents: 2}}}", "channels.sms.capacity"),
        ("cross_channel_caps: {weekly: 3}", "cross_channel_caps.weekly"),
        ("trigger_priority: [risk, risk]", "trigger_priority: listed more than once"),
        ("cool_off_days: '7'", "cool_off_days"),
    ],
)
def test_bad_file_names_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "contact.yaml"
    path.write_text(text + "\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_contact_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert where in message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read contact policy"):
        load_contact_policy(tmp_path / "missing.yaml")
