"""The offer decided at once for an event, on the live ledger the daily decisions share: the
most valuable eligible offer (valued as the daily run values it, at the risk the event
implies) that fits the policy's budget, the customer's value cap and entry limits; the contact
policy and the real-time share of the channel's capacity decide whether a contact is made; the
hand-over of a published day withdraws the grants the events have since made room short for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api_helpers import login
from customer_fixtures import customer, decision, publish_rules
from event_fixtures import bearer, event, seed_event_token
from ledger_fixtures import DECIDE, caps, library_policy, publish_library, publish_text
from weiwan.core.db import session_scope
from weiwan.core.settings import get_settings
from weiwan.ops.consents.service import Statement, record_statements
from weiwan.ops.contacts.models import DoNotDisturb
from weiwan.ops.customers.models import CustomerView, Publication, PublishedDecision
from weiwan.ops.events.models import EventRecord
from weiwan.ops.handover.service import hand_over
from weiwan.ops.ledger.models import BatchUsage, OnlineGrant
from weiwan.ops.ledger.service import record_batch_usage
from weiwan.ops.offers.models import PublishedUpliftLevel
from weiwan.ops.tasks.models import Task

from ..events.test_processing import PORT_OUT, RULES, publish_alert_rules

#: customers of the city branch outside the port-out rule's hold-out
ACTED = [f"S{n:05d}" for n in range(1, 60) if not PORT_OUT.holds_out(f"S{n:05d}")][:6]
TZ = ZoneInfo(get_settings().timezone)


def _today() -> datetime:
    return datetime.now(TZ)


@pytest.fixture
def city(engine: Engine, people: dict[str, int], branches: dict[str, int]) -> Engine:
    """Six ordinary customers (score 0.2, future value 1 200) eligible for ``disc`` (a 30-yuan
    discount) and ``care`` (a free care call); the shipped rules and decide.yaml in effect."""
    seed_event_token(engine)
    with session_scope(engine) as session:
        for sid in ACTED:
            session.add(customer(sid, branches["city"], eligible_policies=" care disc "))
    publish_alert_rules(engine)
    return engine


def _library(engine: Engine, **disc: object) -> None:
    publish_library(
        engine,
        [
            library_policy("disc", "discount", 30.0, **disc),
            library_policy("care", "care_call", 0.0),
        ],
    )


def _post(app: FastAPI, *events: dict[str, object]) -> None:
    answer = TestClient(app).post("/api/v1/events", json={"events": list(events)}, headers=bearer())
    assert answer.status_code == 202, answer.text


def _decision(engine: Engine, event_id: str) -> tuple[EventRecord, dict[str, object]]:
    with session_scope(engine) as session:
        record = session.scalar(select(EventRecord).where(EventRecord.event_id == event_id))
        assert record is not None
        session.expunge(record)
    return record, json.loads(record.decision or "{}")


def _task_policies(engine: Engine) -> dict[str, str | None]:
    with session_scope(engine) as session:
        return {s: p for s, p in session.execute(select(Task.subscriber_id, Task.policy_id))}


def test_the_contact_carries_the_most_valuable_offer_at_the_risk_the_event_implies(
    app: FastAPI, city: Engine
) -> None:
    _library(city)
    _post(app, event("po-1", ACTED[0]))
    record, made = _decision(city, "po-1")
    offer = made["offer"]
    assert isinstance(offer, dict), json.dumps(made)
    assert offer["policy_id"] == "disc"
    # valued as the daily run values it: P(churn within 12 months) at the event's risk 0.6
    # (above the score 0.2) × prior 0.3 × match 0.5 (driver "other") × outbound effect 1.0 ×
    # future value 1 200 − (30 offer + 3 call)
    expected = (1 - (1 - 0.6) ** 12) * 0.3 * 0.5 * 1200 - 33
    assert offer["expected_value"] == pytest.approx(expected, abs=0.01)
    assert offer["churn_probability"] == 0.6
    reasons = made["reasons_en"]
    assert isinstance(reasons, list) and any("Policy disc" in r for r in reasons)
    assert _task_policies(city) == {ACTED[0]: "disc"}
    with session_scope(city) as session:
        (grant,) = session.scalars(select(OnlineGrant)).all()
        assert (grant.event_record_id, grant.policy_id) == (record.id, "disc")
        assert grant.cost == pytest.approx(33.0) and grant.granted_on == _today().date()


def test_the_offer_meets_the_customers_first_three_reasons(app: FastAPI, city: Engine) -> None:
    """The published reasons name the drivers: a discount meets a customer whose reasons are
    the bill (price, match 1.0) then a competitor's calls (competitor, 0.9) by 3:2 of them."""
    _library(city)
    reasons = [
        {"zh": "账单上升", "en": "bill up", "feature": "bill_change_3m"},
        {"zh": "竞争对手来电", "en": "competitor calls", "feature": "competitor_calls_3m"},
    ]
    with session_scope(city) as session:
        view = session.get(CustomerView, ACTED[1])
        assert view is not None
        view.reasons = json.dumps(reasons)
    _post(app, event("po-r", ACTED[1]))
    _, made = _decision(city, "po-r")
    offer = made["offer"]
    assert isinstance(offer, dict), json.dumps(made)
    match = (3 * 1.0 + 2 * 0.9) / 5
    expected = (1 - (1 - 0.6) ** 12) * 0.3 * match * 1200 - 33
    assert offer["policy_id"] == "disc"
    assert offer["expected_value"] == pytest.approx(expected, abs=0.01)


