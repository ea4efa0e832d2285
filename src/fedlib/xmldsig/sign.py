"""Signing fedlib's own outgoing messages (SP metadata, AuthnRequests, Redirect-binding queries).

.. warning:: Hazmat. Applications call ``render_sp_metadata`` or the binding encoders in
   ``fedlib.protocol``, which decide what is signed.

Only the shape fedlib's verifier accepts is produced, so every signature fedlib makes is one it (and any
SAML peer) can check: an enveloped ``ds:Signature`` with one Reference ``#<ID>`` to its parent,
transforms enveloped-signature + exclusive c14n, exclusive c14n of SignedInfo, SHA-256 digest,
RSA-SHA256 (PKCS#1 v1.5) or ECDSA-SHA256, and the signing certificate in ``KeyInfo/X509Data``.
Canonicalisation is lxml's, the cryptography is pyca/cryptography's.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from lxml import etree

from fedlib.constants import (
    DS_C14N_METHOD,
    DS_DIGEST_METHOD,
    DS_DIGEST_VALUE,
    DS_KEY_INFO,
    DS_REFERENCE,
    DS_SIGNATURE,
    DS_SIGNATURE_METHOD,
    DS_SIGNATURE_VALUE,
    DS_SIGNED_INFO,
    DS_TRANSFORM,
    DS_TRANSFORMS,
    DS_X509_CERTIFICATE,
    DS_X509_DATA,
    NS_DS,
    SAML_ISSUER,
)
from fedlib.xmldsig.algorithms import (
    C14N,
    DIGEST_FUNCTION,
    ECDSA_METHODS,
    ENVELOPED_SIGNATURE,
    HASH_OF_SIGNATURE,
    RSA_PKCS1_METHODS,
    STRONG_DIGEST_METHODS,
    DigestMethod,
    SignatureMethod,
)

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""The private-key types fedlib signs with."""

#: What fedlib signs with, per key type. RSA-PSS is not offered: several IdPs (AD FS among them) do not
#: verify it on AuthnRequests, and PKCS#1 v1.5 with SHA-256 is what every SAML peer accepts.
SIGNING_METHODS: Final = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)

_MIN_RSA_BITS: Final = 2048
_EC_CURVES: Final = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def default_signature_method(key: SigningKey) -> SignatureMethod:
    """RSA-SHA256 for an RSA key, ECDSA-SHA256 for an EC key."""
    return SignatureMethod.RSA_SHA256 if isinstance(key, rsa.RSAPrivateKey) else SignatureMethod.ECDSA_SHA256


def check_signing_key(key: object) -> SigningKey:
    """Return ``key`` if fedlib can sign with it: RSA of at least 2048 bits, or EC on P-256/384/521.

    Raises:
        ValueError: any other key.
    """
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise ValueError(f"the RSA signing key has {key.key_size} bits; at least {_MIN_RSA_BITS} are required")
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, _EC_CURVES):
            raise ValueError(f"the EC signing key is on {key.curve.name}; use P-256, P-384 or P-521")
        return key
    raise ValueError(f"fedlib signs with RSA or EC private keys, not {type(key).__name__}")


