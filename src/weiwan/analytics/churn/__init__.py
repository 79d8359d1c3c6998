"""Churn models: survival (expected remaining tenure) and customer lifetime value."""
