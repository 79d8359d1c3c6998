"""Answers on contacts: check them against the questions, record or replace them, show them.

Answering is open to anyone who may record a contact with the customer, i.e. whose scope
holds the contact's subscriber (outside the scope the contact is answered 404 like a missing
one); see docs/surveys-and-sms.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError
from weiwan.ops.base import utcnow
from weiwan.ops.contacts.models import Contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.scope import customer_scope_clause
from weiwan.ops.surveys.library import find_questionnaire, question_options, questions_of
from weiwan.ops.surveys.models import Question, SurveyAnswer, SurveyResponse
from weiwan.ops.surveys.schemas import MAX_OPEN_ANSWER, AnswerIn, ResponseOut


def find_contact(session: Session, actor: Actor, contact_id: int) -> Contact:
    """The contact if its subscriber is in the actor's scope (404 otherwise)."""
    contact = session.scalar(
        select(Contact)
        .join(CustomerView, CustomerView.subscriber_id == Contact.subscriber_id)
        .where(Contact.id == contact_id, customer_scope_clause(actor))
    )
    if contact is None:
        raise NotFoundError(f"contact {contact_id} not found")
    return contact


def _question_label(question: Question) -> str:
    return f"question {question.position} ({question.text_zh})"


@dataclass(frozen=True, slots=True)
class _Item:
    question_id: int
    option_value: str | None
    text: str | None


def _validate(
    questions: Sequence[Question], answers: Sequence[AnswerIn]
) -> tuple[list[_Item], bool]:
    """The answer rows to store and whether every question was answered; raises
    :class:`InvalidRequestError` naming the first question whose answer does not fit."""
    by_id = {q.id: q for q in questions}
    given: dict[int, str | list[str] | None] = {}
    for answer in answers:
        if answer.question_id not in by_id:
            raise InvalidRequestError(
                f"question {answer.question_id} is not a question of this questionnaire",
                field=f"answers.{answer.question_id}",
            )
        if answer.question_id in given:
            raise InvalidRequestError(
                f"{_question_label(by_id[answer.question_id])} is answered twice",
                field=f"answers.{answer.question_id}",
            )
        given[answer.question_id] = answer.value
    items: list[_Item] = []
    answered = 0
    for question in questions:
        field = f"answers.{question.id}"
        label = _question_label(question)
        value = given.get(question.id)
        if isinstance(value, str) and question.kind != "open":
            value = value.strip() or None
        if isinstance(value, list) and not value:
            value = None
        if question.kind == "open" and isinstance(value, str) and not value.strip():
            value = None
        if value is None:
            if question.required:
                raise InvalidRequestError(f"{label} is required", field=field)
            continue
        answered += 1
        allowed = {o["value"] for o in question_options(question)}
        if question.kind == "open":
            if not isinstance(value, str):
                raise InvalidRequestError(f"{label} takes a text answer", field=field)
            if len(value) > MAX_OPEN_ANSWER:
                raise InvalidRequestError(
                    f"{label}: the answer is longer than {MAX_OPEN_ANSWER} characters",
                    field=field,
                )
            items.append(_Item(question.id, None, value.strip()))
        elif question.kind == "single":
            if not isinstance(value, str):
                raise InvalidRequestError(f"{label} takes exactly one option", field=field)
            if value not in allowed:
                raise InvalidRequestError(f"{label} has no option {value!r}", field=field)
            items.append(_Item(question.id, value, None))
        else:
            chosen = [value] if isinstance(value, str) else value
            unknown = [v for v in chosen if v not in allowed]
            if unknown:
                raise InvalidRequestError(f"{label} has no option {unknown[0]!r}", field=field)
            if len(set(chosen)) != len(chosen):
                raise InvalidRequestError(f"{label}: an option is chosen twice", field=field)
            items.extend(_Item(question.id, v, None) for v in chosen)
    return items, answered == len(questions)


def record_answers(
    session: Session,
    actor: Actor,
    contact_id: int,
    questionnaire_id: int,
    answers: Sequence[AnswerIn],
    *,
    now: datetime | None = None,
) -> SurveyResponse:
    """Record (or replace) the answers of a contact to a questionnaire.

    The contact must be in the actor's scope (404 otherwise) and must have taken place (a
    contact the contact policy blocked cannot have answers); the questionnaire must be active.
    Each answer is checked against its question's kind, options and required flag, and the
    error names the question.
    """
    actor.require_customer_work()
    contact = find_contact(session, actor, contact_id)
    if contact.status != "sent":
        raise ConflictError(f"contact {contact_id} was blocked ({contact.blocked_reason})")
    questionnaire = find_questionnaire(session, questionnaire_id)
    if questionnaire.status != "active":
        raise ConflictError(f"questionnaire {questionnaire_id} is archived")
    items, complete = _validate(questions_of(session, questionnaire_id), answers)
    # FOR UPDATE on PostgreSQL; on SQLite two answers of one contact at once would both
    # insert, and the unique (contact, questionnaire) refuses the second: an error for that
    # request, never two answers (not yet mapped to a 409)
    response = session.scalar(
        select(SurveyResponse)
        .where(
            SurveyResponse.contact_id == contact_id,
            SurveyResponse.questionnaire_id == questionnaire_id,
        )
        .with_for_update()
    )
    at = now or utcnow()
    if response is None:
        response = SurveyResponse(
            questionnaire_id=questionnaire_id,
            contact_id=contact_id,
            subscriber_id=contact.subscriber_id,
        )
        session.add(response)
    else:
        session.execute(delete(SurveyAnswer).where(SurveyAnswer.response_id == response.id))
    response.user_id = actor.user_id
    response.answered_at = at
    response.complete = complete
    session.flush()
    session.add_all(
        SurveyAnswer(
            response_id=response.id,
            question_id=item.question_id,
            option_value=item.option_value,
            text=item.text,
        )
        for item in items
    )
    session.flush()
    return response


def response_out(session: Session, response: SurveyResponse) -> ResponseOut:
    """A response with its answers per question id."""
    kinds = dict(
        session.execute(
            select(Question.id, Question.kind).where(
                Question.questionnaire_id == response.questionnaire_id
            )
        ).all()
    )
    answers: dict[int, str | list[str]] = {}
    for row in session.scalars(
        select(SurveyAnswer)
        .where(SurveyAnswer.response_id == response.id)
        .order_by(SurveyAnswer.id)
    ):
        if kinds.get(row.question_id) == "multiple":
            chosen = answers.setdefault(row.question_id, [])
            assert isinstance(chosen, list) and row.option_value is not None
            chosen.append(row.option_value)
        else:
            answers[row.question_id] = (
                row.option_value if row.option_value is not None else (row.text or "")
            )
    return ResponseOut(
        id=response.id,
        questionnaire_id=response.questionnaire_id,
        contact_id=response.contact_id,
        subscriber_id=response.subscriber_id,
        user_id=response.user_id,
        answered_at=response.answered_at,
        complete=response.complete,
        answers=answers,
    )


def answers_of_contact(session: Session, actor: Actor, contact_id: int) -> list[ResponseOut]:
    """Every questionnaire answered on a contact in scope."""
    find_contact(session, actor, contact_id)
    responses = session.scalars(
        select(SurveyResponse)
        .where(SurveyResponse.contact_id == contact_id)
        .order_by(SurveyResponse.id)
    )
    return [response_out(session, r) for r in responses]
