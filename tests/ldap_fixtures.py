"""A real OpenLDAP server (Debian's ``slapd``, installed by ``make services`` when missing) in a
temp dir on free localhost ports (ldap:// with StartTLS, and ldaps:// with a certificate of a
throw-away CA made by ``openssl``): mdb backend, suffix ``dc=example,dc=cn``, the password-policy
overlay (so an account can be locked the way OpenLDAP does it), people under ``ou=people``,
groups (``groupOfNames``) under ``ou=groups`` and a service account that may search.

The tests run slapd as the unprivileged ``nobody`` when they run as root, like the PostgreSQL
server (a server the tests start never runs as root). One server per test module (``slapd``
fixture); the module runs whole on one xdist worker (tests/conftest.py groups by module). A
test module imports ``slapd_fixture`` and asks for ``slapd``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import ldap3
import pytest
from ldap3.core.exceptions import LDAPException

SLAPD = "/usr/sbin/slapd"
SCHEMA = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
SERVER_USER = "nobody"
SERVER_GROUP = "nogroup"

SUFFIX = "dc=example,dc=cn"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret-Ld4p"
SERVICE_DN = f"cn=weiwan,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "service-secret-Ld4p"
#: the default password policy (the overlay refuses the bind of a locked account)
POLICY_DN = f"cn=default,ou=policies,{SUFFIX}"
#: OpenLDAP's password policy: an account locked until an administrator unlocks it
LOCKED_FOR_GOOD = "000001010000Z"

CONFIG = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
modulepath {modules}
moduleload back_mdb
moduleload ppolicy
pidfile {root}/slapd.pid
argsfile {root}/slapd.args
TLSCACertificateFile {root}/ca.pem
TLSCertificateFile {root}/server.pem
TLSCertificateKeyFile {root}/server.key

database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {root}/data
overlay ppolicy
ppolicy_default "{policy_dn}"

access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"""


def group_dn(name: str) -> str:
    """The DN of the group ``name``."""
    return f"cn={name},{GROUPS}"


def person_dn(uid: str) -> str:
    """The DN of the person ``uid``."""
    return f"uid={uid},{PEOPLE}"


