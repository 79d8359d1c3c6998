"""The plan form of the campaign pages: the target filter builder (rows of field / operator /
value compiled to the filter language of ``core.filters``) and the form → service body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from weiwan.core.errors import InvalidRequestError
from weiwan.core.filters import OPS
from weiwan.ops.campaigns.targeting import FIELDS
from weiwan.web.i18n import current_language, use_locale
from weiwan.web.i18n import gettext as _
from weiwan.web.i18n import lazy_gettext as _l
from weiwan.web.labels import LIFECYCLE, PAYMENT_TYPES, RISK_BANDS, VALUE_TIERS, label
from weiwan.web.strict_json import loads_strict

TAG = "tag"
#: operators that take a list of values, comma separated in the form
LIST_OPS = frozenset({"in", "not_in", "between"})
NO_VALUE_OPS = frozenset({"is_null", "not_null"})
FILTER_FIELDS: tuple[str, ...] = (TAG, *FIELDS)
#: fields the builder does not offer (internal: a stored filter may still use them, and the
#: API takes them): branch codes and ids (the plan's branch does that), the model version, the
#: snapshot date
INTERNAL_FIELDS = frozenset({"branch_code", "branch_id", "model_version", "snapshot_date"})
#: the builder's words for the operators of the filter language
OP_LABELS: dict[str, Any] = {
    "=": "=",
    "!=": "≠",
    ">": ">",
    ">=": "≥",
    "<": "<",
    "<=": "≤",
    "between": _l("between (two values)"),
    "in": _l("is one of"),
    "not_in": _l("is none of"),
    "is_null": _l("is empty"),
    "not_null": _l("is not empty"),
}
#: the builder's names of the filterable fields (the customer view's non-PII columns)
FIELD_LABELS: dict[str, Any] = {
    TAG: _l("Tag"),
    "snapshot_date": _l("Data date"),
    "gender": _l("Gender"),
    "age": _l("Age"),
    "region": _l("Region"),
    "branch_code": _l("Branch code"),
    "branch_id": _l("Branch id"),
    "brand": _l("Brand"),
    "payment_type": _l("Payment type"),
    "plan_id": _l("Plan"),
    "plan_monthly_fee": _l("Plan monthly fee"),
    "join_date": _l("Join date"),
    "tenure_months": _l("Tenure (months)"),
    "contract_end_date": _l("Contract end date"),
    "status": _l("Subscriber status"),
    "star_level": _l("Star level"),
    "arpu_1m": _l("ARPU last month"),
    "value_tier": _l("Value tier"),
    "lifecycle_stage": _l("Lifecycle stage"),
    "clv_quadrant": _l("Customer value quadrant"),
    "future_value": _l("Future value"),
    "churn_probability": _l("Churn probability"),
    "risk_band": _l("Risk band"),
    "model_version": _l("Model version"),
}


@dataclass(slots=True)
class FilterRow:
    """One row of the builder."""

    field: str = "risk_band"
    op: str = "="
    value: str = ""


@dataclass(slots=True)
class PlanForm:
    """What the plan form shows (also after a failed submit, with the values typed)."""

    name: str = ""
    description: str = ""
    branch_id: int | None = None
    combine: str = "all"
    rows: list[FilterRow] = field(default_factory=lambda: [FilterRow()])
    filter_json: str = ""
    policy_ids: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    script_zh: str = ""
    script_en: str = ""
    holdout_share: float = 0.1
    start_date: date | None = None
    end_date: date | None = None
    questionnaire_id: int | None = None


#: fields whose values are codes: the builder takes a code or its name in either language
#: (风险等级 = 高, 价值等级 = 金卡) and shows the names
CODED_FIELDS: dict[str, dict[str, Any]] = {
    "risk_band": RISK_BANDS,
    "value_tier": VALUE_TIERS,
    "lifecycle_stage": LIFECYCLE,
    "payment_type": PAYMENT_TYPES,
}


def _names_of(word: Any) -> set[str]:
    """A label's text in every language the pages speak, folded for comparison."""
    names = set()
    for language in ("zh", "en"):
        with use_locale(language):
            names.add(str(word).strip().casefold())
    return names


