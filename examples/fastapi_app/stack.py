"""The FastAPI demo stack: the example app under uvicorn on 127.0.0.1 and two bundled test IdPs on
``localhost`` (another site), a SQLite store in ``workdir``. Used by ``run.py`` and the browser tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from werkzeug.serving import make_server

from examples.fastapi_app.app import create_app
from examples.flask_app.stack import HOST, IDP_HOST, Stack
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.url import open_store
from fedlib.testing.idp import TestIdP
from fedlib.testing.keys import default_key
from fedlib.testing.wsgi import TestIdPApp

IDP_PROFILES = (("Test IdP", None), ("Test IdP as Entra ID (defaults)", "entra"))


@dataclass
class FastAPIStack(Stack):
    """``Stack`` (same ``app_url``, ``idps``, ``sp``) whose app runs under uvicorn (``start()`` waits for it)."""

    uvicorn_server: uvicorn.Server | None = None

    def start(self, timeout: float = 10) -> None:
        super().start()  # the IdPs' WSGI servers
        server = self.uvicorn_server
        assert server is not None
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
        thread.start()
        self.threads.append(thread)
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                self.stop()
                raise RuntimeError(f"uvicorn did not start on {self.app_url}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.uvicorn_server is not None:
            self.uvicorn_server.should_exit = True
        super().stop()
        if self.threads:
            self.threads[-1].join(timeout=5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def build_stack(workdir: Path, *, app_port: int = 0) -> FastAPIStack:
    """Bind the IdPs on 127.0.0.1 (named ``localhost``), wire the SP (it signs: Single Logout with the IdPs)
    for the app on ``app_port`` (0: a free one); call ``start()``, then ``stop()``."""
    port = app_port or _free_port()  # the SP's URLs need the port before uvicorn binds it
    app_url = f"http://{HOST}:{port}"
    entity_id, acs_url, slo_url = f"{app_url}/saml/metadata", f"{app_url}/saml/acs", f"{app_url}/saml/logout"
    sp_key = default_key("rsa", "sp")  # a TEST key
    idps: dict[str, TestIdP] = {}
    servers = []
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
    sp = ServiceProvider(config, trusted, open_store(f"sqlite:///{workdir / 'fedlib.db'}"))
    app = create_app(sp, idp_labels={idp.entity_id: label for label, idp in idps.items()})
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    return FastAPIStack(app_url=app_url, idps=idps, sp=sp, servers=servers, uvicorn_server=server)


__all__ = ["FastAPIStack", "build_stack"]
