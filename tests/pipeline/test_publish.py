"""Publishing a snapshot into the operational database, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml

import weiwan.pipeline.publish.swap as swap
import weiwan.pipeline.publish.transport as transport
from model_fixtures import promote_quick_model
from pg_helpers import pg_database
from weiwan.analytics.churn.registry import ModelRegistry
from weiwan.analytics.contact_policy import load_contact_policy
from weiwan.analytics.ingest import ingest
from weiwan.analytics.policies import eligibility, load_policies
from weiwan.analytics.profile import load_profile
from weiwan.analytics.warehouse import Warehouse
from weiwan.core.db import make_engine
from weiwan.ops.customers.models import CustomerView
from weiwan.ops.customers.tags import TAG_LABELS_DOCUMENT
from weiwan.ops.migrate import upgrade
from weiwan.ops.offers.models import PublishedPolicy
from weiwan.ops.org.models import ConfigDocument
from weiwan.pipeline.publish import KINDS, publish
from weiwan.pipeline.run import run_pipeline
from weiwan.sim import simulate

DAY = date(2026, 10, 31)
EARLIER = date(2026, 9, 30)
SPACED = re.compile(r"^ (\S+ )+$")
PII = ("msisdn", "customer_id", "name", "id_number", "gender", "join_date", "status")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse file after one pipeline run on a small simulated operator."""
    root = tmp_path_factory.mktemp("publish")
    simulate(subscribers=3000, months=8, seed=3, out=root / "sim", end_month="2026-10")
    with Warehouse(root / "wh.duckdb", threads=2) as wh:
        ingest(root / "sim", snapshot=DAY, warehouse=wh)
        registry = ModelRegistry(root / "models")
        promote_quick_model(wh, registry)
        run_pipeline(wh, DAY, registry=registry)
    return root / "wh.duckdb"


@pytest.fixture
def wh(built: Path, tmp_path: Path) -> Iterator[Warehouse]:
    """A copy of the built warehouse each test may change."""
    path = tmp_path / "wh.duckdb"
    shutil.copy(built, path)
    with Warehouse(path, threads=2) as warehouse:
        yield warehouse


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated operational database of its own: SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with pg_database(request.getfixturevalue("postgres_url"), "publish") as engine:
        yield engine


def _frame(engine: sa.Engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(sql), conn)


def _view(engine: sa.Engine) -> pd.DataFrame:
    frame = _frame(engine, "SELECT * FROM customer_view ORDER BY subscriber_id")
    return frame.set_index("subscriber_id")


def _decisions(engine: sa.Engine) -> pd.DataFrame:
    frame = _frame(engine, "SELECT * FROM decisions")
    columns = [c for c in frame.columns if c != "id"]
    return frame[columns].sort_values(columns).reset_index(drop=True)


