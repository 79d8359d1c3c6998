"""Reference data of the simulated operator: one province, its branches, plans, devices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weiwan.analytics import contract


@dataclass(frozen=True)
class Branch:
    """A city branch (城区分公司) or rural sub-branch (农村支局)."""

    region: str
    name: str
    rural: bool
    weight: float  # share of the province's subscribers
    area_codes: tuple[int, ...]  # ID-card area codes of the district


BRANCHES: tuple[Branch, ...] = (
    Branch("南宁", "南宁城区分公司", False, 0.20, (450102, 450103, 450105, 450107)),
    Branch("南宁", "南宁武鸣支局", True, 0.04, (450122,)),
    Branch("南宁", "南宁宾阳支局", True, 0.04, (450126,)),
    Branch("南宁", "南宁横州支局", True, 0.03, (450127,)),
    Branch("柳州", "柳州城区分公司", False, 0.12, (450202, 450203, 450204)),
    Branch("柳州", "柳州柳江支局", True, 0.03, (450221,)),
    Branch("柳州", "柳州鹿寨支局", True, 0.02, (450223,)),
    Branch("桂林", "桂林城区分公司", False, 0.12, (450302, 450305)),
    Branch("桂林", "桂林阳朔支局", True, 0.03, (450321,)),
    Branch("桂林", "桂林临桂支局", True, 0.04, (450322,)),
    Branch("桂林", "桂林全州支局", True, 0.03, (450324,)),
    Branch("梧州", "梧州城区分公司", False, 0.09, (450403,)),
    Branch("梧州", "梧州岑溪支局", True, 0.04, (450481,)),
    Branch("北海", "北海城区分公司", False, 0.10, (450502,)),
    Branch("北海", "北海合浦支局", True, 0.07, (450521,)),
)
REGIONS: tuple[str, ...] = ("南宁", "柳州", "桂林", "梧州", "北海")
#: how hard competitors push in each region (latent; drives competitor_offer churn)
REGION_COMPETITOR_PULL: dict[str, float] = {
    "南宁": 1.25,
    "柳州": 1.0,
    "桂林": 0.9,
    "梧州": 0.8,
    "北海": 1.1,
}
COMPETITORS: tuple[str, ...] = ("中国联通", "中国电信", "中国广电")
#: per region, how port-outs split across COMPETITORS
REGION_COMPETITOR_SPLIT: dict[str, tuple[float, float, float]] = {
    "南宁": (0.45, 0.45, 0.10),
    "柳州": (0.50, 0.42, 0.08),
    "桂林": (0.40, 0.52, 0.08),
    "梧州": (0.55, 0.38, 0.07),
    "北海": (0.38, 0.50, 0.12),
}

PLAN_FEES: tuple[int, ...] = (8, 18, 38, 58, 88, 96, 126, 128, 158, 188, 238, 288, 388, 588)
BRANDS: tuple[str, ...] = ("全球通", "动感地带", "神州行")
JOIN_CHANNEL_WEIGHTS: tuple[float, ...] = (0.45, 0.18, 0.05, 0.22, 0.07, 0.03)

#: (model, typical price tier 0 budget … 2 flagship)
DEVICES: tuple[tuple[str, int], ...] = (
    ("华为 Mate 60 Pro", 2),
    ("华为 nova 12", 1),
    ("华为 畅享 70", 0),
    ("荣耀 Magic6", 2),
    ("荣耀 X50", 1),
    ("iPhone 15 Pro", 2),
    ("iPhone 14", 2),
    ("iPhone 13", 1),
    ("iPhone 11", 1),
    ("小米 14", 2),
    ("Redmi Note 13", 0),
    ("OPPO Reno11", 1),
    ("OPPO A2", 0),
    ("vivo X100", 2),
    ("vivo Y36", 0),
    ("realme 12", 0),
    ("中兴 远航 50", 0),
    ("天语 老人机 K8", 0),
)

OFFER_TYPES: tuple[str, ...] = contract.OFFER_TYPES

#: order of the latent intent components; indices into CHURN_REASONS by name
COMPONENTS: tuple[str, ...] = (
    "price",
    "network_quality",
    "service",
    "competitor_offer",
    "contract_end",
    "relocation",
)


def plan_ids() -> tuple[str, ...]:
    """Plan codes, one per PLAN_FEES entry (e.g. ``TC096`` for the 96-yuan plan)."""
    return tuple(f"TC{fee:03d}" for fee in PLAN_FEES)


def branch_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, region index, rural flag) per branch."""
    w = np.array([b.weight for b in BRANCHES])
    region = np.array([REGIONS.index(b.region) for b in BRANCHES], dtype=np.int64)
    rural = np.array([b.rural for b in BRANCHES])
    return w / w.sum(), region, rural
