"""The retention-management data of bench_pages.py (issue 9's pages) at a 1 M operator's scale,
added to bench_ops_api's dataset (1 M customers, 6 agents in 3 teams, contacts of the last 60
days: about 3,300 a day).

Generated in SQL (``INSERT … SELECT``) or through the services' own bulk paths:

- the anomaly pool: 50,000 entries of the nine shipped rules over the ten branches, detected
  over the last 90 days, with their evidence as the anomaly step writes it; older entries
  mostly handled or dismissed, newer ones mostly new; about 12 % assigned, each with its task
  created through the task path (``ops.tasks.service.create_tasks``) and a history row per
  status change;
- two running campaigns with hold-outs: a quarter of the contacts belong to them, their
  subscribers are the treated members, 10 % more are held out;
- call quality inspections of 2 % of the contacts by the shift lead;
- published complaints (``published_complaints``) of the last three months and this one,
  about 20,000 a month;
- the previous month's scorecards closed (``ops.appraisal.scorecards.close_month``), so a
  subject's history has a stored month;
- weekly plans of every agent and the shift lead for 14 weeks; the shift lead's daily checks
  of the team's agents on every working day of 90 days;
- 20,000 data-quality reports filed from contacts, in every status;
- the weekly, monthly and churn analysis reports (bench_report_documents.py).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from bench_ops_api import CITY_INDICES, TZ, Dataset
from bench_report_documents import publish_documents
from stages import timed
from weiwan.ops.appraisal.scorecards import close_month
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.tasks.service import TaskSpec, create_tasks

RULES = Path(__file__).resolve().parents[1] / "src/weiwan/analytics/alert_rules/anomalies.yaml"
POOL = 50_000
COMPLAINTS_A_MONTH = 20_000
DATA_QUALITY = 20_000
STATUSES = ("active", "suspended_arrears", "pre_disconnect", "ported_out")
EVENTS = ("suspend_arrears", "pre_disconnect", "port_out", "resume")
FIELDS = (
    ("msisdn", "msisdn"),
    ("name", "name"),
    ("id_number", "id_number"),
    ("plan_id", "plan_id"),
    ("account_manager", "account_manager"),
    ("branch", "branch_code"),
    ("other", None),
)


def _ids(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {str(u): int(i) for u, i in conn.execute(sa.text("SELECT username, id FROM users"))}


def _agent_of_branch(data: Dataset) -> dict[int, int]:
    """The agent who works branch id b (as bench_ops_api assigns tasks and contacts)."""
    out = {}
    for city, indices in enumerate(CITY_INDICES):
        for index in indices:
            out[index + 1] = data.user_ids[f"agent{city}{'ab'[index % 2]}"]
    return out


def _evidence(fields: list[str], rng: random.Random, detected: date) -> str:
    values: dict[str, Any] = {}
    for name in fields:
        if name == "bill_month":
            month = detected.replace(day=1) - timedelta(days=1)
            values[name] = month.replace(day=1).isoformat()
        elif name.endswith("_date"):
            values[name] = (detected - timedelta(days=rng.randint(0, 5))).isoformat()
        elif name == "bill_ratio_prev_3m":
            values[name] = round(rng.choice((rng.uniform(2, 6), rng.uniform(0.05, 0.3))), 4)
        elif name == "status":
            values[name] = rng.choice(STATUSES)
        elif name in ("last_suspension_type", "latest_status_event"):
            values[name] = rng.choice(EVENTS)
        elif name == "payment_type":
            values[name] = rng.choice(("prepaid", "postpaid"))
        elif name == "tenure_months":
            values[name] = rng.randint(1, 160)
        else:
            values[name] = round(rng.uniform(0, 400), 2)
    return json.dumps(values, ensure_ascii=False)


POOL_SQL = """
INSERT INTO anomalies (subscriber_id, rule_id, period_key, category, severity, name_zh, name_en,
    evidence, detected_on, branch_code, branch_id, value_tier, account_manager, manager_id,
    status, note, created_at, updated_at, updated_by, assignee_id)
