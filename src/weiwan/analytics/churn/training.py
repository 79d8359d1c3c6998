"""Train and evaluate the churn model on the warehouse, and score a snapshot with reasons.

Training rows are subscribers active at past month-end snapshots, with the features of that
date and the label of the following ``horizon`` months. The latest labelled snapshot is the
time-based hold-out; the default model and the two baselines are evaluated on it side by side,
then the default is refitted on every labelled snapshot and registered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from weiwan.analytics.churn.drift import reference
from weiwan.analytics.churn.labels import (
    horizon_end,
    labelled_mid_months,
    labelled_snapshots,
    labels,
)
from weiwan.analytics.churn.leaving_reasons import (
    MIN_CODED,
    LeavingReasons,
    assess_leaving_reasons,
    fit_leaving_reasons,
    recorded_reasons,
)
from weiwan.analytics.churn.metrics import (
    calibration_table,
    evaluate,
    expected_maximum_profit,
    lift_table,
    profit_curve,
    roc_points,
)
from weiwan.analytics.churn.models import (
    baseline_models,
    default_model,
    prepare_features,
    text_columns,
)
from weiwan.analytics.churn.reasons import top_reasons
from weiwan.analytics.churn.registry import ModelMeta
from weiwan.analytics.features import DAY_FEATURES, active_subscribers, compute_features
from weiwan.analytics.warehouse import SNAPSHOT, RestrictedSource, Store, TableSource
from weiwan.core.errors import WeiwanError
from weiwan.core.logging import get_logger
from weiwan.core.months import add_months, month_end
from weiwan.core.settings import get_settings

log = get_logger(__name__)

KEYS = ("subscriber_id", "snapshot_date")
MIN_CHURNERS = 20  # per side of the split; fewer and no metric or model means anything
HISTORY_MONTHS = 3  # usage months a snapshot needs before it, or its 3-month features are cut


class NotEnoughHistoryError(WeiwanError):
    """The warehouse holds too little labelled churn history to train a model."""


def more_churners_advice(train: int, holdout: int, training_snapshots: int, horizon: int) -> str:
    """What to do when a side of the split has fewer than ``MIN_CHURNERS``: a longer label
    horizon (the hold-out is one month end, so only a longer horizon or more subscribers add
    churners to it) and how many more months of history the training side needs."""
    per_snapshot = (train + holdout) / (training_snapshots + 1)
    if per_snapshot <= 0:
        return (
            "no churn at all in the delivered history: check that churn_records is delivered "
            "and mapped, then deliver at least "
            f"{HISTORY_MONTHS + horizon + 1} months of history"
        )
    advice: list[str] = []
    per_month = per_snapshot / horizon
    longer = max(3, -(-MIN_CHURNERS // max(1, int(per_month))))
    if holdout < MIN_CHURNERS and longer > horizon:
        if longer <= 12:
            advice.append(
                f"count churn within {longer} months of a snapshot (`weiwan model train "
                f"--horizon {longer} --promote`; about {per_month * longer:.0f} churners in the "
                "hold-out)"
            )
        else:
            advice.append(
                f"deliver all subscribers: about {per_month:.0f} leave a month, too few for a "
                "hold-out even over 12 months"
            )
    needed = -(-MIN_CHURNERS // max(1, int(per_snapshot)))
    if train < MIN_CHURNERS and needed > training_snapshots:
        advice.append(
            f"deliver about {needed - training_snapshots} more months of history (about "
            f"{per_snapshot:.0f} churners per month end now; {needed} training month ends "
            f"would give about {needed * per_snapshot:.0f})"
        )
    return "; or ".join(advice) if advice else "deliver more history"


RISK_BANDS = (("high", 0.05), ("medium", 0.20))  # top 5 % high, next 15 % medium, rest low


@dataclass
class TrainingConfig:
    """How the warehouse model is trained."""

    horizon_months: int = 1
    include_involuntary: bool = True
    #: labelled month ends used: all but the last train, the last is the hold-out. Six training
    #: months beat three by 0.005-0.01 AUC on a simulated 100 k operator (more churners to learn
    #: from, and seasons mixed); snapshots without ``HISTORY_MONTHS`` of usage before them drop.
    snapshots: int = 7
    #: rows sampled across the training snapshots (and again for the hold-out at most)
    max_training_rows: int = 1_000_000
    seed: int = 0
    #: refit the default on every labelled snapshot (hold-out included) after the evaluation;
    #: False keeps the model fitted on the training snapshots (an evaluation-only run, faster)
    refit: bool = True
    #: labelled subscribers sampled at each month end, stratified by the label, before any
    #: feature is computed (0: everyone; see stratified_sample)
    sample_subscribers: int = field(default_factory=lambda: get_settings().train_sample_subscribers)
    #: train as on this day: only snapshots whose label window has closed by it (a backtest of
    #: what the product would have had that day); None: the latest delivery
    known_until: date | None = None
    #: also train on these days of each month (1-28; empty: month ends only), in order of
    #: preference: the first always, each further one while every snapshot's labelled
    #: subscribers still fit half of ``max_training_rows`` whole. The daily run scores every
    #: day, and a model trained on month ends alone misreads a mid-month day, whose last bill
    #: is weeks old and whose month has only begun; a small operator, far under the row cap,
    #: learns that better from three days a month than from one (docs/churn-model.md).
    #: Default: the setting ``train_mid_month_days`` (15, 8, 22)
    mid_month_days: tuple[int, ...] = field(
        default_factory=lambda: tuple(get_settings().train_mid_month_days)
    )

    def __post_init__(self) -> None:
        wrong = [d for d in self.mid_month_days if not 1 <= d <= 28]
        if wrong:
            raise ValueError(f"mid_month_days must be 1-28, not {wrong}")
        if len(set(self.mid_month_days)) != len(self.mid_month_days):
            raise ValueError(f"mid_month_days repeats a day: {list(self.mid_month_days)}")


@dataclass
class TrainingResult:
    """The fitted production model, its metadata and the side-by-side evaluation."""

    model: Any
    meta: ModelMeta
    evaluation: dict[str, Any] = field(default_factory=dict)
    #: the default fitted on the training snapshots only: what the hold-out figures describe
    holdout_model: Any = None
    #: rows, churners and churn rate of the hold-out snapshot
    holdout: dict[str, Any] = field(default_factory=dict)
    #: the parameters the expected maximum profit was computed with
    emp_parameters: dict[str, Any] = field(default_factory=dict)


def last_data_day(warehouse: Store) -> date:
    """The latest delivery date of the subscriber extract: history is known up to it."""
    last = _day(warehouse.table("subscribers")[SNAPSHOT].max().execute())
    if last is None:
        raise NotEnoughHistoryError("no subscribers in the warehouse: run `weiwan ingest` first")
    return last


def _day(value: Any) -> date | None:
    """A date from an engine's scalar (DuckDB gives a date or Timestamp, Spark a datetime)."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def _known_day(warehouse: Store, config: TrainingConfig) -> date:
    """The last day whose data training may use: the warehouse's last, or ``known_until``
    when earlier (a backtest)."""
    known = last_data_day(warehouse)
    return known if config.known_until is None else min(known, config.known_until)


