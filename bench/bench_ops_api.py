"""Benchmark: the operational API on PostgreSQL with 1 M published customers, 2 cores.

Targets (DESIGN.md, "Performance budget"): the hotline screen-pop p99 ≤ 30 ms at 200 requests/s;
recording an outcome that closes the other channels' tasks p99 ≤ 50 ms.

A throw-away PostgreSQL 15 (bench/pg_server.py) runs with ``fsync=on`` — the commit of an
outcome (and of the audit event every screen-pop writes) is part of the latency — and
``shared_buffers`` of --shared-buffers. The data is generated in SQL (``INSERT … SELECT …
FROM generate_series``), not through the pipeline's publish (measured by bench_publish.py):

- 10 branches (3 city branches with rural sub-branches), customer n in branch ``n % 10``;
- customers with phone ``138`` + n, value tiers, churn risk, reasons (JSON), tags, eligible
  policies; 5 published policies; the contact rules of analytics/contact_policy.yaml;
- for the first 15 % of subscribers (at most 150,000) an open outbound_call task (id 2n - 1,
  assigned to an agent) and an open store task (id 2n, the branch's queue) for the same policy;
  100,000 more open tasks, 100,000 done ones; an account manager for every 4th customer;
  contact history (every 5th customer, with outcomes and acceptances); 1 M audit events.

The real app (weiwan.web.app.serve_app, bench/ops_app.py) is served by uvicorn (--workers)
in a child process on loopback; users: per city a hotline agent, a store clerk and two agents
(branch scope: city and sub-branches), and a director.

1. the requests' work in this process, without HTTP: time per SQL statement, the commit, and
   EXPLAIN ANALYZE of each SELECT;
2. sequential requests with httpx (one connection): screen-pops as hotline agents and as the
   director, outcomes as store clerks;
3. locust (bench/locust_ops.py, FastHttpUser, Poisson arrivals) for --seconds after a
   --warmup whose requests are dropped: screen-pop alone, outcomes alone, both mixed; the
   CPU seconds per second of the app, PostgreSQL and locust; the load average.

The setting ``lookup_limit_per_minute`` (a person's pace) is raised to LOOKUP_LIMIT for the
served app (WEIWAN_LOOKUP_LIMIT_PER_MINUTE) and for the in-process phase: each simulated user
screen-pops ~10 times a second. The limit's count (one index range count per lookup) is still
made, so its cost is part of the figures.

Every response is checked (200 / 201 and, for outcomes, the outbound task closed); a phase with
errors is reported as not meeting its target.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psutil
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from pg_server import pg_server
from stages import load_average, timed
from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.core.db import make_engine
from weiwan.ops.base import utcnow
from weiwan.ops.card.service import customer_card
from weiwan.ops.contacts.schemas import CallIn
from weiwan.ops.contacts.service import record_call
from weiwan.ops.customers.lookups import lookup_by_phone
from weiwan.ops.migrate import upgrade
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import Team, User
from weiwan.ops.org.roles import Role
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user

BENCH = Path(__file__).resolve().parent
#: as in bench/locust_ops.py (not imported: importing locust monkey-patches with gevent)
CITY_INDICES: tuple[tuple[int, ...], ...] = ((0, 1, 2), (3, 4, 5), (6, 7, 8, 9))
TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "Bench-Passw0rd-2026"
POLICY = "bench_p1"  # the policy of the paired outbound and store tasks
#: the lookup rate limit of the benchmark (a locust user screen-pops ~10 times a second)
LOOKUP_LIMIT = 10_000_000
SCREEN_P99_MS = 30.0
OUTCOME_P99_MS = 50.0
#: city branches and their rural sub-branches; branch id i + 1 has branch index i (= n % 10)
CITIES = (
    ("GZ", "广州", "Guangzhou", ("GZ-PY", "GZ-HD")),
    ("SZ", "深圳", "Shenzhen", ("SZ-BA", "SZ-LG")),
    ("FS", "佛山", "Foshan", ("FS-SD", "FS-NH", "FS-GM")),
)
REASONS = [
    json.dumps(r, ensure_ascii=False)
    for r in (
        [
            {"zh": "近3个月通话时长下降42%", "en": "Call minutes down 42% over 3 months",
             "feature": "voice_minutes_trend_3m"},
            {"zh": "合约将于60天内到期", "en": "Contract ends within 60 days",
             "feature": "days_to_contract_end"},
            {"zh": "异网通话占比上升", "en": "Share of off-net calls rising",
             "feature": "offnet_share_trend"},
        ],
        [
            {"zh": "近30天拨打竞争对手客服2次", "en": "Called a competitor's service line twice",
             "feature": "competitor_calls_30d"},
            {"zh": "流量使用下降", "en": "Data usage falling", "feature": "data_mb_trend_3m"},
        ],
        [
            {"zh": "近期投诉1次", "en": "One complaint recently", "feature": "complaints_90d"},
            {"zh": "设置了呼叫转移", "en": "Call forwarding set", "feature": "call_forwarding"},
            {"zh": "月消费下降", "en": "Monthly spend falling", "feature": "arpu_trend_3m"},
        ],
        [{"zh": "停机1次", "en": "Suspended once", "feature": "suspensions_6m"}],
    )
]  # fmt: skip
TAGS = [
    " high_value 5g_user family_plan ",
    " data_heavy young_adult ",
    " long_tenure broadband_bundle ",
    " price_sensitive prepaid ",
    " contract_expiring high_value ",
    " low_usage ",
]
ELIGIBLE_PAIRED = [" bench_p1 bench_p3 ", " bench_p1 bench_p4 ", " bench_p1 bench_p2 bench_p5 "]
ELIGIBLE_OTHER = ["", " bench_p2 ", " bench_p2 bench_p3 ", " bench_p4 ", " bench_p3 bench_p5 "]
POLICIES = (
    ("bench_p1", "预存100元送200元话费", "Prepay 100, get 200 in bill credit", "prepay_and_get",
     200),
    ("bench_p2", "流量包半价12个月", "Half-price data pack for 12 months", "discount", 120),
    ("bench_p3", "宽带免费提速至1000M", "Free broadband upgrade to 1000M", "upgrade", 90),
    ("bench_p4", "50元话费券", "50-yuan bill voucher", "voucher", 50),
    ("bench_p5", "续约24个月送手机", "Free handset with a 24-month renewal", "device", 900),
)  # fmt: skip


def msisdn(n: int) -> str:
    """The phone number of subscriber ``n``."""
    return f"138{n:08d}"


def subscriber_id(n: int) -> str:
    """The subscriber id of subscriber ``n``."""
    return f"S{n:09d}"


# --- the data ------------------------------------------------------------------------------


@dataclass
class Dataset:
    """What was loaded: sizes, users, the subscribers reserved for outcomes."""

    customers: int
    paired: int  # subscribers 1..paired have an open outbound task 2n-1 and store task 2n
    user_ids: dict[str, int] = field(default_factory=dict)
    today: date = date(2026, 1, 1)
    at: datetime = datetime(2026, 1, 1, tzinfo=TZ)
    next_outcome: int = 1  # first subscriber number not yet used for an outcome

    def reserve(self, numbers: int) -> tuple[int, int]:
        """The next ``numbers`` subscriber numbers for outcomes (each accepts once)."""
        first, last = self.next_outcome, self.next_outcome + numbers - 1
        if last > self.paired:
            sys.exit(f"not enough subscribers with paired tasks ({self.paired:,}) for outcomes")
        self.next_outcome = last + 1
        return first, last


def _branches(conn: sa.Connection) -> dict[int, int]:
    """Insert the branch tree (ids 1..10); the city (0..2) of each branch id."""
    city_of: dict[int, int] = {}
    rows: list[dict[str, Any]] = []
    next_id = 1
    for city, (code, zh, en, rural) in enumerate(CITIES):
        parent = next_id
        rows.append({"id": parent, "code": code, "name_zh": zh, "name_en": en, "parent_id": None})
        city_of[parent] = city
        next_id += 1
        for sub in rural:
            rows.append(
                {"id": next_id, "code": sub, "name_zh": f"{zh}{sub[-2:]}支局",
                 "name_en": f"{en} {sub[-2:]}", "parent_id": parent}
            )  # fmt: skip
            city_of[next_id] = city
            next_id += 1
    conn.execute(
        sa.text(
            "INSERT INTO branches (id, code, name_zh, name_en, parent_id) "
            "VALUES (:id, :code, :name_zh, :name_en, :parent_id)"
        ),
        rows,
    )
    conn.execute(sa.text("SELECT setval('branches_id_seq', 10)"))
    assert all(city_of[i + 1] == c for c, idx in enumerate(CITY_INDICES) for i in idx)
    return city_of


def _users(engine: sa.Engine) -> dict[str, int]:
    """Per city a hotline agent, a store clerk, two agents (in a team); a director."""
    ids: dict[str, int] = {}
    with Session(engine) as session:
        for city, (code, zh, _en, _rural) in enumerate(CITIES):
            branch = 1 + sum(1 + len(c[3]) for c in CITIES[:city])
            team = Team(branch_id=branch, name=f"{zh}外呼一组")
            session.add(team)
            session.flush()
            people = (
                (f"hotline{city}", Role.HOTLINE_AGENT, None),
                (f"clerk{city}", Role.STORE_CLERK, None),
                (f"agent{city}a", Role.AGENT, team.id),
                (f"agent{city}b", Role.AGENT, team.id),
            )
            for username, role, team_id in people:
                user = create_user(
                    session,
                    UserCreate(
                        username=username,
                        display_name=f"{code} {username}",
                        password=PASSWORD,
                        role=role,
                        branch_id=branch,
                        team_id=team_id,
                    ),
                )
                ids[username] = user.id
        director = create_user(
            session,
            UserCreate(
                username="director",
                display_name="Director",
                password=PASSWORD,
                role=Role.DIRECTOR,
                branch_id=1,
            ),
        )
        ids["director"] = director.id
        session.commit()
    return ids


CUSTOMER_SQL = """
INSERT INTO customer_view (
    subscriber_id, snapshot_date, msisdn, customer_id, name, id_number, gender, age, region,
    branch_code, branch_id, brand, payment_type, plan_id, plan_monthly_fee, join_date,
    tenure_months, contract_end_date, status, star_level, account_manager, arpu_1m, value_tier,
    lifecycle_stage, clv_quadrant, future_value, churn_probability, risk_band, model_version,
    reasons, tags, eligible_policies)
