"""The demo stack: the example app and two test IdPs, each a real HTTP server on the loopback interface.

The app is addressed as ``http://127.0.0.1:<port>`` and the IdPs as ``http://localhost:<port>``: two
different sites, so the IdP's POST to the ACS is a genuine cross-site request, as in production, and the
login's browser-binding cookie must be ``SameSite=None; Secure`` to come along (browsers keep ``Secure``
cookies on plain http only for loopback hosts such as these; a real deployment uses https).

* "Test IdP": a well-configured generic IdP (Response signed, certificate in KeyInfo).
* "Test IdP as Entra ID (defaults)": signs only the assertion, as Entra ID does out of the box, so the app
  shows fedlib's 403 page with the code and the setting to change.

With ``real_idp="simplesamlphp"`` (or ``"pysaml2"``) a real IdP product joins them
(:mod:`fedlib.testing.realidp`: configured in ``workdir`` with this SP's metadata, on another free port of
localhost, labelled with its product name); ``stop()`` stops it by PID.

The SP maps the eduPerson attributes the real IdPs send (``urn:oid:`` names) with the ``eduperson`` preset
and grants roles from eduPersonEntitlement (:data:`ROLE_RULES`: ``...:entitlement:admin`` -> ``admin``,
``...:entitlement:reader`` -> ``reader``); the protected page shows them.

The SP uses the embedded SQLite store in ``workdir``. Used by ``run.py`` (``make demo``) and the browser tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from examples.flask_app.app import create_app
from fedlib.attributes import AttributeMap, RoleRule
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.metadata.sp import render_sp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.url import open_store
from fedlib.testing.idp import TestIdP
from fedlib.testing.keys import default_key
from fedlib.testing.realidp import Kind, RealIdP, start_idp
from fedlib.testing.wsgi import TestIdPApp

HOST = "127.0.0.1"
IDP_HOST = "localhost"  # another site than HOST (site = scheme + registrable host; the port does not count)
ENTITLEMENT = "urn:mace:example.org:entitlement:"
ROLE_RULES = (
    RoleRule("entitlements", frozenset({ENTITLEMENT + "admin"}), "admin"),
    RoleRule("entitlements", frozenset({ENTITLEMENT + "reader"}), "reader"),
)
"""eduPersonEntitlement values (mapped to ``entitlements`` by the ``eduperson`` preset) -> roles."""


class _Deferred:
    """A WSGI app set after the server is bound (the IdP needs its own URL, which needs the port)."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self.app is not None
        return self.app(environ, start_response)


def _serve(port: int = 0) -> tuple[BaseWSGIServer, _Deferred]:
    deferred = _Deferred()
    server = make_server(HOST, port, deferred, threaded=True)
    return server, deferred


@dataclass
class Stack:
    app_url: str
    idps: dict[str, TestIdP]
    sp: ServiceProvider
    servers: list[BaseWSGIServer] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    real_idp: RealIdP | None = None
    app: Flask | None = None

    def start(self) -> None:
        for server in self.servers:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        if self.real_idp is not None:
            self.real_idp.stop()


IDP_PROFILES: tuple[tuple[str, str | None], ...] = (("Test IdP", None), ("Test IdP as Entra ID (defaults)", "entra"))
"""The test IdPs of every example stack: (label on the home page, vendor profile)."""