def training_snapshots(warehouse: Store, config: TrainingConfig) -> list[date]:
    """The labelled snapshots to use, oldest first: the month ends and the mid-month days of
    :func:`_mid_month_snapshots`. Those with fewer than ``HISTORY_MONTHS`` of usage before them
    are left out while two month ends or more remain (their 3-month features would be cut
    short); a short history keeps the latest two month ends that have any usage, with a
    warning."""
    known = _known_day(warehouse, config)
    candidates = labelled_snapshots(
        known, horizon_months=config.horizon_months, count=config.snapshots
    )
    first = _day(warehouse.table("monthly_usage").bill_month.min().execute())
    if first is None:
        raise NotEnoughHistoryError("no monthly usage in the warehouse: run `weiwan ingest`")
    enough = month_end(add_months(first, HISTORY_MONTHS - 1))
    full = [d for d in candidates if d >= enough]
    if len(full) >= 2:
        return sorted(full + _mid_month_snapshots(warehouse, config, known, full, enough))
    some = [d for d in candidates if d >= month_end(first)][-2:]
    if len(some) < 2:
        raise NotEnoughHistoryError(
            "training needs two month-end snapshots with usage before them and a full label "
            f"horizon ({config.horizon_months} month(s)) after: deliver at least "
            f"{HISTORY_MONTHS + 1 + config.horizon_months} months of history (monthly usage "
            "and churn records)"
        )
    log.warning("training.short_history", snapshots=[str(d) for d in some], months=HISTORY_MONTHS)
    return some


#: the share of ``max_training_rows`` the snapshots of further mid-month days must fit in whole.
#: Measured (docs/churn-model.md): at 20 k subscribers three days (480 k rows) beat the 15th
#: alone on 7 of 10 grid cases (mean +0.003 x the truth); at 50 k two days (870 k rows) gained
#: nothing (four cases: -0.005 to +0.004, mean -0.001) and took 30-50 % longer to train
EXTRA_DAYS_ROW_SHARE = 0.5


