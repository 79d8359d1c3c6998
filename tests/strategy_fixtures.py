"""A published champion–challenger state for the operational tests: decide.yaml in effect with
two arms (champion ``current``, challenger ``bold`` at half the subscribers, challenger ``tidy``
retired) and the latest evaluation, where ``bold`` is significantly better and ``tidy`` is
not."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.ops.base import utcnow
from weiwan.ops.org.config import text_digest, yaml_name
from weiwan.ops.org.models import ConfigDocument
from weiwan.ops.strategies.models import PublishedStrategyArm

EVALUATED_ON = date(2026, 11, 30)
STRATEGIES = """
strategies:
  experiment: autumn
  champion: current
  arms:
    current: {}
    bold: {share: 0.5, uplift: prior, allocation: greedy}
    tidy: {description: retired}
"""


def decide_text() -> str:
    """The shipped decide.yaml with the two arms."""
    shipped = resources.files("weiwan.analytics").joinpath("decide.yaml").read_text("utf-8")
    return shipped + STRATEGIES


def _arm(arm: str, champion: bool, churned: int, gain: float | None, low: float | None,
         high: float | None, significant: bool) -> PublishedStrategyArm:  # fmt: skip
    return PublishedStrategyArm(
        snapshot_date=EVALUATED_ON, arm=arm, champion=champion, share=0.5,
        first_day=date(2026, 6, 1), last_day=EVALUATED_ON, subscribers=2000, churned=churned,
        churn_rate=churned / 2000, churn_low=churned / 2000 - 0.015,
        churn_high=churned / 2000 + 0.015, holdout_subscribers=400, holdout_churned=104,
        holdout_churn_rate=0.26, uplift=0.26 - churned / 2000, uplift_low=0.01,
        uplift_high=0.2, uplift_significant=True, saves=2000 * (0.26 - churned / 2000),
        acted=1500, spend=15000.0, cost_per_save=None, gain=gain, gain_low=low,
        gain_high=high, p_value=None if champion else (0.0001 if significant else 0.4),
        significant=significant, pending=300,
    )  # fmt: skip


def seed_strategies(engine: Engine) -> None:
    """decide.yaml in effect (as the daily run publishes it) and the latest evaluation."""
    text = decide_text()
    content = {"text": text, "source": "decide.yaml (shipped)", "edited": False,
               "sha256": text_digest(text)}  # fmt: skip
    with session_scope(engine) as session:
        session.add(
            ConfigDocument(name=yaml_name("decide"), content=json.dumps(content),
                           updated_at=utcnow())
        )  # fmt: skip
        session.add(_arm("current", True, 400, None, None, None, False))
        session.add(_arm("bold", False, 300, 0.05, 0.03, 0.07, True))
        session.add(_arm("tidy", False, 395, 0.0025, -0.02, 0.025, False))
