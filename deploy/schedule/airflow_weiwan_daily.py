"""Airflow DAG: weiwan's day, every 15 minutes in the night, in the centre's time zone.

`weiwan daily` exits 2 when no new complete delivery waits: Airflow marks that run skipped,
not failed (`skip_on_exit_code`, Airflow 2.6+). Put this file in the DAGs folder and set
WEIWAN_* in the worker's environment (or in `env` below)."""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="weiwan_daily",
    description="weiwan daily run: ingest, pipeline, publish, tasks",
    schedule="*/15 1-7 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,  # weiwan's lock refuses a second run anyway (exit 4)
    tags=["weiwan"],
) as dag:
    BashOperator(
        task_id="daily",
        bash_command="/opt/weiwan/.venv/bin/weiwan daily",
        skip_on_exit_code=2,
        execution_timeout=pendulum.duration(hours=6),
    )
