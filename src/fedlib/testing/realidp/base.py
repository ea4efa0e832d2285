"""What both real IdPs share: the users, the process handling (start, readiness, stop by PID)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import BinaryIO, Literal

LOOPBACK = "127.0.0.1"
IDP_HOST = "localhost"
"""The name the IdP is addressed by: another site than an app on 127.0.0.1, same loopback interface."""
START_TIMEOUT = 20.0
START_ATTEMPTS = 3

AC_PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"  # noqa: S105
AC_MFA = "https://refeds.org/profile/mfa"

EDUPERSON_OIDS: Mapping[str, str] = MappingProxyType(
    {
        "eduPersonPrincipalName": "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
        "mail": "urn:oid:0.9.2342.19200300.100.1.3",
        "displayName": "urn:oid:2.16.840.1.113730.3.1.241",
        "eduPersonAffiliation": "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
        "eduPersonEntitlement": "urn:oid:1.3.6.1.4.1.5923.1.1.1.7",
    }
)
"""The attributes the IdPs release (friendly name -> the ``urn:oid:`` Name they are sent under)."""

Kind = Literal["simplesamlphp", "pysaml2"]
KINDS: tuple[Kind, ...] = ("simplesamlphp", "pysaml2")


@dataclass(frozen=True, slots=True, kw_only=True)
class IdPUser:
    """A user of the real IdPs: password login, eduPerson attributes, the AuthnContextClassRef it gets."""

    username: str
    password: str
    attributes: Mapping[str, tuple[str, ...]]
    """Friendly names (keys of :data:`EDUPERSON_OIDS`) -> values."""
    authn_context: str
    """The AuthnContextClassRef the IdP puts in this user's assertions (per user, not per SP)."""


USERS: tuple[IdPUser, ...] = (
    IdPUser(
        username="ada",
        password="ada-pass",  # noqa: S106 - a throw-away test password
        attributes=MappingProxyType(
            {
                "eduPersonPrincipalName": ("ada@example.org",),
                "mail": ("ada@example.org",),
                "displayName": ("Ada Lovelace",),
                "eduPersonAffiliation": ("member", "staff"),
                "eduPersonEntitlement": ("urn:mace:example.org:entitlement:admin",),
            }
        ),
        authn_context=AC_MFA,
    ),
    IdPUser(
        username="grace",
        password="grace-pass",  # noqa: S106 - a throw-away test password
        attributes=MappingProxyType(
            {
                "eduPersonPrincipalName": ("grace@example.org",),
                "mail": ("grace@example.org",),
                "displayName": ("Grace Hopper",),
                "eduPersonAffiliation": ("member", "student"),
                "eduPersonEntitlement": ("urn:mace:example.org:entitlement:reader",),
            }
        ),
        authn_context=AC_PASSWORD_PROTECTED_TRANSPORT,
    ),
)
"""``ada`` logs in with MFA and is an admin; ``grace`` with a password only and is a reader."""


class RealIdPError(RuntimeError):
    """The IdP product is missing, did not start, or does not log in."""


