"""IdP-initiated LogoutRequests (fedlib.validation.logout via ServiceProvider.handle_logout_request).

Each test names the check it needs: without that check the request would be accepted and end a session.
The IdP side is fedlib.testing.TestIdP (signxml / pyca signatures, never fedlib's verifier).
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib.clock import FixedClock
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.constants import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    NAMEID_UNSPECIFIED,
)
from fedlib.errors import ErrorCode, ResponseRejected
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP
from fedlib.testing.keys import default_key
from fedlib.testing.responses import OMIT
from fedlib.validation.logout import LogoutSession, read_redirect_logout_request, validate_logout_request

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SP_ID = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
SLO = "https://sp.example.test/saml/logout"
USER = "ada@example.org"
SESSION = LogoutSession(
    idp_entity_id="https://idp.example.test/saml", name_id=USER, name_id_format=NAMEID_EMAIL, session_index="_s1"
)


def make_idp(**kwargs: Any) -> TestIdP:
    kwargs.setdefault("clock", lambda: NOW)
    return TestIdP(**kwargs)


def make_sp(*idps: TestIdP, slo_url: str | None = SLO, **policy: Any) -> ServiceProvider:
    config = SPConfig(entity_id=SP_ID, acs_url=ACS, slo_url=slo_url, policy=SecurityPolicy(**policy))
    metadata = [parse_idp_metadata(i.metadata_xml(), now=NOW) for i in idps]
    return ServiceProvider(config, metadata, MemoryStore(), clock=FixedClock(NOW))


def redirect(sp: ServiceProvider, url: str, session: LogoutSession | None = SESSION, **kw: Any) -> Any:
    return sp.handle_logout_request(query_string=urlsplit(url).query, session=session, **kw)


def signed_url(idp: TestIdP, root: etree._Element) -> str:
    """``root`` (a hand-edited LogoutRequest) sent over HTTP-Redirect with the IdP's genuine signature."""
    return idp.logout_request_url(SLO, USER, xml=etree.tostring(root))


def post(sp: ServiceProvider, fields: Any, session: LogoutSession | None = SESSION, **kw: Any) -> Any:
    return sp.handle_logout_request(form=dict(fields), session=session, **kw)


def refused(code: ErrorCode, call: Any, *args: Any, **kwargs: Any) -> ResponseRejected:
    with pytest.raises(ResponseRejected) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


# ---- accepted ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lowercase", [False, True])
def test_matching_redirect_request_is_accepted(lowercase: bool) -> None:
    idp = make_idp(lowercase_percent_encoding=lowercase)
    sp = make_sp(idp)
    url = idp.logout_request_url(SLO, USER, session_index="_s1", relay_state="/bye")
    result = redirect(sp, url)
    assert (result.idp_entity_id, result.name_id, result.session_indexes) == (idp.entity_id, USER, ("_s1",))
    assert result.binding == BINDING_HTTP_REDIRECT
    assert result.relay_state == "/bye"
    assert result.request_id.startswith("_")
    assert result.session_matched


def test_matching_post_request_is_accepted() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    form = idp.logout_request_post(SLO, USER, session_index="_s1", relay_state="opaque")
    result = post(sp, form.fields)
    assert result.binding == BINDING_HTTP_POST
    assert result.relay_state == "opaque"
    assert result.name_id == USER


def test_no_session_index_means_every_session_of_the_user() -> None:
    idp = make_idp()
    assert redirect(make_sp(idp), idp.logout_request_url(SLO, USER)).session_indexes == ()


def test_one_of_several_session_indexes_is_enough() -> None:
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, session_indexes=["_s0", "_s1", "_s2"])
    assert redirect(make_sp(idp), url).session_indexes == ("_s0", "_s1", "_s2")