def test_the_offer_meets_why_the_customer_would_leave_when_decide_yaml_says_so(
    app: FastAPI, city: Engine
) -> None:
    """The published leaving-reason mix matches offers as the daily decisions do with
    ``use_leaving_reasons``: the reasons say price (a discount), the mix says service (a care
    call); off as shipped, the reasons decide."""
    _library(city)
    reasons = [{"zh": "账单上升", "en": "bill up", "feature": "bill_change_3m"}]
    mix = {"service": 0.9, "price": 0.1}
    with session_scope(city) as session:
        for sid in ACTED[2:4]:
            view = session.get(CustomerView, sid)
            assert view is not None
            view.reasons, view.leaving_mix = json.dumps(reasons), json.dumps(mix)
    _post(app, event("po-off", ACTED[2]))
    _, made = _decision(city, "po-off")
    assert isinstance(made["offer"], dict) and made["offer"]["policy_id"] == "disc"
    publish_text(
        city, "decide", DECIDE.replace("use_leaving_reasons: false", "use_leaving_reasons: true")
    )
    _post(app, event("po-on", ACTED[3]))
    _, made = _decision(city, "po-on")
    offer = made["offer"]
    assert isinstance(offer, dict), json.dumps(made)
    assert offer["policy_id"] == "care"
    match = 0.9 * 1.0 + 0.1 * 0.2  # the care call's match of service and of price
    expected = (1 - (1 - 0.6) ** 12) * 0.15 * match * 1200 - 3
    assert offer["expected_value"] == pytest.approx(expected, abs=0.01)


def _learned(engine: Engine, **levels: float) -> None:
    """A decided day published yesterday with what its outcomes taught per offer type."""
    day = _today().date() - timedelta(days=1)
    with session_scope(engine) as session:
        session.add(Publication(kind="decisions", snapshot_date=day, rows=10))
        for offer_type, level in levels.items():
            session.add(
                PublishedUpliftLevel(
                    snapshot_date=day, offer_type=offer_type, level=level, scale=level,
                    tree_weight=0.0, prior_uplift=0.15, mean_uplift=0.15 * level,
                    treated=640, treated_churned=51, controls=310, controls_churned=33,
                )
            )  # fmt: skip


