"""The evaluation report's texts, Chinese and English: ``LABELS[language][key]``.

The report is a self-contained file rendered by analytics, not a web page: it does not go
through the web's translation catalogues (web/i18n, which analytics may not import), so its
texts live here, apart from the code that lays them out.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]

LABELS: dict[Language, dict[str, str]] = {
    "zh": {
        "title": "流失预警模型评估报告",
        "generated_at": "生成时间",
        "other_language": "English version",
        "section_model": "模型与数据",
        "model_version": "模型版本",
        "unregistered": "未登记",
        "model_kind": "模型类型",
        "horizon": "预测窗口",
        "months_1": "{n} 个月",
        "months_n": "{n} 个月",
        "include_involuntary": "含非自愿流失（欠费停机）",
        "yes": "是",
        "no": "否",
        "training_window": "训练快照",
        "snapshots_span": "{first} 至 {last}（{n} 个快照）",
        "training_rows": "训练样本数",
        "training_sample": "训练抽样",
        "sample_everyone": "全部 {subscribers} 位用户",
        "sample_share": "{subscribers} 位用户中均匀抽取 {share}（各快照同一批用户）",
        "sample_stratified": (
            "按流失标签分层抽样：{labelled} 个已标注用户月中抽取 {rows} 个"
            "（其中流失 {churners} 个）"
        ),
        "sample_all_labelled": "全部 {rows} 个已标注用户月（其中流失 {churners} 个）",
        "leaving_reasons": "离网原因模型",
        "leaving_untrained": "未训练：仅 {coded} 位流失用户记有离网原因（至少需要 {needed} 位）",
        "leaving_unjudged": "区分 {n} 种离网原因（留出快照的流失用户无原因记录，未验证）",
        "leaving_judged": (
            "区分 {n} 种离网原因；留出快照 {rows} 位流失用户中判对 {accuracy}"
            "（一律判为最常见原因：{common}）"
        ),
        "holdout": "留出快照（时间外验证）",
        "holdout_size": "留出样本",
        "holdout_size_value": "{rows} 位客户，其中 {churners} 位流失（流失率 {rate}）",
        "fingerprint": "数据指纹",
        "emp_parameters": "利润模型参数",
        "emp_parameters_value": (
            "挽留接受率 γ ~ Beta({alpha}, {beta})，优惠成本 {offer}，接触成本 {contact}，"
            "客户价值 {clv}"
        ),
        "clv_per_customer": "逐客户生命周期价值",
        "section_metrics": "三个模型对比（留出快照）",
        "col_model": "模型",
        "metric_roc_auc": "ROC AUC",
        "metric_pr_auc": "PR AUC",
        "metric_top_decile_lift": "前 10% 提升度",
        "metric_brier": "Brier 分数",
        "metric_emp": "每客户预期最大利润",
        "metric_emp_share_contacted": "利润最优接触比例",
        "metrics_note": (
            "加粗并着色的是该指标最好的模型。Brier 分数越低越好，其余指标越高越好；"
            "利润最优接触比例由利润模型决定，无好坏之分。"
        ),
        "model_default": "默认模型",
        "model_naive_bayes": "朴素贝叶斯（基线）",
        "model_logistic_regression": "逻辑回归（基线）",
        "short_default": "默认模型",
        "short_naive_bayes": "朴素贝叶斯",
        "short_logistic_regression": "逻辑回归",
        "reading_auc_higher": "默认模型的 ROC AUC 比最好的基线（{baseline}）高 {diff}",
        "reading_auc_lower": "默认模型的 ROC AUC 比最好的基线（{baseline}）低 {diff}",
        "reading_auc_equal": "默认模型的 ROC AUC 与最好的基线（{baseline}）持平",
        "reading_emp_higher": "每客户预期最大利润比最好的基线（{baseline}）高 {diff}",
        "reading_emp_lower": "每客户预期最大利润比最好的基线（{baseline}）低 {diff}",
        "reading_emp_equal": "每客户预期最大利润与最好的基线（{baseline}）持平",
        "reading_none": "缺少可比较的指标，无法判断默认模型是否优于基线",
        "clause_separator": "；",
        "sentence_end": "。",
        "section_charts": "图表",
        "chart_roc_title": "ROC 曲线",
        "chart_roc_note": "曲线越靠近左上角，模型越能把流失客户排在前面；对角线为随机排序。",
        "chart_gain_title": "累计捕获曲线",
        "chart_gain_note": (
            "按风险从高到低接触一定比例的客户时，能覆盖全部流失客户的比例；"
            "对角线为随机接触，虚线为理想排序。"
        ),
        "chart_lift_title": "分组提升度",
        "chart_lift_note": "各风险十分位组的流失率相对整体流失率的倍数；1 表示与随机相同。",
        "chart_calibration_title": "概率校准",
        "chart_calibration_note": (
            "每组客户的平均预测概率与实际流失率；点越靠近对角线，预测概率越可以直接当真。"
        ),
        "chart_calibration_note_log": "流失率低，坐标轴用对数刻度；实际无人流失的组画在底边。",
        "chart_profit_title": "预期利润曲线（默认模型）",
        "chart_profit_note": (
            "按风险从高到低接触不同比例的客户时，每位客户的预期活动利润（接受率取 Beta 均值）；"
            "竖线为预期最大利润（EMP）对应的最优接触比例。"
        ),
        "ax_fpr": "误报率（假阳性率）",
        "ax_tpr": "命中率（真阳性率）",
        "ax_share_contacted": "接触客户比例",
        "ax_gain": "捕获的流失客户比例",
        "ax_decile": "风险十分位组（1 = 风险最高）",
        "ax_lift": "提升度",
        "ax_mean_predicted": "平均预测概率",
        "ax_observed": "实际流失率",
        "ax_profit": "每客户预期利润",
        "legend_random": "随机",
        "legend_perfect": "理想",
        "legend_calibrated": "完全校准",
        "legend_zero_observed": "实际流失率为 0",
        "legend_profit": "预期利润",
        "legend_emp_share": "EMP 最优接触比例 {share}",
        "section_survival": "生存模型（剩余在网时长）",
        "survival_concordance": "一致性指数（C-index）",
        "survival_rows": "样本数",
        "survival_churners": "随访期内流失客户数",
        "survival_snapshot": "评估快照",
        "survival_follow_up": "随访时长",
        "survival_mean_remaining": "平均预期剩余在网时长",
        "survival_covariates": "协变量",
        "survival_horizon": "剩余在网时长上限",
        "survival_col_window": "时间窗",
        "survival_col_predicted": "平均预测离网概率",
        "survival_col_observed": "实际离网比例",
        "survival_within": "{n} 个月内",
        "survival_note": "一致性指数 0.5 相当于随机排序，越接近 1 越好。",
        "section_lift": "默认模型的分组提升度",
        "lift_group": "组",
        "lift_customers": "客户数",
        "lift_churn_rate": "流失率",
        "lift_share": "累计接触比例",
        "lift_gain": "累计捕获",
        "lift_lift": "提升度",
        "lift_cumulative": "累计提升度",
        "no_data": "无数据",
        "features": "模型特征（{n} 个）",
        "footer": "由 weiwan 生成。本文件自包含，可离线打开和打印。",
    },
    "en": {
        "title": "Churn model evaluation report",
        "generated_at": "Generated",
        "other_language": "中文版",
        "section_model": "Model and data",
        "model_version": "Model version",
        "unregistered": "not registered",
        "model_kind": "Model kind",
        "horizon": "Prediction horizon",
        "months_1": "{n} month",
        "months_n": "{n} months",
        "include_involuntary": "Includes involuntary churn (non-payment)",
        "yes": "yes",
        "no": "no",
        "training_window": "Training snapshots",
        "snapshots_span": "{first} to {last} ({n} snapshots)",
        "training_rows": "Training rows",
        "training_sample": "Training sample",
        "sample_everyone": "all {subscribers} subscribers",
        "sample_share": (
            "a uniform {share} of {subscribers} subscribers (the same at every snapshot)"
        ),
        "sample_stratified": (
            "trained on a stratified sample of {rows} of {labelled} labelled "
            "subscriber-months (churners {churners})"
        ),
        "sample_all_labelled": "all {rows} labelled subscriber-months (churners {churners})",
        "leaving_reasons": "Leaving-reason model",
        "leaving_untrained": (
            "not trained: only {coded} churners have a recorded reason ({needed} are needed)"
        ),
        "leaving_unjudged": (
            "tells {n} recorded reasons apart (no reasons recorded for the hold-out's "
            "churners: not judged)"
        ),
        "leaving_judged": (
            "tells {n} recorded reasons apart; right for {accuracy} of the hold-out's {rows} "
            "churners (the commonest reason for all: {common})"
        ),
        "holdout": "Hold-out snapshot (out-of-time)",
        "holdout_size": "Hold-out customers",
        "holdout_size_value": "{rows} customers, {churners} churners (churn rate {rate})",
        "fingerprint": "Data fingerprint",
        "emp_parameters": "Profit model parameters",
        "emp_parameters_value": (
            "offer acceptance γ ~ Beta({alpha}, {beta}), offer cost {offer}, "
            "contact cost {contact}, customer value {clv}"
        ),
        "clv_per_customer": "per-customer lifetime value",
        "section_metrics": "The three models compared (hold-out snapshot)",
        "col_model": "Model",
        "metric_roc_auc": "ROC AUC",
        "metric_pr_auc": "PR AUC",
        "metric_top_decile_lift": "Top-decile lift",
        "metric_brier": "Brier score",
        "metric_emp": "Expected max. profit per customer",
        "metric_emp_share_contacted": "Profit-optimal share to contact",
        "metrics_note": (
            "Bold and shaded: the best model on that metric. Lower is better for the Brier score, "
            "higher for the others; the profit-optimal share follows from the profit model and "
            "is neither better nor worse."
        ),
        "model_default": "Default model",
        "model_naive_bayes": "Naive Bayes (baseline)",
        "model_logistic_regression": "Logistic regression (baseline)",
        "short_default": "default model",
        "short_naive_bayes": "naive Bayes",
        "short_logistic_regression": "logistic regression",
        "reading_auc_higher": (
            "the default model's ROC AUC is {diff} higher than the best baseline's ({baseline})"
        ),
        "reading_auc_lower": (
            "the default model's ROC AUC is {diff} lower than the best baseline's ({baseline})"
        ),
        "reading_auc_equal": "the default model's ROC AUC equals the best baseline's ({baseline})",
        "reading_emp_higher": (
            "its expected maximum profit per customer is {diff} higher than the best "
            "baseline's ({baseline})"
        ),
        "reading_emp_lower": (
            "its expected maximum profit per customer is {diff} lower than the best "
            "baseline's ({baseline})"
        ),
        "reading_emp_equal": (
            "its expected maximum profit per customer equals the best baseline's ({baseline})"
        ),
        "reading_none": (
            "the metrics needed to compare the default model with the baselines are missing"
        ),
        "clause_separator": "; ",
        "sentence_end": ".",
        "section_charts": "Charts",
        "chart_roc_title": "ROC curves",
        "chart_roc_note": (
            "The closer a curve runs to the top-left corner, the better the model ranks churners "
            "first; the diagonal is a random ranking."
        ),
        "chart_gain_title": "Cumulative gain",
        "chart_gain_note": (
            "Share of all churners reached when contacting a share of customers, riskiest first; "
            "the diagonal is random contact, the dashed line a perfect ranking."
        ),
        "chart_lift_title": "Lift by decile",
        "chart_lift_note": (
            "Each risk decile's churn rate over the overall churn rate; 1 is no better than random."
        ),
        "chart_calibration_title": "Calibration",
        "chart_calibration_note": (
            "Mean predicted probability against the observed churn rate per group; the closer to "
            "the diagonal, the more the probabilities can be taken at face value."
        ),
        "chart_calibration_note_log": (
            "Churn rates are low, so both axes are logarithmic; groups with no churner are drawn "
            "on the bottom edge."
        ),
        "chart_profit_title": "Expected profit (default model)",
        "chart_profit_note": (
            "Expected campaign profit per customer when contacting each share of customers, "
            "riskiest first (acceptance rate at its Beta mean); the vertical line marks the share "
            "that maximises expected profit (EMP)."
        ),
        "ax_fpr": "False positive rate",
        "ax_tpr": "True positive rate",
        "ax_share_contacted": "Share of customers contacted",
        "ax_gain": "Share of churners captured",
        "ax_decile": "Risk decile (1 = riskiest)",
        "ax_lift": "Lift",
        "ax_mean_predicted": "Mean predicted probability",
        "ax_observed": "Observed churn rate",
        "ax_profit": "Expected profit per customer",
        "legend_random": "Random",
        "legend_perfect": "Perfect",
        "legend_calibrated": "Perfectly calibrated",
        "legend_zero_observed": "No churner observed",
        "legend_profit": "Expected profit",
        "legend_emp_share": "EMP-optimal share {share}",
        "section_survival": "Survival model (remaining tenure)",
        "survival_concordance": "Concordance index (C-index)",
        "survival_rows": "Rows",
        "survival_churners": "Churners during the follow-up",
        "survival_snapshot": "Evaluation snapshot",
        "survival_follow_up": "Follow-up",
        "survival_mean_remaining": "Mean expected remaining tenure",
        "survival_covariates": "Covariates",
        "survival_horizon": "Remaining tenure horizon",
        "survival_col_window": "Window",
        "survival_col_predicted": "Mean predicted P(leave)",
        "survival_col_observed": "Observed share left",
        "survival_within": "within {n} months",
        "survival_note": "A concordance of 0.5 is a random ordering; the closer to 1, the better.",
        "section_lift": "Default model: lift by decile",
        "lift_group": "Group",
        "lift_customers": "Customers",
        "lift_churn_rate": "Churn rate",
        "lift_share": "Cumulative share contacted",
        "lift_gain": "Gain (cumulative)",
        "lift_lift": "Lift",
        "lift_cumulative": "Cumulative lift",
        "no_data": "no data",
        "features": "Model features ({n})",
        "footer": (
            "Generated by weiwan. This file is self-contained: it opens offline and prints as is."
        ),
    },
}