def _mid_month_snapshots(
    warehouse: Store, config: TrainingConfig, known: date, ends: list[date], enough: date
) -> list[date]:
    """The labelled mid-month snapshots beside the month ends ``ends``: the first of
    ``config.mid_month_days`` always, each further day only while every snapshot's labelled
    subscribers (those of the latest month end, or ``sample_subscribers`` when fewer) still
    fit :data:`EXTRA_DAYS_ROW_SHARE` of ``max_training_rows`` whole. A further day adds rows
    of the same subscribers on other days: it helps a small operator, whose churners are few,
    and not one whose snapshots already hold enough."""
    by_day = [
        [
            d
            for d in labelled_mid_months(
                known, horizon_months=config.horizon_months, count=config.snapshots, day=day
            )
            if d >= enough
        ]
        for day in config.mid_month_days
    ]
    if len(by_day) <= 1:
        return by_day[0] if by_day else []
    per_snapshot = sum(stratum_sizes(warehouse, ends[-1], config).values())
    per_snapshot = min(per_snapshot, config.sample_subscribers or per_snapshot)
    room = config.max_training_rows * EXTRA_DAYS_ROW_SHARE
    chosen = by_day[:1]
    for days in by_day[1:]:
        count = len(ends) + sum(map(len, chosen)) + len(days)
        if per_snapshot * (count - 1) > room:
            break
        chosen.append(days)
    log.info(
        "training.mid_month_days",
        days=list(config.mid_month_days[: len(chosen)]),
        rows_per_snapshot=per_snapshot,
    )
    return [d for days in chosen for d in days]


def sample_key(subscriber_id: ir.StringValue) -> ir.StringValue:
    """The order samples draw subscribers in: the MD5 of the id in hex, which DuckDB and Spark
    compute alike (their ``hash()`` differ), so both engines pick the same subscribers."""
    return subscriber_id.hexdigest("md5")


#: hex digits of the key uniform_sample compares its share against (2^32 buckets)
_KEY_DIGITS = 8


def uniform_sample(rows: ir.Table, share: float) -> ir.Table:
    """The rows of the subscribers whose :func:`sample_key` falls in the first ``share`` of the
    key range: the same subscribers on every engine and in every table."""
    if share >= 1.0:
        return rows
    bound = f"{int(share * 16**_KEY_DIGITS):0{_KEY_DIGITS}x}"
    return rows.filter(sample_key(rows.subscriber_id).substr(0, _KEY_DIGITS) < bound)


def sampled_source(warehouse: TableSource, share: float) -> TableSource:
    """The warehouse's tables restricted to a uniform sample of subscribers (the same at every
    date: :func:`uniform_sample`), so features are only ever computed for the sample."""
    return RestrictedSource(warehouse, lambda rows: uniform_sample(rows, share))


def chosen_source(warehouse: TableSource, subscribers: ir.Table) -> TableSource:
    """The warehouse's tables restricted to the subscribers of ``subscribers`` (a table with a
    ``subscriber_id`` column), joined in the store."""
    chosen = subscribers.select("subscriber_id")
    return RestrictedSource(warehouse, lambda rows: rows.semi_join(chosen, "subscriber_id"))


def subscriber_sample(
    warehouse: Store, config: TrainingConfig
) -> tuple[TableSource, dict[str, Any]]:
    """A uniform :func:`sampled_source` of about ``config.sample_subscribers`` (the warehouse when
    there are fewer), and its population and share: what the tenure model's check fits on."""
    population = int(warehouse.table("subscribers").subscriber_id.nunique().execute())
    wanted = config.sample_subscribers
    if wanted <= 0 or population <= wanted:
        return warehouse, {"subscribers": population, "share": 1.0}
    share = wanted / population
    return sampled_source(warehouse, share), {"subscribers": population, "share": share}


def labelled_population(warehouse: TableSource, snapshot: date, config: TrainingConfig) -> ir.Table:
    """(subscriber_id, churned) of every subscriber active at ``snapshot``."""
    tagged = labels(
        warehouse,
        snapshot,
        horizon_months=config.horizon_months,
        include_involuntary=config.include_involuntary,
    )
    active = active_subscribers(warehouse, snapshot)
    joined = active.left_join(tagged, "subscriber_id")
    return joined.select("subscriber_id", churned=joined.churned.fill_null(False))


