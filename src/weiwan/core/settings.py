"""The one settings object. Every knob is an env var WEIWAN_<NAME> (or a .env file)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: connections per server process (see ``Settings.db_pool_size``)
DB_POOL_SIZE = 20
DB_MAX_OVERFLOW = 10


class Settings(BaseSettings):
    """Runtime configuration; read once, passed down, never read from the environment elsewhere."""

    model_config = SettingsConfigDict(env_prefix="WEIWAN_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path("var"), description="Directory for local state (warehouse, DB)."
    )
    warehouse_path: Path | None = Field(
        default=None, description="DuckDB warehouse file; default <home>/warehouse.duckdb."
    )
    erasure_ledger: Path | None = Field(
        default=None,
        description="The erasure ledger: every erasure's salted digest and pseudonym (no "
        "personal data), appended as it is made, which `weiwan restore` re-applies to a backup "
        "made before it; default <home>/erasures.jsonl. Keep a copy apart from the backups.",
    )
    database_url: str | None = Field(
        default=None,
        description="Operational DB (SQLAlchemy URL); default sqlite:///<home>/weiwan.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host:5432/weiwan",
    )
    db_pool_size: int = Field(
        default=DB_POOL_SIZE,
        ge=1,
        description="PostgreSQL connections each server process keeps open. A request beyond "
        "them opens an extra connection and closes it afterwards: measured on the screen-pop "
        "benchmark, the default of 5 opened ~500 connections in 40 s at 200 requests/s and "
        "doubled the p99.",
    )
    db_max_overflow: int = Field(
        default=DB_MAX_OVERFLOW,
        ge=0,
        description="Extra PostgreSQL connections allowed per process.",
    )
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"
    threads: int = Field(default=0, description="DuckDB threads; 0 = all cores.")
    memory_limit: str | None = Field(
        default="2GB",
        description="DuckDB memory limit; beyond it DuckDB spills to disk. Measured: ingest of"
        " 1 M x 12 months takes as long at 2GB as unlimited, with 2.2 GiB RSS instead of 5 GiB.",
    )

    decide_config: Path | None = Field(
        default=None,
        description="Next best action's configuration (priors, driver match, contact costs, "
        "hold-out shares); default the shipped decide.yaml.",
    )
    reasons_for: Literal["at_risk", "all", "none"] = Field(
        default="at_risk",
        description="Who gets churn reasons in the daily scores: the high and medium bands "
        "(TreeSHAP for everyone costs ~70 s per million subscribers on 2 cores), all, or none.",
    )

    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies; default: a random key kept in <home>/secret.key.",
    )
    secure_cookies: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind TLS)."
    )
    session_hours: float = Field(
        default=10.0,
        gt=0,
        description="Idle session lifetime (hours): a session unused this long ends.",
    )
    recording_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^{}]*(\{(contact_id|subscriber_id|agent|at)\}[^{}]*)*$",
        description="Link to a call's recording in the centre's recording system, shown on the "
        "quality-inspection page: an http(s) URL with the placeholders {contact_id}, "
        "{subscriber_id}, {agent} (username) and {at} (the call's start, UTC ISO 8601).",
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="Local time zone of the centre: contact-policy days and quiet hours.",
    )
    publication_due: dt.time = Field(
        default=dt.time(8, 0),
        description="Local time by which the daily run's publication should be there; after "
        "it, /readyz answers 503 until the day is published.",
    )
    # --- alerts to the administrators (docs/operations.md, "Monitor") ---
    alert_emails: str = Field(
        default="",
        description="Comma-separated mail addresses told when a daily run fails or the day's "
        "publication is late (`weiwan daily`, `weiwan daily-watch`).",
    )
    alert_phones: str = Field(
        default="",
        description="Comma-separated mobile numbers told the same by SMS, through the SMS "
        "gateway (with the outbox gateway: appended to <home>/var/alert-sms.jsonl).",
    )
    smtp_host: str | None = Field(default=None, description="Mail server for the alerts.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Port of the mail server.")
    smtp_starttls: bool = Field(
        default=False, description="Upgrade the mail connection with STARTTLS before sending."
    )
    smtp_user: str | None = Field(default=None, description="Mail server login, if it needs one.")
    smtp_password: str | None = Field(default=None, description="Mail server password.")
    smtp_from: str = Field(
        default="weiwan@localhost", description="Sender address of the alert mails."
    )
    metrics_allowed: str = Field(
        default="127.0.0.1/32,::1/128",
        description="Comma-separated networks whose addresses may read /metrics (others get "
        "404); behind a proxy, the forwarded client address counts.",
    )
    host: str = Field(default="127.0.0.1", description="Address the web server listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the web server.")

    # --- SMS gateway (docs/surveys-and-sms.md) ---
    sms_gateway: Literal["outbox", "http"] = Field(
        default="outbox",
        description="outbox: messages stay in the sms_messages table (embedded default); "
        "http: POST batches as JSON to sms_http_url.",
    )
    sms_http_url: str | None = Field(default=None, description="URL of the HTTP SMS gateway.")
    sms_http_token: str | None = Field(
        default=None, description="Bearer token sent to the HTTP SMS gateway."
    )
    events_max_backlog: int = Field(
        default=100_000,
        ge=1,
        description="Events received and not yet processed beyond which event intake answers "
        "429 with Retry-After.",
    )
    events_process_at_intake: bool = Field(
        default=True,
        description="Process each batch of events with the event rules in the intake's own "
        "transaction (off: `weiwan events process` or a consumer does it).",
    )
    sms_callback_token: str | None = Field(
        default=None,
        description="Token the gateway must send (X-SMS-Callback-Token) with delivery "
        "receipts and forwarded replies; unset: both are refused.",
    )
    sms_unsubscribe_keywords: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Reply words that unsubscribe from marketing SMS besides TD, T and 退订, "
        'which always do (JSON list, e.g. ["N", "取消"]; compared trimmed, in any case; '
        "docs/privacy.md).",
    )

    # --- SMS dispatch reliability (docs/surveys-and-sms.md, "Dispatch and reconciliation") ---
    sms_sending_grace_minutes: float = Field(
        default=10.0,
        gt=0,
        description="A message still 'sending' this long after its dispatch began (the "
        "dispatcher crashed between the gateway call and recording its answer) is marked "
        "'unknown' for review by `weiwan sms reconcile` and every dispatch; never re-sent.",
    )

    # --- new-subscriber return visits (新入网回访, docs/operations.md) ---
    arrival_visit_due_days: int = Field(
        default=7,
        ge=0,
        le=90,
        description="Days after joining by which a new subscriber's return-visit call is due "
        "(end of that day); an arrival handed over later is due the day it is handed over.",
    )
    arrival_visit_window_days: int = Field(
        default=30,
        ge=1,
        le=366,
        description="Only subscribers who joined at most this many days before the hand-over "
        "get a return visit: on a first install (or after an outage) the welcome call of those "
        "who joined months ago is past its time, and creating it would flood the agents.",
    )

    # --- Ingest of an operator's delivery (docs/data-contract.md) ---
    ingest_max_quarantine_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Largest share (0-1) of a table's rows that may be quarantined: above it "
        "`weiwan ingest` still loads the good rows but exits with code 3, so a scheduled "
        "pipeline run does not go on with a mostly rejected delivery.",
    )

    # --- login lock-out, throttle, sessions, API docs (docs/decisions/0007) ---
    login_lockout_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive wrong passwords that lock an account (counted in the database).",
    )
    login_lockout_minutes: float = Field(
        default=15.0, gt=0, description="How long a locked account stays locked (minutes)."
    )
    login_throttle_minutes: float = Field(
        default=15.0,
        gt=0,
        description="Window of the login throttle (minutes): failed logins in it are counted "
        "per user name and per client address, across all server processes.",
    )
    login_throttle_per_user: int = Field(
        default=10,
        ge=1,
        description="Failed logins for one user name (known or not) in the window before "
        "further attempts answer 429.",
    )
    login_throttle_per_ip: int = Field(
        default=30,
        ge=1,
        description="Failed logins from one client address in the window before further "
        "attempts answer 429 (a shared NAT address: raise it).",
    )
    session_absolute_hours: float = Field(
        default=12.0,
        gt=0,
        description="Absolute session lifetime (hours) from login, however active the session "
        "is; session_hours is the idle lifetime.",
    )
    api_docs_public: bool = Field(
        default=False,
        description="Serve /api/v1/docs and /api/v1/openapi.json without login (default: any "
        "logged-in user only).",
    )

    # --- directory (LDAP) login (docs/ldap.md); unset ldap_url: local accounts only ---
    ldap_url: str | None = Field(
        default=None,
        pattern=r"^ldaps?://[^/\s]+/?$",
        description="The operator's directory: ldap://host:389 or ldaps://host:636. Unset: "
        "only local accounts log in. Set: a user name that is not a local account is looked "
        "up and checked there (docs/ldap.md).",
    )
    ldap_start_tls: bool = Field(
        default=False,
        description="Upgrade an ldap:// connection with StartTLS before anything is sent "
        "(the certificate is always verified).",
    )
    ldap_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that signed the directory's certificate (ldaps:// "
        "or StartTLS); default: the system's CAs.",
    )
    ldap_bind_dn: str | None = Field(
        default=None,
        description="Service account that searches for users and groups, e.g. "
        "cn=weiwan,ou=services,dc=example,dc=cn; unset: anonymous search.",
    )
    ldap_bind_password: SecretStr | None = Field(
        default=None, description="Password of the service account."
    )
    ldap_user_base: str | None = Field(
        default=None,
        description="Where users are searched (subtree), e.g. ou=people,dc=example,dc=cn.",
    )
    ldap_user_filter: str = Field(
        default="(&(objectClass=inetOrgPerson)(uid={username}))",
        description="Filter that finds one user; {username} is replaced by the login name "
        "with LDAP filter characters escaped. Active Directory: "
        "(&(objectClass=user)(sAMAccountName={username})).",
    )
    ldap_username_attribute: str = Field(
        default="uid",
        description="Attribute holding the login name as the directory spells it (the local "
        "user's name); Active Directory: sAMAccountName.",
    )
    ldap_name_attribute: str = Field(
        default="displayName",
        description="Attribute holding the person's display name (cn when it is empty).",
    )
    ldap_groups: Literal["search", "memberof"] = Field(
        default="search",
        description="How a user's groups are read: 'search' (groups under ldap_group_base "
        "matching ldap_group_filter) or 'memberof' (the user's memberOf attribute: Active "
        "Directory, or OpenLDAP with the memberof overlay).",
    )
    ldap_group_base: str | None = Field(
        default=None,
        description="Where groups are searched (subtree); default ldap_user_base.",
    )
    ldap_group_filter: str = Field(
        default="(|(member={dn})(uniqueMember={dn}))",
        description="Filter of the groups a user is in; {dn} is replaced by the user's DN, "
        "escaped. Nested groups in Active Directory: (member:1.2.840.113556.1.4.1941:={dn}).",
    )
    ldap_disabled_filter: str = Field(
        default="(|(pwdAccountLockedTime=000001010000Z)(employeeType=disabled))",
        description="An entry matching this filter is disabled in the directory: refused, "
        "and its local mirror deactivated with its sessions ended. Default: locked for good "
        "by OpenLDAP's password policy, or employeeType 'disabled'. Active Directory: "
        "(userAccountControl:1.2.840.113556.1.4.803:=2).",
    )
    ldap_timeout_seconds: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Connect and answer timeout of each directory request (whole seconds: "
        "ldap3 sets the socket's receive timeout in seconds); past it the directory counts as "
        "unreachable.",
    )
    ldap_group_mapping: Path | None = Field(
        default=None,
        description="YAML file mapping directory groups to role, branch and team, first "
        "match wins (docs/ldap.md; example deploy/ldap/groups.example.yaml). Required with "
        "ldap_url.",
    )

    # --- uploads and customer lookups (docs/decisions/0008-lookup-rate-limit-and-uploads.md)
    upload_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        description="Largest upload (request body) in bytes, e.g. a dialer's result file; a "
        "larger one is refused with 413 while it is read. 5 MB holds ~80,000 result rows.",
    )
    import_max_rows: int = Field(
        default=50_000,
        ge=1,
        description="Most data rows in one imported result file; a longer file is refused "
        "(split it).",
    )
    import_batch_rows: int = Field(
        default=100,
        ge=1,
        description="Rows recorded per transaction by an import: each batch is committed, so "
        "the SQLite write lock is held ~0.3 s at a time at most.",
    )
    lookup_limit_per_minute: int = Field(
        default=30,
        ge=1,
        description="Customer lookups (screen-pop, customer card, customer list, the "
        "self-service search page) one user may make per minute; beyond it 429 and one "
        "audited 'lookup_limit' event per minute. A hotline agent serves a call in minutes; "
        "benchmarks raise it.",
    )

    # --- churn model promotion (hardening: untrainable and weak models) ---
    min_promote_auc: float = Field(
        default=0.55,
        ge=0.0,
        le=1.0,
        description="Lowest hold-out ROC AUC a churn model may be promoted with; a weaker one "
        "is registered but not promoted unless forced (`weiwan model train --promote --force`, "
        "`weiwan model promote --force`). 0.5 is chance.",
    )

    # --- scale-out: the whole daily run on Spark (issue 21) ---
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Where the warehouse steps run: 'duckdb' (the warehouse file) or 'spark' "
        "(Parquet under WEIWAN_SPARK_WAREHOUSE, or Hive tables; `pip install weiwan[spark]`).",
    )
    spark_master: str = Field(
        default="local[*]",
        description="Spark master for the 'spark' engine: local[N], yarn, k8s://https://host, "
        "spark://host:7077 (spark-submit's --master wins when the session already exists).",
    )
    spark_warehouse: str | None = Field(
        default=None,
        description="Root URI of the Spark engine's Parquet tables (a path, hdfs://, s3a://); "
        "default <home>/spark-warehouse.",
    )
    spark_hive_database: str | None = Field(
        default=None,
        description="Hive database holding the operator's contract tables (read in place, "
        "never copied, with a _snapshot column); unset: contract tables are Parquet under "
        "WEIWAN_SPARK_WAREHOUSE, written by `weiwan ingest`.",
    )
    spark_conf: str = Field(
        default="",
        description="Extra Spark settings as key=value pairs separated by commas or "
        "newlines, e.g. 'spark.executor.memory=8g,spark.sql.shuffle.partitions=400'.",
    )
    spark_publish: Literal["executors", "driver"] = Field(
        default="executors",
        description="How the Spark engine loads the customer view and the decisions into "
        "PostgreSQL: 'executors' (each partition COPYed from its executor into a staging "
        "table, then moved in one transaction; the executors must reach the database) or "
        "'driver' (streamed through the driver one partition at a time).",
    )

    # --- one machine, bounded memory (issue 21: batches and the training sample) ---
    batch_rows: int = Field(
        default=100_000,
        ge=1,
        description="Rows per batch when a daily step runs Python over the whole population "
        "(scores with reasons): memory grows with the batch, not with the subscribers.",
    )
    decision_chunk_subscribers: int = Field(
        default=250_000,
        ge=1,
        description="Triggered subscribers whose next best actions are worked out together in "
        "one chunk of the decisions step; only the candidates that could be granted meet in the "
        "arbitration across the whole population, so memory grows with the chunk.",
    )
    part_subscribers: int = Field(
        default=1_000_000,
        ge=1,
        description="Subscribers whose features (and profile) are computed together, in one "
        "part of the step on DuckDB (by ranges of subscriber id; Spark splits the work itself): "
        "one aggregation over 10 M subscribers spilled out of memory (160 s), ten parts of 1 M "
        "took 58 s on 2 cores.",
    )
    report_build_rows: int = Field(
        default=60_000_000,
        ge=1,
        description="Subscriber-periods the report publish builds at most in one run (a week "
        "or month counts its subscribers twice, with the same period a year earlier; a churn "
        "analysis once): the periods that just closed first, then the history newest first; "
        "what is left is built by the following runs. At 10 M subscribers the whole history "
        "(40 periods) took about 9 minutes on 2 cores, six of them 200 s; at 1 M the whole "
        "history (55 M subscriber-periods) fits in one run (47 s).",
    )
    train_mid_month_days: list[Annotated[int, Field(ge=1, le=28)]] = Field(
        default=[15, 8, 22],
        description="Days of the month (1-28) the churn model also trains on beside the month "
        "ends, in order of preference: the first always, each further one only while every "
        "snapshot's labelled subscribers fit half the training rows whole (a 20 k operator "
        "takes all three, 50 k and more the first alone). [] = month ends only. More days cost "
        "training time on the smallest operators (3 000 subscribers: 27 s with one day, 55 s "
        "with three; 20 k: 97 s either way).",
    )
    train_sample_subscribers: int = Field(
        default=100_000,
        ge=0,
        description="Labelled subscribers `weiwan model train` samples at each month end, "
        "stratified by the churn label (each label at its share, by the MD5 of the id: the "
        "same rows on DuckDB and Spark), in the store before it computes their features; only "
        "the sample reaches the driver. 0 = everyone. The model report states the sample. At "
        "1 M subscribers (uniform sample of 100 k subscribers): 106 s, 3.3 GiB, hold-out AUC "
        "0.811 (250 k: 236 s, 6.1 GiB, AUC 0.813; everyone: 4 min 24 s, 6.3 GiB).",
    )

    # --- Spark: the column mapping of Hive tables read in place (issue 21) ---
    spark_hive_mapping: Path | None = Field(
        default=None,
        description="Column-mapping YAML (the format of `weiwan ingest --mapping`) applied to "
        "the contract tables read from WEIWAN_SPARK_HIVE_DATABASE: its columns (operator's "
        "names to contract names), values and not_delivered become a projection of each Hive "
        "table, nothing copied; unset: the Hive tables carry the contract's names.",
    )

    @property
    def erasure_ledger_file(self) -> Path:
        """The erasure ledger ``weiwan restore`` re-applies (``ops.privacy.ledger``)."""
        return self.erasure_ledger or self.home / "erasures.jsonl"

    @property
    def warehouse_file(self) -> Path:
        return self.warehouse_path or self.home / "warehouse.duckdb"

    @property
    def spark_warehouse_uri(self) -> str:
        """Root URI of the Spark engine's Parquet tables."""
        return self.spark_warehouse or str((self.home / "spark-warehouse").absolute())

    @property
    def models_dir(self) -> Path:
        """The churn model registry."""
        return self.home / "models"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'weiwan.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
