"""The closed loop, run for months: ``weiwan simulate loop``.

A simulated operator (:class:`weiwan.sim.twin.OperatorTwin`) is run forward one month at a time.
At each month end the product does its day as an operator would run it: the delivery is
ingested, the daily pipeline runs (collecting the contacts the operational side recorded, so the
closed decisions' outcomes teach the uplift), the day is published and handed over (tasks), and
simulated people work it through the operational service: staffed tasks are called and their
outcomes recorded (``record_call``), SMS decisions are sent as a bulk SMS. Whom the contacts
reach and who accepts is drawn by the simulator's response model, and each reached subscriber's
next month takes that offer's true effect; then the twin simulates the month and delivers it.

The operator is split by a stable hash of the subscriber into two equal arms. ``nba`` gets the
product's decisions; ``top_risk`` the operator's former practice at the same spend: highest risk
first with the cheapest eligible offer by outbound call (its contacts come back to the product
as ``retention_contacts`` records, as any campaign of the operator would). Each month also
prices the ``oracle``: the most that nba's spend could have saved in the nba arm knowing every
true effect, among the actions the operator's rules allow that day (each policy's entry limit
given the earlier grants, the contact rules: what binds nba binds it), and the
``evidence_oracle``: the same, knowing the true effects only as far as the month's features
show them, and the ``latent_oracle``: knowing each line's state but not the personal draws no
record shows (``weiwan.sim.strategy_value``); ``oracle_unruled`` may also break those rules.
``saved`` is the true expected revenue kept (12 months of ARPU × the cut in churn
probability × the share of the effect the channel delivers); ``uplift_qini`` how well the
uplift the decisions used orders the nba arm's eligible offers by their true effect (None
while only the prior decides).

The product's side never reads the truth: the twin prices and applies the contacts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml
from sqlalchemy import Engine, select

from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.config_files import read_yaml
from weiwan.analytics.decide.config import holdout_bucket, load_decide_config
from weiwan.analytics.ingest import ingest
from weiwan.analytics.profile import snapshot_rows
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import make_engine, session_scope
from weiwan.core.errors import ConflictError
from weiwan.core.months import add_months
from weiwan.demo.people import ensure_demo_people
from weiwan.demo.strategy_check import (
    BASELINE_CHANNEL,
    eligible_pool,
    permitted,
    require_decisions,
    top_risk_first,
)
from weiwan.ops.contacts.schemas import CallIn, OutcomeIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.handover.service import hand_over
from weiwan.ops.migrate import upgrade
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import User
from weiwan.ops.sms.schemas import TemplateIn
from weiwan.ops.sms.service import create_template, send_bulk
from weiwan.ops.tasks.models import Task
from weiwan.pipeline.decision_steps import learned_uplift, leaving_mixer
from weiwan.pipeline.publish import publish
from weiwan.pipeline.publish.rule_documents import FILES, config_dir
from weiwan.pipeline.run import run_pipeline
from weiwan.pipeline.steps import RunContext
from weiwan.sim.response import strength
from weiwan.sim.strategy_value import TruthPrices
from weiwan.sim.twin import OperatorTwin

Progress = Callable[[str, int, int], None]
TIMEZONE = ZoneInfo("Asia/Shanghai")
#: the arm-split's hash group (the same stable hash as the hold-outs, another group)
ARM_GROUP = "loop-arm"
#: the working days after a month end over which its tasks are called
WORK_DAYS = 3
#: the subscribers the shipped policies' budgets are sized for: the demo's operator
POLICY_BUDGET_SUBSCRIBERS = 20_000
_REFUSAL = "not_interested"


@dataclass
class ArmFigures:
    """One arm's money and true saving per month."""

    spent: list[float] = field(default_factory=list)
    saved: list[float] = field(default_factory=list)
    treated: list[int] = field(default_factory=list)
    #: the same contacts' saving averaged over the personal draws no record shows (whether
    #: a contact annoys, the personal part of the receptiveness): what the choice was worth,
    #: without the luck of the month — two annoyed customers can take 600 yuan off a month's
    #: saving at 50 000 subscribers (None per month where the truth predates it)
    saved_expected: list[float | None] = field(default_factory=list)


