"""The erasures made (who, when, why, the pseudonym: never the erased values) and the salt
that makes a subscriber's pseudonym and digest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from weiwan.ops.base import Base, UTCDateTime, utcnow


class Erasure(Base):
    """One erased subscriber: ``digest`` (salted SHA-256 of the id) recognises them again —
    a second erasure, a later delivery — without keeping the id; ``pseudonym`` replaced the id
    wherever rows stay for the aggregates. ``rows`` is JSON: rows changed per table."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    rows: Mapped[str] = mapped_column(Text, default="{}")


class PseudonymSalt(Base):
    """The installation's secret salt of pseudonyms (one row, made at the first erasure)."""

    __tablename__ = "pseudonym_salt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))
