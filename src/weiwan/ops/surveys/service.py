"""Questionnaires: build, clone, archive; answers on contacts; results.

Who may do what (see docs/surveys-and-sms.md):

* building (create, update, clone, archive): centre head, director, shift lead — the roles
  that plan campaigns or run the floor; every change is audited as ``config_change``;
* changing or archiving an existing questionnaire: its owner is its creator, and a builder
  may change it when the creator's work is in the builder's scope, as everywhere else
  (``user_scope_clause``): the director any, a centre head those built by users of their
  branches, a shift lead their own and their team's; otherwise 403 and nothing changes. A
  questionnaire without a creator is changed by the director only. Cloning stays open to
  every builder (the copy is the cloner's own);
* reading questionnaires: everyone (agents need them to ask the questions);
* answering: anyone who may record a contact with the customer, i.e. whose scope holds the
  contact's subscriber (outside the scope the contact is answered 404 like a missing one);
* results: the builders and analysts, over the answers recorded by users whose work they see
  (director and analyst: all; centre head: the branch's users; shift lead: the team).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from weiwan.ops.base import utcnow
from weiwan.ops.contacts.models import Contact
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.scope import customer_scope_clause, user_scope_clause
from weiwan.ops.surveys.models import Question, Questionnaire, SurveyAnswer, SurveyResponse
from weiwan.ops.surveys.schemas import (
    MAX_OPEN_ANSWER,
    AnswerIn,
    CloneIn,
    OpenAnswerOut,
    OptionOut,
    OptionResult,
    QuestionIn,
    QuestionnaireIn,
    QuestionnaireOut,
    QuestionnaireUpdate,
    QuestionOut,
    QuestionResult,
    ResponseOut,
    ResultsOut,
)

BUILDERS = (Role.CENTRE_HEAD, Role.DIRECTOR, Role.SHIFT_LEAD)
RESULT_VIEWERS = (*BUILDERS, Role.ANALYST)
OPEN_ANSWERS_SHOWN = 20


# --- questionnaires ----------------------------------------------------------------------


def _find(session: Session, questionnaire_id: int, *, lock: bool = False) -> Questionnaire:
    """The questionnaire (404 otherwise). ``lock``: FOR UPDATE on PostgreSQL; on SQLite a
    no-op, which is safe here: archiving is idempotent and an edit racing an archive only
    changes titles, never answers (answers check ``active`` in their own transaction)."""
    query = select(Questionnaire).where(Questionnaire.id == questionnaire_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFoundError(f"questionnaire {questionnaire_id} not found")
    return row


def require_owner_scope(session: Session, actor: Actor, questionnaire: Questionnaire) -> None:
    """:class:`PermissionDeniedError` unless ``actor`` is a builder whose scope holds the
    questionnaire's creator (see the module docstring)."""
    actor.require(*BUILDERS)
    if actor.scope is Scope.ALL:
        return
    creator = questionnaire.created_by
    mine = creator is not None and (
        creator == actor.user_id
        or session.scalar(
            select(User.id).where(User.id == creator, user_scope_clause(actor, User.id))
        )
        is not None
    )
    if not mine:
        raise PermissionDeniedError(
            f"questionnaire {questionnaire.id} was built outside your scope; clone it instead"
        )


def questions_of(session: Session, questionnaire_id: int) -> list[Question]:
    """The questions of a questionnaire in order."""
    return list(
        session.scalars(
            select(Question)
            .where(Question.questionnaire_id == questionnaire_id)
            .order_by(Question.position)
        )
    )


def in_use(session: Session, questionnaire_id: int) -> bool:
    """Whether any contact has answered the questionnaire."""
    return (
        session.scalar(
            select(SurveyResponse.id)
            .where(SurveyResponse.questionnaire_id == questionnaire_id)
            .limit(1)
        )
        is not None
    )


def _options(question: Question) -> list[dict[str, Any]]:
    options: list[dict[str, Any]] = json.loads(question.options)
    return options


def questionnaire_out(session: Session, questionnaire: Questionnaire) -> QuestionnaireOut:
    """A questionnaire with its questions, as the API shows it."""
    return QuestionnaireOut(
        id=questionnaire.id,
        title_zh=questionnaire.title_zh,
        title_en=questionnaire.title_en,
        description=questionnaire.description,
        status=questionnaire.status,
        cloned_from_id=questionnaire.cloned_from_id,
        created_by=questionnaire.created_by,
        created_at=questionnaire.created_at,
        updated_at=questionnaire.updated_at,
        in_use=in_use(session, questionnaire.id),
        questions=[
            QuestionOut(
                id=q.id,
                position=q.position,
                kind=q.kind,
                text_zh=q.text_zh,
                text_en=q.text_en,
                required=q.required,
                options=[OptionOut(**o) for o in _options(q)],
            )
            for q in questions_of(session, questionnaire.id)
        ],
    )


