"""fedlib.web without any framework: plain WebRequest values and a dict as the session."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedlib.errors import ErrorCode, StoreError, XMLRejected
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.testing.idp import TestIdP
from fedlib.web import (
    CSRF_FIELD,
    CSRF_SESSION_KEY,
    MAX_FORM_FIELDS,
    PRINCIPAL_SESSION_KEY,
    SESSION_KEY,
    LogoutEvent,
    SamlRoutes,
    WebRequest,
    begin_session,
    csrf_token,
    logout_form_html,
    principal_digest,
    session_identity,
    too_many_form_fields,
)

ROUTES = SamlRoutes()


def no_hook(value: Any) -> None:
    raise AssertionError("no hook may run")


def test_login_then_acs(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    started = ROUTES.login(WebRequest("GET", "/saml/login", query={"next": "/x"}), saml_sp)
    assert started.status == 302
    assert started.location is not None
    (cookie,) = started.cookies
    assert cookie.max_age > 0
    assert cookie.same_site == "None"
    form = saml_idp.respond(saml_idp.receive_redirect(started.location))
    seen: list[LoginResult] = []
    done = ROUTES.acs(
        WebRequest("POST", "/saml/acs", form=dict(form.fields), cookies={cookie.name: cookie.value}),
        saml_sp,
        seen.append,
    )
    assert (done.status, done.location) == (303, "/x")
    assert [c.max_age for c in done.cookies] == [0]
    assert seen[0].authn.name_id == "ada@example.org"


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(max_size=20).filter(lambda k: k != "SAMLResponse"), st.text(max_size=50)))
def test_acs_without_saml_response_is_a_400(form: dict[str, str]) -> None:
    # No SP call at all: a ServiceProvider stand-in that fails if touched.
    outcome = ROUTES.acs(WebRequest("POST", "/saml/acs", form=form), object(), no_hook)  # type: ignore[arg-type]
    assert outcome.status == 400


def test_error_outcomes_are_never_5xx_but_for_a_store_outage() -> None:
    rejected = ROUTES.error_outcome(XMLRejected(ErrorCode.MALFORMED_XML, "bad"))
    assert rejected.status == 403
    assert "<code id='error-code'>malformed-xml</code>" in str(rejected.body)
    assert ROUTES.error_outcome(StoreError("down")).status == 503
    assert ROUTES.error_outcome(RuntimeError("bug")).status == 400


# The SP is only read before the CSRF check (never its store), so sharing the fixture across inputs is safe.
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(given_token=st.text(max_size=60), origin=st.none() | st.text(max_size=40))
def test_local_logout_needs_the_sessions_token(saml_sp: ServiceProvider, given_token: str, origin: str | None) -> None:
    session: dict[str, Any] = {SESSION_KEY: {"name_id": "ada"}}
    token = csrf_token(session)
    events: list[LogoutEvent] = []
    request = WebRequest("POST", "/saml/logout", form={CSRF_FIELD: given_token}, origin=origin, host_url="https://x/")
    outcome = ROUTES.logout(request, saml_sp, session, events.append, logout_action="/saml/logout")
    if given_token != token:
        assert outcome.status == 403
        assert SESSION_KEY in session
        assert not events


def test_local_logout_with_the_token_ends_the_session(saml_sp: ServiceProvider) -> None:
    session: dict[str, Any] = {SESSION_KEY: {"name_id": "ada"}}
    token = csrf_token(session)
    events: list[LogoutEvent] = []
    request = WebRequest("POST", "/saml/logout", form={CSRF_FIELD: token, "next": "/bye"})
    outcome = ROUTES.logout(request, saml_sp, session, events.append, logout_action="/saml/logout")
    assert (outcome.status, outcome.location) == (303, "/bye")
    assert SESSION_KEY not in session
    assert CSRF_SESSION_KEY not in session
    assert [e.kind for e in events] == ["local"]


def test_logout_form_escapes_everything() -> None:
    html = logout_form_html('/a"b', 'to"k', label="<x>", next="/n'<")
    assert '"b' not in html.replace("&quot;b", "")
    assert "<x>" not in html
    assert "to&quot;k" in html


def test_the_page_renderer_gets_the_code_and_hint() -> None:
    pages: list[Any] = []
    routes = SamlRoutes(render_page=lambda page: pages.append(page) or "mine")
    outcome = routes.error_outcome(XMLRejected(ErrorCode.MALFORMED_XML, "fix it"))
    assert outcome.body == "mine"
    assert (pages[0].status, pages[0].code, pages[0].hint) == (403, "malformed-xml", "fix it")


def _verified_login(sp: ServiceProvider, idp: TestIdP) -> LoginResult:
    started = ROUTES.login(WebRequest("GET", "/saml/login"), sp)
    assert started.location is not None
    (cookie,) = started.cookies
    form = idp.respond(idp.receive_redirect(started.location))
    seen: list[LoginResult] = []
    ROUTES.acs(
        WebRequest("POST", "/saml/acs", form=dict(form.fields), cookies={cookie.name: cookie.value}), sp, seen.append
    )
    return seen[0]


def test_begin_session_renews_the_csrf_token_and_keeps_the_apps_data(
    saml_sp: ServiceProvider, saml_idp: TestIdP
) -> None:
    result = _verified_login(saml_sp, saml_idp)
    session: dict[str, Any] = {CSRF_SESSION_KEY: "t" * 43, "cart": ["book"]}
    begin_session(session, result)
    signed_in = {"cart": ["book"], SESSION_KEY: session_identity(result), PRINCIPAL_SESSION_KEY: _digest(result)}
    assert session == signed_in
    # the same principal signing in again keeps the application's data too, after a sign-out as well
    session[CSRF_SESSION_KEY] = "u" * 43
    begin_session(session, result)
    assert session == signed_in
    del session[SESSION_KEY]
    begin_session(session, result)
    assert session == signed_in


@pytest.mark.parametrize(
    "previous",
    [
        {"name_id": "mallory@example.org", "issuer": "IDP"},  # another NameID at the same IdP
        {"name_id": "ada@example.org", "issuer": "https://other-idp.example/"},  # the same NameID elsewhere
        {"issuer": "IDP"},  # an identity fedlib did not write
        "ada@example.org",
    ],
)
def test_begin_session_empties_another_principals_session(
    saml_sp: ServiceProvider, saml_idp: TestIdP, previous: Any
) -> None:
    result = _verified_login(saml_sp, saml_idp)
    if isinstance(previous, dict) and previous.get("issuer") == "IDP":
        previous = {**previous, "issuer": result.authn.issuer}
    session: dict[str, Any] = {SESSION_KEY: previous, "private": "notes", CSRF_SESSION_KEY: "t" * 43}
    begin_session(session, result)
    assert session == {SESSION_KEY: session_identity(result), PRINCIPAL_SESSION_KEY: _digest(result)}


def test_begin_session_after_another_principals_sign_out_empties_the_session(
    saml_sp: ServiceProvider, saml_idp: TestIdP
) -> None:
    """Sign-out leaves the application's data and the digest of whose it is: another login empties it."""
    result = _verified_login(saml_sp, saml_idp)
    session: dict[str, Any] = {PRINCIPAL_SESSION_KEY: "0" * 32, "private": "notes"}
    begin_session(session, result)
    assert session == {SESSION_KEY: session_identity(result), PRINCIPAL_SESSION_KEY: _digest(result)}


