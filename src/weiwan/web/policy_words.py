"""The policy rules' refusals and warnings in the reader's language: each carries a stable
code and its figures (``weiwan.core.policy_rules``), put into words here; the field by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weiwan.web.formatting import format_number
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import label

FIELDS: dict[str, Any] = {
    "id": _l("Policy id"),
    "name_zh": _l("Chinese name"),
    "name_en": _l("English name"),
    "description": _l("Description"),
    "offer_type": _l("Offer type"),
    "target_group": _l("Target group"),
    "target": _l("Target filter"),
    "valid_from": _l("Valid from"),
    "valid_to": _l("Valid to"),
    "review_by": _l("Review by"),
    "min_spend": _l("Minimum spend (yuan/month)"),
    "limit": _l("Entry limit"),
    "limit.times": _l("Times a customer may take it"),
    "limit.per_months": _l("Within months"),
    "cost": _l("Cost"),
    "cost.kind": _l("Cost kind"),
    "cost.amount": _l("Cost (yuan)"),
    "cost.months": _l("Months paid"),
    "benefit_value": _l("Benefit to the customer (yuan)"),
    "prepay": _l("Prepayment (yuan)"),
    "commitment_months": _l("Commitment (months)"),
    "budget": _l("Budget"),
    "budget.count": _l("Budget (grants)"),
    "budget.money": _l("Budget (yuan)"),
    "budget.per_months": _l("Budget period (months)"),
    "exclusive_with": _l("Excludes"),
    "channels": _l("Channels"),
    "script_zh": _l("Script (Chinese)"),
    "script_en": _l("Script (English)"),
    "approval": _l("Approval"),
    "tiers": _l("Cap per value tier"),
    "per_months": _l("Cap period (months)"),
    "unknown_tier": _l("Cap without a tier"),
    "clv_share": _l("Cap as a share of CLV"),
    "category": _l("Category"),
    "expression": _l("Condition"),
    "band": _l("Bands"),
    "version": _l("Version"),
    "filter": _l("Target filter"),
    "(policy)": _l("The policy"),
    "(file)": _l("The document"),
}
#: code → the sentence, with the figures the rules give (``%(ge)s`` …)
MESSAGES: dict[str, Any] = {
    "missing": _l("Required."),
    "greater_than_equal": _l("Must be %(ge)s or more."),
    "greater_than": _l("Must be more than %(gt)s."),
    "less_than_equal": _l("Must be %(le)s or less."),
    "string_pattern_mismatch": _l("Lower-case letters, digits and _ only, starting with a letter."),
    "string_too_short": _l("Must not be empty."),
    "literal_error": _l("Choose one of the offered values."),
    "date_parsing": _l("Give a date such as 2026-12-31."),
    "date_from_datetime_parsing": _l("Give a date such as 2026-12-31."),
    "date_type": _l("Give a date such as 2026-12-31."),
    "int_type": _l("Give a whole number."),
    "int_parsing": _l("Give a whole number."),
    "float_type": _l("Give a number."),
    "float_parsing": _l("Give a number."),
    "extra_forbidden": _l("Not a field of a policy."),
    "shape": _l("Not a policy: expected its fields."),
    "offer_type_unknown": _l("“%(value)s” is not an offer type."),
    "target_missing": _l("Choose a target group or write a target filter."),
    "target_both": _l("Give a target group or a target filter, not both."),
    "target_invalid": _l("The target filter cannot be read."),
    "date_before_start": _l("%(value)s is before the start (%(start)s)."),
    "channels_unknown": _l("Unknown channels: %(values)s."),
    "listed_twice": _l("Listed twice."),
    "exclusion_self": _l("A policy cannot exclude itself."),
    "min_spend_needed": _l("A policy that costs money needs a minimum spend above 0."),
    "review_by_needed": _l("An open-ended policy needs a review date."),
    "budget_period_needed": _l("An open-ended policy's budget needs a period in months."),
    "cost_months_needed": _l("A monthly cost needs the number of months it is paid."),
    "cost_months_not_monthly": _l("Months apply to monthly costs only."),
    "duplicate_id": _l("This id is used %(times)s times."),
    "unknown_target_group": _l("Unknown target group “%(value)s”."),
    "unknown_policies": _l("Unknown policies: %(values)s."),
    "more_generous": _l(
        "More generous than the approved policy %(other)s for overlapping customers: they may "
        "switch to this one, or leave and rejoin to get it."
    ),
    "tiers_incomplete": _l("Give a cap for every value tier."),
    "caps_negative": _l("Caps must be 0 or more."),
    "profile_mismatch": _l("Does not fit the customer profile."),
    "expression_invalid": _l("The condition cannot be read."),
    "tag_kind": _l("Give a condition (bands are set in the YAML)."),
    "reserved_id": _l("This id is reserved."),
    "band_order": _l("A band's lower bound must be below its upper bound."),
    "bands_overlap": _l("Two bands overlap."),
}


def field_name(field: str | None) -> str:
    """A field of a policy by name (its path when unknown)."""
    return label(FIELDS, field) if field else "—"


def _figure(value: Any) -> Any:
    """A number as the locale writes it (0, not 0.0); anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return format_number(value, 0 if float(value).is_integer() else 2)


def issue_text(code: str | None, params: Mapping[str, Any] | None, english: str) -> str:
    """A refusal or warning in the reader's language (the English text when the code is
    unknown and the reader reads English; a plain request to check it otherwise)."""
    template = MESSAGES.get(code or "")
    if template is None:
        return english if current_language() == "en" and english else _("Check this value.")
    try:
        return str(template) % {k: _figure(v) for k, v in (params or {}).items()}
    except (KeyError, TypeError, ValueError):
        return str(template).split("%(")[0].strip() or _("Check this value.")


def issue_row(issue: Any) -> dict[str, str]:
    """A refusal or warning (a ``PolicyIssue`` or a published message dict) as the page shows
    it: the policy, the field by name and the sentence."""

    def get(key: str) -> Any:
        return issue.get(key) if isinstance(issue, Mapping) else getattr(issue, key, None)

    item = get("item") or get("policy_id") or "—"
    english = str(get("message") or "")
    return {
        "item": str(item),
        "field": field_name(get("field")),
        "message": issue_text(get("code"), get("params"), english),
    }
