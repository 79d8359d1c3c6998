"""Pages of the channels area (see web/nav.py for who sees them): the hotline / store
screen-pop by phone number and the self-service offers of a subscriber."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError
from weiwan.core.months import shown_end
from weiwan.ops.contacts.orders import NotOfferedError, order_offer, orderable_offers
from weiwan.ops.customers.limits import LookupBudget, lookup_budget
from weiwan.ops.customers.lookups import (
    LookupLimitError,
    audit_miss,
    audit_view,
    check_lookup_rate,
    lookup_by_phone,
)
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.service import find_by_phone, find_customer
from weiwan.ops.deps import Db, LocalTz
from weiwan.ops.offers.service import SELF_SERVICE
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.web import formatting
from weiwan.web.i18n import current_language
from weiwan.web.i18n import gettext as _
from weiwan.web.pages.customer_actions import FormMessage
from weiwan.web.pages.customer_view import card_context, too_many_text
from weiwan.web.pages.deps import PageActor, PageForm
from weiwan.web.templating import render

router = APIRouter(include_in_schema=False)

#: who serves walk-in and calling customers (nav: workers and the front desk)
CHANNEL_ROLES = (
    Role.AGENT,
    Role.SHIFT_LEAD,
    Role.CENTRE_HEAD,
    Role.DIRECTOR,
    Role.STORE_CLERK,
    Role.HOTLINE_AGENT,
)
PHONE = re.compile(r"^\+?[0-9]{5,20}$")
SUBSCRIBER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _today(tz: Any) -> Any:
    return datetime.now(tz).date()


def _pop_channel(actor: Actor) -> str:
    return "store" if actor.role is Role.STORE_CLERK else "hotline"


@router.get("/screen-pop", response_class=HTMLResponse)
def screen_pop(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """The caller's (or visitor's) unified card by phone number; a clear message when the
    number is unknown or outside the reader's scope."""
    actor.require(*CHANNEL_ROLES)
    phone = (request.query_params.get("phone") or "").strip().replace(" ", "")
    context: dict[str, Any] = {"phone": phone, "problem": None, "found": False}
    status_code = 200
    headers: dict[str, str] | None = None
    if phone and not PHONE.match(phone):
        context["problem"] = _("Enter a phone number: digits only, at least 5.")
        status_code = 422
    elif phone:
        budget = lookup_budget(request)
        try:
            customer = lookup_by_phone(
                db,
                actor,
                phone,
                channel=_pop_channel(actor),
                limit=budget.limit,
                now=budget.now,
            )
        except LookupLimitError as exc:
            context["problem"] = too_many_text(exc)
            status_code, headers = 429, {"Retry-After": str(exc.retry_after)}
        except NotFoundError:
            context["problem"] = _("No customer with this number in your scope.")
            status_code = 404
        else:
            context.update(
                card_context(
                    db,
                    actor,
                    customer,
                    channel=_pop_channel(actor),
                    tz=tz,
                    language=current_language(),
                )
            )
            context.update(found=True, message=None)
    return render(
        request, "channels/screen_pop.html", context, status_code=status_code, headers=headers
    )


# --- self-service offers ----------------------------------------------------------------------


def _find_subscriber(
    session: Session, actor: Actor, query: str, budget: LookupBudget
) -> CustomerView:
    """The customer by subscriber id, else by phone number (404 when neither is in scope): a
    lookup, rate limited, and audited when found (the offers show who it is) and when not."""
    check_lookup_rate(session, actor, limit=budget.limit, now=budget.now)
    try:
        customer = _by_id_or_phone(session, actor, query)
    except NotFoundError:
        if PHONE.match(query):
            audit_miss(session, actor, channel=SELF_SERVICE, phone=query)
        else:
            audit_miss(session, actor, channel=SELF_SERVICE, subscriber_id=query)
        raise
    audit_view(session, actor, customer, channel=SELF_SERVICE)
    return customer


