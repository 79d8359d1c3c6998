"""Benchmark: server time of the web app's main pages with 1 M customers on PostgreSQL.

Target (issue 7, DESIGN.md "Performance budget"): every page renders in ≤ 300 ms of server
time with 1 M subscribers in the database.

The data is bench_ops_api's (generated in SQL: 1 M customers over 10 branches, 150 k paired
open tasks assigned to 6 agents — about 25,000 open tasks each —, 300 k more tasks, contact
history, 1 M audit events), plus a shift lead, a centre head, an analyst and an administrator,
and 13 months of dashboard figures as the pipeline's metrics publish writes them (see
``_published_figures``), and issue 9's retention-management data (bench_management_data.py:
a 50 k-entry anomaly pool with tasks, campaigns with hold-outs, inspections, 3 months of
published complaints, weekly plans, daily checks, 20 k data-quality reports, a closed month of
scorecards, and the weekly / monthly / churn report documents the pipeline's publish computes
on a simulated warehouse; --no-management leaves it out).

The real app is served by uvicorn (one worker) on loopback; each page is requested
sequentially by the role that uses it, 3 warm-up requests then --requests measured ones. The
server time is the app's ``Server-Timing`` header (request arrival to response start; pages
render fully before they start); the wall time is the client's median; "first" is the first
request's server time (the dashboards and the scorecards reuse live counts for a minute after
it). The long exports measure fewer requests (``PageCase.requests``).
Every response must be 200 and HTML (or .xlsx for the exports).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench_management_data import load_management
from bench_ops_api import PASSWORD, Dataset, load, msisdn, serve
from pg_server import pg_server
from stages import load_average, timed
from weiwan.core.db import make_engine
from weiwan.ops.org.models import Team
from weiwan.ops.org.roles import Role
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user

TARGET_MS = 300.0


@dataclass(frozen=True)
class PageCase:
    """A page, who asks for it and what the response must be."""

    name: str
    username: str
    path: str
    media: str = "text/html"
    requests: int | None = None  # measured requests when not --requests (long exports)


def _more_people(engine: sa.Engine) -> None:
    """The roles bench_ops_api does not create: shift lead of city 0's team, centre head of
    city 0, an analyst, an administrator."""
    with Session(engine) as session:
        team = session.scalar(sa.select(Team.id).where(Team.branch_id == 1).limit(1))
        for username, role, team_id in (
            ("lead0", Role.SHIFT_LEAD, team),
            ("head0", Role.CENTRE_HEAD, None),
            ("analyst", Role.ANALYST, None),
            ("admin", Role.ADMIN, None),
        ):
            create_user(
                session,
                UserCreate(
                    username=username,
                    display_name=username,
                    password=PASSWORD,
                    role=role,
                    branch_id=1,
                    team_id=team_id,
                ),
            )
        session.commit()


def _agents_customer(engine: sa.Engine, username: str) -> str:
    """A subscriber with an open task of ``username`` (the workbench's first row's customer)."""
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.text(
                    "SELECT t.subscriber_id FROM tasks t JOIN users u ON u.id = t.assignee_id "
                    "WHERE u.username = :u AND t.status = 'open' ORDER BY t.id LIMIT 1"
                ),
                {"u": username},
            ).scalar_one()
        )


def cases(engine: sa.Engine) -> list[PageCase]:
    """The pages measured, each as the role that works with it."""
    customer = _agents_customer(engine, "agent0a")
    phone = msisdn(1)
    month = _contacts_month(engine)
    return [
        PageCase("workbench (≈25 k open tasks)", "agent0a", "/workbench"),
        PageCase("workbench, last page", "agent0a", "/workbench?page=500"),
        PageCase("customer card", "agent0a", f"/customers/{customer}"),
        PageCase("screen-pop by phone", "hotline0", f"/screen-pop?phone={phone}"),
        PageCase("self-service offers", "clerk0", f"/self-service?q={phone}"),
        PageCase("team board", "lead0", "/team"),
        PageCase("quality inspection", "lead0", "/quality"),
        PageCase("campaigns", "head0", "/campaigns"),
        PageCase("new campaign form", "head0", "/campaigns/new"),
        PageCase("approval queue", "director", "/campaigns/approvals"),
        PageCase("plan library", "head0", "/campaigns/library"),
        PageCase("dashboard overview", "director", f"/dashboards?month={month}"),
        PageCase("dashboard overview, centre head", "head0", f"/dashboards?month={month}"),
        PageCase("dashboard overview, shift lead", "lead0", f"/dashboards?month={month}"),
        PageCase("satisfaction KPIs", "director", f"/dashboards/satisfaction?month={month}"),
        PageCase("dissatisfied customers", "director", "/dashboards/satisfaction/dissatisfied"),
        PageCase("dissatisfied, shift lead", "lead0", "/dashboards/satisfaction/dissatisfied"),
        PageCase("churn analysis", "director", "/dashboards/churn"),
        PageCase("model monitor", "analyst", "/dashboards/models"),
        PageCase("policy library", "admin", "/settings/policies"),
        PageCase("alert and care rules", "admin", "/settings/rules"),
        PageCase("contact policy", "admin", "/settings/contact-policy"),
        PageCase("questionnaires", "admin", "/surveys"),
        PageCase("users and branches", "admin", "/admin/users"),
        PageCase(
            "team board, Excel export",
            "head0",
            "/team?export=xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        *management_cases(),
    ]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def management_cases() -> list[PageCase]:
    """Issue 9's pages (data: bench_management_data.py), each as the role that works with it."""
    return [
        PageCase("anomaly pool, shift lead", "lead0", "/anomalies"),
        PageCase("anomaly pool, director", "director", "/anomalies"),
        PageCase("anomaly pool, director, filtered", "director",
                 "/anomalies?status=new&branch_id=1&category=billing"),
        PageCase("anomaly pool, director, page 20", "director", "/anomalies?page=20"),
        PageCase("anomaly pool, Excel, GZ new", "director",
                 "/anomalies?status=new&branch_id=1&export=xlsx", XLSX),
        PageCase("anomaly pool, Excel, everything", "director", "/anomalies?export=xlsx", XLSX,
                 requests=2),
        PageCase("scorecards, agent", "agent0a", "/appraisal/scorecards"),
        PageCase("scorecards, team, shift lead", "lead0", "/appraisal/scorecards?level=team"),
        PageCase("scorecards, branch, director", "director",
                 "/appraisal/scorecards?level=branch"),
        PageCase("scorecards, agents, director", "director", "/appraisal/scorecards?level=agent"),
        PageCase("scorecards, Excel, director", "director",
                 "/appraisal/scorecards?level=agent&export=xlsx", XLSX),
        PageCase("weekly plans, shift lead", "lead0", "/appraisal/weekly-plans"),
        PageCase("weekly plans, agent", "agent0a", "/appraisal/weekly-plans"),
        PageCase("daily checks, shift lead", "lead0", "/appraisal/daily-checks"),
        PageCase("data quality, analyst", "analyst", "/data-quality"),
        PageCase("reports, director", "director", "/reports"),
        PageCase("reports, centre head", "head0", "/reports"),
        PageCase("churn report, director", "director", "/reports/churn"),
        PageCase("churn report, centre head", "head0", "/reports/churn"),
    ]  # fmt: skip


