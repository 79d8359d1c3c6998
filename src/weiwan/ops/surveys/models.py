"""Questionnaires, their ordered questions, and the answers recorded on contacts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow

QUESTIONNAIRE_STATUSES = ("active", "archived")
QUESTION_KINDS = ("single", "multiple", "open")


class Questionnaire(Base):
    """A questionnaire (问卷). Once it has answers its questions are frozen: clone it to change
    them. ``archived`` ones take no new answers but keep their results."""

    __tablename__ = "questionnaires"
    __table_args__ = (CheckConstraint(f"status IN {QUESTIONNAIRE_STATUSES!r}", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    cloned_from_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaires.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Question(Base):
    """One question at ``position`` (1, 2, …). ``options`` is a JSON list of
    ``{"value", "label_zh", "label_en"}`` for single and multiple choice, ``[]`` for open."""

    __tablename__ = "questionnaire_questions"
    __table_args__ = (
        CheckConstraint(f"kind IN {QUESTION_KINDS!r}", name="kind"),
        UniqueConstraint("questionnaire_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str | None] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[str] = mapped_column(Text, default="[]")


class SurveyResponse(Base):
    """The answers of one contact to one questionnaire; re-submitting replaces its answers.
    ``complete``: every question (required or not) was answered."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("contact_id", "questionnaire_id"),
        Index("ix_survey_responses_questionnaire_at", "questionnaire_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    subscriber_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)


class SurveyAnswer(Base):
    """One answer item: a chosen option (one row per option of a multiple choice) or the text
    of an open question."""

    __tablename__ = "survey_answers"
    __table_args__ = (Index("ix_survey_answers_question_option", "question_id", "option_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_questions.id"))
    option_value: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
