"""The operational figures monitoring scrapes (``/metrics``): today's work, from the database."""
