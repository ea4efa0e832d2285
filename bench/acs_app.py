"""The two WSGI apps bench/acs_load.py runs under gunicorn (not for anything else).

* ``acs_app:example()``: the example Flask app (examples/flask_app/app.py) with fedlib's routes, its SP
  configured from the environment that bench/acs_load.py sets: ``FEDLIB_BENCH_ENTITY_ID``,
  ``FEDLIB_BENCH_ACS_URL``, ``FEDLIB_BENCH_IDP_METADATA`` (a file), ``FEDLIB_BENCH_STORE`` (a store URL:
  every worker opens it, so they share pending requests and replay entries) and ``FEDLIB_BENCH_SECRET_KEY``
  (the session key, the same in every worker, as a deployment has it);
* ``acs_app:bare()``: a Flask app whose ``POST /saml/acs`` reads the form and answers 200, nothing else:
  what the same server does for a POST without fedlib.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from examples.flask_app.app import create_app
from flask import Flask, request

from fedlib.config import SPConfig
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.url import open_store


def example() -> Flask:
    env = os.environ
    metadata = parse_idp_metadata(Path(env["FEDLIB_BENCH_IDP_METADATA"]).read_bytes(), now=datetime.now(UTC))
    sp = ServiceProvider(
        SPConfig(entity_id=env["FEDLIB_BENCH_ENTITY_ID"], acs_url=env["FEDLIB_BENCH_ACS_URL"]),
        metadata,
        open_store(env["FEDLIB_BENCH_STORE"]),
    )
    return create_app(sp, secret_key=env.get("FEDLIB_BENCH_SECRET_KEY"))


def bare() -> Flask:
    app = Flask(__name__)

    @app.post("/saml/acs")
    def acs() -> tuple[str, int]:
        return ("ok" if request.form.get("SAMLResponse") else "no form", 200)

    return app


__all__ = ["bare", "example"]
