"""Churn reasons (流失原因): each subscriber's top three risk drivers as readable sentences.

The drivers are the largest positive TreeSHAP contributions (LightGBM ``pred_contrib``); each is
written in Chinese and English with the evidence value ("off-net call share up 12 points in 3
months", "contract ends in 1 month"). Sentences are built per feature over whole columns, never
per subscriber in a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from weiwan.analytics.features import DAY_FEATURES

Text = Callable[[pd.Series], pd.Series]


def _num(values: pd.Series, digits: int = 0) -> pd.Series:
    rounded = values.astype(float).round(digits)
    return rounded.map(lambda v: f"{v:,.{digits}f}" if pd.notna(v) else "?")


def _pct(values: pd.Series) -> pd.Series:
    return _num(values.astype(float).abs() * 100) + "%"


def _points(values: pd.Series) -> pd.Series:
    return _num(values.astype(float).abs() * 100)


def _updown(values: pd.Series, up: str, down: str) -> pd.Series:
    return pd.Series(np.where(values.astype(float) >= 0, up, down), index=values.index)


def _trend(zh_what: str, en_what: str) -> tuple[Text, Text]:
    return (
        lambda v: zh_what + "近3个月" + _updown(v, "上升", "下降") + _pct(v),
        lambda v: en_what + " " + _updown(v, "up", "down") + " " + _pct(v) + " in 3 months",
    )


def _count(zh: str, en: str) -> tuple[Text, Text]:
    """Templates with {n}: the value as a whole number."""
    return (
        lambda v: _num(v).map(lambda n: zh.format(n=n)),
        lambda v: _num(v).map(lambda n: en.format(n=n)),
    )


def _contract(v: pd.Series) -> tuple[pd.Series, pd.Series]:
    months = v.astype(float)
    ended = months <= 0
    zh = pd.Series(np.where(ended, "合约已到期", "合约" + _num(months) + "个月后到期"), v.index)
    en = pd.Series(
        np.where(ended, "contract has ended", "contract ends in " + _num(months) + " months"),
        v.index,
    )
    return zh, en


def _of_peak(zh_what: str, en_what: str) -> tuple[Text, Text]:
    """Last month in whole percent of the 6 months' highest."""
    return (
        lambda v: "上月" + zh_what + "仅为近6个月峰值的" + _num(v) + "%",
        lambda v: en_what + " last month " + _num(v) + "% of its 6-month peak",
    )


