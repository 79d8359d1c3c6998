"""Why a subscriber would leave (离网原因): a classifier of the operator's own recorded reasons.

Operators record a reason with many disconnections and port-outs (``churn_records.reason_code``:
price, network quality, service, competitor offer, contract end, relocation, non-payment,
other). Trained on the churners of the training month ends — their features on the month end
before they left, the reason recorded when they did — it gives every subscriber the
probability of each reason *if they leave*: what a retention offer has to answer.

The churn model's reasons (TreeSHAP) say which features raise a subscriber's risk, not why
they would go; on simulated operators, whose true reasons are known, this classifier's
reasons tie much closer to how well each offer type meets them (docs/churn-model.md).

Trained only where enough churners have a recorded reason (:data:`MIN_CODED`) in at least two
reasons; the codes are taken as recorded (an operator's ``other`` and miscoded rows included:
the classifier learns what the records say, nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from weiwan.analytics.churn.labels import horizon_end
from weiwan.analytics.churn.models import prepare_features
from weiwan.analytics.churn.registry import ModelMeta
from weiwan.analytics.features import as_of_rows
from weiwan.analytics.profile import subscriber_features
from weiwan.analytics.warehouse import TableSource
from weiwan.core.offer_valuation import LEAVING_PREFIX

#: churners with a recorded reason needed to train (fewer: no classifier)
MIN_CODED = 300
#: a reason's share of the coded churners below which it is left to the others (too rare to
#: learn whom it concerns)
MIN_SHARE = 0.01
#: coded churners it learns from at most (a fixed random draw beyond): eight classes need a few
#: thousand, and a province's training month ends hold a hundred thousand
MAX_ROWS = 30_000


@dataclass
class LeavingReasons:
    """The fitted classifier and the reasons it tells apart (its probability columns)."""

    classifier: Any
    classes: tuple[str, ...]

    def mix(self, x: pd.DataFrame) -> pd.DataFrame:
        """Per row of model-ready features (the churn model's ``prepare_features``), the
        probability of each reason if the subscriber leaves; the rows sum to 1."""
        if not len(x):
            return pd.DataFrame(columns=list(self.classes), index=x.index, dtype=float)
        p = self.classifier.predict_proba(x)
        return pd.DataFrame(p, columns=list(self.classes), index=x.index)


@dataclass
class LeavingMixer:
    """A churn model's leaving-reason classifier with the features it reads: each
    subscriber's reason probabilities as the columns offer valuation takes them
    (``core.offer_valuation.LEAVING_PREFIX`` + reason)."""

    reasons: LeavingReasons
    features: list[str]
    categories: Any

    @classmethod
    def of(cls, model: Any, meta: ModelMeta) -> LeavingMixer | None:
        """The mixer of a loaded churn model; None for a model trained without one."""
        reasons = getattr(model, "leaving_reasons_", None)
        if reasons is None:
            return None
        return cls(reasons, list(meta.features), getattr(model, "categories_", None))

    def columns(self, features: pd.DataFrame) -> pd.DataFrame:
        """The reason probabilities of each row of ``features`` (the churn model's feature
        columns; one it lacks is unknown, as in training), same index."""
        frame = features.reindex(columns=self.features)
        x, _ = prepare_features(frame, categories=self.categories)
        mix = self.reasons.mix(x)
        mix.columns = [LEAVING_PREFIX + str(c) for c in mix.columns]
        mix.index = features.index
        return mix

    def for_subscribers(self, profile: ir.Table, subscriber_ids: pd.Series) -> pd.DataFrame:
        """The reason probabilities of ``subscriber_ids`` from their features in ``profile``
        (the day's), indexed by subscriber_id; absent subscribers have none."""
        return self.columns(subscriber_features(profile, subscriber_ids, self.features))


def recorded_reasons(
    wh: TableSource, rows: pd.DataFrame, horizon_months: int, known_until: date
) -> pd.Series:
    """Per row of ``rows`` (subscriber_id, snapshot_date: churners of those month ends), the
    reason recorded for their churn in (snapshot, snapshot + horizon] (the earliest such
    record), as delivered by ``known_until``; None where none was recorded."""
    out = pd.Series(None, index=rows.index, dtype=object)
    if not len(rows) or "reason_code" not in wh.table("churn_records").columns:
        return out
    churn = as_of_rows(wh, "churn_records", known_until)
    wanted = ibis.memtable(rows[["subscriber_id"]].drop_duplicates())
    coded = churn.filter(churn.reason_code.notnull()).semi_join(wanted, "subscriber_id")
    records = coded.select("subscriber_id", "churn_date", "reason_code").to_pandas()
    if not len(records):
        return out
    records["churn_date"] = pd.to_datetime(records["churn_date"]).dt.date
    keyed = rows[["subscriber_id", "snapshot_date"]].reset_index(names="row")
    keyed["snapshot_date"] = pd.to_datetime(keyed["snapshot_date"]).dt.date
    joined = keyed.merge(records, on="subscriber_id")
    ends = joined["snapshot_date"].map(lambda d: horizon_end(d, horizon_months))
    inside = (joined["churn_date"] > joined["snapshot_date"]) & (joined["churn_date"] <= ends)
    first = joined[inside].sort_values(["row", "churn_date"]).drop_duplicates("row")
    out.loc[first["row"].to_numpy()] = first["reason_code"].to_numpy()
    return out


def fit_leaving_reasons(
    x: pd.DataFrame, codes: pd.Series, random_state: int = 0
) -> LeavingReasons | None:
    """A multiclass LightGBM of the recorded ``codes`` (None: uncoded) on the churners'
    model-ready features ``x``; None when fewer than :data:`MIN_CODED` are coded or fewer than
    two reasons are common enough (:data:`MIN_SHARE`)."""
    import lightgbm as lgb

    coded = codes.notna().to_numpy()
    if coded.sum() < MIN_CODED:
        return None
    labels = codes[coded].astype(str)
    shares = labels.value_counts(normalize=True)
    classes = tuple(sorted(shares[shares >= MIN_SHARE].index))
    if len(classes) < 2:
        return None
    kept = labels.isin(classes).to_numpy()
    if kept.sum() > MAX_ROWS:
        drawn = np.random.default_rng(random_state).choice(
            np.flatnonzero(kept), MAX_ROWS, replace=False
        )
        kept = np.zeros(len(kept), dtype=bool)
        kept[drawn] = True
    y = labels[kept].map({c: i for i, c in enumerate(classes)}).to_numpy()
    # small trees, few rounds: a few thousand churners per operator, eight noisy classes
    classifier = lgb.LGBMClassifier(
        n_estimators=150,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=30,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=random_state,
        n_jobs=2,
        verbose=-1,
    )
    classifier.fit(x[coded][kept], y)
    return LeavingReasons(classifier, classes)


def assess_leaving_reasons(
    model: LeavingReasons, x: pd.DataFrame, codes: pd.Series
) -> dict[str, Any]:
    """How well ``model`` names the recorded reasons of other churners (``x``, ``codes``; the
    time-based hold-out): accuracy of its most probable reason against the most common
    reason's share (what naming one reason for everyone gets), the log loss against the
    reasons' shares, and each reason's recall."""
    coded = codes.notna().to_numpy()
    labels = codes[coded].astype(str).to_numpy()
    if not len(labels):
        return {"rows": 0}
    mix = model.mix(x[coded])
    named = np.array(model.classes, dtype=object)[mix.to_numpy().argmax(axis=1)]
    shares = pd.Series(labels).value_counts(normalize=True)
    p_true = np.array(
        [mix.iloc[i][c] if c in mix.columns else 0.0 for i, c in enumerate(labels)], dtype=float
    )
    p_base = shares.reindex(labels).to_numpy(dtype=float)
    recall = {
        str(c): round(float(np.mean(named[labels == c] == c)), 4) for c in sorted(set(labels))
    }
    return {
        "rows": len(labels),
        "accuracy": round(float(np.mean(named == labels)), 4),
        "most_common_share": round(float(shares.iloc[0]), 4),
        "log_loss": round(float(-np.mean(np.log(np.clip(p_true, 1e-9, 1)))), 4),
        "log_loss_shares": round(float(-np.mean(np.log(np.clip(p_base, 1e-9, 1)))), 4),
        "recall": recall,
    }
