"""The target filter compiled to SQL over customer_view agrees with a plain Python reading of
the same filter, on SQLite and PostgreSQL; bad filters are 422s naming the path."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from api_helpers import login
from campaign_fixtures import publish
from weiwan.analytics import targets as analytics_targets
from weiwan.core import filters
from weiwan.core.db import session_scope
from weiwan.ops.campaigns.targeting import FIELDS, compile_filter
from weiwan.ops.customers.models import CustomerView


def _scalar(row: dict[str, Any], field: str, value: Any) -> tuple[Any, Any]:
    have = row[field]
    if isinstance(have, date) and isinstance(value, str):
        value = date.fromisoformat(value)
    return have, value


def matches(node: dict[str, Any], row: dict[str, Any]) -> bool:
    """The filter language read literally: a NULL field never matches a leaf."""
    if "all" in node:
        return all(matches(n, row) for n in node["all"])
    if "any" in node:
        return any(matches(n, row) for n in node["any"])
    if "not" in node:
        return not matches(node["not"], row)
    if "tag" in node:
        return node["tag"] in (row["tags"] or "").split()
    field, op, value = node["field"], node["op"], node.get("value")
    if op == "is_null":
        return row[field] is None
    if op == "not_null":
        return row[field] is not None
    if row[field] is None:
        return False
    if op in ("in", "not_in", "between"):
        assert isinstance(value, list)
        items = [_scalar(row, field, v)[1] for v in value]
        have = row[field]
        if op == "between":
            return bool(items[0] <= have <= items[1])
        return bool((have in items) == (op == "in"))
    have, want = _scalar(row, field, value)
    result: bool = bool(
        {
            "=": have == want,
            "!=": have != want,
            ">": have > want,
            ">=": have >= want,
            "<": have < want,
            "<=": have <= want,
        }[op]
    )
    return result


FILTERS: list[dict[str, Any]] = [
    {"field": "arpu_1m", "op": ">=", "value": 100},
    {"tag": "usage_drop"},
    {"tag": "x_y"},  # "_" is a LIKE wildcard: must not match "x y" or "xzy"
    {"not": {"tag": "high_offnet_caller"}},
    {"not": {"field": "arpu_1m", "op": "<", "value": 50}},  # NULL arpu matches the not
    {
        "all": [
            {"field": "value_tier", "op": "in", "value": ["gold", "silver", "diamond"]},
            {
                "any": [
                    {"tag": "complainer"},
                    {"field": "churn_probability", "op": ">", "value": 0.4},
                ]
            },
        ]
    },
    {
        "any": [
            {"field": "contract_end_date", "op": "between", "value": ["2026-11-01", "2027-01-31"]},
            {"field": "contract_end_date", "op": "is_null"},
        ]
    },
    {"field": "gender", "op": "!=", "value": "F"},
    {"field": "lifecycle_stage", "op": "not_in", "value": ["decline", "onboarding"]},
    {
        "all": [
            {"field": "tenure_months", "op": "<=", "value": 24},
            {
                "not": {
                    "any": [{"tag": "contract_expiring"}, {"field": "age", "op": ">", "value": 60}]
                }
            },
        ]
    },
    {"field": "join_date", "op": "<", "value": "2018-01-01"},
]


@pytest.mark.parametrize("index", range(len(FILTERS)))
def test_sql_matches_python(engine: Engine, branches: dict[str, int], index: int) -> None:
    rows = publish(engine, branches)
    spec = FILTERS[index]
    expected = {r["subscriber_id"] for r in rows if matches(spec, r)}
    with session_scope(engine) as session:
        got = set(session.scalars(select(CustomerView.subscriber_id).where(compile_filter(spec))))
    assert got == expected
    assert 0 < len(expected) < len(rows) or spec == {"tag": "x_y"}


def test_tag_like_wildcards_are_escaped(engine: Engine, branches: dict[str, int]) -> None:
    publish(engine, branches)
    with session_scope(engine) as session:
        session.add(
            CustomerView(
                subscriber_id="S99999",
                snapshot_date=date(2026, 10, 31),
                msisdn="13899999999",
                tags=" xzy x ",
            )
        )
    with session_scope(engine) as session:
        got = set(
            session.scalars(
                select(CustomerView.subscriber_id).where(compile_filter({"tag": "x_y"}))
            )
        )
    assert "S99999" not in got


def test_filter_language_is_shared_with_analytics() -> None:
    assert analytics_targets.TargetFilter is filters.TargetFilter
    assert analytics_targets.FilterError is filters.FilterError
    assert "name" not in FIELDS and "msisdn" not in FIELDS and "id_number" not in FIELDS


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (
            {"all": [{"tag": "a"}, {"field": "nmae", "op": "=", "value": "x"}]},
            "filter.all[1].field",
        ),
        ({"field": "name", "op": "=", "value": "张三"}, "filter.field"),  # PII is not a field
        ({"any": [{"field": "arpu_1m", "op": ">", "value": "lots"}]}, "filter.any[0].value"),
        ({"field": "value_tier", "op": ">", "value": "gold"}, "filter.op"),
        ({"field": "arpu_1m", "op": "between", "value": [1]}, "filter.value"),
        ({"not": {"field": "arpu_1m", "op": "~", "value": 1}}, "filter.not.op"),
        ({"all": []}, "filter.all"),
        ({"tag": "two words"}, "filter.tag"),
        ({"group": "saved_group"}, "filter"),
    ],
)
def test_bad_filters_are_422_naming_the_path(
    app: FastAPI, people: dict[str, int], spec: dict[str, Any], field: str
) -> None:
    client = login(app, "analyst")
    response = client.post("/api/v1/campaigns/preview-count", json={"filter": spec})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_preview_count_in_scope(
    app: FastAPI, engine: Engine, branches: dict[str, int], people: dict[str, int]
) -> None:
    rows = publish(engine, branches)
    spec = {"field": "churn_probability", "op": ">", "value": 0.3}
    everywhere = sum(matches(spec, r) for r in rows)
    city_tree = {branches["city"], branches["rural_a"], branches["rural_b"]}
    in_city = sum(matches(spec, r) and r["branch_id"] in city_tree for r in rows)
    analyst = login(app, "analyst")
    assert analyst.post("/api/v1/campaigns/preview-count", json={"filter": spec}).json() == {
        "count": everywhere
    }
    head = login(app, "head")  # a centre head counts within their branches only
    assert head.post("/api/v1/campaigns/preview-count", json={"filter": spec}).json() == {
        "count": in_city
    }
    other = head.post(
        "/api/v1/campaigns/preview-count", json={"filter": spec, "branch_id": branches["other"]}
    )
    assert other.status_code == 403
    agent = login(app, "agent")
    assert agent.post("/api/v1/campaigns/preview-count", json={"filter": spec}).status_code == 403
