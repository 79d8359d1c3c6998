"""One subscriber's personal data in the operational database: the report and the erasure.

Both walk the registry of personal-data places (``core.personal_data``). The report counts
the subscriber's rows per place and says what is held, why and for how long; the erasure
replaces the subscriber's id with a stable pseudonym wherever rows stay for the aggregates
(counts by day, channel and outcome do not change), blanks the personal fields, deletes the
rows that serve nobody once the person is gone, and pseudonymises the person in the audit
trail (the events stay). One transaction, audited with the pseudonym; erasing again changes
nothing more. Who: the report for the administrator and the director (numbers masked per
ADR 0002), the erasure for the administrator.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.engine import Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from weiwan.core.errors import ConfigError, InvalidRequestError, NotFoundError
from weiwan.core.personal_data import (
    OPS_PLACES,
    PURPOSES,
    REDACTED,
    WAREHOUSE_PLACES,
    Place,
    digest,
    pseudonym_of,
)
from weiwan.core.retention import RetentionRules
from weiwan.ops.base import Base
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role, Scope
from weiwan.ops.org.service import AuditAction, audit, mask_id_number, mask_phone
from weiwan.ops.privacy.ledger import Ledger, record_erasure
from weiwan.ops.privacy.models import Erasure, PseudonymSalt
from weiwan.ops.scope import customer_scope_clause

#: who may read a subscriber's personal-data report
REPORT_ROLES = (Role.ADMIN, Role.DIRECTOR)
#: longest erasure reason kept
MAX_REASON = 500


@dataclass
class PlaceReport:
    """What one place holds about the subscriber."""

    store: str
    table: str
    kind: str
    purpose: str
    purpose_zh: str
    purpose_en: str
    fields: list[str]
    retention_months: int | None
    rows: int | None  # None: not counted here (the warehouse, from the request path)


@dataclass
class PersonalDataReport:
    """The personal-data report of one subscriber (个人信息报告)."""

    subscriber_id: str
    erased: bool
    subject: dict[str, Any] = field(default_factory=dict)
    places: list[PlaceReport] = field(default_factory=list)


@dataclass
class ErasureResult:
    """What an erasure did: the pseudonym and the rows changed per table (none: already done)."""

    pseudonym: str
    digest: str
    salt: str
    rows: dict[str, int]
    already_erased: bool


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def salt_of(session: Session) -> str:
    """The installation's pseudonym salt, made (random, 256 bits) at the first use."""
    found = session.scalar(select(PseudonymSalt.salt).where(PseudonymSalt.id == 1))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(PseudonymSalt(id=1, salt=secrets.token_hex(32)))
    except IntegrityError:  # made by a concurrent first erasure
        pass
    made = session.scalar(select(PseudonymSalt.salt).where(PseudonymSalt.id == 1))
    assert made is not None
    return made


def erasure_of(session: Session, subscriber_id: str) -> Erasure | None:
    """The erasure of ``subscriber_id``, if the subscriber was erased."""
    salt = session.scalar(select(PseudonymSalt.salt).where(PseudonymSalt.id == 1))
    if salt is None:
        return None
    return session.scalar(select(Erasure).where(Erasure.digest == digest(salt, subscriber_id)))


def _match(place: Place, subscriber_id: str, msisdn: str | None) -> ColumnElement[bool]:
    """The rows of ``place`` about the subscriber (through the parent for a child table)."""
    table = _table(place.table)
    if place.via is not None:
        parent = OPS_PLACES_BY_TABLE[place.via.parent]
        parent_table = _table(parent.table)
        ids = select(parent_table.c[place.via.key]).where(_match(parent, subscriber_id, msisdn))
        return table.c[place.via.column].in_(ids)
    assert place.subscriber_column is not None
    if place.table == "audit_events":
        return table.c.target_id == subscriber_id
    own = table.c[place.subscriber_column] == subscriber_id
    column = table.c[place.subscriber_column]
    if msisdn and "msisdn" in table.c and column.nullable:
        # an event may name the subscriber by number only (a row with another subscriber's id
        # keeps it: numbers are recycled)
        return or_(own, and_(column.is_(None), table.c.msisdn == msisdn))
    return own


OPS_PLACES_BY_TABLE: dict[str, Place] = {p.table: p for p in OPS_PLACES}


def _mask_name(name: str, role: Role) -> str:
    return name if role in (Role.DIRECTOR,) else name[:1] + "*" * max(len(name) - 1, 1)


