"""The policy rules both sides use: every refusal names the policy and the field and carries
a stable code with its figures; the library's checks need no warehouse."""

from __future__ import annotations

from typing import Any

from weiwan.core.policy_rules import check_entries, generosity_warnings

GOOD: dict[str, Any] = {
    "id": "keep_100",
    "name_zh": "保留100",
    "name_en": "Keep 100",
    "offer_type": "discount",
    "target_group": "high_risk",
    "valid_from": "2026-01-01",
    "valid_to": "2026-12-31",
    "min_spend": 58,
    "limit": {"times": 1, "per_months": 12},
    "cost": {"kind": "one_off", "amount": 100},
    "channels": ["outbound_call"],
    "approval": "approved",
}


def _codes(entries: list[Any], groups: set[str] | None = None) -> set[tuple[str, str, str]]:
    checked = check_entries(entries, groups)
    return {(i.policy_id, i.field, i.code) for i in checked.errors}


def test_a_good_policy_passes_and_each_problem_is_named_with_its_code() -> None:
    assert _codes([GOOD], {"high_risk"}) == set()
    bad = {**GOOD, "id": "bad", "cost": {"kind": "one_off", "amount": -1}}
    bad |= {"channels": ["fax"], "valid_to": "2025-12-31"}
    assert _codes([GOOD, bad], {"high_risk"}) == {
        ("bad", "cost.amount", "greater_than_equal"),
        ("bad", "channels", "channels_unknown"),
        ("bad", "valid_to", "date_before_start"),
    }
    checked = check_entries([bad], None)
    dates = next(i for i in checked.errors if i.field == "valid_to")
    assert dict(dates.params) == {"value": "2025-12-31", "start": "2026-01-01"}


def test_the_library_refuses_duplicates_unknown_groups_and_exclusions() -> None:
    twin = dict(GOOD)
    other = {**GOOD, "id": "other", "target_group": "nobody", "exclusive_with": ["ghost"]}
    assert _codes([GOOD, twin, other], {"high_risk"}) == {
        ("keep_100", "id", "duplicate_id"),
        ("other", "target_group", "unknown_target_group"),
        ("other", "exclusive_with", "unknown_policies"),
    }
    # groups not known (nothing published yet): the reference is left for the run
    assert ("other", "target_group", "unknown_target_group") not in _codes([other], None)


def test_a_more_generous_policy_for_the_same_group_is_a_warning() -> None:
    generous = {**GOOD, "id": "keep_200", "cost": {"kind": "one_off", "amount": 200}}
    checked = check_entries([GOOD, generous], {"high_risk"})
    warnings = generosity_warnings(checked.valid)
    assert [(w.policy_id, w.code, dict(w.params)) for w in warnings] == [
        ("keep_200", "more_generous", {"other": "keep_100"})
    ]
