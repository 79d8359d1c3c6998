"""The anomaly pool (异常库): billing and disconnection anomalies moved in by the daily run."""