def test_omitted_qualifiers_and_format_take_their_spec_defaults() -> None:
    """SAML Core §2.2.2/§8.3.7: omitted Format = unspecified, NameQualifier = the IdP, SPNameQualifier = the SP."""
    idp = make_idp()
    session = dataclasses.replace(
        SESSION, name_id_format=NAMEID_PERSISTENT, name_qualifier=idp.entity_id, sp_name_qualifier=SP_ID
    )
    url = idp.logout_request_url(SLO, USER, name_id_format=NAMEID_PERSISTENT)
    assert redirect(make_sp(idp), url, session).name_id_format == NAMEID_PERSISTENT
    no_format = dataclasses.replace(SESSION, name_id_format=None)
    url = idp.logout_request_url(
        SLO, USER, name_id_format=NAMEID_UNSPECIFIED, name_qualifier=idp.entity_id, sp_name_qualifier=SP_ID
    )
    assert redirect(make_sp(idp), url, no_format).name_qualifier == idp.entity_id
    unspecified = dataclasses.replace(SESSION, name_id_format=NAMEID_UNSPECIFIED)
    url = idp.logout_request_url(SLO, USER, name_id_format=OMIT)
    assert redirect(make_sp(idp), url, unspecified).name_id_format is None


def test_without_a_session_it_is_validated_and_ends_nothing() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    result = redirect(sp, idp.logout_request_url(SLO, "someone@else"), session=None)
    assert not result.session_matched
    refused(ErrorCode.UNSIGNED_MESSAGE, redirect, sp, idp.logout_request_url(SLO, USER, sign=False), session=None)


def test_request_within_max_age_and_skew_is_accepted() -> None:
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, now=NOW - timedelta(minutes=12))  # 10 min + 180 s skew
    assert redirect(make_sp(idp), url).name_id == USER


# ---- signature -------------------------------------------------------------------------------------------


def test_unsigned_redirect_is_refused() -> None:
    idp = make_idp()
    refused(ErrorCode.UNSIGNED_MESSAGE, redirect, make_sp(idp), idp.logout_request_url(SLO, USER, sign=False))


def test_unsigned_post_is_refused() -> None:
    idp = make_idp()
    form = idp.logout_request_post(SLO, USER, sign=False)
    refused(ErrorCode.UNSIGNED_MESSAGE, post, make_sp(idp), form.fields)


def test_tampered_redirect_is_refused() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    genuine = idp.logout_request_url(SLO, "grace@example.org")
    forged = idp.logout_request_url(SLO, USER, sign=False)
    # The genuine signature on another message: the forged SAMLRequest with the genuine SigAlg/Signature.
    tail = genuine[genuine.index("&SigAlg=") :]
    refused(ErrorCode.INVALID_SIGNATURE, redirect, sp, forged + tail)


def test_tampered_post_is_refused() -> None:
    idp = make_idp()
    xml = base64.b64decode(idp.logout_request_post(SLO, "grace@example.org").fields["SAMLRequest"])
    tampered = xml.replace(b"grace@example.org", USER.encode())
    fields = {"SAMLRequest": base64.b64encode(tampered).decode()}
    refused(ErrorCode.INVALID_SIGNATURE, post, make_sp(idp), fields)


def test_request_signed_by_another_key_is_refused() -> None:
    trusted = make_idp()
    impostor = make_idp(key=default_key("rsa", "impostor"))  # same entity ID, another key
    sp = make_sp(trusted)
    refused(ErrorCode.INVALID_SIGNATURE, redirect, sp, impostor.logout_request_url(SLO, USER))
    refused(ErrorCode.UNTRUSTED_CERTIFICATE, post, sp, impostor.logout_request_post(SLO, USER).fields)


def test_post_with_two_signatures_is_refused() -> None:
    idp = make_idp()
    xml = base64.b64decode(idp.logout_request_post(SLO, USER).fields["SAMLRequest"])
    root = etree.fromstring(xml)
    signature = root.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    assert signature is not None
    root.append(etree.fromstring(etree.tostring(signature)))
    fields = {"SAMLRequest": base64.b64encode(etree.tostring(root)).decode()}
    refused(ErrorCode.SIGNATURE_WRAPPING, post, make_sp(idp), fields)


# ---- issuer, destination, time ---------------------------------------------------------------------------


def test_request_from_another_trusted_idp_for_this_session_is_refused() -> None:
    """Two IdPs trusted; the session came from the first; the second (genuine, own key) cannot end it."""
    first = make_idp()
    second = make_idp(entity_id="https://other-idp.example.test/saml", key=default_key("rsa", "second-idp"))
    sp = make_sp(first, second)
    refused(ErrorCode.INVALID_SIGNATURE, redirect, sp, second.logout_request_url(SLO, USER))
    refused(ErrorCode.UNTRUSTED_CERTIFICATE, post, sp, second.logout_request_post(SLO, USER).fields)


