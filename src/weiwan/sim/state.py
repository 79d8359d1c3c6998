"""Mutable monthly state of a chunk of lines, and what one month produced."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from weiwan.sim.catalog import COMPONENTS

K = len(COMPONENTS)
#: reason codes index contract CHURN_REASONS: the six components, then these two
NON_PAYMENT, OTHER = 6, 7
#: churn type codes index contract CHURN_TYPES
VOLUNTARY, INVOLUNTARY, PORT_OUT = 0, 1, 2
#: hold codes (non-arrears suspensions)
HOLD_NONE, HOLD_SUSPEND, HOLD_KEEP_NUMBER = 0, 1, 2


@dataclass
class State:
    """Latent and account state at the end of the last simulated month."""

    intent: np.ndarray  # (n, K) float32 churn intent by driver
    stage: np.ndarray  # int8 arrears stage 0 ok, 1 owing, 2 suspended, 3 pre-disconnect
    hold: np.ndarray  # int8 HOLD_* code
    shopping: np.ndarray  # bool: currently courted by a competitor
    plan: np.ndarray  # int64 current plan index
    alive: np.ndarray  # bool: in service at the end of the last month
    reason: np.ndarray  # int8 latent churn reason at the end of the last month
    status_day: np.ndarray  # int64 day of the last status change
    balance: np.ndarray  # prepaid balance, CNY
    arrears: np.ndarray  # unpaid amount, CNY
    p_vol: np.ndarray  # P(voluntary churn next month)
    p_invol: np.ndarray  # P(involuntary churn next month)
    churn_month: np.ndarray  # int64 window month of churn, -1 = none
    churn_day: np.ndarray  # int64 day number of churn
    churn_type: np.ndarray  # int8 churn type code, -1 = none
    churn_reason: np.ndarray  # int8 reason code at churn


@dataclass
class Events:
    """Status events of one month as parallel arrays (row, day of month, type code, plan)."""

    rows: list[np.ndarray] = field(default_factory=list)
    days: list[np.ndarray] = field(default_factory=list)
    types: list[np.ndarray] = field(default_factory=list)
    plans: list[np.ndarray] = field(default_factory=list)

    def add(
        self, rows: np.ndarray, days: np.ndarray, type_code: int, plans: np.ndarray | None = None
    ) -> None:
        """Record ``type_code`` events for ``rows`` on day-of-month ``days``."""
        self.rows.append(rows)
        self.days.append(days)
        self.types.append(np.full(len(rows), type_code, dtype=np.int64))
        self.plans.append(plans if plans is not None else np.full(len(rows), -1, np.int64))


@dataclass
class Month:
    """Everything one simulated month produced, used to derive the extracts."""

    index: int
    present: np.ndarray  # bool: in service on at least one day of the month
    first_dom: np.ndarray  # int64 first day-of-month in service (1-based)
    last_dom: np.ndarray  # int64 last day-of-month in service
    churned: np.ndarray  # bool: left during this month
    alive_end: np.ndarray  # bool: in service at month end
    bill_shock: np.ndarray  # float: overage charged this month (0 = none)
    net_fail: np.ndarray  # bool: suffered a network failure
    complaint: np.ndarray  # bool
    complaint_category: np.ndarray  # int64 index into COMPLAINT_CATEGORIES
    complaint_severity: np.ndarray  # int64 index into SEVERITIES
    complaint_resolved: np.ndarray  # bool
    complaint_dom: np.ndarray  # int64 day-of-month
    stage_during: np.ndarray  # int8 highest arrears stage in the month
    hold_during: np.ndarray  # int8 hold code in force during the month
    events: Events
