"""Single Logout through ServiceProvider: start_logout -> the TestIdP -> finish_logout (SP-initiated), and
answer_logout_request (IdP-initiated). The IdP side is fedlib.testing.TestIdP (signxml / pyca signatures,
never fedlib's verifier).

Each refusal test names the check it needs: without that check the LogoutResponse would be accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib.clock import FixedClock
from fedlib.config import SPConfig
from fedlib.constants import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, NAMEID_PERSISTENT, STATUS_SUCCESS
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected, StoreError
from fedlib.metadata.idp import Endpoint, parse_idp_metadata
from fedlib.protocol.logout import STATUS_PARTIAL_LOGOUT
from fedlib.sp import OutgoingLogout, ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import LogoutRequestInfo, PostForm, TestIdP
from fedlib.testing.keys import default_key
from fedlib.validation.logout import LogoutSession

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SP_ID = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"
SLO = "https://sp.example.test/saml/logout"
IDP_ID = "https://idp.example.test/saml"
SESSION = LogoutSession(
    idp_entity_id=IDP_ID,
    name_id="u-42",
    name_id_format=NAMEID_PERSISTENT,
    name_qualifier=IDP_ID,
    sp_name_qualifier=SP_ID,
    session_index="_s1",
)
SP_KEY = default_key("rsa", "sp")


def make_idp(**kwargs: Any) -> TestIdP:
    kwargs.setdefault("clock", lambda: NOW)
    idp = TestIdP(IDP_ID, **kwargs)
    idp.register_sp(SP_ID, ACS, [SP_KEY.certificate])
    return idp


def make_sp(idp: TestIdP, *, signed: bool = True, slo_url: str | None = SLO, store: Any = None) -> ServiceProvider:
    config = SPConfig(
        entity_id=SP_ID,
        acs_url=ACS,
        slo_url=slo_url,
        signing_key=SP_KEY.private_key if signed else None,
        signing_certificates=(SP_KEY.certificate,) if signed else (),
    )
    metadata = parse_idp_metadata(idp.metadata_xml(), now=NOW)
    return ServiceProvider(config, metadata, store or MemoryStore(), clock=FixedClock(NOW))


@pytest.fixture
def idp() -> TestIdP:
    return make_idp()


@pytest.fixture
def sp(idp: TestIdP) -> ServiceProvider:
    return make_sp(idp)


def start(sp: ServiceProvider, idp: TestIdP, binding: str = BINDING_HTTP_REDIRECT) -> LogoutRequestInfo:
    out = sp.start_logout(SESSION, binding=binding, relay_state="/bye")
    assert out is not None
    return received_by_idp(idp, out)


def received_by_idp(idp: TestIdP, out: OutgoingLogout) -> LogoutRequestInfo:
    if out.url is not None:
        return idp.receive_logout_request(out.url)
    assert out.form_html is not None
    saml_request = out.form_html.split('name="SAMLRequest" value="')[1].split('"')[0]
    return idp.receive_logout_request(form={"SAMLRequest": saml_request})


def finish(sp: ServiceProvider, answer: str | PostForm, **kw: Any) -> Any:
    if isinstance(answer, PostForm):
        return sp.finish_logout(form=dict(answer.fields), **kw)
    return sp.finish_logout(query_string=urlsplit(answer).query, **kw)


def refused(code: ErrorCode, call: Any, *args: Any, **kwargs: Any) -> ResponseRejected:
    with pytest.raises(ResponseRejected) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


# ---- SP-initiated: the LogoutRequest --------------------------------------------------------------------------


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
def test_start_logout_sends_a_signed_request_naming_the_session(
    sp: ServiceProvider, idp: TestIdP, binding: str
) -> None:
    info = start(sp, idp, binding)
    assert info.signed
    assert info.binding == binding
    assert info.issuer == SP_ID
    assert info.destination == idp.slo_url
    assert (info.name_id, info.name_id_format, info.name_qualifier, info.sp_name_qualifier) == (
        "u-42",
        NAMEID_PERSISTENT,
        IDP_ID,
        SP_ID,
    )
    assert info.session_indexes == ("_s1",)
    assert info.relay_state is None  # the app's RelayState stays server-side


def test_without_an_idp_slo_endpoint_start_logout_is_local_only(sp: ServiceProvider) -> None:
    idp_config = sp.idps[IDP_ID]
    metadata = idp_config.metadata
    bare = type(metadata)(entity_id=metadata.entity_id, signing_certificates=metadata.signing_certificates)
    sp.update_idps([type(idp_config)(bare)])
    assert sp.start_logout(SESSION) is None


def test_no_logout_request_goes_to_an_idp_whose_metadata_expired(sp: ServiceProvider) -> None:
    """Its keys and endpoints are no longer trusted (an IdP whose own validUntil passed inside a still-valid
    aggregate stays configured, refused for logins): the NameID and SessionIndex are not sent there; only
    the local session ends, as for an IdP without an SLO endpoint."""
    import dataclasses

    idp_config = sp.idps[IDP_ID]
    expired = dataclasses.replace(idp_config.metadata, valid_until=NOW - timedelta(seconds=1))
    sp.update_idps([dataclasses.replace(idp_config, metadata=expired)])
    assert sp.start_logout(SESSION) is None
    assert sp.start_logout(SESSION, now=NOW - timedelta(seconds=2)) is not None  # before it expired: sent


def test_the_binding_falls_back_to_the_one_the_idp_offers(sp: ServiceProvider) -> None:
    metadata = sp.idps[IDP_ID].metadata
    only_post = type(metadata)(
        entity_id=metadata.entity_id,
        signing_certificates=metadata.signing_certificates,
        slo_endpoints=(Endpoint(BINDING_HTTP_POST, "https://idp.example.test/slo-post"),),
    )
    sp.update_idps([type(sp.idps[IDP_ID])(only_post)])
    out = sp.start_logout(SESSION, binding=BINDING_HTTP_REDIRECT)
    assert out is not None
    assert out.binding == BINDING_HTTP_POST
    assert out.form_html is not None


def test_start_logout_needs_a_signing_key_and_a_safe_relay_state(idp: TestIdP, sp: ServiceProvider) -> None:
    with pytest.raises(ConfigurationError):
        make_sp(idp, signed=False).start_logout(SESSION)
    with pytest.raises(ConfigurationError):
        make_sp(idp, slo_url=None).start_logout(SESSION)
    with pytest.raises(ConfigurationError):
        sp.start_logout(SESSION, relay_state="https://evil.example/")


# ---- SP-initiated: the IdP's LogoutResponse --------------------------------------------------------------------


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
@pytest.mark.parametrize("lowercase", [False, True])
def test_round_trip_success(binding: str, lowercase: bool) -> None:
    idp = make_idp(lowercase_percent_encoding=lowercase)
    sp = make_sp(idp)
    info = start(sp, idp, binding)
    result = finish(sp, idp.answer_logout(info, SLO, binding=binding))
    assert result.response.status == "success"
    assert result.response.success
    assert result.response.status_codes == (STATUS_SUCCESS,)
    assert result.response.in_response_to == info.id
    assert result.relay_state == "/bye"
    assert result.idp_entity_id == IDP_ID


def test_partial_logout_and_errors_are_reported_not_raised(sp: ServiceProvider, idp: TestIdP) -> None:
    partial = finish(sp, idp.answer_logout(start(sp, idp), SLO, partial=True))
    assert partial.response.status == "partial"
    assert STATUS_PARTIAL_LOGOUT in partial.response.status_codes
    failed = finish(sp, idp.answer_logout(start(sp, idp), SLO, status="responder"))
    assert failed.response.status == "failure"
    assert not failed.response.success
    assert failed.response.status_codes[0].endswith(":Responder")
    assert failed.relay_state == "/bye"  # the app is told, and the user still lands where the app said


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
def test_unsigned_response_is_refused(sp: ServiceProvider, idp: TestIdP, binding: str) -> None:
    refused(ErrorCode.UNSIGNED_MESSAGE, finish, sp, idp.answer_logout(start(sp, idp), SLO, binding=binding, sign=False))


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
def test_response_signed_by_another_key_is_refused(sp: ServiceProvider, binding: str) -> None:
    genuine = make_idp()
    impostor = make_idp(key=default_key("rsa", "attacker"))
    info = start(sp, genuine, binding)
    code = ErrorCode.INVALID_SIGNATURE if binding == BINDING_HTTP_REDIRECT else ErrorCode.UNTRUSTED_CERTIFICATE
    err = refused_any(finish, sp, impostor.answer_logout(info, SLO, binding=binding))
    assert err.code in (code, ErrorCode.INVALID_SIGNATURE, ErrorCode.UNTRUSTED_CERTIFICATE)


def refused_any(call: Any, *args: Any) -> ResponseRejected:
    with pytest.raises(ResponseRejected) as info:
        call(*args)
    return info.value


def test_tampered_redirect_query_is_refused(sp: ServiceProvider, idp: TestIdP) -> None:
    url = idp.answer_logout(start(sp, idp), SLO)
    assert isinstance(url, str)
    tampered = url.replace("RelayState=", "RelayState=x") if "RelayState=" in url else url[:-6] + "AAAAAA"
    refused_any(finish, sp, tampered)


def test_wrong_issuer_is_refused(sp: ServiceProvider, idp: TestIdP) -> None:
    refused(ErrorCode.WRONG_ISSUER, finish, sp, idp.answer_logout(start(sp, idp), SLO, issuer="https://other.test"))


@pytest.mark.parametrize("destination", [None, "https://sp.example.test/saml/logout2"])
def test_wrong_or_missing_destination_is_refused(sp: ServiceProvider, idp: TestIdP, destination: str | None) -> None:
    info = start(sp, idp)
    xml = etree.tostring(idp.logout_response_xml(destination, info.id))
    url = idp._redirect_url(SLO, "SAMLResponse", xml, relay_state=None, sign=True)
    refused(ErrorCode.WRONG_DESTINATION, finish, sp, url)


def test_unknown_in_response_to_is_refused(sp: ServiceProvider, idp: TestIdP) -> None:
    start(sp, idp)
    xml = etree.tostring(idp.logout_response_xml(SLO, "_never_sent"))
    refused(
        ErrorCode.UNKNOWN_REQUEST, finish, sp, idp._redirect_url(SLO, "SAMLResponse", xml, relay_state=None, sign=True)
    )
    no_irt = etree.tostring(idp.logout_response_xml(SLO, None))
    refused(
        ErrorCode.UNKNOWN_REQUEST,
        finish,
        sp,
        idp._redirect_url(SLO, "SAMLResponse", no_irt, relay_state=None, sign=True),
    )


def test_replayed_response_is_refused(sp: ServiceProvider, idp: TestIdP) -> None:
    answer = idp.answer_logout(start(sp, idp), SLO)
    assert finish(sp, answer).response.success
    refused(ErrorCode.UNKNOWN_REQUEST, finish, sp, answer)


def test_another_tenants_pending_logout_is_unknown(idp: TestIdP) -> None:
    store = MemoryStore()
    a = make_sp(idp, store=store)
    b = ServiceProvider(a.config, list(a.idps.values()), store, tenant="b", clock=FixedClock(NOW))
    answer = idp.answer_logout(start(a, idp), SLO)
    refused(ErrorCode.UNKNOWN_REQUEST, finish, b, answer)
    assert finish(a, answer).response.success


def test_stale_and_future_responses_are_refused(sp: ServiceProvider, idp: TestIdP) -> None:
    info = start(sp, idp)
    refused(ErrorCode.EXPIRED, finish, sp, idp.answer_logout(info, SLO, now=NOW - timedelta(minutes=30)))
    info = start(sp, idp)
    refused(ErrorCode.NOT_YET_VALID, finish, sp, idp.answer_logout(info, SLO, now=NOW + timedelta(minutes=30)))


def test_a_logout_request_is_not_a_logout_response(sp: ServiceProvider, idp: TestIdP) -> None:
    url = idp.logout_request_url(SLO, "u-42")
    refused(ErrorCode.MALFORMED_XML, sp.finish_logout, query_string=urlsplit(url).query)
    form = idp.logout_request_post(SLO, "u-42")
    refused(ErrorCode.MALFORMED_XML, sp.finish_logout, form={"SAMLResponse": form.fields["SAMLRequest"]})
    refused(ErrorCode.MALFORMED_XML, sp.finish_logout, form={})
    with pytest.raises(ConfigurationError):
        sp.finish_logout()


def test_wrong_in_response_to_for_a_real_pending_id_is_refused(sp: ServiceProvider, idp: TestIdP) -> None:
    """The InResponseTo is consumed as a hint, then proven on the verified message: a hint that differs from
    the signed value (impossible through TestIdP's normal path) is exercised via validate_logout_response."""
    from fedlib.validation.logout import read_redirect_logout_response, validate_logout_response

    info = start(sp, idp)
    url = idp.answer_logout(info, SLO)
    assert isinstance(url, str)
    received = read_redirect_logout_response(urlsplit(url).query)
    config = sp.config
    refused(
        ErrorCode.WRONG_IN_RESPONSE_TO,
        validate_logout_response,
        received,
        sp=config,
        idp=sp.idps[IDP_ID].metadata,
        request_id="_another",
        now=NOW,
    )


class BrokenStore(MemoryStore):
    def consume(self, key: str, **kwargs: Any) -> str | None:
        raise StoreError("down")


def test_store_outage_is_a_store_error(idp: TestIdP) -> None:
    sp = make_sp(idp, store=BrokenStore())
    answer = idp.answer_logout(start(sp, idp), SLO)
    with pytest.raises(StoreError):
        finish(sp, answer)


def test_corrupt_pending_entry_is_a_store_error(sp: ServiceProvider, idp: TestIdP) -> None:
    info = start(sp, idp)
    sp.store.consume(f"logout-request:{info.id}", now=NOW)
    sp.store.add(f"logout-request:{info.id}", expires_at=NOW + timedelta(minutes=5), now=NOW, value="not json")
    with pytest.raises(StoreError):
        finish(sp, idp.answer_logout(info, SLO))


# ---- IdP-initiated: the SP's LogoutResponse --------------------------------------------------------------------


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
@pytest.mark.parametrize("partial", [False, True])
def test_answer_logout_request(sp: ServiceProvider, idp: TestIdP, binding: str, partial: bool) -> None:
    if binding == BINDING_HTTP_REDIRECT:
        url = idp.logout_request_url(
            SLO, "u-42", session_index="_s1", relay_state="rs-1", name_id_format=NAMEID_PERSISTENT
        )
        result = sp.handle_logout_request(query_string=urlsplit(url).query, session=SESSION)
    else:
        form = idp.logout_request_post(
            SLO, "u-42", session_index="_s1", relay_state="rs-1", name_id_format=NAMEID_PERSISTENT
        )
        result = sp.handle_logout_request(form=dict(form.fields), session=SESSION)
    out = sp.answer_logout_request(result, partial=partial)
    assert out is not None
    assert out.binding == binding
    assert out.destination == idp.slo_url
    if out.url is not None:
        info = idp.receive_logout_response(out.url)
    else:
        assert out.form_html is not None
        fields = {
            name: out.form_html.split(f'name="{name}" value="')[1].split('"')[0]
            for name in ("SAMLResponse", "RelayState")
        }
        info = idp.receive_logout_response(form=fields)
    assert info.in_response_to == result.request_id
    assert info.issuer == SP_ID
    assert info.relay_state == "rs-1"
    assert info.status_codes == ((STATUS_SUCCESS, STATUS_PARTIAL_LOGOUT) if partial else (STATUS_SUCCESS,))


def test_answer_goes_to_the_response_location(sp: ServiceProvider, idp: TestIdP) -> None:
    metadata = sp.idps[IDP_ID].metadata
    with_response_location = type(metadata)(
        entity_id=metadata.entity_id,
        signing_certificates=metadata.signing_certificates,
        slo_endpoints=(
            Endpoint(BINDING_HTTP_REDIRECT, "https://idp.example.test/slo", "https://idp.example.test/slo-return"),
        ),
    )
    sp.update_idps([type(sp.idps[IDP_ID])(with_response_location)])
    url = idp.logout_request_url(SLO, "u-42", session_index="_s1", name_id_format=NAMEID_PERSISTENT)
    result = sp.handle_logout_request(query_string=urlsplit(url).query, session=SESSION)
    out = sp.answer_logout_request(result)
    assert out is not None
    assert out.url is not None
    assert out.url.startswith("https://idp.example.test/slo-return?SAMLResponse=")


def test_answer_needs_a_signing_key(idp: TestIdP) -> None:
    sp = make_sp(idp, signed=False)
    url = idp.logout_request_url(SLO, "u-42", session_index="_s1", name_id_format=NAMEID_PERSISTENT)
    result = sp.handle_logout_request(query_string=urlsplit(url).query, session=SESSION)
    with pytest.raises(ConfigurationError):
        sp.answer_logout_request(result)


def test_validator_refuses_a_logout_request_posing_as_a_response(sp: ServiceProvider, idp: TestIdP) -> None:
    """validate_logout_response on its own (without finish_logout's early check) reads only LogoutResponses."""
    from fedlib.validation.logout import read_redirect_logout_response, validate_logout_response

    xml = etree.tostring(idp.logout_request_xml(SLO, "u-42", request_id="_x"))
    url = idp._redirect_url(SLO, "SAMLResponse", xml, relay_state=None, sign=True)
    received = read_redirect_logout_response(urlsplit(url).query)
    metadata = sp.idps[IDP_ID].metadata
    refused(
        ErrorCode.MALFORMED_XML,
        validate_logout_response,
        received,
        sp=sp.config,
        idp=metadata,
        request_id="_x",
        now=NOW,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_change_to_a_signed_logout_response_is_refused_with_a_typed_error(data: st.DataObject) -> None:
    """Property: one character of the IdP's signed Redirect query changed (or cut short) is never accepted
    and never a crash: only fedlib's typed refusals come out."""
    idp = make_idp()
    sp = make_sp(idp)
    url = idp.answer_logout(start(sp, idp), SLO)
    assert isinstance(url, str)
    query = urlsplit(url).query
    position = data.draw(st.integers(0, 4095)) % len(query)  # the query's length varies with the random IDs
    replacement = data.draw(st.sampled_from(["", "A", "a", "%", "%2B", "+", "&", "=", "0", "/", "\x00"]))
    mutated = query[:position] + replacement + query[position + 1 :]
    if mutated == query:
        return
    with pytest.raises(ResponseRejected):
        sp.finish_logout(query_string=mutated)


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
def test_logout_response_checked_with_expired_idp_metadata_is_refused(
    sp: ServiceProvider, idp: TestIdP, binding: str
) -> None:
    """Expired IdP metadata no longer vouches for its keys, for a LogoutResponse as for a Response."""
    import dataclasses

    from fedlib.validation.logout import (
        read_post_logout_response,
        read_redirect_logout_response,
        validate_logout_response,
    )

    info = start(sp, idp, binding)
    answer = idp.answer_logout(info, SLO, binding=binding)
    if isinstance(answer, PostForm):
        received = read_post_logout_response(answer.fields["SAMLResponse"])
    else:
        received = read_redirect_logout_response(urlsplit(answer).query)
    metadata = sp.idps[IDP_ID].metadata
    kwargs: dict[str, Any] = {"sp": sp.config, "request_id": info.id, "now": NOW}
    expired = dataclasses.replace(metadata, valid_until=NOW)
    refused(ErrorCode.IDP_METADATA_EXPIRED, validate_logout_response, received, idp=expired, **kwargs)
    fresh = dataclasses.replace(metadata, valid_until=NOW + timedelta(seconds=1))
    assert validate_logout_response(received, idp=fresh, **kwargs).success
