"""The results of a questionnaire over the answers the viewer may see.

The builders and analysts see them, over the answers recorded by users whose work they see
(director and analyst: all; centre head: the branch's users; shift lead: the team); see
docs/surveys-and-sms.md.
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.scope import user_scope_clause
from weiwan.ops.surveys.library import (
    BUILDERS,
    find_questionnaire,
    question_options,
    questions_of,
)
from weiwan.ops.surveys.models import SurveyAnswer, SurveyResponse
from weiwan.ops.surveys.schemas import OpenAnswerOut, OptionResult, QuestionResult, ResultsOut

RESULT_VIEWERS = (*BUILDERS, Role.ANALYST)
OPEN_ANSWERS_SHOWN = 20


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
    find_questionnaire(session, questionnaire_id)
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
                    for o in question_options(question)
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