def test_wrong_issuer_is_refused() -> None:
    """Signed with the trusted key but naming another Issuer (a key shared between two entities)."""
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, issuer="https://other.example.test/saml")
    refused(ErrorCode.WRONG_ISSUER, redirect, make_sp(idp), url)


def test_session_idp_no_longer_configured_is_refused() -> None:
    idp = make_idp()
    session = dataclasses.replace(SESSION, idp_entity_id="https://gone.example.test/saml")
    refused(ErrorCode.WRONG_ISSUER, redirect, make_sp(idp), idp.logout_request_url(SLO, USER), session)


@pytest.mark.parametrize(
    "destination",
    [
        "https://other-sp.example.test/saml/logout",
        SLO + "/",
        SLO.upper(),
        "https://sp.example.test/saml/logout?x=1",
    ],
)
def test_request_for_another_sp_is_refused(destination: str) -> None:
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, xml=etree.tostring(idp.logout_request_xml(destination, USER)))
    refused(ErrorCode.WRONG_DESTINATION, redirect, make_sp(idp), url)
    form = idp.logout_request_post(destination, USER)
    refused(ErrorCode.WRONG_DESTINATION, post, make_sp(idp), form.fields)


def test_request_without_destination_is_refused() -> None:
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, xml=etree.tostring(idp.logout_request_xml(None, USER)))
    refused(ErrorCode.WRONG_DESTINATION, redirect, make_sp(idp), url)


def test_sp_without_slo_url_accepts_no_logout_request() -> None:
    idp = make_idp()
    refused(ErrorCode.WRONG_DESTINATION, redirect, make_sp(idp, slo_url=None), idp.logout_request_url(SLO, USER))


def test_old_request_is_expired() -> None:
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, now=NOW - timedelta(minutes=13, seconds=1))
    refused(ErrorCode.EXPIRED, redirect, make_sp(idp), url)


def test_request_past_its_not_on_or_after_is_expired() -> None:
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, not_on_or_after=NOW - timedelta(seconds=181))
    refused(ErrorCode.EXPIRED, redirect, make_sp(idp), url)
    url = idp.logout_request_url(SLO, USER, not_on_or_after=NOW - timedelta(seconds=179))
    assert redirect(make_sp(idp), url).not_on_or_after == NOW - timedelta(seconds=179)


def test_future_request_is_not_yet_valid() -> None:
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, now=NOW + timedelta(seconds=181))
    refused(ErrorCode.NOT_YET_VALID, redirect, make_sp(idp), url)


def test_malformed_time_and_version_are_malformed() -> None:
    idp = make_idp()
    root = idp.logout_request_xml(SLO, USER)
    root.set("IssueInstant", "yesterday")
    refused(ErrorCode.MALFORMED_XML, redirect, make_sp(idp), signed_url(idp, root))
    root = idp.logout_request_xml(SLO, USER)
    root.set("Version", "1.1")
    refused(ErrorCode.MALFORMED_XML, redirect, make_sp(idp), signed_url(idp, root))


# ---- whom it logs out ---------------------------------------------------------------------------------------


def test_request_for_another_user_is_refused() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, redirect, sp, idp.logout_request_url(SLO, "grace@example.org"))
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, post, sp, idp.logout_request_post(SLO, "grace@example.org").fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"name_id_format": NAMEID_PERSISTENT},
        {"name_id_format": OMIT},
        {"name_qualifier": "https://another-domain.example"},
        {"sp_name_qualifier": "https://other-sp.example.test/saml/metadata"},
    ],
)
def test_same_value_in_another_name_space_is_another_user(fields: dict[str, str]) -> None:
    idp = make_idp()
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, redirect, make_sp(idp), idp.logout_request_url(SLO, USER, **fields))


def test_name_id_is_compared_exactly() -> None:
    idp = make_idp()
    for other in (USER.upper(), f" {USER}", USER + "\n"):
        refused(ErrorCode.LOGOUT_SESSION_MISMATCH, redirect, make_sp(idp), idp.logout_request_url(SLO, other))


def test_request_for_another_session_of_the_user_is_refused() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    url = idp.logout_request_url(SLO, USER, session_indexes=["_s0", "_s2"])
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, redirect, sp, url)
    form = idp.logout_request_post(SLO, USER, session_index="_other")
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, post, sp, form.fields)


