"""SQL text of the PostgreSQL recording path (read with importlib.resources)."""
