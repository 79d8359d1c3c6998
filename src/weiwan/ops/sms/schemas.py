"""Shapes of SMS templates, sends, messages and delivery receipts at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from weiwan.ops.types import IdField

Language = Literal["zh", "en"]
#: a template's purpose (``sms.models.TEMPLATE_PURPOSES``)
TemplatePurpose = Literal["marketing", "service"]
MAX_BODY = 1000
MAX_BULK = 100_000
MAX_RECEIPTS = 1000
MAX_REPLIES = 1000


class TemplateIn(BaseModel):
    """A new template."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    body_zh: str = Field(min_length=1, max_length=MAX_BODY)
    body_en: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)
    free_variables: list[str] = Field(default_factory=list, max_length=20)
    #: marketing (stopped by an unsubscribe) or service (bills, care notices: still sent)
    purpose: TemplatePurpose = "marketing"


class TemplateUpdate(BaseModel):
    """Changes to a template (omitted fields stay); messages already made keep their text."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    body_zh: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)
    body_en: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)
    free_variables: list[str] | None = Field(default=None, max_length=20)
    active: bool | None = None
    purpose: TemplatePurpose | None = None


class LengthOut(BaseModel):
    """Length as the network counts it."""

    characters: int
    encoding: str
    segments: int


class TemplateOut(BaseModel):
    """A template, the variables it uses, and the length of its fixed text (placeholders
    removed: a lower bound; preview a customer for the real length)."""

    id: int
    name: str
    body_zh: str
    body_en: str | None
    free_variables: list[str]
    customer_fields: list[str]
    active: bool
    purpose: str
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    fixed_length_zh: LengthOut
    fixed_length_en: LengthOut | None


class PreviewIn(BaseModel):
    """Render a template for one customer."""

    model_config = ConfigDict(extra="forbid")

    subscriber_id: str = Field(min_length=1, max_length=32)
    variables: dict[str, str] = Field(default_factory=dict)
    language: Language = "zh"


class PreviewOut(BaseModel):
    """The text a customer would get."""

    body: str
    length: LengthOut


class SendIn(BaseModel):
    """One message to one customer: a template (with its free variables) or a free text."""

    model_config = ConfigDict(extra="forbid")

    subscriber_id: str = Field(min_length=1, max_length=32)
    template_id: IdField | None = None
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)
    variables: dict[str, str] = Field(default_factory=dict)
    language: Language = "zh"
    #: the customer's active acceptance this message confirms: sent whatever the caps say
    acceptance_id: IdField | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SendIn:
        if (self.template_id is None) == (self.body is None):
            raise ValueError("give template_id or body (one of them)")
        if self.body is not None and self.variables:
            raise ValueError("a free text has no variables")
        return self


class BulkIn(BaseModel):
    """A template to many subscribers, for a campaign or an alert."""

    model_config = ConfigDict(extra="forbid")

    template_id: IdField
    subscriber_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_BULK)
    campaign_id: IdField | None = None
    alert_rule: str | None = Field(default=None, max_length=64)
    variables: dict[str, str] = Field(default_factory=dict)
    language: Language = "zh"

    @model_validator(mode="after")
    def _recipients(self) -> BulkIn:
        if self.subscriber_ids is None and self.campaign_id is None:
            raise ValueError("give subscriber_ids, or a campaign_id to send to its treated members")
        return self


class BulkOut(BaseModel):
    """What a bulk send did with each requested subscriber."""

    requested: int
    queued: int
    scheduled: int
    blocked: int
    blocked_by_reason: dict[str, int]
    skipped_by_reason: dict[str, int]
    message_ids_sample: list[int]


class MessageOut(BaseModel):
    """A message as listed (the number masked unless the role may see it)."""

    id: int
    subscriber_id: str
    msisdn: str
    branch_id: int | None
    body: str
    language: str
    segments: int
    template_id: int | None
    campaign_id: int | None
    alert_rule: str | None
    contact_id: int
    status: str
    blocked_reason: str | None
    #: marketing or service (an objection to marketing SMS stops only marketing messages)
    purpose: str = "marketing"
    scheduled_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    error: str | None
    created_by: int | None
    created_at: datetime


class DispatchOut(BaseModel):
    """What one dispatch run did (``unknown``: answer lost, may have gone out; ``reconciled``:
    messages found stuck in ``sending`` and marked ``unknown``; ``error``: why it stopped)."""

    sent: int
    failed: int
    unknown: int = 0
    reconciled: int = 0
    #: waiting marketing messages withheld: their subscriber objected since they were queued
    withheld: int = 0
    error: str | None = None


class ReceiptIn(BaseModel):
    """One delivery receipt from the gateway."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=1, max_length=100)
    status: Literal["delivered", "failed"]
    at: datetime | None = None
    error: str | None = Field(default=None, max_length=500)


class ReceiptsIn(BaseModel):
    """A batch of delivery receipts."""

    model_config = ConfigDict(extra="forbid")

    receipts: list[ReceiptIn] = Field(min_length=1, max_length=MAX_RECEIPTS)


class ReceiptsOut(BaseModel):
    """How many receipts changed a message; gateway ids we do not know."""

    updated: int
    unchanged: int
    unknown: list[str]


class ReplyIn(BaseModel):
    """One SMS a subscriber sent back, as the gateway received it: its message id, the sender
    (``msisdn`` or, when the gateway knows it, ``subscriber_id``), the text and when it came
    (ISO 8601 with its UTC offset)."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=1, max_length=100)
    msisdn: str | None = Field(default=None, min_length=1, max_length=20)
    subscriber_id: str | None = Field(default=None, min_length=1, max_length=32)
    text: str = Field(max_length=1000)
    received_at: AwareDatetime

    @model_validator(mode="after")
    def _one_sender(self) -> ReplyIn:
        if (self.msisdn is None) == (self.subscriber_id is None):
            raise ValueError("give msisdn or subscriber_id (one of them)")
        return self


class RepliesIn(BaseModel):
    """A batch of SMS replies."""

    model_config = ConfigDict(extra="forbid")

    replies: list[ReplyIn] = Field(min_length=1, max_length=MAX_REPLIES)


#: what became of one reply (see :class:`ReplyOut`)
ReplyResult = Literal["unsubscribed", "stored", "duplicate", "unknown_subscriber"]


class ReplyOut(BaseModel):
    """What became of one reply: ``unsubscribed`` (an objection to marketing SMS recorded),
    ``stored`` (kept, not acted on), ``duplicate`` (this message id came before) or
    ``unknown_subscriber`` (no customer has that number or id: not kept)."""

    message_id: str
    result: ReplyResult


class RepliesOut(BaseModel):
    """Each reply's result, in the batch's order, and the count of unsubscribes recorded."""

    unsubscribed: int
    results: list[ReplyOut]