def _by_id_or_phone(session: Session, actor: Actor, query: str) -> CustomerView:
    if SUBSCRIBER_ID.match(query):
        try:
            return find_customer(session, actor, query)
        except NotFoundError:
            if not PHONE.match(query):
                raise
    if PHONE.match(query):
        return find_by_phone(session, actor, query)
    raise NotFoundError("no such customer")


def _offers_context(
    session: Session, actor: Actor, customer: CustomerView, tz: Any, language: str
) -> dict[str, Any]:
    zh = language.startswith("zh")
    offers = [
        {
            "policy_id": p.policy_id,
            "name": (p.name_zh if zh else p.name_en) or p.name_zh,
            "script": (p.script_zh if zh else p.script_en) or p.script_zh,
            "offer_type": p.offer_type,
            "total_cost": p.total_cost,
            "benefit_value": p.benefit_value,
            "commitment_months": p.commitment_months,
            "valid_to": shown_end(p.valid_to),  # None: open-ended
        }
        for p in orderable_offers(session, customer, _today(tz))
    ]
    return {
        "customer": customer,
        "subscriber_id": customer.subscriber_id,
        "offers": offers,
        "may_order": actor.role not in (Role.ADMIN, Role.ANALYST),
    }


@router.get("/self-service", response_class=HTMLResponse)
def self_service(request: Request, actor: PageActor, db: Db, tz: LocalTz) -> Response:
    """Pick a subscriber (id or phone number) and list the offers they may order today."""
    actor.require(*CHANNEL_ROLES)
    query = (request.query_params.get("q") or "").strip()[:32]
    context: dict[str, Any] = {"q": query, "problem": None, "customer": None, "message": None}
    status_code = 200
    headers: dict[str, str] | None = None
    if query:
        try:
            customer = _find_subscriber(db, actor, query, lookup_budget(request))
        except LookupLimitError as exc:
            context["problem"] = too_many_text(exc)
            status_code, headers = 429, {"Retry-After": str(exc.retry_after)}
        except NotFoundError:
            context["problem"] = _("No customer with this number or id in your scope.")
            status_code = 404
        else:
            context.update(_offers_context(db, actor, customer, tz, current_language()))
    return render(
        request, "channels/self_service.html", context, status_code=status_code, headers=headers
    )


def _order(
    session: Session, actor: Actor, customer: CustomerView, policy_id: str, tz: Any
) -> FormMessage:
    """Order as ``POST /api/v1/self-service/{id}/orders``: an accepted self-service contact
    that closes the subscriber's other open tasks for the policy."""
    try:
        record = order_offer(session, actor, customer, policy_id, tz=tz)
    except NotOfferedError:
        return FormMessage(
            "danger", _("This offer is not available to the customer."), form="order"
        )
    except (InvalidRequestError, ConflictError) as exc:
        session.rollback()
        return FormMessage("danger", _("Not possible now: %(why)s", why=str(exc)), form="order")
    assert record.acceptance is not None  # an order is an acceptance, or an error
    text = _("Ordered. Acceptance number %(num)s.", num=record.acceptance.id)
    if record.closed_task_ids:
        text += " " + _(
            "%(num)s other open tasks for this offer were closed.",
            num=formatting.format_number(len(record.closed_task_ids)),
        )
    return FormMessage("success", text, form="order", closed_task_ids=record.closed_task_ids)


@router.post("/self-service/{subscriber_id}/orders", response_class=HTMLResponse)
def order(
    request: Request, subscriber_id: str, actor: PageActor, db: Db, tz: LocalTz, form: PageForm
) -> Response:
    """Order one offer for the subscriber; the offers are shown again with the result."""
    actor.require(*CHANNEL_ROLES)
    actor.require_customer_work()
    customer = find_customer(db, actor, subscriber_id)
    policy_id = form.get("policy_id")
    message = _order(db, actor, customer, policy_id if isinstance(policy_id, str) else "", tz)
    context: dict[str, Any] = {"q": subscriber_id, "problem": None, "message": message}
    context.update(_offers_context(db, actor, customer, tz, current_language()))
    template = (
        "channels/_offers.html"
        if request.headers.get("HX-Request")
        else "channels/self_service.html"
    )
    return render(request, template, context)
