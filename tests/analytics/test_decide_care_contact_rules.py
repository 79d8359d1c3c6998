"""Care actions obey the contact rules as offers do: no care call to a subscriber who asked not
to be called, no care SMS to one on do-not-disturb for everything, none in a cool-off after a
refusal or over a cap; each stopped action records the rule, in Chinese and English."""

from __future__ import annotations

from datetime import timedelta

import ibis
import pandas as pd
from decide_fixtures import (
    DAY,
    alerts_table,
    care_alert,
    policy_library,
    profile_table,
    subscriber_row,
)

from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.decide.config import holdout_bucket, load_decide_config
from weiwan.analytics.decide.day import DayInputs, decide_day

#: care-only subscribers (low risk) and the channel of their care action
CARE = {
    "c1": "outbound_call",  # do-not-disturb on calls
    "c2": "sms_care",  # do-not-disturb on everything
    "c3": "outbound_call",  # refused a call yesterday: cool-off
    "c4": "outbound_call",  # nothing stops it
    "c5": "sms_care",  # do-not-disturb on calls only: the SMS still goes
    "c6": "sms_care",  # had an SMS today: the daily cap
}


def _decide(rules: bool) -> pd.DataFrame:
    profile = profile_table([subscriber_row(sid, "low") for sid in CARE])
    alerts = alerts_table([care_alert(sid, action_hint=hint) for sid, hint in CARE.items()])
    dnd = ibis.memtable(
        pd.DataFrame(
            {
                "subscriber_id": ["c1", "c2", "c5"],
                "channel": ["outbound_call", "all", "outbound_call"],
            }
        )
    )
    history = ibis.memtable(
        pd.DataFrame(
            {
                "subscriber_id": ["c3", "c6"],
                "channel": ["outbound_call", "sms"],
                "contacted_at": [DAY - timedelta(days=1), DAY],
                "outcome": ["refused", "sent"],
            }
        )
    )
    inputs = DayInputs(
        profile=profile,
        alerts=alerts,
        dnd=dnd if rules else None,
        history=history if rules else None,
    )
    library = policy_library(valid_to=DAY.replace(year=DAY.year + 1))
    return decide_day(inputs, library, load_contact_policy(), load_decide_config(), DAY)


def test_care_actions_obey_do_not_disturb_cool_off_and_caps() -> None:
    config = load_decide_config()
    for sid in CARE:  # nobody held out: every care row is decided
        assert holdout_bucket(sid, "birthday_care") >= config.holdout_share("birthday_care")
    before = _decide(rules=False).set_index("subscriber_id")
    after = _decide(rules=True).set_index("subscriber_id")
    assert set(after.index) == set(CARE) and (after["trigger_kind"] == "care").all()
    # without the rules every care action goes (the test is not vacuous)
    assert before["action"].all() and (before["outcome"] == "granted").all()
    expected = {"c1": "dnd", "c2": "dnd", "c3": "cool_off", "c6": "cap_day"}
    for sid, rule in expected.items():
        assert after.loc[sid, "outcome"] == rule, (sid, after.loc[sid, "outcome"])
        assert not after.loc[sid, "action"]
    for sid in ("c4", "c5"):
        assert after.loc[sid, "action"] and after.loc[sid, "outcome"] == "granted"
    assert after.loc["c5", "channel"] == "sms"
    why = {sid: (str(after.loc[sid, "why_zh"]), str(after.loc[sid, "why_en"])) for sid in CARE}
    assert "免打扰" in why["c1"][0] and "not to be disturbed" in why["c1"][1]
    assert "冷静期" in why["c3"][0] and "cool-off" in why["c3"][1]
    assert "daily contact cap" in why["c6"][1]
