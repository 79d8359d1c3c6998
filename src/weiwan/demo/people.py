"""The demo's people: one login per role in the largest city branch, with a team of agents
named after the account managers the data names there (so their customers find them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from weiwan.core.db import session_scope
from weiwan.ops.campaigns.approvals import resolve_chain, set_chain
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import Branch, Team, User
from weiwan.ops.org.roles import Role
from weiwan.ops.org.schemas import UserCreate
from weiwan.ops.org.service import create_user

#: The demo's shared password (printed by ``weiwan demo``; the demo serves on 127.0.0.1 only).
DEMO_PASSWORD = "Retention-Demo-2026"
TEAM_NAME = "维挽一组"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """A demo user as printed for the reader."""

    username: str
    role: Role
    display_name: str
    branch: str


def _largest_city(session: Session) -> tuple[Branch, Branch]:
    """(city branch, its largest sub-branch) by published customers; a flat branch is both."""
    parent = func.coalesce(Branch.parent_id, Branch.id)
    row = session.execute(
        select(parent.label("city"), Branch.id, func.count())
        .join(CustomerView, CustomerView.branch_id == Branch.id)
        .group_by(parent, Branch.id)
        .order_by(func.count().desc())
        .limit(1)
    ).first()
    if row is None:
        raise ValueError("no published customers: publish a snapshot before creating demo people")
    city, sub = session.get(Branch, row[0]), session.get(Branch, row[1])
    assert city is not None and sub is not None
    return city, sub


def _manager_names(session: Session, branch_ids: list[int], n: int) -> list[str]:
    """The ``n`` account managers with most customers in ``branch_ids`` (demo agents take these
    names so that the data's 客户经理 map to them)."""
    rows = session.execute(
        select(CustomerView.account_manager)
        .where(CustomerView.branch_id.in_(branch_ids), CustomerView.account_manager.is_not(None))
        .group_by(CustomerView.account_manager)
        .order_by(func.count().desc(), CustomerView.account_manager)
        .limit(n)
    ).scalars()
    return [str(name) for name in rows]


def ensure_demo_people(engine: Engine) -> list[DemoLogin]:
    """Create the demo users once (existing usernames are left alone) and return the logins."""
    with session_scope(engine) as session:
        city, sub = _largest_city(session)
        team = session.scalar(select(Team).where(Team.branch_id == city.id, Team.name == TEAM_NAME))
        if team is None:
            team = Team(branch_id=city.id, name=TEAM_NAME)
            session.add(team)
            session.flush()
        subs = [city.id, *session.scalars(select(Branch.id).where(Branch.parent_id == city.id))]
        names = [*_manager_names(session, subs, 3), "坐席甲", "坐席乙", "坐席丙"]
        people: list[tuple[str, Role, str, Branch, bool]] = [
            ("admin", Role.ADMIN, "系统管理员", city, False),
            ("director", Role.DIRECTOR, "维挽总监", city, False),
            ("head", Role.CENTRE_HEAD, f"{city.name_zh}中心主任", city, False),
            ("lead", Role.SHIFT_LEAD, "班组长", city, True),
            ("agent", Role.AGENT, names[0], city, True),
            ("agent2", Role.AGENT, names[1], city, True),
            ("agent3", Role.AGENT, names[2], city, True),
            ("analyst", Role.ANALYST, "数据分析员", city, False),
            ("clerk", Role.STORE_CLERK, f"{sub.name_zh}营业员", sub, False),
            ("hotline", Role.HOTLINE_AGENT, "热线坐席", city, False),
        ]
        existing = set(session.scalars(select(User.username)))
        logins = []
        for username, role, display, branch, in_team in people:
            if username not in existing:
                create_user(
                    session,
                    UserCreate(
                        username=username,
                        display_name=display,
                        password=DEMO_PASSWORD,
                        role=role,
                        branch_id=branch.id,
                        team_id=team.id if in_team else None,
                    ),
                )
            logins.append(DemoLogin(username, role, display, branch.name_zh))
        _director_approves(session, city)
    return logins


def _director_approves(session: Session, city: Branch) -> None:
    """The demo centre's plans are made by its centre head and approved by the director (the
    built-in chain would first ask a second centre head, which the demo does not have)."""
    _roles, source, _ = resolve_chain(session, city.id)
    if source == "branch":
        return  # configured already (a re-run, or by the demo's administrator)
    admin = session.scalar(select(User).where(User.username == "admin"))
    assert admin is not None
    set_chain(session, actor_for(session, admin), city.id, [Role.DIRECTOR])