def list_questionnaires(
    session: Session, status: str | None = "active", limit: int = 100, offset: int = 0
) -> Sequence[Questionnaire]:
    """Questionnaires, newest first (every role may read them)."""
    query = select(Questionnaire)
    if status is not None:
        query = query.where(Questionnaire.status == status)
    return session.scalars(
        query.order_by(Questionnaire.id.desc()).limit(limit).offset(offset)
    ).all()


def get_questionnaire(session: Session, questionnaire_id: int) -> Questionnaire:
    """One questionnaire (404 if missing)."""
    return _find(session, questionnaire_id)


def _add_questions(
    session: Session, questionnaire_id: int, questions: Sequence[QuestionIn]
) -> None:
    session.add_all(
        Question(
            questionnaire_id=questionnaire_id,
            position=position,
            kind=q.kind,
            text_zh=q.text_zh,
            text_en=q.text_en,
            required=q.required,
            options=json.dumps(
                [o.model_dump() for o in q.options], ensure_ascii=False, separators=(",", ":")
            ),
        )
        for position, q in enumerate(questions, start=1)
    )
    session.flush()


def create_questionnaire(session: Session, actor: Actor, data: QuestionnaireIn) -> Questionnaire:
    """Build a questionnaire (builders only)."""
    actor.require(*BUILDERS)
    return install_questionnaire(session, data, user_id=actor.user_id)