SELECT cv.subscriber_id, r.rule_id, r.period_key, r.category, r.severity, r.name_zh, r.name_en,
       r.evidence, r.detected_on, cv.branch_code, cv.branch_id, cv.value_tier,
       cv.account_manager, NULL, r.status,
       CASE r.status WHEN 'handled' THEN '已联系客户，核实后处理' WHEN 'dismissed' THEN '核实无异常'
       END,
       r.detected_on + time '06:00', CASE WHEN r.status <> 'new' THEN r.detected_on + 1 END,
       CASE WHEN r.status <> 'new' THEN :lead END,
       CASE WHEN r.status = 'assigned' THEN (CAST(:agents AS int[]))[cv.branch_id] END
FROM unnest(CAST(:numbers AS int[]), CAST(:rule_ids AS text[]), CAST(:period_keys AS text[]),
            CAST(:categories AS text[]), CAST(:severities AS text[]), CAST(:names_zh AS text[]),
            CAST(:names_en AS text[]), CAST(:evidence AS text[]), CAST(:detected AS date[]),
            CAST(:statuses AS text[]))
     AS r(n, rule_id, period_key, category, severity, name_zh, name_en, evidence, detected_on,
          status)
JOIN customer_view cv ON cv.subscriber_id = 'S' || lpad(r.n::text, 9, '0')
"""
CHANGES_SQL = """
INSERT INTO anomaly_changes (anomaly_id, at, by_user_id, from_status, to_status, note, task_id)
SELECT id, updated_at, updated_by, 'new', status, note, task_id
FROM anomalies WHERE status <> 'new'
"""


def anomaly_pool(engine: sa.Engine, data: Dataset) -> int:
    """The pool's entries, the assigned ones' tasks and the history (see the module doc)."""
    rng = random.Random(9)
    with open(RULES, encoding="utf-8") as handle:
        rules = yaml.safe_load(handle)["rules"]
    users = _ids(engine)
    agents = _agent_of_branch(data)
    count = min(POOL, data.customers)
    columns: dict[str, list[Any]] = {
        k: []
        for k in ("numbers", "rule_ids", "period_keys", "categories", "severities", "names_zh",
                  "names_en", "evidence", "detected", "statuses")
    }  # fmt: skip
    weights = (18, 12, 10, 8, 12, 10, 6, 8, 16)
    for k in range(count):
        rule = rng.choices(rules, weights)[0]
        age = rng.randint(0, 89)
        detected = data.today - timedelta(days=age)
        if age > 30:
            status = rng.choices(("handled", "dismissed", "assigned", "new"), (70, 15, 5, 10))[0]
        else:
            status = rng.choices(("assigned", "new", "handled"), (20, 70, 10))[0]
        evidence = _evidence(rule["evidence"], rng, detected)
        event = json.loads(evidence).get(rule["event_date"])
        # a permutation of the subscribers (7919 is prime to 10^n): every kind of customer,
        # managed (every 4th) or with tasks (the first 15 %) or neither, each entry distinct
        columns["numbers"].append(1 + (k * 7919) % data.customers)
        columns["rule_ids"].append(rule["id"])
        columns["period_keys"].append(event or detected.isoformat())
        columns["categories"].append(rule["category"])
        columns["severities"].append(rule["severity"])
        columns["names_zh"].append(rule["name_zh"])
        columns["names_en"].append(rule["name_en"])
        columns["evidence"].append(evidence)
        columns["detected"].append(detected)
        columns["statuses"].append(status)
    agent_array = [agents[b] for b in sorted(agents)]
    with engine.begin() as conn:
        added = conn.execute(
            sa.text(POOL_SQL), {**columns, "lead": users["lead0"], "agents": agent_array}
        ).rowcount
        assigned = conn.execute(
            sa.text(
                "SELECT id, subscriber_id, assignee_id, name_zh, name_en FROM anomalies "
                "WHERE status = 'assigned' ORDER BY id"
            )
        ).all()
    due = datetime.combine(data.today + timedelta(days=3), time(23, 59), TZ)
    with Session(engine) as session:
        create_tasks(
            session,
            (
                TaskSpec(
                    subscriber_id=sid,
                    source="alert",
                    origin=f"anomaly:{ident}",
                    channel="outbound_call",
                    assignee_id=assignee,
                    priority=1.0,
                    due_at=due,
                    title_zh=f"异常库：{zh}",
                    title_en=f"Anomaly: {en}",
                )
                for ident, sid, assignee, zh, en in assigned
            ),
        )
        session.commit()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE anomalies a SET task_id = t.id FROM tasks t "
                "WHERE a.status = 'assigned' AND t.origin = 'anomaly:' || a.id "
                "AND t.subscriber_id = a.subscriber_id"
            )
        )
        conn.execute(sa.text(CHANGES_SQL))
    print(f"    ({len(assigned):,} assigned, each with a task)", flush=True)
    return int(added)


CAMPAIGN_MEMBERS_SQL = """
INSERT INTO campaign_members (campaign_id, subscriber_id, arm, branch_id, churn_probability,
    future_value, arpu_1m)
