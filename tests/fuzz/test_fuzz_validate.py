"""Fuzz targets (issue #8 §5): ``validate_response`` and ``ServiceProvider.finish_login`` on mutations of
genuine signed Responses, and the Flask ACS through the test client.

Assertions: only fedlib's typed errors are raised (never a crash), and an accepted input proves exactly
what its seed proves: the same ``AuthnResult`` and the same signed content, as computed by signxml (an
independent verifier; see ``_fuzz.signed_content``). The bounded run is part of ``make test``; ``make
fuzz`` runs the same targets long (see ``_fuzz.budget``).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import cache
from typing import Any

from flask import Flask
from hypothesis import event, example, given
from hypothesis import strategies as st
from tests.fuzz._fuzz import (
    Mutation,
    as_xml_bytes,
    budget,
    encode,
    encodings,
    mutate,
    mutations,
    signed_content,
    typed_only,
)
from tests.support import World

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ResponseRejected, StoreError
from fedlib.integrations.flask import FedLib
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.protocol.models import AuthnResult
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP
from fedlib.validation.pipeline import validate_response

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ORIGINS = ("https://app.example.test",)


# ---- validate_response --------------------------------------------------------------------------------


@cache
def world() -> World:
    return World()


@cache
def seeds() -> tuple[tuple[bytes, AuthnResult, bytes], ...]:
    """Genuine Responses (Response signed; Response and Assertion signed; attributes with odd text), their
    result and their signed content."""
    w = world()
    out = []
    for kwargs in (
        {},
        {"sign_assertion": True},
        {"attributes": {"mail": ["a@example.com"], "g": ["x & y", "<z>", "\u00e9\u4e2d"]}},
    ):
        xml = w.mint(**kwargs)
        result = validate_response(xml, sp=w.sp, idp=w.idp, now=w.now, store=MemoryStore())
        out.append((xml, result, signed_content(xml, w.key.certificate)))
    return tuple(out)


@budget(3)
@given(seed=st.integers(0, 2), ops=mutations, how=encodings)
@example(seed=0, ops=[], how="b64")  # accepted as is: the oracle's comparison runs in every bounded run
@example(seed=1, ops=[Mutation("insert", 0, b"<!-- c -->\n")], how="b64-lines")
@example(seed=2, ops=[Mutation("insert", 16, b" ")], how="bytes")  # in the root tag: c14n-neutral
def test_validate_response_typed_errors_only_and_no_altered_accept(seed: int, ops: Any, how: str) -> None:
    w = world()
    xml, expected, expected_signed = seeds()[seed]
    message = encode(mutate(xml, ops), how)
    idp = _idp()
    outcome = typed_only(
        lambda: validate_response(message, sp=w.sp, idp=idp, now=w.now, store=MemoryStore()), ResponseRejected
    )
    event(type(outcome).__name__)
    if isinstance(outcome, AuthnResult):
        assert outcome == expected
        assert signed_content(as_xml_bytes(message), w.key.certificate) == expected_signed


@cache
def _idp() -> Any:
    return world().idp


# ---- ServiceProvider.finish_login ----------------------------------------------------------------------


@cache
def fuzz_idp() -> TestIdP:
    return TestIdP(clock=lambda: NOW)


def make_sp(store: Any = None, *, allow_unsolicited: bool = True) -> ServiceProvider:
    idp = fuzz_idp()
    entity, acs = "https://app.example.test/saml/metadata", "https://app.example.test/saml/acs"
    idp.register_sp(entity, acs)
    return ServiceProvider(
        SPConfig(entity_id=entity, acs_url=acs, policy=SecurityPolicy(allow_unsolicited=allow_unsolicited)),
        _idp_metadata(),
        store if store is not None else MemoryStore(),
        relay_state_origins=ORIGINS,
    )


@cache
def _idp_metadata() -> Any:
    return parse_idp_metadata(fuzz_idp().metadata_xml(), now=NOW)


junk_text = st.text(max_size=40) | st.sampled_from(
    ["", "https://[x", "https://a\u2100b/", "\ud800", "//evil.example", "/ok", "https://app.example.test/x"]
)
form_junk = st.dictionaries(st.sampled_from(["RelayState", "SigAlg", "Signature", "x", "SAMLRequest"]), junk_text)


@budget(1.5)
@given(
    solicited=st.booleans(),
    ops=mutations | st.just([]),
    how=encodings,
    extra=form_junk,
    replace=st.none() | junk_text,
)
def test_finish_login_typed_errors_only(
    solicited: bool, ops: Any, how: str, extra: dict[str, str], replace: str | None
) -> None:
    idp = fuzz_idp()
    sp = make_sp()
    if solicited:
        login = sp.start_login(relay_state="/back", now=NOW)
        assert login.url is not None
        form = dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields)
    else:
        form = dict(idp.initiate(sp.config.entity_id, sp.config.acs_url, now=NOW).fields)
    seed_xml = base64.b64decode(form["SAMLResponse"])
    form.update(extra)
    form["SAMLResponse"] = replace if replace is not None else encode(mutate(seed_xml, ops), how)  # type: ignore[assignment]
    outcome = typed_only(lambda: sp.finish_login(form, now=NOW), ResponseRejected)
    event(type(outcome).__name__)
    if isinstance(outcome, ResponseRejected):
        return
    cert = next(iter(_idp_metadata().trust.by_der.values())).certificate
    assert signed_content(as_xml_bytes(form["SAMLResponse"]), cert) == signed_content(seed_xml, cert)
    assert outcome.authn.name_id == "ada@example.org"
    if solicited:
        assert outcome.relay_state == "/back"
    else:
        relay = outcome.relay_state
        assert relay is None or relay == form.get("RelayState")
        assert relay is None or relay.startswith("/") or relay.lower().startswith(ORIGINS[0] + "/")


# ---- the Flask ACS -------------------------------------------------------------------------------------


@cache
def flask_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, service_provider=make_sp())
    return app


class _DownStore:
    def add(self, key: str, **kwargs: Any) -> bool:
        raise StoreError("store down")

    def consume(self, key: str, **kwargs: Any) -> str | None:
        raise StoreError("store down")

    def close(self) -> None:
        pass


@budget(1)
@given(
    ops=mutations | st.just([]),
    how=st.sampled_from(("b64", "b64-lines", "bytes-as-text", "b64-junk")),
    extra=form_junk,
    down=st.booleans(),
)
def test_flask_acs_never_a_5xx_for_client_input(ops: Any, how: str, extra: dict[str, str], down: bool) -> None:
    idp = fuzz_idp()
    sp = make_sp()
    form = dict(idp.initiate(sp.config.entity_id, sp.config.acs_url, now=NOW).fields)
    xml = mutate(base64.b64decode(form["SAMLResponse"]), ops)
    if how == "bytes-as-text":
        form["SAMLResponse"] = xml.decode("utf-8", errors="replace")
    else:
        encoded = encode(xml, how)
        form["SAMLResponse"] = encoded if isinstance(encoded, str) else encoded.decode("ascii")
    form.update({k: v.encode("utf-8", "replace").decode("utf-8") for k, v in extra.items()})
    app = flask_app() if not down else _down_app()
    response = app.test_client().post("/saml/acs", data=form)
    if down:
        assert response.status_code in (403, 503), response.status_code
    else:
        assert response.status_code in (303, 403), response.status_code
    if response.status_code == 303:
        location = response.headers["Location"]
        assert (location.startswith("/") and not location.startswith("//")) or location.startswith(ORIGINS[0] + "/")


@budget(1)
@given(
    path=st.sampled_from(("/saml/login", "/saml/logout", "/saml/metadata")),
    params=st.dictionaries(
        st.sampled_from(["next", "idp", "SAMLRequest", "SAMLResponse", "Signature", "SigAlg"]), junk_text
    ),
    raw=st.none() | st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
def test_flask_login_logout_never_a_5xx(path: str, params: dict[str, str], raw: str | None) -> None:
    client = flask_app().test_client()
    if raw is not None:  # a raw query string, not re-encoded: bad percent-encoding and all
        response = client.get(path + "?" + "".join(c if 0x20 < ord(c) < 0x7F else f"%{ord(c):02x}" for c in raw))
    else:
        response = client.get(path, query_string={k: v.encode("utf-8", "replace") for k, v in params.items()})
    assert response.status_code < 500, response.status_code
    location = response.headers.get("Location")
    if location is not None and path == "/saml/logout":
        assert (location.startswith("/") and not location.startswith("//")) or location.startswith(ORIGINS[0] + "/")


@cache
def _down_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-only"
    FedLib(app, service_provider=make_sp(_DownStore()))
    return app


# ---- a far-future instant (issue #8 §5: once an OverflowError) ----------------------------------------


def test_idp_signed_far_future_not_on_or_after_is_typed() -> None:
    w = World()
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    xml = w.mint(not_on_or_after=end, subject_not_on_or_after=end)
    typed_only(lambda: w.check(xml), ResponseRejected)
