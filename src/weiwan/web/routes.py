"""The API routers of every operational domain (in the order they appear in the OpenAPI doc)
and the routers of the pages."""

from __future__ import annotations

from fastapi import APIRouter

from weiwan.ops.anomalies.api import router as anomalies_router
from weiwan.ops.appraisal.api import router as appraisal_router
from weiwan.ops.campaigns.api import router as campaigns_router
from weiwan.ops.card.api import router as card_router
from weiwan.ops.consents.api import router as consents_router
from weiwan.ops.contacts.api import router as contacts_router
from weiwan.ops.customers.api import router as customers_router
from weiwan.ops.dataquality.api import router as dataquality_router
from weiwan.ops.events.api import router as events_router
from weiwan.ops.events.api import summary_router as event_summary_router
from weiwan.ops.offers.api import router as offers_router
from weiwan.ops.org.api import router as org_router
from weiwan.ops.privacy.api import router as privacy_router
from weiwan.ops.reports.api import router as reports_router
from weiwan.ops.reports.period_api import router as period_reports_router
from weiwan.ops.runs.api import router as runs_router
from weiwan.ops.sms.api import router as sms_router
from weiwan.ops.strategies.api import router as strategies_router
from weiwan.ops.surveys.api import router as surveys_router
from weiwan.ops.tasks.api import router as tasks_router
from weiwan.web.pages import (
    admin,
    anomalies,
    appraisal,
    auth,
    business_rules,
    campaigns,
    channels,
    dashboards,
    dataquality,
    events,
    policy_editor,
    questionnaires,
    reports,
    strategies,
    tags,
    target_groups,
    team,
    workbench,
)

API_ROUTERS: tuple[APIRouter, ...] = (
    org_router,
    card_router,
    customers_router,
    tasks_router,
    contacts_router,
    consents_router,
    privacy_router,
    offers_router,
    surveys_router,
    sms_router,
    campaigns_router,
    reports_router,
    period_reports_router,
    anomalies_router,
    strategies_router,
    events_router,
    runs_router,
    event_summary_router,
    appraisal_router,
    dataquality_router,
)

PAGE_ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    workbench.router,
    channels.router,
    team.router,
    campaigns.router,
    dashboards.router,
    reports.router,
    anomalies.router,
    appraisal.router,
    dataquality.router,
    events.router,
    questionnaires.router,
    policy_editor.router,
    tags.router,
    target_groups.router,
    business_rules.router,
    strategies.router,
    admin.router,
)
