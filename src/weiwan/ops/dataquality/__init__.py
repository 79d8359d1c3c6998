"""Data-quality feedback (数据质量反馈): wrong data reported from contacts, for the sources."""
