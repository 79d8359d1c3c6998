"""Routes: questionnaires (list, get, build, change, clone, archive, results) and the answers
recorded on a contact."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from weiwan.ops.deps import CurrentActor, Db
from weiwan.ops.surveys import library
from weiwan.ops.surveys.answers import answers_of_contact, record_answers, response_out
from weiwan.ops.surveys.models import Questionnaire
from weiwan.ops.surveys.results import OPEN_ANSWERS_SHOWN
from weiwan.ops.surveys.results import results as questionnaire_results
from weiwan.ops.surveys.schemas import (
    AnswersIn,
    CloneIn,
    QuestionnaireIn,
    QuestionnaireOut,
    QuestionnaireRow,
    QuestionnaireUpdate,
    ResponseOut,
    ResultsOut,
)
from weiwan.ops.types import IdPath

router = APIRouter(tags=["questionnaires"])


@router.get("/questionnaires", response_model=list[QuestionnaireRow])
def questionnaires(
    actor: CurrentActor,
    db: Db,
    status: Annotated[Literal["active", "archived", "all"], Query()] = "active",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Questionnaire]:
    """Questionnaires, newest first."""
    wanted = None if status == "all" else status
    return list(library.list_questionnaires(db, wanted, limit, offset))


@router.post("/questionnaires", response_model=QuestionnaireOut, status_code=201)
def create(body: QuestionnaireIn, actor: CurrentActor, db: Db) -> QuestionnaireOut:
    """Build a questionnaire (centre head, director, shift lead)."""
    return library.questionnaire_out(db, library.create_questionnaire(db, actor, body))


@router.get("/questionnaires/{questionnaire_id}", response_model=QuestionnaireOut)
def questionnaire(questionnaire_id: IdPath, actor: CurrentActor, db: Db) -> QuestionnaireOut:
    """One questionnaire with its questions."""
    return library.questionnaire_out(db, library.get_questionnaire(db, questionnaire_id))


@router.patch(
    "/questionnaires/{questionnaire_id}",
    response_model=QuestionnaireOut,
    responses={409: {"description": "archived, or in use and the questions were to change"}},
)
def update(
    questionnaire_id: IdPath, body: QuestionnaireUpdate, actor: CurrentActor, db: Db
) -> QuestionnaireOut:
    """Change titles, or replace the questions while nobody has answered yet."""
    row = library.update_questionnaire(db, actor, questionnaire_id, body)
    return library.questionnaire_out(db, row)


@router.post(
    "/questionnaires/{questionnaire_id}/clone", response_model=QuestionnaireOut, status_code=201
)
def clone(
    questionnaire_id: IdPath, actor: CurrentActor, db: Db, body: CloneIn | None = None
) -> QuestionnaireOut:
    """A new questionnaire with the same questions."""
    return library.questionnaire_out(
        db, library.clone_questionnaire(db, actor, questionnaire_id, body)
    )


@router.post("/questionnaires/{questionnaire_id}/archive", response_model=QuestionnaireOut)
def archive(questionnaire_id: IdPath, actor: CurrentActor, db: Db) -> QuestionnaireOut:
    """Archive: no new answers, results kept."""
    return library.questionnaire_out(db, library.archive_questionnaire(db, actor, questionnaire_id))


@router.get("/questionnaires/{questionnaire_id}/results", response_model=ResultsOut)
def results(
    questionnaire_id: IdPath,
    actor: CurrentActor,
    db: Db,
    open_limit: Annotated[int, Query(ge=0, le=500)] = OPEN_ANSWERS_SHOWN,
) -> ResultsOut:
    """Respondents, per-option counts and shares, latest open answers, completion rate."""
    return questionnaire_results(db, actor, questionnaire_id, open_limit=open_limit)


@router.post("/contacts/{contact_id}/answers", response_model=ResponseOut, status_code=201)
def answer(contact_id: IdPath, body: AnswersIn, actor: CurrentActor, db: Db) -> ResponseOut:
    """Record the answers of a contact (re-submitting replaces them)."""
    response = record_answers(db, actor, contact_id, body.questionnaire_id, body.answers)
    return response_out(db, response)


@router.get("/contacts/{contact_id}/answers", response_model=list[ResponseOut])
def answers(contact_id: IdPath, actor: CurrentActor, db: Db) -> list[ResponseOut]:
    """The questionnaires answered on a contact."""
    return answers_of_contact(db, actor, contact_id)