def coded_value(field_name: str, raw: str) -> str:
    """The code a builder value names: the code itself, or its name in Chinese or English;
    :class:`InvalidRequestError` listing the choices otherwise. Other fields: as typed."""
    vocabulary = CODED_FIELDS.get(field_name)
    text = raw.strip()
    if vocabulary is None:
        return text
    wanted = text.casefold()
    for code, word in vocabulary.items():
        if wanted == code.casefold() or wanted in _names_of(word):
            return code
    choices = "、".join(label(vocabulary, code) for code in vocabulary)
    raise InvalidRequestError(
        _("%(value)s is not one of: %(choices)s.", value=text, choices=choices),
        field="target_filter",
    )


def shown_value(field_name: str, code: Any) -> str:
    """A stored value as the builder shows it: a code's name in the reader's language."""
    vocabulary = CODED_FIELDS.get(field_name)
    return label(vocabulary, str(code)) if vocabulary is not None else str(code)


def _scalar(raw: str, kind: str, field_name: str = "") -> Any:
    text = coded_value(field_name, raw) if field_name else raw.strip()
    if kind == "number":
        try:
            number = float(text)
        except ValueError as exc:
            raise InvalidRequestError(
                _("%(value)s is not a number.", value=text), field="target_filter"
            ) from exc
        return int(number) if number.is_integer() else number
    return text


def value_choices(tag_names: Mapping[str, tuple[str, str]] | None = None) -> dict[str, list[str]]:
    """The value picker of each coded field: its choices by name in the reader's language (the
    builder takes a name or a code); the tags by name when their names are published."""
    choices = {name: [str(word) for word in words.values()] for name, words in CODED_FIELDS.items()}
    if tag_names:
        english = current_language() == "en"
        choices[TAG] = sorted(en if english else zh for zh, en in tag_names.values())
    return choices


def tag_code(raw: str, tag_names: Mapping[str, tuple[str, str]] | None) -> str:
    """The tag a builder value names: its id, or its name in Chinese or English."""
    text = raw.strip()
    wanted = text.casefold()
    for tag_id, names in (tag_names or {}).items():
        if wanted == tag_id.casefold() or wanted in {n.strip().casefold() for n in names}:
            return tag_id
    return text


def row_condition(
    row: FilterRow, tag_names: Mapping[str, tuple[str, str]] | None = None
) -> dict[str, Any]:
    """One builder row as a leaf of the filter language (a tag by its id or its name)."""
    if row.field == TAG:
        return {"tag": tag_code(row.value, tag_names)}
    kind = FIELDS[row.field][1] if row.field in FIELDS else "string"
    if row.op in NO_VALUE_OPS:
        return {"field": row.field, "op": row.op}
    if row.op in LIST_OPS:
        pieces = row.value.replace("，", ",").replace("、", ",").split(",")
        values = [_scalar(v, kind, row.field) for v in pieces if v.strip()]
        return {"field": row.field, "op": row.op, "value": values}
    return {"field": row.field, "op": row.op, "value": _scalar(row.value, kind, row.field)}


