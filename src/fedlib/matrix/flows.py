"""The real flows behind the support matrix: fedlib's ``ServiceProvider`` against a ``TestIdP``.

SP-initiated: ``ServiceProvider.start_login`` (HTTP-Redirect) -> the IdP reads the AuthnRequest from the
URL -> answers with a Response -> ``ServiceProvider.finish_login`` from the same (simulated) browser: the
login's browser secret is passed back, as the Flask adapter's cookie does. IdP-initiated: the IdP starts ->
``finish_login``. The application's settings decide the SP's policy (IdP-initiated accepted or not).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from types import MappingProxyType

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ResponseRejected
from fedlib.matrix.evaluate import ACCEPTED, IDP_REFUSED, evaluate
from fedlib.matrix.model import Application, Cell, MatrixConfig, Protocol
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.behaviour import IdPBehaviour
from fedlib.testing.idp import IdPRefused, TestIdP
from fedlib.testing.profiles import VendorProfile

SP_ENTITY_ID = "https://app.example.test/saml/metadata"
ACS_URL = "https://app.example.test/saml/acs"
IDP_ENTITY_ID = "https://idp.example.test/saml"


def default_config() -> MatrixConfig:
    """The bundled matrix definition (``fedlib/matrix/default.toml``)."""
    with resources.as_file(resources.files("fedlib.matrix") / "default.toml") as path:
        return MatrixConfig.from_toml(path)


def run_flow(
    app: Application,
    protocol: Protocol,
    behaviour: IdPBehaviour,
    sp_settings: Mapping[str, bool] = MappingProxyType({}),
) -> tuple[str, str, str | None]:
    """Run one login flow; return (outcome, message, knob behind an IdP refusal).

    ``sp_settings``: fedlib-side ``SecurityPolicy`` switches for this IdP (``SP_SETTING_KEYS``)."""
    now = datetime.now(UTC).replace(microsecond=0)
    idp = TestIdP(IDP_ENTITY_ID, profile=VendorProfile(name="matrix", display_name="matrix", defaults=behaviour))
    sp = ServiceProvider(
        SPConfig(
            entity_id=SP_ENTITY_ID,
            acs_url=ACS_URL,
            policy=SecurityPolicy(
                allow_unsolicited=app.idp_initiated,
                allow_in_response_to_on_unsolicited=sp_settings.get("allow_in_response_to_on_unsolicited", False),
            ),
        ),
        parse_idp_metadata(idp.metadata_xml(), now=now),
        MemoryStore(),
    )
    browser: str | None = None  # the browser secret of an SP-initiated login (unsolicited: nothing to bind)
    try:
        if protocol is Protocol.SAML2_SP_INITIATED:
            if not app.sp_initiated:
                return "sp-initiated-not-used", "the application does not start logins", None
            login = sp.start_login(now=now)
            assert login.url is not None
            browser = login.browser_binding
            form = idp.respond(idp.receive_redirect(login.url), now=now)
        else:
            form = idp.initiate(SP_ENTITY_ID, ACS_URL, now=now)
        result = sp.finish_login(form.fields, browser_binding=browser, now=now)
    except IdPRefused as exc:
        return IDP_REFUSED, exc.message, exc.knob
    except ResponseRejected as exc:
        return exc.code.value, exc.message, None
    return ACCEPTED, f"logged in {result.authn.name_id}", None


def run_matrix(config: MatrixConfig) -> list[Cell]:
    """Evaluate every cell of ``config`` by running its flows."""
    return evaluate(config, run_flow)


__all__ = ["ACS_URL", "IDP_ENTITY_ID", "SP_ENTITY_ID", "default_config", "run_flow", "run_matrix"]
