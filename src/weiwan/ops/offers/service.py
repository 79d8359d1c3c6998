"""The policy library as published, and the self-service offers of one subscriber."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weiwan.ops.customers.models import CustomerView, Publication
from weiwan.ops.customers.service import spaced_ids
from weiwan.ops.offers.models import PublishedLimitPrice, PublishedPolicy, PublishedUpliftLevel

SELF_SERVICE = "self_service"


def list_policies(session: Session, *, valid_on: date | None = None) -> Sequence[PublishedPolicy]:
    """Published policies, optionally only those valid on a day."""
    query = select(PublishedPolicy).order_by(PublishedPolicy.policy_id)
    if valid_on is not None:
        query = query.where(
            PublishedPolicy.valid_from <= valid_on, PublishedPolicy.valid_to >= valid_on
        )
    return session.scalars(query).all()


@dataclass(frozen=True)
class LimitPrices:
    """The shadow prices of the limits that bound the latest decided day (``day``; None and
    no prices when none was published): by (limit kind, limit name), yuan."""

    day: date | None
    yuan: dict[tuple[str, str], float]

    @property
    def bound_on(self) -> date | None:
        """The decided day when any limit bound that day, else None."""
        return self.day if self.yuan else None

    def of(self, kind: str, name: str) -> float | None:
        """The price of one more unit of a limit, None when it did not bind."""
        return self.yuan.get((kind, name))


def latest_limit_prices(session: Session) -> LimitPrices:
    """The shadow prices published with the latest decided day (none bound: no prices)."""
    day = _latest_decided_day(session)
    if day is None:
        return LimitPrices(None, {})
    rows = session.execute(
        select(
            PublishedLimitPrice.limit_kind, PublishedLimitPrice.limit_name, PublishedLimitPrice.yuan
        ).where(PublishedLimitPrice.snapshot_date == day)
    )
    return LimitPrices(day, {(kind, name): float(yuan) for kind, name, yuan in rows})


@dataclass(frozen=True)
class UpliftLevels:
    """What the outcomes taught the latest decided day (``day``; None: nothing published),
    per offer type learned; the other types are valued by their priors."""

    day: date | None
    offer_types: dict[str, PublishedUpliftLevel]

    def level(self) -> dict[str, float]:
        """Each learned offer type's level of its prior."""
        return {name: row.level for name, row in self.offer_types.items()}

    def persistence(self) -> dict[str, float]:
        """Each learned offer type's share of its effect that held past the first month."""
        return {name: row.persistence for name, row in self.offer_types.items()}

    def window(self) -> dict[str, float]:
        """Each learned offer type's outcome window, in months."""
        return {name: float(row.window_months) for name, row in self.offer_types.items()}


def latest_uplift_levels(session: Session) -> UpliftLevels:
    """The learned levels published with the latest decided day (none learned: empty)."""
    day = _latest_decided_day(session)
    if day is None:
        return UpliftLevels(None, {})
    rows = session.scalars(
        select(PublishedUpliftLevel)
        .where(PublishedUpliftLevel.snapshot_date == day)
        .order_by(PublishedUpliftLevel.offer_type)
    )
    return UpliftLevels(day, {row.offer_type: row for row in rows})


def _latest_decided_day(session: Session) -> date | None:
    return session.scalar(
        select(func.max(Publication.snapshot_date)).where(Publication.kind == "decisions")
    )


def policy_names(session: Session, language: str) -> dict[str, str]:
    """Every published policy's name in ``language`` (``zh…`` or ``en``), by id."""
    rows = session.execute(
        select(PublishedPolicy.policy_id, PublishedPolicy.name_zh, PublishedPolicy.name_en)
    )
    return {pid: (zh if language.startswith("zh") else en or zh) for pid, zh, en in rows}


def self_service_offers(
    session: Session, customer: CustomerView, today: date
) -> Sequence[PublishedPolicy]:
    """Policies the customer may get today that are offered in self-service (特惠专区), the
    ones already accepted included (``contacts.orders.orderable_offers`` leaves them out)."""
    ids = spaced_ids(customer.eligible_policies)
    if not ids:
        return []
    return [
        p
        for p in session.scalars(
            select(PublishedPolicy)
            .where(
                PublishedPolicy.policy_id.in_(ids),
                PublishedPolicy.valid_from <= today,
                PublishedPolicy.valid_to >= today,
            )
            .order_by(PublishedPolicy.total_cost.desc(), PublishedPolicy.policy_id)
        )
        if SELF_SERVICE in p.channels.split()
    ]
