"""The SparkSession of the Spark engine (``WEIWAN_ENGINE=spark``), built from the settings.

PySpark is optional (``pip install weiwan[spark]``): it is imported here, when the engine is
used, never by the DuckDB path.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from weiwan.core.errors import WeiwanError
from weiwan.core.settings import Settings


def parse_spark_conf(text: str) -> dict[str, str]:
    """``WEIWAN_SPARK_CONF`` as a dict: ``key=value`` pairs separated by commas or newlines."""
    conf: dict[str, str] = {}
    for item in (part.strip() for part in re.split(r"[,\n]", text)):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise WeiwanError(f"WEIWAN_SPARK_CONF: {item!r} is not key=value")
        conf[key.strip()] = value.strip()
    return conf


def spark_session(settings: Settings) -> Any:
    """The session the settings name (master, extra conf, Hive support when a Hive database is
    set); an existing session (spark-submit, notebooks) is reused with its master."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # the optional extra is not installed
        raise WeiwanError(
            "WEIWAN_ENGINE=spark needs PySpark and Java 17: pip install 'weiwan[spark]'"
        ) from exc
    builder = SparkSession.builder.master(settings.spark_master).appName("weiwan")
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    if settings.spark_master.startswith("local"):  # workers run this interpreter (its venv)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in parse_spark_conf(settings.spark_conf).items():
        builder = builder.config(key, value)
    if settings.spark_hive_database:
        builder = builder.enableHiveSupport()
    return builder.getOrCreate()
