"""The two WSGI apps bench/acs_load.py runs under gunicorn (not for anything else).

* ``acs_app:example()``: the example Flask app (examples/flask_app/app.py) with fedlib's routes, its SP
  configured from the environment that bench/acs_load.py sets: ``FEDLIB_BENCH_ENTITY_ID``,
  ``FEDLIB_BENCH_ACS_URL``, ``FEDLIB_BENCH_IDP_METADATA`` (a file), ``FEDLIB_BENCH_STORE`` (a store URL:
  every worker opens it, so they share pending requests and replay entries) and ``FEDLIB_BENCH_SECRET_KEY``
  (the session key, the same in every worker, as a deployment has it);
* ``acs_app:bare()``: a Flask app whose ``POST /saml/acs`` reads the form and answers 200, nothing else:
  what the same server does for a POST without fedlib;
* ``acs_app:example_floor()``: NOT a validator, a yardstick. The example app of ``example()`` whose
  ``finish_login`` does only the crypto and XML floor of bench/verify.py (base64, parse, the two
  canonicalisations, SHA-256, RSA verify: what any check of the Response signature costs) and the one
  store operation of a login (``consume_and_add`` of the pending request and a replay entry, on the same
  store), then returns the first login's result (a real ``finish_login`` of the first, warm-up, request) for
  every later one. What it serves is what the example app would serve if fedlib's validation cost no more
  than the floor: the ceiling of the ``acs-*/bare`` ratios on this machine (bench/acs_load.py prints both).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from examples.flask_app.app import create_app
from flask import Flask, request

from fedlib.config import SPConfig
from fedlib.errors import ErrorCode, reject
from fedlib.metadata.idp import IdPMetadata, parse_idp_metadata
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.stores.base import AtomicStore
from fedlib.stores.prefixed import base_and_prefix
from fedlib.stores.url import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))

import verify  # bench/verify.py: the floor

# Where ServiceProvider.start_login keeps a pending request (fedlib.sp's private key prefix): the floor
# consumes the very entry a real finish_login would.
_PENDING_PREFIX = "request:"
_REPLAY_TTL = timedelta(minutes=5)


def _bench_sp(sp_class: type[ServiceProvider] = ServiceProvider) -> tuple[ServiceProvider, IdPMetadata]:
    env = os.environ
    metadata = parse_idp_metadata(Path(env["FEDLIB_BENCH_IDP_METADATA"]).read_bytes(), now=datetime.now(UTC))
    sp = sp_class(
        SPConfig(entity_id=env["FEDLIB_BENCH_ENTITY_ID"], acs_url=env["FEDLIB_BENCH_ACS_URL"]),
        metadata,
        open_store(env["FEDLIB_BENCH_STORE"]),
    )
    return sp, metadata


def example() -> Flask:
    sp, _ = _bench_sp()
    return create_app(sp, secret_key=os.environ.get("FEDLIB_BENCH_SECRET_KEY"))


class _FloorSP(ServiceProvider):
    """The yardstick of ``example_floor`` (module docstring): accepts whatever the floor and the store let
    through and answers every login with the first one's result. Never use it for anything but measuring."""

    floor: verify.Validator | None = None
    first: LoginResult | None = None

    def finish_login(
        self,
        form: Mapping[str, str],
        *,
        browser_binding: str | Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> LoginResult:
        if self.first is None or self.floor is None:
            self.first = super().finish_login(form, browser_binding=browser_binding, now=now)
            return self.first
        self.floor(form.get("SAMLResponse") or "")
        # bench/acs_load.py's logins carry their request ID as the RelayState.
        request_id = form.get("RelayState") or ""
        current = datetime.now(UTC)
        base, prefix = base_and_prefix(self.store)
        atomic: AtomicStore = base  # type: ignore[assignment]  # every fedlib backend has consume_and_add
        stored, recorded = atomic.consume_and_add(
            prefix + _PENDING_PREFIX + request_id, "floor:" + request_id, expires_at=current + _REPLAY_TTL, now=current
        )
        if stored is None or not recorded:
            raise reject(ErrorCode.UNKNOWN_REQUEST, "no such pending login (the floor yardstick)")
        return self.first


def example_floor() -> Flask:
    sp, metadata = _bench_sp(_FloorSP)
    assert isinstance(sp, _FloorSP)
    sp.floor = verify.floor_validator(metadata.signing_certificates[0].public_bytes(Encoding.PEM))
    return create_app(sp, secret_key=os.environ.get("FEDLIB_BENCH_SECRET_KEY"))


def bare() -> Flask:
    app = Flask(__name__)

    @app.post("/saml/acs")
    def acs() -> tuple[str, int]:
        return ("ok" if request.form.get("SAMLResponse") else "no form", 200)

    return app


__all__ = ["bare", "example", "example_floor"]
