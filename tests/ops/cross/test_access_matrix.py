"""The role × route access matrix: every operation of the API, every role.

``ROUTES`` says, for every operation of the OpenAPI document, how to build a valid request
(ids of objects the seeded state holds, a valid body, query or file — the services check
permissions after the body is validated, so an invalid body would prove nothing) and which
roles may do it. Every role is tried: an allowed role gets the operation's documented 2xx
status, any other role 403 — or 404 where the design answers "outside what you may read"
like "missing" (``hidden``; the reasons are given where the routes are listed). A route
added without an entry fails ``test_every_operation_is_in_the_matrix``.

State: one PostgreSQL database is seeded once for the module (``matrix_state.seed``). Each
test runs its request on one connection inside a transaction that is rolled back afterwards
(the app's sessions join it through SAVEPOINTs, so the route's own commit and rollback
behave as in production), so every (operation, role) starts from the same seeded state and
no result depends on the order the tests run in.

Where the product answers differently from what the table expects and the fix has to wait,
the route's ``wrong`` marks that role's case ``xfail(strict=True)`` with the reason; none do
today.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import sessionmaker

from api_helpers import PASSWORD, PEOPLE, login
from event_fixtures import bearer, event
from weiwan.core.db import make_engine, session_scope
from weiwan.core.settings import Settings
from weiwan.ops.campaigns.models import Campaign
from weiwan.ops.migrate import upgrade
from weiwan.ops.org.roles import Role
from weiwan.ops.org.sessions import CSRF_HEADER
from weiwan.ops.sms.api import CALLBACK_HEADER
from weiwan.web.app import create_app

from .matrix_state import (
    DATA_QUALITY_BATCH_ID,
    DND_CUSTOMER,
    DND_WISH,
    TARGETS,
    TZ,
    Seeded,
    plan,
    seed,
)

pytestmark = pytest.mark.postgres

API = "/api/v1"
CALLBACK_TOKEN = "matrix-callback-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: the user of each role in ``PEOPLE`` (all in the city branch; the agent in the team)
USERNAME: dict[Role, str] = {
    role: next(u for u, (r, b, _) in PEOPLE.items() if r is role and b == "city") for role in Role
}

# --- role sets ---------------------------------------------------------------------------
ALL = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
#: may draft, edit, rehearse and clone plans, and count targets (docs/campaigns.md)
PLANNERS = frozenset({Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST})
#: may submit, start, complete and evaluate plans
RUNNERS = frozenset({Role.CENTRE_HEAD, Role.DIRECTOR})
#: may build, change, clone and archive questionnaires
BUILDERS = frozenset({Role.CENTRE_HEAD, Role.DIRECTOR, Role.SHIFT_LEAD})
#: may change and archive the seeded questionnaire (the director's, a city user's)
QUESTIONNAIRE_OWNERS = frozenset({Role.CENTRE_HEAD, Role.DIRECTOR})
#: read the dashboards (web/nav.py READERS_OF_FIGURES)
FIGURE_READERS = frozenset({Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST})
#: may export (ADR 0002)
EXPORTERS = frozenset({Role.DIRECTOR, Role.CENTRE_HEAD, Role.ANALYST})
#: Roles that work with customers: record contacts, take tasks, send an SMS. PRODUCT.md gives
#: the admin users, roles and branches and the analyst tags, segments and models; ADR 0002:
#: "the admin runs the system but does not work with customers, the analyst works on
#: aggregates"; the SMS domain's senders are exactly these roles.
WORKERS = ALL - {Role.ADMIN, Role.ANALYST}
#: These roles read only the running campaigns of their branch (docs/campaigns.md, "Who may
#: do what"); a plan in any other state is outside what they may read and is answered 404,
#: exactly like a missing plan ("A plan outside the caller's scope answers 404").
READ_RUNNING_ONLY = frozenset({Role.AGENT, Role.SHIFT_LEAD, Role.STORE_CLERK, Role.HOTLINE_AGENT})


@dataclass(frozen=True, slots=True)
class Req:
    """One concrete request: path ids, query, JSON body or uploaded files, extra headers."""

    path: Mapping[str, object] = field(default_factory=dict)
    query: Mapping[str, str | int] | None = None
    json: object = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    headers: Mapping[str, str] | None = None


Auth = Literal["session", "public", "token"]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation (or one variant of it) with the roles that may call it."""

    method: str
    path: str  # the OpenAPI path template, without the /api/v1 prefix
    allowed: frozenset[Role]
    request: Callable[[Seeded], Req] = lambda s: Req()
    #: roles refused with 404: the object is outside what they may read (see the comments)
    hidden: frozenset[Role] = frozenset()
    variant: str = ""
    #: session: a logged-in user; public: login; token: the SMS gateway's callback token
    auth: Auth = "session"
    #: roles the product lets through today although ``allowed`` leaves them out (xfail)
    wrong: Mapping[Role, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, API + self.path

    @property
    def id(self) -> str:
        name = f"{self.method} {API}{self.path}"
        return f"{name} ({self.variant})" if self.variant else name


def _csv_results(s: Seeded) -> Req:
    called = (datetime.now(TZ) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    content = f"task_id,called_at,outcome,note\n{s.task_assigned},{called},connected,ok\n"
    return Req(files={"file": ("results.csv", content.encode("utf-8"), "text/csv")})


def _reply(msisdn: str) -> dict[str, str]:
    """An unsubscribe reply the gateway forwards (an unknown number leaves the state alone)."""
    at = datetime.now(TZ).isoformat()
    return {"message_id": "mo-matrix", "msisdn": msisdn, "text": "TD", "received_at": at}


def _questionnaire_body() -> dict[str, Any]:
    return {
        "title_zh": "离网原因调查",
        "questions": [
            {
                "kind": "single",
                "text_zh": "您对网络满意吗？",
                "options": [
                    {"value": "very", "label_zh": "很满意"},
                    {"value": "bad", "label_zh": "不满意"},
                ],
            },
            {"kind": "open", "text_zh": "其他意见", "required": False},
        ],
    }


def _plan_body(s: Seeded) -> dict[str, Any]:
    return plan(s.branches["city"], s.today, "春节关怀").model_dump(mode="json")


C = "/campaigns/{campaign_id}"


def _campaign(state: str) -> Callable[[Seeded], Req]:
    return lambda s: Req(path={"campaign_id": s.campaigns[state]})


ROUTES: tuple[Route, ...] = (
    # --- sessions and organisation ---------------------------------------------------------
    Route(
        "POST",
        "/auth/login",
        ALL,
        auth="public",  # tried with each role's own credentials, without a session
    ),
    Route("POST", "/auth/logout", ALL),
    Route("GET", "/auth/me", ALL),
    Route("GET", "/users", ALL),  # everyone: the list is cut to the caller's scope
    Route(
        "POST",
        "/users",
        ADMIN,
        lambda s: Req(
            json={
                "username": "newcomer",
                "display_name": "Newcomer",
                "password": "another-long-pass-42",
                "role": "agent",
                "branch_id": s.branches["city"],
                "team_id": s.branches["team"],
            }
        ),
    ),
    # the city agent: inside every city role's view (agents see themselves)
    Route("GET", "/users/{user_id}", ALL, lambda s: Req(path={"user_id": s.users["agent"]})),
    Route(
        "PATCH",
        "/users/{user_id}",
        ADMIN,
        lambda s: Req(path={"user_id": s.users["agent2"]}, json={"display_name": "Agent Two"}),
    ),
    Route("GET", "/branches", ALL),
    Route(
        "POST",
        "/branches",
        ADMIN,
        lambda s: Req(
            json={
                "code": "HZ-TL",
                "name_zh": "桐庐支局",
                "name_en": "Tonglu",
                "parent_id": s.branches["city"],
            }
        ),
    ),
    Route("GET", "/teams", ALL),
    Route(
        "POST",
        "/teams",
        ADMIN,
        lambda s: Req(json={"branch_id": s.branches["city"], "name": "晚班"}),
    ),
    Route(
        "GET",
        "/audit",
        frozenset({Role.ADMIN, Role.DIRECTOR}),
        lambda s: Req(query={"limit": 10}),
    ),
    # --- customers (S00001: city branch, managed by the city agent) ------------------------
    Route(
        "GET",
        "/customers/{subscriber_id}",
        ALL,
        lambda s: Req(path={"subscriber_id": "S00001"}),
    ),
    Route(
        "GET",
        "/screen-pop",
        ALL,
        lambda s: Req(query={"phone": "13800000001", "channel": "hotline"}),
    ),
    Route("GET", "/customers", ALL, lambda s: Req(query={"risk_band": "high"})),
    # --- tasks ------------------------------------------------------------------------------
    Route("GET", "/tasks", ALL, lambda s: Req(query={"view": "all"})),
    Route("GET", "/tasks/{task_id}", ALL, lambda s: Req(path={"task_id": s.task_assigned})),
    Route(
        "POST",
        "/tasks/{task_id}/claim",
        WORKERS,
        lambda s: Req(path={"task_id": s.task_queued}),
    ),
    # the agent's own task: the assignee, a shift lead, a centre head or the director
    Route(
        "POST",
        "/tasks/{task_id}/transfer",
        frozenset({Role.AGENT, Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR}),
        lambda s: Req(
            path={"task_id": s.task_assigned},
            json={"to_branch_id": s.branches["rural_a"], "reason": "客户到营业厅办理"},
        ),
    ),
    Route(
        "GET",
        "/tasks/{task_id}/transfers",
        ALL,
        lambda s: Req(path={"task_id": s.task_assigned}),
    ),
    Route(
        "GET",
        "/outbound/call-list",
        EXPORTERS,
        lambda s: Req(query={"format": "csv", "lang": "en"}),
    ),
    Route(
        "POST",
        "/outbound/results",
        WORKERS,
        _csv_results,
    ),
    # --- contacts ---------------------------------------------------------------------------
    Route(
        "POST",
        "/contacts",
        WORKERS,
        lambda s: Req(
            json={
                "subscriber_id": "S00003",
                "channel": "outbound_call",
                "outcomes": [{"outcome": "accepted", "policy_id": "data10"}],
                "note": "接受流量包",
            }
        ),
    ),
    Route(
        "GET",
        "/customers/{subscriber_id}/contacts",
        ALL,
        lambda s: Req(path={"subscriber_id": "S00001"}),
    ),
    Route(
        "GET",
        "/customers/{subscriber_id}/contact-state",
        WORKERS,
        lambda s: Req(path={"subscriber_id": "S00001"}),
    ),
    Route(
        "GET",
        "/customers/{subscriber_id}/do-not-disturb",
        ALL,
        lambda s: Req(path={"subscriber_id": DND_CUSTOMER}),
    ),
    Route(
        "POST",
        "/customers/{subscriber_id}/do-not-disturb",
        WORKERS,
        lambda s: Req(path={"subscriber_id": "S00003"}, json={"channel": "sms", "reason": "勿扰"}),
    ),
    Route(
        "DELETE",
        "/customers/{subscriber_id}/do-not-disturb/{channel}",
        frozenset({Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR}),
        lambda s: Req(path={"subscriber_id": DND_CUSTOMER, "channel": DND_WISH["channel"]}),
    ),
    # --- the consent and objection ledger: read like do-not-disturb, recorded by the roles
    # that serve customers (the admin and the analyst do not)
    Route(
        "GET",
        "/customers/{subscriber_id}/consents",
        ALL,
        lambda s: Req(path={"subscriber_id": "S00001"}),
    ),
    Route(
        "POST",
        "/customers/{subscriber_id}/consents",
        WORKERS,
        lambda s: Req(
            path={"subscriber_id": "S00003"},
            json={"purpose": "marketing_sms", "state": "objection", "reference": "录音-001"},
        ),
    ),
    # --- personal data (docs/privacy.md): the report for the administrator and the director
    # (ADR 0002: full numbers for the director only), the erasure for the administrator
    Route(
        "GET",
        "/customers/{subscriber_id}/personal-data",
        frozenset({Role.ADMIN, Role.DIRECTOR}),
        lambda s: Req(path={"subscriber_id": "S00001"}),
    ),
    Route(
        "POST",
        "/customers/{subscriber_id}/erasure",
        ADMIN,
        lambda s: Req(path={"subscriber_id": "S00003"}, json={"reason": "PIPL-REQ-1"}),
    ),
    # a contact of the city agent: in every inspector's view (team, branch, all)
    Route(
        "POST",
        "/contacts/{contact_id}/inspections",
        frozenset({Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR}),
        lambda s: Req(
            path={"contact_id": s.contact},
            json={"recording_ref": "rec/2026/001.wav", "score": 88, "comments": "话术规范"},
        ),
    ),
    # --- policies and self-service -----------------------------------------------------------
    Route("GET", "/policies", ALL, lambda s: Req(query={"valid_today": "true"})),
    Route(
        "GET",
        "/self-service/{subscriber_id}/offers",
        ALL,
        lambda s: Req(path={"subscriber_id": "S00004"}),
    ),
    # The portal calls this with a service account "whose role and branch give it the scope it
    # serves" (docs/operations.md); no role is named for it, so only the scope gates it.
    Route(
        "POST",
        "/self-service/{subscriber_id}/orders",
        WORKERS,
        lambda s: Req(path={"subscriber_id": "S00004"}, json={"policy_id": "keep168"}),
    ),
    # --- questionnaires ---------------------------------------------------------------------
    Route("GET", "/questionnaires", ALL, lambda s: Req(query={"status": "all"})),
    Route("POST", "/questionnaires", BUILDERS, lambda s: Req(json=_questionnaire_body())),
    Route(
        "GET",
        "/questionnaires/{questionnaire_id}",
        ALL,
        lambda s: Req(path={"questionnaire_id": s.questionnaire}),
    ),
    # changing and archiving: builders whose scope holds the creator (docs/surveys-and-sms.md);
    # the seeded questionnaire is the director's, outside the shift lead's team
    Route(
        "PATCH",
        "/questionnaires/{questionnaire_id}",
        QUESTIONNAIRE_OWNERS,
        lambda s: Req(
            path={"questionnaire_id": s.questionnaire},
            json={"title_en": "Satisfaction call", "questions": _questionnaire_body()["questions"]},
        ),
    ),
    Route(
        "POST",
        "/questionnaires/{questionnaire_id}/clone",
        BUILDERS,
        lambda s: Req(path={"questionnaire_id": s.questionnaire}, json={"title_zh": "回访二"}),
    ),
    Route(
        "POST",
        "/questionnaires/{questionnaire_id}/archive",
        QUESTIONNAIRE_OWNERS,
        lambda s: Req(path={"questionnaire_id": s.questionnaire}),
    ),
    Route(
        "GET",
        "/questionnaires/{questionnaire_id}/results",
        BUILDERS | {Role.ANALYST},
        lambda s: Req(path={"questionnaire_id": s.questionnaire}, query={"open_limit": 5}),
    ),
    Route(
        "POST",
        "/contacts/{contact_id}/answers",
        WORKERS,
        lambda s: Req(
            path={"contact_id": s.contact},
            json={
                "questionnaire_id": s.questionnaire,
                "answers": [{"question_id": s.question, "value": "yes"}],
            },
        ),
    ),
    Route(
        "GET",
        "/contacts/{contact_id}/answers",
        ALL,
        lambda s: Req(path={"contact_id": s.contact}),
    ),
    # --- SMS --------------------------------------------------------------------------------
    Route("GET", "/sms/templates", ALL, lambda s: Req(query={"include_inactive": "true"})),
    Route(
        "POST",
        "/sms/templates",
        RUNNERS,
        lambda s: Req(
            json={
                "name": "续约提醒",
                "body_zh": "【维挽】${name}您好，您的合约将到期，回复1续约可享${amount}元优惠。",
                "free_variables": ["amount"],
            }
        ),
    ),
    Route(
        "GET",
        "/sms/templates/{template_id}",
        ALL,
        lambda s: Req(path={"template_id": s.template}),
    ),
    Route(
        "PATCH",
        "/sms/templates/{template_id}",
        RUNNERS,
        lambda s: Req(path={"template_id": s.template}, json={"body_en": "Dear ${name}, thanks."}),
    ),
    Route(
        "DELETE",
        "/sms/templates/{template_id}",
        RUNNERS,
        lambda s: Req(path={"template_id": s.template}),
    ),
    Route(
        "POST",
        "/sms/templates/{template_id}/preview",
        ALL,
        lambda s: Req(path={"template_id": s.template}, json={"subscriber_id": "S00001"}),
    ),
    Route(
        "POST",
        "/sms/messages",
        WORKERS,
        lambda s: Req(json={"subscriber_id": "S00001", "template_id": s.template}),
    ),
    Route("GET", "/sms/messages", ALL, lambda s: Req(query={"subscriber_id": "S00001"})),
    Route(
        "POST",
        "/sms/bulk",
        RUNNERS,
        lambda s: Req(
            json={
                "template_id": s.template,
                "subscriber_ids": ["S00001", "S00002", "S00006"],
                "campaign_id": s.campaigns["running"],
            }
        ),
    ),
    Route("POST", "/sms/dispatch", RUNNERS | ADMIN),
    # no session: the gateway's token is the credential; a user's session grants nothing (401)
    Route(
        "POST",
        "/sms/delivery-receipts",
        frozenset(),
        lambda s: Req(json={"receipts": [{"message_id": "gw-unknown", "status": "delivered"}]}),
        auth="token",
    ),
    # the subscribers' replies the gateway forwards: the same token, no session
    Route(
        "POST",
        "/sms/replies",
        frozenset(),
        lambda s: Req(json={"replies": [_reply("13900000000")]}),
        auth="token",
    ),
    # --- real-time events (issue 20): intake takes a source's bearer token, never a session
    # (test_event_intake_takes_its_token_not_a_session); one event's status is read by the
    # centre's managers and analysts (the seeded event is S00001's, in the city branch)
    Route(
        "POST",
        "/events",
        frozenset(),
        lambda s: Req(json={"events": [event("matrix-1")]}),
        auth="token",
    ),
    Route("GET", "/event-summary", frozenset({Role.DIRECTOR, Role.CENTRE_HEAD, Role.ANALYST})),
    Route(
        "GET",
        "/events/{event_id}",
        frozenset({Role.DIRECTOR, Role.CENTRE_HEAD, Role.ANALYST}),
        lambda s: Req(path={"event_id": "seeded-1"}),
    ),
    # --- the daily run's history (issue 22): administrators and directors
    Route("GET", "/runs", frozenset({Role.ADMIN, Role.DIRECTOR})),
    # --- campaigns --------------------------------------------------------------------------
    Route("GET", "/campaigns", ALL),  # everyone: the list is cut to what the role may read
    Route("POST", "/campaigns", PLANNERS, lambda s: Req(json=_plan_body(s))),
    Route(
        "POST",
        "/campaigns/preview-count",
        PLANNERS,
        lambda s: Req(json={"filter": TARGETS, "branch_id": s.branches["city"]}),
    ),
    Route("GET", "/campaigns/library", ALL),
    Route(
        "GET",
        "/campaigns/approval-chain",
        frozenset({Role.ADMIN, Role.DIRECTOR, Role.CENTRE_HEAD}),
        lambda s: Req(query={"branch_id": s.branches["rural_a"]}),
    ),
    Route(
        "PUT",
        "/campaigns/approval-chain",
        ADMIN,
        lambda s: Req(
            json={"branch_id": s.branches["city"], "roles": ["shift_lead", "centre_head"]}
        ),
    ),
    Route("GET", C, ALL, _campaign("running"), variant="running"),
    Route(
        "GET",
        C,
        frozenset({Role.ADMIN, Role.DIRECTOR, Role.ANALYST, Role.CENTRE_HEAD}),
        _campaign("draft"),
        hidden=READ_RUNNING_ONLY,
        variant="draft",
    ),
    Route(
        "PATCH",
        C,
        PLANNERS,
        lambda s: Req(
            path={"campaign_id": s.campaigns["draft"]},
            json={"name": "春节关怀（改）", "channels": ["sms", "outbound_call"]},
        ),
        hidden=READ_RUNNING_ONLY,
    ),
    Route("POST", C + "/rehearse", PLANNERS, _campaign("draft"), hidden=READ_RUNNING_ONLY),
    Route("POST", C + "/submit", RUNNERS, _campaign("rehearsed"), hidden=READ_RUNNING_ONLY),
    # Approval: only the role of the current level (built-in chain: centre head, director),
    # never the plan's creator (the analyst). The shift lead may approve in general but does
    # not see a submitted plan (404); roles that may not approve are refused before the look-up.
    Route(
        "POST",
        C + "/approve",
        frozenset({Role.CENTRE_HEAD}),
        lambda s: Req(path={"campaign_id": s.campaigns["submitted"]}, json={"comment": "同意"}),
        hidden=frozenset({Role.SHIFT_LEAD}),
        variant="level 1",
    ),
    Route(
        "POST",
        C + "/approve",
        frozenset({Role.DIRECTOR}),
        lambda s: Req(path={"campaign_id": s.campaigns["submitted_level2"]}, json={}),
        hidden=frozenset({Role.SHIFT_LEAD}),
        variant="level 2",
    ),
    Route(
        "POST",
        C + "/reject",
        frozenset({Role.CENTRE_HEAD}),
        lambda s: Req(path={"campaign_id": s.campaigns["submitted"]}, json={"comment": "预算超标"}),
        hidden=frozenset({Role.SHIFT_LEAD}),
        variant="level 1",
    ),
    Route(
        "POST",
        C + "/reject",
        frozenset({Role.DIRECTOR}),
        lambda s: Req(
            path={"campaign_id": s.campaigns["submitted_level2"]}, json={"comment": "时机不对"}
        ),
        hidden=frozenset({Role.SHIFT_LEAD}),
        variant="level 2",
    ),
    Route("POST", C + "/start", RUNNERS, _campaign("approved"), hidden=READ_RUNNING_ONLY),
    Route("POST", C + "/complete", RUNNERS, _campaign("running")),  # running: all may read it
    Route("POST", C + "/evaluate", RUNNERS, _campaign("completed"), hidden=READ_RUNNING_ONLY),
    Route("POST", C + "/clone", PLANNERS, _campaign("running"), variant="running"),
    Route(
        "POST",
        C + "/clone",
        PLANNERS,
        _campaign("completed"),
        hidden=READ_RUNNING_ONLY,
        variant="plan library",
    ),
    Route("GET", C + "/members", ALL, _campaign("running")),
    # --- reports: the dashboards' figures (web/nav.py: figures for shift leads and up, the
    # model monitor for planners); an empty published set still answers 200
    Route("GET", "/reports/overview", FIGURE_READERS),
    Route("GET", "/reports/satisfaction", FIGURE_READERS),
    Route("GET", "/reports/churn", FIGURE_READERS),
    Route("GET", "/reports/models", PLANNERS),
    Route("GET", "/reports/dissatisfied", FIGURE_READERS),
    # --- period reports and the churn analysis report (issue 9)
    # Centre heads, the director and analysts read reports (PLANNERS); the seeded documents
    # (matrix_state.REPORT_WEEK / REPORT_MONTH) exist for the whole operator and the city
    # branch, so every reader finds one in scope.
    Route("GET", "/reports/periods", PLANNERS),
    Route(
        "GET",
        "/reports/periods/{kind}/{key}",
        PLANNERS,
        lambda s: Req(path={"kind": "week", "key": "2026-W44"}),
    ),
    Route(
        "GET",
        "/reports/churn-analysis/{month}",
        PLANNERS,
        lambda s: Req(path={"month": "2026-10"}),
    ),
    # --- anomaly pool (issue 9)
    # The seeded entry (matrix_state.ANOMALY_ID, S00001 of the city branch, managed by the city
    # agent) is in every city role's scope. Everyone but the administrator reads the pool;
    # shift leads, centre heads and the director assign (to the city agent); roles that work
    # with customers handle or dismiss a new entry; exporters export.
    Route("GET", "/anomalies", ALL - ADMIN),
    Route("GET", "/anomalies/summary", ALL - ADMIN),
    Route("GET", "/anomalies/export", EXPORTERS),
    Route("GET", "/anomalies/{anomaly_id}", ALL - ADMIN, lambda s: Req(path={"anomaly_id": 1})),
    Route(
        "POST",
        "/anomalies/{anomaly_id}/assign",
        frozenset({Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR}),
        lambda s: Req(path={"anomaly_id": 1}, json={"assignee_id": s.users["agent"]}),
    ),
    Route(
        "POST",
        "/anomalies/{anomaly_id}/handle",
        WORKERS,
        lambda s: Req(path={"anomaly_id": 1}, json={"note": "已核实账单"}),
    ),
    Route(
        "POST",
        "/anomalies/{anomaly_id}/dismiss",
        WORKERS,
        lambda s: Req(path={"anomaly_id": 1}, json={"note": "测试号码"}),
    ),
    # --- champion–challenger (issue 19): the evaluation is read by the centre's managers,
    # analysts and the administrator; promoting a challenger changes configuration (the
    # administrator). The seeded challenger ``bold`` is significantly better
    # (strategy_fixtures).
    Route(
        "GET", "/strategies", frozenset({Role.ADMIN, Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST})
    ),
    Route(
        "POST",
        "/strategies/{arm}/promote",
        ADMIN,
        lambda s: Req(path={"arm": "bold"}, json={"reason": "秋季实验显著更优"}),
    ),
    # --- targets and appraisal (issue 9)
    # Settings: read by managers and the admin, changed by the admin, director and centre head
    # (a target of the city agent: inside the head's branches). Plans and checks: the seeded
    # plan and every check are the city agent's, in every city reader's scope. Scorecards:
    # agents their own, managers and analysts theirs.
    Route(
        "GET",
        "/appraisal/settings",
        frozenset({Role.ADMIN, Role.DIRECTOR, Role.CENTRE_HEAD, Role.SHIFT_LEAD}),
    ),
    Route(
        "PUT",
        "/appraisal/settings",
        frozenset({Role.ADMIN, Role.DIRECTOR, Role.CENTRE_HEAD}),
        lambda s: Req(json={"text": "targets:\n  - {agent: agent, saves: 2}\n"}),
    ),
    Route("GET", "/appraisal/weekly-plans", BUILDERS | {Role.AGENT}),
    Route(
        "PUT",
        "/appraisal/weekly-plans/{week}",
        frozenset({Role.AGENT, Role.SHIFT_LEAD}),
        lambda s: Req(
            path={"week": s.today.strftime("%G-W%V")},
            json={"goals": "回访", "target_customers": 5},
        ),
    ),
    Route(
        "GET",
        "/appraisal/weekly-plans/{user_id}/{week}",
        BUILDERS | {Role.AGENT},
        lambda s: Req(path={"user_id": s.users["agent"], "week": s.today.strftime("%G-W%V")}),
    ),
    Route(
        "POST",
        "/appraisal/weekly-plans/{user_id}/{week}/comment",
        BUILDERS,
        lambda s: Req(
            path={"user_id": s.users["agent"], "week": s.today.strftime("%G-W%V")},
            json={"comment": "好"},
        ),
    ),
    Route("GET", "/appraisal/daily-checks", BUILDERS | {Role.AGENT}),
    Route(
        "POST",
        "/appraisal/daily-checks",
        BUILDERS,
        lambda s: Req(
            json={
                "agent_id": s.users["agent"],
                "day": s.today.isoformat(),
                "records_checked": 10,
                "result": "ok",
            }
        ),
    ),
    Route("GET", "/appraisal/scorecards", BUILDERS | {Role.AGENT, Role.ANALYST}),
    Route(
        "GET",
        "/appraisal/scorecards/{level}/{subject_id}/history",
        BUILDERS | {Role.AGENT, Role.ANALYST},
        lambda s: Req(path={"level": "agent", "subject_id": s.users["agent"]}),
    ),
    # --- data-quality feedback (issue 9)
    # Filing needs customer work (not admin, analyst) and the customer in scope (S00001 is in
    # every city role's). The seeded report (matrix_state.DATA_QUALITY_REPORT_ID, the city
    # agent's): its filer, the team's lead, the branch's head, director and analyst see it;
    # front desk sees only its own reports, so it is "missing" to them (404). Reviewing and
    # exporting: analyst, centre head, director; the administrator has no reports at all.
    Route(
        "POST",
        "/data-quality/reports",
        WORKERS,
        lambda s: Req(json={"subscriber_id": "S00001", "field": "name", "reported_value": "王五"}),
    ),
    Route("GET", "/data-quality/reports", ALL - ADMIN),
    Route(
        "GET",
        "/data-quality/reports/{report_id}",
        frozenset({Role.AGENT, Role.SHIFT_LEAD, Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST}),
        lambda s: Req(path={"report_id": 1}),
        hidden=frozenset({Role.STORE_CLERK, Role.HOTLINE_AGENT}),
    ),
    Route("GET", "/data-quality/summary", ALL - ADMIN),
    Route(
        "POST",
        "/data-quality/reports/{report_id}/confirm",
        EXPORTERS,
        lambda s: Req(path={"report_id": 1}, json={"note": "已核实"}),
    ),
    Route(
        "POST",
        "/data-quality/reports/{report_id}/reject",
        EXPORTERS,
        lambda s: Req(path={"report_id": 1}, json={}),
    ),
    Route("POST", "/data-quality/export", EXPORTERS),
    # export batches: the reviewers who may export; the seeded batch holds one city report
    # without a full number, so every city reviewer sees all of it
    Route("GET", "/data-quality/exports", EXPORTERS),
    Route(
        "GET",
        "/data-quality/exports/{batch_id}",
        EXPORTERS,
        lambda s: Req(path={"batch_id": DATA_QUALITY_BATCH_ID}),
    ),
)


# --- fixtures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Matrix:
    """The seeded database, the app on it and a logged-in session per role."""

    engine: Engine
    app: FastAPI
    seeded: Seeded
    sessions: dict[Role, tuple[dict[str, str], str]]  # cookies, CSRF token
    success: dict[tuple[str, str], int]  # the documented 2xx status of each operation


def _success_codes(app: FastAPI) -> dict[tuple[str, str], int]:
    codes: dict[tuple[str, str], int] = {}
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            ok = [int(code) for code in operation["responses"] if code.startswith("2")]
            assert len(ok) == 1, (method, path, ok)
            codes[method.upper(), path] = ok[0]
    return codes


@pytest.fixture(scope="module")
def matrix(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """A PostgreSQL database seeded once for the module; sessions logged in (committed)."""
    from argon2 import PasswordHasher  # cheap hashing, as the ops conftest's autouse fixture

    name = f"matrix_{uuid.uuid4().hex[:12]}"
    server = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                "weiwan.ops.org.service._hasher",
                PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
            )
            upgrade(engine)
            home: Path = tmp_path_factory.mktemp("matrix")
            settings = Settings(home=home, secret_key="x", sms_callback_token=CALLBACK_TOKEN)
            app = create_app(settings, engine)
            seeded = seed(engine, app)
            sessions = {}
            for role, username in USERNAME.items():
                client = login(app, username)
                sessions[role] = (dict(client.cookies.items()), client.headers[CSRF_HEADER])
            yield Matrix(engine, app, seeded, sessions, _success_codes(app))
    finally:
        engine.dispose()
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        server.dispose()


@contextmanager
def rolled_back(matrix: Matrix) -> Iterator[None]:
    """Requests made inside run in one transaction that is rolled back at the end: the app's
    sessions join it with SAVEPOINTs (their commit releases one, their rollback undoes one)."""
    app = matrix.app
    original = app.state.session_factory
    with matrix.engine.connect() as connection:
        transaction = connection.begin()
        app.state.session_factory = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield
        finally:
            app.state.session_factory = original
            transaction.rollback()


@pytest.fixture
def isolated(matrix: Matrix) -> Iterator[Matrix]:
    """The matrix, with every request of the test rolled back afterwards."""
    with rolled_back(matrix):
        yield matrix


def _client(matrix: Matrix, role: Role | None, *, csrf: bool = True) -> TestClient:
    """A client with ``role``'s session (none for ``None``), sending its CSRF token."""
    if role is None:
        return TestClient(matrix.app)
    cookies, token = matrix.sessions[role]
    return TestClient(matrix.app, cookies=cookies, headers={CSRF_HEADER: token} if csrf else {})


def _send(client: TestClient, route: Route, req: Req, *, token: bool = False) -> Response:
    headers = dict(req.headers or {})
    if token:
        headers[CALLBACK_HEADER] = CALLBACK_TOKEN
    response: Response = client.request(
        route.method,
        API + route.path.format(**req.path),
        params=dict(req.query) if req.query else None,
        json=None if req.files else req.json,
        files=dict(req.files) if req.files else None,
        headers=headers,
    )
    return response


# --- the matrix ------------------------------------------------------------------------------


class KnownDefectError(AssertionError):
    """The product answers exactly as an xfail's reason says; the xfail marks accept only
    this, so any other wrong answer (a 500, a 422) still fails the case."""


def _expect(response: Response, expected: int, *, defect: int | None, what: str) -> None:
    if defect is not None and response.status_code == defect:
        raise KnownDefectError(f"{what}: {response.status_code} {response.text}")
    assert response.status_code == expected, f"{what}: {response.status_code} {response.text}"


def _xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=KnownDefectError, reason=reason)


def _role_cases() -> list[Any]:
    cases = []
    for route in ROUTES:
        for role in Role:
            reason = route.wrong.get(role)
            marks = [_xfail(reason)] if reason else []
            cases.append(pytest.param(route, role, id=f"{route.id}-{role.value}", marks=marks))
    return cases


@pytest.mark.parametrize(("route", "role"), _role_cases())
def test_role_access(isolated: Matrix, route: Route, role: Role) -> None:
    """An allowed role gets the operation's 2xx; any other role 403, or 404 where the object
    is outside what the role may read (``hidden``)."""
    req = route.request(isolated.seeded)
    if route.auth == "public":  # login: each role with its own credentials, no session yet
        req = Req(json={"username": USERNAME[role], "password": PASSWORD})
        response = _send(_client(isolated, None), route, req)
    else:
        response = _send(_client(isolated, role), route, req)
    if route.auth == "token":
        expected = 401  # a user's session is no credential for the gateway's route
    elif role in route.allowed:
        expected = isolated.success[route.key]
    elif role in route.hidden:
        expected = 404
    else:
        expected = 403
    let_through = isolated.success[route.key] if role in route.wrong else None
    _expect(response, expected, defect=let_through, what=f"{route.id} as {role.value}")


def test_every_operation_is_in_the_matrix(matrix: Matrix) -> None:
    """Every operation of the OpenAPI document has an entry, and every entry an operation."""
    documented = set(matrix.success)
    listed = {route.key for route in ROUTES}
    assert documented - listed == set(), "operations without an entry in ROUTES"
    assert listed - documented == set(), "entries in ROUTES for operations that do not exist"
    assert len(documented) >= 65
    ids = [route.id for route in ROUTES]
    assert len(ids) == len(set(ids)), "two entries for one operation need distinct variants"
    for route in ROUTES:
        assert not route.allowed & route.hidden, route.id
        template = set(re.findall(r"{(\w+)}", route.path))
        assert set(route.request(matrix.seeded).path) == template, route.id


# --- authentication and CSRF ---------------------------------------------------------------


def _first_routes() -> list[Route]:
    """One entry per operation (the first variant)."""
    seen: dict[tuple[str, str], Route] = {}
    for route in ROUTES:
        seen.setdefault(route.key, route)
    return list(seen.values())


def _unauthenticated_cases() -> list[Any]:
    cases = []
    for route in _first_routes():
        if route.auth == "public":
            continue
        cases.append(pytest.param(route, id=route.id))
    return cases


@pytest.mark.parametrize("route", _unauthenticated_cases())
def test_no_session_is_401(isolated: Matrix, route: Route) -> None:
    """Without a session (and, for the receipts, without the gateway's token) every operation
    but login answers 401, whatever the body."""
    response = _send(_client(isolated, None), route, route.request(isolated.seeded))
    csrf_first = 403 if route.auth == "session" and route.method in UNSAFE else None
    _expect(response, 401, defect=csrf_first, what=route.id)


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(route, id=route.id)
        for route in _first_routes()
        if route.auth == "session" and route.method in UNSAFE
    ],
)
def test_unsafe_request_without_csrf_token_is_403(isolated: Matrix, route: Route) -> None:
    """A logged-in director without the CSRF header is refused by the CSRF check (login has
    no session to protect yet; the receipts take no session, so no CSRF token either)."""
    req = route.request(isolated.seeded)
    response = _send(_client(isolated, Role.DIRECTOR, csrf=False), route, req)
    assert response.status_code == 403, response.text
    assert "CSRF" in response.json()["detail"]