SELECT
    'S' || lpad(n::text, 9, '0'), :snapshot, '138' || lpad(n::text, 8, '0'),
    'C' || lpad(n::text, 9, '0'),
    (ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴'])[1 + n % 10]
        || (ARRAY['伟','芳','娜','敏','静','磊','强','洋'])[1 + (n / 10) % 8],
    '44010' || (n % 10)::text || (1950 + n % 55)::text || lpad((1 + n % 12)::text, 2, '0')
        || lpad((1 + n % 28)::text, 2, '0') || lpad((n % 1000)::text, 3, '0') || (n % 10)::text,
    CASE WHEN n % 2 = 0 THEN 'M' ELSE 'F' END, 18 + n % 62, coalesce(p.name_en, b.name_en),
    b.code, b.id, (ARRAY['全球通','动感地带','神州行'])[1 + n % 3],
    CASE WHEN n % 4 = 0 THEN 'prepaid' ELSE 'postpaid' END,
    'TC' || lpad(fee::text, 3, '0'), fee, :snapshot - (n % 5000),
    (n % 5000) / 30, CASE WHEN n % 3 = 0 THEN :snapshot + (n % 400) END, 'active', 1 + n % 7,
    CASE WHEN n % 4 = 0 THEN 'agent' || (n % 10 + 1)::text END,
    round((fee * (0.6 + (n % 90) / 100.0))::numeric, 2),
    CASE WHEN h < 2 THEN 'diamond' WHEN h < 8 THEN 'gold' WHEN h < 25 THEN 'silver'
         WHEN h < 65 THEN 'ordinary' ELSE 'mass' END,
    (ARRAY['growth','mature','decline','at_risk'])[1 + n % 4],
    (ARRAY['high_value_high_risk','high_value_low_risk','low_value_high_risk',
           'low_value_low_risk'])[1 + n % 4],
    round((fee * (6 + n % 30))::numeric, 2), prob,
    CASE WHEN prob >= 0.5 THEN 'high' WHEN prob >= 0.2 THEN 'medium' ELSE 'low' END, 'v3',
    CASE WHEN prob >= 0.2 THEN (CAST(:reasons AS text[]))[1 + n % 4] END,
    (CAST(:tags AS text[]))[1 + n % 6],
    CASE WHEN n <= :paired THEN (CAST(:eligible_paired AS text[]))[1 + n % 3]
         ELSE nullif((CAST(:eligible_other AS text[]))[1 + n % 5], '') END
FROM (
    SELECT n, (n * 37) % 100 AS h,
           (ARRAY[38, 58, 96, 126, 168, 238])[1 + (n * 7) % 6] AS fee,
           round(power(((n::bigint * 2654435761) % 100000) / 100000.0, 3)::numeric, 4)::float
               AS prob
    FROM generate_series(1, :customers) AS n
) AS g
JOIN branches b ON b.id = g.n % 10 + 1
LEFT JOIN branches p ON p.id = b.parent_id
"""

TASK_COLUMNS = (
    "id, subscriber_id, source, origin, policy_id, channel, branch_id, assignee_id, status, "
    "priority, title_zh, title_en, due_at, created_at, closed_at, closed_reason"
)
PAIRED_TASKS_SQL = f"""
INSERT INTO tasks ({TASK_COLUMNS})
SELECT 2 * n - 1 + k, 'S' || lpad(n::text, 9, '0'), 'decision', :origin, :policy,
       CASE k WHEN 0 THEN 'outbound_call' ELSE 'store' END, n % 10 + 1,
       CASE k WHEN 0 THEN (CAST(:agents AS int[]))[1 + n % 10] END, 'open', (n % 1000) / 1000.0,
       '挽留：预存100元送200元话费', 'Retention: prepay 100, get 200', :due, :now, NULL, NULL
FROM generate_series(1, :paired) AS n CROSS JOIN (VALUES (0), (1)) AS v(k)
"""
OTHER_TASKS_SQL = f"""
INSERT INTO tasks ({TASK_COLUMNS})
SELECT :offset + n - :paired, 'S' || lpad(n::text, 9, '0'), 'decision', :origin, :policy,
       :channel, n % 10 + 1, (CAST(:agents AS int[]))[1 + n % 10], :status, (n % 1000) / 1000.0,
       '关怀回访', 'Care call', :due, :now, :closed_at, :closed_reason
FROM generate_series(:paired + 1, :last) AS n
"""
ASSIGNMENTS_SQL = """
INSERT INTO customer_assignments (subscriber_id, kind, user_id, assigned_at)
SELECT 'S' || lpad(n::text, 9, '0'), 'account_manager', (CAST(:agents AS int[]))[1 + n % 10], :now
FROM generate_series(4, :customers, 4) AS n
"""
CONTACTS_SQL = """
INSERT INTO contacts (id, subscriber_id, at, channel, status, policy_id, user_id, note)
SELECT n, 'S' || lpad(n::text, 9, '0'), :now - make_interval(days => 1 + n % 60),
       'outbound_call', 'sent', 'bench_p2', (CAST(:agents AS int[]))[1 + n % 10], NULL
FROM generate_series(1, :customers, 5) AS n
"""
OUTCOMES_SQL = """
INSERT INTO contact_outcomes (contact_id, outcome, refusal_reason, policy_id)
SELECT id, o.outcome, CASE o.outcome WHEN 'refused' THEN '价格太高' END,
       CASE o.outcome WHEN 'accepted' THEN 'bench_p4' END
FROM contacts
CROSS JOIN LATERAL (
    SELECT unnest(CASE id % 3 WHEN 0 THEN ARRAY['connected', 'refused']
                               WHEN 1 THEN ARRAY['not_reached']
                               ELSE ARRAY['connected', 'accepted'] END) AS outcome
) AS o
"""
ACCEPTANCES_SQL = """
INSERT INTO acceptances (subscriber_id, policy_id, contact_id, channel, user_id, at, status, cost)
SELECT subscriber_id, 'bench_p4', id, channel, user_id, at, 'active', 50
FROM contacts WHERE id % 3 = 2
"""
AUDIT_SQL = """
INSERT INTO audit_events (at, user_id, action, target_type, target_id, detail)
SELECT :now - make_interval(secs => n * 2.5), (CAST(:agents AS int[]))[1 + n % 10], 'pii_view',
       'customer', 'S' || lpad((1 + (n::bigint * 7919) % :customers)::text, 9, '0'),
       '{"channel": "workbench", "full_numbers": false}'
FROM generate_series(1, :events) AS n
"""


def load(engine: sa.Engine, customers: int) -> Dataset:
    """Schema, org, policies, rules, customers, tasks, history; VACUUM ANALYZE."""
    paired = min(150_000, customers * 15 // 100)
    data = Dataset(customers=customers, paired=paired)
    data.today = datetime.now(TZ).date()
    data.at = datetime.combine(data.today, datetime.min.time(), TZ).replace(hour=10, minute=30)
    now = datetime.now(TZ)
    snapshot = data.today - timedelta(days=1)

    def step(name: str, run: Callable[[], int | None]) -> None:
        rows, seconds = timed(run)
        count = f"{rows:>11,}" if rows is not None else " " * 11
        print(f"  {name:<48}{count} rows{seconds:>8.1f} s", flush=True)

    step("migrate to head", lambda: upgrade(engine))
    with engine.begin() as conn:
        city_of = _branches(conn)
    data.user_ids = _users(engine)
    print(f"  branches 10 (3 cities), users {len(data.user_ids)} (argon2)", flush=True)
    agents = [
        data.user_ids[f"agent{city_of[i + 1]}{'ab'[i % 2]}"] for i in range(10)
    ]  # agent of each branch index's city
    base = {"now": now, "agents": agents, "customers": customers, "paired": paired}
    policies = [
        {"policy_id": pid, "name_zh": zh, "name_en": en, "description": en, "offer_type": kind,
         "valid_from": data.today - timedelta(days=60),
         "valid_to": data.today + timedelta(days=300), "min_spend": 38.0,
         "total_cost": float(cost), "benefit_value": float(cost), "commitment_months": 12,
         "channels": "outbound_call account_manager_call sms store hotline self_service",
         "script_zh": f"您好，现在为您准备了专属回馈：{zh}。您看现在帮您办理好吗？",
         "script_en": f"We have a reward for you: {en}. Shall I set it up now?",
         "approval": "approved", "budget_count": None, "budget_money": None}
        for pid, zh, en, kind, cost in POLICIES
    ]  # fmt: skip
    rules = json.dumps(load_contact_policy().model_dump(mode="json"), ensure_ascii=False)

    def execute(sql: str, **params: Any) -> int:
        with engine.begin() as conn:
            return int(conn.execute(sa.text(sql), {**base, **params}).rowcount)

    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO policies VALUES (:policy_id, :name_zh, :name_en, :description, "
                ":offer_type, :valid_from, :valid_to, :min_spend, :total_cost, :benefit_value, "
                ":commitment_months, :channels, :script_zh, :script_en, :approval, "
                ":budget_count, :budget_money)"
            ),
            policies,
        )
        conn.execute(
            sa.text("INSERT INTO config_documents (name, content, updated_at) VALUES (:n, :c, :t)"),
            {"n": "contact_rules", "c": rules, "t": now},
        )
    print(f"  policies {len(policies)}, contact rules (analytics/contact_policy.yaml)")
    step(
        "customer_view (INSERT … SELECT generate_series)",
        lambda: execute(
            CUSTOMER_SQL,
            snapshot=snapshot,
            reasons=REASONS,
            tags=TAGS,
            eligible_paired=ELIGIBLE_PAIRED,
            eligible_other=ELIGIBLE_OTHER,
        ),
    )
    origin = f"decision:{snapshot.isoformat()}"
    due = now + timedelta(days=3)
    step(
        f"paired outbound_call + store tasks ({POLICY})",
        lambda: execute(PAIRED_TASKS_SQL, origin=origin, policy=POLICY, due=due),
    )
    last = min(customers, paired + 100_000)
    step(
        "other open tasks (account_manager_call)",
        lambda: execute(
            OTHER_TASKS_SQL, offset=2 * paired, last=last, origin=origin, policy="bench_p2",
            channel="account_manager_call", status="open", due=due, closed_at=None,
            closed_reason=None,
        ),
    )  # fmt: skip
    step(
        "done tasks (sms)",
        lambda: execute(
            OTHER_TASKS_SQL, offset=2 * paired + 100_000, last=last,
            origin=f"decision:{(snapshot - timedelta(days=7)).isoformat()}", policy="bench_p3",
            channel="sms", status="done", due=due - timedelta(days=7),
            closed_at=now - timedelta(days=5), closed_reason="connected",
        ),
    )  # fmt: skip
    step("customer_assignments (every 4th)", lambda: execute(ASSIGNMENTS_SQL))
    step("contacts (every 5th customer, last 60 days)", lambda: execute(CONTACTS_SQL))
    step("contact_outcomes", lambda: execute(OUTCOMES_SQL))
    step("acceptances (bench_p4)", lambda: execute(ACCEPTANCES_SQL))
    step("audit_events (earlier views)", lambda: execute(AUDIT_SQL, events=1_000_000))
    with engine.begin() as conn:
        for table in ("tasks", "contacts", "contact_outcomes", "acceptances", "audit_events"):
            conn.execute(
                sa.text(
                    f"SELECT setval('{table}_id_seq', (SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:

        def vacuum() -> None:
            conn.execute(sa.text("VACUUM ANALYZE"))

        step("VACUUM ANALYZE", vacuum)
        sizes = conn.execute(
            sa.text(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
                "WHERE relname IN ('customer_view', 'tasks', 'contacts', 'audit_events') "
                "ORDER BY relname"
            )
        ).all()
        print("  sizes with indexes: " + ", ".join(f"{n} {s}" for n, s in sizes), flush=True)
    return data


# --- 1. in this process ----------------------------------------------------------------


def _label(statement: str) -> str:
    lines = [line for line in statement.splitlines() if not line.lstrip().startswith("--")]
    text = " ".join(" ".join(lines).split())
    if text.startswith("WITH"):  # one statement of several parts: name it by its first
        match = re.match(r"WITH (\w+) AS \(\s*(INSERT INTO|UPDATE|SELECT .*? FROM) (\w+)", text)
        return f"WITH {match.group(1)}: {match.group(3)} …" if match else "WITH …"
    if text.startswith("INSERT"):
        match = re.match(r"INSERT INTO (\w+)", text)
        return f"INSERT {match.group(1) if match else '?'}"
    if text.startswith("UPDATE"):
        match = re.match(r"UPDATE (\w+)", text)
        return f"UPDATE {match.group(1) if match else '?'}"
    match = re.search(r"\bFROM (\w+)", text)
    lock = " FOR UPDATE" if "FOR UPDATE" in text else ""
    return f"SELECT {match.group(1) if match else '?'}{lock}"


class StatementTimer:
    """Wall time of every SQL statement on ``engine``, by label and occurrence per request."""

    def __init__(self, engine: sa.Engine) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.examples: dict[str, tuple[str, Any]] = {}
        self.order: list[str] = []
        self._seen: dict[str, int] = defaultdict(int)
        self._start = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        self.engine = engine

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def new_request(self) -> None:
        self._seen.clear()

    def reset(self) -> None:
        self.times.clear()
        self.order.clear()
        self.examples.clear()

    def _before(self, *_args: Any) -> None:
        self._start = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_a: Any) -> None:
        label = _label(statement)
        self._seen[label] += 1
        if self._seen[label] > 1:
            label = f"{label} #{self._seen[label]}"
        if label not in self.times:
            self.order.append(label)
        self.times[label].append((time.perf_counter() - self._start) * 1000)
        self.examples.setdefault(label, (statement, params))


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _report(
    timer: StatementTimer, requests: int, totals: list[float], commits: list[float]
) -> None:
    print(f"    {'statement':<44}{'per req':>8}{'mean ms':>9}{'p99 ms':>8}")
    for label in timer.order:
        values = timer.times[label]
        print(
            f"    {label:<44}{len(values) / requests:>8.2f}{statistics.fmean(values):>9.2f}"
            f"{_ms(values, 0.99):>8.2f}"
        )
    print(f"    {'COMMIT':<44}{1:>8.2f}{statistics.fmean(commits):>9.2f}{_ms(commits, 0.99):>8.2f}")
    sql = sum(sum(v) for v in timer.times.values()) / requests + statistics.fmean(commits)
    statements = sum(len(v) for v in timer.times.values()) / requests
    print(f"    statements per request: {statements:.2f} (and the commit)")
    print(
        f"    whole request in process: median {statistics.median(totals):.2f} ms, "
        f"p99 {_ms(totals, 0.99):.2f} ms; of which SQL + commit {sql:.2f} ms on average",
        flush=True,
    )


SCAN = re.compile(
    r"((?:Seq Scan|Index Only Scan|Index Scan(?: Backward)?|Bitmap Heap Scan)"
    r"(?: using \w+)? on \w+)"
)


def _explain(engine: sa.Engine, timer: StatementTimer) -> None:
    """EXPLAIN ANALYZE of every SELECT seen (in a transaction rolled back)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for label in timer.order:
            statement, params = timer.examples[label]
            if not label.startswith(("SELECT", "WITH")) or not isinstance(
                params, dict | tuple | list
            ):
                continue
            if "INSERT INTO contacts" in statement:  # the write: its acceptance exists already
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            plan = [str(r[0]) for r in cursor.fetchall()]
            top = plan[0].split("  (")[0].strip()
            scans = sorted({m.group(1) for p in plan for m in [SCAN.search(p)] if m})
            total = next((p for p in plan if p.startswith("Execution Time")), "")
            print(f"    {label:<34} {total:<28} {top[:40]:<40} {'; '.join(scans)[:120]}")
        raw.rollback()
    finally:
        raw.close()


def _what_if_index(engine: sa.Engine, timer: StatementTimer) -> None:
    """The card's acceptances query again with an index on (subscriber_id, at), rolled back."""
    if "SELECT acceptances" not in timer.examples:
        return
    statement, params = timer.examples["SELECT acceptances"]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "CREATE INDEX bench_acceptances_subscriber_at ON acceptances (subscriber_id, at)"
        )
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        plan = [str(r[0]) for r in cursor.fetchall()]
        total = next((p for p in plan if p.startswith("Execution Time")), "")
        scans = sorted({m.group(1) for p in plan for m in [SCAN.search(p)] if m})
        print(
            "    what if (rolled back) CREATE INDEX ON acceptances (subscriber_id, at): "
            f"{total}; {'; '.join(scans)}"
        )
        raw.rollback()
    finally:
        raw.close()


