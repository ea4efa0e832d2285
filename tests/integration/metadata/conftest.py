"""A real HTTP server on 127.0.0.1 (stdlib ThreadingHTTPServer, port 0) serving scripted answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    chunked: bool = False
    """Send the body with chunked transfer encoding (no Content-Length)."""
    content_length: int | None = None
    """Announce this Content-Length instead of the real one (the connection closes after the body)."""


@dataclass
class Script:
    """path -> Answer (or a callable computing one); every request is recorded."""

    routes: dict[str, Answer | Callable[[BaseHTTPRequestHandler], Answer]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def serve(
        self, path: str, body: bytes, *, etag: str | None = None, content_type: str = "application/samlmetadata+xml"
    ) -> None:
        self.routes[path] = Answer(200, body, {"Content-Type": content_type}, etag)


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.script.requests.append((self.path, {k: v for k, v in self.headers.items()}))
        route = self.script.routes.get(self.path)
        answer = route(self) if callable(route) else route
        if answer is None:
            answer = Answer(404, b"not found")
        if answer.etag is not None and self.headers.get("If-None-Match") == answer.etag:
            self.send_response(304)
            self.send_header("ETag", answer.etag)
            self.end_headers()
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.etag is not None:
            self.send_header("ETag", answer.etag)
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(answer.body), 4096):
                piece = answer.body[start : start + 4096]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(answer.content_length or len(answer.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)
        self.close_connection = True


@dataclass
class LocalServer:
    script: Script
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    script = Script()
    handler = type("Handler", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    local = LocalServer(script, server, thread)
    try:
        yield local
    finally:
        local.stop()