def test_event_intake_takes_its_token_not_a_session(isolated: Matrix) -> None:
    """A source system's route needs no session and no CSRF token, only its bearer token."""
    (route,) = [r for r in ROUTES if r.path == "/events" and r.method == "POST"]
    req = route.request(isolated.seeded)
    accepted = _send(_client(isolated, None), route, Req(json=req.json, headers=bearer()))
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    wrong = _send(_client(isolated, None), route, Req(json=req.json, headers=bearer("wwe_x")))
    assert wrong.status_code == 401


def test_delivery_receipts_take_the_token_not_a_session(isolated: Matrix) -> None:
    """The gateway's route needs no session and no CSRF token, only its own token."""
    (route,) = [r for r in ROUTES if r.path == "/sms/delivery-receipts"]
    req = route.request(isolated.seeded)
    accepted = _send(_client(isolated, None), route, req, token=True)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["unknown"] == ["gw-unknown"]
    wrong = _send(
        _client(isolated, None), route, Req(json=req.json, headers={CALLBACK_HEADER: "x"})
    )
    assert wrong.status_code == 401


def test_sms_replies_take_the_token_not_a_session(isolated: Matrix) -> None:
    """The gateway's forwarded replies need no session and no CSRF token, only its token; an
    unknown number is answered per reply."""
    (route,) = [r for r in ROUTES if r.path == "/sms/replies"]
    req = route.request(isolated.seeded)
    accepted = _send(_client(isolated, None), route, req, token=True)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["results"] == [
        {"message_id": "mo-matrix", "result": "unknown_subscriber"}
    ]
    mine = _send(_client(isolated, None), route, Req(json={"replies": [_reply("13800000001")]}))
    assert mine.status_code == 401


def test_requests_leave_the_seeded_state_alone(matrix: Matrix) -> None:
    """The isolation the matrix relies on: a change made inside ``rolled_back`` is gone after
    it, while the route saw its own change (its commit only released a savepoint)."""
    submitted = matrix.seeded.campaigns["submitted"]
    route = next(r for r in ROUTES if r.path.endswith("/approve"))
    with rolled_back(matrix):
        client = _client(matrix, Role.CENTRE_HEAD)
        approved = _send(client, route, route.request(matrix.seeded))
        assert approved.status_code == 200 and approved.json()["approval_level"] == 2
        again = client.get(f"{API}/campaigns/{submitted}").json()
        assert again["approval_level"] == 2
    with session_scope(matrix.engine) as session:
        level = session.scalar(select(Campaign.approval_level).where(Campaign.id == submitted))
    assert level == 1