def in_process(engine: sa.Engine, data: Dataset, count: int) -> None:
    """The screen-pop and the outcome without HTTP: per-statement time, commit, plans."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    timer = StatementTimer(engine)
    try:
        print(f"\n1. in process, no HTTP (the route's work, {count} requests each, after 50)")
        print("  screen-pop as hotline0 (branch scope):", flush=True)
        city = 0
        totals: list[float] = []
        commits: list[float] = []
        uid = data.user_ids[f"hotline{city}"]
        for i in range(count + 50):
            if i == 50:
                timer.reset()
                totals.clear()
                commits.clear()
            n = 10 * ((i * 7919) % max(data.customers // 10, 1)) + CITY_INDICES[city][i % 3] or 10
            timer.new_request()
            start = time.perf_counter()
            with factory() as session:
                user = session.get(User, uid)
                assert user is not None
                actor = actor_for(session, user)
                row = lookup_by_phone(
                    session,
                    actor,
                    msisdn(n),
                    channel="hotline",
                    limit=LOOKUP_LIMIT,
                    now=utcnow(),
                )
                customer_card(session, actor, row, channel="hotline", today=data.today)
                before = time.perf_counter()
                session.commit()
                commits.append((time.perf_counter() - before) * 1000)
            totals.append((time.perf_counter() - start) * 1000)
        _report(timer, count, totals, commits)
        print("  EXPLAIN ANALYZE of the screen-pop's SELECTs (one example each):")
        _explain(engine, timer)
        _what_if_index(engine, timer)

        print("  outcome (connected + accepted, closes the outbound task) as clerk0:")
        timer.reset()
        totals.clear()
        commits.clear()
        first, last = data.reserve(int(count / 0.3) + 100)
        numbers = [n for n in range(first, last + 1) if n % 10 in CITY_INDICES[city]][:count]
        uid = data.user_ids[f"clerk{city}"]
        closed = 0
        for n in numbers:
            timer.new_request()
            start = time.perf_counter()
            with factory() as session:
                user = session.get(User, uid)
                assert user is not None
                actor = actor_for(session, user)
                record = record_call(session, actor, _call(n, data), tz=TZ)
                before = time.perf_counter()
                session.commit()
                commits.append((time.perf_counter() - before) * 1000)
            closed += record.closed_task_ids == [2 * n - 1]
            totals.append((time.perf_counter() - start) * 1000)
        if closed != len(numbers):
            print(f"    !! only {closed} of {len(numbers)} outcomes closed the outbound task")
        _report(timer, len(numbers), totals, commits)
        print("  EXPLAIN ANALYZE of the outcome's SELECTs (one example each, rolled back):")
        _explain(engine, timer)
    finally:
        timer.close()


def _call(n: int, data: Dataset) -> CallIn:
    return CallIn.model_validate(_call_body(n, data))


def _call_body(n: int, data: Dataset) -> dict[str, Any]:
    return {
        "subscriber_id": subscriber_id(n),
        "channel": "store",
        "task_id": 2 * n,
        "outcomes": [{"outcome": "connected"}, {"outcome": "accepted", "policy_id": POLICY}],
        "at": data.at.isoformat(),
    }


# --- the server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serve(url: str, home: Path, workers: int) -> Iterator[Server]:
    """uvicorn with ``workers`` processes serving bench/ops_app.py on loopback."""
    port = _free_port()
    log = home / "uvicorn.log"
    env = {
        **os.environ,
        "WEIWAN_BENCH_DATABASE_URL": url,
        "WEIWAN_BENCH_HOME": str(home),
        # each simulated user makes far more lookups than a person could: the rate limit is
        # raised (its count is still made on every lookup, so its cost is measured)
        "WEIWAN_LOOKUP_LIMIT_PER_MINUTE": str(LOOKUP_LIMIT),
    }
    print(
        f"  the server's lookup limit is raised to {LOOKUP_LIMIT:,}/min per user "
        "(WEIWAN_LOOKUP_LIMIT_PER_MINUTE): a locust user is not a person",
        flush=True,
    )
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "ops_app:create", "--app-dir", str(BENCH),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"uvicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{base}/api/v1/auth/me", timeout=2).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        time.sleep(2)  # let every worker finish starting
        yield Server(base, process, log)
    except BaseException:
        print(f"uvicorn's log:\n{log.read_text(errors='replace')[-3000:]}", flush=True)
        raise
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class CpuMeter:
    """CPU seconds of the app's processes, PostgreSQL's and this process' waited children."""

    def __init__(self, server: Server, postmaster: psutil.Process) -> None:
        self.server = server
        self.postmaster = postmaster

    @staticmethod
    def _tree(root: psutil.Process, with_children_fields: bool) -> float:
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system
            if with_children_fields:
                total += t.children_user + t.children_system
        return total

    def sample(self) -> tuple[float, float, float, float]:
        app = self._tree(psutil.Process(self.server.process.pid), False)
        pg = self._tree(self.postmaster, True)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.monotonic(), app, pg, children.ru_utime + children.ru_stime


