"""Everything the card page shows around the unified view, in one call (:func:`card_page`).

The card itself (``card.service.customer_card``, audited as a PII view), the reader's rights
on each open task, the transfer history, recently closed tasks and transfer targets
(``tasks.card_work``), the questionnaire asked on each task the reader may work
(``campaigns.questionnaires``), the tag names in the reader's language and the SMS templates
for the roles that send them. The page only localises and lays this out.

Every read stays inside the reader's scope: the customer came from ``find_customer`` /
``find_by_phone``; the services filter tasks and users by scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from weiwan.ops.campaigns.questionnaires import AskedQuestionnaire, TaskRef, task_questionnaires
from weiwan.ops.card.service import CustomerCard, customer_card
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.tags import tag_names
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.sms.models import SmsTemplate
from weiwan.ops.sms.service import SENDERS, list_templates
from weiwan.ops.tasks.card_work import CardTasks, card_tasks
from weiwan.ops.tasks.service import DISPATCHERS

#: roles that read cards but record no contacts, send no messages and work no tasks
WORKING_ROLES_EXCLUDED = (Role.ADMIN, Role.ANALYST)


def may_work(actor: Actor) -> bool:
    """Whether the role records contacts, sends messages and works tasks."""
    return actor.role not in WORKING_ROLES_EXCLUDED


@dataclass(frozen=True, slots=True)
class TaskRights:
    """What the reader may do with one of the card's open tasks."""

    workable: bool  # record contacts on it: a working role, the task in the reader's scope
    claimable: bool  # workable and nobody holds it
    transferable: bool  # workable, and the reader is a dispatcher or holds it


@dataclass(frozen=True, slots=True)
class CardPage:
    """The card and everything around it the card page shows to this reader."""

    card: CustomerCard
    #: the task side: rights per task id in scope, closed tasks, transfers, transfer targets
    work: CardTasks
    #: per open task id, in the card's order
    rights: dict[int, TaskRights]
    #: per workable task id: the questionnaire asked on it (tasks without one left out)
    questionnaires: dict[int, AskedQuestionnaire]
    #: the card's tags named in the reader's language
    tag_names: list[str]
    may_work: bool
    may_send_sms: bool
    #: the active SMS templates (empty unless the reader may send SMS)
    sms_templates: Sequence[SmsTemplate]


def _rights(actor: Actor, card: CustomerCard, work: CardTasks) -> dict[int, TaskRights]:
    working = may_work(actor)
    out: dict[int, TaskRights] = {}
    for task in card.open_tasks:
        task_id = task["task_id"]
        workable = working and task_id in work.rights
        assignee = work.rights.get(task_id)
        out[task_id] = TaskRights(
            workable=workable,
            claimable=workable and assignee is None,
            transferable=workable and (actor.role in DISPATCHERS or assignee == actor.user_id),
        )
    return out


def card_page(
    session: Session,
    actor: Actor,
    customer: CustomerView,
    *,
    channel: str,
    today: date,
    language: str,
) -> CardPage:
    """The card of ``customer`` (audited) with the reader's rights on its tasks, the task
    history, the questionnaires asked on the workable tasks, the tag names in ``language``
    and the SMS templates."""
    card = customer_card(session, actor, customer, channel=channel, today=today)
    sid = card.customer["subscriber_id"]
    work = card_tasks(session, actor, sid, [t["task_id"] for t in card.open_tasks])
    rights = _rights(actor, card, work)
    refs = [
        TaskRef(t["task_id"], t.get("campaign_id"), t.get("source"))
        for t in card.open_tasks
        if rights[t["task_id"]].workable
    ]
    senders = actor.role in SENDERS
    return CardPage(
        card=card,
        work=work,
        rights=rights,
        questionnaires=task_questionnaires(session, refs),
        tag_names=tag_names(session, card.tags, language),
        may_work=may_work(actor),
        may_send_sms=senders,
        sms_templates=list_templates(session) if senders else [],
    )
