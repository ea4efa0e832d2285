"""Stage 2 of 3: which key may verify. Keys come from IdP metadata only.

.. warning:: Hazmat. Use ``fedlib.validation`` instead.

The certificate in the signature's KeyInfo is a lookup hint, never a source of keys: it must be
byte-identical (DER) to a certificate the IdP's metadata lists, and then the *metadata's* public key is
used. KeyValue, KeyName and any other KeyInfo content are ignored. Certificate validity dates are not
checked: a metadata-pinned certificate is a trusted key (as in Shibboleth SP and python3-saml);
rollover is done by listing several certificates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from fedlib.errors import ConfigurationError, ErrorCode, SignatureRejected, reject

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def fingerprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate, as colon-separated upper-case hex (what operators compare)."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A certificate from metadata with its public key, loaded once."""

    certificate: x509.Certificate
    der: bytes
    public_key: PublicKey


@dataclass(frozen=True, slots=True)
class TrustAnchors:
    """The signing certificates one IdP's metadata lists, indexed by their DER bytes."""

    by_der: Mapping[bytes, TrustedKey] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_certificates(cls, certificates: Iterable[x509.Certificate]) -> TrustAnchors:
        """Index certificates; refuse key types fedlib cannot verify with (``ConfigurationError``)."""
        index: dict[bytes, TrustedKey] = {}
        for cert in certificates:
            key = cert.public_key()
            if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
                raise ConfigurationError(
                    f"IdP certificate {fingerprint(cert.public_bytes(Encoding.DER))} has a {type(key).__name__}; "
                    "fedlib verifies RSA and EC keys only"
                )
            der = cert.public_bytes(Encoding.DER)
            index[der] = TrustedKey(certificate=cert, der=der, public_key=key)
        return cls(by_der=MappingProxyType(index))

    def __len__(self) -> int:
        return len(self.by_der)

    def fingerprints(self) -> list[str]:
        """SHA-256 fingerprints of the trusted certificates."""
        return [fingerprint(der) for der in self.by_der]

    def select(self, presented: tuple[bytes, ...]) -> TrustedKey:
        """The trusted key matching a KeyInfo certificate.

        Raises:
            SignatureRejected: ``missing-certificate`` when KeyInfo carries no X509Certificate,
                ``untrusted-certificate`` when none of them is in metadata.
        """
        if not presented:
            raise _fail(
                ErrorCode.MISSING_CERTIFICATE,
                "the signature's KeyInfo carries no X509Certificate; fedlib requires the IdP to include its "
                "signing certificate (PingFederate: Digital Signature Settings > 'Include the certificate in "
                "the signature <KeyInfo> element'; Keycloak/ADFS/Entra/Okta include it by default)",
            )
        for der in presented:
            trusted = self.by_der.get(der)
            if trusted is not None:
                return trusted
        shown = ", ".join(fingerprint(der) for der in presented[:3])
        expected = ", ".join(self.fingerprints()[:5]) or "none"
        raise _fail(
            ErrorCode.UNTRUSTED_CERTIFICATE,
            "the message is signed with a certificate the IdP metadata does not list "
            f"(presented SHA-256 {shown}; metadata lists {expected}); refresh the IdP metadata if the IdP "
            "rotated its certificate",
            detail=f"presented {len(presented)} certificate(s)",
        )


def _fail(code: ErrorCode, message: str, detail: str | None = None) -> SignatureRejected:
    err = reject(code, message, detail=detail, element="ds:KeyInfo")
    assert isinstance(err, SignatureRejected)
    return err
