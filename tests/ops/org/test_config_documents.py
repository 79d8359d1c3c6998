"""Settings documents edited in the web: pending edits, immediate checks, permissions, audit."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select

from weiwan.core.db import session_scope
from weiwan.core.errors import InvalidRequestError, PermissionDeniedError
from weiwan.ops.org import config
from weiwan.ops.org.access import actor_for
from weiwan.ops.org.models import AuditEvent, ConfigDocument, User

CONTACT = """
channels:
  sms:
    caps: {day: 1, week: 2}
    quiet_hours: {start: "22:00", end: "08:00"}
cool_off_days: 7
"""


def test_contact_policy_bad_value_names_the_field() -> None:
    with pytest.raises(InvalidRequestError) as bad_cap:
        config.check_text("contact_policy", CONTACT.replace("day: 1", "day: -3"))
    assert bad_cap.value.field == "channels.sms.caps.day"
    with pytest.raises(InvalidRequestError) as bare_time:
        config.check_text("contact_policy", CONTACT.replace('"22:00"', "22:00"))
    assert bare_time.value.field == "channels.sms.quiet_hours.start"
    assert "quoted" in str(bare_time.value)
    assert config.check_text("contact_policy", CONTACT)["cool_off_days"] == 7


def test_yaml_syntax_and_shape_are_checked_at_once() -> None:
    with pytest.raises(InvalidRequestError, match="line 3, column 1"):
        config.check_text("policies", "policies:\n  - id: [unclosed\n")
    with pytest.raises(InvalidRequestError) as shape:
        config.check_text("alerts", "rules: {}\n")
    assert shape.value.field == "rules"
    with pytest.raises(InvalidRequestError, match="unknown settings kind"):
        config.check_text("passwords", "a: 1\n")


@pytest.mark.parametrize("empty_engine", ["sqlite"], indirect=True)
def test_only_roles_that_configure_save_and_saves_are_audited(
    engine: Engine, people: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        for username in ("director", "head", "analyst", "agent"):
            user = session.get(User, people[username])
            assert user is not None
            with pytest.raises(PermissionDeniedError):
                config.save_pending(session, actor_for(session, user), "contact_policy", CONTACT)
        admin = session.get(User, people["admin"])
        assert admin is not None
        config.save_pending(session, actor_for(session, admin), "contact_policy", CONTACT)
    with session_scope(engine) as session:
        document = session.get(ConfigDocument, "pending:contact_policy")
        assert document is not None and json.loads(document.content)["text"] == CONTACT
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.target_id == "pending:contact_policy")
        ).all()
        assert [(e.action, e.user_id) for e in events] == [("config_change", people["admin"])]
        head = session.get(User, people["head"])
        assert head is not None
        view = config.rule_document_view(session, actor_for(session, head), "contact_policy")
        assert view.pending is not None and view.pending["username"] == "admin"
        agent = session.get(User, people["agent"])
        assert agent is not None
        with pytest.raises(PermissionDeniedError):
            config.rule_document_view(session, actor_for(session, agent), "contact_policy")