def _client(base: str, username: str, timeout: float = 30) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=timeout, follow_redirects=False)
    form = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    token = form.group(1) if form else ""  # the login form's own CSRF token
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 303:
        sys.exit(f"login of {username} failed: {response.status_code}")
    return client


@dataclass
class Timing:
    """Medians and 95th percentiles of one page, ms."""

    case: PageCase
    server: list[float]
    wall: list[float]
    errors: list[str]
    first: float = 0.0  # the first request's server time (nothing reused yet)

    def row(self) -> str:
        def q(values: list[float], p: float) -> float:
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0

        server_p95 = q(self.server, 0.95)
        verdict = "ok" if self.server and server_p95 <= TARGET_MS and not self.errors else "MISSED"
        return (
            f"  {self.case.name:<32} {statistics.median(self.server or [0]):>8.1f} "
            f"{server_p95:>8.1f} {max(self.server or [0]):>8.1f} {self.first:>8.1f} "
            f"{statistics.median(self.wall or [0]):>8.1f} {verdict:>7}"
            + (f"  ({self.errors[0]})" if self.errors else "")
        )


def measure(base: str, case: PageCase, requests: int) -> Timing:
    """3 warm-up requests (1 for a case with its own ``requests``), then ``requests``
    measured ones, one at a time."""
    timing = Timing(case, [], [], [])
    client = _client(base, case.username, timeout=300)
    warmups = 1 if case.requests else 3
    requests = case.requests or requests
    try:
        for index in range(warmups + requests):
            start = time.perf_counter()
            try:
                response = client.get(case.path)
            except httpx.TimeoutException:
                timing.errors.append("no answer in 300 s")
                break
            wall = (time.perf_counter() - start) * 1000
            media = response.headers.get("content-type", "")
            if response.status_code != 200 or not media.startswith(case.media):
                timing.errors.append(f"{response.status_code} {media}")
                break
            header = response.headers.get("server-timing", "app;dur=0")
            if index == 0:
                timing.first = float(header.split("dur=")[1])
            if index >= warmups:
                timing.server.append(float(header.split("dur=")[1]))
                timing.wall.append(wall)
    finally:
        client.close()
    return timing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="measured requests per page")
    parser.add_argument("--shared-buffers", default="512MB")
    parser.add_argument("--only", default="", help="measure the pages whose name contains this")
    parser.add_argument(
        "--no-management", action="store_true", help="skip issue 9's data (and its pages' data)"
    )
    opts = parser.parse_args()
    print(
        f"web pages on PostgreSQL 15, {opts.customers:,} customers; {os.cpu_count()} CPUs; "
        f"load average at the start: {load_average()}",
        flush=True,
    )
    with (
        pg_server("fsync=on", f"shared_buffers={opts.shared_buffers}") as url,
        tempfile.TemporaryDirectory(prefix="weiwan-pages-") as tmp,
    ):
        engine = make_engine(url)
        data: Dataset
        data, seconds = timed(lambda: load(engine, opts.customers))
        _more_people(engine)
        for extra in _dashboard_rows():
            extra(engine, data)
        if not opts.no_management:
            load_management(engine, data, Path(tmp))
        print(f"data generated in {seconds:.0f} s; load average {load_average()}", flush=True)
        skipped = {c.name for c in management_cases()} if opts.no_management else set()
        chosen = [c for c in cases(engine) if opts.only in c.name and c.name not in skipped]
        engine.dispose()
        with serve(url, Path(tmp), workers=1) as server:
            print(
                f"\nserver time per page (Server-Timing), {opts.requests} sequential requests "
                f"after 3 warm-ups; uvicorn 1 worker; ms; target p95 ≤ {TARGET_MS:g}\n"
                f"  {'page':<32} {'median':>8} {'p95':>8} {'max':>8} {'first':>8} {'wall':>8}",
                flush=True,
            )
            results = []
            for case in chosen:
                result = measure(server.base, case, opts.requests)
                results.append(result)
                print(result.row(), flush=True)
    missed = [r.case.name for r in results if "MISSED" in r.row()]
    print(f"\nload average at the end: {load_average()}")
    print("all pages within the target" if not missed else f"missed: {', '.join(missed)}")
    return 0