def test_idps_and_sp(
    app_url: str, database: Path, **sp_options: Any
) -> tuple[dict[str, TestIdP], list[BaseWSGIServer], ServiceProvider]:
    """The test IdPs of the FastAPI and Django examples, bound on 127.0.0.1 and addressed as ``localhost``
    (another site than the app), and the app's signing SP (TEST key; Single Logout with the IdPs) trusting
    them, with its SQLite store at ``database``. ``sp_options`` go to ``ServiceProvider`` (e.g.
    ``attribute_map``). The servers are bound, not yet serving."""
    entity_id, acs_url, slo_url = f"{app_url}/saml/metadata", f"{app_url}/saml/acs", f"{app_url}/saml/logout"
    sp_key = default_key("rsa", "sp")  # a TEST key
    idps: dict[str, TestIdP] = {}
    servers: list[BaseWSGIServer] = []
    for label, profile in IDP_PROFILES:
        server = make_server(HOST, 0, lambda e, s: [], threaded=True)
        base = f"http://{IDP_HOST}:{server.server_port}"
        idp = TestIdP(f"{base}/saml", base_url=base, profile=profile)
        idp.register_sp(entity_id, acs_url, [sp_key.certificate], slo_url=slo_url)
        server.app = TestIdPApp(idp)
        idps[label] = idp
        servers.append(server)
    config = SPConfig(
        entity_id=entity_id,
        acs_url=acs_url,
        slo_url=slo_url,
        signing_key=sp_key.private_key,
        signing_certificates=(sp_key.certificate,),
        policy=SecurityPolicy(allow_unsolicited=True),
    )
    now = datetime.now(UTC)
    trusted = [parse_idp_metadata(idp.metadata_xml(), now=now) for idp in idps.values()]
    return idps, servers, ServiceProvider(config, trusted, open_store(f"sqlite:///{database}"), **sp_options)


def build_stack(workdir: Path, *, app_port: int = 0, real_idp: Kind | None = None) -> Stack:
    """Bind the three servers on 127.0.0.1 (free ports unless ``app_port``) and wire them; call ``start()``.
    The IdPs' URLs name them ``localhost``, so that they are another site than the app. ``real_idp``: also
    start that real IdP (already running on return; ``RealIdPError`` if it is missing or does not start)."""
    workdir.mkdir(parents=True, exist_ok=True)
    app_server, app_slot = _serve(app_port)
    app_url = f"http://{HOST}:{app_server.server_port}"
    entity_id, acs_url = f"{app_url}/saml/metadata", f"{app_url}/saml/acs"

    sp_key = default_key("rsa", "sp")  # a TEST key: signs the SP's AuthnRequests and logout messages
    servers = [app_server]
    idps: dict[str, TestIdP] = {}
    for label, profile in (("Test IdP", None), ("Test IdP as Entra ID (defaults)", "entra")):
        server, slot = _serve()
        base = f"http://{IDP_HOST}:{server.server_port}"
        idp = TestIdP(f"{base}/saml", base_url=base, profile=profile)
        idp.register_sp(entity_id, acs_url, [sp_key.certificate], slo_url=f"{app_url}/saml/logout")
        slot.app = TestIdPApp(idp)
        idps[label] = idp
        servers.append(server)

    now = datetime.now(UTC)
    config = SPConfig(
        entity_id=entity_id,
        acs_url=acs_url,
        slo_url=f"{app_url}/saml/logout",
        signing_key=sp_key.private_key,
        signing_certificates=(sp_key.certificate,),
        policy=SecurityPolicy(allow_unsolicited=True),
    )
    trusted = [parse_idp_metadata(idp.metadata_xml(), now=now) for idp in idps.values()]
    labels = {idp.entity_id: label for label, idp in idps.items()}
    real = None
    try:
        if real_idp is not None:
            real = start_idp(real_idp, workdir / real_idp, render_sp_metadata(config))
            trusted.append(parse_idp_metadata(real.metadata_xml(), now=now))
            labels[real.entity_id] = real.product
        store = open_store(f"sqlite:///{(workdir / 'fedlib.db').resolve()}")
        sp = ServiceProvider(config, trusted, store, attribute_map=AttributeMap.preset("eduperson", roles=ROLE_RULES))
    except BaseException:
        if real is not None:
            real.stop()
        for server in servers:
            server.server_close()
        raise
    app = app_slot.app = create_app(sp, idp_labels=labels)
    return Stack(app_url=app_url, idps=idps, sp=sp, servers=servers, real_idp=real, app=app)


__all__ = ["HOST", "IDP_HOST", "IDP_PROFILES", "ROLE_RULES", "Stack", "build_stack", "test_idps_and_sp"]
