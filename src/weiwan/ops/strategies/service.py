"""Champion–challenger on the operational side: the latest evaluation of the strategy arms,
and promoting a challenger — one audited action that saves decide.yaml with the challenger as
champion and every challenger's share removed (the experiment ends) as the pending edit the
next daily run applies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from weiwan.core.errors import ConflictError, InvalidRequestError, NotFoundError, localisable
from weiwan.core.strategy_rules import Strategies
from weiwan.core.yaml_safe import load_yaml
from weiwan.ops.offers.service import UpliftLevels, latest_uplift_levels
from weiwan.ops.org import config, entry_edit
from weiwan.ops.org.access import Actor
from weiwan.ops.org.roles import Role
from weiwan.ops.org.service import AuditAction, audit
from weiwan.ops.strategies.models import PublishedStrategyArm

#: the decide.yaml rule document
KIND = "decide"
#: who may read the evaluation: the centre's managers, analysts and administrators
READERS = (Role.ADMIN, Role.CENTRE_HEAD, Role.DIRECTOR, Role.ANALYST)


@dataclass(frozen=True)
class Evaluation:
    """The arms as evaluated on the latest day published (``day`` None: never), champion first."""

    day: date | None
    arms: list[PublishedStrategyArm]

    def arm(self, name: str) -> PublishedStrategyArm | None:
        """The row of arm ``name``, if evaluated."""
        return next((a for a in self.arms if a.arm == name), None)


def latest_evaluation(session: Session, actor: Actor) -> Evaluation:
    """The latest published evaluation of the strategy arms (roles of :data:`READERS`)."""
    actor.require(*READERS)
    day = session.scalar(select(func.max(PublishedStrategyArm.snapshot_date)))
    if day is None:
        return Evaluation(None, [])
    rows = session.scalars(
        select(PublishedStrategyArm)
        .where(PublishedStrategyArm.snapshot_date == day)
        .order_by(PublishedStrategyArm.champion.desc(), PublishedStrategyArm.arm)
    ).all()
    return Evaluation(day, list(rows))


def latest_learning(session: Session, actor: Actor) -> UpliftLevels:
    """What the outcomes taught the latest decided day per offer type (roles of
    :data:`READERS`)."""
    actor.require(*READERS)
    return latest_uplift_levels(session)


@dataclass(frozen=True)
class Promotion:
    """A challenger saved as the next champion (in effect from the next daily run)."""

    arm: str
    previous: str
    sha256: str
    significant: bool


def _strategies_of(raw: dict[str, Any]) -> Strategies:
    try:
        return Strategies.model_validate(raw.get("strategies") or {})
    except ValidationError as exc:
        raise InvalidRequestError(
            f"decide.yaml: strategies: {exc.errors()[0]['msg']}", field="strategies"
        ) from None


def promote(
    session: Session, actor: Actor, arm: str, *, reason: str, override: bool = False
) -> Promotion:
    """Make challenger ``arm`` the champion from the next daily run (roles that may configure).

    Refused (409) unless the latest evaluation found it significantly better than the champion,
    or ``override`` is given (then the reason says why). The decide.yaml in effect (or its
    pending edit) is saved as the pending edit with ``champion: arm`` and no challenger share,
    audited as ``config_change`` and as ``strategy_promote`` with the evidence."""
    actor.require_configure()
    if not reason.strip():
        raise InvalidRequestError("say why the challenger is promoted", field="reason")
    raw = load_yaml(entry_edit.document_text(session, actor, KIND))
    if not isinstance(raw, dict):
        raise InvalidRequestError("decide.yaml: expected a mapping of sections at the top")
    strategies = _strategies_of(raw)
    if arm not in strategies.arms:
        raise NotFoundError(f"decide.yaml has no strategy arm {arm!r}")
    if arm == strategies.champion:
        raise localisable(
            ConflictError(f"{arm!r} is already the champion"),
            "This strategy is already the champion.",
        )
    evidence = latest_evaluation(session, actor).arm(arm)
    significant = bool(evidence and evidence.significant and (evidence.gain or 0) > 0)
    if not significant and not override:
        raise localisable(
            ConflictError(
                f"{arm!r} has not been found significantly better than the champion: "
                "promote it anyway only with override"
            ),
            "This challenger has not been found significantly better than the champion; "
            "confirm to promote it anyway.",
        )
    section = dict(raw.get("strategies") or {})
    arms = {name: dict(spec or {}) for name, spec in (section.get("arms") or {}).items()}
    for spec in arms.values():
        spec.pop("share", None)
    raw["strategies"] = {**section, "champion": arm, "arms": arms}
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    saved = config.save_pending(session, actor, KIND, text)
    detail: dict[str, Any] = {
        "from": strategies.champion,
        "reason": reason.strip()[:500],
        "override": override,
        "sha256": saved["sha256"],
    }
    if evidence is not None:
        detail |= {
            "snapshot": evidence.snapshot_date.isoformat(),
            "gain": evidence.gain,
            "gain_low": evidence.gain_low,
            "gain_high": evidence.gain_high,
            "p_value": evidence.p_value,
            "subscribers": evidence.subscribers,
        }
    audit(session, actor.user_id, AuditAction.STRATEGY_PROMOTE, "strategy_arm", arm, detail)
    return Promotion(arm, strategies.champion, str(saved["sha256"]), significant)
