"""Model registry (模型库): every trained churn model, its metadata, and which one scores.

Layout: ``<root>/<version>/model.joblib`` + ``meta.json``, and ``<root>/registry.json`` with the
promoted version and the promotion history (for rollback). Versions are ``v0001``, ``v0002``…
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from weiwan.core.errors import WeiwanError
from weiwan.core.settings import get_settings


class WeakModelError(WeiwanError):
    """A model's hold-out AUC is below ``Settings.min_promote_auc``: registered, not promoted."""

    def __init__(self, version: str, auc: float, minimum: float):
        super().__init__(
            f"model {version}: hold-out AUC {auc:.3f} is below {minimum:.2f} "
            "(WEIWAN_MIN_PROMOTE_AUC): registered but not promoted; it ranks churners little "
            "better than chance. Deliver more history or use `--horizon 3`; promote it anyway "
            "with --force"
        )
        self.version, self.auc, self.minimum = version, auc, minimum


@dataclass
class ModelMeta:
    """What a registered model was trained on and how well it did."""

    version: str
    created_at: str
    kind: str
    horizon_months: int
    include_involuntary: bool
    training_snapshots: list[str]
    holdout_snapshot: str | None
    features: list[str]
    metrics: dict[str, Any]
    data_fingerprint: str
    training_rows: int
    extra: dict[str, Any] = field(default_factory=dict)


class ModelRegistry:
    """A directory of versioned models with one promoted version."""

    def __init__(self, root: Path):
        self.root = root

    @property
    def _index_path(self) -> Path:
        return self.root / "registry.json"

    def _index(self) -> dict[str, Any]:
        if not self._index_path.exists():
            return {"promoted": None, "history": []}
        data: dict[str, Any] = json.loads(self._index_path.read_text("utf-8"))
        return data

    def _write_index(self, index: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, indent=2, ensure_ascii=False), "utf-8")
        tmp.replace(self._index_path)  # atomic: a crash never leaves half an index

    def versions(self) -> list[str]:
        """Registered versions, oldest first."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "meta.json").exists())

    def register(self, model: Any, meta: ModelMeta) -> str:
        """Store ``model`` under the next version; returns the version (not promoted)."""
        existing = self.versions()
        version = f"v{int(existing[-1][1:]) + 1 if existing else 1:04d}"
        meta.version = version
        meta.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        folder = self.root / version
        folder.mkdir(parents=True)
        joblib.dump(model, folder / "model.joblib")
        (folder / "meta.json").write_text(
            json.dumps(asdict(meta), indent=2, ensure_ascii=False, default=str), "utf-8"
        )
        return version

    def folder(self, version: str) -> Path:
        """Where ``version``'s model, metadata and evaluation reports live."""
        return self.root / version

    def meta(self, version: str) -> ModelMeta:
        path = self.root / version / "meta.json"
        if not path.exists():
            raise WeiwanError(f"no model {version!r} in {self.root}")
        return ModelMeta(**json.loads(path.read_text("utf-8")))

    def promoted(self) -> str | None:
        """The version that scores, if any."""
        version: str | None = self._index()["promoted"]
        return version

    def promote(self, version: str, *, force: bool = False) -> None:
        """Make ``version`` the scoring model (the previous one stays in the history).

        Refused (:class:`WeakModelError`) when its hold-out AUC is below
        ``Settings.min_promote_auc``, unless ``force``.
        """
        auc = self.meta(version).metrics.get("default", {}).get("roc_auc")
        minimum = get_settings().min_promote_auc
        if not force and isinstance(auc, int | float) and not auc >= minimum:
            raise WeakModelError(version, float(auc), minimum)
        index = self._index()
        if index["promoted"] != version:
            index["history"].append(version)
            index["promoted"] = version
            self._write_index(index)

    def rollback(self) -> str:
        """Go back to the model promoted before the current one; returns it."""
        index = self._index()
        history: list[str] = index["history"]
        if len(history) < 2:
            raise WeiwanError("nothing to roll back to: fewer than two promotions")
        history.pop()
        index["promoted"] = history[-1]
        self._write_index(index)
        return str(history[-1])

    def load(self, version: str | None = None) -> tuple[Any, ModelMeta]:
        """The model and metadata of ``version`` (default: the promoted one)."""
        version = version or self.promoted()
        if version is None:
            raise WeiwanError("no promoted churn model: run `weiwan model train` first")
        meta = self.meta(version)
        return joblib.load(self.root / version / "model.joblib"), meta
