"""The words of the operational vocabulary in the reader's language: roles, scopes, channels,
outcomes, task and campaign states. Pages show these instead of the stored codes."""

from __future__ import annotations

from typing import Any

from weiwan.web.i18n import gettext
from weiwan.web.i18n import lazy_gettext as _l

ROLES: dict[str, Any] = {
    "admin": _l("Administrator"),
    "director": _l("Director"),
    "centre_head": _l("Centre head"),
    "shift_lead": _l("Shift lead"),
    "agent": _l("Agent / account manager"),
    "analyst": _l("Analyst"),
    "store_clerk": _l("Store clerk"),
    "hotline_agent": _l("Hotline agent"),
}
SCOPES: dict[str, Any] = {
    "own": _l("Own customers"),
    "team": _l("My team's customers"),
    "branch": _l("My branch's customers"),
    "all": _l("All customers"),
}
CHANNELS: dict[str, Any] = {
    "outbound_call": _l("Outbound call"),
    "account_manager_call": _l("Account manager call"),
    "sms": _l("SMS"),
    "store": _l("Store"),
    "hotline": _l("Hotline"),
    "self_service": _l("Self-service"),
    "all": _l("All channels"),
}
OFFER_TYPES: dict[str, Any] = {
    "discount": _l("Discount"),
    "bonus_data": _l("Bonus data"),
    "device_subsidy": _l("Device subsidy"),
    "prepay_and_get": _l("Prepay and get"),
    "care_call": _l("Care call"),
}
#: the leaving reasons of the data contract (churn_records.reason_code)
LEAVING_REASONS: dict[str, Any] = {
    "price": _l("Price"),
    "network_quality": _l("Network quality"),
    "service": _l("Service"),
    "competitor_offer": _l("Competitor offer"),
    "contract_end": _l("Contract ended"),
    "relocation": _l("Relocation"),
    "non_payment": _l("Non-payment"),
    "other": _l("Other"),
}
OUTCOMES: dict[str, Any] = {
    "connected": _l("Connected"),
    "not_reached": _l("Not reached"),
    "refused": _l("Refused"),
    "accepted": _l("Accepted"),
    "call_back": _l("Call back"),
    "wrong_number": _l("Wrong number"),
}
TASK_STATUSES: dict[str, Any] = {
    "open": _l("Open"),
    "done": _l("Done"),
    "closed": _l("Closed"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired"),
}
TASK_SOURCES: dict[str, Any] = {
    "decision": _l("Daily decision"),
    "campaign": _l("Campaign"),
    "alert": _l("Alert"),
    "manual": _l("Manual"),
    "arrival": _l("New subscriber"),
}
CAMPAIGN_STATES: dict[str, Any] = {
    "draft": _l("Draft"),
    "rehearsed": _l("Rehearsed"),
    "submitted": _l("Submitted"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "running": _l("Running"),
    "completed": _l("Completed"),
    "evaluated": _l("Evaluated"),
}
VALUE_TIERS: dict[str, Any] = {
    "diamond": _l("Diamond"),
    "gold": _l("Gold"),
    "silver": _l("Silver"),
    "ordinary": _l("Ordinary"),
    "mass": _l("Mass"),
}
LIFECYCLE: dict[str, Any] = {
    "onboarding": _l("Onboarding"),
    "growth": _l("Growth"),
    "maturity": _l("Maturity"),
    "decline": _l("Decline"),
}
RISK_BANDS: dict[str, Any] = {"high": _l("High"), "medium": _l("Medium"), "low": _l("Low")}
PAYMENT_TYPES: dict[str, Any] = {"prepaid": _l("Prepaid"), "postpaid": _l("Postpaid")}
#: the consent and objection ledger (docs/privacy.md): purposes, states and sources
CONSENT_PURPOSES: dict[str, Any] = {
    "marketing_sms": _l("Marketing SMS"),
    "outbound_call": _l("Outbound calls"),
    "automated_decision": _l("Personalised automated decisions"),
}
CONSENT_STATES: dict[str, Any] = {"consent": _l("Consent"), "objection": _l("Objection")}
CONSENT_SOURCES: dict[str, Any] = {
    "crm_import": _l("CRM file"),
    "agent": _l("Agent"),
    "sms_reply": _l("SMS reply"),
    "self_service": _l("Self-service"),
}

#: the contact rule that stops a contact now, in a few words
CONTACT_RULES: dict[str, Any] = {
    "quiet_hours": _l("quiet hours"),
    "cap_day": _l("daily limit reached"),
    "cap_week": _l("weekly limit reached"),
    "cap_month": _l("monthly limit reached"),
    "cross_channel_cap": _l("contacted enough across channels"),
    "objection": _l("the customer objected (consent ledger)"),
    "dnd": _l("do not disturb"),
    "cool_off": _l("refused recently (cool-off)"),
}


def label(vocabulary: dict[str, Any], code: str | None) -> str:
    """The reader's word for ``code`` in ``vocabulary``; the code itself when unknown."""
    if code is None:
        return "—"
    word = vocabulary.get(code)
    return str(word) if word is not None else code


def template_globals() -> dict[str, Any]:
    """Label functions for templates: ``role_label(actor.role)``, ``channel_label(c)`` …"""
    return {
        "role_label": lambda code: label(ROLES, code),
        "scope_label": lambda code: label(SCOPES, code),
        "channel_label": lambda code: label(CHANNELS, code),
        "outcome_label": lambda code: label(OUTCOMES, code),
        "task_status_label": lambda code: label(TASK_STATUSES, code),
        "task_source_label": lambda code: label(TASK_SOURCES, code),
        "campaign_state_label": lambda code: label(CAMPAIGN_STATES, code),
        "tier_label": lambda code: label(VALUE_TIERS, code),
        "risk_label": lambda code: label(RISK_BANDS, code),
        "lifecycle_label": lambda code: label(LIFECYCLE, code),
        "purpose_label": lambda code: label(CONSENT_PURPOSES, code),
        "consent_state_label": lambda code: label(CONSENT_STATES, code),
        "consent_source_label": lambda code: label(CONSENT_SOURCES, code),
        "contact_rule_label": lambda code: label(CONTACT_RULES, code),
        "yes_no": lambda flag: gettext("yes") if flag else gettext("no"),
    }
