"""Weekly and monthly reports (周报 / 月报) of a closed ISO week or calendar month.

Figures of a period ``[start, end)`` (data as delivered by the snapshot), each against the same
period last year and the centre's targets (``report_targets.yaml``), in total and by branch,
brand, value tier and channel:

- churn rate: subscribers whose first churn falls in the period ÷ subscribers that joined
  before the start and had not left (``analytics.kpis.churn_rates`` for a month); channel =
  join channel;
- satisfaction: survey answers in the period scoring ≥ ``kpis.SATISFIED_FROM`` ÷ answers;
- average tenure: mean whole months since joining of the subscribers active at the start;
- saves: subscribers with a sent contact they accepted in the period (their first such
  contact; channel = that contact's channel); value saved = the ``value_saved`` of their latest
  acted decision on or before it; retention cost = the cost of the actions decided in the
  period (channel = the decided channel); ROI = (value saved − cost) ÷ cost;
- against the hold-out (``retention_outcomes``: retention decisions made in the period whose
  outcome window has closed): treated and hold-out customers and how many of each left;
  incremental saves = (hold-out churn rate − treated churn rate) × treated (channel = the
  decided channel).

Value tier of a subscriber = their tier in the latest stored ``segments`` snapshot on or before
the period start (not in it: ``unknown``); for a period without such a snapshot (history loaded
before the pipeline ran daily), the tier computed by the pipeline's own rule as of the day
before the start (:func:`computed_tiers`); ``unknown`` when no bill was delivered that far
back.

Everything is added up from one cube of counts per branch × brand × value tier × channel
(:func:`period_cubes`), so a document for some branches is the same sums over fewer rows
(:mod:`weiwan.analytics.period_report_doc`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weiwan.analytics.config_files import problems, read_yaml
from weiwan.analytics.features import as_of_rows, bill_bases
from weiwan.analytics.kpis import SATISFIED_FROM, UNKNOWN, Source, _months_between, _subscribers
from weiwan.analytics.segments import ValueTierConfig, load_segment_config, value_tier
from weiwan.core.errors import ConfigError
from weiwan.core.months import add_months, last_complete_month, month_end

TARGETS_FILE = "report_targets.yaml"
KEYS = ("branch", "brand", "value_tier", "channel")
MEASURES = (
    "at_start",
    "churned",
    "tenure_sum",
    "surveys",
    "satisfied",
    "saves",
    "value_saved",
    "cost",
    "treated",
    "treated_churned",
    "holdout",
    "holdout_churned",
)
WEEKS, MONTHS = 8, 13


class ReportTargets(BaseModel):
    """The centre's targets (PRODUCT.md: churn −3 % year on year, satisfaction 85 %, tenure
    +2 months) and the churn report's indirect cost factor."""

    model_config = ConfigDict(extra="forbid")

    churn_yoy_change: float = Field(-0.03, ge=-1.0, le=1.0)
    satisfaction_rate: float = Field(0.85, ge=0.0, le=1.0)
    tenure_gain_months: float = Field(2.0, ge=-120.0, le=120.0)
    #: the churn report's indirect cost = this factor × the direct cost
    indirect_cost_factor: float = Field(0.5, ge=0.0, le=100.0)


def load_targets(path: Path | None = None) -> ReportTargets:
    """The targets file (the shipped one by default); a bad entry is a ConfigError naming the
    file and field."""
    source, data = read_yaml(path, TARGETS_FILE, "report targets")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: report targets must be a mapping of field: number")
    try:
        return ReportTargets.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {problems(exc)}") from exc


@dataclass(frozen=True)
class Period:
    """A closed ISO week (``2026-W44``) or calendar month (``2026-10``): ``[start, end)``."""

    kind: str
    key: str
    start: date
    end: date

    @property
    def last_day(self) -> date:
        """The period's last day."""
        return self.end - timedelta(days=1)

    def last_year(self) -> Period:
        """The same week number or month one year earlier."""
        if self.kind == "month":
            return month_period(add_months(self.start, -12))
        year, week, _ = self.start.isocalendar()
        weeks_then = date(year - 1, 12, 28).isocalendar()[1]
        return week_period(date.fromisocalendar(year - 1, min(week, weeks_then), 1))

    def previous(self) -> Period:
        """The period just before."""
        if self.kind == "month":
            return month_period(add_months(self.start, -1))
        return week_period(self.start - timedelta(days=7))


