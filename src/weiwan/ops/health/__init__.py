"""Health and readiness for load balancers and monitoring (``/healthz``, ``/readyz``)."""
