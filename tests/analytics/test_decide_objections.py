"""The day's decisions after the consent ledger's objections are collected into the warehouse:
no call for a call objector, no decision at all for one who refuses automated decisions, a
care SMS still for one who unsubscribed from marketing SMS."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from decide_fixtures import (
    DAY,
    alerts_table,
    care_alert,
    policy_library,
    profile_table,
    subscriber_row,
)

from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide.config import holdout_bucket, load_decide_config
from weiwan.analytics.decide.day import DayInputs, decide_day
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import make_engine, session_scope
from weiwan.ops.consents.service import Statement, record_statements
from weiwan.ops.migrate import upgrade
from weiwan.pipeline.collect import OBJECTIONS_TABLE, collect_objections

SAID = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)


def _objects(sid: str, purpose: str) -> Statement:
    return Statement(sid, purpose, "all", "objection", "crm_import", SAID)


def _decide(wh: Warehouse, objections: bool = True) -> pd.DataFrame:
    """s1–s5 at high risk, s6 and s7 at low risk; care triggers: s2 and s6 by SMS, s7 by call
    (a care trigger shows when its subscriber has no retention action)."""
    rows = [subscriber_row(f"s{n}", "high") for n in range(1, 6)]
    profile = profile_table([*rows, subscriber_row("s6", "low"), subscriber_row("s7", "low")])
    alerts = alerts_table(
        [care_alert("s2"), care_alert("s6"), care_alert("s7", action_hint="outbound_call")]
    )
    inputs = DayInputs(
        profile=profile,
        alerts=alerts,
        objections=wh.table(OBJECTIONS_TABLE) if objections else None,
    )
    library = policy_library(valid_to=DAY.replace(year=DAY.year + 1))
    return decide_day(inputs, library, load_contact_policy(), load_decide_config(), DAY)


def test_collected_objections_shape_the_days_decisions(tmp_path: Path) -> None:
    config = load_decide_config()
    for sid in ("s1", "s2", "s5"):  # nobody held out: every row is decided
        assert holdout_bucket(sid, "risk") >= config.holdout_share("risk")
    for sid in ("s2", "s6", "s7"):
        assert holdout_bucket(sid, "birthday_care") >= config.holdout_share("birthday_care")
    engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        said = [
            _objects("s1", "outbound_call"),
            _objects("s2", "automated_decision"),
            _objects("s6", "marketing_sms"),
            _objects("s7", "outbound_call"),
        ]
        record_statements(session, said, recorded_by=None)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        assert collect_objections(engine, wh) == 6  # outbound_call: both call channels
        assert collect_objections(engine, wh) == 6  # replaced, not added
        before = _decide(wh, objections=False)
        after = _decide(wh)
    engine.dispose()

    def row(frame: pd.DataFrame, sid: str, kind: str) -> pd.Series:
        found = frame[(frame["subscriber_id"] == sid) & (frame["trigger_kind"] == kind)]
        assert len(found) == 1, found
        return found.iloc[0]

    # without the ledger the offers go by call (the test is not vacuous)
    assert row(before, "s1", "risk")["channel"] == "outbound_call"
    assert row(before, "s2", "risk")["action"]
    assert row(before, "s7", "care")["action"] and row(before, "s7", "care")["channel"] == (
        "outbound_call"
    )
    # a call objector: the same offer, in store; never a call
    s1 = row(after, "s1", "risk")
    assert s1["action"] and s1["policy_id"] == "p96" and s1["channel"] == "store"
    assert not ((after["subscriber_id"] == "s1") & (after["channel"] == "outbound_call")).any()
    # refuses automated decisions: no offer, no action, outside the hold-out and the arms
    for kind in ("risk", "care"):
        s2 = row(after, "s2", kind)
        assert s2["outcome"] == "objection" and not s2["action"] and not s2["holdout"]
        assert pd.isna(s2["policy_id"]) and pd.isna(s2["strategy"])
    assert "拒绝" in row(after, "s2", "risk")["why_zh"]
    assert "objected" in row(after, "s2", "risk")["why_en"]
    # unsubscribed from marketing SMS: the care SMS (a service notice) still goes
    assert row(after, "s6", "care")["action"] and row(after, "s6", "care")["channel"] == "sms"
    # a care call to a call objector is not made
    s7 = row(after, "s7", "care")
    assert s7["outcome"] == "objection" and not s7["action"]
    # the others are as before
    same = ["action", "outcome", "policy_id", "channel"]
    assert row(after, "s5", "risk")[same].equals(row(before, "s5", "risk")[same])