def week_period(day: date) -> Period:
    """The ISO week holding ``day``."""
    year, week, weekday = day.isocalendar()
    start = day - timedelta(days=weekday - 1)
    return Period("week", f"{year}-W{week:02d}", start, start + timedelta(days=7))


def month_period(day: date) -> Period:
    """The calendar month holding ``day``."""
    start = day.replace(day=1)
    return Period("month", start.strftime("%Y-%m"), start, add_months(start, 1))


def parse_period(kind: str, key: str) -> Period:
    """``week`` ``YYYY-Www`` or ``month`` ``YYYY-MM``; ValueError naming the field otherwise."""
    try:
        if kind == "week":
            year, week = key.split("-W")
            if len(year) != 4 or len(week) != 2:
                raise ValueError(key)
            return week_period(date.fromisocalendar(int(year), int(week), 1))
        if kind == "month":
            if len(key) != 7:
                raise ValueError(key)
            return month_period(date.fromisoformat(f"{key}-01"))
    except ValueError:
        pass
    else:
        raise ValueError(f"kind: not week or month: {kind!r}")
    form = "YYYY-Www" if kind == "week" else "YYYY-MM"
    raise ValueError(f"{kind}: not a {kind}: {key!r}; use {form}")


def closed_periods(snapshot: date, weeks: int = WEEKS, months: int = MONTHS) -> list[Period]:
    """The last ``weeks`` ISO weeks and ``months`` months that ended on or before the snapshot,
    newest first within each kind (weeks first)."""
    week = week_period(snapshot)
    if week.last_day > snapshot:
        week = week.previous()
    month = month_period(snapshot)
    if month_end(snapshot) > snapshot:
        month = month.previous()
    out: list[Period] = []
    for _ in range(weeks):
        out.append(week)
        week = week.previous()
    for _ in range(months):
        out.append(month)
        month = month.previous()
    return out


def first_churn(wh: Source, snapshot: date) -> date | None:
    """The first churn date delivered by the snapshot (None without any)."""
    churn = as_of_rows(wh, "churn_records", snapshot)
    value = churn.churn_date.min().to_pandas()
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def subscriber_count(wh: Source, snapshot: date) -> int:
    """How many subscribers the reports of ``snapshot`` count (a period's cube has a row per
    subscriber before it is summed)."""
    return int(_subscribers(wh, snapshot).count().execute())


def _calendar(wh: Source, periods: list[Period]) -> tuple[ir.Table, list[date]]:
    """One row per period: key, [start, end) and the segments snapshot its tiers come from
    (the latest on or before the start; NULL without one); and the starts without one."""
    days: list[date] = []
    if wh.has_table("segments"):
        stored = wh.table("segments").select("snapshot_date").distinct().to_pandas()
        days = sorted(pd.Timestamp(d).date() for d in stored["snapshot_date"])
    rows, unstored = [], set()
    for period in periods:
        before = [d for d in days if d <= period.start]
        if not before:
            unstored.add(period.start)
        rows.append(
            {
                "p_key": period.key,
                "p_start": period.start,
                "p_end": period.end,
                "p_seg": before[-1] if before else None,
            }
        )
    schema = {"p_key": "string", "p_start": "date", "p_end": "date", "p_seg": "date"}
    cal = ibis.memtable(pd.DataFrame(rows, columns=list(schema)), schema=ibis.schema(schema))
    return cal, sorted(unstored)