def personal_data_report(
    session: Session,
    actor: Actor | None,
    subscriber_id: str,
    rules: RetentionRules,
    *,
    held_elsewhere: bool = False,
) -> PersonalDataReport:
    """What the operational database holds about ``subscriber_id``, per place, with why and
    for how long (warehouse places listed, not counted: ``rows`` None). ``actor`` None: the
    administrator on the server (CLI), numbers masked as for the admin role. Audited as a
    personal-data export; 404 when nothing is held (and not ``held_elsewhere``: the CLI
    found warehouse rows) or the customer is outside the scope."""
    role = actor.role if actor is not None else Role.ADMIN
    if actor is not None:
        actor.require(*REPORT_ROLES)
    card = session.scalar(select(CustomerView).where(CustomerView.subscriber_id == subscriber_id))
    if actor is not None and actor.scope is not Scope.ALL:
        in_scope = session.scalar(
            select(CustomerView.subscriber_id).where(
                CustomerView.subscriber_id == subscriber_id, customer_scope_clause(actor)
            )
        )
        if in_scope is None:
            raise NotFoundError(f"customer {subscriber_id} not found")
    msisdn = card.msisdn if card is not None else None
    report = PersonalDataReport(
        subscriber_id, erased=erasure_of(session, subscriber_id) is not None
    )
    if card is not None:
        report.subject = {
            "msisdn": mask_phone(card.msisdn, role) if card.msisdn else None,
            "name": _mask_name(card.name, role) if card.name else None,
            "id_number": mask_id_number(card.id_number, role) if card.id_number else None,
            "snapshot_date": card.snapshot_date.isoformat(),
        }
    held = 0
    for place in (*OPS_PLACES, *WAREHOUSE_PLACES):
        rows: int | None = None
        if place.store == "ops":
            rows = int(
                session.scalar(
                    select(func.count())
                    .select_from(_table(place.table))
                    .where(_match(place, subscriber_id, msisdn))
                )
                or 0
            )
            held += rows
        purpose = PURPOSES[place.purpose]
        report.places.append(
            PlaceReport(
                store=place.store,
                table=place.table,
                kind=place.kind,
                purpose=place.purpose,
                purpose_zh=purpose.zh,
                purpose_en=purpose.en,
                fields=list(place.fields),
                retention_months=rules.months(place.kind),
                rows=rows,
            )
        )
    if not held and card is None and not held_elsewhere:
        raise NotFoundError(f"customer {subscriber_id} not found")
    audit(
        session,
        actor.user_id if actor is not None else None,
        AuditAction.EXPORT,
        "customer",
        subscriber_id,
        {"kind": "personal_data_report", "rows": held},
    )
    return report


