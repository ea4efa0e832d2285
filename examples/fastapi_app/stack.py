"""The FastAPI demo stack: the example app under uvicorn on 127.0.0.1 and two bundled test IdPs on
``localhost`` (another site), a SQLite store in ``workdir``. Used by ``run.py`` and the browser tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from examples.fastapi_app.app import create_app
from examples.flask_app.stack import HOST, Stack, test_idps_and_sp


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
    idps, servers, sp = test_idps_and_sp(app_url, workdir / "fedlib.db")
    app = create_app(sp, idp_labels={idp.entity_id: label for label, idp in idps.items()})
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    return FastAPIStack(app_url=app_url, idps=idps, sp=sp, servers=servers, uvicorn_server=server)


__all__ = ["FastAPIStack", "build_stack"]