def computed_tiers(
    wh: Source, starts: list[date], config: ValueTierConfig | None = None
) -> pd.DataFrame:
    """Value tiers at each period start as the pipeline would have stored them on its eve (the
    day before): ``segments.value_tier`` (``segments.yaml`` by default) over
    ``features.bill_bases`` of that day, so a percentile ranks within that day's base. Columns
    ``c_sid``, ``c_day`` (the start), ``c_tier``.

    The base on the eve is exactly the report's subscribers at the start (joined before it and
    not left before it; one leaving on the first day keeps a tier). A day whose base has no
    bill on the tier's basis (history not delivered that far back) gets no rows: its tiers stay
    unknown rather than all ``mass``."""
    rows = _tier_rows(wh, starts, config)
    if rows is None:
        return pd.DataFrame(columns=["c_sid", "c_day", "c_tier"])
    frame: pd.DataFrame = rows.to_pandas()
    return frame


def _tier_rows(
    wh: Source, starts: list[date], config: ValueTierConfig | None = None
) -> ir.Table | None:
    """:func:`computed_tiers` as an expression (None: no day has bills), so the report's
    query joins it where it runs."""
    tiers = config or load_segment_config().value_tier
    first = wh.table("monthly_usage").bill_month.min().to_pandas()
    if first is None or pd.isna(first):
        return None
    # a shortcut for the rule below: no bill month up to the eve's last complete month
    billed_from = pd.Timestamp(first).date()
    eves = sorted({d - timedelta(days=1) for d in starts})
    parts = [bill_bases(wh, eve) for eve in eves if last_complete_month(eve) >= billed_from]
    if not parts:
        return None
    # one query for every day: value_tier ranks within each snapshot_date
    bases = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    known = bases[tiers.basis].count().over(ibis.window(group_by=bases.snapshot_date)) > 0
    rows = bases.select(
        c_sid=bases.subscriber_id,
        c_day=(bases.snapshot_date + ibis.interval(days=1)).cast("date"),
        c_tier=value_tier(bases, tiers),
        known=known,
    )
    return rows.filter(rows.known).drop("known")


def _people(wh: Source, snapshot: date, cal: ir.Table, starts: list[date]) -> ir.Table:
    """One row per period and subscriber: the cube's keys (channel = join channel), join and
    churn date. Value tier: from the stored segments of ``p_seg``; for a period without any,
    computed for its start (:func:`computed_tiers`); else unknown."""
    subs = _subscribers(wh, snapshot).cross_join(cal)
    if wh.has_table("segments"):
        seg = wh.table("segments")
        seg = seg.select(t_sid=seg.subscriber_id, t_day=seg.snapshot_date, t_tier=seg.value_tier)
        subs = subs.left_join(
            seg, (subs.subscriber_id == seg.t_sid) & (subs.p_seg == seg.t_day)
        ).drop("t_sid", "t_day")
    else:
        subs = subs.mutate(t_tier=ibis.null("string"))
    tiers = _tier_rows(wh, starts) if starts else None
    if tiers is None:
        subs = subs.mutate(c_tier=ibis.null("string"))
    else:
        subs = subs.left_join(
            tiers, (subs.subscriber_id == tiers.c_sid) & (subs.p_start == tiers.c_day)
        ).drop("c_sid", "c_day")
    tier = ibis.ifelse(subs.p_seg.isnull(), subs.c_tier, subs.t_tier)
    return subs.mutate(value_tier=tier.fill_null(UNKNOWN)).drop("t_tier", "c_tier")


GROUP = ("p_key", *KEYS)


def _grouped(rows: ir.Table, **measures: ir.Value) -> pd.DataFrame:
    frame: pd.DataFrame = rows.group_by(list(GROUP)).aggregate(**measures).to_pandas()
    return frame


def _base(people: ir.Table) -> pd.DataFrame:
    start, end = people.p_start, people.p_end
    at_start = (people.join_date < start) & (
        people.churn_date.isnull() | (people.churn_date >= start)
    )
    churned = at_start & (people.churn_date < end).fill_null(False)
    tenure = _months_between(people.join_date, start)
    return _grouped(
        people,
        at_start=at_start.cast("int64").sum(),
        churned=churned.cast("int64").sum(),
        tenure_sum=ibis.ifelse(at_start, tenure, 0).sum().cast("float64"),
    )


