"""The questionnaire library: build, install, change, clone, archive, list, show.

Who may do what (see docs/surveys-and-sms.md; answers are in ``answers.py``, results in
``results.py``):

* building (create, update, clone, archive): centre head, director, shift lead — the roles
  that plan campaigns or run the floor; every change is audited as ``config_change``;
* changing or archiving an existing questionnaire: its owner is its creator, and a builder
  may change it when the creator's work is in the builder's scope, as everywhere else
  (``user_scope_clause``): the director any, a centre head those built by users of their
  branches, a shift lead their own and their team's; otherwise 403 and nothing changes. A
  questionnaire without a creator is changed by the director only. Cloning stays open to
  every builder (the copy is the cloner's own);
* reading questionnaires: everyone (agents need them to ask the questions).

The helpers the answers and the results share (``find_questionnaire``, ``questions_of``,
``question_options``) live here, with the questionnaires they read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from weiwan.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from weiwan.ops.base import utcnow
from weiwan.ops.org.access import Actor
from weiwan.ops.org.models import User
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.scope import user_scope_clause
from weiwan.ops.surveys.models import Question, Questionnaire, SurveyResponse
from weiwan.ops.surveys.schemas import (
    CloneIn,
    OptionOut,
    QuestionIn,
    QuestionnaireIn,
    QuestionnaireOut,
    QuestionnaireUpdate,
    QuestionOut,
)

BUILDERS = (Role.CENTRE_HEAD, Role.DIRECTOR, Role.SHIFT_LEAD)


def find_questionnaire(
    session: Session, questionnaire_id: int, *, lock: bool = False
) -> Questionnaire:
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


def question_options(question: Question) -> list[dict[str, Any]]:
    """The options of a question (value, label_zh, label_en) in order."""
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
                options=[OptionOut(**o) for o in question_options(q)],
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
    return find_questionnaire(session, questionnaire_id)


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


def _audit_change(
    session: Session, user_id: int | None, questionnaire_id: int, detail: dict[str, Any]
) -> None:
    """Audit a change of a questionnaire as ``config_change`` of ``user_id``."""
    audit(
        session,
        user_id,
        AuditAction.CONFIG_CHANGE,
        "questionnaire",
        str(questionnaire_id),
        detail,
    )


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
    _audit_change(
        session,
        user_id,
        questionnaire.id,
        {"created": data.title_zh, "questions": len(data.questions)},
    )
    return questionnaire


def update_questionnaire(
    session: Session, actor: Actor, questionnaire_id: int, data: QuestionnaireUpdate
) -> Questionnaire:
    """Change titles or description; replace the questions unless the questionnaire is in use
    (then :class:`ConflictError`: clone it instead). Archived questionnaires are read-only."""
    actor.require(*BUILDERS)
    questionnaire = find_questionnaire(session, questionnaire_id, lock=True)
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
    _audit_change(
        session,
        actor.user_id,
        questionnaire_id,
        {"updated": sorted(changed) + (["questions"] if data.questions is not None else [])},
    )
    return questionnaire


def clone_questionnaire(
    session: Session, actor: Actor, questionnaire_id: int, data: CloneIn | None = None
) -> Questionnaire:
    """A new active questionnaire with the same questions (archived ones may be cloned)."""
    actor.require(*BUILDERS)
    original = find_questionnaire(session, questionnaire_id)
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
    _audit_change(session, actor.user_id, clone.id, {"cloned_from": original.id})
    return clone


def archive_questionnaire(session: Session, actor: Actor, questionnaire_id: int) -> Questionnaire:
    """Archive: no new answers, results kept (idempotent)."""
    actor.require(*BUILDERS)
    questionnaire = find_questionnaire(session, questionnaire_id, lock=True)
    require_owner_scope(session, actor, questionnaire)
    if questionnaire.status != "archived":
        questionnaire.status = "archived"
        questionnaire.updated_at = utcnow()
        session.flush()
        _audit_change(session, actor.user_id, questionnaire_id, {"archived": True})
    return questionnaire