def install_questionnaire(
    session: Session, data: QuestionnaireIn, *, user_id: int | None = None
) -> Questionnaire:
    """Store a questionnaire, audited as a config change of ``user_id`` (None: one weiwan
    ships, e.g. the return-visit questionnaire); callers check who may build one."""
    now = utcnow()
    questionnaire = Questionnaire(
        title_zh=data.title_zh,
        title_en=data.title_en,
        description=data.description,
        status="active",
        created_by=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(questionnaire)
    session.flush()
    _add_questions(session, questionnaire.id, data.questions)
    audit(
        session,
        user_id,
        AuditAction.CONFIG_CHANGE,
        "questionnaire",
        str(questionnaire.id),
        {"created": data.title_zh, "questions": len(data.questions)},
    )
    return questionnaire


def update_questionnaire(
    session: Session, actor: Actor, questionnaire_id: int, data: QuestionnaireUpdate
) -> Questionnaire:
    """Change titles or description; replace the questions unless the questionnaire is in use
    (then :class:`ConflictError`: clone it instead). Archived questionnaires are read-only."""
    actor.require(*BUILDERS)
    questionnaire = _find(session, questionnaire_id, lock=True)
    require_owner_scope(session, actor, questionnaire)
    if questionnaire.status == "archived":
        raise ConflictError(f"questionnaire {questionnaire_id} is archived")
    changed = data.model_dump(exclude_unset=True, exclude={"questions"})
    if "title_zh" in changed and changed["title_zh"] is None:
        raise InvalidRequestError("the Chinese title cannot be removed", field="title_zh")
    for name, value in changed.items():
        setattr(questionnaire, name, value)
    if data.questions is not None:
        if in_use(session, questionnaire_id):
            raise ConflictError(
                f"questionnaire {questionnaire_id} already has answers; its questions cannot "
                "change (clone it and change the clone)"
            )
        session.execute(delete(Question).where(Question.questionnaire_id == questionnaire_id))
        _add_questions(session, questionnaire_id, data.questions)
    questionnaire.updated_at = utcnow()
    session.flush()
    audit(
        session,
        actor.user_id,
        AuditAction.CONFIG_CHANGE,
        "questionnaire",
        str(questionnaire_id),
        {"updated": sorted(changed) + (["questions"] if data.questions is not None else [])},
    )
    return questionnaire


def clone_questionnaire(
    session: Session, actor: Actor, questionnaire_id: int, data: CloneIn | None = None
) -> Questionnaire:
    """A new active questionnaire with the same questions (archived ones may be cloned)."""
    actor.require(*BUILDERS)
    original = _find(session, questionnaire_id)
    data = data or CloneIn()
    now = utcnow()
    clone = Questionnaire(
        title_zh=data.title_zh or f"{original.title_zh}（副本）",
        title_en=data.title_en
        if data.title_en is not None
        else (f"{original.title_en} (copy)" if original.title_en else None),
        description=original.description,
        status="active",
        cloned_from_id=original.id,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(clone)
    session.flush()
    session.add_all(
        Question(
            questionnaire_id=clone.id,
            position=q.position,
            kind=q.kind,
            text_zh=q.text_zh,
            text_en=q.text_en,
            required=q.required,
            options=q.options,
        )
        for q in questions_of(session, original.id)
    )
    session.flush()
    audit(
        session,
        actor.user_id,
        AuditAction.CONFIG_CHANGE,
        "questionnaire",
        str(clone.id),
        {"cloned_from": original.id},
    )
    return clone


def archive_questionnaire(session: Session, actor: Actor, questionnaire_id: int) -> Questionnaire:
    """Archive: no new answers, results kept (idempotent)."""
    actor.require(*BUILDERS)
    questionnaire = _find(session, questionnaire_id, lock=True)
    require_owner_scope(session, actor, questionnaire)
    if questionnaire.status != "archived":
        questionnaire.status = "archived"
        questionnaire.updated_at = utcnow()
        session.flush()
        audit(
            session,
            actor.user_id,
            AuditAction.CONFIG_CHANGE,
            "questionnaire",
            str(questionnaire_id),
            {"archived": True},
        )
    return questionnaire


# --- answers -----------------------------------------------------------------------------


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
        allowed = {o["value"] for o in _options(question)}
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
    questionnaire = _find(session, questionnaire_id)
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


# --- results -----------------------------------------------------------------------------


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def results(
    session: Session, actor: Actor, questionnaire_id: int, *, open_limit: int = OPEN_ANSWERS_SHOWN
) -> ResultsOut:
    """The results of a questionnaire over the responses the actor may see.

    ``respondents``: responses; per question ``answered``: responses answering it; per option
    ``count`` and ``share`` = count ÷ answered — for multiple choice that is the share of
    respondents choosing the option (shares add up to more than 1), not of all selections;
    the latest ``open_limit`` open answers; ``completion_rate``: responses answering every
    question ÷ respondents.
    """
    actor.require(*RESULT_VIEWERS)
    _find(session, questionnaire_id)
    visible = (
        SurveyResponse.questionnaire_id == questionnaire_id,
        user_scope_clause(actor, SurveyResponse.user_id),
    )
    respondents, complete = session.execute(
        select(
            func.count(), func.coalesce(func.sum(case((SurveyResponse.complete, 1), else_=0)), 0)
        ).where(*visible)
    ).one()
    answered = dict(
        session.execute(
            select(SurveyAnswer.question_id, func.count(func.distinct(SurveyAnswer.response_id)))
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(*visible)
            .group_by(SurveyAnswer.question_id)
        ).all()
    )
    counts: dict[tuple[int, str], int] = {
        (qid, value): n
        for qid, value, n in session.execute(
            select(SurveyAnswer.question_id, SurveyAnswer.option_value, func.count())
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(*visible, SurveyAnswer.option_value.is_not(None))
            .group_by(SurveyAnswer.question_id, SurveyAnswer.option_value)
        )
        if value is not None
    }
    out: list[QuestionResult] = []
    for question in questions_of(session, questionnaire_id):
        total = int(answered.get(question.id, 0))
        open_answers: list[OpenAnswerOut] = []
        if question.kind == "open" and open_limit > 0:
            open_answers = [
                OpenAnswerOut(response_id=rid, answered_at=at, text=text or "")
                for rid, at, text in session.execute(
                    select(SurveyResponse.id, SurveyResponse.answered_at, SurveyAnswer.text)
                    .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
                    .where(*visible, SurveyAnswer.question_id == question.id)
                    .order_by(SurveyResponse.answered_at.desc(), SurveyResponse.id.desc())
                    .limit(open_limit)
                )
            ]
        out.append(
            QuestionResult(
                question_id=question.id,
                position=question.position,
                kind=question.kind,
                text_zh=question.text_zh,
                text_en=question.text_en,
                required=question.required,
                answered=total,
                options=[
                    OptionResult(
                        value=o["value"],
                        label_zh=o["label_zh"],
                        label_en=o.get("label_en"),
                        count=counts.get((question.id, o["value"]), 0),
                        share=_share(counts.get((question.id, o["value"]), 0), total),
                    )
                    for o in _options(question)
                ],
                open_answers=open_answers,
            )
        )
    return ResultsOut(
        questionnaire_id=questionnaire_id,
        respondents=int(respondents),
        complete=int(complete),
        completion_rate=_share(int(complete), int(respondents)),
        questions=out,
    )