TEMPLATES: dict[str, tuple[Text, Text]] = {
    "voice_vs_peak_6m": _of_peak("通话量", "voice use"),
    "data_vs_peak_6m": _of_peak("流量", "data use"),
    "sms_vs_peak_6m": _of_peak("短信量", "SMS use"),
    "contacts_vs_peak_6m": _of_peak("交往圈人数", "distinct contacts"),
    "bill_over_plan_1m": _count(
        "上月超出套餐费用{n}元", "charged {n} CNY beyond the plan last month"
    ),
    "over_plan_months_6m": _count(
        "近6个月有{n}个月超套餐", "charged beyond the plan in {n} of the last 6 months"
    ),
    "offnet_share_change_3m": (
        lambda v: "异网通话占比近3个月" + _updown(v, "上升", "下降") + _points(v) + "个百分点",
        lambda v: (
            "off-net call share "
            + _updown(v, "up", "down")
            + " "
            + _points(v)
            + " points in 3 months"
        ),
    ),
    "offnet_share_1m": (lambda v: "异网通话占比" + _pct(v), lambda v: "off-net share " + _pct(v)),
    "offnet_share_mean_3m": (
        lambda v: "近3个月异网通话占比" + _pct(v),
        lambda v: "off-net share " + _pct(v) + " over 3 months",
    ),
    "bill_trend_3m": _trend("话费", "bill"),
    "voice_trend_3m": _trend("通话量", "voice usage"),
    "data_trend_3m": _trend("流量", "data usage"),
    "sms_trend_3m": _trend("短信量", "SMS"),
    "contacts_trend_3m": _trend("交往圈人数", "contacts"),
    "competitor_calls_1m": _count(
        "上月呼叫异网客服{n}次", "called a competitor's service line {n} times last month"
    ),
    "competitor_calls_3m": _count(
        "近3个月呼叫异网客服{n}次", "called competitors' service lines {n} times in 3 months"
    ),
    "call_forwarding_days_1m": _count("上月呼转{n}天", "call forwarding on {n} days last month"),
    "call_forwarding_days_3m": _count(
        "近3个月呼转{n}天", "call forwarding on {n} days in 3 months"
    ),
    "zero_usage_days_1m": _count("上月零使用{n}天", "no usage on {n} days last month"),
    "zero_usage_days_3m": _count("近3个月零使用{n}天", "no usage on {n} days in 3 months"),
    "dropped_calls_1m": _count("上月掉话{n}次", "{n} dropped calls last month"),
    "dropped_calls_3m": _count("近3个月掉话{n}次", "{n} dropped calls in 3 months"),
    "complaints_90d": _count("近90天投诉{n}次", "{n} complaints in 90 days"),
    "complaints_high_90d": _count("近90天严重投诉{n}次", "{n} serious complaints in 90 days"),
    "complaints_network_90d": _count(
        "近90天网络质量投诉{n}次", "{n} network complaints in 90 days"
    ),
    "complaints_billing_90d": _count("近90天计费投诉{n}次", "{n} billing complaints in 90 days"),
    "complaints_unresolved": _count("{n}件投诉未解决", "{n} complaints still open"),
    "complaints_total": _count("累计投诉{n}次", "{n} complaints in total"),
    "last_survey_score": _count("最近满意度评分{n}分", "last satisfaction score {n}/10"),
    "low_scores_180d": _count("近半年低满意度评价{n}次", "{n} low satisfaction scores in 6 months"),
    "suspensions_90d": _count("近90天停机{n}次", "suspended {n} times in 90 days"),
    "days_since_suspension": _count("{n}天前曾停机", "suspended {n} days ago"),
    "tenure_months": _count("在网{n}个月", "{n} months on the network"),
    "device_age_months": _count("终端已使用{n}个月", "device is {n} months old"),
    "recharge_months_6m": _count("近6个月有{n}个月充值", "recharged in {n} of the last 6 months"),
    "days_since_month_end": _count("距上个月末{n}天", "{n} days since the month end"),
    "usage_months": _count("近6个月有{n}个月有账单", "billed in {n} of the last 6 months"),
    "plan_changes_180d": _count("近半年变更套餐{n}次", "changed plan {n} times in 6 months"),
    "retention_offers_180d": _count("近半年获得挽留优惠{n}次", "{n} retention offers in 6 months"),
    "days_since_retention_offer": _count(
        "{n}天前获得挽留优惠", "last retention offer {n} days ago"
    ),
    "arrears_1m": _count("欠费{n}元", "arrears of {n} CNY"),
    "balance_1m": _count("月末余额{n}元", "month-end balance {n} CNY"),
    "arpu_1m": _count("上月话费{n}元", "last bill {n} CNY"),
    "bill_mean_3m": _count("近3个月月均话费{n}元", "average bill {n} CNY over 3 months"),
    "age": _count("年龄{n}岁", "aged {n}"),
    "plan_monthly_fee": _count("套餐月费{n}元", "plan fee {n} CNY a month"),
    "bill_mean_6m": _count("近6个月月均话费{n}元", "average bill {n} CNY over 6 months"),
    "voice_1m": _count("上月通话{n}分钟", "{n} voice minutes last month"),
    "voice_mean_3m": _count("近3个月月均通话{n}分钟", "{n} voice minutes a month over 3 months"),
    "voice_mean_6m": _count("近6个月月均通话{n}分钟", "{n} voice minutes a month over 6 months"),
    "data_mb_1m": _count("上月流量{n}MB", "{n} MB of data last month"),
    "data_mean_3m": _count("近3个月月均流量{n}MB", "{n} MB of data a month over 3 months"),
    "data_mean_6m": _count("近6个月月均流量{n}MB", "{n} MB of data a month over 6 months"),
    "sms_1m": _count("上月短信{n}条", "{n} SMS last month"),
    "sms_mean_3m": _count("近3个月月均短信{n}条", "{n} SMS a month over 3 months"),
    "sms_mean_6m": _count("近6个月月均短信{n}条", "{n} SMS a month over 6 months"),
    "recharge_1m": _count("上月充值{n}元", "recharged {n} CNY last month"),
    "recharge_mean_3m": _count("近3个月月均充值{n}元", "recharged {n} CNY a month over 3 months"),
    "vas_mean_3m": _count("近3个月月均增值业务{n}元", "{n} CNY a month of value-added services"),
    "roaming_mean_3m": _count("近3个月月均漫游{n}分钟", "{n} roaming minutes a month"),
    "contacts_1m": _count("上月交往圈{n}人", "{n} distinct contacts last month"),
}
_FLAGS: dict[str, tuple[str, str, str, str]] = {  # feature -> zh/en when true, zh/en when false
    "call_forwarding_active": (
        "已开启呼叫转移",
        "call forwarding is on",
        "未开启呼叫转移",
        "no call forwarding",
    ),
    "is_prepaid": ("预付费用户", "prepaid subscriber", "后付费用户", "postpaid subscriber"),
    "in_contract": ("合约期内", "under contract", "无合约约束", "not under contract"),
    "has_account_manager": (
        "有专属客户经理",
        "has an account manager",
        "无专属客户经理",
        "no account manager",
    ),
}


_STATUS = {  # status at the snapshot -> (zh, en)
    "active": ("正常在用", "active"),
    "suspended_arrears": ("欠费停机", "suspended for arrears"),
    "suspended_keep_number": ("停机保号", "suspended, keeping the number"),
    "suspended": ("用户停机", "suspended"),
    "pre_disconnect": ("预拆机", "pre-disconnect"),
}