def test_an_offer_the_outcomes_taught_the_daily_run_about_is_valued_as_it_learned(
    app: FastAPI, city: Engine
) -> None:
    """The daily run published the discount at 0.4 of its prior: the event's offer values it
    there, over the 3-month window the level was measured on (as the daily decisions value a
    learned uplift), so the care call, still valued by its prior, is worth more."""
    _library(city)
    _learned(city, discount=0.4)
    with session_scope(city) as session:
        session.get_one(CustomerView, ACTED[1]).eligible_policies = " disc "
    _post(app, event("po-1", ACTED[0]), event("po-2", ACTED[1]))
    _, made = _decision(city, "po-1")
    care = made["offer"]
    assert isinstance(care, dict), json.dumps(made)
    assert (care["policy_id"], care["learned"], care["strategy"]) == ("care", False, "default")
    # the care call by its prior: P(churn within 12 months) × 0.15 × match 0.4 × 1 200 − 3
    assert care["expected_value"] == pytest.approx((1 - 0.4**12) * 0.15 * 0.4 * 1200 - 3, abs=0.01)
    _, made = _decision(city, "po-2")
    disc = made["offer"]
    assert isinstance(disc, dict), json.dumps(made)
    assert disc["learned"] is True and disc["uplift"] == pytest.approx(0.3 * 0.5 * 0.4)
    # by its prior it would be (1 − 0.4¹²) × 0.15 × 1 200 − 33 = 147
    assert disc["expected_value"] == pytest.approx((1 - 0.4**3) * 0.06 * 1200 - 33, abs=0.01)
    # the day after, the outcomes showed half the discount's effect holding past its first
    # month: valued over the window and half the 9 months of its commitment beyond
    with session_scope(city) as session:
        row = session.scalars(select(PublishedUpliftLevel)).one()
        row.persistence = 0.5
        session.get_one(CustomerView, ACTED[2]).eligible_policies = " disc "
    _post(app, event("po-3", ACTED[2]))
    _, made = _decision(city, "po-3")
    later = made["offer"]
    assert isinstance(later, dict), json.dumps(made)
    months = 3 + 0.5 * 9
    assert later["expected_value"] == pytest.approx((1 - 0.4**months) * 0.06 * 1200 - 33, abs=0.01)


def test_the_customers_strategy_arm_decides_which_offers_and_how_they_are_valued(
    app: FastAPI, city: Engine
) -> None:
    """A challenger taking every customer that decides by the priors and may offer only the
    discount: the event's offer is the discount valued by its prior, the level the daily run
    learned notwithstanding, and recorded as the challenger's."""
    _library(city)
    _learned(city, discount=0.4)
    arms = (
        "\nstrategies:\n  champion: default\n  arms:\n    default: {}\n"
        "    explore: {share: 1.0, uplift: prior, policies: [disc]}\n"
    )
    publish_text(city, "decide", DECIDE + arms)
    with session_scope(city) as session:
        session.get_one(CustomerView, ACTED[0]).eligible_policies = " care "
    _post(app, event("po-1", ACTED[0]), event("po-2", ACTED[1]))
    _, made = _decision(city, "po-1")
    assert made["offer"] is None and made["offer_why_not"] == "no_eligible_policy"
    _, made = _decision(city, "po-2")
    offer = made["offer"]
    assert isinstance(offer, dict), json.dumps(made)
    assert (offer["policy_id"], offer["strategy"], offer["learned"]) == ("disc", "explore", False)
    assert offer["expected_value"] == pytest.approx((1 - 0.4**12) * 0.15 * 1200 - 33, abs=0.01)


def test_the_offer_meets_the_reason_the_event_reveals_before_the_customers_own(
    app: FastAPI, city: Engine
) -> None:
    """Two customers whose one reason is dropped calls (service): a port-out request, which
    names no reason, brings the care call; calls forwarded to a competitor (the rule's
    event_reason: competitor_offer) put the competitor first, 3 : 2 before the dropped calls,
    and bring the discount."""
    _library(city)
    forwarding = RULES["forwarding_to_competitor"]
    assert forwarding.event_reason == "competitor_offer"
    first, second = [sid for sid in ACTED if not forwarding.holds_out(sid)][:2]
    reasons = [{"zh": "掉话增多", "en": "dropped calls up", "feature": "dropped_calls_3m"}]
    with session_scope(city) as session:
        for sid in (first, second):
            session.get_one(CustomerView, sid).reasons = json.dumps(reasons)
    forwarded = {"type": "call_forwarding_on", "attributes": {"target_network": "china_unicom"}}
    _post(app, event("po-1", first), event("fw-1", second, **forwarded))
    _, made = _decision(city, "po-1")
    care = made["offer"]
    assert isinstance(care, dict) and (care["policy_id"], care["driver"]) == ("care", "service")
    # the agent reads which driver the offer meets, and whether the event or the model named it
    zh, en = json.dumps(made["reasons_zh"], ensure_ascii=False), json.dumps(made["reasons_en"])
    assert "驱动：服务不满，" in zh and "事件所示" not in zh and "(driver: service; " in en, en
    _, made = _decision(city, "fw-1")
    disc = made["offer"]
    assert isinstance(disc, dict), json.dumps(made)
    assert (disc["policy_id"], disc["driver"]) == ("disc", "competitor")
    zh, en = json.dumps(made["reasons_zh"], ensure_ascii=False), json.dumps(made["reasons_en"])
    assert "驱动：竞争对手（事件所示）" in zh and "driver: competitor, as the event shows" in en, en
    match = (3 * 0.9 + 2 * 0.2) / 5  # the discount's match of competitor, then service
    expected = (1 - (1 - 0.3) ** 12) * 0.3 * match * 1200 - 33
    assert disc["expected_value"] == pytest.approx(expected, abs=0.01)


