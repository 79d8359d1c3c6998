"""Benchmark: server time of the web app's main pages with 1 M customers on PostgreSQL.

Target (issue 7, DESIGN.md "Performance budget"): every page renders in ≤ 300 ms of server
time with 1 M subscribers in the database.

The data is bench_ops_api's (generated in SQL: 1 M customers over 10 branches, 150 k paired
open tasks assigned to 6 agents — about 25,000 open tasks each —, 300 k more tasks, contact
history, 1 M audit events), plus a shift lead, a centre head, an analyst and an administrator,
and a month of dashboard figures when the reports tables exist (see ``_dashboard_rows``).

The real app is served by uvicorn (one worker) on loopback; each page is requested
sequentially by the role that uses it, 3 warm-up requests then --requests measured ones. The
server time is the app's ``Server-Timing`` header (request arrival to response start; pages
render fully before they start); the wall time is the client's. Every response must be 200 and
HTML (or .xlsx for the exports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

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
        PageCase("dashboard overview", "director", "/dashboards"),
        PageCase("satisfaction KPIs", "director", "/dashboards/satisfaction"),
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
    ]


def _client(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    response = client.post("/login", data={"username": username, "password": PASSWORD})
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

    def row(self) -> str:
        def q(values: list[float], p: float) -> float:
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0

        server_p95 = q(self.server, 0.95)
        verdict = "ok" if self.server and server_p95 <= TARGET_MS and not self.errors else "MISSED"
        return (
            f"  {self.case.name:<32} {statistics.median(self.server or [0]):>8.1f} "
            f"{server_p95:>8.1f} {max(self.server or [0]):>8.1f} "
            f"{statistics.median(self.wall or [0]):>8.1f} {verdict:>7}"
            + (f"  ({self.errors[0]})" if self.errors else "")
        )


def measure(base: str, case: PageCase, requests: int) -> Timing:
    """3 warm-up requests, then ``requests`` measured ones, one at a time."""
    timing = Timing(case, [], [], [])
    client = _client(base, case.username)
    try:
        for index in range(3 + requests):
            start = time.perf_counter()
            response = client.get(case.path)
            wall = (time.perf_counter() - start) * 1000
            media = response.headers.get("content-type", "")
            if response.status_code != 200 or not media.startswith(case.media):
                timing.errors.append(f"{response.status_code} {media}")
                break
            if index >= 3:
                header = response.headers.get("server-timing", "app;dur=0")
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
        print(f"data generated in {seconds:.0f} s; load average {load_average()}", flush=True)
        chosen = [c for c in cases(engine) if opts.only in c.name]
        engine.dispose()
        with serve(url, Path(tmp), workers=1) as server:
            print(
                f"\nserver time per page (Server-Timing), {opts.requests} sequential requests "
                f"after 3 warm-ups; uvicorn 1 worker; ms; target p95 ≤ {TARGET_MS:g}\n"
                f"  {'page':<32} {'median':>8} {'p95':>8} {'max':>8} {'wall':>8} {'':>7}",
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


def _dashboard_rows() -> list[Callable[[sa.Engine, Dataset], None]]:
    """Generators of the dashboards' published figures (none until the reports tables exist)."""
    return []


if __name__ == "__main__":
    sys.exit(main())