#: categorical features -> (zh name, en name, {code: (zh, en)} for values that are codes)
_CATEGORIES: dict[str, tuple[str, str, dict[str, tuple[str, str]]]] = {
    "branch": ("所属分公司", "branch", {}),
    "region": ("地区", "region", {}),
    "brand": ("品牌", "brand", {}),
    "plan_id": ("套餐", "plan", {}),
    "device_model": ("终端", "device", {}),
    "gender": (
        "性别",
        "gender",
        {"M": ("男", "male"), "F": ("女", "female"), "U": ("未知", "unknown")},
    ),
    "payment_type": (
        "付费方式",
        "payment",
        {"prepaid": ("预付费", "prepaid"), "postpaid": ("后付费", "postpaid")},
    ),
    "join_channel": (
        "入网渠道",
        "joined through",
        {
            "store": ("营业厅", "a store"),
            "online": ("网上营业厅", "the online shop"),
            "agent_outlet": ("代理网点", "an agent outlet"),
            "hotline": ("客服热线", "the hotline"),
            "direct_sales": ("直销渠道", "direct sales"),
            "other": ("其他渠道", "another channel"),
        },
    ),
}


def _category(feature: str, values: pd.Series) -> tuple[pd.Series, pd.Series]:
    zh_name, en_name, words = _CATEGORIES[feature]
    text = values.astype(str)
    zh = text.map(lambda v: zh_name + "：" + words.get(v, (v, v))[0])
    return zh, text.map(lambda v: en_name + ": " + words.get(v, (v, v))[1])


def sentences(feature: str, values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(Chinese, English) reason sentences for ``feature`` with each row's evidence value."""
    if feature == "status":
        text = values.astype(str)
        zh = text.map(lambda v: "当前状态：" + _STATUS.get(v, (v, v))[0])
        return zh, text.map(lambda v: "status: " + _STATUS.get(v, (v, v))[1])
    if feature == "months_to_contract_end":
        return _contract(values)
    if feature in _FLAGS:
        zh_on, en_on, zh_off, en_off = _FLAGS[feature]
        on = values.fillna(False).astype(bool).to_numpy()
        return (
            pd.Series(np.where(on, zh_on, zh_off), values.index),
            pd.Series(np.where(on, en_on, en_off), values.index),
        )
    if feature in TEMPLATES:
        zh_text, en_text = TEMPLATES[feature]
        return zh_text(values), en_text(values)
    if feature in _CATEGORIES:
        return _category(feature, values)
    text = values.astype(str)  # an operator's own column: its name is the operator's word
    return feature + "：" + text, feature + ": " + text


def _top_positions(
    contributions: npt.NDArray[np.float64], names: list[str], k: int
) -> list[npt.NDArray[np.int64]]:
    """Per rank, first to k-th: the position in ``names`` of each row's k-th largest positive
    contribution, ``len(names)`` where fewer features push the risk up."""
    contrib = contributions[:, : len(names)].copy()
    # a feature of the day (the same for everyone) conditions the model, it is no reason
    contrib[:, [j for j, name in enumerate(names) if name in DAY_FEATURES]] = 0.0
    order = np.argsort(-contrib, axis=1)[:, :k]
    rows = np.arange(len(contrib))
    return [np.where(contrib[rows, chosen] > 0, chosen, len(names)) for chosen in order.T]


def top_reason_features(
    contributions: npt.NDArray[np.float64], names: list[str], k: int = 3
) -> list[npt.NDArray[np.object_]]:
    """The features of the k largest positive contributions per row, first to k-th (None
    where fewer features push the risk up): the reasons without their sentences."""
    labels = np.array([*names, None], dtype=object)
    return [labels[positions] for positions in _top_positions(contributions, names, k)]


def top_reasons(
    contributions: npt.NDArray[np.float64],
    features: pd.DataFrame,
    names: list[str],
    k: int = 3,
) -> pd.DataFrame:
    """reason_1..k (zh), reason_1_en..k_en and reason_1_feature..: the k largest positive
    contributions per row (fewer when fewer features push the risk up), each in a sentence."""
    out: dict[str, pd.Series] = {}
    for rank, chosen in enumerate(_top_positions(contributions, names, k), start=1):
        zh = pd.Series([None] * len(chosen), index=features.index, dtype=object)
        en = zh.copy()
        feature_of = zh.copy()
        for idx in np.unique(chosen[chosen < len(names)]):
            rows = features.index[chosen == idx]
            name = names[idx]
            zh.loc[rows], en.loc[rows] = sentences(name, features.loc[rows, name])
            feature_of.loc[rows] = name
        out[f"reason_{rank}"] = zh
        out[f"reason_{rank}_en"] = en
        out[f"reason_{rank}_feature"] = feature_of
    return pd.DataFrame(out, index=features.index)