class _PortTaken(Exception):
    """The server exited at once because its port was taken meanwhile."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: have the kernel send SIGTERM to the server if its parent dies without cleaning up."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RealIdP(ABC):
    """One IdP server process on 127.0.0.1, configured in ``workdir`` for one SP (its metadata XML)."""

    kind: Kind
    users: tuple[IdPUser, ...] = USERS

    def __init__(self, workdir: Path, sp_metadata: bytes) -> None:
        self.workdir = workdir
        self.sp_metadata = sp_metadata
        self.port = free_port()
        self.base_url = f"http://{IDP_HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "server.log"
        self._log: BinaryIO | None = None

    # ---- what each product defines ----------------------------------------------------------------

    @property
    @abstractmethod
    def product(self) -> str:
        """Product and version, e.g. ``SimpleSAMLphp 1.19.7`` (what the test output names)."""

    @property
    @abstractmethod
    def entity_id(self) -> str: ...

    @property
    @abstractmethod
    def metadata_url(self) -> str: ...

    @abstractmethod
    def idp_initiated_url(self, sp_entity_id: str) -> str:
        """The URL a browser opens to start an IdP-initiated login to ``sp_entity_id``."""

    @property
    @abstractmethod
    def slo_url(self) -> str:
        """The IdP's SingleLogoutService (HTTP-Redirect)."""

    @property
    @abstractmethod
    def logout_url(self) -> str:
        """The URL a browser opens to log out at the IdP (IdP-initiated Single Logout: the IdP sends a
        signed LogoutRequest to each SP of the session, HTTP-Redirect)."""

    @property
    @abstractmethod
    def logged_out_url(self) -> str:
        """Where the browser lands after :attr:`logout_url` once the IdP accepted the SP's LogoutResponse
        (a verified signature by the SP, status Success); a refused one stays on the IdP's SLO endpoint."""

    @abstractmethod
    def _configure(self) -> None:
        """Write the configuration into ``workdir``."""

    @abstractmethod
    def _command(self) -> tuple[list[str], Mapping[str, str]]:
        """The server's argv and extra environment."""

    # ---- process ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metadata_xml(self) -> bytes:
        """The IdP's own metadata, as it serves it."""
        from urllib.request import urlopen

        with urlopen(self.metadata_url, timeout=10) as response:  # noqa: S310 - http://localhost only
            return bytes(response.read())

    def start(self) -> None:
        """Configure, start, and wait until a real IdP-initiated login produces a SAMLResponse. A port
        taken between picking it and binding it (``php -S`` then exits at once) is retried on another."""
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(START_ATTEMPTS):
            if attempt:
                self.port = free_port()
                self.base_url = f"http://{IDP_HOST}:{self.port}"
            self._configure()
            try:
                self._launch()
            except _PortTaken:
                continue
            except BaseException:
                self.stop()
                raise
            return
        raise RealIdPError(f"{self.product}: no free port after {START_ATTEMPTS} attempts")

    def _launch(self) -> None:
        argv, extra_env = self._command()
        log = self._log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        start_of_log = log.tell()
        self.proc = subprocess.Popen(
            argv,
            cwd=self.workdir,
            env={**os.environ, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # only prctl, no locks taken
        )
        try:
            self._wait_ready()
        except RealIdPError:
            exited = self.proc is not None and self.proc.poll() is not None
            self.stop()
            if exited and "in use" in self._log_tail(start_of_log):
                raise _PortTaken from None
            raise

    def _wait_ready(self) -> None:
        from fedlib.testing.realidp.client import LoginClient

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RealIdPError(f"{self.product} exited with {self.proc.returncode}: {self._log_tail()}")
            if self._serves_own_metadata():
                break
            if time.monotonic() > deadline:
                raise RealIdPError(f"{self.product} did not serve its metadata on port {self.port}")
            time.sleep(0.05)
        # Metadata answering proves little (SimpleSAMLphp serves it with broken session cookies too): the
        # server is ready once a whole IdP-initiated login has produced a SAMLResponse for the SP.
        entity_id = _sp_entity_id(self.sp_metadata)
        try:
            form = LoginClient().idp_initiated(self, entity_id, self.users[0])
        except RealIdPError as exc:
            raise RealIdPError(f"{self.product} does not log in: {exc}; {self._log_tail()}") from None
        if "SAMLResponse" not in form.fields:
            raise RealIdPError(f"{self.product} login produced no SAMLResponse: {self._log_tail()}")

    def _serves_own_metadata(self) -> bool:
        """Whether our server (not whatever else took the port) answers with this IdP's metadata."""
        from urllib.request import urlopen

        try:
            with urlopen(self.metadata_url, timeout=1) as response:  # noqa: S310 - http://localhost only
                return self.entity_id.encode() in response.read()
        except (OSError, ValueError):
            return False

    def _log_tail(self, start: int = 0) -> str:
        try:
            return self.log_path.read_bytes()[start:][-2000:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> RealIdP:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _sp_entity_id(sp_metadata: bytes) -> str:
    from lxml import etree

    root = etree.fromstring(sp_metadata, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    entity_id = root.get("entityID")
    if not entity_id:
        raise RealIdPError("the SP metadata has no entityID")
    return entity_id


def available_idps() -> dict[Kind, str | None]:
    """Each real IdP kind -> ``None`` if it can run here, else why not."""
    from fedlib.testing.realidp.pysaml2_idp import missing as pysaml2_missing
    from fedlib.testing.realidp.simplesamlphp import missing as ssp_missing

    return {"simplesamlphp": ssp_missing(), "pysaml2": pysaml2_missing()}


def start_idp(kind: Kind, workdir: Path, sp_metadata: bytes) -> RealIdP:
    """Start the IdP of ``kind`` (``RealIdPError`` if it is missing or does not start); stop it with
    ``stop()`` or use the return value as a context manager (it is already started)."""
    idp: RealIdP
    if kind == "simplesamlphp":
        from fedlib.testing.realidp.simplesamlphp import SimpleSAMLphpIdP

        idp = SimpleSAMLphpIdP(workdir, sp_metadata)
    elif kind == "pysaml2":
        from fedlib.testing.realidp.pysaml2_idp import PySAML2IdP

        idp = PySAML2IdP(workdir, sp_metadata)
    else:
        raise ValueError(f"unknown IdP kind {kind!r}; expected one of {KINDS}")
    why = available_idps()[kind]
    if why is not None:
        raise RealIdPError(f"{kind} is missing: {why}")
    idp.start()
    return idp


__all__ = [
    "AC_MFA",
    "AC_PASSWORD_PROTECTED_TRANSPORT",
    "EDUPERSON_OIDS",
    "IDP_HOST",
    "KINDS",
    "USERS",
    "IdPUser",
    "Kind",
    "RealIdP",
    "RealIdPError",
    "available_idps",
    "free_port",
    "start_idp",
]