def build_filter(
    combine: str,
    rows: list[FilterRow],
    filter_json: str = "",
    tag_names: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The filter of the builder rows joined by ``all`` / ``any``; the advanced JSON when no
    row is filled in."""
    filled = [r for r in rows if r.field and (r.value.strip() or r.op in NO_VALUE_OPS)]
    if not filled and filter_json.strip():
        try:
            parsed = loads_strict(filter_json)
        except (ValueError, RecursionError) as exc:  # NaN/Infinity, or nested past the parser
            raise InvalidRequestError(
                _("The filter is not valid JSON."), field="target_filter"
            ) from exc
        if not isinstance(parsed, dict):
            raise InvalidRequestError(_("The filter is not valid JSON."), field="target_filter")
        return parsed
    key = "any" if combine == "any" else "all"
    return {key: [row_condition(r, tag_names) for r in filled]}


def rows_of_filter(
    raw: dict[str, Any], tag_names: Mapping[str, tuple[str, str]] | None = None
) -> tuple[str, list[FilterRow], str]:
    """Builder rows of a stored filter when it is a flat all/any of leaves (tags by name);
    otherwise no rows and the filter as JSON for the advanced field."""
    english = current_language() == "en"
    for key in ("all", "any"):
        children = raw.get(key) if len(raw) == 1 else None
        if isinstance(children, list) and all(isinstance(c, dict) for c in children):
            rows: list[FilterRow] = []
            for child in children:
                if set(child) == {"tag"}:
                    names = (tag_names or {}).get(str(child["tag"]))
                    shown = (names[1] if english else names[0]) if names else str(child["tag"])
                    rows.append(FilterRow(TAG, "=", shown))
                elif "field" in child and "op" in child:
                    value = child.get("value")
                    name = str(child["field"])
                    text = (
                        ", ".join(shown_value(name, v) for v in value)
                        if isinstance(value, list)
                        else ("" if value is None else shown_value(name, value))
                    )
                    rows.append(FilterRow(str(child["field"]), str(child["op"]), text))
                else:
                    break
            else:
                return key, rows or [FilterRow()], ""
    return "all", [FilterRow(field="", value="")], json.dumps(raw, ensure_ascii=False, indent=1)


def filter_rows_of_form(form: FormData) -> tuple[str, list[FilterRow], str]:
    """The builder rows, the all/any choice and the advanced JSON as the form sent them."""
    fields = [str(v) for v in form.getlist("filter_field")]
    ops = [str(v) for v in form.getlist("filter_op")]
    values = [str(v) for v in form.getlist("filter_value")]
    rows = [
        FilterRow(f, ops[i] if i < len(ops) else "=", values[i] if i < len(values) else "")
        for i, f in enumerate(fields)
    ]
    for row in rows:
        if row.field and row.field not in FILTER_FIELDS:
            raise InvalidRequestError(
                _("Unknown field %(name)s.", name=row.field), field="target_filter"
            )
        if row.op not in OPS:
            raise InvalidRequestError(
                _("Unknown operator %(op)s.", op=row.op), field="target_filter"
            )
    combine = "any" if form.get("filter_combine") == "any" else "all"
    return combine, rows, str(form.get("filter_json") or "")


def _optional_date(value: Any, name: str) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRequestError(_("Use a date like 2026-11-24."), field=name) from exc


def _optional_int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def plan_form_of(form: FormData) -> PlanForm:
    """The form's values (not yet checked by the service)."""
    combine, rows, filter_json = filter_rows_of_form(form)
    try:
        share = float(str(form.get("holdout_share") or "10")) / 100
    except ValueError as exc:
        raise InvalidRequestError(
            _("The hold-out share is a percentage."), field="holdout_share"
        ) from exc
    return PlanForm(
        name=str(form.get("name") or "").strip(),
        description=str(form.get("description") or ""),
        branch_id=_optional_int(form.get("branch_id")),
        combine=combine,
        rows=rows or [FilterRow()],
        filter_json=filter_json,
        policy_ids=[str(v) for v in form.getlist("policy_ids")],
        channels=[str(v) for v in form.getlist("channels")],
        script_zh=str(form.get("script_zh") or ""),
        script_en=str(form.get("script_en") or ""),
        holdout_share=share,
        start_date=_optional_date(form.get("start_date"), "start_date"),
        end_date=_optional_date(form.get("end_date"), "end_date"),
        questionnaire_id=_optional_int(form.get("questionnaire_id")),
    )


def service_fields(
    plan: PlanForm, tag_names: Mapping[str, tuple[str, str]] | None = None
) -> dict[str, Any]:
    """The plan as the fields of ``CampaignCreate`` / ``CampaignUpdate`` (tags named in the
    builder by their names as well as their ids)."""
    return {
        "name": plan.name,
        "description": plan.description,
        "branch_id": plan.branch_id,
        "target_filter": build_filter(plan.combine, plan.rows, plan.filter_json, tag_names),
        "policy_ids": plan.policy_ids,
        "channels": plan.channels,
        "script_zh": plan.script_zh,
        "script_en": plan.script_en,
        "holdout_share": plan.holdout_share,
        "start_date": plan.start_date,
        "end_date": plan.end_date,
        "questionnaire_id": plan.questionnaire_id,
    }


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a body the schema refused: (field, message)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "form"
    return where, str(first.get("msg", ""))


def describe_filter(
    raw: dict[str, Any], tag_names: Mapping[str, tuple[str, str]] | None = None
) -> list[str] | None:
    """A flat all/any filter as readable conditions ("Risk band is one of high, medium"); None
    when the filter nests (shown as JSON)."""
    combine, rows, filter_json = rows_of_filter(raw, tag_names)
    if filter_json:
        return None
    found: list[str] = []
    for row in rows:
        name = str(FIELD_LABELS.get(row.field, row.field))
        if row.field == TAG:
            found.append(f"{name}: {row.value}")
        elif row.op in NO_VALUE_OPS:
            found.append(f"{name} {OP_LABELS[row.op]}")
        else:
            found.append(f"{name} {OP_LABELS.get(row.op, row.op)} {row.value}")
    joiner = _("any of") if combine == "any" else _("all of")
    return [str(joiner), *found]