def stratum_sizes(
    warehouse: TableSource, snapshot: date, config: TrainingConfig
) -> dict[bool, int]:
    """How many subscribers active at ``snapshot`` churned within the horizon (True) and not
    (False): one aggregate in the store."""
    rows = labelled_population(warehouse, snapshot, config)
    counts = rows.group_by("churned").aggregate(rows=rows.count()).to_pyarrow().to_pylist()
    return {bool(c["churned"]): int(c["rows"]) for c in counts}


def stratum_quotas(strata: dict[bool, int], size: int | None) -> dict[bool, int]:
    """Rows each label keeps in a sample of about ``size``: its share of the population,
    ``ceil(stratum * size / population)`` (everyone when ``size`` is None or not smaller)."""
    population = sum(strata.values())
    if size is None or size >= population:
        return dict(strata)
    return {label: -(-rows * size // population) for label, rows in strata.items()}


def _candidates(quota: int, stratum: int) -> str | None:
    """The key prefix below which a label's subscribers are ranked for its quota: a range
    expected to hold 10 % and six standard deviations more than the quota (None: all)."""
    share = (quota * 1.1 + 6 * quota**0.5 + 100) / max(1, stratum)
    return None if share >= 1.0 else f"{int(share * 16**_KEY_DIGITS):0{_KEY_DIGITS}x}"


def stratified_sample(
    warehouse: TableSource,
    snapshot: date,
    config: TrainingConfig,
    strata: dict[bool, int],
    size: int | None,
    *,
    prefilter: bool = True,
) -> ir.Table:
    """The labelled subscribers of ``snapshot`` sampled to about ``size``, stratified by the
    label, as an expression of the store (subscriber_id, churned): for each label (``strata``
    gives how many have it, :func:`stratum_sizes`) its quota (:func:`stratum_quotas`) of
    subscribers of lowest :func:`sample_key`. The key is the same on both engines, so DuckDB
    and Spark pick the same rows.

    Each label keeps its share of the population (proportional allocation), not "all
    churners and weighted non-churners": with the label's share kept, the model's
    probabilities stay calibrated and the hold-out's figures (lift, calibration, profit) stay
    those of the population without weighting every model and metric; at the sizes sampled
    (100 k per month end) a 1 % churn rate still leaves about a thousand churners a month end.

    With ``prefilter`` only the subscribers whose key falls in a range expected to hold a
    margin more than the quota are ranked (a label's ranking is one task on Spark: it stays
    small as the population grows). The lowest keys are all in that range, so the result is
    that of ranking everyone whenever the range holds the quota; :func:`draw_sample` checks,
    and ranks everyone otherwise.
    """
    quotas = stratum_quotas(strata, size)
    rows = labelled_population(warehouse, snapshot, config)
    if quotas == strata:
        return rows
    key = sample_key(rows.subscriber_id)
    if prefilter:
        wanted = ibis.literal(False)
        for label, quota in quotas.items():
            in_label = rows.churned if label else ~rows.churned
            bound = _candidates(quota, strata[label])
            wanted |= in_label if bound is None else in_label & (key.substr(0, _KEY_DIGITS) < bound)
        rows = rows.filter(wanted)
    ranked = rows.mutate(
        _rank=ibis.row_number().over(
            group_by=rows.churned, order_by=[sample_key(rows.subscriber_id), rows.subscriber_id]
        )
    )
    quota = ibis.ifelse(ranked.churned, quotas.get(True, 0), quotas.get(False, 0))
    return ranked.filter(ranked._rank < quota).select("subscriber_id", "churned")


@dataclass(frozen=True)
class SnapshotSample:
    """The labelled subscribers of one month end that training uses, collected to the
    driver (only the sample), and the population they were drawn from."""

    rows: pa.Table  # subscriber_id, churned; in subscriber order
    labelled: int  # labelled subscribers of the month end
    labelled_churners: int

    @property
    def churners(self) -> int:
        """Churners in the sample."""
        return int(pc.sum(self.rows["churned"]).as_py() or 0)

    @property
    def everyone(self) -> bool:
        """Whether the sample is the whole population."""
        return bool(self.rows.num_rows == self.labelled)


def sample_size(config: TrainingConfig, max_rows: int | None = None) -> int | None:
    """Rows sampled per labelled month end: ``config.sample_subscribers`` (0: no bound) and
    ``max_rows``, whichever is smaller; None when neither bounds it."""
    bounds = [b for b in (config.sample_subscribers or None, max_rows) if b is not None]
    return min(bounds) if bounds else None


def _count(rows: pa.Table, label: bool) -> int:
    return int(pc.sum(pc.equal(rows["churned"], label)).as_py() or 0)


def draw_sample(
    warehouse: TableSource, snapshot: date, config: TrainingConfig, size: int | None
) -> SnapshotSample:
    """:func:`stratified_sample` of ``snapshot`` run in the store: two queries (the strata's
    sizes, then the sample); only the sample reaches the driver."""
    strata = stratum_sizes(warehouse, snapshot, config)
    quotas = stratum_quotas(strata, size)
    rows = stratified_sample(warehouse, snapshot, config, strata, size).to_pyarrow()
    if any(_count(rows, label) < quota for label, quota in quotas.items()):
        log.info("training.sample_ranked_whole", snapshot=snapshot.isoformat())
        rows = stratified_sample(
            warehouse, snapshot, config, strata, size, prefilter=False
        ).to_pyarrow()
    return SnapshotSample(
        rows=rows.select(["subscriber_id", "churned"]).sort_by("subscriber_id"),
        labelled=sum(strata.values()),
        labelled_churners=strata.get(True, 0),
    )


def snapshot_frame(
    warehouse: Store,
    snapshot: date,
    config: TrainingConfig,
    max_rows: int | None = None,
    sample: SnapshotSample | None = None,
) -> pd.DataFrame:
    """Features of the sampled subscribers of ``snapshot`` with the churn label of the
    following horizon: ``sample``, else the stratified sample of :func:`sample_size` rows.
    Features are only computed for the sample."""
    if sample is None:
        sample = draw_sample(warehouse, snapshot, config, sample_size(config, max_rows))
    chosen = ibis.memtable(sample.rows)
    source = warehouse if sample.everyone else chosen_source(warehouse, chosen)
    feats = compute_features(source, snapshot)
    joined = feats.inner_join(chosen, "subscriber_id")
    # in key order: DuckDB returns rows in any order, and the same data must give the same model
    frame: pd.DataFrame = joined.order_by("subscriber_id").to_pandas()
    return frame


def sample_summary(samples: list[SnapshotSample], size: int | None) -> dict[str, Any]:
    """What the model report says of the training sample, summed over the month ends."""
    return {
        "stratified_by": "churned",
        "per_snapshot": size,
        "rows": sum(s.rows.num_rows for s in samples),
        "churners": sum(s.churners for s in samples),
        "labelled": sum(s.labelled for s in samples),
        "labelled_churners": sum(s.labelled_churners for s in samples),
    }


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Every feature column (keys and the label excluded)."""
    return [c for c in frame.columns if c not in (*KEYS, "churned")]


def _fingerprint(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame[list(KEYS)], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


EMP_DEFAULTS = {"alpha": 6.0, "beta": 14.0, "offer_cost": 10.0, "contact_cost": 1.0}
DEFAULT_CLV = 200.0  # EMP's customer value when the warehouse has no CLV for a subscriber


def _holdout_value(warehouse: Store, holdout: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Each hold-out subscriber's future value from the CLV step, ``DEFAULT_CLV`` where none."""
    value = np.full(len(holdout), DEFAULT_CLV)
    if not warehouse.has_table("clv"):
        return value, f"{DEFAULT_CLV:g}"
    clv = warehouse.table("clv")
    snapshot = holdout["snapshot_date"].iloc[0] if len(holdout) else None
    rows = clv.filter(clv.snapshot_date == snapshot).select("subscriber_id", "future_value")
    known = rows.to_pandas().set_index("subscriber_id")["future_value"]
    if known.notna().sum() == 0:
        return value, f"{DEFAULT_CLV:g}"
    mapped = holdout["subscriber_id"].map(known).to_numpy(np.float64)
    return np.where(np.isnan(mapped), DEFAULT_CLV, mapped), "clv"


def _assess(y: np.ndarray, p: np.ndarray, clv: np.ndarray) -> dict[str, Any]:
    emp, share = expected_maximum_profit(y, p, clv=clv)
    return {
        **evaluate(y, p),
        "emp": emp,
        "emp_share_contacted": share,
        "lift": lift_table(y, p),
        "calibration": calibration_table(y, p),
        "roc": roc_points(y, p),
        "profit": profit_curve(y, p, clv=clv),
    }


def _categories(frame: pd.DataFrame, names: list[str], rows: np.ndarray) -> dict[str, list[str]]:
    """The levels :func:`prepare_features` learns from ``rows`` of ``frame``'s text columns
    (only those columns are read: a few, where the features are ~80)."""
    wanted = set(names)
    text = [name for name in text_columns(frame) if name in wanted]
    _, learned = prepare_features(frame[text].take(rows))
    return learned


def _rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """``frame``'s rows at ``positions``: a slice (no copy) where they are consecutive, as a
    snapshot's rows, or the training snapshots' when only the hold-out follows them."""
    if len(positions) and positions[-1] - positions[0] == len(positions) - 1:
        return frame.iloc[int(positions[0]) : int(positions[-1]) + 1]
    return frame.take(positions)


def _churners(
    frame: pd.DataFrame, x: pd.DataFrame, rows: np.ndarray, labels: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The churners among ``rows``: their rows of ``frame`` and of the model-ready ``x``."""
    left = rows[labels[rows]]
    return frame.take(left), x.take(left)


def _require_churners(
    churners: dict[date, int], learnt: list[date], config: TrainingConfig
) -> None:
    """Raise :class:`NotEnoughHistoryError` with what to do when the ``learnt`` snapshots or
    the hold-out (the latest of ``churners``, churners per snapshot) have fewer than
    :data:`MIN_CHURNERS`."""
    holdout = max(churners)
    train, held = sum(churners[d] for d in learnt), churners[holdout]
    if min(train, held) >= MIN_CHURNERS:
        return
    # the advice counts months: a mid-month day's churners are mostly its month end's too
    ends = [d for d in learnt if d == month_end(d)]
    advice = more_churners_advice(
        sum(churners[d] for d in ends), held, len(ends), config.horizon_months
    )
    raise NotEnoughHistoryError(
        f"too few churners to train a churn model: {train} in the {len(learnt)} training "
        f"snapshots and {held} in the hold-out {holdout} (churn within "
        f"{config.horizon_months} month(s)); at least {MIN_CHURNERS} each are needed. "
        f"What to do: {advice}"
    )


def train_on_warehouse(warehouse: Store, config: TrainingConfig) -> TrainingResult:
    """Evaluate default vs baselines on the hold-out snapshot, then refit the default on all
    (unless ``config.refit`` is False: the model fitted for the evaluation is returned)."""
    snapshots = training_snapshots(warehouse, config)
    per_snapshot = max(1, config.max_training_rows // max(1, len(snapshots) - 1))
    size = sample_size(config, per_snapshot)
    samples = [draw_sample(warehouse, d, config, size) for d in snapshots]
    sample = sample_summary(samples, size)
    log.info("training.sample", **sample)
    # the hold-out is the latest snapshot; one whose label window is still open on the
    # hold-out's day (the 15th just before a month-end hold-out) would learn churn the hold-out
    # is judged on, so it only joins the refit
    learnt = [d for d in snapshots[:-1] if horizon_end(d, config.horizon_months) <= snapshots[-1]]
    # counted on the samples first: an operator too small to train is told so before the
    # features of every snapshot are computed (16 of the 19 s at 1,000 subscribers)
    _require_churners(
        dict(zip(snapshots, (s.churners for s in samples), strict=True)), learnt, config
    )
    frames = [
        snapshot_frame(warehouse, d, config, sample=s)
        for d, s in zip(snapshots, samples, strict=True)
    ]
    names = feature_columns(frames[0])
    # one frame of every snapshot's rows, and each snapshot's rows by position in it: the
    # evaluation and the refit take their rows from it instead of holding copies of their own
    # (at 1 M rows each copy of the features is ~0.7 GB)
    bounds = np.cumsum([0, *(len(f) for f in frames)])
    everything = pd.concat(frames, ignore_index=True)
    del frames
    rows_of = {
        d: np.arange(a, b) for d, a, b in zip(snapshots, bounds[:-1], bounds[1:], strict=True)
    }
    learn = np.concatenate([rows_of[d] for d in learnt])
    hold = rows_of[snapshots[-1]]
    labels = everything["churned"].to_numpy(bool)
    y_train, y_hold = labels[learn], labels[hold]
    # again on the rows with features (a sampled subscriber without them drops out)
    _require_churners({d: int(labels[rows_of[d]].sum()) for d in snapshots}, learnt, config)
    # the evaluation knows only the training rows' categories (a level first seen in the
    # hold-out is unseen there, as it would be in production)
    categories = _categories(everything, names, learn)
    x_eval, _ = prepare_features(everything[names], categories=categories)
    x_train, x_hold = _rows(x_eval, learn), _rows(x_eval, hold)
    evaluation: dict[str, Any] = {}
    holdout = _rows(everything, hold)
    value, value_source = _holdout_value(warehouse, holdout)
    candidates = {"default": default_model(config.seed), **baseline_models(config.seed)}
    subscribers = everything["subscriber_id"].to_numpy()
    for label, candidate in candidates.items():
        candidate.fit(x_train, y_train, groups=subscribers[learn])
        evaluation[label] = _assess(y_hold, candidate.predict_proba(x_hold)[:, 1], value)
    candidates["default"].categories_ = categories
    del x_train
    # the leaving-reason model learns from churners only: their rows are kept, the rest freed
    judged_parts = [_churners(everything, x_eval, rows, labels) for rows in (learn, hold)]
    if config.refit:
        final_categories = _categories(everything, names, np.arange(len(everything)))
        if final_categories == categories:
            x_all = x_eval  # the same levels: the same model-ready frame
        else:
            del x_eval, x_hold
            x_all, final_categories = prepare_features(everything[names])
        # the tree size the evaluation chose on the learnt rows stands for the refit (the
        # hold-out adds one more snapshot of the same kind): trying every size again costs
        # another million-row fit
        chosen = candidates["default"].num_leaves_
        model = default_model(config.seed).set_params(num_leaves=chosen)
        model = model.fit(x_all, labels, groups=subscribers)
        model.categories_ = final_categories
    else:
        model = candidates["default"]
        x_all = x_eval
    # a feature of the day is the same for everyone on a day: it cannot drift, only differ
    drifting = [n for n in names if n not in DAY_FEATURES]
    drift_reference = reference(everything[drifting], model.predict_proba(x_all)[:, 1])
    model.leaving_reasons_, leaving = _leaving_reasons(
        warehouse,
        config,
        _known_day(warehouse, config),
        judged_parts[0],
        judged_parts[1],
        _churners(everything, x_all, np.arange(len(everything)), labels),
    )
    meta = ModelMeta(
        version="",
        created_at="",
        kind="lightgbm-calibrated",
        horizon_months=config.horizon_months,
        include_involuntary=config.include_involuntary,
        training_snapshots=[d.isoformat() for d in learnt],
        holdout_snapshot=snapshots[-1].isoformat(),
        features=names,
        metrics={
            k: {m: v for m, v in r.items() if not isinstance(v, list)}
            for k, r in evaluation.items()
        },
        data_fingerprint=_fingerprint(everything),
        training_rows=len(everything),
        extra={
            "drift_reference": drift_reference,
            "sample": sample,
            "leaving_reasons": leaving,
            # label windows still open on the hold-out day: in the refit, not the evaluation
            "refit_only_snapshots": [d.isoformat() for d in snapshots[:-1] if d not in learnt],
        },
    )
    return TrainingResult(
        model,
        meta,
        evaluation,
        holdout_model=candidates["default"],
        holdout={
            "rows": len(holdout),
            "churners": int(y_hold.sum()),
            "churn_rate": float(y_hold.mean()),
        },
        emp_parameters={**EMP_DEFAULTS, "clv": value_source},
    )


def _leaving_reasons(
    warehouse: Store,
    config: TrainingConfig,
    known: date,
    train: tuple[pd.DataFrame, pd.DataFrame],
    holdout: tuple[pd.DataFrame, pd.DataFrame],
    everything: tuple[pd.DataFrame, pd.DataFrame],
) -> tuple[LeavingReasons | None, dict[str, Any]]:
    """The classifier of the recorded leaving reasons (``analytics.churn.leaving_reasons``):
    fitted on the training month ends' churners and judged on the hold-out's, then, like the
    churn model, refitted on every labelled month end's (each pair: rows with subscriber_id,
    snapshot_date, churned; their model-ready features). None and why when it cannot be."""

    def churners(part: tuple[pd.DataFrame, pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series]:
        rows, x = part
        left = rows["churned"].to_numpy(bool)
        codes = recorded_reasons(warehouse, rows[left], config.horizon_months, known)
        return x[left], codes

    x_train, codes_train = churners(train)
    fitted = fit_leaving_reasons(x_train, codes_train, config.seed)
    if fitted is None:
        coded = int(codes_train.notna().sum())
        return None, {"trained": False, "coded_churners": coded, "needed": MIN_CODED}
    judged = assess_leaving_reasons(fitted, *churners(holdout))
    final = fitted
    if config.refit:
        x_all, codes_all = churners(everything)
        final = fit_leaving_reasons(x_all, codes_all, config.seed) or fitted
    return final, {"trained": True, "classes": list(final.classes), "holdout": judged}


def risk_bands(p: np.ndarray) -> np.ndarray:
    """high / medium / low by rank within the snapshot (top 5 %, next 15 %, the rest)."""
    if len(p) == 0:
        return np.array([], dtype=object)
    rank = pd.Series(p).rank(ascending=False, method="first").to_numpy()
    high, at_risk = band_sizes(len(p))
    bands = np.full(len(p), "low", dtype=object)
    bands[rank <= at_risk] = "medium"
    bands[rank <= high] = "high"
    return bands


def band_sizes(n: int) -> tuple[int, int]:
    """Rows in the high band and in high + medium for ``n`` rows: the one definition of the
    band boundaries, used by ``risk_bands`` and by the batched scores' cuts."""
    return _within(n, RISK_BANDS[0][1]), _within(n, RISK_BANDS[1][1])


def _within(n: int, share: float) -> int:
    """How many ranks r in 1..n have r / n <= share (in float arithmetic, as ranks were
    banded before there were counts)."""
    if n == 0:
        return 0
    k = int(share * n)
    while k < n and (k + 1) / n <= share:
        k += 1
    while k > 0 and k / n > share:
        k -= 1
    return k


#: which subscribers get reasons: TreeSHAP costs ~70 s per million rows on 2 cores for the
#: default model, so by default only the high and medium bands (the 20 % that retention works
#: on) get them; "all" explains everyone, "none" skips them.
ReasonScope = Literal["at_risk", "all", "none"]


def score_frame(
    model: Any, meta: ModelMeta, features: pd.DataFrame, *, reasons_for: ReasonScope = "at_risk"
) -> pd.DataFrame:
    """Churn probability, risk band and top-3 reasons (zh + en) for every row of ``features``;
    reasons are blank outside ``reasons_for``."""
    x, _ = prepare_features(features[meta.features], categories=model.categories_)
    # the booster refuses an empty frame: no subscriber on the snapshot, no probability
    p = model.predict_proba(x)[:, 1] if len(x) else np.zeros(0)
    return scored_rows(model, meta, features, x, p, risk_bands(p), reasons_for=reasons_for)


def scored_rows(
    model: Any,
    meta: ModelMeta,
    features: pd.DataFrame,
    x: pd.DataFrame,
    p: np.ndarray,
    bands: np.ndarray,
    *,
    reasons_for: ReasonScope = "at_risk",
) -> pd.DataFrame:
    """The scores of ``features`` (model-ready as ``x``) with probabilities ``p`` and risk
    ``bands`` given: the reasons by TreeSHAP for the rows in ``reasons_for``."""
    scored = pd.DataFrame(
        {
            "subscriber_id": features["subscriber_id"].to_numpy(),
            "snapshot_date": features["snapshot_date"].to_numpy(),
            "churn_probability": p,
            "risk_band": bands,
            "model_version": meta.version,
        },
        index=features.index,
    )
    explained = np.ones(len(p), bool) if reasons_for == "all" else bands != "low"
    if reasons_for == "none":
        explained[:] = False
    rows = features.index[explained]
    x_explained = x.loc[rows]
    # the booster refuses an empty frame: no row to explain (reasons_for="none", or nobody at
    # risk) gives no contributions
    contributions = (
        model.contributions(x_explained) if len(rows) else np.zeros((0, len(meta.features)))
    )
    reasons = top_reasons(contributions, features.loc[rows, meta.features], meta.features).reindex(
        features.index
    )
    leaving = likeliest_leaving_reason(model, x_explained).reindex(features.index)
    return pd.concat([scored, reasons, leaving], axis=1).reset_index(drop=True)


def likeliest_leaving_reason(model: Any, x: pd.DataFrame) -> pd.DataFrame:
    """Per row of model-ready features ``x``, the reason the subscriber would most likely
    leave over and its probability (``leaving_reason``, ``leaving_reason_share``), and every
    reason's (``leaving_mix``: JSON, reason → probability, what the real-time offer matches
    offers with), from the model's leaving-reason classifier; NULL for a model without one."""
    out = pd.DataFrame(
        {"leaving_reason": pd.Series(None, index=x.index, dtype=object),
         "leaving_reason_share": pd.Series(np.nan, index=x.index, dtype=float),
         "leaving_mix": pd.Series(None, index=x.index, dtype=object)}
    )  # fmt: skip
    reasons = getattr(model, "leaving_reasons_", None)
    if reasons is None or not len(x):
        return out
    mix = reasons.mix(x).round(4)
    out["leaving_reason"] = mix.idxmax(axis=1).astype(object)
    out["leaving_reason_share"] = mix.max(axis=1)
    names = [str(c) for c in mix.columns]
    out["leaving_mix"] = [
        json.dumps(dict(zip(names, row, strict=True))) for row in mix.to_numpy().tolist()
    ]
    return out
