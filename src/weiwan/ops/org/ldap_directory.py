"""Reading the operator's directory with ldap3: find a user, check their password, whether the
account is disabled, and their groups (docs/ldap.md).

Every user-supplied value put into a filter is escaped with ldap3's ``escape_filter_chars``
(a login name ``*`` or ``x)(uid=*`` matches nobody). Connections time out after the configured
seconds; anything but a clear answer (refused connection, timeout, TLS failure, a refused
service account, a server error) raises :class:`DirectoryUnavailableError`.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog
from ldap3 import ANONYMOUS, BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.core.results import (
    RESULT_BUSY,
    RESULT_NO_SUCH_OBJECT,
    RESULT_OTHER,
    RESULT_SIZE_LIMIT_EXCEEDED,
    RESULT_SUCCESS,
    RESULT_UNAVAILABLE,
)
from ldap3.utils.conv import escape_filter_chars

from weiwan.core.errors import WeiwanError
from weiwan.ops.org.directory_config import (
    DN_PLACEHOLDER,
    USERNAME_PLACEHOLDER,
    DirectoryConfig,
)

log = structlog.get_logger(__name__)

#: results of a search that are answers (no entry is an answer too)
_SEARCH_ANSWERS = frozenset({RESULT_SUCCESS, RESULT_NO_SUCH_OBJECT, RESULT_SIZE_LIMIT_EXCEEDED})
#: answers to a bind that say the server cannot answer now (any other refusal: wrong password,
#: or a refusal the directory does not explain, e.g. Active Directory's disabled account)
_BIND_UNAVAILABLE = frozenset({RESULT_BUSY, RESULT_UNAVAILABLE, RESULT_OTHER})
#: the most groups read for one user (a search answering more is cut by the server)
MAX_GROUPS = 1000


class DirectoryUnavailableError(WeiwanError):
    """The directory could not be asked (unreachable, timed out, TLS or service account
    refused, server error): directory accounts cannot log in now; local accounts can."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"the directory (LDAP) is not reachable: {problem}")


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user's entry: DN, login name as the directory spells it, display name, and the
    ``memberOf`` values (read only when groups come from ``memberOf``)."""

    dn: str
    username: str
    display_name: str
    member_of: tuple[str, ...]


def _server(config: DirectoryConfig) -> Server:
    tls = None
    if config.uses_tls:
        tls = Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=None if config.ca_file is None else str(config.ca_file),
            sni=urlsplit(config.url).hostname,  # a server with several names picks its own
        )
    return Server(
        config.url,
        use_ssl=config.url.lower().startswith("ldaps://"),
        tls=tls,
        connect_timeout=config.timeout,
        get_info=NONE,
    )


def _problem(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def _connection(
    config: DirectoryConfig, dn: str | None, password: str | None
) -> Iterator[Connection]:
    """An open (StartTLS when configured), not yet bound connection; unbound at the end."""
    conn = Connection(
        _server(config),
        user=dn,
        password=password,
        authentication=SIMPLE if dn is not None else ANONYMOUS,
        receive_timeout=config.timeout,
        read_only=True,
        raise_exceptions=False,
    )
    try:
        conn.open()
        if config.start_tls and not conn.start_tls():
            raise DirectoryUnavailableError(f"StartTLS refused: {conn.result.get('description')}")
        yield conn
    except (LDAPException, OSError) as exc:
        raise DirectoryUnavailableError(_problem(exc)) from exc
    finally:
        with suppress(LDAPException, OSError):
            conn.unbind()
        if not conn.closed:  # the unbind could not be sent (e.g. a failed TLS handshake)
            with suppress(LDAPException, OSError):
                conn.strategy.close()
        if conn.socket is not None:  # ldap3 leaves a refused connection's socket open
            with suppress(OSError):
                conn.socket.close()


@contextmanager
def service_connection(config: DirectoryConfig) -> Iterator[Connection]:
    """A connection bound as the service account (anonymous without one)."""
    with _connection(config, config.bind_dn, config.bind_password) as conn:
        if config.bind_dn is not None and not conn.bind():
            log.error("ldap.service_bind_refused", result=conn.result.get("description"))
            raise DirectoryUnavailableError(
                f"the service account was refused: {conn.result.get('description')}"
            )
        yield conn


def _search(
    conn: Connection,
    base: str,
    search_filter: str,
    scope: str,
    attributes: list[str],
    size_limit: int = 0,
) -> list[dict[str, object]]:
    """The entries found (referrals left out); an error answer raises."""
    conn.search(base, search_filter, scope, attributes=attributes, size_limit=size_limit)
    code = conn.result.get("result")
    if code not in _SEARCH_ANSWERS:
        raise DirectoryUnavailableError(f"search refused: {conn.result.get('description')}")
    return [r for r in conn.response or [] if r.get("type") == "searchResEntry"]


def _first(entry: dict[str, object], attribute: str) -> str | None:
    """The entry's first value of ``attribute``, stripped; ``None`` when missing or blank."""
    attributes = entry.get("attributes")
    if not isinstance(attributes, Mapping):
        return None
    value = attributes.get(attribute)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    return str(value).strip() or None


def find_users(conn: Connection, config: DirectoryConfig, username: str) -> list[DirectoryUser]:
    """The entries whose login name is ``username`` (escaped into the user filter); at most
    two are read (more than one is ambiguous either way)."""
    search_filter = config.user_filter.replace(USERNAME_PLACEHOLDER, escape_filter_chars(username))
    attributes = [config.username_attribute, config.name_attribute, "cn"]
    if config.groups_from == "memberof":
        attributes.append("memberOf")
    found = []
    for entry in _search(conn, config.user_base, search_filter, SUBTREE, attributes, 2):
        values = entry.get("attributes")
        member_of = values.get("memberOf", []) if isinstance(values, Mapping) else []
        found.append(
            DirectoryUser(
                dn=str(entry["dn"]),
                username=_first(entry, config.username_attribute) or username,
                display_name=_first(entry, config.name_attribute)
                or _first(entry, "cn")
                or username,
                member_of=tuple(str(g) for g in member_of or []),
            )
        )
    return found


def is_disabled(conn: Connection, config: DirectoryConfig, dn: str) -> bool:
    """Whether the entry ``dn`` matches the disabled filter (read on the entry itself)."""
    return bool(_search(conn, dn, config.disabled_filter, BASE, []))


def groups_of(conn: Connection, config: DirectoryConfig, user: DirectoryUser) -> tuple[str, ...]:
    """The DNs of the user's groups: ``memberOf``, or the groups whose filter names the DN."""
    if config.groups_from == "memberof":
        return user.member_of
    search_filter = config.group_filter.replace(DN_PLACEHOLDER, escape_filter_chars(user.dn))
    entries = _search(conn, config.group_base, search_filter, SUBTREE, [], MAX_GROUPS)
    return tuple(str(entry["dn"]) for entry in entries)


def password_is_right(config: DirectoryConfig, dn: str, password: str) -> bool:
    """Whether the directory accepts ``password`` for ``dn`` (a simple bind of its own). An
    empty password is never right: LDAP would take it for an anonymous bind."""
    if not password:
        return False
    with _connection(config, dn, password) as conn:
        if conn.bind():
            return True
        if conn.result.get("result") in _BIND_UNAVAILABLE:
            raise DirectoryUnavailableError(f"bind failed: {conn.result.get('description')}")
        return False
