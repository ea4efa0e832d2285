"""The Django demo stack: the example project under Werkzeug's WSGI server on 127.0.0.1 and two bundled test
IdPs on ``localhost`` (another site); Django's and fedlib's SQLite in ``workdir``. Used by the browser tests
(``run.py`` sets up the same by hand).

Django's settings are process-wide: ``build_stack`` configures them from ``examples.django_app.settings``
(``DJANGO_SETTINGS_MODULE``) and refuses, with a RuntimeError, a process where other settings are already
configured."""

from __future__ import annotations

import os
from pathlib import Path

from werkzeug.serving import make_server

from examples.django_app.run import ROLES
from examples.flask_app.stack import HOST, Stack, test_idps_and_sp

SETTINGS_MODULE = "examples.django_app.settings"


def _setup_django(workdir: Path) -> None:
    from django.conf import settings

    if settings.configured:
        if os.environ.get("DJANGO_SETTINGS_MODULE") != SETTINGS_MODULE:
            raise RuntimeError("Django is already configured with other settings in this process")
    else:
        os.environ["FEDLIB_DEMO_DIR"] = str(workdir)  # read by the settings module: Django's SQLite there
        os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def build_stack(workdir: Path) -> Stack:
    """Configure Django, bind the app (127.0.0.1) and the IdPs (127.0.0.1, named ``localhost``), wire the SP
    (it signs: Single Logout with the IdPs) into fedlib's Django site; call ``start()``, then ``stop()``."""
    _setup_django(workdir)
    from django.core.handlers.wsgi import WSGIHandler

    from examples.django_app import urls
    from fedlib.integrations.django.site import site

    app_server = make_server(HOST, 0, WSGIHandler(), threaded=True)
    app_url = f"http://{HOST}:{app_server.server_port}"
    idps, servers, sp = test_idps_and_sp(app_url, workdir / "fedlib.db", attribute_map=ROLES)
    site.reset()
    site.configure(service_provider=sp)
    urls.IDP_LABELS.clear()
    urls.IDP_LABELS.update({idp.entity_id: label for label, idp in idps.items()})
    servers.append(app_server)
    return Stack(app_url=app_url, idps=idps, sp=sp, servers=servers)


__all__ = ["build_stack"]
