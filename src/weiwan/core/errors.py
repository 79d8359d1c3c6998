"""Errors a user can act on: each names the file, row and field where it can."""

from __future__ import annotations


class WeiwanError(Exception):
    """Base class for errors shown to users without a traceback."""


class ContractError(WeiwanError):
    """An extract does not meet the data contract as a whole (missing column, bad file)."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None):
        self.file = file
        self.column = column
        where = ", ".join(
            p for p in (f"file {file}" if file else "", f"column {column}" if column else "") if p
        )
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(WeiwanError):
    """A configuration file (mapping, rules, tags) is invalid; names the file and entry."""


class NotFoundError(WeiwanError):
    """The thing asked for does not exist, or is outside the caller's data scope (the two are
    answered alike so ids cannot be probed)."""


class PermissionDeniedError(WeiwanError):
    """The caller's role may not do this."""


class ConflictError(WeiwanError):
    """The request conflicts with the current state (already accepted, wrong campaign state)."""


class InvalidRequestError(WeiwanError):
    """A request that is well-formed but cannot be carried out; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)
