"""The live ledger of the limits the daily decisions and the real-time events share: policy
budgets, value caps, entry limits and the real-time share of channel capacity."""
