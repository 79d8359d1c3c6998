"""An operator's churn export of any size, written as one would arrive: for the brought-table
benchmark at sizes no public table has (a province's million subscribers).

The rows follow a telecom export (tenure, plan fee, bills, usage and its trend, complaints,
contract, payment, device, join date); the label is drawn from a churn probability with
interactions and thresholds (so boosted trees and a linear model differ), at about the churn
rate of a monthly prepaid/postpaid mix. The file is written the way exports are: two title lines
before the header, GBK-safe Chinese categories, ``¥1,234.50`` and ``35%`` numbers, 是/否 flags,
``2024年3月1日`` dates, blanks. Not a public table and not the simulator: a bench fixture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

LABEL, ID = "是否流失", "用户编号"


def churn_export(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` customers, one per row, as text cells; label :data:`LABEL`, id :data:`ID`."""
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(1.6, 18.0, rows).clip(1, 180).round()
    fee = rng.choice(
        [19, 39, 58, 88, 128, 188, 288], rows, p=[0.1, 0.2, 0.25, 0.2, 0.13, 0.08, 0.04]
    )
    bill_ratio = rng.lognormal(0.05, 0.25, rows)
    bill = fee * bill_ratio
    data_gb = rng.gamma(1.5, 6.0, rows) * (fee / 58) ** 0.5
    trend = rng.normal(0, 0.25, rows)  # last month's usage against the months before
    voice = rng.gamma(2.0, 120.0, rows)
    complaints = rng.poisson(0.15 + 0.4 * (rng.random(rows) < 0.1), rows)
    contract = rng.choice(["无合约", "一年合约", "两年合约"], rows, p=[0.55, 0.3, 0.15])
    payment = rng.choice(["银行代扣", "微信", "支付宝", "营业厅现金"], rows)
    device_age = rng.gamma(2.0, 9.0, rows).round()
    offnet = rng.beta(2, 5, rows)
    arrears = rng.random(rows) < 0.06
    broadband = rng.random(rows) < 0.4
    logit = (
        -2.6
        - 0.9 * np.log1p(tenure / 12)
        + 1.4 * (contract == "无合约")
        - 0.6 * (contract == "两年合约")
        + 1.6 * np.clip(bill_ratio - 1.2, 0, None) * (fee < 60)  # bill shock on cheap plans
        - 2.2 * np.minimum(trend, 0.1)
        + 0.55 * complaints
        + 1.5 * (offnet - 0.3) * (tenure < 24)
        + 0.8 * arrears
        - 0.5 * broadband
        + 0.25 * (device_age > 30)
        + 0.3 * (payment == "营业厅现金")
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    joined = pd.Timestamp("2026-11-30") - pd.to_timedelta(tenure * 30.4, unit="D")
    frame = pd.DataFrame(
        {
            ID: [f"U{seed:02d}{i:09d}" for i in range(rows)],
            "入网时长(月)": tenure.astype(int).astype(str),
            "入网日期": [f"{d.year}年{d.month}月{d.day}日" for d in joined],
            "套餐费(元)": [f"¥{v:,.2f}" for v in fee],
            "上月账单": [f"{v:,.2f}元" for v in bill],
            "上月流量(GB)": np.round(data_gb, 2).astype(str),
            "流量环比": [f"{v:.1%}" for v in trend],
            "上月通话(分钟)": np.round(voice).astype(int).astype(str),
            "投诉次数": complaints.astype(str),
            "合约类型": contract,
            "缴费方式": payment,
            "终端使用月数": device_age.astype(int).astype(str),
            "异网通话占比": [f"{v:.0%}" for v in offnet],
            "是否欠费": np.where(arrears, "是", "否"),
            "融合宽带": np.where(broadband, "是", "否"),
            LABEL: np.where(churned, "是", "否"),
        }
    )
    blank = rng.random((rows, 3)) < 0.03  # exports leave cells empty
    for column, holes in zip(["上月流量(GB)", "终端使用月数", "缴费方式"], blank.T, strict=True):
        frame.loc[holes, column] = ""
    return frame


def write_export(path: Path, rows: int, seed: int = 0) -> Path:
    """Write :func:`churn_export` as a UTF-8 CSV with two title lines above the header."""
    frame = churn_export(rows, seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("某省分公司 离网用户分析明细\n导出时间：2026-12-01 08:00\n")
        frame.to_csv(out, index=False)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_export(args.out, args.rows, args.seed)
    print(f"{args.out}: {args.rows:,} rows; label {LABEL}, id {ID}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
