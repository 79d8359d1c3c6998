"""Contact policy (触点管理): one set of rules for every channel, so nobody is over-contacted.

Per-channel and cross-channel frequency caps per day / week / month, quiet hours, do-not-disturb
lists and the objections of the consent ledger, cool-off after a refusal, priorities between
trigger kinds and campaigns, and each channel's daily capacity, read from
``contact_policy.yaml``. :meth:`ContactPolicy.explain_contacts`
is one Ibis expression over the candidates and the contact history that says why each candidate
contact is blocked (or NULL when it is allowed). The format is in ``docs/policies.md``.

Windows end at the decision day and include it: day = that date, week = the 7 days up to it,
month = the dates after the same day one calendar month earlier. Inbound channels (the
customer comes to us: store, hotline, self-service) ignore the cross-channel cap, the global
cool-off and the "all" do-not-disturb entry; their own per-channel settings still apply.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import ValidationError

from weiwan.analytics.config_files import problems, read_yaml
from weiwan.core.consent_rules import PURPOSE_OF_CHANNEL
from weiwan.core.contact_rules import (
    BLOCK_REASONS,
    CHANNELS,
    DND_ALL,
    Capacity,
    Caps,
    ChannelRule,
    ContactRules,
    QuietHours,
)
from weiwan.core.errors import ConfigError

__all__ = [
    "BLOCK_REASONS",
    "CHANNELS",
    "DND_ALL",
    "Capacity",
    "Caps",
    "ChannelRule",
    "ContactPolicy",
    "QuietHours",
    "load_contact_policy",
]
from weiwan.core.months import add_months


class ContactPolicy(ContactRules):
    """The contact rules plus their Ibis form for a whole day's candidate contacts."""

    def priority_expression(self, kind: ir.StringValue) -> ir.IntegerValue:
        """:meth:`priority_rank` over a column; unknown kinds rank after every listed one."""
        ranked = kind.cases(
            *[(k, i) for i, k in enumerate(self.trigger_priority)],
            else_=len(self.trigger_priority),
        )
        result: ir.IntegerValue = ranked.cast("int64")
        return result

    # ------------------------------------------------------------------ contacts
    def _params(self, day: dt.date) -> ir.Table:
        rules = [(c, self.rule(c)) for c in CHANNELS]
        since = [
            day - dt.timedelta(days=r.cool_off_days - 1) if r.cool_off_days else None
            for _, r in rules
        ]
        return ibis.memtable(
            pa.table(
                {
                    "cp_channel": pa.array([c for c, _ in rules], pa.string()),
                    "cp_inbound": pa.array([r.inbound for _, r in rules], pa.bool_()),
                    "cp_cap_day": pa.array([r.caps.day for _, r in rules], pa.int64()),
                    "cp_cap_week": pa.array([r.caps.week for _, r in rules], pa.int64()),
                    "cp_cap_month": pa.array([r.caps.month for _, r in rules], pa.int64()),
                    "cp_cool_since": pa.array(since, pa.date32()),
                }
            )
        )

    def explain_contacts(
        self,
        candidates: ir.Table,
        history: ir.Table,
        dnd: ir.Table | None,
        day: dt.date,
        objections: ir.Table | None = None,
    ) -> ir.Table:
        """``candidates`` (subscriber_id, channel, …) with ``blocked_reason``: the first of
        :data:`BLOCK_REASONS` that blocks each contact on ``day``, or NULL when allowed.

        ``history``: subscriber_id, channel, contacted_at (timestamp or date), outcome; every
        contact up to and including ``day`` counts towards the caps, a refusal (an outcome in
        ``refusal_outcomes``) starts the cool-off. ``dnd``: subscriber_id, channel (a channel
        name or ``"all"``). ``objections``: subscriber_id, purpose, channel — the consent
        ledger's current objections; the candidates are offers (marketing), so an objection on
        their channel blocks them (``objection``). A cap of N blocks the contact when N
        contacts are already in the window; the cool-off of N days blocks the N days from the
        refusal's date on.
        """
        week_start = day - dt.timedelta(days=7)
        month_start = add_months(day, -1)
        longest_cool_off = max(
            [self.cool_off_days, *(self.rule(c).cool_off_days for c in CHANNELS)]
        )
        horizon = min(month_start, day - dt.timedelta(days=longest_cool_off))
        refusals = list(self.refusal_outcomes)
        contacted = history.contacted_at
        hist = history.select(
            h_sub=history.subscriber_id.cast("string"),
            h_channel=history.channel.cast("string"),
            h_day=contacted if contacted.type().is_date() else contacted.cast("date"),
            h_refused=history.outcome.cast("string").isin(refusals).fill_null(False),
        )
        hist = hist.filter(hist.h_day > horizon, hist.h_day <= day)

        def counted(condition: ir.BooleanValue) -> ir.IntegerScalar:
            return ibis.ifelse(condition, 1, 0).sum()

        per_channel = hist.group_by(cp_c_sub="h_sub", cp_c_channel="h_channel").aggregate(
            cp_c_day=counted(hist.h_day == day),
            cp_c_week=counted(hist.h_day > week_start),
            cp_c_month=counted(hist.h_day > month_start),
            cp_c_refusal=hist.h_day.max(where=hist.h_refused),
        )
        proactive = [c for c in CHANNELS if not self.rule(c).inbound]
        out_hist = hist.filter(hist.h_channel.isin(proactive))
        cross = out_hist.group_by(cp_x_sub="h_sub").aggregate(
            cp_x_day=counted(out_hist.h_day == day),
            cp_x_week=counted(out_hist.h_day > week_start),
            cp_x_month=counted(out_hist.h_day > month_start),
        )
        refused = (
            hist.filter(hist.h_refused)
            .group_by(cp_g_sub="h_sub")
            .aggregate(cp_g_refusal=hist.h_day.max())
        )
        params = self._params(day)

        c = candidates
        sub, channel = c.subscriber_id.cast("string"), c.channel.cast("string")
        joined = (
            c.left_join(params, channel == params.cp_channel)
            .left_join(
                per_channel,
                [sub == per_channel.cp_c_sub, channel == per_channel.cp_c_channel],
            )
            .left_join(cross, sub == cross.cp_x_sub)
            .left_join(refused, sub == refused.cp_g_sub)
        )
        if dnd is not None:
            entries = dnd.select(
                cp_d_sub=dnd.subscriber_id.cast("string"), cp_d_channel=dnd.channel.cast("string")
            ).distinct()
            dnd_channel = entries.filter(entries.cp_d_channel != DND_ALL)
            dnd_all = (
                entries.filter(entries.cp_d_channel == DND_ALL)
                .select(cp_a_sub="cp_d_sub", cp_a_flag=ibis.literal(True))
                .distinct()
            )
            joined = joined.left_join(
                dnd_channel,
                [sub == dnd_channel.cp_d_sub, channel == dnd_channel.cp_d_channel],
            ).left_join(dnd_all, sub == dnd_all.cp_a_sub)
        if objections is not None:
            objected = (
                objections.filter(objections.channel.isin(sorted(PURPOSE_OF_CHANNEL)))
                .select(
                    cp_o_sub=objections.subscriber_id.cast("string"),
                    cp_o_channel=objections.channel.cast("string"),
                    cp_o_flag=ibis.literal(True),
                )
                .distinct()
            )
            joined = joined.left_join(
                objected, [sub == objected.cp_o_sub, channel == objected.cp_o_channel]
            )
        t = joined
        proactive_row = ~t.cp_inbound.fill_null(False)

        def over(count: ir.IntegerValue, cap: ir.IntegerValue) -> ir.BooleanValue:
            result: ir.BooleanValue = (cap.notnull() & (count.fill_null(0) >= cap)).fill_null(False)
            return result

        cross_caps = self.cross_channel_caps
        cross_over = ibis.literal(False)
        for count, cap in (
            (t.cp_x_day, cross_caps.day),
            (t.cp_x_week, cross_caps.week),
            (t.cp_x_month, cross_caps.month),
        ):
            if cap is not None:
                cross_over = cross_over | (count.fill_null(0) >= cap)
        objection_hit = ibis.literal(False)
        if objections is not None:
            objection_hit = t.cp_o_flag.fill_null(False)
        dnd_hit = ibis.literal(False)
        if dnd is not None:
            dnd_hit = t.cp_d_sub.notnull() | (proactive_row & t.cp_a_flag.fill_null(False))
        cool = (t.cp_cool_since.notnull() & (t.cp_c_refusal >= t.cp_cool_since)).fill_null(False)
        if self.cool_off_days:
            since = day - dt.timedelta(days=self.cool_off_days - 1)
            cool = cool | (proactive_row & (t.cp_g_refusal >= since).fill_null(False))
        reason = ibis.cases(
            (t.cp_channel.isnull(), "unknown_channel"),
            (over(t.cp_c_day, t.cp_cap_day), "cap_day"),
            (over(t.cp_c_week, t.cp_cap_week), "cap_week"),
            (over(t.cp_c_month, t.cp_cap_month), "cap_month"),
            (proactive_row & cross_over, "cross_channel_cap"),
            (objection_hit, "objection"),
            (dnd_hit, "dnd"),
            (cool, "cool_off"),
            else_=ibis.null("string"),
        )
        return t.select(*candidates.columns, blocked_reason=reason)

    def allowed_contacts(
        self,
        candidates: ir.Table,
        history: ir.Table,
        dnd: ir.Table | None,
        day: dt.date,
        objections: ir.Table | None = None,
    ) -> ir.Table:
        """The candidates (same columns) no cap, objection, do-not-disturb entry or cool-off
        blocks."""
        explained = self.explain_contacts(candidates, history, dnd, day, objections)
        return explained.filter(explained.blocked_reason.isnull()).drop("blocked_reason")


def load_contact_policy(path: Path | None = None) -> ContactPolicy:
    """Read a contact-policy file (``None``: the shipped one); errors name file and field."""
    source, raw = read_yaml(path, "contact_policy.yaml", "contact policy")
    try:
        return ContactPolicy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {problems(exc)}") from exc
