"""The model features (docs/features.md) by name in the reader's language, for the model
monitor's drift table and chart. An operator's extra attributes keep their own column names
(they are the operator's words, not our codes)."""

from __future__ import annotations

from typing import Any

from weiwan.web.i18n import lazy_gettext as _l

FEATURES: dict[str, Any] = {
    "tenure_months": _l("Tenure (months)"),
    "age": _l("Age"),
    "gender": _l("Gender"),
    "region": _l("Region"),
    "branch": _l("Branch"),
    "brand": _l("Brand"),
    "payment_type": _l("Payment type"),
    "plan_id": _l("Plan"),
    "join_channel": _l("Join channel"),
    "device_model": _l("Device model"),
    "is_prepaid": _l("Prepaid"),
    "plan_monthly_fee": _l("Plan monthly fee"),
    "device_age_months": _l("Device age (months)"),
    "has_account_manager": _l("Has an account manager"),
    "months_to_contract_end": _l("Months to contract end"),
    "in_contract": _l("In contract"),
    "status": _l("Subscriber status"),
    "arpu_1m": _l("ARPU last month"),
    "bill_mean_3m": _l("Mean bill, 3 months"),
    "bill_mean_6m": _l("Mean bill, 6 months"),
    "bill_trend_3m": _l("Bill trend, 3 months"),
    "voice_1m": _l("Voice minutes last month"),
    "voice_mean_3m": _l("Mean voice minutes, 3 months"),
    "voice_mean_6m": _l("Mean voice minutes, 6 months"),
    "voice_trend_3m": _l("Voice trend, 3 months"),
    "data_mb_1m": _l("Data (MB) last month"),
    "data_mean_3m": _l("Mean data (MB), 3 months"),
    "data_mean_6m": _l("Mean data (MB), 6 months"),
    "data_trend_3m": _l("Data trend, 3 months"),
    "sms_1m": _l("SMS last month"),
    "sms_mean_3m": _l("Mean SMS, 3 months"),
    "sms_mean_6m": _l("Mean SMS, 6 months"),
    "sms_trend_3m": _l("SMS trend, 3 months"),
    "offnet_share_1m": _l("Off-net call share last month"),
    "offnet_share_mean_3m": _l("Mean off-net call share, 3 months"),
    "offnet_share_change_3m": _l("Change of the off-net call share, 3 months"),
    "competitor_calls_1m": _l("Calls to competitors' service lines last month"),
    "competitor_calls_3m": _l("Calls to competitors' service lines, 3 months"),
    "call_forwarding_days_1m": _l("Call forwarding days last month"),
    "call_forwarding_days_3m": _l("Call forwarding days, 3 months"),
    "call_forwarding_active": _l("Call forwarding on"),
    "zero_usage_days_1m": _l("Zero-usage days last month"),
    "zero_usage_days_3m": _l("Zero-usage days, 3 months"),
    "dropped_calls_1m": _l("Dropped calls last month"),
    "dropped_calls_3m": _l("Dropped calls, 3 months"),
    "balance_1m": _l("Month-end balance"),
    "recharge_1m": _l("Recharge last month"),
    "recharge_mean_3m": _l("Mean recharge, 3 months"),
    "recharge_months_6m": _l("Months with a recharge, of 6"),
    "arrears_1m": _l("Arrears"),
    "vas_mean_3m": _l("Mean value-added services, 3 months"),
    "roaming_mean_3m": _l("Mean roaming minutes, 3 months"),
    "contacts_1m": _l("Distinct contacts last month"),
    "contacts_trend_3m": _l("Contacts trend, 3 months"),
    "usage_months": _l("Billed months, of 6"),
    "suspensions_90d": _l("Suspensions, 90 days"),
    "days_since_suspension": _l("Days since the last suspension"),
    "plan_changes_180d": _l("Plan changes, 180 days"),
    "retention_offers_180d": _l("Retention offers received, 180 days"),
    "days_since_retention_offer": _l("Days since the last retention offer"),
    "days_since_month_end": _l("Days since the month end"),
    "complaints_90d": _l("Complaints, 90 days"),
    "complaints_high_90d": _l("Serious complaints, 90 days"),
    "complaints_network_90d": _l("Network complaints, 90 days"),
    "complaints_billing_90d": _l("Billing complaints, 90 days"),
    "complaints_total": _l("Complaints in all"),
    "complaints_unresolved": _l("Unresolved complaints"),
    "last_survey_score": _l("Latest survey score"),
    "low_scores_180d": _l("Low survey scores, 180 days"),
    "family_members": _l("Family members"),
    "broadband_bundle": _l("Broadband bundle"),
    "star_level": _l("Star level"),
}


def feature_label(name: str) -> str:
    """The feature's name in the reader's language; an unknown (operator's own) column as is."""
    word = FEATURES.get(name)
    return str(word) if word is not None else name