def _surveys(wh: Source, snapshot: date, people: ir.Table) -> pd.DataFrame:
    surveys = as_of_rows(wh, "surveys", snapshot)
    surveys = surveys.select(
        v_sid=surveys.subscriber_id, v_day=surveys.survey_time.date(), score=surveys.score
    )
    joined = surveys.join(
        people,
        (surveys.v_sid == people.subscriber_id)
        & (surveys.v_day >= people.p_start)
        & (surveys.v_day < people.p_end),
    )
    return _grouped(
        joined,
        surveys=joined.count(),
        satisfied=(joined.score >= SATISFIED_FROM).cast("int64").sum(),
    )


def _saves(wh: Source, people: ir.Table, cal: ir.Table) -> pd.DataFrame:
    if not wh.has_table("ops_contacts"):
        return pd.DataFrame(columns=[*GROUP, "saves", "value_saved"])
    contacts = wh.table("ops_contacts")
    accepted = contacts.filter((contacts.status == "sent") & contacts.accepted.fill_null(False))
    accepted = accepted.join(
        cal, (accepted.contact_date >= cal.p_start) & (accepted.contact_date < cal.p_end)
    )
    first = accepted.group_by(["p_key", "subscriber_id"]).aggregate(
        s_date=accepted.contact_date.min(),
        s_channel=accepted.channel.argmin(accepted.at),
    )
    first = first.select(
        s_key="p_key", s_sid="subscriber_id", s_date="s_date", s_channel="s_channel"
    )
    if wh.has_table("decisions"):
        decisions = wh.table("decisions")
        acted = decisions.filter(decisions.action.fill_null(False))
        acted = acted.select(
            d_sid=acted.subscriber_id, d_date=acted.snapshot_date, d_value=acted.value_saved
        )
        valued = first.left_join(
            acted, (first.s_sid == acted.d_sid) & (acted.d_date <= first.s_date)
        )
        first = valued.group_by(["s_key", "s_sid", "s_channel"]).aggregate(
            value=valued.d_value.argmax(valued.d_date).fill_null(0.0)
        )
    else:
        first = first.mutate(value=ibis.literal(0.0))
    keyed = people.drop("channel").join(
        first, (people.subscriber_id == first.s_sid) & (people.p_key == first.s_key)
    )
    keyed = keyed.mutate(channel=keyed.s_channel.fill_null(UNKNOWN))
    return _grouped(keyed, saves=keyed.count(), value_saved=keyed.value.sum().cast("float64"))


def _costs(wh: Source, people: ir.Table) -> pd.DataFrame:
    if not wh.has_table("decisions"):
        return pd.DataFrame(columns=[*GROUP, "cost"])
    decisions = wh.table("decisions")
    acted = decisions.filter(decisions.action.fill_null(False))
    acted = acted.select(
        d_sid=acted.subscriber_id,
        d_date=acted.snapshot_date,
        d_channel=acted.channel,
        d_cost=acted.cost.fill_null(0.0),
    )
    keyed = people.drop("channel").join(
        acted,
        (people.subscriber_id == acted.d_sid)
        & (acted.d_date >= people.p_start)
        & (acted.d_date < people.p_end),
    )
    keyed = keyed.mutate(channel=keyed.d_channel.fill_null(UNKNOWN))
    return _grouped(keyed, cost=keyed.d_cost.sum().cast("float64"))