SELECT DISTINCT ON (c.subscriber_id) :campaign, c.subscriber_id, 'treated', cv.branch_id,
       cv.churn_probability, cv.future_value, cv.arpu_1m
FROM contacts c JOIN customer_view cv ON cv.subscriber_id = c.subscriber_id
WHERE c.campaign_id = :campaign
"""
HOLDOUT_SQL = """
INSERT INTO campaign_members (campaign_id, subscriber_id, arm, branch_id, churn_probability,
    future_value, arpu_1m)
SELECT :campaign, cv.subscriber_id, 'holdout', cv.branch_id, cv.churn_probability,
       cv.future_value, cv.arpu_1m
FROM generate_series(:first, :customers, :every) AS n
JOIN customer_view cv ON cv.subscriber_id = 'S' || lpad(n::text, 9, '0')
WHERE NOT EXISTS (SELECT 1 FROM campaign_members m WHERE m.campaign_id = :campaign
                  AND m.subscriber_id = cv.subscriber_id)
"""


def campaigns(engine: sa.Engine, data: Dataset) -> int:
    """Two running campaigns with hold-outs, their contacts and members; quality inspections."""
    users = _ids(engine)
    ids = []
    with Session(engine) as session:
        for number, branch in ((1, 1), (2, 4)):
            campaign = Campaign(
                name=f"挽留活动{number}（对照组10%）",
                description="bench",
                branch_id=branch,
                status="running",
                target_filter="{}",
                policy_ids=json.dumps(["bench_p2"]),
                channels=json.dumps(["outbound_call"]),
                start_date=data.today - timedelta(days=60),
                end_date=data.today + timedelta(days=30),
                holdout_share=0.1,
                created_by=users["director"],
            )
            session.add(campaign)
            session.flush()
            ids.append(campaign.id)
        session.commit()
    members = 0
    with engine.begin() as conn:
        # contact ids are 1 mod 5: a quarter of them go to campaign 1, an eighth to campaign 2
        conn.execute(
            sa.text(
                "UPDATE contacts SET campaign_id = CASE WHEN id % 20 = 1 THEN :a ELSE :b END "
                "WHERE id % 20 = 1 OR id % 40 = 11"
            ),
            {"a": ids[0], "b": ids[1]},
        )
        for campaign_id, first, every in ((ids[0], 3, 180), (ids[1], 7, 360)):
            members += conn.execute(
                sa.text(CAMPAIGN_MEMBERS_SQL), {"campaign": campaign_id}
            ).rowcount
            members += conn.execute(
                sa.text(HOLDOUT_SQL),
                {
                    "campaign": campaign_id,
                    "first": first,
                    "every": every,
                    "customers": data.customers,
                },
            ).rowcount
        conn.execute(
            sa.text(
                "INSERT INTO quality_inspections (contact_id, inspector_id, at, recording_ref, "
                "score, comments) SELECT id, :lead, at + interval '1 day', 'rec/' || id, "
                "55 + id % 46, CASE WHEN id % 7 = 0 THEN '开场白不规范' END "
                "FROM contacts WHERE id % 250 = 1 AND at < now() - interval '1 day'"
            ),
            {"lead": users["lead0"]},
        )
    return members


COMPLAINTS_SQL = """
INSERT INTO published_complaints (complaint_id, subscriber_id, at, category, severity,
    branch_code, branch_id)
