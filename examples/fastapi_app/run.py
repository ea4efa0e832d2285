"""Run the FastAPI example under uvicorn (127.0.0.1) against two bundled test IdPs (localhost; SQLite store).

Like examples/flask_app/run.py: a scripted browser first logs in (SP-initiated through the generic test
IdP; the Entra-default IdP, refused with a 403 and the code; a Response posted from another browser,
refused as login CSRF), then the app serves until Ctrl-C. ``--check`` exits after the self-check.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import uvicorn
from werkzeug.serving import make_server

from examples.fastapi_app.app import create_app
from examples.flask_app.run import self_check
from examples.flask_app.stack import HOST, IDP_HOST, Stack
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.url import open_store
from fedlib.testing.idp import TestIdP
from fedlib.testing.keys import default_key
from fedlib.testing.wsgi import TestIdPApp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="run the self-check and exit")
    parser.add_argument("--port", type=int, default=8000, help="port of the example app (default 8000; 0: any)")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the IdPs' request lines are noise here
    if args.port == 0:  # the SP's URLs need the port before uvicorn binds it
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            args.port = probe.getsockname()[1]
    app_url = f"http://{HOST}:{args.port}"
    entity_id, acs_url, slo_url = f"{app_url}/saml/metadata", f"{app_url}/saml/acs", f"{app_url}/saml/logout"
    sp_key = default_key("rsa", "sp")  # a TEST key
    idps: dict[str, TestIdP] = {}
    idp_servers = []
    for label, profile in (("Test IdP", None), ("Test IdP as Entra ID (defaults)", "entra")):
        server = make_server(IDP_HOST, 0, lambda e, s: [], threaded=True)
        base = f"http://{IDP_HOST}:{server.server_port}"
        idp = TestIdP(f"{base}/saml", base_url=base, profile=profile)
        idp.register_sp(entity_id, acs_url, [sp_key.certificate], slo_url=slo_url)
        server.app = TestIdPApp(idp)
        idps[label] = idp
        idp_servers.append(server)
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
    with tempfile.TemporaryDirectory(prefix="fedlib-fastapi-demo-") as tmp:
        sp = ServiceProvider(config, trusted, open_store(f"sqlite:///{Path(tmp) / 'fedlib.db'}"))
        app = create_app(sp, idp_labels={idp.entity_id: label for label, idp in idps.items()})
        server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=args.port, log_level="warning"))
        threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in idp_servers]
        threads.append(threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True))
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                if time.monotonic() > deadline or not threads[-1].is_alive():
                    print(f"uvicorn did not start on {app_url}", file=sys.stderr)
                    return 2
                time.sleep(0.05)
            print(f"fedlib FastAPI demo: {app_url} (uvicorn), store sqlite in {tmp}")
            print("self-check (a scripted browser):")
            ok = self_check(Stack(app_url=app_url, idps=idps, sp=sp))
            if args.check or not ok:
                return 0 if ok else 1
            print(f"\nOpen {app_url}/ in a browser. Ctrl-C stops.")
            try:
                threads[-1].join()
            except KeyboardInterrupt:
                print("\nstopped")
            return 0
        finally:
            server.should_exit = True
            for s in idp_servers:
                s.shutdown()
                s.server_close()
            threads[-1].join(timeout=5)


if __name__ == "__main__":
    raise SystemExit(main())