def _outcomes(wh: Source, people: ir.Table) -> pd.DataFrame:
    if not wh.has_table("retention_outcomes"):
        return pd.DataFrame(columns=[*GROUP, "treated"])
    outcomes = wh.table("retention_outcomes")
    rows = outcomes.select(
        o_sid=outcomes.subscriber_id,
        o_date=outcomes.snapshot_date,
        o_offer=outcomes.offer_type,
        o_treated=outcomes.treated.fill_null(False),
        o_churned=outcomes.churned.fill_null(False),
    )
    if wh.has_table("decisions"):
        decisions = wh.table("decisions")
        channels = decisions.group_by(["subscriber_id", "snapshot_date", "offer_type"]).aggregate(
            o_channel=decisions.channel.max()
        )
        channels = channels.rename(
            c_sid="subscriber_id", c_date="snapshot_date", c_offer="offer_type"
        )
        rows = rows.left_join(
            channels,
            (rows.o_sid == channels.c_sid)
            & (rows.o_date == channels.c_date)
            & (rows.o_offer == channels.c_offer),
        ).drop("c_sid", "c_date", "c_offer")
    else:
        rows = rows.mutate(o_channel=ibis.null("string"))
    keyed = people.drop("channel").join(
        rows,
        (people.subscriber_id == rows.o_sid)
        & (rows.o_date >= people.p_start)
        & (rows.o_date < people.p_end),
    )
    keyed = keyed.mutate(channel=keyed.o_channel.fill_null(UNKNOWN))
    treated, churned = keyed.o_treated, keyed.o_churned
    return _grouped(
        keyed,
        treated=treated.cast("int64").sum(),
        treated_churned=(treated & churned).cast("int64").sum(),
        holdout=(~treated).cast("int64").sum(),
        holdout_churned=(~treated & churned).cast("int64").sum(),
    )


#: subscriber × period rows one pass of :func:`period_cubes` keeps at most: the whole history at
#: once crossed 10 M subscribers with every period and spilled more than 50 GB to disk
CUBE_PASS_ROWS = 20_000_000


def period_cubes(
    wh: Source,
    snapshot: date,
    periods: list[Period],
    *,
    pass_rows: int = CUBE_PASS_ROWS,
    subscribers: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Counts of each period (by key) per branch × brand × value tier × channel
    (:data:`MEASURES`), as many periods in one pass over the data as keep the subscriber ×
    period rows of a pass within ``pass_rows`` (at least one period a pass); ``subscribers``: their
    count (:func:`subscriber_count`) when the caller already has it."""
    unique = list({p.key: p for p in periods}.values())
    if subscribers is None:
        subscribers = subscriber_count(wh, snapshot)
    size = max(1, pass_rows // max(1, subscribers))
    cubes: dict[str, pd.DataFrame] = {}
    for start in range(0, len(unique), size):
        cubes.update(_cubes_in_one_pass(wh, snapshot, unique[start : start + size]))
    return {p.key: cubes[p.key] for p in unique}


def _cubes_in_one_pass(wh: Source, snapshot: date, unique: list[Period]) -> dict[str, pd.DataFrame]:
    """:func:`period_cubes` of distinct ``unique`` periods in one pass over the data."""
    cal, unstored = _calendar(wh, unique)
    # the subscribers of every period with their tiers, computed once for the five queries
    with _people(wh, snapshot, cal, unstored).cache() as people:
        parts = [
            _base(people),
            _surveys(wh, snapshot, people),
            _saves(wh, people, cal),
            _costs(wh, people),
            _outcomes(wh, people),
        ]
    frames = [p for p in parts if not p.empty]
    columns = [*KEYS, *MEASURES]
    if not frames:
        return {p.key: pd.DataFrame(columns=columns) for p in unique}
    cube = pd.concat(frames, ignore_index=True)
    for measure in MEASURES:
        if measure not in cube.columns:
            cube[measure] = 0.0
    cube[list(MEASURES)] = cube[list(MEASURES)].astype(float).fillna(0.0)
    for key in KEYS:
        cube[key] = cube[key].fillna(UNKNOWN).astype(str)
    summed = cube.groupby(list(GROUP), as_index=False)[list(MEASURES)].sum()
    out = {key: rows[columns].reset_index(drop=True) for key, rows in summed.groupby("p_key")}
    return {p.key: out.get(p.key, pd.DataFrame(columns=columns)) for p in unique}
