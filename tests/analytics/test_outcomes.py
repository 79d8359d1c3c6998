"""Retention outcomes of closed decisions: who was reached, who was held out, who left."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

import ibis
import ibis.expr.types as ir
import pandas as pd

from weiwan.analytics.outcomes import retention_outcomes
from weiwan.analytics.uplift_evidence import closed_outcomes
from weiwan.analytics.warehouse import Store, one_delivery

D0 = date(2026, 6, 30)
SNAPSHOT = date(2026, 10, 31)


class Tables:
    """A TableSource over in-memory tables."""

    def __init__(self, **frames: pd.DataFrame) -> None:
        self.frames = frames

    def table(self, name: str) -> ir.Table:
        return ibis.memtable(self.frames[name])

    def has_table(self, name: str) -> bool:
        return name in self.frames

    def extra_columns(self, table_name: str) -> dict[str, str]:
        return {}

    def single_delivery(self, name: str) -> bool:
        return one_delivery(self.table(name))


def _decision(
    sid: str,
    day: date = D0,
    *,
    holdout: bool = False,
    channel: str = "outbound_call",
    expected_value: float = 40.0,
) -> dict[str, Any]:
    return {
        "subscriber_id": sid,
        "snapshot_date": day,
        "holdout": holdout,
        "action": not holdout,
        "offer_type": "discount",
        "channel": channel,
        "expected_value": expected_value,
    }


def _contact(
    sid: str, day: date, *, channel: str = "outbound_call", status: str = "sent"
) -> dict[str, Any]:
    return {
        "subscriber_id": sid,
        "channel": channel,
        "status": status,
        "contact_date": day,
        "at": datetime.combine(day, datetime.min.time()),
    }


def test_arms_reach_and_churn_window() -> None:
    decisions = pd.DataFrame(
        [
            _decision("s1"),  # reached, churns inside the window → treated, churned
            _decision("s2"),  # never reached → neither arm
            _decision("s3", holdout=True),  # held out, churns after the window
            _decision("s4"),  # reached in another channel only → neither arm
            _decision("s5"),  # contact blocked → neither arm
            _decision("s6", date(2026, 8, 31)),  # window still open at the snapshot
            _decision("s7"),  # reached too late (36 days)
            _decision("s8", holdout=True),  # held out, churns inside the window
            # held out of a decision that would not have acted (not worth it): unlike the
            # treated, who were all worth acting on → neither arm
            _decision("s9", holdout=True, expected_value=-25.0),
            _decision("s10", holdout=True),  # held out, churns in the window's first month
        ]
    )
    contacts = pd.DataFrame(
        [
            _contact("s1", date(2026, 7, 2)),
            _contact("s4", date(2026, 7, 2), channel="sms"),
            _contact("s5", date(2026, 7, 2), status="blocked"),
            _contact("s6", date(2026, 9, 2)),
            _contact("s7", date(2026, 8, 5)),
        ]
    )
    churn = pd.DataFrame(
        {
            "subscriber_id": ["s1", "s3", "s8", "s9", "s10"],
            "churn_date": [
                date(2026, 8, 15),
                date(2026, 10, 15),
                date(2026, 9, 30),
                date(2026, 8, 1),
                date(2026, 7, 20),
            ],
            "churn_type": ["port_out"] * 5,
            "_snapshot": [SNAPSHOT] * 5,  # delivery date
        }
    )
    wh = Tables(decisions=decisions, ops_contacts=contacts, churn_records=churn)
    frame = retention_outcomes(wh, SNAPSHOT).to_pandas().sort_values("subscriber_id")
    got = {
        r.subscriber_id: (bool(r.treated), bool(r.churned), bool(r.churned_first_month))
        for r in frame.itertuples()
    }
    assert got == {
        "s1": (True, True, False),  # left in the second month
        "s3": (False, False, False),
        "s8": (False, True, False),
        "s10": (False, True, True),
    }
    assert set(frame["offer_type"]) == {"discount"}


def test_a_month_end_decision_closes_when_its_window_ends_in_a_shorter_month() -> None:
    """A decision on 31 August has its 3 months by 30 November: it is evidence on 30 November
    (it used to wait until 31 December, one month of each four lost to the calendar), and a
    decision on 1 September is not yet."""
    november = date(2026, 11, 30)
    decisions = pd.DataFrame(
        [
            _decision("aug31", date(2026, 8, 31)),
            _decision("aug31_held", date(2026, 8, 31), holdout=True),
            _decision("sep01", date(2026, 9, 1)),
        ]
    )
    contacts = pd.DataFrame(
        [_contact("aug31", date(2026, 9, 2)), _contact("sep01", date(2026, 9, 2))]
    )
    churn = pd.DataFrame(
        {
            "subscriber_id": ["aug31_held"],
            "churn_date": [november],  # the window's last day counts
            "churn_type": ["port_out"],
            "_snapshot": [november],
        }
    )
    wh = Tables(decisions=decisions, ops_contacts=contacts, churn_records=churn)
    frame = retention_outcomes(wh, november).to_pandas()
    got = {r.subscriber_id: (bool(r.treated), bool(r.churned)) for r in frame.itertuples()}
    assert got == {"aug31": (True, False), "aug31_held": (False, True)}
    assert retention_outcomes(wh, date(2026, 11, 29)).to_pandas().empty


def test_a_months_first_outcomes_are_evidence_before_its_window_closes() -> None:
    """A month after the decisions, none of their 3-month windows has closed, but their first
    month has: the shorter window's evidence (what a cold start learns from first) holds them,
    each with its churn in that month, as one randomised comparison."""
    decisions = pd.DataFrame([_decision("s1"), _decision("s2", holdout=True), _decision("s3")])
    contacts = pd.DataFrame([_contact("s1", date(2026, 7, 2)), _contact("s3", date(2026, 7, 3))])
    churn = pd.DataFrame(
        {
            "subscriber_id": ["s1", "s3"],
            "churn_date": [date(2026, 7, 20), date(2026, 8, 20)],  # s3: after the first month
            "churn_type": ["port_out"] * 2,
            "_snapshot": [date(2026, 8, 31)] * 2,
        }
    )
    # the few tables and methods the evidence reads, as a warehouse gives them
    wh = cast(Store, Tables(decisions=decisions, ops_contacts=contacts, churn_records=churn))
    july = date(2026, 7, 31)
    assert closed_outcomes(wh, july).empty  # the 3-month windows are open
    early = closed_outcomes(wh, july, horizon_months=1).set_index("subscriber_id")
    assert early["treated"].to_dict() == {"s1": True, "s2": False, "s3": True}
    assert early["churned"].to_dict() == {"s1": True, "s2": False, "s3": False}
    assert set(early["experiment"]) == {"decisions:2026-06-30"}