def _publications(engine: sa.Engine) -> dict[tuple[str, str], tuple[int, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM publications")).all()
    return {(str(r.kind), str(r.snapshot_date)[:10]): (int(r.rows), r.published_at) for r in rows}


#: the kinds these tests look at; the anomaly pool, complaints and reports have their own tests
#: (tests/pipeline/test_anomaly_step.py, tests/ops/appraisal/test_appraisal_publish.py,
#: tests/ops/reports/test_period_reports.py), and the idempotence test below publishes every kind
CORE_KINDS = ("policies", "contact_rules", "customer_view", "decisions", "settings", "metrics")


def test_publish_fills_the_customer_view(wh: Warehouse, engine: sa.Engine) -> None:
    result = publish(wh, engine, DAY, kinds=CORE_KINDS)
    profile = load_profile(wh, DAY).to_pandas().set_index("subscriber_id")
    view = _view(engine)
    assert result.rows["customer_view"] == len(view) == len(profile) > 2000
    assert set(view.index) == set(profile.index)
    assert (view["snapshot_date"].astype(str).str[:10] == DAY.isoformat()).all()

    # personal data as the warehouse holds it for the snapshot
    subs = wh.current("subscribers", as_of=DAY).to_pandas().set_index("subscriber_id")
    subs = subs.loc[view.index]
    for column in PII:
        got = view[column].astype(str).str[:10] if "date" in column else view[column]
        want = subs[column].astype(str).str[:10] if "date" in column else subs[column]
        assert (got.fillna("-") == want.fillna("-")).all(), column
    assert (view["branch_code"] == subs["branch"]).all()
    scored = profile.loc[view.index, "churn_probability"]
    assert (view["churn_probability"] - scored).abs().max() < 1e-12

    # branches: every code exists, the region is its parent city branch
    branches = _frame(engine, "SELECT * FROM branches").set_index("id")
    assert view["branch_id"].notna().all()
    codes = branches.loc[view["branch_id"].astype(int), "code"]
    assert list(codes) == list(view["branch_code"])
    parents = branches.loc[view["branch_id"].astype(int), "parent_id"].astype(int)
    assert list(branches.loc[parents, "code"]) == list(view["region"])
    assert result.branches_created == len(branches) == 20  # 15 branches in 5 regions

    # reasons: JSON list of {zh, en, feature}; NULL when the subscriber has none
    explained = view["reasons"].notna()
    assert explained.sum() == profile["reason_1"].notna().sum() > 0
    for sub, text in view.loc[explained, "reasons"].items():
        reasons = json.loads(text)
        assert 1 <= len(reasons) <= 3
        assert all(set(r) == {"zh", "en", "feature"} and r["zh"] for r in reasons)
        assert reasons[0]["zh"] == profile.at[sub, "reason_1"]
        assert reasons[0]["feature"] == profile.at[sub, "reason_1_feature"]

    # the likeliest leaving reason and its probability, as scored (NULL where not given)
    for column in ("leaving_reason", "leaving_reason_share", "leaving_mix"):
        scored_as = profile.loc[view.index, column].astype(object).where(profile[column].notna())
        assert (view[column].astype(object).fillna("-") == scored_as.fillna("-")).all(), column

    # tags: " a b c ", each a true flag (or the band a band tag gives)
    assert view["tags"].notna().all()
    tag_ids = set(_tag_ids())
    bands = [c for c in profile.columns if c in tag_ids and profile[c].dtype != bool]
    for sub, text in view["tags"].head(200).items():
        assert SPACED.match(text), text
        for tag in text.split():
            if tag in profile.columns:  # a flag
                assert bool(profile.at[sub, tag]), (sub, tag)
            else:  # a band id, the value of a band tag column
                assert tag in set(profile.loc[sub, bands].dropna()), (sub, tag)
    flags = [c for c in profile.columns if profile[c].dtype == bool and c in tag_ids]
    first = profile.index[0]
    true_flags = {c for c in flags if profile.at[first, c]}
    assert true_flags <= set(str(view.at[first, "tags"]).split())

    # eligible policies: the pairs eligibility gives, " a b " sorted
    library = load_policies(profile=load_profile(wh, DAY))
    pairs = eligibility(
        load_profile(wh, DAY), library.policies, DAY, target_groups=library.target_groups
    ).to_pandas()
    expected = pairs.groupby("subscriber_id")["policy_id"].apply(lambda s: sorted(s))
    eligible = view["eligible_policies"].dropna()
    assert len(eligible) == len(expected) > 0
    for sub, text in eligible.items():
        assert SPACED.match(text)
        assert text.split() == expected[sub]

    # the other kinds
    assert result.rows["policies"] == len(library.policies) > 0
    policies = _frame(engine, "SELECT * FROM policies").set_index("policy_id")
    assert set(policies.index) == {p.id for p in library.policies}
    assert set(policies["approval"]) <= {"draft", "approved", "suspended", "retired"}
    (content,) = _frame(
        engine, "SELECT content FROM config_documents WHERE name = 'contact_rules'"
    )["content"]
    assert json.loads(content) == load_contact_policy().model_dump(mode="json")
    stored = wh.execute("SELECT count(*) FROM decisions WHERE snapshot_date = ?", [DAY])[0][0]
    assert result.rows["decisions"] == len(_decisions(engine)) == stored > 0
    published = _publications(engine)
    assert {k: v[0] for k, v in published.items()} == {
        (kind, DAY.isoformat()): result.rows[kind] for kind in CORE_KINDS
    }


def _tag_ids() -> list[str]:
    from weiwan.analytics.tags import load_tag_library

    return [t.id for t in load_tag_library().tags]


def test_republishing_is_idempotent_and_replaces(wh: Warehouse, engine: sa.Engine) -> None:
    publish(wh, engine, DAY)
    view, decisions = _view(engine), _decisions(engine)
    branches = _frame(engine, "SELECT * FROM branches ORDER BY id")
    publish(wh, engine, DAY)
    pd.testing.assert_frame_equal(_view(engine), view)
    pd.testing.assert_frame_equal(_decisions(engine), decisions)
    pd.testing.assert_frame_equal(_frame(engine, "SELECT * FROM branches ORDER BY id"), branches)
    assert len(_publications(engine)) == len(KINDS)

    # the warehouse changes: 100 subscribers leave the profile, one moves branch, scores move
    gone = list(view.index[:100])
    moved = view.index[200]
    wh.execute(
        "DELETE FROM profile WHERE snapshot_date = ? AND subscriber_id IN "
        "(SELECT unnest(?::VARCHAR[]))",
        [DAY, gone],
    )
    wh.execute(
        "UPDATE profile SET churn_probability = 0.5, branch = 'NEW-BRANCH' WHERE subscriber_id = ?",
        [moved],
    )
    wh.execute(
        "UPDATE subscribers SET branch = 'NEW-BRANCH', name = 'renamed' WHERE subscriber_id = ?",
        [moved],
    )
    wh.execute("DELETE FROM decisions WHERE snapshot_date = ? AND NOT action", [DAY])
    publish(wh, engine, DAY)
    after = _view(engine)
    assert len(after) == len(view) - 100
    assert not set(gone) & set(after.index)
    assert after.at[moved, "churn_probability"] == 0.5
    assert after.at[moved, "name"] == "renamed"
    branches = _frame(engine, "SELECT id, code, parent_id FROM branches").set_index("code")
    assert after.at[moved, "branch_id"] == branches.at["NEW-BRANCH", "id"]
    region = after.at[moved, "region"]
    assert branches.at["NEW-BRANCH", "parent_id"] == branches.at[region, "id"]
    acted = wh.execute("SELECT count(*) FROM decisions WHERE snapshot_date = ?", [DAY])[0][0]
    assert len(_decisions(engine)) == acted < len(decisions)
    assert _decisions(engine)["action"].all()
    unchanged = after.drop(index=[moved]).drop(columns=["branch_id"])
    expected = view.drop(index=[*gone, moved]).drop(columns=["branch_id"])
    pd.testing.assert_frame_equal(unchanged, expected)


def test_a_failed_load_leaves_the_published_rows(
    wh: Warehouse, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(wh, engine, DAY, kinds=CORE_KINDS)
    view, published = _view(engine), _publications(engine)
    real = transport.record_batches

    def failing(warehouse: Warehouse, staged: str) -> Iterator[pa.RecordBatch]:
        for batch in real(warehouse, staged):
            yield batch.slice(0, batch.num_rows // 2)  # half the rows reach the database
            raise RuntimeError("the warehouse went away")

    monkeypatch.setattr(transport, "record_batches", failing)
    wh.execute("DELETE FROM profile WHERE subscriber_id = ?", [view.index[0]])
    with pytest.raises(RuntimeError, match="went away"):
        publish(wh, engine, DAY, kinds=["customer_view"])
    pd.testing.assert_frame_equal(_view(engine), view)
    assert _publications(engine) == published
    with pytest.raises(RuntimeError, match="went away"):
        publish(wh, engine, DAY, kinds=["decisions"])
    assert len(_decisions(engine)) == published[("decisions", DAY.isoformat())][0]


def test_decisions_of_two_dates_coexist(wh: Warehouse, engine: sa.Engine) -> None:
    wh.execute(
        "INSERT INTO decisions SELECT * REPLACE (CAST(? AS DATE) AS snapshot_date) "
        "FROM decisions WHERE snapshot_date = ? AND action",
        [EARLIER, DAY],
    )
    count = {
        d: wh.execute("SELECT count(*) FROM decisions WHERE snapshot_date = ?", [d])[0][0]
        for d in (EARLIER, DAY)
    }
    publish(wh, engine, DAY, kinds=["decisions"])
    publish(wh, engine, EARLIER, kinds=["decisions"])
    per_day = _frame(engine, "SELECT snapshot_date, count(*) AS n FROM decisions GROUP BY 1")
    got = {str(d)[:10]: int(n) for d, n in per_day.itertuples(index=False)}
    assert got == {d.isoformat(): n for d, n in count.items()}
    later = _decisions(engine)
    later = later[later["snapshot_date"].astype(str).str[:10] == DAY.isoformat()]

    wh.execute("DELETE FROM decisions WHERE snapshot_date = ? AND channel <> 'sms'", [EARLIER])
    kept = wh.execute("SELECT count(*) FROM decisions WHERE snapshot_date = ?", [EARLIER])[0][0]
    publish(wh, engine, EARLIER, kinds=["decisions"])
    after = _decisions(engine)
    on_day = after["snapshot_date"].astype(str).str[:10]
    assert (on_day == EARLIER.isoformat()).sum() == kept < count[EARLIER]
    pd.testing.assert_frame_equal(
        after[on_day == DAY.isoformat()].reset_index(drop=True), later.reset_index(drop=True)
    )
    assert _publications(engine)[("decisions", EARLIER.isoformat())][0] == kept


def test_no_profile_rows_publishes_nothing(wh: Warehouse, engine: sa.Engine) -> None:
    publish(wh, engine, DAY, kinds=["customer_view"])
    with pytest.raises(LookupError, match="no profile rows"):
        publish(wh, engine, EARLIER, kinds=["customer_view"])
    assert len(_view(engine)) > 2000


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_settings_edited_in_the_web_reach_the_publish_and_the_next_run(
    wh: Warehouse, engine: sa.Engine, tmp_path: Path
) -> None:
    """A policy edit waiting in the database is applied when the day publishes (the published
    library is the edited one) and the next run's decisions use it: a policy whose validity
    ended is no longer offered."""
    chosen = wh.execute(
        "SELECT policy_id FROM decisions WHERE snapshot_date = ? AND action "
        "AND policy_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        [DAY],
    )
    assert chosen, "the run offers at least one policy"
    policy_id = chosen[0][0]
    text = resources.files("weiwan.analytics").joinpath("policies.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    edited = next(p for p in raw["policies"] if p["id"] == policy_id)
    edited["name_zh"] = "网页中编辑的政策"
    edited["valid_to"] = date(2026, 6, 30)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(ConfigDocument).values(
                name="pending:policies",
                content=json.dumps({"text": yaml.safe_dump(raw, allow_unicode=True)}),
            )
        )

    publish(wh, engine, DAY, home=tmp_path, kinds=("policies", "settings"))

    with engine.connect() as conn:
        name = conn.execute(
            sa.select(PublishedPolicy.name_zh).where(PublishedPolicy.policy_id == policy_id)
        ).scalar_one()
        pending = conn.execute(
            sa.select(sa.func.count()).where(ConfigDocument.name == "pending:policies")
        ).scalar_one()
    assert name == "网页中编辑的政策" and pending == 0
    run_pipeline(wh, DAY, registry=None, config_home=tmp_path)
    offered = {
        r[0]
        for r in wh.execute(
            "SELECT DISTINCT policy_id FROM decisions WHERE snapshot_date = ? AND action", [DAY]
        )
    }
    assert policy_id not in offered


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_published_tag_has_its_names(wh: Warehouse, engine: sa.Engine) -> None:
    publish(wh, engine, DAY, kinds=("customer_view",))
    with engine.connect() as conn:
        tags = conn.execute(sa.select(CustomerView.tags)).scalars().all()
        content = conn.execute(
            sa.select(ConfigDocument.content).where(ConfigDocument.name == TAG_LABELS_DOCUMENT)
        ).scalar_one()
    labels = json.loads(content)
    used = {t for spaced in tags if spaced for t in spaced.split()}
    assert used and used <= set(labels)
    assert labels["tenure_under_6m"] == ["入网不足6个月", "Under 6 months"]


_SHAPE = """
SELECT 'constraint' AS kind, conname AS name, pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE conrelid = 'customer_view'::regclass
UNION ALL
SELECT 'index', indexname, indexdef FROM pg_indexes WHERE tablename = 'customer_view'
UNION ALL
SELECT 'grant', grantee, privilege_type FROM information_schema.role_table_grants
WHERE table_name = 'customer_view'
ORDER BY 1, 2, 3
"""


@pytest.mark.postgres
def test_the_swapped_in_customer_view_keeps_its_keys_indexes_and_grants(
    wh: Warehouse, postgres_url: str
) -> None:
    """On PostgreSQL the view is loaded into a bare twin and swapped in: the table keeps the
    keys, indexes (with their names) and grants it had, even an index a DBA added."""
    reader = f"reader_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{reader}"'))
    try:
        with pg_database(postgres_url, "publish") as engine:
            with engine.begin() as conn:
                conn.execute(
                    sa.text("CREATE INDEX ix_dba_status ON customer_view (status, region)")
                )
                conn.execute(sa.text(f'GRANT SELECT ON customer_view TO "{reader}"'))
            before = _frame(engine, _SHAPE)
            assert {"ix_dba_status", "ix_customer_view_msisdn", "pk_customer_view"} <= set(
                before.name
            )
            for _ in range(2):
                publish(wh, engine, DAY, kinds=["customer_view"])
                pd.testing.assert_frame_equal(_frame(engine, _SHAPE), before)
            tables = _frame(engine, "SELECT tablename FROM pg_tables")
            assert not tables.tablename.str.startswith("customer_view_").any()
            assert len(_view(engine)) == wh.execute("SELECT count(*) FROM profile")[0][0]
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE "{reader}"'))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("reader_lets_go", [True, False])
def test_the_swap_waits_for_open_reads_in_short_attempts(
    wh: Warehouse, postgres_url: str, monkeypatch: pytest.MonkeyPatch, reader_lets_go: bool
) -> None:
    """A read open on the view holds the swap back: attempts of LOCK_WAIT each, so the
    readers queued behind it wait at most that long; a read that never ends fails the publish
    after LOCK_ATTEMPTS and the published view stays as it was."""
    monkeypatch.setattr(swap, "LOCK_WAIT", "200ms")
    monkeypatch.setattr(swap, "LOCK_ATTEMPTS", 3)
    with pg_database(postgres_url, "publish") as engine:
        publish(wh, engine, DAY, kinds=["customer_view"])
        view = _view(engine)
        with engine.connect() as reading:
            reading.execute(sa.text("SELECT count(*) FROM customer_view"))  # ACCESS SHARE held
            real, waits = swap._take_lock, []

            def lock(conn: sa.Connection, table: str) -> None:
                if reader_lets_go:  # the read ends after the first attempt timed out
                    threading.Timer(0.3, reading.commit).start()
                start = time.perf_counter()
                try:
                    real(conn, table)
                finally:
                    waits.append(time.perf_counter() - start)

            monkeypatch.setattr(swap, "_take_lock", lock)
            if reader_lets_go:
                publish(wh, engine, DAY, kinds=["customer_view"])
                assert 0.2 <= waits[0] < 0.6 * swap.LOCK_ATTEMPTS
            else:
                with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                    publish(wh, engine, DAY, kinds=["customer_view"])
                assert waits[0] >= 0.2 * swap.LOCK_ATTEMPTS
                reading.rollback()
        pd.testing.assert_frame_equal(_view(engine), view)
        with engine.connect() as conn:  # no reader is left behind the swap's lock
            count = conn.execute(sa.text("SELECT count(*) FROM customer_view")).scalar()
        assert count == len(view)
