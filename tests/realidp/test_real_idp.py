"""fedlib against a real SAML 2.0 IdP product that nobody here wrote, over HTTP on the loopback interface.

No browser: :class:`fedlib.testing.realidp.LoginClient` (urllib + a cookie jar) fills the IdP's login form
and stops at the auto-post form, whose fields go to ``ServiceProvider.finish_login``. Every test runs once
per real IdP this machine has (SimpleSAMLphp on Debian 12, pysaml2's IdP where its venv exists); the
terminal summary names the ones that ran. The browser versions are in tests/browser/test_realidp.py.
"""

from __future__ import annotations

import base64
import dataclasses
import socket
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from fedlib.attributes import AttributeMap, RoleRule
from fedlib.errors import ErrorCode, ResponseRejected
from fedlib.metadata.idp import IdPMetadata
from fedlib.metadata.sp import render_sp_metadata
from fedlib.protocol.authn_request import RequestedAuthnContext
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.realidp import AC_MFA, EDUPERSON_OIDS, KINDS, USERS, LoginClient, RealIdP, RealIdPError
from fedlib.validation.logout import LogoutSession
from tests.conftest import require_real_idp
from tests.realidp.conftest import SP

pytestmark = pytest.mark.realidp

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}


def _sp(metadata: IdPMetadata, attribute_map: AttributeMap | None = None, **policy: object) -> ServiceProvider:
    config = SP if not policy else dataclasses.replace(SP, policy=dataclasses.replace(SP.policy, **policy))
    return ServiceProvider(config, metadata, MemoryStore(), attribute_map=attribute_map)


def _logout_session(authn: object) -> LogoutSession:
    return LogoutSession(
        idp_entity_id=authn.issuer,  # type: ignore[attr-defined]
        name_id=authn.name_id,  # type: ignore[attr-defined]
        name_id_format=authn.name_id_format,  # type: ignore[attr-defined]
        name_qualifier=authn.name_qualifier,  # type: ignore[attr-defined]
        sp_name_qualifier=authn.sp_name_qualifier,  # type: ignore[attr-defined]
        session_index=authn.session_index,  # type: ignore[attr-defined]
    )


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("user", USERS, ids=[u.username for u in USERS])
def test_sp_initiated_login(real_idp: RealIdP, real_idp_metadata: IdPMetadata, user: object) -> None:
    sp = _sp(real_idp_metadata)
    login = sp.start_login(now=_now())
    assert login.url is not None
    form = LoginClient().login(login.url, user)  # type: ignore[arg-type]
    assert form.action == SP.acs_url
    result = sp.finish_login(dict(form.fields), browser_binding=login.browser_binding, now=_now())
    authn = result.authn
    assert authn.issuer == real_idp.entity_id
    assert authn.in_response_to == login.request_id
    assert authn.authn_context_class == user.authn_context  # type: ignore[attr-defined]  # per user
    expected = {EDUPERSON_OIDS[name]: values for name, values in user.attributes.items()}  # type: ignore[attr-defined]
    assert dict(authn.attributes) == expected