def _months(last: date, count: int) -> list[date]:
    """The first days of the ``count`` months up to ``last``'s, oldest first."""
    out, year, month = [], last.year, last.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def _published_figures(engine: sa.Engine, _data: Dataset) -> None:
    """What the pipeline's metrics publish writes for a 1 M operator, per branch: 13 months of
    churn rates (total and by brand, join channel, payment type), satisfaction metrics overall
    and by touchpoint, model AUC and 60 features' PSI per month, a year's churn analysis, and
    a dissatisfied-customer list of 20,000 subscribers."""
    rng = random.Random(1)
    snapshot = date(2026, 10, 31)
    with engine.connect() as conn:
        branches = conn.execute(sa.text("SELECT id, code FROM branches")).all()
    rows: list[dict[str, Any]] = []

    def add(metric: str, period: date, dimension: str, member: str, branch: Any, num: Any,
            den: Any, value: float | None = None) -> None:  # fmt: skip
        rows.append(
            {"snapshot_date": snapshot, "metric": metric, "period": period,
             "dimension": dimension, "member": member,
             "branch_code": branch[1] if branch else None,
             "branch_id": branch[0] if branch else None,
             "value": value if value is not None else num / den,
             "numerator": num, "denominator": den}
        )  # fmt: skip

    dimensions = (
        ("brand", ("A", "B", "C")),
        ("channel", ("store", "online", "hotline", "agent_outlet", "direct_sales", "other")),
        ("payment_type", ("prepaid", "postpaid")),
    )
    satisfaction = ("satisfaction_rate", "dissatisfaction_rate", "satisfaction_score",
                    "complaint_rate", "complaint_resolution_rate", "complaint_hours")  # fmt: skip
    for period in _months(snapshot, 13):
        for branch in branches:
            add("churn_rate", period, "total", "all", branch, rng.randint(1000, 2000), 100_000)
            for dimension, members in dimensions:
                for member in members:
                    add("churn_rate", period, dimension, member, branch,
                        rng.randint(100, 500), 20_000)  # fmt: skip
            for metric in satisfaction:
                add(metric, period, "total", "all", branch, rng.randint(100, 800), 1000)
                for touchpoint in ("store", "hotline", "network", "billing"):
                    add(metric, period, "touchpoint", touchpoint, branch,
                        rng.randint(10, 80), 100)  # fmt: skip
        add("model_auc", period, "realised", "v0001", None, 100, 1000, 0.7 + rng.random() / 10)
        for feature in range(60):
            add("psi", period, "feature", f"f{feature}", None, None, None, rng.random() / 3)
    analysis: tuple[tuple[str, str, tuple[str, ...]], ...] = (
        ("churn_reason", "reason", ("price", "service", "other", "relocation")),
        ("churn_destination", "destination", ("a", "b", "unknown")),
        ("churn_tenure", "leavers", ("0-6", "6-12", "12-24", "60+")),
        ("churn_tenure", "base", ("0-6", "6-12", "12-24", "60+")),
        ("churn_touchpoint", "touchpoint", ("none", "complaint_network")),
        ("churn_cost", "cost", ("direct", "lost_future", "retention_effort")),
    )
    for branch in branches:
        for metric, dimension, names in analysis:
            for name in names:
                add(metric, date(2026, 10, 1), dimension, name, branch,
                    rng.randint(10, 100), 400)  # fmt: skip
    columns = ", ".join(rows[0])
    values = ", ".join(f":{c}" for c in rows[0])
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO published_metrics ({columns}) VALUES ({values})"), rows)
        conn.execute(
            sa.text(
                "INSERT INTO dissatisfied_customers (snapshot_date, subscriber_id, branch_code, "
                "branch_id, survey_time, touchpoint, score) "
                "SELECT :day, cv.subscriber_id, cv.branch_code, cv.branch_id, "
                "now() - make_interval(mins => n), 'store', n % 7 "
                "FROM generate_series(1, 1000000, 50) AS n JOIN customer_view cv "
                "ON cv.subscriber_id = 'S' || lpad(n::text, 9, '0')"
            ),
            {"day": snapshot},
        )
        conn.execute(sa.text("ANALYZE"))
    print(f"  dashboards' published figures: {len(rows):,} rows", flush=True)


def _dashboard_rows() -> list[Callable[[sa.Engine, Dataset], None]]:
    """Generators of the dashboards' published figures."""
    return [_published_figures]


def _contacts_month(engine: sa.Engine) -> str:
    """The month of the generated contacts (the dashboards' live rates read that month)."""
    with engine.connect() as conn:
        last = conn.execute(sa.text("SELECT max(at) FROM contacts")).scalar_one()
    return f"{last:%Y-%m}"


if __name__ == "__main__":
    sys.exit(main())
