"""The live ledger's fixtures: a small policy library, value caps and decide.yaml published as
the daily run publishes them."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.ops.base import utcnow
from weiwan.ops.org.config import text_digest, yaml_name
from weiwan.ops.org.models import ConfigDocument

DECIDE = resources.files("weiwan.analytics").joinpath("decide.yaml").read_text("utf-8")


def publish_text(engine: Engine, kind: str, text: str) -> None:
    """``text`` as the rule document of ``kind`` in effect (as the daily run publishes it)."""
    content = {"text": text, "source": f"{kind}.yaml", "edited": False, "sha256": text_digest(text)}
    with session_scope(engine) as session:
        session.merge(
            ConfigDocument(name=yaml_name(kind), content=json.dumps(content), updated_at=utcnow())
        )


def library_policy(policy_id: str, offer_type: str, cost: float, **changes: Any) -> dict[str, Any]:
    """An approved, open-ended policy costing ``cost`` once, offered by calls and SMS."""
    entry: dict[str, Any] = {
        "id": policy_id,
        "name_zh": f"政策{policy_id}",
        "name_en": f"Policy {policy_id}",
        "offer_type": offer_type,
        "target": {"field": "plan_id", "op": "=", "value": "TC096"},
        "valid_from": "2026-01-01",
        "valid_to": "open",
        "review_by": "2099-12-31",
        "min_spend": 10 if cost else 0,
        "commitment_months": 12,
        "limit": {"times": 1, "per_months": 12},
        "cost": {"kind": "one_off", "amount": cost},
        "channels": ["outbound_call", "account_manager_call", "sms", "store", "hotline"],
        "approval": "approved",
    }
    return {**entry, **changes}


def publish_library(
    engine: Engine, policies: list[dict[str, Any]], caps: dict[str, Any] | None = None
) -> None:
    """The policy library (and value caps) in effect, and the shipped decide.yaml."""
    document: dict[str, Any] = {"policies": policies}
    if caps is not None:
        document["value_caps"] = caps
    publish_text(engine, "policies", yaml.safe_dump(document, allow_unicode=True))
    publish_text(engine, "decide", DECIDE)


def caps(mass: float = 200.0, ordinary: float = 600.0) -> dict[str, Any]:
    """Value caps per tier (12 months)."""
    return {
        "per_months": 12,
        "tiers": {"diamond": 3000, "gold": 1500, "silver": 800, "ordinary": ordinary, "mass": mass},
    }