SELECT 'K' || lpad(n::text, 9, '0'), cv.subscriber_id,
       :now - make_interval(mins => (n * 7919) % :minutes),
       (ARRAY['network','billing','service','product','other'])[1 + n % 5],
       (ARRAY['low','medium','high'])[1 + n % 3], cv.branch_code, cv.branch_id
FROM generate_series(1, :complaints) AS n
JOIN customer_view cv
  ON cv.subscriber_id = 'S' || lpad((1 + (n::bigint * 104729) % :customers)::text, 9, '0')
"""


def complaints(engine: sa.Engine, data: Dataset) -> int:
    """Published complaints of the last three complete months and the current one."""
    start = (data.today.replace(day=1) - timedelta(days=85)).replace(day=1)
    days = (data.today - start).days + 1
    number = COMPLAINTS_A_MONTH * days // 30
    now = datetime.now(TZ)
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.text(COMPLAINTS_SQL),
                {"now": now, "minutes": days * 1440 - 60, "complaints": number,
                 "customers": data.customers},
            ).rowcount
        )  # fmt: skip


def work_records(engine: sa.Engine, data: Dataset) -> int:
    """Weekly plans of the agents and the shift lead; the lead's daily checks of the team."""
    users = _ids(engine)
    writers = [u for name, u in users.items() if name.startswith("agent") or name == "lead0"]
    monday = data.today - timedelta(days=data.today.weekday())
    now = datetime.now(TZ)
    plans = [
        {"user": user, "week": monday - timedelta(weeks=w),
         "goals": "完成分配客户的维挽外呼；高价值客户回访；跟进上周承诺的办理",
         "target": 50 + (user * 7 + w) % 40, "notes": "周三参加话术培训" if w % 3 == 0 else None,
         "at": now - timedelta(weeks=w), "comment": "目标合理，注意接通率" if w % 2 else None,
         "by": users["lead0"] if w % 2 else None,
         "commented": now - timedelta(weeks=w) + timedelta(days=1) if w % 2 else None}
        for user in writers
        for w in range(14)
    ]  # fmt: skip
    with engine.begin() as conn:
        team = conn.execute(
            sa.text("SELECT id FROM users WHERE team_id = (SELECT team_id FROM users "
                    "WHERE username = 'lead0') AND role = 'agent'")
        ).scalars().all()  # fmt: skip
        conn.execute(
            sa.text(
                "INSERT INTO weekly_plans (user_id, week, goals, target_customers, notes, "
                "created_at, updated_at, comment, comment_by, commented_at) VALUES (:user, "
                ":week, :goals, :target, :notes, :at, :at, :comment, :by, :commented)"
            ),
            plans,
        )
        checks = [
            {"agent": agent, "lead": users["lead0"], "day": day, "records": 5 + (agent + k) % 10,
             "findings": "两条记录未填写拒绝原因" if k % 6 == 0 else None,
             "result": "needs_correction" if k % 6 == 0 else "ok",
             "at": datetime.combine(day, time(17, 30), TZ)}
            for agent in team
            for k in range(90)
            if (day := data.today - timedelta(days=k)).weekday() < 5
        ]  # fmt: skip
        conn.execute(
            sa.text(
                "INSERT INTO daily_checks (agent_id, checker_id, day, records_checked, findings, "
                "result, at) VALUES (:agent, :lead, :day, :records, :findings, :result, :at)"
            ),
            checks,
        )
    return len(plans) + len(checks)


