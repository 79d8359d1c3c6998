"""FastAPI app assembly: the REST API under /api/v1 and (later) the pages."""
