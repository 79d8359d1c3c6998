"""Shapes of questionnaires, answers and results at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from weiwan.ops.types import IdField

QuestionKind = Literal["single", "multiple", "open"]
MAX_QUESTIONS = 100
MAX_OPTIONS = 30
MAX_OPEN_ANSWER = 2000


class OptionIn(BaseModel):
    """One choice: the stored ``value`` and its labels."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    label_zh: str = Field(min_length=1, max_length=200)
    label_en: str | None = Field(default=None, max_length=200)


class QuestionIn(BaseModel):
    """One question; choice questions need two or more options with distinct values, open
    questions none."""

    model_config = ConfigDict(extra="forbid")

    kind: QuestionKind
    text_zh: str = Field(min_length=1, max_length=1000)
    text_en: str | None = Field(default=None, max_length=1000)
    required: bool = True
    options: list[OptionIn] = Field(default_factory=list, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _options_fit_kind(self) -> QuestionIn:
        if self.kind == "open":
            if self.options:
                raise ValueError("an open question has no options")
            return self
        if len(self.options) < 2:
            raise ValueError(f"a {self.kind} choice question needs at least two options")
        values = [o.value for o in self.options]
        if len(set(values)) != len(values):
            raise ValueError("option values must be distinct")
        return self


class QuestionnaireIn(BaseModel):
    """A new questionnaire: titles and the questions in order."""

    model_config = ConfigDict(extra="forbid")

    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    questions: list[QuestionIn] = Field(min_length=1, max_length=MAX_QUESTIONS)


class QuestionnaireUpdate(BaseModel):
    """Changes to a questionnaire; ``questions`` replaces all questions (refused once the
    questionnaire has answers)."""

    model_config = ConfigDict(extra="forbid")

    title_zh: str | None = Field(default=None, min_length=1, max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    questions: list[QuestionIn] | None = Field(default=None, min_length=1, max_length=MAX_QUESTIONS)


class CloneIn(BaseModel):
    """Titles of a clone (default: the original's with a suffix)."""

    model_config = ConfigDict(extra="forbid")

    title_zh: str | None = Field(default=None, min_length=1, max_length=200)
    title_en: str | None = Field(default=None, max_length=200)


class OptionOut(BaseModel):
    """A choice."""

    value: str
    label_zh: str
    label_en: str | None = None


class QuestionOut(BaseModel):
    """A question as stored."""

    id: int
    position: int
    kind: str
    text_zh: str
    text_en: str | None
    required: bool
    options: list[OptionOut]


class QuestionnaireOut(BaseModel):
    """A questionnaire with its questions; ``in_use``: it has answers (questions frozen)."""

    id: int
    title_zh: str
    title_en: str | None
    description: str | None
    status: str
    cloned_from_id: int | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    in_use: bool
    questions: list[QuestionOut]


class QuestionnaireRow(BaseModel):
    """A questionnaire in a list."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title_zh: str
    title_en: str | None
    status: str
    cloned_from_id: int | None
    created_at: datetime
    updated_at: datetime


class AnswerIn(BaseModel):
    """The answer to one question: an option value (single), a list of option values
    (multiple) or a text (open); ``null`` or omitted for an unanswered optional question."""

    model_config = ConfigDict(extra="forbid")

    question_id: IdField
    value: str | list[str] | None = None


class AnswersIn(BaseModel):
    """Answers of one contact to one questionnaire."""

    model_config = ConfigDict(extra="forbid")

    questionnaire_id: IdField
    answers: list[AnswerIn] = Field(max_length=MAX_QUESTIONS)


class ResponseOut(BaseModel):
    """Recorded answers: per question id, the option value(s) or the text."""

    id: int
    questionnaire_id: int
    contact_id: int
    subscriber_id: str
    user_id: int | None
    answered_at: datetime
    complete: bool
    answers: dict[int, str | list[str]]


class OptionResult(BaseModel):
    """How many chose an option; ``share`` of those who answered the question."""

    value: str
    label_zh: str
    label_en: str | None
    count: int
    share: float | None


class OpenAnswerOut(BaseModel):
    """One text answer."""

    response_id: int
    answered_at: datetime
    text: str


class QuestionResult(BaseModel):
    """The results of one question."""

    question_id: int
    position: int
    kind: str
    text_zh: str
    text_en: str | None
    required: bool
    answered: int
    options: list[OptionResult]
    open_answers: list[OpenAnswerOut]


class ResultsOut(BaseModel):
    """A questionnaire's results within the caller's view."""

    questionnaire_id: int
    respondents: int
    complete: int
    completion_rate: float | None
    questions: list[QuestionResult]