@dataclass
class LoopResult:
    """The loop's figures per month (see the module doc)."""

    months: list[str] = field(default_factory=list)
    nba: ArmFigures = field(default_factory=ArmFigures)
    top_risk: ArmFigures = field(default_factory=ArmFigures)
    #: the oracles choose among the actions the operator's rules allow (entry limits given
    #: the earlier grants, contact rules), as next best action must
    oracle: list[float] = field(default_factory=list)
    evidence_oracle: list[float] = field(default_factory=list)
    #: the oracle that knows each line's state but not its personal draws (the most a choice
    #: made on evidence can save on average, before any of the line's own responses are seen)
    latent_oracle: list[float] = field(default_factory=list)
    #: the oracle that may also break those rules (e.g. the same customer's offer every
    #: month): the rules' cost is in its lead
    oracle_unruled: list[float] = field(default_factory=list)
    uplift_qini: list[float | None] = field(default_factory=list)
    #: per month, the operational side's work: tasks called, reached, accepted, SMS sent
    operations: list[dict[str, int]] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """Per month: each arm's saving, the oracle's, and the ratios the targets speak of."""
        return [
            {
                "month": month,
                "nba": self.nba.saved[i],
                "top_risk": self.top_risk.saved[i],
                "oracle": self.oracle[i],
                "nba_vs_oracle": _ratio(self.nba.saved[i], self.oracle[i]),
                "oracle_unruled": self.oracle_unruled[i],
                "latent_oracle": self.latent_oracle[i],
                "nba_vs_latent_oracle": _ratio(self.nba.saved[i], self.latent_oracle[i]),
                "evidence_oracle": self.evidence_oracle[i],
                "nba_vs_evidence_oracle": _ratio(self.nba.saved[i], self.evidence_oracle[i]),
                "nba_vs_top_risk": _ratio(self.nba.saved[i], self.top_risk.saved[i]),
                "nba_per_yuan": _ratio(self.nba.saved[i], self.nba.spent[i]),
                "nba_expected": self.nba.saved_expected[i],
                "nba_per_yuan_expected": _ratio(self.nba.saved_expected[i], self.nba.spent[i]),
                "uplift_qini": self.uplift_qini[i],
            }
            for i, month in enumerate(self.months)
        ]

    def as_dict(self) -> dict[str, object]:
        """The JSON the CLI prints."""
        nba, top = asdict(self.nba), asdict(self.top_risk)
        return {
            "months": self.months,
            "arms": {
                "nba": {
                    **nba,
                    "oracle": self.oracle,
                    "evidence_oracle": self.evidence_oracle,
                    "latent_oracle": self.latent_oracle,
                    "oracle_unruled": self.oracle_unruled,
                },
                "top_risk": top,
            },
            "uplift_qini": self.uplift_qini,
            "operations": self.operations,
        }


def _ratio(numerator: float | None, denominator: float) -> float | None:
    """``numerator ÷ denominator`` to 4 places; None without a numerator or a denominator."""
    if numerator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 4)


def first_month(last: str, months: int) -> str:
    """The first of ``months`` months ending with ``last`` (``YYYY-MM``)."""
    return f"{add_months(date.fromisoformat(f'{last}-01'), 1 - months):%Y-%m}"


def arm_of(subscriber_ids: pd.Series) -> pd.Series:
    """``nba`` or ``top_risk`` per subscriber, by a stable hash (half each)."""
    buckets = subscriber_ids.map(lambda sid: holdout_bucket(str(sid), ARM_GROUP))
    return pd.Series(np.where(buckets < 0.5, "nba", "top_risk"), index=subscriber_ids.index)


def run_loop(
    root: Path,
    *,
    subscribers: int,
    months: int,
    seed: int,
    end_month: str,
    history_months: int = 12,
    campaign_history: bool = True,
    progress: Progress | None = None,
) -> LoopResult:
    """Run the loop in ``root`` for ``months`` month ends, the first at the end of
    ``end_month`` after ``history_months`` months of history (with the operator's former
    campaigns, or, ``campaign_history`` off, none: a cold start that learns only from the
    product's own outcomes)."""
    report = progress or (lambda _label, _done, _total: None)
    twin = OperatorTwin(
        subscribers=subscribers,
        history_months=history_months,
        months=months,
        seed=seed,
        end_month=end_month,
        campaign_history=campaign_history,
    )
    deliveries = root / "deliveries"
    delivery = twin.deliver_history(deliveries)
    engine = make_engine(f"sqlite:///{root / 'operations.sqlite'}")
    upgrade(engine)
    home = root / "home"
    size_policy_budgets(home, subscribers)
    result = LoopResult()
    try:
        with Warehouse(root / "warehouse.duckdb", threads=2, memory_limit="4GB") as wh:
            registry = ModelRegistry(root / "models")
            for k in range(months):
                report(f"month {twin.label}", k, months)
                day = twin.snapshot
                ingest(delivery, snapshot=day, warehouse=wh)
                run = run_pipeline(
                    wh, day, registry=registry, ops_engine=engine, tz=TIMEZONE, config_home=home
                )
                require_decisions(run, subscribers)
                publish(wh, engine, day, home=home)
                contacts = _month(wh, engine, registry, twin, day, result)
                if k < months - 1:
                    delivery = twin.advance(deliveries, contacts)
            report("done", months, months)
    finally:
        engine.dispose()
    return result


