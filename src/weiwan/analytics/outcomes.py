"""Retention outcomes (挽留结果): what each closed decision led to, for learning the uplift.

For every decision day D whose outcome window has closed by the snapshot (D + ``horizon``
months ≤ snapshot) and every retention decision of that day:

- ``treated`` True: the action was taken and a contact in the decided channel was *sent*
  within ``contact_days`` after D (the operational side's contacts, collected into the
  warehouse table ``ops_contacts``) — the offer reached the customer;
- ``treated`` False: the customer was in the hold-out (no contact by design) and the decision
  they would have had was worth acting on (positive expected value), as the treated ones were;
- decisions that acted but never reached the customer belong to neither arm and are left out
  (per-protocol on the treated side; intention-to-treat would keep them as treated);
- ``churned``: a churn record in (D, D + ``horizon`` months], as delivered by the snapshot;
  ``churned_first_month`` one in (D, D + 1 month]: whether an offer's effect outlasts its
  first month (``analytics.uplift``: the effect's persistence).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from weiwan.analytics.features import as_of_rows
from weiwan.analytics.warehouse import Store, TableSource
from weiwan.core.decide_rules import OUTCOME_MONTHS
from weiwan.core.months import window_closed_by

OUTCOME_COLUMNS = (
    "subscriber_id",
    "snapshot_date",
    "offer_type",
    "treated",
    "churned",
    "churned_first_month",
)
HORIZON_MONTHS = OUTCOME_MONTHS
CONTACT_DAYS = 30


def retention_outcomes(
    wh: TableSource,
    snapshot: date,
    *,
    horizon_months: int = HORIZON_MONTHS,
    contact_days: int = CONTACT_DAYS,
) -> ir.Table:
    """One row per closed retention decision in an arm (see the module doc)."""
    decisions = wh.table("decisions")
    closed_by = window_closed_by(snapshot, horizon_months)
    # a held-out subscriber is the control of the decisions that acted: only those whose
    # decision would have acted (a positive expected value) are like them
    retention = decisions.filter(
        (decisions.snapshot_date <= closed_by)
        & decisions.offer_type.notnull()
        & ((decisions.holdout & (decisions.expected_value > 0)) | decisions.action)
    )
    contacts = wh.table("ops_contacts")
    sent = contacts.filter(contacts.status == "sent").select(
        c_subscriber=contacts.subscriber_id,
        c_channel=contacts.channel,
        c_date=contacts.contact_date,
    )
    joined = retention.left_join(
        sent,
        [
            retention.subscriber_id == sent.c_subscriber,
            retention.channel == sent.c_channel,
            sent.c_date >= retention.snapshot_date,
            sent.c_date <= retention.snapshot_date + ibis.interval(days=contact_days),
        ],
    )
    reached = (
        joined.group_by(["subscriber_id", "snapshot_date", "offer_type", "holdout"])
        .aggregate(reached=joined.c_subscriber.notnull().any())
        .filter(lambda t: t.holdout | t.reached)
    )
    return with_churn(wh, snapshot, reached, horizon_months)


def campaign_outcomes(
    wh: Store, snapshot: date, *, horizon_months: int = HORIZON_MONTHS
) -> ir.Table | None:
    """Outcomes of the delivered earlier campaigns (contract ``retention_contacts``) whose
    window closed by the snapshot, in :data:`OUTCOME_COLUMNS`: ``treated`` is a contacted
    row, a held-out row is the campaign's control; ``churned`` a churn record in (contact date,
    + ``horizon_months``]. None when the operator delivers no such records.

    Only campaigns with a control group count (a campaign: its ``campaign`` name, else its
    contact date): whom a campaign without hold-outs contacted was chosen, not drawn — its
    highest-risk targets would teach that contacts make people leave."""
    if not wh.has_table("retention_contacts"):
        return None
    contacts = as_of_rows(wh, "retention_contacts", snapshot)
    closed_by = window_closed_by(snapshot, horizon_months)
    contacts = contacts.filter(contacts.contact_date <= closed_by)
    name = contacts.contact_date.cast("string")
    if "campaign" in contacts.columns:
        name = contacts.campaign.fill_null(name)
    held = contacts.holdout.cast("int64").sum().over(group_by=name)
    rows = contacts.holdout.count().over(group_by=name)
    contacts = contacts.filter((held > 0) & (held < rows))
    contacts = contacts.select(
        "subscriber_id",
        snapshot_date=contacts.contact_date,
        offer_type=contacts.offer_type,
        holdout=contacts.holdout,
    )
    return with_churn(wh, snapshot, contacts, horizon_months)


def with_churn(wh: TableSource, snapshot: date, arms: ir.Table, horizon_months: int) -> ir.Table:
    """``arms`` (subscriber_id, snapshot_date, offer_type, holdout) in
    :data:`OUTCOME_COLUMNS`: ``churned`` when a churn record, as delivered by the snapshot,
    falls in (snapshot_date, + ``horizon_months``], ``churned_first_month`` in its first
    month."""
    churn = as_of_rows(wh, "churn_records", snapshot)
    churn = churn.select(k_subscriber=churn.subscriber_id, k_date=churn.churn_date)
    left = arms.left_join(
        churn,
        [
            arms.subscriber_id == churn.k_subscriber,
            churn.k_date > arms.snapshot_date,
            churn.k_date <= arms.snapshot_date + ibis.interval(months=horizon_months),
        ],
    )
    first = (left.k_date <= left.snapshot_date + ibis.interval(months=1)).fill_null(False)
    grouped = left.group_by(["subscriber_id", "snapshot_date", "offer_type", "holdout"])
    result = grouped.aggregate(churned=left.k_subscriber.notnull().any(), first=first.any())
    return result.select(
        "subscriber_id",
        "snapshot_date",
        "offer_type",
        treated=~result.holdout,
        churned=result.churned,
        churned_first_month=result.first,
    )
