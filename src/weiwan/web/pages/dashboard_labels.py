"""Names of the dashboards' metrics, dimensions and members in the reader's language."""

from __future__ import annotations

from typing import Any

from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import LEAVING_REASONS

METRICS: dict[str, Any] = {
    "churn_rate": _l("Churn rate"),
    "satisfaction_rate": _l("Satisfaction rate"),
    "satisfaction_score": _l("Average satisfaction score"),
    "dissatisfaction_rate": _l("Dissatisfied share"),
    "complaint_rate": _l("Complaints per 1,000 subscribers"),
    "complaint_resolution_rate": _l("Complaint resolution rate"),
    "complaint_hours": _l("Hours to resolve a complaint"),
    "connect_rate": _l("Outbound connect rate"),
    "retention_success_rate": _l("Retention success rate"),
    "marketing_success_rate": _l("Marketing success rate"),
    "participation_rate": _l("Participation rate"),
    "visit_coverage": _l("Return-visit coverage"),
    "visit_success": _l("Return-visit success rate"),
    "visit_feedback": _l("Return-visit feedback rate"),
}
#: metrics shown as plain numbers (the others are rates, shown as percentages)
NUMBER_METRICS = frozenset({"satisfaction_score", "complaint_rate", "complaint_hours"})

DIMENSIONS: dict[str, Any] = {
    "brand": _l("Churn rate by brand"),
    "channel": _l("Churn rate by join channel"),
    "payment_type": _l("Churn rate by segment (payment type)"),
}

MEMBERS: dict[str, Any] = {
    "unknown": _l("Unknown"),
    "all": _l("All"),
    # join channels
    "store": _l("Store"),
    "online": _l("Online"),
    "hotline": _l("Hotline"),
    "agent_outlet": _l("Agent outlet"),
    "direct_sales": _l("Direct sales"),
    "other": _l("Other"),
    # payment types
    "prepaid": _l("Prepaid"),
    "postpaid": _l("Postpaid"),
    # churn reasons ("other" as the join channels' above)
    **LEAVING_REASONS,
    "internal": _l("Internal"),
    "external": _l("External"),
    "controllable": _l("Controllable"),
    "uncontrollable": _l("Not controllable"),
    # touchpoints before leaving
    "none": _l("No complaint or survey"),
    "complaint_network": _l("Complaint: network"),
    "complaint_billing": _l("Complaint: billing"),
    "complaint_service": _l("Complaint: service"),
    "complaint_product": _l("Complaint: product"),
    "complaint_other": _l("Complaint: other"),
    "survey_store": _l("Survey: store"),
    "survey_hotline": _l("Survey: hotline"),
    "survey_network": _l("Survey: network"),
    "survey_billing": _l("Survey: billing"),
    "billing": _l("Billing"),
    "network": _l("Network"),
    # churn cost
    "direct": _l("Direct: monthly revenue lost"),
    "lost_future": _l("Lost future revenue (12 months)"),
    "retention_effort": _l("Retention effort spent on leavers"),
}


def metric_label(name: str) -> str:
    """The metric's name in the reader's language."""
    label = METRICS.get(name)
    return str(label) if label is not None else name


def member_label(member: str, dimension: str = "") -> str:
    """A dimension member's name (tenure bands as months; operator values such as brands and
    competitors as delivered)."""
    if dimension in ("leavers", "base"):
        return str(_("%(band)s months", band=member))
    label = MEMBERS.get(member)
    return str(label) if label is not None else member
