"""Findings of the churn analysis report (流失分析报告), written from its figures in Chinese and
English: nothing here is a conclusion without the number that supports it."""

from __future__ import annotations

from typing import Any

from weiwan.analytics.kpis import REASON_KINDS, UNKNOWN

REASONS_ZH = {
    "price": "资费",
    "network_quality": "网络质量",
    "service": "服务",
    "contract_end": "合约到期",
    "competitor_offer": "竞争对手优惠",
    "relocation": "迁居",
    "non_payment": "欠费",
    "other": "其他",
    UNKNOWN: "未知",
}
REASONS_EN = {"network_quality": "network quality", "contract_end": "contract end"}
SEGMENTS_ZH = {"brand": "品牌", "channel": "入网渠道", "payment_type": "付费方式"}
SEGMENTS_EN = {"brand": "brand", "channel": "join channel", "payment_type": "payment type"}
KIND_ZH = {"internal": "内部", "external": "外部"}
CONTROL_ZH = {"controllable": "可控", "uncontrollable": "不可控"}
#: segment members (codes of the data contract) as the findings name them: (zh, en)
MEMBERS: dict[str, tuple[str, str]] = {
    "store": ("营业厅", "store"),
    "online": ("网上渠道", "online"),
    "hotline": ("热线", "hotline"),
    "agent_outlet": ("代理网点", "agent outlet"),
    "direct_sales": ("直销", "direct sales"),
    "other": ("其他", "other"),
    "prepaid": ("预付费", "prepaid"),
    "postpaid": ("后付费", "postpaid"),
    UNKNOWN: ("未知", "unknown"),
}
#: tenure bands counted as "new" (under a year on the network)
NEW_BANDS = ("0-6", "6-12")


def pct(value: float | None) -> str:
    """A share as ``12.3%`` (``-`` when unknown)."""
    return "-" if value is None else f"{value * 100:.1f}%"


def _reason_en(code: str) -> str:
    return REASONS_EN.get(code, code.replace("_", " "))


def _new_share(rows: list[dict[str, Any]]) -> float | None:
    total = float(max((r["denominator"] for r in rows), default=0.0))
    if not total:
        return None
    return float(sum(r["numerator"] for r in rows if r["member"] in NEW_BANDS)) / total


def findings(doc: dict[str, Any], min_base: int) -> dict[str, list[str]]:
    """Sentences for ``doc`` (see ``analytics.churn_analysis``), each with its figures."""
    zh: list[str] = []
    en: list[str] = []
    leavers = doc["leavers"]
    window = doc["window_months"]
    zh.append(
        f"{doc['month']} 流失率 {pct(doc['churn_rate'])}"
        f"（上月 {pct(doc['previous_churn_rate'])}），"
        f"本月流失 {doc['month_leavers']:.0f} 户；近 {window} 个月共流失 {leavers:.0f} 户。"
    )
    en.append(
        f"{doc['month']} churn rate {pct(doc['churn_rate'])} (previous month "
        f"{pct(doc['previous_churn_rate'])}), {doc['month_leavers']:.0f} leavers this month; "
        f"{leavers:.0f} leavers over the last {window} months."
    )
    missing = doc.get("missing_months") or []
    if missing:
        covered = window - len(missing)
        zh.append(
            f"注意：近 {window} 个月的统计窗口只有 {covered} 个月有数据，缺少 "
            f"{'、'.join(missing)}；流失户数、原因和成本只反映有数据的月份。"
        )
        en.append(
            f"Note: only {covered} of the {window} months of the window have data; missing: "
            f"{', '.join(missing)}. Leavers, reasons and costs cover only the months with data."
        )
    if not leavers:
        return {"zh-CN": zh, "en": en}
    controllable = [
        r for r in doc["reasons"] if REASON_KINDS.get(r["member"], ("", ""))[1] == "controllable"
    ]
    if controllable:
        top = max(controllable, key=lambda r: (r["numerator"], r["member"]))
        zh.append(
            f"最大的可控流失原因是「{REASONS_ZH.get(top['member'], top['member'])}」，"
            f"{top['numerator']:.0f} 户，占流失用户 {pct(top['share'])}。"
        )
        en.append(
            f"The largest controllable reason is {_reason_en(top['member'])}: "
            f"{top['numerator']:.0f} leavers, {pct(top['share'])} of all leavers."
        )
    group = max(doc["reason_groups"], key=lambda g: (g["leavers"], g["treatment"]))
    if group["leavers"]:
        name_zh = KIND_ZH[group["kind"]] + CONTROL_ZH[group["control"]]
        zh.append(
            f"{name_zh}原因占 {pct(group['share'])}，建议：{group['treatment_text']['zh-CN']}。"
        )
        en.append(
            f"{group['kind'].capitalize()} {group['control']} reasons account for "
            f"{pct(group['share'])}: {group['treatment_text']['en']}."
        )
    named = [d for d in doc["destinations"] if d["member"] != UNKNOWN and d["numerator"]]
    if named:
        top = named[0]
        zh.append(f"流向最多的竞争对手是 {top['member']}，占流失用户 {pct(top['share'])}。")
        en.append(f"Most leavers went to {top['member']}: {pct(top['share'])} of leavers.")
    new_leavers, new_base = _new_share(doc["tenure_leavers"]), _new_share(doc["tenure_base"])
    if new_leavers is not None and new_base is not None:
        zh.append(
            f"在网不满 12 个月的用户占流失用户 {pct(new_leavers)}，占在网用户 {pct(new_base)}。"
        )
        en.append(
            f"Subscribers under 12 months on the network are {pct(new_leavers)} of leavers "
            f"and {pct(new_base)} of the base."
        )
    rising = [
        s
        for s in doc["segments"]
        if s["change_points"] is not None
        and s["change_points"] > 0
        and min(s["base"], s["previous_base"]) >= min_base
    ]
    if rising:
        top = max(rising, key=lambda s: (s["change_points"], s["dimension"], s["member"]))
        points = top["change_points"] * 100
        member_zh, member_en = MEMBERS.get(top["member"], (top["member"], top["member"]))
        zh.append(
            f"流失率上升最多的细分是{SEGMENTS_ZH[top['dimension']]}「{member_zh}」：从 "
            f"{pct(top['previous_rate'])} 升至 {pct(top['rate'])}（+{points:.1f} 个百分点）。"
        )
        en.append(
            f"Churn rose most in {SEGMENTS_EN[top['dimension']]} {member_en}: from "
            f"{pct(top['previous_rate'])} to {pct(top['rate'])} (+{points:.1f} points)."
        )
    costs = doc["costs"]
    zh.append(
        f"流失成本合计 {costs['total']:,.2f} 元（直接 {costs['direct']:,.2f}，间接 "
        f"{costs['indirect']:,.2f}，未来收入损失 {costs['lost_future']:,.2f}，挽留投入机会成本 "
        f"{costs['opportunity']:,.2f}），每户 {costs['per_leaver']:,.2f} 元。"
    )
    en.append(
        f"Churn cost {costs['total']:,.2f} in all (direct {costs['direct']:,.2f}, indirect "
        f"{costs['indirect']:,.2f}, lost future revenue {costs['lost_future']:,.2f}, "
        f"opportunity cost of retention effort {costs['opportunity']:,.2f}), "
        f"{costs['per_leaver']:,.2f} per leaver."
    )
    return {"zh-CN": zh, "en": en}