#: the server certificate's extensions (its address as the name the client checks)
SERVER_EXTENSIONS = """\
subjectAltName = IP:127.0.0.1
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def make_certificates(root: Path) -> None:
    """A throw-away CA (``ca.pem``) and a certificate for 127.0.0.1 it signed (``server.pem``,
    ``server.key``), valid for two days from now."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (root / "server.ext").write_text(SERVER_EXTENSIONS)
    for args in (
        ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=weiwan test CA", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"],
    ):  # fmt: skip
        subprocess.run(["openssl", *args], cwd=root, check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Slapd:
    """A throw-away slapd: start, stop, and the directory administrator's changes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        #: the same server over TLS from the first byte (its CA: ``ca_file``)
        self.ldaps_url = f"ldaps://127.0.0.1:{_free_port()}"
        self.ca_file = root / "ca.pem"
        self.process: subprocess.Popen[bytes] | None = None
        (root / "data").mkdir()
        make_certificates(root)
        (root / "slapd.conf").write_text(
            CONFIG.format(
                schema=SCHEMA,
                modules=MODULES,
                root=root,
                suffix=SUFFIX,
                root_dn=ROOT_DN,
                root_password=ROOT_PASSWORD,
                policy_dn=POLICY_DN,
            )
        )
        if os.geteuid() == 0:
            for path in (root, root / "data", root / "slapd.conf", root / "server.key"):
                shutil.chown(path, user=SERVER_USER, group=SERVER_GROUP)

    def start(self) -> None:
        """Start the server and wait until the administrator can bind."""
        as_root = os.geteuid() == 0
        log = (self.root / "slapd.log").open("ab")
        listen = f"{self.url}/ {self.ldaps_url}/"
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(self.root / "slapd.conf"), "-h", listen, "-d", "0"],
            stdout=log,
            stderr=log,
            user=SERVER_USER if as_root else None,
            group=SERVER_GROUP if as_root else None,
            extra_groups=[] if as_root else None,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass  # listening (ldap3 would leave the refused sockets to the collector)
                self.admin().unbind()
                return
            except (OSError, LDAPException):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    log_text = (self.root / "slapd.log").read_text(errors="replace")
                    pytest.fail(f"slapd did not start:\n{log_text[-2000:]}")
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (its data stays for the next start)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def admin(self) -> ldap3.Connection:
        """A connection bound as the directory's administrator (rootdn)."""
        server = ldap3.Server(self.url, connect_timeout=2)
        return ldap3.Connection(
            server, ROOT_DN, ROOT_PASSWORD, auto_bind=True, receive_timeout=5,
            raise_exceptions=True,
        )  # fmt: skip

    def _change(self, dn: str, changes: dict[str, list[tuple[str, list[str]]]]) -> None:
        conn = self.admin()
        try:
            conn.modify(dn, changes)
        finally:
            conn.unbind()

    def load_base(self) -> None:
        """The suffix, the people/groups/services/policies units, the service account and the
        default password policy."""
        conn = self.admin()
        try:
            conn.add(SUFFIX, ["top", "dcObject", "organization"], {"o": "Example", "dc": "example"})
            for unit in ("people", "groups", "services", "policies"):
                conn.add(f"ou={unit},{SUFFIX}", ["top", "organizationalUnit"], {"ou": unit})
            conn.add(
                SERVICE_DN,
                ["top", "person"],
                {"cn": "weiwan", "sn": "service", "userPassword": SERVICE_PASSWORD},
            )
            conn.add(
                POLICY_DN,
                ["top", "person", "pwdPolicy"],
                {
                    "cn": "default",
                    "sn": "policy",
                    "pwdAttribute": "userPassword",
                    "pwdLockout": "TRUE",
                },
            )
        finally:
            conn.unbind()

    def add_group(self, name: str) -> str:
        """A ``groupOfNames`` (the service account is its first member: one is required)."""
        dn = group_dn(name)
        conn = self.admin()
        try:
            conn.add(dn, ["top", "groupOfNames"], {"cn": name, "member": [SERVICE_DN]})
        finally:
            conn.unbind()
        return dn

    def add_person(
        self,
        uid: str,
        password: str,
        name: str,
        groups: Iterable[str] = (),
        *,
        employee_type: str | None = None,
    ) -> str:
        """An ``inetOrgPerson`` with a display name, a member of ``groups`` (names)."""
        dn = person_dn(uid)
        attributes: dict[str, object] = {
            "uid": uid,
            "cn": name,
            "sn": name.split()[-1],
            "displayName": name,
            "userPassword": password,
        }
        if employee_type is not None:
            attributes["employeeType"] = employee_type
        conn = self.admin()
        try:
            conn.add(dn, ["top", "person", "organizationalPerson", "inetOrgPerson"], attributes)
        finally:
            conn.unbind()
        for group in groups:
            self.join(uid, group)
        return dn

    def join(self, uid: str, group: str) -> None:
        """Add the person to the group."""
        self._change(group_dn(group), {"member": [(ldap3.MODIFY_ADD, [person_dn(uid)])]})

    def leave(self, uid: str, group: str) -> None:
        """Take the person out of the group."""
        self._change(group_dn(group), {"member": [(ldap3.MODIFY_DELETE, [person_dn(uid)])]})

    def lock(self, uid: str) -> None:
        """Lock the account for good, as OpenLDAP's password policy does."""
        self._change(
            person_dn(uid), {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCKED_FOR_GOOD])]}
        )

    def unlock(self, uid: str) -> None:
        """Lift the password policy's lock."""
        self._change(person_dn(uid), {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})

    def set_employee_type(self, uid: str, value: str) -> None:
        """Set ``employeeType`` (``disabled`` marks a disabled account by default)."""
        self._change(person_dn(uid), {"employeeType": [(ldap3.MODIFY_REPLACE, [value])]})


@pytest.fixture(scope="module", name="slapd")
def slapd_fixture() -> Iterator[Slapd]:
    """A running slapd with the base entries, for the module; stopped and removed after."""
    if not Path(SLAPD).exists():
        pytest.fail("slapd not found: `make services` installs Debian's slapd and ldap-utils")
    server = Slapd(Path(tempfile.mkdtemp(prefix="weiwan-slapd-")))
    try:
        server.start()
        server.load_base()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
