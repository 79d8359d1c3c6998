"""The data contract (数据接口规范): the canonical extracts an operator delivers.

Every table, column, type, key, allowed value, unit and bilingual label lives here and only
here. The simulator writes these tables, ingest validates against them and
``docs/data-contract.md`` is generated from them (``weiwan contract docs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from weiwan.core.decide_rules import CHURN_REASONS as CORE_CHURN_REASONS
from weiwan.core.policy_rules import OFFER_TYPES as POLICY_OFFER_TYPES


class ColumnType(StrEnum):
    """Logical column types; each maps to one warehouse (DuckDB/Ibis) type."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"  # YYYY-MM-DD (mapping files may declare another format)
    TIMESTAMP = "timestamp"  # YYYY-MM-DD HH:MM:SS, local operator time
    MONTH = "month"  # bill month: YYYY-MM or YYYYMM, stored as the first day of the month


#: Ibis / DuckDB type each logical type is stored as.
WAREHOUSE_TYPES: dict[ColumnType, str] = {
    ColumnType.STRING: "string",
    ColumnType.INTEGER: "int64",
    ColumnType.DECIMAL: "float64",
    ColumnType.BOOLEAN: "boolean",
    ColumnType.DATE: "date",
    ColumnType.TIMESTAMP: "timestamp",
    ColumnType.MONTH: "date",
}


@dataclass(frozen=True)
class Column:
    """One contract column with its validation rules and labels."""

    name: str
    type: ColumnType
    label_zh: str
    label_en: str
    required: bool = True
    unit: str | None = None
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    pii: bool = False
    description: str = ""
    #: a required column an operator who cannot deliver it may declare ``not_delivered`` in the
    #: mapping: it is then stored empty and the features it feeds are skipped
    optional_input: bool = False