DATA_QUALITY_SQL = """
INSERT INTO data_quality_reports (subscriber_id, field, source_table, source_column, data_value,
    reported_value, note, contact_id, reported_by, reported_at, branch_id, branch_code, status,
    reviewed_by, reviewed_at, review_note, exported_by, exported_at)
SELECT c.subscriber_id, f.field, 'subscribers', f.source_column,
       CASE f.field WHEN 'msisdn' THEN cv.msisdn WHEN 'name' THEN cv.name
            WHEN 'id_number' THEN cv.id_number WHEN 'plan_id' THEN cv.plan_id
            WHEN 'account_manager' THEN cv.account_manager WHEN 'branch' THEN cv.branch_code END,
       CASE f.field WHEN 'msisdn' THEN '139' || lpad((c.id % 100000000)::text, 8, '0')
            WHEN 'name' THEN cv.name || '华' WHEN 'id_number' THEN '440101199001011234'
            WHEN 'plan_id' THEN 'TC128' WHEN 'account_manager' THEN 'agent' || (c.id % 7)::text
            WHEN 'branch' THEN 'GZ-PY' ELSE '客户称套餐与实际不符' END,
       CASE WHEN c.id % 3 = 0 THEN '客户来电时说明' END, c.id, c.user_id,
       c.at + interval '5 minutes', cv.branch_id, cv.branch_code, s.status,
       CASE WHEN s.status <> 'new' THEN :analyst END,
       CASE WHEN s.status <> 'new' THEN c.at + interval '2 days' END,
       CASE WHEN s.status = 'rejected' THEN '源系统数据正确' END,
       CASE WHEN s.status = 'exported' THEN :analyst END,
       CASE WHEN s.status = 'exported' THEN c.at + interval '3 days' END
FROM contacts c
JOIN customer_view cv ON cv.subscriber_id = c.subscriber_id
CROSS JOIN LATERAL (SELECT (CAST(:fields AS text[]))[1 + (c.id / 5) % 7] AS field,
                           (CAST(:columns AS text[]))[1 + (c.id / 5) % 7] AS source_column) f
CROSS JOIN LATERAL (SELECT CASE WHEN c.at > now() - interval '3 days' THEN 'new'
                                ELSE (ARRAY['new','new','confirmed','rejected','exported',
                                            'new','confirmed','exported'])[1 + (c.id / 7) % 8]
                           END AS status) s
WHERE c.user_id IS NOT NULL AND c.id % :every = 1
ORDER BY c.id LIMIT :reports
"""


def data_quality(engine: sa.Engine, data: Dataset) -> int:
    """Data-quality reports filed from contacts (see the module doc)."""
    users = _ids(engine)
    with engine.begin() as conn:
        contacts = int(conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one())
        every = max(5, (contacts * 5 // DATA_QUALITY) // 5 * 5)
        return int(
            conn.execute(
                sa.text(DATA_QUALITY_SQL),
                {"analyst": users["analyst"], "fields": [f for f, _c in FIELDS],
                 "columns": [c for _f, c in FIELDS], "every": every, "reports": DATA_QUALITY},
            ).rowcount
        )  # fmt: skip


def closed_scorecards(engine: sa.Engine, data: Dataset) -> int:
    """The previous month's scorecards, closed by the service (a subject's history)."""
    previous = (data.today.replace(day=1) - timedelta(days=1)).replace(day=1)
    with Session(engine) as session:
        stored = close_month(session, previous, TZ)
        session.commit()
    return stored


def generators(home: Path) -> list[tuple[str, Callable[[sa.Engine, Dataset], int | None]]]:
    """(name, generator) of every part, in order (the scorecards close after their inputs)."""

    def reports(engine: sa.Engine, data: Dataset) -> int:
        info = publish_documents(engine, home, data.today - timedelta(days=1))
        print(
            f"    (documents: mean {info['mean_chars']:,} chars, largest {info['max_chars']:,})",
            flush=True,
        )
        return int(info["documents"])

    return [
        ("anomaly pool (50 k entries, tasks, history)", anomaly_pool),
        ("campaigns with hold-outs, members, inspections", campaigns),
        ("published complaints (3 months + this one)", complaints),
        ("weekly plans and daily checks", work_records),
        ("data-quality reports", data_quality),
        ("previous month's scorecards closed", closed_scorecards),
        ("period reports (publish on a simulated warehouse)", reports),
    ]


def load_management(engine: sa.Engine, data: Dataset, home: Path) -> None:
    """Every part of the module doc, timed; ANALYZE after."""
    for name, run in generators(home):
        rows, seconds = timed(lambda run=run: run(engine, data))  # type: ignore[misc]
        count = f"{rows:>11,}" if rows is not None else " " * 11
        print(f"  {name:<52}{count} rows{seconds:>8.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