def test_without_valuation_settings_the_contact_goes_without_an_offer(
    app: FastAPI, city: Engine
) -> None:
    _post(app, event("po-1", ACTED[0]))
    _, made = _decision(city, "po-1")
    assert made["offer"] is None and made["offer_why_not"] == "no_valuation"
    assert "No offer: no valuation settings in effect yet" in made["reasons_en"]  # type: ignore[operator]
    assert _task_policies(city) == {ACTED[0]: None}


def test_a_budget_the_day_and_the_events_used_up_moves_to_the_next_offer(
    app: FastAPI, city: Engine
) -> None:
    """disc allows 3 grants a year: the published day used 2, the first event the third; the
    second event's customer gets the care call instead."""
    _library(city, budget={"count": 3, "per_months": 12})
    today = _today().date()
    with session_scope(city) as session:
        for sid in ("S09001", "S09002"):
            session.add(decision(sid, "outbound_call", policy_id="disc", snapshot_date=today))
        session.flush()
        record_batch_usage(session, today)
    _post(app, event("po-1", ACTED[0]), event("po-2", ACTED[1]))
    assert _task_policies(city) == {ACTED[0]: "disc", ACTED[1]: "care"}
    _post(app, event("po-3", ACTED[2]))
    assert _task_policies(city)[ACTED[2]] == "care"


def test_value_caps_and_entry_limits_count_the_customers_earlier_grants(
    app: FastAPI, city: Engine
) -> None:
    """A mass customer may receive 20 yuan a year: disc (33) is over the cap. Another had disc
    two months ago: its entry limit (once a year) is used up. Both get the care call."""
    publish_library(
        city,
        [library_policy("disc", "discount", 30.0), library_policy("care", "care_call", 0.0)],
        caps(mass=20.0),
    )
    with session_scope(city) as session:
        session.get_one(CustomerView, ACTED[0]).value_tier = "mass"
        earlier = _today().date() - timedelta(days=60)
        session.add(decision(ACTED[1], "outbound_call", policy_id="disc", snapshot_date=earlier))
    _post(app, event("po-1", ACTED[0]), event("po-2", ACTED[1]), event("po-3", ACTED[2]))
    assert _task_policies(city) == {ACTED[0]: "care", ACTED[1]: "care", ACTED[2]: "disc"}


def test_the_contact_policy_and_the_real_time_capacity_decide_whether_to_contact(
    app: FastAPI, city: Engine
) -> None:
    """Outbound calls: 10 a day, 20 % for events (2); a customer on do-not-disturb for calls
    is not called; the third caller finds the share used."""
    _library(city)
    publish_rules(
        city,
        {"channels": {"outbound_call": {"capacity": {"per_day": 10}, "reserve_for_events": 0.2}}},
    )
    with session_scope(city) as session:
        session.add(DoNotDisturb(subscriber_id=ACTED[0], channel="outbound_call"))
    _post(app, *(event(f"po-{i}", sid) for i, sid in enumerate(ACTED[:4])))
    notes = {sid: _decision(city, f"po-{i}")[0].note for i, sid in enumerate(ACTED[:4])}
    assert notes == {
        ACTED[0]: "no contact: dnd",
        ACTED[1]: None,
        ACTED[2]: None,
        ACTED[3]: "no contact: capacity",
    }
    assert set(_task_policies(city)) == {ACTED[1], ACTED[2]}
    record, made = _decision(city, "po-3")
    assert record.status == "processed" and record.task_id is None
    assert made["blocked"] == "capacity"
    # the events page counts them per rule: offers granted and their cost, the uncontacted
    summary = login(app, "director").get("/api/v1/event-summary").json()
    (rule,) = summary["rules"]
    assert (rule["offers"], rule["not_contacted"], rule["tasks"]) == (2, 2, 2)
    assert rule["offer_cost"] == pytest.approx(66.0)