def _digest(result: LoginResult) -> str:
    return principal_digest(session_identity(result))


def test_principal_digest_compares_nameids_as_saml_does() -> None:
    base = {"issuer": "https://idp/", "name_id": "u", "name_id_format": None, "name_qualifier": None}
    same = [
        {**base, "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"},
        {**base, "name_qualifier": "https://idp/"},
        {**base, "sp_name_qualifier": None},
    ]
    other = [
        {**base, "issuer": "https://other-idp/"},
        {**base, "name_id": "v"},
        {**base, "name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"},
        {**base, "name_qualifier": "https://home/"},
        {**base, "sp_name_qualifier": "https://sp/"},
        {},
    ]
    for variant in same:
        assert principal_digest(variant) == principal_digest(base)
    assert len({principal_digest(v) for v in other} | {principal_digest(base)}) == len(other) + 1


def _principal_digest_reference(identity: dict[str, Any]) -> str:
    """principal_digest as first written (json.dumps of the key, default=repr): the digests kept in existing
    sessions were made this way, so the fast path must give the same text for every identity."""
    import hashlib
    import json

    from fedlib.constants import NAMEID_UNSPECIFIED

    issuer = identity.get("issuer")
    key = [
        issuer,
        identity.get("name_id"),
        identity.get("name_id_format") or NAMEID_UNSPECIFIED,
        identity.get("name_qualifier") or issuer,
        identity.get("sp_name_qualifier"),
    ]
    return hashlib.sha256(json.dumps(key, default=repr).encode("utf-8")).hexdigest()[:32]


class _Text(str):
    pass


_DIGEST_VALUES = st.one_of(
    st.none(),
    st.text(),  # non-ASCII, quotes, backslashes, control characters, lone surrogates
    st.text().map(_Text),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["issuer", "name_id", "name_id_format", "name_qualifier", "sp_name_qualifier", "other"]),
        _DIGEST_VALUES,
    )
)
def test_principal_digest_is_the_json_digest_for_every_identity(identity: dict[str, Any]) -> None:
    """Differential: principal_digest's fast path (strings and None written with json's own string encoder)
    gives json.dumps's digest for every value; anything else (a number, a list, an object) must take the
    json.dumps path (without that guard this fails: an int is not a string to the encoder)."""
    assert principal_digest(identity) == _principal_digest_reference(identity)


_SEPARATOR_HEAVY = st.lists(
    st.sampled_from([b"&", b";", b"a", b"=", b"%26", b"&&", b";;", b"x" * 50]), max_size=200
).map(b"".join)


@settings(max_examples=500)
@given(st.one_of(_SEPARATOR_HEAVY, st.binary(max_size=300)))
def test_too_many_form_fields_is_the_separator_count(body: bytes) -> None:
    """The field cap is exactly "at least MAX_FORM_FIELDS separators (& and ;)", however it is counted."""
    assert too_many_form_fields(body) is (body.count(b"&") + body.count(b";") >= MAX_FORM_FIELDS)


@pytest.mark.parametrize("extra", [-1, 0, 1, 1000])
@pytest.mark.parametrize("mix", [b"&", b";", b"&;"])
def test_too_many_form_fields_at_the_cap(extra: int, mix: bytes) -> None:
    separators = (mix * MAX_FORM_FIELDS)[: MAX_FORM_FIELDS + extra] if extra < 1000 else mix * 100_000
    body = b"SAMLResponse=" + b"x" * 10_000 + b"".join(bytes([c]) + b"a" for c in separators)
    assert too_many_form_fields(body) is (len(separators) >= MAX_FORM_FIELDS)