def test_too_many_session_indexes_are_malformed() -> None:
    idp = make_idp()
    url = idp.logout_request_url(SLO, USER, session_indexes=[f"_s{i}" for i in range(65)])
    refused(ErrorCode.MALFORMED_XML, redirect, make_sp(idp), url)


def test_session_index_listed_for_a_session_that_has_none_is_refused() -> None:
    idp = make_idp()
    session = dataclasses.replace(SESSION, session_index=None)
    url = idp.logout_request_url(SLO, USER, session_index="_s1")
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, redirect, make_sp(idp), url, session)


def test_base_id_and_encrypted_id_are_refused() -> None:
    idp = make_idp()
    root = idp.logout_request_xml(SLO, USER)
    name_id = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}NameID")
    assert name_id is not None
    base = etree.Element("{urn:oasis:names:tc:SAML:2.0:assertion}BaseID", NameQualifier="x")
    root.replace(name_id, base)
    url = idp.logout_request_url(SLO, USER, xml=etree.tostring(root))
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, redirect, make_sp(idp), url)
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, redirect, make_sp(idp), url, session=None)
    encrypted = etree.Element("{urn:oasis:names:tc:SAML:2.0:assertion}EncryptedID")
    root.replace(base, encrypted)
    url = idp.logout_request_url(SLO, USER, xml=etree.tostring(root))
    refused(ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED, redirect, make_sp(idp), url)


def test_encrypted_data_anywhere_is_refused() -> None:
    idp = make_idp()
    root = idp.logout_request_xml(SLO, USER)
    extensions = etree.Element("{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    etree.SubElement(extensions, "{http://www.w3.org/2001/04/xmlenc#}EncryptedData")
    root.insert(1, extensions)
    refused(ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED, redirect, make_sp(idp), signed_url(idp, root))


def test_two_or_no_name_ids_are_malformed() -> None:
    idp = make_idp()
    root = idp.logout_request_xml(SLO, USER)
    name_id = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}NameID")
    assert name_id is not None
    root.insert(2, etree.fromstring(etree.tostring(name_id)))
    refused(ErrorCode.MALFORMED_XML, redirect, make_sp(idp), signed_url(idp, root))
    root = idp.logout_request_xml(SLO, USER)
    root.remove(root[1])
    refused(ErrorCode.MALFORMED_XML, redirect, make_sp(idp), signed_url(idp, root))


# ---- replay, message shape ------------------------------------------------------------------------------------


def test_replayed_request_is_refused_and_a_refused_one_consumes_nothing() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    url = idp.logout_request_url(SLO, USER)
    other = dataclasses.replace(SESSION, name_id="grace@example.org")
    refused(ErrorCode.LOGOUT_SESSION_MISMATCH, redirect, sp, url, other)
    assert redirect(sp, url).name_id == USER
    refused(ErrorCode.REPLAYED, redirect, sp, url)
    form = idp.logout_request_post(SLO, USER)
    post(sp, form.fields)
    refused(ErrorCode.REPLAYED, post, sp, form.fields)


def test_replay_entry_outlives_the_acceptance_window() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    url = idp.logout_request_url(SLO, USER, now=NOW - timedelta(minutes=12))
    redirect(sp, url)
    # Still within IssueInstant + 10 min + skew: a second use must still be seen.
    refused(ErrorCode.REPLAYED, redirect, sp, url, now=NOW + timedelta(seconds=59))


def test_another_message_type_is_refused() -> None:
    idp = make_idp()
    root = etree.Element("{urn:oasis:names:tc:SAML:2.0:protocol}AuthnRequest")
    url = idp.logout_request_url(SLO, USER, xml=etree.tostring(root))
    refused(ErrorCode.MALFORMED_XML, redirect, make_sp(idp), url)
    response = idp.initiate(SP_ID, ACS)
    refused(ErrorCode.MALFORMED_XML, post, make_sp(idp), {"SAMLRequest": response.fields["SAMLResponse"]})


def test_garbage_is_a_typed_refusal() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    for query in ("", "SAMLRequest=", "SAMLRequest=%%%", "SAMLResponse=abc", "SAMLRequest=a&SAMLRequest=b"):
        with pytest.raises(ResponseRejected):
            sp.handle_logout_request(query_string=query, session=SESSION)
    for form in ({}, {"SAMLRequest": ""}, {"SAMLRequest": "%%%"}, {"SAMLRequest": "PHg+"}):
        with pytest.raises(ResponseRejected):
            sp.handle_logout_request(form=form, session=SESSION)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300), st.binary(max_size=300))