def test_objections_of_the_consent_ledger_stop_the_events_contact_and_offer(
    app: FastAPI, city: Engine
) -> None:
    """Refusing automated decisions (Article 24): no contact and no offer from an event rule,
    whatever the channel; objecting to calls: no call. The others are served as before."""
    _library(city)
    said = _today() - timedelta(hours=2)
    with session_scope(city) as session:
        statements = [
            Statement(ACTED[0], "automated_decision", "all", "objection", "agent", said),
            Statement(ACTED[1], "outbound_call", "all", "objection", "agent", said),
        ]
        record_statements(session, statements, recorded_by=None)
    _post(app, *(event(f"po-{i}", sid) for i, sid in enumerate(ACTED[:3])))
    for i in (0, 1):
        record, made = _decision(city, f"po-{i}")
        assert (record.status, record.note) == ("processed", "no contact: objection")
        assert made["blocked"] == "objection" and made.get("offer") is None
    assert _task_policies(city) == {ACTED[2]: "disc"}
    with session_scope(city) as session:
        granted = set(session.scalars(select(OnlineGrant.subscriber_id)))
    assert granted == {ACTED[2]}
    # a consent lifts the call objection: the next event calls with the offer
    with session_scope(city) as session:
        again = Statement(ACTED[1], "outbound_call", "all", "consent", "agent", _today())
        record_statements(session, [again], recorded_by=None)
    _post(app, event("po-9", ACTED[1]))
    assert _task_policies(city)[ACTED[1]] == "disc"


def test_the_hand_over_withdraws_the_day_s_least_valuable_grants_events_left_no_room_for(
    city: Engine, branches: dict[str, int]
) -> None:
    """disc allows 3 grants; the published day planned 3 (values 90, 80, 70) when an event
    had already taken one since the run read its inputs: the 70 is withdrawn at the hand-over,
    which creates two tasks; handing the day over again changes nothing."""
    _library(city, budget={"count": 3, "per_months": 12})
    now = datetime.now(UTC)
    today = now.astimezone(TZ).date()
    snapshot = today - timedelta(days=1)
    day = [("S09001", 90.0), ("S09002", 80.0), ("S09003", 70.0)]
    with session_scope(city) as session:
        for sid, value in day:
            session.add(customer(sid, branches["city"]))
            session.add(
                decision(
                    sid,
                    "outbound_call",
                    policy_id="disc",
                    snapshot_date=snapshot,
                    expected_value=value,
                    cost=33.0,
                )
            )
        session.flush()
        record_batch_usage(session, snapshot)
        session.add(
            OnlineGrant(
                event_record_id=1,
                subscriber_id=ACTED[0],
                policy_id="disc",
                channel="outbound_call",
                cost=33.0,
                expected_value=147.0,
                granted_on=today,
            )
        )
    counts = hand_over(city, snapshot, now=now)
    assert counts["withdrawn_budget"] == 1 and counts["tasks"] == 2
    with session_scope(city) as session:
        rows = session.execute(
            select(
                PublishedDecision.subscriber_id, PublishedDecision.action, PublishedDecision.outcome
            )
            .where(PublishedDecision.snapshot_date == snapshot)
            .order_by(PublishedDecision.subscriber_id)
        ).all()
        usage = session.get_one(BatchUsage, (snapshot, "disc"))
        assert usage.count == 2 and usage.money == pytest.approx(66.0)
    assert [tuple(r) for r in rows] == [
        ("S09001", True, "act"),
        ("S09002", True, "act"),
        ("S09003", False, "budget"),
    ]
    again = hand_over(city, snapshot, now=now)
    assert again["withdrawn_budget"] == 0 and again["tasks"] == 0
