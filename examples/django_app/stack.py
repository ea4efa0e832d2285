"""The Django demo stack: the example project under Werkzeug's WSGI server on 127.0.0.1 and two bundled test
IdPs on ``localhost`` (another site); Django's and fedlib's SQLite in ``workdir``. Used by the browser tests
(``run.py`` sets up the same by hand).

Django's settings are process-wide: ``build_stack`` configures them from ``examples.django_app.settings``
(``DJANGO_SETTINGS_MODULE``) and refuses, with a RuntimeError, a process where other settings are already
configured."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from werkzeug.serving import make_server

from examples.django_app.run import ROLES
from examples.flask_app.stack import HOST, IDP_HOST, Stack
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.url import open_store
from fedlib.testing.idp import TestIdP
from fedlib.testing.keys import default_key
from fedlib.testing.wsgi import TestIdPApp

IDP_PROFILES = (("Test IdP", None), ("Test IdP as Entra ID (defaults)", "entra"))
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
    sp = ServiceProvider(config, trusted, open_store(f"sqlite:///{workdir / 'fedlib.db'}"), attribute_map=ROLES)
    site.reset()
    site.configure(service_provider=sp)
    urls.IDP_LABELS.clear()
    urls.IDP_LABELS.update({idp.entity_id: label for label, idp in idps.items()})
    servers.append(app_server)
    return Stack(app_url=app_url, idps=idps, sp=sp, servers=servers)


__all__ = ["build_stack"]
