"""The real flows behind the support matrix: fedlib's ``ServiceProvider`` against a ``TestIdP``.

SP-initiated: ``ServiceProvider.start_login`` (HTTP-Redirect) -> the IdP reads the AuthnRequest from the
URL -> answers with a Response -> ``ServiceProvider.finish_login`` from the same (simulated) browser: the
login's browser secret is passed back, as the Flask adapter's cookie does. IdP-initiated: the IdP starts ->
``finish_login``. The application's settings decide the SP's policy (IdP-initiated accepted or not).

``run_matrix(config, real_idps=True)`` also starts the real IdP products that rows name (``real =
"simplesamlphp"``) and can run here (:mod:`fedlib.testing.realidp`, on 127.0.0.1, stopped at the end),
and runs those rows' as-configured flows against them over HTTP (:class:`LoginClient` logs the first test
user in). A product that is missing or does not start leaves its rows to the vendor profile.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ResponseRejected
from fedlib.matrix.evaluate import ACCEPTED, IDP_REFUSED, FlowRunner, evaluate
from fedlib.matrix.model import Application, Cell, MatrixConfig, Protocol
from fedlib.metadata.idp import IdPMetadata, parse_idp_metadata
from fedlib.metadata.sp import render_sp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.behaviour import IdPBehaviour
from fedlib.testing.idp import IdPRefused, TestIdP
from fedlib.testing.profiles import VendorProfile
from fedlib.testing.realidp import USERS, LoginClient, RealIdP, RealIdPError, available_idps, start_idp

SP_ENTITY_ID = "https://app.example.test/saml/metadata"
ACS_URL = "https://app.example.test/saml/acs"
IDP_ENTITY_ID = "https://idp.example.test/saml"


def default_config() -> MatrixConfig:
    """The bundled matrix definition (``fedlib/matrix/default.toml``)."""
    with resources.as_file(resources.files("fedlib.matrix") / "default.toml") as path:
        return MatrixConfig.from_toml(path)


def _service_provider(app: Application, sp_settings: Mapping[str, bool], metadata: IdPMetadata) -> ServiceProvider:
    """The SP of one flow: the application's unsolicited policy and the fedlib-side settings for this IdP."""
    return ServiceProvider(
        SPConfig(
            entity_id=SP_ENTITY_ID,
            acs_url=ACS_URL,
            policy=SecurityPolicy(
                allow_unsolicited=app.idp_initiated,
                allow_in_response_to_on_unsolicited=sp_settings.get("allow_in_response_to_on_unsolicited", False),
            ),
        ),
        metadata,
        MemoryStore(),
    )


def _login(
    sp: ServiceProvider,
    app: Application,
    protocol: Protocol,
    *,
    sp_initiated: Callable[[str], Mapping[str, str]],
    idp_initiated: Callable[[], Mapping[str, str]],
    now: datetime,
) -> tuple[str, str, str | None]:
    """Drive one login through ``sp``: ``sp_initiated(redirect_url)`` / ``idp_initiated()`` play the IdP
    (and the browser) and return the form posted to the ACS. IdP-side refusals propagate to the caller."""
    browser: str | None = None  # the browser secret of an SP-initiated login (unsolicited: nothing to bind)
    try:
        if protocol is Protocol.SAML2_SP_INITIATED:
            if not app.sp_initiated:
                return "sp-initiated-not-used", "the application does not start logins", None
            login = sp.start_login(now=now)
            assert login.url is not None
            browser = login.browser_binding
            fields = sp_initiated(login.url)
        else:
            fields = idp_initiated()
        result = sp.finish_login(dict(fields), browser_binding=browser, now=now)
    except ResponseRejected as exc:
        return exc.code.value, exc.message, None
    return ACCEPTED, f"logged in {result.authn.name_id}", None


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
    sp = _service_provider(app, sp_settings, parse_idp_metadata(idp.metadata_xml(), now=now))
    try:
        return _login(
            sp,
            app,
            protocol,
            sp_initiated=lambda url: idp.respond(idp.receive_redirect(url), now=now).fields,
            idp_initiated=lambda: idp.initiate(SP_ENTITY_ID, ACS_URL, now=now).fields,
            now=now,
        )
    except IdPRefused as exc:
        return IDP_REFUSED, exc.message, exc.knob


def real_flow(idp: RealIdP) -> FlowRunner:
    """A runner of the as-configured flow against the running real ``idp`` (the behaviour is ignored: the
    product's configuration is its own)."""
    metadata = parse_idp_metadata(idp.metadata_xml(), now=datetime.now(UTC))

    def run(
        app: Application,
        protocol: Protocol,
        behaviour: IdPBehaviour,
        sp_settings: Mapping[str, bool] = MappingProxyType({}),
    ) -> tuple[str, str, str | None]:
        now = datetime.now(UTC)
        client = LoginClient()
        try:
            return _login(
                _service_provider(app, sp_settings, metadata),
                app,
                protocol,
                sp_initiated=lambda url: client.login(url, USERS[0]).fields,
                idp_initiated=lambda: client.idp_initiated(idp, SP_ENTITY_ID, USERS[0]).fields,
                now=now,
            )
        except RealIdPError as exc:
            return IDP_REFUSED, str(exc), None

    return run


def run_matrix(config: MatrixConfig, *, real_idps: bool = False) -> list[Cell]:
    """Evaluate every cell of ``config`` by running its flows; ``real_idps``: rows with a ``real`` product
    run against it where it can run here (see the module docstring), else against the vendor profile."""
    kinds = sorted({idp.real for idp in config.idps if idp.real}) if real_idps else []
    if not kinds:
        return evaluate(config, run_flow)
    available = available_idps()
    sp_metadata = render_sp_metadata(SPConfig(entity_id=SP_ENTITY_ID, acs_url=ACS_URL))
    with tempfile.TemporaryDirectory(prefix="fedlib-matrix-") as tmp, ExitStack() as running:
        real: dict[str, tuple[str, FlowRunner]] = {}
        for kind in kinds:
            if available.get(kind) is not None:  # type: ignore[call-overload]
                continue
            try:
                idp = start_idp(kind, Path(tmp) / kind, sp_metadata)  # type: ignore[arg-type]
            except RealIdPError:
                continue  # the vendor profile stands in
            running.callback(idp.stop)
            real[kind] = (idp.product, real_flow(idp))
        return evaluate(config, run_flow, real=real)


__all__ = ["ACS_URL", "IDP_ENTITY_ID", "SP_ENTITY_ID", "default_config", "real_flow", "run_flow", "run_matrix"]