def test_any_input_is_a_typed_refusal_never_a_crash(query: str, body: bytes) -> None:
    idp = make_idp()
    sp = make_sp(idp)
    with pytest.raises(ResponseRejected):
        sp.handle_logout_request(query_string=query, session=SESSION)
    with pytest.raises(ResponseRejected):
        sp.handle_logout_request(form={"SAMLRequest": base64.b64encode(body).decode()}, session=SESSION)


def test_sha1_only_with_the_policy() -> None:
    idp = make_idp(signature_algorithm="rsa-sha1", digest_algorithm="sha1")
    refused(ErrorCode.WEAK_ALGORITHM, redirect, make_sp(idp), idp.logout_request_url(SLO, USER))
    assert redirect(make_sp(idp, allow_sha1=True), idp.logout_request_url(SLO, USER)).name_id == USER
    assert post(make_sp(idp, allow_sha1=True), idp.logout_request_post(SLO, USER).fields).name_id == USER


def test_core_function_checks_the_session_belongs_to_the_idp() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    received = read_redirect_logout_request(urlsplit(idp.logout_request_url(SLO, USER)).query)
    other = dataclasses.replace(SESSION, idp_entity_id="https://other.example.test/saml")
    with pytest.raises(ResponseRejected) as info:
        validate_logout_request(
            received, sp=sp.config, idp=sp.idp().metadata, session=other, now=NOW, store=MemoryStore()
        )
    assert info.value.code == ErrorCode.LOGOUT_SESSION_MISMATCH


def test_login_result_keeps_the_name_id_qualifiers_a_logout_request_must_repeat() -> None:
    from fedlib.validation.pipeline import validate_response

    idp = make_idp()
    sp = make_sp(idp, allow_unsolicited=True)
    xml = idp.response_xml(
        sp_entity_id=SP_ID,
        acs_url=ACS,
        in_response_to=None,
        now=NOW,
        name_id_name_qualifier=idp.entity_id,
        name_id_sp_name_qualifier=SP_ID,
    )
    authn = validate_response(xml, sp=sp.config, idp=sp.idp().metadata, now=NOW, store=MemoryStore())
    assert (authn.name_qualifier, authn.sp_name_qualifier) == (idp.entity_id, SP_ID)


# ---- expired IdP metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
def test_request_checked_with_expired_idp_metadata_is_refused(binding: str) -> None:
    """Like a Response (validation.pipeline step 1b): metadata past its validUntil no longer vouches for the
    IdP's keys, so a LogoutRequest signed with them is refused (idp-metadata-expired) before anything is
    verified; one second earlier the same request is accepted."""
    idp = make_idp()
    sp = make_sp(idp)
    if binding == BINDING_HTTP_REDIRECT:
        received = read_redirect_logout_request(urlsplit(idp.logout_request_url(SLO, USER)).query)
    else:
        from fedlib.validation.logout import read_post_logout_request

        received = read_post_logout_request(idp.logout_request_post(SLO, USER).fields["SAMLRequest"])
    metadata = sp.idp().metadata
    kwargs: dict[str, Any] = {"sp": sp.config, "session": None, "now": NOW, "store": MemoryStore()}
    expired = dataclasses.replace(metadata, valid_until=NOW)
    rejection = refused(ErrorCode.IDP_METADATA_EXPIRED, validate_logout_request, received, idp=expired, **kwargs)
    assert rejection.detail is not None
    assert idp.entity_id in rejection.detail
    fresh = dataclasses.replace(metadata, valid_until=NOW + timedelta(seconds=1))
    assert validate_logout_request(received, idp=fresh, **kwargs).name_id == USER


def test_service_provider_refuses_a_logout_request_once_the_idp_metadata_expired() -> None:
    idp = make_idp()
    sp = make_sp(idp)
    expiry = NOW + timedelta(minutes=1)
    sp.update_idps([dataclasses.replace(sp.idp().metadata, valid_until=expiry)])
    url = idp.logout_request_url(SLO, USER, session_index="_s1")
    refused(ErrorCode.IDP_METADATA_EXPIRED, redirect, sp, url, now=expiry)
    assert redirect(sp, url, now=expiry - timedelta(seconds=1)).session_matched
