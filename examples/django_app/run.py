"""Run the Django example (127.0.0.1, a WSGI server) against two bundled test IdPs (localhost; SQLite).

Like examples/flask_app/run.py: a scripted browser first logs in (SP-initiated through the generic test
IdP, landing on the protected page with the Django user and its groups; the Entra-default IdP, refused with
a 403 and the code; a Response posted from another browser, refused as login CSRF), then the app serves
until Ctrl-C. ``--check`` exits after the self-check.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from werkzeug.serving import make_server

from examples.flask_app.run import self_check
from examples.flask_app.stack import HOST, Stack, test_idps_and_sp
from fedlib.attributes import AttributeMap

ROLES = AttributeMap.from_dict(
    {
        "roles": [
            {"attribute": "groups", "values": ["admins"], "role": "admin"},
            {"attribute": "groups", "values": ["staff"], "role": "staff"},
        ],
        "keep_unmapped": True,
    }
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="run the self-check and exit")
    parser.add_argument("--port", type=int, default=8000, help="port of the example app (default 8000; 0: any)")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
    with tempfile.TemporaryDirectory(prefix="fedlib-django-demo-") as tmp:
        os.environ["FEDLIB_DEMO_DIR"] = tmp  # the SQLite database of Django (users, groups, sessions)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
        import django
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        try:
            app_server = make_server(HOST, args.port, WSGIHandler(), threaded=True)
        except OSError as exc:
            print(f"cannot listen on {HOST}:{args.port} ({exc.strerror}); try --port 0", file=sys.stderr)
            return 2
        app_url = f"http://{HOST}:{app_server.server_port}"
        idps, servers, sp = test_idps_and_sp(app_url, Path(tmp) / "fedlib.db", attribute_map=ROLES)

        from examples.django_app import urls
        from fedlib.integrations.django.site import site

        site.configure(service_provider=sp)
        urls.IDP_LABELS.update({idp.entity_id: label for label, idp in idps.items()})
        servers.append(app_server)
        threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
        for thread in threads:
            thread.start()
        try:
            print(f"fedlib Django demo: {app_url} (WSGI), Django and fedlib SQLite in {tmp}")
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
            for s in servers:
                s.shutdown()
                s.server_close()


if __name__ == "__main__":
    raise SystemExit(main())
