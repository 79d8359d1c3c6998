"""The average quality score per agent (``appraisal.board.score_averages``) over the
inspections the reader sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from weiwan.core.db import session_scope
from weiwan.ops.appraisal.board import AgentScore, inspections, score_averages
from weiwan.ops.contacts.models import Contact
from weiwan.ops.contacts.schemas import InspectionIn
from weiwan.ops.contacts.service import inspect_contact
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import User


def test_average_score_per_agent_over_the_inspections_in_scope(
    engine: Engine, people: dict[str, int]
) -> None:
    now = datetime.now(UTC)
    # (agent, scores of each of the agent's contacts); the lead's own contact is never scored
    work: dict[str, list[list[int]]] = {
        "agent": [[70, 80], [96]],  # one contact scored twice: every inspection counts
        "agent2": [[61]],
        "lead": [[]],
        "outsider": [[50]],  # another branch: the director scores it, the lead cannot see it
    }
    with session_scope(engine) as session:
        lead = actor_for(session, session.get_one(User, people["lead"]))
        director = actor_for(session, session.get_one(User, people["director"]))
        for n, (who, contacts) in enumerate(work.items()):
            for scores in contacts:
                contact = Contact(
                    subscriber_id=f"S{n + 1:05d}",
                    at=now - timedelta(minutes=5),
                    channel="outbound_call",
                    status="sent",
                    user_id=people[who],
                )
                session.add(contact)
                session.flush()
                inspector = director if who == "outsider" else lead
                for score in scores:
                    inspect_contact(session, inspector, contact.id, InspectionIn(score=score))
    since, until = now - timedelta(hours=1), now + timedelta(hours=1)
    with session_scope(engine) as session:
        lead = actor_for(session, session.get_one(User, people["lead"]))
        director = actor_for(session, session.get_one(User, people["director"]))
        team = score_averages(inspections(session, lead, since, until))
        everyone = score_averages(inspections(session, director, since, until))
        earlier = score_averages(inspections(session, director, since - timedelta(hours=2), since))
    team_scores = [
        AgentScore(people["agent"], 3, (70 + 80 + 96) / 3),
        AgentScore(people["agent2"], 1, 61.0),
    ]
    assert team == sorted(team_scores, key=lambda s: s.agent_id)
    assert everyone == sorted(
        [*team_scores, AgentScore(people["outsider"], 1, 50.0)], key=lambda s: s.agent_id
    )
    assert people["lead"] not in {s.agent_id for s in everyone}  # no inspection, no average
    assert earlier == []
