"""The Starlette app bench/starlette_threadpool.py serves under uvicorn (127.0.0.1 only).

``FEDLIB_BENCH_METADATA``: a file with the test IdP's metadata (written by the driver);
``FEDLIB_BENCH_THREADPOOL``: ``1`` (fedlib's default: the core runs in Starlette's threadpool) or ``0`` (on the
event loop). ``GET /ping`` is a trivial endpoint whose latency under ACS load shows whether the loop stalls.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.integrations.starlette import FedLibRouter
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore

SP_ID = "https://sp.bench.test/saml/metadata"
ACS = "https://sp.bench.test/saml/acs"


def ping(request: Request) -> PlainTextResponse:
    return PlainTextResponse("pong")


def build() -> Starlette:
    metadata = parse_idp_metadata(Path(os.environ["FEDLIB_BENCH_METADATA"]).read_bytes(), now=datetime.now(UTC))
    config = SPConfig(entity_id=SP_ID, acs_url=ACS, policy=SecurityPolicy(allow_unsolicited=True))
    sp = ServiceProvider(config, metadata, MemoryStore())
    router = FedLibRouter(service_provider=sp, threadpool=os.environ.get("FEDLIB_BENCH_THREADPOOL", "1") == "1")
    middleware = [Middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32))]
    return Starlette(routes=[Route("/ping", ping), Mount("/saml", app=router)], middleware=middleware)


app = build() if "FEDLIB_BENCH_METADATA" in os.environ else None
