"""Web layer: FastAPI app assembly, the REST API under /api/v1 and the HTML pages (htmx)."""
