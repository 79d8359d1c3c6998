"""The Spark side of bench/bench_daily.py (``--engine spark|both``): the same daily run on
Spark ``local[2]`` beside DuckDB, and the per-core costs the sizing table of
docs/scale-out.md is extrapolated from.

- ``weiwan ingest`` of the same simulated delivery with ``WEIWAN_ENGINE=spark`` (checked in its
  own DuckDB file, then copied into the Spark store's partitions), cached under
  ``<cache>/spark-ingested/`` (reused when present);
- a fresh copy of that Spark warehouse, the model registry the DuckDB side trained and promoted
  (copied, not retrained) and a fresh operational database migrated to head;
- the days run by the same child as DuckDB's (``bench_daily.py --child-day``: it opens the
  store ``WEIWAN_ENGINE`` names, as ``weiwan pipeline run`` does), so the child's peak RSS
  includes the JVM and its Python workers (its children).

Spark settings of the children: master ``local[2]``, driver memory 6 GiB (the JVM is the
driver and the executor in local mode; the machine has 23 GiB for 4 engineers), the UI off,
and ``spark.sql.shuffle.partitions`` from the delivery's size: one partition per 32 MiB of
its Parquet (about 128 MiB once decoded, twice Spark's 64 MiB advisory partition size, which
adaptive execution coalesces down to), at least 2 per core.
"""

from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path
from typing import Any

CORES = 2
MASTER = f"local[{CORES}]"
DRIVER_MEMORY = "6g"
#: Parquet bytes of the delivery per shuffle partition
BYTES_PER_PARTITION = 32 * 1024**2
MIB = 1024**2


def parquet_bytes(directory: Path) -> int:
    """The size of every Parquet file under ``directory``."""
    return sum(f.stat().st_size for f in directory.rglob("*.parquet") if f.is_file())


def shuffle_partitions(delivery: Path) -> int:
    """``spark.sql.shuffle.partitions`` for a delivery: one per 32 MiB of its Parquet, at
    least two per core."""
    return max(2 * CORES, math.ceil(parquet_bytes(delivery) / BYTES_PER_PARTITION))


def spark_env(
    base: dict[str, str], home: Path, database_url: str, partitions: int
) -> dict[str, str]:
    """The environment of a Spark child: the engine, ``local[2]``, its own home (DuckDB file
    of the checks, models, Spark warehouse under it) and the Spark settings above."""
    conf = {
        "spark.driver.memory": DRIVER_MEMORY,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(partitions),
    }
    return {
        **base,
        "WEIWAN_HOME": str(home),
        "WEIWAN_WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
        "WEIWAN_DATABASE_URL": database_url,
        "WEIWAN_ENGINE": "spark",
        "WEIWAN_SPARK_MASTER": MASTER,
        "WEIWAN_SPARK_WAREHOUSE": str(home / "spark-warehouse"),
        "WEIWAN_SPARK_CONF": ",".join(f"{k}={v}" for k, v in conf.items()),
    }


def fresh_database(database_url: str | None, home: Path) -> str:
    """A fresh operational database migrated to head: SQLite under ``home``, or on the
    PostgreSQL server of ``database_url`` a database of its own (``<name>_spark``, re-created)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from weiwan.core.db import make_engine
    from weiwan.ops.migrate import upgrade

    url = f"sqlite:///{home / 'ops.db'}"
    if database_url and not database_url.startswith("sqlite"):
        server = make_url(database_url)
        name = f"{server.database or 'weiwan'}_spark"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


def prepare_spark(
    cache: Path, sim: Path, base: dict[str, str], child: Any, partitions: int, snapshot: date
) -> Path:
    """The delivery ingested with ``WEIWAN_ENGINE=spark`` (cached): the home holding the DuckDB
    file of the checks and the Spark warehouse. ``child`` runs a command as bench_daily does."""
    import sys

    ingested = cache / "spark-ingested"
    if ingested.exists():
        print(f"  Spark ingest reused from {ingested}")
        return ingested
    partial = cache / "spark-ingested.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = spark_env(base, partial, "sqlite://", partitions)
    args = [sys.executable, "-m", "weiwan", "ingest", str(sim), "--snapshot", str(snapshot)]
    _, wall, peak = child(args, env)
    partial.rename(ingested)
    print(f"  ingest on Spark {MASTER}: {wall:.1f} s, {peak:.2f} GiB")
    return ingested


def fresh_spark(
    cache: Path,
    ingested: Path,
    models: Path,
    base: dict[str, str],
    database_url: str | None,
    partitions: int,
) -> dict[str, str]:
    """A fresh Spark home: the ingested Spark warehouse copied, the DuckDB side's promoted
    model registry copied, a fresh operational database; the children's environment."""
    home = cache / "home-spark"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    shutil.copytree(ingested / "spark-warehouse", home / "spark-warehouse")
    shutil.copytree(models, home / "models")
    url = fresh_database(database_url, home)
    return spark_env(base, home, url, partitions)


def storage_per_day(root: Path, delivery: date, days: list[date]) -> tuple[float, float]:
    """MiB of Parquet of one delivery (its ``_snapshot=`` partitions) and of one day's results
    (the ``snapshot_date=`` partitions of the last day, every table)."""
    delivered = sum(parquet_bytes(p) for p in root.glob(f"*/_snapshot={delivery}"))
    results = sum(parquet_bytes(p) for p in root.glob(f"*/snapshot_date={days[-1]}"))
    return delivered / MIB, results / MIB


def per_core_costs(subscribers: int, titled: list[tuple[str, dict[str, Any], float]]) -> None:
    """Print each step's seconds per million subscribers per core (seconds × cores ÷
    millions of subscribers), a column per measured day (title, measured, wall seconds)."""
    millions = subscribers / 1e6
    print(f"\n  seconds per million subscribers per core (× {CORES} cores ÷ {millions:g} M)")
    print(f"  {'step':<28}" + "".join(f"{title:>20}" for title, _, _ in titled))

    def line(stage: str, seconds: list[float]) -> None:
        cells = "".join(f"{s * CORES / millions:>20.1f}" for s in seconds)
        print(f"  {stage:<28}{cells}")

    line("collect (contacts, outcomes)", [m["collect"] for _, m, _ in titled])
    for name, *_ in titled[0][1]["steps"]:
        line(name, [{s[0]: s[1] for s in m["steps"]}.get(name, 0.0) for _, m, _ in titled])
    line("publish (all)", [m["publish_total"] for _, m, _ in titled])
    line("hand-over", [m["hand_over"][0] for _, m, _ in titled])
    line("daily run, wall (process)", [wall for _, _, wall in titled])