def size_policy_budgets(home: Path, subscribers: int) -> Path:
    """The simulated operator's policy library, as an edit applied under ``<home>/config``: the
    shipped policies with their count and money budgets scaled from the demo's
    :data:`POLICY_BUDGET_SUBSCRIBERS` subscribers to ``subscribers``, as an operator sizes its
    budgets to its base (the demo's 1 500 care calls a year ran out by the fourth month of a
    100 000-subscriber loop). Returns the file written."""
    _, library = read_yaml(None, "policies.yaml")
    scale = subscribers / POLICY_BUDGET_SUBSCRIBERS
    for policy in library["policies"]:
        budget = policy.get("budget") or {}
        for limit in ("count", "money"):
            if budget.get(limit) is not None:
                budget[limit] = max(1, round(float(budget[limit]) * scale))
    path = config_dir(home) / FILES["policies"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(library, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _month(
    wh: Warehouse,
    engine: Engine,
    registry: ModelRegistry,
    twin: OperatorTwin,
    day: date,
    result: LoopResult,
) -> pa.Table:
    """One month end after the product's day: work it, run the baseline, price both and the
    oracle; the baseline's contact records for the next delivery."""
    start = datetime.combine(day + timedelta(days=1), time(8), TIMEZONE)
    ensure_demo_people(engine)
    hand_over(engine, day, tz=TIMEZONE, now=start)
    decisions = wh.table("decisions").filter(lambda t: t.snapshot_date == day).to_pandas()
    # hold-outs stay out of both arms: the product's control group is left untouched
    held = set(decisions.loc[decisions["holdout"], "subscriber_id"])
    context, config = RunContext(wh, day, registry), load_decide_config()
    learned = learned_uplift(context, config)
    pool = eligible_pool(wh, day, learned, held, leaving_mixer(context, config))
    arms = arm_of(pool["subscriber_id"])
    arpu = pool.drop_duplicates("subscriber_id").set_index("subscriber_id")["arpu_1m"]
    acted = decisions[decisions["action"] & decisions["policy_id"].notna()]
    nba = acted[arm_of(acted["subscriber_id"]) == "nba"].copy()
    nba["arpu_1m"] = nba["subscriber_id"].map(arpu)
    prices = twin.prices()  # the truth of this month end, before anyone is contacted
    budget = float(nba["cost"].sum())
    top = top_risk_first(pool[arms == "top_risk"], budget).assign(channel=BASELINE_CHANNEL)
    operations = _work_the_month(engine, twin, nba, start)
    twin.treat(top["subscriber_id"], top["offer_type"], top["channel"])
    result.months.append(f"{day:%Y-%m}")
    for figures, rows in ((result.nba, nba), (result.top_risk, top)):
        figures.spent.append(round(float(rows["cost"].sum()), 2))
        figures.saved.append(round(_saved(prices, rows), 2))
        figures.treated.append(len(rows))
        figures.saved_expected.append(
            None if prices.expected is None else round(_saved(prices, rows, prices.expected), 2)
        )
    scale = float(strength(np.array([BASELINE_CHANNEL]))[0])
    everyone = pool[arms == "nba"]
    unruled = prices.oracle(everyone, budget)
    result.oracle_unruled.append(round(float(unruled["saved"].sum()) * scale, 2))
    mine = permitted(wh, day, everyone)
    oracle = prices.oracle(mine, budget)  # by outbound call, the channel its costs assume
    result.oracle.append(round(float(oracle["saved"].sum()) * scale, 2))
    latent = prices.latent_oracle(mine, budget)
    result.latent_oracle.append(round(float(latent["saved"].sum()) * scale, 2))
    features = snapshot_rows(wh, "features", day).to_pandas()
    shown = prices.evidence_oracle(mine, features, budget)
    result.evidence_oracle.append(round(float(shown["saved"].sum()) * scale, 2))
    result.uplift_qini.append(
        round(prices.uplift_qini(everyone), 4) if learned is not None else None
    )
    result.operations.append(operations)
    return _baseline_records(top, day)


def _saved(prices: TruthPrices, rows: pd.DataFrame, treated: pd.Series | None = None) -> float:
    """True expected revenue kept by contacting ``rows`` (subscriber_id, offer_type, channel,
    arpu_1m): the in-person saving × the share of it the channel delivers (``treated``:
    another view of the treated churn probability, e.g. the one averaged over the personal
    draws)."""
    if rows.empty:
        return 0.0
    delivered = strength(rows["channel"].to_numpy(str))
    return float((prices.saved(rows, treated).to_numpy() * delivered).sum())


def _work_the_month(
    engine: Engine, twin: OperatorTwin, nba: pd.DataFrame, start: datetime
) -> dict[str, int]:
    """The nba arm's day, worked through the operational service: its tasks called by their
    assignee (else the director), its SMS decisions sent in one bulk; the twin draws who is
    reached and accepts and applies the effects (the other channels reach by themselves)."""
    answer = twin.treat(nba["subscriber_id"], nba["offer_type"], nba["channel"])
    ids = nba["subscriber_id"].astype(str).tolist()
    reached_by = dict(zip(ids, answer.reached.tolist(), strict=True))
    accepted_by = dict(zip(ids, answer.accepted.tolist(), strict=True))
    counts = {
        "tasks": 0,
        "reached": int(answer.reached.sum()),
        "accepted": 0,
        "sms": 0,
        "refused_by_service": 0,
    }
    origin = f"decision:{(start.date() - timedelta(days=1)).isoformat()}"
    with session_scope(engine) as session:
        director = session.scalar(select(User).where(User.username == "director"))
        if director is None:
            raise RuntimeError("the loop's director was not created")
        lead = actor_for(session, director)
        actors = {director.id: lead}
        # the day's tasks of the nba arm (selected here: an IN list of a whole arm's ids would
        # exceed the databases' limits on bound parameters)
        tasks = [
            task
            for task in session.scalars(select(Task).where(Task.origin == origin).order_by(Task.id))
            if task.subscriber_id in reached_by
        ]
        span = WORK_DAYS * 8 * 3600 / max(len(tasks), 1)
        for i, task in enumerate(tasks):
            at = _office_time(start, i * span)
            if task.assignee_id is not None and task.assignee_id not in actors:
                user = session.get(User, task.assignee_id)
                actors[task.assignee_id] = actor_for(session, user) if user else lead
            actor = actors.get(task.assignee_id or director.id, lead)
            body = CallIn(
                subscriber_id=task.subscriber_id,
                channel=task.channel,
                task_id=task.id,
                outcomes=_outcomes(
                    reached_by[task.subscriber_id], accepted_by[task.subscriber_id], task.policy_id
                ),
                at=at,
            )
            try:
                with session.begin_nested():
                    record = record_call(session, actor, body, tz=TIMEZONE)
            except ConflictError:
                # the service refuses the acceptance (e.g. the customer has the offer already,
                # by the service's reckoning of its entry limit): the agent records the call
                counts["refused_by_service"] += 1
                body = body.model_copy(update={"outcomes": [OutcomeIn(outcome="connected")]})
                record = record_call(session, actor, body, tz=TIMEZONE)
            counts["tasks"] += 1
            counts["accepted"] += int(record.acceptance is not None)
        texts = nba.loc[nba["channel"] == "sms", "subscriber_id"].tolist()
        if texts:
            template = create_template(
                session,
                lead,
                TemplateIn(
                    name=f"loop retention offer {origin}",
                    body_zh="尊敬的客户，您有一份专属挽留优惠，回复1了解详情。",
                    body_en="Dear customer, a retention offer awaits you: reply 1 for details.",
                ),
            )
            sent = send_bulk(session, lead, template.id, texts, tz=TIMEZONE, now=start)
            counts["sms"] = int(getattr(sent, "queued", 0))
    return counts


def _office_time(start: datetime, seconds: float) -> datetime:
    """``seconds`` of office hours (09:00–17:00 local) after ``start``'s day begins."""
    day, rest = divmod(seconds, 8 * 3600)
    local = datetime.combine(start.date() + timedelta(days=int(day)), time(9), TIMEZONE)
    return (local + timedelta(seconds=rest)).astimezone(UTC)


def _outcomes(reached: bool, accepted: bool, policy: str | None) -> list[OutcomeIn]:
    if not reached:
        return [OutcomeIn(outcome="not_reached")]
    if accepted and policy:
        return [OutcomeIn(outcome="connected"), OutcomeIn(outcome="accepted", policy_id=policy)]
    return [OutcomeIn(outcome="connected"), OutcomeIn(outcome="refused", refusal_reason=_REFUSAL)]


def _baseline_records(top: pd.DataFrame, day: date) -> pa.Table:
    """The top-risk arm's contacts as the operator's campaign records (contract
    ``retention_contacts``): every contact made, none held out."""
    ids = top["subscriber_id"].astype(str).tolist()
    label = f"{day:%Y%m}"
    return pa.table(
        {
            "contact_id": pa.array([f"TR{label}-{sid}" for sid in ids], pa.string()),
            "subscriber_id": pa.array(ids, pa.string()),
            "contact_date": pa.array([day] * len(ids), pa.date32()),
            "offer_type": pa.array(top["offer_type"].astype(str).tolist(), pa.string()),
            "holdout": pa.array([False] * len(ids), pa.bool_()),
            "campaign": pa.array([f"top-risk-{day:%Y-%m}"] * len(ids), pa.string()),
        }
    )