# --- 2. sequential requests with httpx -----------------------------------------------------


def _login(client: httpx.Client, username: str) -> str:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return str(response.json()["csrf_token"])


@dataclass
class Figures:
    """One measured series: requests/s, percentiles (ms), errors."""

    name: str
    requests: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float
    errors: int
    note: str = ""
    load: str = ""
    target: float | None = None
    target_rps: float | None = None

    @property
    def met(self) -> str:
        if self.target is None:
            return ""
        # Poisson arrivals: 3,000 requests in a minute vary by ±1.8 % (one standard deviation)
        rate_ok = self.target_rps is None or self.rps >= 0.95 * self.target_rps
        return "yes" if self.errors == 0 and self.p99 <= self.target and rate_ok else "NO"


def _figures(name: str, times: list[float], errors: int, seconds: float) -> Figures:
    return Figures(
        name, len(times), len(times) / seconds, statistics.median(times), _ms(times, 0.95),
        _ms(times, 0.99), max(times), errors,
    )  # fmt: skip


def sequential(server: Server, data: Dataset, loops: int) -> list[Figures]:
    print("\n2. sequential requests with httpx from this process (one keep-alive connection)")
    results: list[Figures] = []
    for username, count in (("hotline0", loops), ("director", loops // 2)):
        with httpx.Client(base_url=server.base, timeout=10) as client:
            _login(client, username)
            for i in range(100):  # warm-up
                client.get("/api/v1/screen-pop", params={"phone": msisdn(1 + i * 30)})
            times: list[float] = []
            errors = 0
            start = time.perf_counter()
            for i in range(count):
                n = 10 * ((i * 104729) % max(data.customers // 10, 1)) + CITY_INDICES[0][i % 3]
                before = time.perf_counter()
                response = client.get(
                    "/api/v1/screen-pop", params={"phone": msisdn(n or 10), "channel": "hotline"}
                )
                times.append((time.perf_counter() - before) * 1000)
                errors += response.status_code != 200
            seconds = time.perf_counter() - start
        results.append(_figures(f"screen-pop, httpx, {username}", times, errors, seconds))
    count = max(loops // 4, 100)
    first, last = data.reserve(int(count / 0.3) + 100)
    numbers = [n for n in range(first, last + 1) if n % 10 in CITY_INDICES[0]][:count]
    with httpx.Client(base_url=server.base, timeout=10) as client:
        csrf = _login(client, "clerk0")
        times = []
        errors = 0
        start = time.perf_counter()
        for n in numbers:
            before = time.perf_counter()
            response = client.post(
                "/api/v1/contacts", json=_call_body(n, data), headers={"X-CSRF-Token": csrf}
            )
            times.append((time.perf_counter() - before) * 1000)
            ok = response.status_code == 201
            errors += not ok or response.json().get("closed_task_ids") != [2 * n - 1]
        seconds = time.perf_counter() - start
    results.append(_figures("outcome + closure, httpx, clerk0", times, errors, seconds))
    _table(results)
    return results


# --- 3. locust --------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    screen_rps: int
    outcome_rps: int


SCREEN_PER_USER = 10.0  # requests/s of one screen-pop user
OUTCOME_PER_USER = 5.0


def run_phase(
    phase: Phase,
    server: Server,
    data: Dataset,
    meter: CpuMeter,
    warmup: float,
    seconds: float,
    home: Path,
    arrivals: str,
) -> list[Figures]:
    screen_users = round(phase.screen_rps / SCREEN_PER_USER)
    outcome_users = round(phase.outcome_rps / OUTCOME_PER_USER)
    first, last = data.reserve(int(2 * phase.outcome_rps * (warmup + seconds)) + 1000)
    result = home / f"locust-{phase.name}.json"
    log = home / f"locust-{phase.name}.log"
    env = {
        **os.environ,
        "OPS_CUSTOMERS": str(data.customers),
        "OPS_PASSWORD": PASSWORD,
        "OPS_POLICY": POLICY,
        "OPS_AT": data.at.isoformat(),
        "OPS_WARMUP": str(warmup),
        "OPS_SCREEN_USERS": str(screen_users),
        "OPS_SCREEN_RATE": str(SCREEN_PER_USER),
        "OPS_OUTCOME_USERS": str(outcome_users),
        "OPS_OUTCOME_RATE": str(OUTCOME_PER_USER),
        "OPS_OUTCOME_FIRST": str(first),
        "OPS_OUTCOME_LAST": str(last),
        "OPS_RESULT": str(result),
        "OPS_ARRIVALS": arrivals,
    }
    classes = (["ScreenPop"] if screen_users else []) + (["Outcome"] if outcome_users else [])
    users = screen_users + outcome_users
    command = [
        sys.executable, "-m", "locust", "-f", str(BENCH / "locust_ops.py"), "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{round(warmup + seconds)}s",
        "--host", server.base, "--only-summary", "--loglevel", "WARNING",
        "--exit-code-on-error", "0", "--stop-timeout", "5", *classes,
    ]  # fmt: skip
    print(
        f"  phase {phase.name}: {screen_users} screen-pop users x {SCREEN_PER_USER:g}/s, "
        f"{outcome_users} outcome users x {OUTCOME_PER_USER:g}/s, {arrivals} arrivals; "
        f"{warmup:g} s warm-up + "
        f"{seconds:g} s; load average before {load_average()}",
        flush=True,
    )
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        time.sleep(warmup)
        t0, app0, pg0, locust0 = meter.sample()
        code = process.wait()
        t1, app1, pg1, locust1 = meter.sample()
    load = load_average()
    if code != 0 or not result.exists():
        sys.exit(f"locust failed ({code}):\n{log.read_text(errors='replace')[-3000:]}")
    stats = json.loads(result.read_text())
    wall = t1 - t0
    cpu = (
        f"CPU s/s: app {(app1 - app0) / wall:.2f}, postgres {(pg1 - pg0) / wall:.2f}, "
        f"locust {(locust1 - locust0) / wall:.2f} (of {os.cpu_count()})"
    )
    done = sum(int(e["requests"]) for e in stats["entries"].values())
    per = [1000 * d / max(done, 1) for d in (app1 - app0, pg1 - pg0, locust1 - locust0)]
    cpu += (
        f"; CPU ms per request: app {per[0]:.1f}, postgres {per[1]:.1f}, locust {per[2]:.1f}"
        f" -> {os.cpu_count()} idle cores: at most ~{1000 * (os.cpu_count() or 1) / sum(per):.0f}"
        " req/s of this mix"
    )
    out_rows: list[Figures] = []
    for entry_name, target, rps in (
        ("GET /api/v1/screen-pop", SCREEN_P99_MS, phase.screen_rps),
        ("POST /api/v1/contacts (accepted, closes outbound task)", OUTCOME_P99_MS,
         phase.outcome_rps),
    ):  # fmt: skip
        e = stats["entries"].get(entry_name)
        if not rps:
            continue
        if e is None:
            sys.exit(f"locust recorded no {entry_name}:\n{log.read_text(errors='replace')[-3000:]}")
        short = "screen-pop" if "screen" in entry_name else "outcome + closure"
        print(
            f"    {short}: the app's own time (Server-Timing) p50 {e.get('server_p50', 0):.1f}, "
            f"p99 {e.get('server_p99', 0):.1f} ms; the rest is uvicorn, loopback and the queues"
        )
        out_rows.append(
            Figures(
                f"{phase.name}: {short}", e["requests"], e["rps"], e["p50"], e["p95"], e["p99"],
                e["max"], e["failures"], cpu, load, target, rps,
            )
        )  # fmt: skip
    for error in stats["errors"]:
        print(f"    error x{error['count']}: {error['name']}: {error['error'][:160]}")
    _table(out_rows)
    print(f"    {cpu}; load average after {load}", flush=True)
    return out_rows


def _table(rows: list[Figures]) -> None:
    print(
        f"    {'series':<40}{'requests':>9}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}"
        f"{'max':>8}{'errors':>7}{'target':>8}{'met':>5}"
    )
    for r in rows:
        target = f"{r.target:g}" if r.target is not None else ""
        print(
            f"    {r.name:<40}{r.requests:>9,}{r.rps:>8.1f}{r.p50:>7.1f}{r.p95:>7.1f}"
            f"{r.p99:>7.1f}{r.max:>8.1f}{r.errors:>7}{target:>8}{r.met:>5}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=10, help="seconds before measuring")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--shared-buffers", default="512MB")
    parser.add_argument("--loops", type=int, default=2000, help="sequential httpx screen-pops")
    parser.add_argument("--in-process", type=int, default=300, help="requests in process")
    parser.add_argument(
        "--acceptances-index",
        action="store_true",
        help="what-if: add an index on acceptances (subscriber_id, at), which the schema lacks",
    )
    parser.add_argument(
        "--phases", default="screen,outcome,mixed", help="locust phases to run, comma-separated"
    )
    parser.add_argument(
        "--arrivals",
        choices=("poisson", "lockstep"),
        default="poisson",
        help="how the locust users space their requests (bench/locust_ops.py arrivals())",
    )
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        help="what-if: an extra PostgreSQL setting (name=value), e.g. synchronous_commit=off",
    )
    opts = parser.parse_args()
    phases = {
        "screen": Phase("screen", 200, 0),
        "outcome": Phase("outcome", 0, 50),
        "mixed": Phase("mixed", 180, 20),
    }
    chosen = [phases[p] for p in opts.phases.split(",") if p]
    print(
        f"operational API on PostgreSQL 15, {opts.customers:,} customers; {os.cpu_count()} CPUs; "
        f"load average at the start: {load_average()}"
    )
    settings = (
        "fsync=on",
        f"shared_buffers={opts.shared_buffers}",
        "max_connections=200",
        *opts.pg_setting,
    )
    with pg_server(*settings) as url, tempfile.TemporaryDirectory(prefix="weiwan-ops-") as tmp:
        home = Path(tmp)
        engine = make_engine(url)
        with engine.connect() as conn:
            shown = {
                s: conn.execute(sa.text(f"SHOW {s}")).scalar_one()
                for s in ("fsync", "synchronous_commit", "shared_buffers", "jit")
            }
            backend = int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        postmaster = psutil.Process(backend).parent()
        assert postmaster is not None
        print("PostgreSQL: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        print(
            "\n0. data, generated in SQL (INSERT … SELECT FROM generate_series), not by the "
            "pipeline's publish (that is bench/bench_publish.py)",
            flush=True,
        )
        data, seconds = timed(lambda: load(engine, opts.customers))
        print(f"  loaded in {seconds:.0f} s; load average {load_average()}", flush=True)
        in_process(engine, data, opts.in_process)
        if opts.acceptances_index:
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "CREATE INDEX bench_acceptances_subscriber_at "
                        "ON acceptances (subscriber_id, at)"
                    )
                )
            print(
                "\nWHAT-IF: added an index on acceptances (subscriber_id, at) (not in the schema)"
            )
        engine.dispose()
        print(
            f"\nuvicorn --workers {opts.workers} (uvloop, httptools), loopback; the app's own "
            "engine (default pool, no pre-ping)",
            flush=True,
        )
        with serve(url, home, opts.workers) as server:
            rows = sequential(server, data, opts.loops)
            meter = CpuMeter(server, postmaster)
            print(
                f"\n3. locust {opts.seconds:g} s per phase after a {opts.warmup:g} s warm-up "
                f"(FastHttpUser, {opts.arrivals} arrivals); ms",
                flush=True,
            )
            for phase in chosen:
                rows += run_phase(
                    phase, server, data, meter, opts.warmup, opts.seconds, home, opts.arrivals
                )
    print(
        f"\nsummary ({opts.customers:,} customers, PostgreSQL fsync=on, "
        f"shared_buffers={opts.shared_buffers}, uvicorn workers={opts.workers}"
        f"{', WHAT-IF acceptances index' if opts.acceptances_index else ''}; ms)"
    )
    _table(rows)
    for r in rows:
        if r.load:
            print(f"    {r.name:<40}load average {r.load}; {r.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
