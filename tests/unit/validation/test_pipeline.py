"""The response policy: one test per rule of validation/pipeline.py, each failing without its rule."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from lxml import etree
from tests.support import ACS, IDP_ID, NOW, NS, REQUEST_ID, SP_ID, World, serialize, tree

from fedlib.config import SecurityPolicy
from fedlib.errors import ErrorCode, ResponseRejected
from fedlib.testing import OMIT, default_key
from fedlib.testing.responses import sign_element


@pytest.fixture
def w() -> World:
    return World()


# --- acceptance and the result --------------------------------------------------------------------


def test_valid_response_round_trips(w: World) -> None:
    xml = w.mint(
        name_id="alice@example.com",
        attributes={"mail": ["alice@example.com"], "groups": ["a", "b"]},
        session_index="_s1",
        in_response_to=REQUEST_ID,
    )
    result = w.check(xml, request_id=REQUEST_ID)
    assert result.issuer == IDP_ID
    assert result.name_id == "alice@example.com"
    assert result.name_id_format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert result.session_index == "_s1"
    assert result.in_response_to == REQUEST_ID
    assert result.attributes == {"mail": ("alice@example.com",), "groups": ("a", "b")}
    assert result.authn_context_class == "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    assert result.not_on_or_after == NOW + timedelta(minutes=5)


def test_base64_form_value_is_accepted(w: World) -> None:
    assert w.check(base64.b64encode(w.mint())).name_id == "alice@example.com"


@pytest.mark.parametrize(
    ("kind", "algorithm", "digest"),
    [
        ("rsa", "rsa-sha256", "sha256"),
        ("rsa", "rsa-sha384", "sha384"),
        ("rsa", "rsa-sha512", "sha512"),
        ("ec", "ecdsa-sha256", "sha256"),
        ("ec", "ecdsa-sha384", "sha512"),
    ],
)
def test_allowed_algorithms(kind: str, algorithm: str, digest: str) -> None:
    w = World(key=default_key(kind))  # type: ignore[arg-type]
    xml = w.mint(signature_algorithm=algorithm, digest_algorithm=digest)
    assert w.check(xml).name_id == "alice@example.com"


def test_both_signed_is_accepted_and_inclusive_c14n_too(w: World) -> None:
    assert w.check(w.mint(sign_assertion=True)).name_id
    assert w.check(w.mint(sign_assertion=True, c14n="c14n")).name_id
    assert w.check(w.mint(sign_assertion=True, c14n="c14n11")).name_id


def test_repeated_attributes_are_merged(w: World) -> None:
    root = tree(w.mint(attributes={"role": ["a"]}, sign_response=False))
    statement = root.find(".//saml:AttributeStatement", NS)
    extra = etree.SubElement(statement, f"{{{NS['saml']}}}Attribute", Name="role")
    etree.SubElement(extra, f"{{{NS['saml']}}}AttributeValue").text = "b"
    sign_element(root, w.key)
    assert w.check(serialize(root)).attributes["role"] == ("a", "b")


# --- stage 1-5: raw input --------------------------------------------------------------------------


def test_not_a_response(w: World) -> None:
    assert w.code_of(b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>') == (
        ErrorCode.MALFORMED_XML
    )


def test_unsigned(w: World) -> None:
    assert w.code_of(w.mint(sign_response=False)) == ErrorCode.UNSIGNED_MESSAGE


def test_assertion_only(w: World) -> None:
    with pytest.raises(ResponseRejected) as info:
        w.check(w.mint(sign_response=False, sign_assertion=True))
    assert info.value.code == ErrorCode.ASSERTION_ONLY_SIGNATURE
    assert "Sign SAML response and assertion" in info.value.message  # names the Entra fix


def test_encrypted_claims_even_unsigned(w: World) -> None:
    root = tree(w.mint(sign_response=False))
    assertion = root.find("saml:Assertion", NS)
    etree.SubElement(assertion.find("saml:AttributeStatement", NS) or assertion, f"{{{NS['saml']}}}EncryptedAttribute")
    with pytest.raises(ResponseRejected) as info:
        w.check(serialize(root))
    assert info.value.code == ErrorCode.ENCRYPTED_CLAIMS_UNSUPPORTED
    assert "Okta: Assertion Encryption = Unencrypted" in info.value.message


def test_duplicate_ids(w: World) -> None:
    # Injected after signing (signxml refuses to sign an ambiguous document); the rule runs before the
    # digest check, so the code is signature-wrapping, not invalid-signature.
    root = tree(w.mint())
    root.find("saml:Assertion", NS).set("ID", root.get("ID"))
    assert w.code_of(serialize(root)) == ErrorCode.SIGNATURE_WRAPPING


def test_weak_algorithm_and_allow_sha1() -> None:
    w = World()
    xml = w.mint(signature_algorithm="rsa-sha1", digest_algorithm="sha1")
    with pytest.raises(ResponseRejected) as info:
        w.check(xml)
    assert info.value.code == ErrorCode.WEAK_ALGORITHM
    assert "SHA-256" in info.value.message
    w.policy = SecurityPolicy(allow_unsolicited=True, allow_sha1=True)
    assert w.check(xml).name_id


def test_untrusted_and_missing_certificate(w: World) -> None:
    with pytest.raises(ResponseRejected) as info:
        w.check(w.mint(key=default_key(label="attacker")))
    assert info.value.code == ErrorCode.UNTRUSTED_CERTIFICATE
    assert "SHA-256" in info.value.message  # fingerprints shown
    with pytest.raises(ResponseRejected) as info:
        w.check(w.mint(include_cert=False))
    assert info.value.code == ErrorCode.MISSING_CERTIFICATE
    assert "PingFederate" in info.value.message


def test_rollover_second_certificate_is_trusted() -> None:
    nxt = default_key(label="next")
    w = World(extra_keys=(nxt,))
    assert w.check(w.mint(key=nxt)).name_id


def test_tampered_content_is_invalid_signature(w: World) -> None:
    xml = w.mint(name_id="alice@example.com")
    assert w.code_of(xml.replace(b"alice@example.com", b"admin@example.com")) == ErrorCode.INVALID_SIGNATURE


# --- stage 8: the verified tree ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"version": "1.1"}, ErrorCode.MALFORMED_XML),
        ({"destination": OMIT}, ErrorCode.WRONG_DESTINATION),
        ({"destination": ACS + "/"}, ErrorCode.WRONG_DESTINATION),
        ({"destination": ACS.upper()}, ErrorCode.WRONG_DESTINATION),
        ({"destination": ACS + "?x=1"}, ErrorCode.WRONG_DESTINATION),
        ({"response_issuer": OMIT}, ErrorCode.WRONG_ISSUER),
        ({"response_issuer": "https://evil.example/"}, ErrorCode.WRONG_ISSUER),
        ({"assertion_issuer": "https://evil.example/"}, ErrorCode.WRONG_ISSUER),
        ({"issuer_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"}, ErrorCode.WRONG_ISSUER),
        ({"status_code": "urn:oasis:names:tc:SAML:2.0:status:Requester"}, ErrorCode.STATUS_NOT_SUCCESS),
        ({"include_assertion": False}, ErrorCode.WRONG_ASSERTION_COUNT),
        ({"recipient": "https://evil.example/acs"}, ErrorCode.WRONG_RECIPIENT),
        ({"recipient": OMIT}, ErrorCode.INVALID_SUBJECT_CONFIRMATION),
        ({"subject_not_on_or_after": OMIT}, ErrorCode.INVALID_SUBJECT_CONFIRMATION),
        (
            {"subject_confirmation_method": "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"},
            ErrorCode.INVALID_SUBJECT_CONFIRMATION,
        ),
        ({"subject_not_on_or_after": NOW - timedelta(seconds=181)}, ErrorCode.EXPIRED),
        ({"subject_not_before": NOW + timedelta(seconds=181)}, ErrorCode.NOT_YET_VALID),
        ({"not_before": NOW + timedelta(seconds=181)}, ErrorCode.NOT_YET_VALID),
        (
            {"not_before": NOW - timedelta(minutes=5), "not_on_or_after": NOW - timedelta(seconds=180)},
            ErrorCode.EXPIRED,
        ),
        ({"audiences": ["https://other-sp.example/"]}, ErrorCode.WRONG_AUDIENCE),
        ({"audiences": []}, ErrorCode.WRONG_AUDIENCE),
        ({"include_conditions": False}, ErrorCode.WRONG_AUDIENCE),
    ],
)
def test_policy_rule(w: World, overrides: dict[str, object], code: ErrorCode) -> None:
    assert w.code_of(w.mint(**overrides)) == code


def test_status_message_is_surfaced(w: World) -> None:
    xml = w.mint(
        status_code="urn:oasis:names:tc:SAML:2.0:status:Responder",
        second_status_code="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
        status_message="User account disabled",
    )
    with pytest.raises(ResponseRejected) as info:
        w.check(xml)
    assert info.value.code == ErrorCode.STATUS_NOT_SUCCESS
    assert "Responder / AuthnFailed" in info.value.message
    assert "User account disabled" in info.value.message


def test_skew_is_honoured_at_the_edges(w: World) -> None:
    assert w.check(w.mint(not_before=NOW + timedelta(seconds=179))).name_id
    assert w.check(
        w.mint(
            not_before=NOW - timedelta(minutes=5),
            not_on_or_after=NOW - timedelta(seconds=179),
            subject_not_on_or_after=NOW - timedelta(seconds=179),
        )
    ).name_id
    w.policy = SecurityPolicy(allow_unsolicited=True, clock_skew=timedelta(0))
    assert w.code_of(w.mint(not_before=NOW + timedelta(seconds=1))) == ErrorCode.NOT_YET_VALID


def test_one_audience_among_several_is_enough_but_every_restriction_must_name_us(w: World) -> None:
    assert w.check(w.mint(audiences=["https://other/", SP_ID])).name_id
    root = tree(w.mint(sign_response=False))
    conditions = root.find(".//saml:Conditions", NS)
    extra = etree.SubElement(conditions, f"{{{NS['saml']}}}AudienceRestriction")
    etree.SubElement(extra, f"{{{NS['saml']}}}Audience").text = "https://other/"
    sign_element(root, w.key)
    assert w.code_of(serialize(root)) == ErrorCode.WRONG_AUDIENCE


def test_second_bearer_confirmation_may_qualify(w: World) -> None:
    root = tree(w.mint(recipient="https://elsewhere/acs", sign_response=False))
    subject = root.find(".//saml:Subject", NS)
    good = etree.fromstring(etree.tostring(subject.find("saml:SubjectConfirmation", NS)))
    good.find("saml:SubjectConfirmationData", NS).set("Recipient", ACS)
    subject.append(good)
    sign_element(root, w.key)
    assert w.check(serialize(root)).name_id


def test_bad_assertion_signature_is_rejected_even_if_response_is_signed(w: World) -> None:
    root = tree(w.mint(sign_response=False, sign_assertion=True))
    sig_value = root.find("saml:Assertion/ds:Signature/ds:SignatureValue", NS)
    raw = bytearray(base64.b64decode(sig_value.text))
    raw[10] ^= 1
    sig_value.text = base64.b64encode(bytes(raw)).decode()
    sign_element(root, w.key)
    assert w.code_of(serialize(root)) == ErrorCode.INVALID_SIGNATURE


def test_assertion_signed_by_untrusted_key_is_rejected(w: World) -> None:
    root = tree(w.mint(sign_response=False))
    sign_element(root.find("saml:Assertion", NS), default_key(label="attacker"))
    sign_element(root, w.key)
    assert w.code_of(serialize(root)) == ErrorCode.UNTRUSTED_CERTIFICATE


# --- stage 10-11: InResponseTo and replay ------------------------------------------------------------


def test_in_response_to(w: World) -> None:
    assert w.code_of(w.mint(), request_id=REQUEST_ID) == ErrorCode.MISSING_IN_RESPONSE_TO
    assert w.code_of(w.mint(in_response_to="_other"), request_id=REQUEST_ID) == ErrorCode.WRONG_IN_RESPONSE_TO
    assert w.code_of(w.mint(in_response_to=REQUEST_ID)) == ErrorCode.WRONG_IN_RESPONSE_TO
    assert w.check(w.mint(in_response_to=REQUEST_ID), request_id=REQUEST_ID).in_response_to == REQUEST_ID


def test_unsolicited_needs_permission() -> None:
    w = World(policy=SecurityPolicy())
    assert w.code_of(w.mint()) == ErrorCode.UNSOLICITED_NOT_ALLOWED
    w.policy = SecurityPolicy(allow_unsolicited=True, allow_in_response_to_on_unsolicited=True)
    assert w.check(w.mint(in_response_to="_rippling")).in_response_to == "_rippling"


def test_confirmation_in_response_to_must_agree(w: World) -> None:
    root = tree(w.mint(in_response_to=REQUEST_ID, sign_response=False))
    root.find(".//saml:SubjectConfirmationData", NS).set("InResponseTo", "_other")
    sign_element(root, w.key)
    assert w.code_of(serialize(root), request_id=REQUEST_ID) in {
        ErrorCode.INVALID_SUBJECT_CONFIRMATION,
        ErrorCode.WRONG_IN_RESPONSE_TO,
    }


def test_replay(w: World) -> None:
    xml = w.mint()
    w.check(xml)
    assert w.code_of(xml) == ErrorCode.REPLAYED
    # Still refused near the end of the window plus skew ...
    assert w.code_of(xml, now=NOW + timedelta(minutes=5, seconds=170)) in {ErrorCode.REPLAYED, ErrorCode.EXPIRED}


def test_rejected_response_does_not_consume_the_assertion(w: World) -> None:
    good = w.mint(assertion_id="_a1")
    assert w.code_of(w.mint(assertion_id="_a1", audiences=["https://other/"])) == ErrorCode.WRONG_AUDIENCE
    assert w.check(good).assertion_id == "_a1"


def test_same_assertion_id_from_another_idp_does_not_collide() -> None:
    # the replay key is namespaced by issuer: unrelated IdPs can reuse IDs without locking each other out
    from fedlib.validation.pipeline import _replay_key

    assert _replay_key("sp", "a:b", "c") != _replay_key("sp", "a", "b:c")
    # and by SP entity ID (length-framed too): it is what replay entries are shared by, across tenants
    assert _replay_key("s:a", "b", "c") != _replay_key("s", "a:b", "c")