@dataclass(frozen=True)
class Table:
    """One extract: its grain, key and columns."""

    name: str
    label_zh: str
    label_en: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    event_time: str | None = None
    extra_columns: bool = False
    references_subscribers: bool = True
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError if it is not in the contract."""
        return self._by_name[name]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


S, INT, D, B = ColumnType.STRING, ColumnType.INTEGER, ColumnType.DECIMAL, ColumnType.BOOLEAN
DT, TS, MO = ColumnType.DATE, ColumnType.TIMESTAMP, ColumnType.MONTH

SUBSCRIBER_STATUSES = (
    "active",
    "suspended_arrears",
    "suspended_keep_number",
    "suspended",
    "pre_disconnect",
    "disconnected",
    "ported_out",
)
STATUS_EVENT_TYPES = (
    "suspend_arrears",
    "suspend_keep_number",
    "suspend",
    "pre_disconnect",
    "disconnect",
    "port_out",
    "resume",
    "plan_change",
    "call_forwarding_on",
    "call_forwarding_off",
)
JOIN_CHANNELS = ("store", "online", "hotline", "agent_outlet", "direct_sales", "other")
COMPLAINT_CATEGORIES = ("network", "billing", "service", "product", "other")
SEVERITIES = ("low", "medium", "high")
TOUCHPOINTS = ("store", "hotline", "network", "billing")
CHURN_TYPES = ("voluntary", "involuntary", "port_out")
#: kinds of retention offer (维系政策类型, defined with the policy rules); the simulator's ground
#: truth knows each one's effect
OFFER_TYPES = POLICY_OFFER_TYPES
#: the leaving reasons (离网原因), named in core: a real-time event rule may name one too
CHURN_REASONS = CORE_CHURN_REASONS

_SUB_ID = Column("subscriber_id", S, "用户标识", "Subscriber ID")
_MSISDN_PATTERN = r"^1[3-9][0-9]{9}$"
_ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9Xx]$"

SUBSCRIBERS = Table(
    name="subscribers",
    label_zh="用户资料",
    label_en="Subscribers",
    grain="one row per subscriber (line) as of the delivery date",
    key=("subscriber_id",),
    references_subscribers=False,
    extra_columns=True,
    columns=(
        _SUB_ID,
        Column("msisdn", S, "手机号码", "Phone number (MSISDN)", pattern=_MSISDN_PATTERN, pii=True),
        Column("customer_id", S, "客户标识", "Customer ID"),
        Column("name", S, "客户姓名", "Customer name", required=False, pii=True),
        Column("gender", S, "性别", "Gender", required=False, allowed=("M", "F", "U")),
        Column("birth_date", DT, "出生日期", "Birth date", required=False, pii=True),
        Column(
            "id_number",
            S,
            "证件号码",
            "ID number",
            required=False,
            pattern=_ID_NUMBER_PATTERN,
            pii=True,
        ),
        Column("region", S, "地市", "Region (city)"),
        Column("branch", S, "分公司/支局", "Branch"),
        Column("brand", S, "品牌", "Brand"),
        Column("payment_type", S, "付费类型", "Payment type", allowed=("prepaid", "postpaid")),
        Column("plan_id", S, "套餐编码", "Plan ID"),
        Column("plan_monthly_fee", D, "套餐月费", "Plan monthly fee", unit="CNY", minimum=0),
        Column("join_date", DT, "入网日期", "Join date"),
        Column(
            "join_channel", S, "入网渠道", "Join channel", required=False, allowed=JOIN_CHANNELS
        ),
        Column("contract_end_date", DT, "合约到期日", "Contract end date", required=False),
        Column("device_model", S, "终端型号", "Device model", required=False),
        Column(
            "device_age_months",
            INT,
            "终端使用时长",
            "Device age",
            required=False,
            unit="months",
            minimum=0,
            maximum=600,
        ),
        Column("account_manager", S, "客户经理", "Account manager", required=False),
        Column("status", S, "用户状态", "Status", allowed=SUBSCRIBER_STATUSES),
        Column("status_date", DT, "状态日期", "Status date"),
    ),
)

MONTHLY_USAGE = Table(
    name="monthly_usage",
    label_zh="月度账单与使用",
    label_en="Monthly bill and usage",
    grain="one row per subscriber per bill month",
    key=("subscriber_id", "bill_month"),
    event_time="bill_month",
    columns=(
        _SUB_ID,
        Column("bill_month", MO, "账期", "Bill month"),
        Column("bill_amount", D, "出账金额(ARPU)", "Bill amount (ARPU)", unit="CNY", minimum=0),
        Column(
            "voice_minutes",
            D,
            "通话分钟数",
            "Voice minutes",
            unit="minutes",
            minimum=0,
            optional_input=True,
        ),
        Column(
            "offnet_voice_share",
            D,
            "异网通话占比",
            "Off-net voice share",
            unit="ratio 0–1",
            minimum=0,
            maximum=1,
            optional_input=True,
        ),
        Column("data_mb", D, "数据流量", "Data volume", unit="MB", minimum=0, optional_input=True),
        Column(
            "sms_count",
            INT,
            "短信条数",
            "SMS sent",
            unit="messages",
            minimum=0,
            optional_input=True,
        ),
        Column(
            "vas_amount",
            D,
            "增值业务费",
            "Value-added services",
            unit="CNY",
            minimum=0,
            optional_input=True,
        ),
        Column(
            "roaming_minutes",
            D,
            "漫游通话分钟",
            "Roaming minutes",
            unit="minutes",
            minimum=0,
            optional_input=True,
        ),
        Column(
            "competitor_service_calls",
            INT,
            "呼叫异网客服次数",
            "Calls to competitors' customer service",
            unit="calls",
            minimum=0,
            optional_input=True,
        ),
        Column(
            "call_forwarding_days",
            INT,
            "呼转天数",
            "Call-forwarding days",
            unit="days",
            minimum=0,
            maximum=31,
            optional_input=True,
        ),
        Column(
            "zero_usage_days",
            INT,
            "零次天数",
            "Zero-usage days",
            unit="days",
            minimum=0,
            maximum=31,
            optional_input=True,
        ),
        Column(
            "recharge_amount",
            D,
            "充值金额",
            "Recharge amount",
            unit="CNY",
            minimum=0,
            optional_input=True,
        ),
        Column(
            "balance",
            D,
            "月末余额",
            "Month-end balance",
            unit="CNY",
            description="negative when money is owed (postpaid: minus the arrears)",
        ),
        Column("arrears_amount", D, "欠费金额", "Arrears", unit="CNY", minimum=0),
        Column(
            "distinct_contacts",
            INT,
            "交往圈人数",
            "Distinct contacts",
            unit="people",
            minimum=0,
            optional_input=True,
        ),
        Column(
            "dropped_calls",
            INT,
            "掉话次数",
            "Dropped calls",
            required=False,
            unit="calls",
            minimum=0,
            description="calls of the line the network dropped in the month (network side, "
            "e.g. from the call detail or measurement records)",
        ),
    ),
)

STATUS_EVENTS = Table(
    name="status_events",
    label_zh="状态变更事件",
    label_en="Status events",
    grain="one row per status change (daily extract)",
    key=("subscriber_id", "event_time", "event_type"),
    event_time="event_time",
    columns=(
        _SUB_ID,
        Column("event_time", TS, "事件时间", "Event time"),
        Column("event_type", S, "事件类型", "Event type", allowed=STATUS_EVENT_TYPES),
        Column(
            "detail",
            S,
            "事件详情",
            "Detail",
            required=False,
            description="e.g. the new plan id for plan_change",
        ),
    ),
)

COMPLAINTS = Table(
    name="complaints",
    label_zh="投诉记录",
    label_en="Complaints",
    grain="one row per complaint",
    key=("complaint_id",),
    event_time="complaint_time",
    columns=(
        Column("complaint_id", S, "投诉工单号", "Complaint ID"),
        _SUB_ID,
        Column("complaint_time", TS, "投诉时间", "Complaint time"),
        Column("category", S, "投诉类别", "Category", allowed=COMPLAINT_CATEGORIES),
        Column("severity", S, "严重程度", "Severity", allowed=SEVERITIES),
        Column("resolved", B, "是否解决", "Resolved"),
        Column(
            "hours_to_resolve",
            D,
            "处理时长",
            "Hours to resolve",
            required=False,
            unit="hours",
            minimum=0,
        ),
    ),
)

SURVEYS = Table(
    name="surveys",
    label_zh="满意度调查",
    label_en="Satisfaction surveys",
    grain="one row per answered survey",
    key=("survey_id",),
    event_time="survey_time",
    columns=(
        Column("survey_id", S, "调查编号", "Survey ID"),
        _SUB_ID,
        Column("survey_time", TS, "调查时间", "Survey time"),
        Column("touchpoint", S, "触点", "Touchpoint", allowed=TOUCHPOINTS),
        Column("score", INT, "满意度评分", "Score", unit="points 0–10", minimum=0, maximum=10),
    ),
)

CHURN_RECORDS = Table(
    name="churn_records",
    label_zh="离网记录",
    label_en="Churn records",
    grain="one row per churned subscriber (拆机 / 携号转网)",
    key=("subscriber_id", "churn_date"),
    event_time="churn_date",
    columns=(
        _SUB_ID,
        Column("churn_date", DT, "离网日期", "Churn date"),
        Column("churn_type", S, "离网类型", "Churn type", allowed=CHURN_TYPES),
        Column("reason_code", S, "离网原因", "Reason", required=False, allowed=CHURN_REASONS),
        Column(
            "destination_competitor",
            S,
            "流向运营商",
            "Destination competitor",
            required=False,
        ),
    ),
)

RETENTION_CONTACTS = Table(
    name="retention_contacts",
    label_zh="挽留营销记录",
    label_en="Retention contacts",
    grain=(
        "one row per subscriber offered a retention offer by an earlier campaign, or held out "
        "of it as its control group (before or beside weiwan); optional"
    ),
    key=("contact_id",),
    event_time="contact_date",
    columns=(
        Column("contact_id", S, "接触编号", "Contact ID"),
        _SUB_ID,
        Column("contact_date", DT, "接触日期", "Contact date"),
        Column("offer_type", S, "优惠类型", "Offer type", allowed=OFFER_TYPES),
        Column("holdout", B, "是否对照组", "Held out (control, not contacted)"),
        Column("campaign", S, "营销活动", "Campaign", required=False),
    ),
)

#: The warehouse's ``quarantine`` table, where ingest puts every failing check of a delivered
#: row: (column, DuckDB type, meaning). docs/data-contract.md lists it; a test compares the two.
QUARANTINE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_snapshot", "DATE", "the delivery's snapshot date"),
    ("table_name", "VARCHAR", "the contract table"),
    ("file", "VARCHAR", "the file's name as delivered"),
    (
        "line",
        "BIGINT",
        "the line in the file (CSV: the header is line 1, the first row line 2; Parquet: the "
        "row number from 1)",
    ),
    (
        "column_name",
        "VARCHAR",
        "the contract column; the key columns joined by `,` for a duplicate key; `*` for a "
        "record the reader could not split into the header's fields",
    ),
    (
        "value",
        "VARCHAR",
        "the raw value as delivered (the key values joined by `|` for a duplicate key, the whole "
        "record for `*`)",
    ),
    ("reason", "VARCHAR", "the check that failed, e.g. `required value missing`"),
    (
        "subscriber_id",
        "VARCHAR",
        "the row's `subscriber_id` as delivered (empty for a table without one and for `*`): an "
        "erasure deletes the subscriber's rows here, and an erased subscriber's are not kept",
    ),
)

#: All contract tables in load order (subscribers first: the others reference it).
TABLES: tuple[Table, ...] = (
    SUBSCRIBERS,
    MONTHLY_USAGE,
    STATUS_EVENTS,
    COMPLAINTS,
    SURVEYS,
    CHURN_RECORDS,
    RETENTION_CONTACTS,
)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """The contract table called ``name``; KeyError naming the known tables otherwise."""
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        known = ", ".join(TABLES_BY_NAME)
        raise KeyError(f"unknown contract table {name!r}; known: {known}") from None
