"""KeyInfo attacks: the key must come from metadata, never from the message.

- Self-signed attacker certificate in KeyInfo accepted as the key: e.g. CVE-2017-1000452 (samlify),
  CVE-2021-41187 class; "On Breaking SAML" (USENIX Security 2012) §5 on trusting KeyInfo.
- KeyValue next to a trusted certificate: verifiers that take the first usable key from KeyInfo
  (xmlsec's default key-from-KeyInfo behaviour) verify with the attacker's key.
"""

from __future__ import annotations

import base64
import textwrap

import pytest
from lxml import etree

from fedlib.errors import ErrorCode
from fedlib.testing import TestKey, default_key, generate_key
from fedlib.testing.responses import sign_element
from tests.adversarial._forge import (
    ds,
    one,
    parse,
    rejection,
    signature_of,
    to_bytes,
)
from tests.support import World


@pytest.fixture
def w() -> World:
    return World()


@pytest.fixture(scope="module")
def attacker() -> TestKey:
    return default_key(label="attacker")


@pytest.fixture(scope="module")
def attacker_same_subject() -> TestKey:
    # Same subject/issuer CN as the trusted test IdP certificate, different key.
    return generate_key(common_name="fedlib test IdP")


def code(w: World, root: etree._Element) -> ErrorCode:
    return rejection(w, to_bytes(root)).code


def unsigned(w: World) -> etree._Element:
    return parse(w.mint(sign_response=False))


def test_attacker_key_with_its_own_certificate(w: World, attacker: TestKey) -> None:
    root = unsigned(w)
    sign_element(root, attacker)
    assert code(w, root) == ErrorCode.UNTRUSTED_CERTIFICATE


def test_attacker_certificate_with_the_trusted_subject(w: World, attacker_same_subject: TestKey) -> None:
    root = unsigned(w)
    sign_element(root, attacker_same_subject)
    assert attacker_same_subject.certificate.subject == w.key.certificate.subject
    assert code(w, root) == ErrorCode.UNTRUSTED_CERTIFICATE


def test_attacker_ec_key(w: World) -> None:
    root = unsigned(w)
    sign_element(root, default_key("ec", label="attacker"))
    assert code(w, root) == ErrorCode.UNTRUSTED_CERTIFICATE


def test_trusted_certificate_but_signed_by_the_attacker(w: World, attacker: TestKey) -> None:
    root = unsigned(w)
    sign_element(root, attacker, certificates=[w.key.certificate])
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


def test_key_value_only(w: World) -> None:
    assert rejection(w, w.mint(include_cert=False)).code == ErrorCode.MISSING_CERTIFICATE


def test_attacker_key_value_only(w: World, attacker: TestKey) -> None:
    root = unsigned(w)
    sign_element(root, attacker, include_cert=False)
    assert code(w, root) == ErrorCode.MISSING_CERTIFICATE


def test_no_key_info(w: World) -> None:
    root = unsigned(w)
    sign_element(root, w.key, include_key_info=False)
    assert code(w, root) == ErrorCode.MISSING_CERTIFICATE


def test_key_name_only(w: World) -> None:
    root = parse(w.mint())
    key_info = one(signature_of(root), "ds:KeyInfo")
    for child in list(key_info):
        key_info.remove(child)
    etree.SubElement(key_info, ds("KeyName")).text = "idp-signing"
    assert code(w, root) == ErrorCode.MISSING_CERTIFICATE


def test_trusted_certificate_plus_attacker_key_value_signed_by_attacker(w: World, attacker: TestKey) -> None:
    # xmlsec-style "first usable key in KeyInfo" would pick the KeyValue; fedlib ignores it.
    root = unsigned(w)
    sign_element(root, attacker, certificates=[w.key.certificate], include_key_value=True)
    key_info = one(signature_of(root), "ds:KeyInfo")
    assert key_info.find(f".//{ds('KeyValue')}") is not None
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


def test_attacker_key_value_first_then_trusted_certificate(w: World, attacker: TestKey) -> None:
    root = unsigned(w)
    sign_element(root, attacker, certificates=[w.key.certificate], include_key_value=True)
    key_info = one(signature_of(root), "ds:KeyInfo")
    key_value = one(key_info, "ds:KeyValue")
    key_info.remove(key_value)
    key_info.insert(0, key_value)
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


