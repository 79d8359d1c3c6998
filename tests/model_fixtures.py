"""A churn model trained and promoted quickly, for the fixtures whose tests check what a run
does with a model and not the model: the daily run then scores with it instead of training on
every snapshot of the history (the training itself is checked in tests/analytics/
test_churn_training.py, test_churn_quality.py and by the runs that train, e.g.
tests/pipeline/test_time_bomb.py and tests/demo)."""

from __future__ import annotations

import pytest

from weiwan.analytics.churn.evaluation import train_and_register
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.churn.training import TrainingConfig
from weiwan.analytics.warehouse import Store

#: three month ends, no mid-month days, no refit on the hold-out: a fifth of the default's fits
QUICK_TRAINING = TrainingConfig(snapshots=3, mid_month_days=(), refit=False)


def train_on_the_15th_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a run that trains a small operator to check something else: the 15th as the only
    mid-month day (``WEIWAN_TRAIN_MID_MONTH_DAYS``), half the training time of the default's
    three days; the choice of days has its own tests (tests/analytics/test_churn_training.py).
    The caller clears the settings' cache as it sets its home."""
    monkeypatch.setenv("WEIWAN_TRAIN_MID_MONTH_DAYS", "[15]")


def promote_quick_model(warehouse: Store, registry: ModelRegistry) -> str:
    """Train on ``warehouse`` with :data:`QUICK_TRAINING`, register and promote; the version."""
    version, _, _ = train_and_register(warehouse, registry, QUICK_TRAINING, promote=True)
    return version
