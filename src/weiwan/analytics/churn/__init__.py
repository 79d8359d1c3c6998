"""Churn models: training, evaluation and its report, registry, reasons, drift, survival and CLV."""
