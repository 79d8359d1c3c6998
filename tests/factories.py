"""Small valid contract extracts built by hand, for ingest tests (the simulator is tested apart)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

Row = dict[str, str]

SUBSCRIBER_HEADER = [
    "subscriber_id",
    "msisdn",
    "customer_id",
    "name",
    "gender",
    "birth_date",
    "id_number",
    "region",
    "branch",
    "brand",
    "payment_type",
    "plan_id",
    "plan_monthly_fee",
    "join_date",
    "join_channel",
    "contract_end_date",
    "device_model",
    "device_age_months",
    "account_manager",
    "status",
    "status_date",
    "star_level",
]
USAGE_HEADER = [
    "subscriber_id",
    "bill_month",
    "bill_amount",
    "voice_minutes",
    "offnet_voice_share",
    "data_mb",
    "sms_count",
    "vas_amount",
    "roaming_minutes",
    "competitor_service_calls",
    "call_forwarding_days",
    "zero_usage_days",
    "recharge_amount",
    "balance",
    "arrears_amount",
    "distinct_contacts",
]


def subscriber(i: int) -> Row:
    """A valid subscriber row number ``i``."""
    return {
        "subscriber_id": f"U{i:06d}",
        "msisdn": f"139{i:08d}",
        "customer_id": f"C{i // 2:06d}",
        "name": "张伟",
        "gender": "M" if i % 2 else "F",
        "birth_date": "1985-03-04",
        "id_number": "45010219850304123X",
        "region": "南宁",
        "branch": "南宁城区分公司",
        "brand": "全球通",
        "payment_type": "postpaid" if i % 3 else "prepaid",
        "plan_id": "P096",
        "plan_monthly_fee": "96",
        "join_date": "2019-06-01",
        "join_channel": "store",
        "contract_end_date": "" if i % 4 else "2026-12-31",
        "device_model": "Mate 60",
        "device_age_months": str(i % 40),
        "account_manager": "",
        "status": "active",
        "status_date": "2019-06-01",
        "star_level": str(i % 7 + 1),
    }


def usage(i: int, month: str) -> Row:
    """A valid monthly usage row for subscriber ``i`` in ``month`` (YYYY-MM)."""
    return {
        "subscriber_id": f"U{i:06d}",
        "bill_month": month,
        "bill_amount": f"{96 + i % 13}.50",
        "voice_minutes": str(300 + i),
        "offnet_voice_share": "0.25",
        "data_mb": "10240",
        "sms_count": "12",
        "vas_amount": "5",
        "roaming_minutes": "0",
        "competitor_service_calls": "0",
        "call_forwarding_days": "0",
        "zero_usage_days": "1",
        "recharge_amount": "0",
        "balance": "12.5",
        "arrears_amount": "0",
        "distinct_contacts": "35",
    }


def write_csv(
    path: Path, header: list[str], rows: list[Row], *, encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    """Write rows as CSV in the given encoding; values missing from a row are written blank."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, "") for h in header])
    return path


def delivery(
    directory: Path, subscribers: int = 20, months: tuple[str, ...] = ("2026-09", "2026-10")
) -> Path:
    """A small valid delivery: subscribers.csv and monthly_usage.csv."""
    write_csv(
        directory / "subscribers.csv",
        SUBSCRIBER_HEADER,
        [subscriber(i) for i in range(subscribers)],
    )
    write_csv(
        directory / "monthly_usage.csv",
        USAGE_HEADER,
        [usage(i, m) for i in range(subscribers) for m in months],
    )
    return directory


def truncate_delivery(src: Path, dst: Path, snapshot: date) -> None:
    """Copy a Parquet delivery keeping only what was known on ``snapshot`` (events up to
    that day, bill months up to its month)."""
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    dst.mkdir(parents=True)
    cutoffs = {
        "monthly_usage": ("bill_month", f"{snapshot:%Y-%m}"),
        "status_events": ("event_time", None),
        "complaints": ("complaint_time", None),
        "surveys": ("survey_time", None),
        "churn_records": ("churn_date", None),
    }
    for path in src.glob("*.parquet"):
        table = pq.read_table(path)
        if path.stem in cutoffs:
            column, text = cutoffs[path.stem]
            values = table[column]
            if text is not None:
                keep = pc.less_equal(values, text)
            elif column == "churn_date":
                keep = pc.less_equal(values, pd.Timestamp(snapshot).date())
            else:
                keep = pc.less(values, pd.Timestamp(snapshot) + pd.Timedelta(days=1))
            table = table.filter(keep)
        pq.write_table(table, dst / path.name)