def _public_der(key: object) -> bytes:
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches_certificate(key: SigningKey, certificate: x509.Certificate) -> bool:
    """True when ``certificate`` carries ``key``'s public key."""
    return _public_der(key.public_key()) == _public_der(certificate.public_key())


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key, the certificate published for it, and the algorithm to sign with.

    Build one with the key and its certificate; ``signature_method`` defaults by key type
    (RSA-SHA256 / ECDSA-SHA256). Construction refuses weak keys, a certificate for another key and an
    algorithm that does not fit the key (``ValueError``).
    """

    private_key: SigningKey = field(repr=False)
    """The signing key (RSA >= 2048 bits, or EC P-256/384/521)."""

    certificate: x509.Certificate | None = None
    """Put into the signature's ``KeyInfo`` (enveloped XML signatures); must carry ``private_key``'s public key.
    Redirect-binding signatures carry no key information, so there it is unused."""

    signature_method: SignatureMethod | None = None
    """Default: RSA-SHA256 or ECDSA-SHA256 by key type. After construction, never None."""

    def __post_init__(self) -> None:
        check_signing_key(self.private_key)
        if self.certificate is not None and not key_matches_certificate(self.private_key, self.certificate):
            raise ValueError("the signing certificate does not carry the signing key's public key")
        method = self.signature_method or default_signature_method(self.private_key)
        if method not in SIGNING_METHODS:
            raise ValueError(f"fedlib does not sign with {method.value}")
        is_rsa = isinstance(self.private_key, rsa.RSAPrivateKey)
        if (method in RSA_PKCS1_METHODS) != is_rsa or (method in ECDSA_METHODS) == is_rsa:
            raise ValueError(f"{method.value} does not fit a {type(self.private_key).__name__}")
        object.__setattr__(self, "signature_method", method)

    @property
    def method(self) -> SignatureMethod:
        """The signature method (resolved; never None)."""
        assert self.signature_method is not None
        return self.signature_method

    def sign(self, octets: bytes) -> bytes:
        """The raw XML-DSig SignatureValue over ``octets``: PKCS#1 v1.5 for RSA, ``r || s`` (each as wide
        as the curve order, RFC 4050 §3.3) for ECDSA. Redirect-binding signatures use the same form."""
        return sign_octets(self.method, self.private_key, octets)


def sign_octets(method: SignatureMethod, key: SigningKey, octets: bytes) -> bytes:
    """Sign ``octets`` with ``method`` (see ``Signer.sign``)."""
    hash_algorithm = HASH_OF_SIGNATURE[method]
    if method in RSA_PKCS1_METHODS and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(octets, padding.PKCS1v15(), hash_algorithm)
    if method in ECDSA_METHODS and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(key.sign(octets, ec.ECDSA(hash_algorithm)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise ValueError(f"{method.value} does not fit a {type(key).__name__}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sub(parent: etree._Element, tag: str, algorithm: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if algorithm is not None:
        child.set("Algorithm", algorithm)
    return child


def sign_enveloped(
    element: etree._Element,
    signer: Signer,
    *,
    digest_method: DigestMethod = DigestMethod.SHA256,
) -> etree._Element:
    """Sign ``element`` in place with an enveloped signature and return the new ``ds:Signature``.

    The Signature is inserted where the SAML schemas want it: right after the element's ``saml:Issuer``
    child (protocol messages), else as the first child (metadata). It has no tail text, so removing it
    (the enveloped-signature transform) gives back exactly the tree that was digested. Make every other
    change to the tree (indentation included) before signing.

    Args:
        element: carries the ``ID`` attribute the Reference names (``#<ID>``).
        signer: key, certificate (put into KeyInfo when set) and signature method.
        digest_method: SHA-256 (default), SHA-384 or SHA-512.

    Raises:
        ValueError: ``element`` has no ``ID``, already carries a Signature, or the digest is not strong.
    """
    element_id = element.get("ID")
    if not element_id:
        raise ValueError("the element to sign has no ID attribute")
    if element.find(DS_SIGNATURE) is not None:
        raise ValueError("the element already carries a ds:Signature")
    if digest_method not in STRONG_DIGEST_METHODS:
        raise ValueError(f"fedlib does not digest with {digest_method.value}")

    # Digest before the Signature exists: identical to applying the enveloped-signature transform after.
    referenced = etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    digest = DIGEST_FUNCTION[digest_method](referenced).digest()

    signature = etree.Element(DS_SIGNATURE, nsmap={"ds": NS_DS})
    signed_info = _sub(signature, DS_SIGNED_INFO)
    _sub(signed_info, DS_C14N_METHOD, C14N.EXCLUSIVE.value)
    _sub(signed_info, DS_SIGNATURE_METHOD, signer.method.value)
    reference = _sub(signed_info, DS_REFERENCE)
    reference.set("URI", f"#{element_id}")
    transforms = _sub(reference, DS_TRANSFORMS)
    _sub(transforms, DS_TRANSFORM, ENVELOPED_SIGNATURE)
    _sub(transforms, DS_TRANSFORM, C14N.EXCLUSIVE.value)
    _sub(reference, DS_DIGEST_METHOD, digest_method.value)
    _sub(reference, DS_DIGEST_VALUE).text = _b64(digest)
    signature_value = _sub(signature, DS_SIGNATURE_VALUE)
    if signer.certificate is not None:
        x509_data = _sub(_sub(signature, DS_KEY_INFO), DS_X509_DATA)
        certificate_der = signer.certificate.public_bytes(serialization.Encoding.DER)
        _sub(x509_data, DS_X509_CERTIFICATE).text = _b64(certificate_der)

    index = 0
    for position, child in enumerate(element):
        if child.tag == SAML_ISSUER:
            index = position + 1
            break
    element.insert(index, signature)
    signature.tail = None

    # SignedInfo is canonicalised in place (exclusive c14n renders only the namespaces it uses).
    signed_octets = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)
    signature_value.text = _b64(signer.sign(signed_octets))
    return signature


__all__ = [
    "SIGNING_METHODS",
    "Signer",
    "SigningKey",
    "check_signing_key",
    "default_signature_method",
    "key_matches_certificate",
    "sign_enveloped",
    "sign_octets",
]
