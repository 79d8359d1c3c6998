"""Malformed input through the API answers 4xx with a short message, never 500: YAML anchors
and aliases (the billion laughs), error texts capped, filters nested too deeply."""

from __future__ import annotations

import time
from datetime import date

from fastapi import FastAPI

from api_helpers import login
from input_fixtures import LAUGHS, LEAF, nested_not
from weiwan.core.errors import MAX_ERROR_CHARS, MAX_NESTING

from .matrix_state import plan


def test_billion_laughs_to_the_appraisal_settings(app: FastAPI, people: dict[str, int]) -> None:
    """The reported request: 388 characters gave a 69 MB answer; now a short 422."""
    director = login(app, "director")
    started = time.perf_counter()
    answer = director.put("/api/v1/appraisal/settings", json={"text": LAUGHS})
    assert time.perf_counter() - started < 1.0
    assert answer.status_code == 422, answer.text[:500]
    assert len(answer.content) < 10_000
    body = answer.json()
    assert body["errors"] == [
        {
            "entry": "line 1, column 4",
            "field": "",
            "message": "YAML anchors (&) and aliases (*) are not allowed; write the value out "
            "in full",
        }
    ]
    assert director.get("/api/v1/appraisal/settings").json()["text"] != LAUGHS  # nothing saved


def test_a_plain_anchor_is_refused_naming_the_line(app: FastAPI, people: dict[str, int]) -> None:
    director = login(app, "director")
    text = "daily_contact_standard:\n  agent: &standard 40\n  shift_lead: 20\n"
    answer = director.put("/api/v1/appraisal/settings", json={"text": text})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["entry"] == "line 2, column 10"
    assert "line 2" in answer.json()["detail"]


def test_many_problems_are_capped(app: FastAPI, people: dict[str, int]) -> None:
    """500 wrong targets: the answer lists what fits in the cap and counts the rest."""
    director = login(app, "director")
    text = "targets:\n" + "".join(f"  - {{agent: nobody{i}, saves: 2}}\n" for i in range(500))
    answer = director.put("/api/v1/appraisal/settings", json={"text": text})
    assert answer.status_code == 422
    body = answer.json()
    assert len(body["detail"]) <= MAX_ERROR_CHARS + 80  # the field named first, the count
    assert body["detail"].endswith(f"… and {body['more_errors']} more problems")
    assert len(body["errors"]) + body["more_errors"] == 500
    assert 0 < len(body["errors"]) < 100


def test_huge_validation_input_is_not_echoed(app: FastAPI, people: dict[str, int]) -> None:
    """A text over a schema's limit gives FastAPI's 422 shape without the whole input."""
    director = login(app, "director")
    answer = director.put("/api/v1/appraisal/settings", json={"text": "x" * 2_000_000})
    assert answer.status_code == 422
    assert len(answer.content) < 10_000
    assert answer.json()["detail"][0]["loc"] == ["body", "text"]


def test_target_filter_nested_300_levels(
    app: FastAPI, people: dict[str, int], branches: dict[str, int]
) -> None:
    """Counting and saving a plan with a filter nested past the limit: 422 naming the field."""
    director = login(app, "director")
    city = branches["city"]
    ok = director.post(
        "/api/v1/campaigns/preview-count",
        json={"filter": nested_not(MAX_NESTING), "branch_id": city},
    )
    assert ok.status_code == 200, ok.text
    for levels in (MAX_NESTING + 1, 300):
        deep = director.post(
            "/api/v1/campaigns/preview-count",
            json={"filter": nested_not(levels), "branch_id": city},
        )
        assert deep.status_code == 422, deep.text[:300]
        assert deep.json()["field"] == "filter." + ".".join(["not"] * MAX_NESTING)
        assert f"nested more than {MAX_NESTING} levels" in deep.json()["detail"]
    body = plan(city, date.today(), "深层筛选").model_dump(mode="json")
    body["target_filter"] = {"all": [LEAF, nested_not(300)]}
    saved = director.post("/api/v1/campaigns", json=body)
    assert saved.status_code == 422, saved.text[:300]
    assert saved.json()["field"].startswith("target_filter.all[1].not.not")