def test_trusted_certificate_plus_attacker_key_value_signed_by_trusted_key(w: World, attacker: TestKey) -> None:
    # The KeyValue is ignored in the other direction too: it does not break a genuine signature.
    root = unsigned(w)
    sign_element(root, w.key, include_key_value=True)
    key_info = one(signature_of(root), "ds:KeyInfo")
    genuine_value = one(key_info, "ds:KeyValue")
    attacker_value = etree.fromstring(etree.tostring(genuine_value))
    modulus = attacker_value.find(f".//{ds('Modulus')}")
    assert modulus is not None
    numbers = attacker.private_key.public_key().public_numbers()  # type: ignore[union-attr]
    modulus.text = base64.b64encode(numbers.n.to_bytes(256, "big")).decode()  # type: ignore[union-attr]
    key_info.replace(genuine_value, attacker_value)
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


def test_attacker_certificate_first_then_trusted_signed_by_attacker(w: World, attacker: TestKey) -> None:
    # The trusted certificate is only a lookup hint: the metadata key (not the attacker's) verifies.
    root = unsigned(w)
    sign_element(root, attacker, certificates=[attacker.certificate, w.key.certificate])
    assert len(signature_of(root).findall(f".//{ds('X509Certificate')}")) == 2
    assert code(w, root) == ErrorCode.INVALID_SIGNATURE


def test_attacker_certificate_first_then_trusted_signed_by_trusted(w: World, attacker: TestKey) -> None:
    root = unsigned(w)
    sign_element(root, w.key, certificates=[attacker.certificate, w.key.certificate])
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


def test_line_wrapped_trusted_certificate_is_the_same_certificate(w: World) -> None:
    root = parse(w.mint())
    cert = one(signature_of(root), "ds:KeyInfo/ds:X509Data/ds:X509Certificate")
    cert.text = "\n" + "\n".join(textwrap.wrap(cert.text or "", 64)) + "\n"
    assert w.check(to_bytes(root)).name_id == "alice@example.com"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda der: der + b"\0", id="trailing-byte"),
        pytest.param(lambda der: der[:-1], id="truncated"),
        pytest.param(lambda der: der[:-1] + bytes([der[-1] ^ 1]), id="bit-flip-in-signature"),
    ],
)
def test_certificate_that_is_not_byte_identical(w: World, mangle: object) -> None:
    root = parse(w.mint())
    cert = one(signature_of(root), "ds:KeyInfo/ds:X509Data/ds:X509Certificate")
    cert.text = base64.b64encode(mangle(w.key.cert_der)).decode()  # type: ignore[operator]
    assert code(w, root) == ErrorCode.UNTRUSTED_CERTIFICATE


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not base64 at all!", id="garbage"),
        pytest.param(None, id="pem", marks=[]),
        pytest.param("=", id="padding-only"),
    ],
)
def test_certificate_that_is_not_strict_base64(w: World, text: str | None) -> None:
    root = parse(w.mint())
    cert = one(signature_of(root), "ds:KeyInfo/ds:X509Data/ds:X509Certificate")
    cert.text = w.key.cert_pem.decode() if text is None else text
    assert code(w, root) == ErrorCode.UNTRUSTED_CERTIFICATE


def test_certificate_outside_x509_data_is_not_looked_at(w: World) -> None:
    # Only KeyInfo/X509Data/X509Certificate counts; one nested elsewhere is no certificate.
    root = parse(w.mint())
    key_info = one(signature_of(root), "ds:KeyInfo")
    x509_data = one(key_info, "ds:X509Data")
    wrapper = etree.SubElement(key_info, "{urn:example:x}Wrapper")
    key_info.remove(x509_data)
    wrapper.append(x509_data)
    assert code(w, root) == ErrorCode.MISSING_CERTIFICATE


def test_certificate_in_a_foreign_namespace(w: World) -> None:
    root = parse(w.mint())
    cert = one(signature_of(root), "ds:KeyInfo/ds:X509Data/ds:X509Certificate")
    cert.tag = "{urn:example:not-dsig}X509Certificate"
    assert code(w, root) == ErrorCode.MISSING_CERTIFICATE


def test_expired_metadata_certificate_is_still_a_trusted_key() -> None:
    # Decision pinned (architecture.md): metadata certificates are keys; validity dates are not checked.
    from datetime import UTC, datetime

    key = generate_key(not_before=datetime(2000, 1, 1, tzinfo=UTC), days=30)
    w = World(key=key)
    assert w.check(w.mint()).name_id == "alice@example.com"