def _rows(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _erase_rows(
    session: Session, subscriber_id: str, msisdn: str | None, pseudonym: str
) -> dict[str, int]:
    """Erase the subscriber in every ops place; child tables first (they find their rows
    through the parent's subscriber id, which the parent's pass replaces)."""
    counts: dict[str, int] = {}
    ordered = sorted(OPS_PLACES, key=lambda p: p.via is None)
    for place in ordered:
        table = _table(place.table)
        where = _match(place, subscriber_id, msisdn)
        if place.table == "audit_events":
            continue
        if place.on_erase == "delete":
            changed = _rows(session.execute(delete(table).where(where)))
        else:
            values: dict[str, Any] = dict(place.erase)
            if place.subscriber_column is not None:
                values[place.subscriber_column] = pseudonym
            if not values:
                continue
            changed = _rows(
                session.execute(
                    update(table)
                    .where(where)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            )
        if changed:
            counts[place.table] = counts.get(place.table, 0) + int(changed)
    # the audit trail: the events stay; the person in them becomes the pseudonym
    events = _table("audit_events")
    changed = _rows(
        session.execute(
            update(events).where(events.c.target_id == subscriber_id).values(target_id=pseudonym)
        )
    )
    for value, replacement in ((subscriber_id, pseudonym), (msisdn, REDACTED)):
        if not value:
            continue
        quoted = _quoted(value)
        changed += _rows(
            session.execute(
                update(events)
                .where(events.c.detail.contains(quoted, autoescape=True))
                .values(detail=func.replace(events.c.detail, quoted, _quoted(replacement)))
            )
        )
    if changed:
        counts["audit_events"] = int(changed)
    return counts


def erase_subscriber(
    session: Session,
    actor: Actor | None,
    subscriber_id: str,
    reason: str,
    *,
    held_elsewhere: bool = False,
    ledger: Path | None = None,
) -> ErasureResult:
    """Erase ``subscriber_id`` from the operational database (one transaction: the caller's).

    Rows kept for the aggregates get the pseudonym; personal fields are blanked; the
    customer's card, assignment and lock are deleted. Recorded in ``erasures`` (who, when,
    reason, pseudonym, rows per table) and audited under the pseudonym. Erasing again changes
    nothing more (rows of the subscriber that arrived since are erased and audited). 404 when
    nothing is held here and not ``held_elsewhere`` (the CLI found warehouse rows). A new
    erasure is appended to the erasure ``ledger`` (``ops.privacy.ledger``) before the caller
    commits."""
    if actor is not None:
        actor.require(Role.ADMIN)
    reason = reason.strip()
    if not reason:
        raise InvalidRequestError(
            "reason: give the reason for the erasure (e.g. the request's reference)"
        )
    if len(reason) > MAX_REASON:
        raise InvalidRequestError(f"reason: at most {MAX_REASON} characters")
    subscriber_id = subscriber_id.strip()
    if not subscriber_id or len(subscriber_id) > 32:
        raise InvalidRequestError("subscriber_id: 1 to 32 characters")
    salt = salt_of(session)
    key = digest(salt, subscriber_id)
    pseudonym = pseudonym_of(salt, subscriber_id)
    msisdn = session.scalar(
        select(CustomerView.msisdn).where(CustomerView.subscriber_id == subscriber_id)
    )
    done = session.scalar(select(Erasure).where(Erasure.digest == key))
    counts = _erase_rows(session, subscriber_id, msisdn or None, pseudonym)
    if done is None and not counts and not held_elsewhere:
        raise NotFoundError(f"customer {subscriber_id} not found")
    user_id = actor.user_id if actor is not None else None
    if done is None:
        session.add(
            Erasure(
                digest=key,
                pseudonym=pseudonym,
                erased_by=user_id,
                reason=reason,
                rows=json.dumps(counts, sort_keys=True),
            )
        )
        if ledger is not None:
            record_erasure(ledger, salt, key, pseudonym)
    if counts or done is None:
        audit(
            session,
            user_id,
            AuditAction.ERASURE,
            "subscriber",
            pseudonym,
            {"reason": reason, "rows": counts, "again": done is not None},
        )
    session.flush()
    return ErasureResult(pseudonym, key, salt, counts, already_erased=done is not None)


def erasure_feed(session: Session) -> tuple[str | None, list[tuple[str, str]]]:
    """The salt and every erasure's (digest, pseudonym): what the warehouse needs to erase
    the same subscribers and to drop them from later deliveries (``pipeline.collect``)."""
    salt = session.scalar(select(PseudonymSalt.salt).where(PseudonymSalt.id == 1))
    rows = session.execute(select(Erasure.digest, Erasure.pseudonym).order_by(Erasure.id))
    return salt, [(d, p) for d, p in rows]


#: why :func:`reapply_erasures` erased again, in its audit: after ``weiwan restore``, or found
#: missing by the daily run (a database put back by other means)
AFTER_RESTORE = "after a restore"
BEFORE_DAILY_RUN = "missing when the daily run started"


def reapply_erasures(
    session: Session, ledger: Ledger, when: str = AFTER_RESTORE
) -> list[tuple[str, str]]:
    """Erase again, after a restore (``when``: said in the audit), every subscriber of the
    erasure ``ledger`` the restored database does not know as erased (the backup predates
    their erasure): found by their salted digest among the ids the database holds, erased
    and audited as any erasure; one the database does not hold is recorded, so the warehouse
    and later deliveries drop them.
    Returns the (digest, pseudonym) of the erasures re-applied. A ledger of another
    installation (another salt) is refused before anything changes."""
    if ledger.salt is None:
        if ledger.erasures:
            raise ConfigError("the erasure ledger names no salt: it cannot be matched")
        return []
    held = session.scalar(select(PseudonymSalt.salt).where(PseudonymSalt.id == 1))
    if held is not None and held != ledger.salt:
        raise ConfigError(
            "the erasure ledger belongs to another installation (its salt differs from the "
            "restored database's): nothing re-applied"
        )
    if held is None:  # a backup made before the first erasure
        session.add(PseudonymSalt(id=1, salt=ledger.salt))
        session.flush()
    known = set(session.scalars(select(Erasure.digest)))
    missing = {d: p for d, p in ledger.erasures if d not in known}
    if not missing:
        return []
    found = _held_ids(session, ledger.salt, set(missing))
    for key, pseudonym in missing.items():
        reason = f"re-applied from the erasure ledger {when} ({pseudonym})"
        if key in found:
            erase_subscriber(session, None, found[key], reason, held_elsewhere=True)
        else:
            session.add(Erasure(digest=key, pseudonym=pseudonym, reason=reason, rows="{}"))
    session.flush()
    return list(missing.items())


def _held_ids(session: Session, salt: str, digests: set[str]) -> dict[str, str]:
    """The subscriber ids the operational database holds in a personal-data place whose
    salted digest is one of ``digests``, by digest: each place's distinct ids streamed, not
    held (a province's contacts name tens of millions), until every digest is found."""
    found: dict[str, str] = {}
    for place in OPS_PLACES:
        if place.subscriber_column is None or place.table == "audit_events":
            continue
        column = _table(place.table).c[place.subscriber_column]
        rows = session.execute(
            select(column).distinct().execution_options(yield_per=50_000)
        ).scalars()
        for subscriber_id in rows:
            key = digest(salt, str(subscriber_id)) if subscriber_id is not None else None
            if key in digests:
                found[key] = str(subscriber_id)
        if len(found) == len(digests):
            break
    return found
