"""Operational domains (users, branches, tasks, ...) on the transactional database."""