def test_idp_initiated_login(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    form = LoginClient().idp_initiated(real_idp, SP.entity_id, USERS[0])
    result = _sp(real_idp_metadata).finish_login(dict(form.fields), now=_now())
    assert result.authn.in_response_to is None
    assert result.authn.authn_context_class == AC_MFA
    assert result.authn.attributes[EDUPERSON_OIDS["displayName"]] == ("Ada Lovelace",)


def test_idp_initiated_refused_where_unsolicited_is_off(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    form = LoginClient().idp_initiated(real_idp, SP.entity_id, USERS[0])
    with pytest.raises(ResponseRejected) as info:
        _sp(real_idp_metadata, allow_unsolicited=False).finish_login(dict(form.fields), now=_now())
    assert info.value.code is ErrorCode.UNSOLICITED_NOT_ALLOWED


def test_response_is_signed_on_the_response_with_rsa_sha256(real_idp: RealIdP) -> None:
    form = LoginClient().idp_initiated(real_idp, SP.entity_id, USERS[1])
    root = etree.fromstring(base64.b64decode(form.fields["SAMLResponse"]))
    (signature,) = root.findall("ds:Signature", NS)  # enveloped, a child of the Response
    assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm").endswith("rsa-sha256")
    assert signature.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", NS).get("Algorithm").endswith("sha256")
    assert root.findall("saml:Assertion/ds:Signature", NS) == []  # the assertion is not signed separately
    names = {a.get("Name"): a.get("NameFormat") for a in root.iterfind(".//saml:Attribute", NS)}
    assert set(names) == set(EDUPERSON_OIDS.values())
    assert set(names.values()) == {"urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}


def test_tampered_response_is_refused(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    form = LoginClient().idp_initiated(real_idp, SP.entity_id, USERS[1])
    xml = base64.b64decode(form.fields["SAMLResponse"])
    assert b"urn:mace:example.org:entitlement:reader" in xml
    forged = xml.replace(b"urn:mace:example.org:entitlement:reader", b"urn:mace:example.org:entitlement:admin")
    with pytest.raises(ResponseRejected) as info:
        _sp(real_idp_metadata).finish_login({"SAMLResponse": base64.b64encode(forged).decode()}, now=_now())
    assert info.value.code is ErrorCode.INVALID_SIGNATURE


def test_replayed_response_is_refused(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    sp = _sp(real_idp_metadata)
    form = LoginClient().idp_initiated(real_idp, SP.entity_id, USERS[0])
    sp.finish_login(dict(form.fields), now=_now())
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(dict(form.fields), now=_now())
    assert info.value.code is ErrorCode.REPLAYED


def test_sso_session_is_kept_on_plain_http(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    """The IdP's session cookie works on http://localhost (SimpleSAMLphp's template sets it Secure, which
    breaks this): the second login of the same browser needs no password."""
    client = LoginClient()
    client.idp_initiated(real_idp, SP.entity_id, USERS[0])
    sp = _sp(real_idp_metadata)
    login = sp.start_login(now=_now())
    assert login.url is not None
    no_password = dataclasses.replace(USERS[0], password="wrong")  # would fail if the form were shown
    form = client.login(login.url, no_password)
    result = sp.finish_login(dict(form.fields), browser_binding=login.browser_binding, now=_now())
    assert result.authn.attributes[EDUPERSON_OIDS["eduPersonPrincipalName"]] == ("ada@example.org",)


def test_metadata_offers_single_logout(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    assert real_idp_metadata.entity_id == real_idp.entity_id
    root = etree.fromstring(real_idp.metadata_xml())
    slo = root.findall(".//md:IDPSSODescriptor/md:SingleLogoutService", NS)
    assert real_idp.slo_url in {s.get("Location") for s in slo}


def test_idp_initiated_logout_request_names_the_session(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    """Logging out at the IdP sends the SP a signed LogoutRequest (HTTP-Redirect) that fedlib accepts for
    exactly the session this browser logged in with (the ground for the SLO browser tests)."""
    sp = _sp(real_idp_metadata)
    client = LoginClient()
    login = sp.start_login(now=_now())
    assert login.url is not None
    form = client.login(login.url, USERS[1])
    authn = sp.finish_login(dict(form.fields), browser_binding=login.browser_binding, now=_now()).authn
    target = client.leave(real_idp.logout_url)
    assert target.split("?")[0] == SP.slo_url
    query = urlsplit(target).query
    assert {"SAMLRequest", "SigAlg", "Signature"} <= set(parse_qs(query))
    session = _logout_session(authn)
    other = dataclasses.replace(session, name_id="_someone-else")
    with pytest.raises(ResponseRejected) as info:
        sp.handle_logout_request(query_string=query, session=other, now=_now())
    assert info.value.code is ErrorCode.LOGOUT_SESSION_MISMATCH
    result = sp.handle_logout_request(query_string=query, session=session, now=_now())
    assert result.session_matched
    answer = sp.answer_logout_request(result, now=_now())
    assert answer is not None
    assert answer.url is not None
    tampered = answer.url.replace("Signature=", "Signature=AAAA", 1)
    try:  # the IdP checks the SP's signature: an error page (or a 403), not its logged-out page
        refused_at, _ = client.fetch(tampered)
    except RealIdPError:
        refused_at = tampered
    assert refused_at.split("?")[0] == real_idp.slo_url
    final, _ = client.fetch(answer.url)  # the IdP accepts the signed LogoutResponse, then ReturnTo
    assert final.split("?")[0] == real_idp.logged_out_url


MFA_MINIMUM = RequestedAuthnContext((AC_MFA,), "minimum")


def test_requested_mfa_refused_for_a_password_login(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    """The real IdP ignores the requested MFA context for ``grace`` (password only); fedlib refuses the
    login at the ACS. ``ada``'s MFA login satisfies the same request."""
    sp = _sp(real_idp_metadata)
    login = sp.start_login(requested_authn_context=MFA_MINIMUM, now=_now())
    assert login.url is not None
    form = LoginClient().login(login.url, USERS[1])
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(dict(form.fields), browser_binding=login.browser_binding, now=_now())
    assert info.value.code is ErrorCode.AUTHN_CONTEXT_NOT_SATISFIED
    login = sp.start_login(requested_authn_context=MFA_MINIMUM, now=_now())
    assert login.url is not None
    form = LoginClient().login(login.url, USERS[0])
    result = sp.finish_login(dict(form.fields), browser_binding=login.browser_binding, now=_now())
    assert result.authn.authn_context_class == AC_MFA


def test_eduperson_map_and_role_rules(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    rules = (
        RoleRule("entitlements", frozenset({"urn:mace:example.org:entitlement:admin"}), "admin"),
        RoleRule("entitlements", frozenset({"urn:mace:example.org:entitlement:reader"}), "reader"),
    )
    sp = _sp(real_idp_metadata, AttributeMap.preset("eduperson", roles=rules, required=("eppn",)))
    for user, role in ((USERS[0], "admin"), (USERS[1], "reader")):
        authn = sp.finish_login(dict(LoginClient().idp_initiated(real_idp, SP.entity_id, user).fields)).authn
        assert authn.roles == frozenset({role})
        assert authn.mapped("eppn") == user.attributes["eduPersonPrincipalName"][0]


def test_sp_initiated_logout(real_idp: RealIdP, real_idp_metadata: IdPMetadata) -> None:
    """fedlib's signed LogoutRequest is accepted by the real IdP, which answers with a signed LogoutResponse
    (HTTP-Redirect) that fedlib verifies: Success; the IdP's session has ended (the password is asked again)."""
    sp = _sp(real_idp_metadata)
    client = LoginClient()
    form = client.idp_initiated(real_idp, SP.entity_id, USERS[0])
    authn = sp.finish_login(dict(form.fields), now=_now()).authn
    outgoing = sp.start_logout(_logout_session(authn), relay_state="/bye", now=_now())
    assert outgoing is not None
    assert outgoing.url is not None
    with pytest.raises(RealIdPError):  # the IdP checks the SP's signature: no LogoutResponse for a forgery
        client.leave(outgoing.url.replace("Signature=", "Signature=AAAA", 1))
    target = client.leave(outgoing.url)
    assert target.split("?")[0] == SP.slo_url
    query = urlsplit(target).query
    assert {"SAMLResponse", "SigAlg", "Signature"} <= set(parse_qs(query))
    result = sp.finish_logout(query_string=query, now=_now())
    assert result.response.status == "success"
    assert result.relay_state == "/bye"
    assert result.idp_entity_id == real_idp.entity_id
    with pytest.raises(ResponseRejected):  # the pending logout is consumed once
        sp.finish_logout(query_string=query, now=_now())
    with pytest.raises(RealIdPError):  # no SSO session any more: the login form is shown again
        client.idp_initiated(real_idp, SP.entity_id, dataclasses.replace(USERS[0], password="wrong"))


@pytest.mark.parametrize("kind", KINDS)
def test_a_port_taken_meanwhile_is_retried_on_another(kind: str, tmp_path: Path) -> None:
    require_real_idp(kind)
    from fedlib.testing.realidp.pysaml2_idp import PySAML2IdP
    from fedlib.testing.realidp.simplesamlphp import SimpleSAMLphpIdP

    cls = SimpleSAMLphpIdP if kind == "simplesamlphp" else PySAML2IdP
    server = cls(tmp_path, render_sp_metadata(SP))
    taken = server.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with server:
            assert server.port != taken
            assert server.base_url.endswith(f":{server.port}")
            assert server.metadata_xml().count(f"localhost:{server.port}".encode()) >= 2
    assert not server.running
