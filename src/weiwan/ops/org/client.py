"""The client address of the request being served, for the audit trail.

Set once per HTTP request by ``web.middleware.ClientAddressMiddleware`` (from the ASGI scope,
which uvicorn's ``--proxy-headers`` fills from a trusted proxy's ``X-Forwarded-For``) and read
by :func:`weiwan.ops.org.service.audit`, so every audit row written while serving a request,
personal-data views and exports included, carries the address without each service passing
it. Work outside a request (CLI, pipeline) has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CLIENT_ADDRESS: ContextVar[str | None] = ContextVar("weiwan_client_address", default=None)
#: the ``ip`` column's width
MAX_ADDRESS = 45


def client_address() -> str | None:
    """The address of the client whose request is being served (``None`` outside one)."""
    return _CLIENT_ADDRESS.get()


@contextmanager
def serving_client(address: str | None) -> Iterator[None]:
    """Within this block, :func:`client_address` is ``address`` (cut to the column)."""
    token = _CLIENT_ADDRESS.set(address[:MAX_ADDRESS] if address else None)
    try:
        yield
    finally:
        _CLIENT_ADDRESS.reset(token)
