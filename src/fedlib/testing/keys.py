"""TEST-ONLY key material: self-signed IdP signing keys for minting SAML Responses in tests.

Nothing here is suitable for production. Keys are generated in memory, are never protected by a
passphrase, and their certificates are self-signed with no constraints worth trusting. They exist so
that fedlib's test-suite (and users' test-suites) can play the part of an IdP.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from fedlib.clock import ensure_aware

KeyKind = Literal["rsa", "ec"]
"""The kinds of key :func:`generate_key` can make."""

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""The private-key types a :class:`TestKey` can hold."""

_CURVES: Final[dict[str, type[ec.EllipticCurve]]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
}


@dataclass(frozen=True, slots=True)
class TestKey:
    """A TEST signing key and its self-signed certificate (never use outside tests).

    Attributes:
        private_key: the RSA or EC private key (unencrypted, in memory).
        certificate: the matching self-signed X.509 certificate.
    """

    __test__ = False  # not a pytest test class, despite the name

    private_key: PrivateKey
    certificate: x509.Certificate

    @property
    def kind(self) -> KeyKind:
        """``"rsa"`` or ``"ec"``."""
        return "rsa" if isinstance(self.private_key, rsa.RSAPrivateKey) else "ec"

    @property
    def cert_der(self) -> bytes:
        """The certificate, DER-encoded."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        """The certificate, PEM-encoded (``-----BEGIN CERTIFICATE-----`` ...)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_b64(self) -> str:
        """The DER certificate as one line of base64, the form ``ds:X509Certificate`` carries."""
        return base64.b64encode(self.cert_der).decode("ascii")

    @property
    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM. TEST key: never protect real keys like this."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def generate_key(
    kind: KeyKind = "rsa",
    *,
    bits: int = 2048,
    curve: str = "P-256",
    common_name: str = "fedlib test IdP",
    not_before: datetime | None = None,
    days: int = 3650,
) -> TestKey:
    """Generate a fresh TEST key pair and a self-signed certificate for it.

    Args:
        kind: ``"rsa"`` or ``"ec"``.
        bits: RSA modulus size (ignored for EC).
        curve: EC curve, one of ``"P-256"``, ``"P-384"``, ``"P-521"`` (ignored for RSA).
        common_name: the certificate's subject (and issuer) CN.
        not_before: start of the certificate's validity (aware); default one day ago, so that clock
            differences between test machines never matter.
        days: validity length counted from ``not_before`` (negative or tiny values make expired certs).

    Returns:
        A :class:`TestKey`. RSA generation is slow (tens to hundreds of ms); tests that do not care about
        the particular key should use :func:`default_key`.

    Raises:
        ValueError: unknown ``kind`` or ``curve``, or a naive ``not_before``.
    """
    private_key: PrivateKey
    if kind == "rsa":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    elif kind == "ec":
        try:
            curve_cls = _CURVES[curve]
        except KeyError:
            raise ValueError(f"unknown curve {curve!r}; expected one of {sorted(_CURVES)}") from None
        private_key = ec.generate_private_key(curve_cls())
    else:
        raise ValueError(f"unknown key kind {kind!r}; expected 'rsa' or 'ec'")

    start = (
        ensure_aware(not_before)
        if not_before is not None
        else (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )
    return TestKey(private_key=private_key, certificate=certificate)


def default_key(kind: KeyKind = "rsa", label: str = "idp") -> TestKey:
    """A process-wide cached TEST key, so test-suites pay for RSA generation once.

    Args:
        kind: ``"rsa"`` (2048-bit) or ``"ec"`` (P-256).
        label: distinguishes independent cached keys, e.g. ``default_key("rsa", "attacker")`` for a
            second key that the SP must not trust. The label ``"idp"`` gets the CN ``fedlib test IdP``.

    Returns:
        The same :class:`TestKey` for the same arguments for the life of the process, however they are
        spelled (positional, keyword or defaulted).
    """
    return _cached_key(kind, label)


@cache
def _cached_key(kind: KeyKind, label: str) -> TestKey:
    common_name = "fedlib test IdP" if label == "idp" else f"fedlib test key ({label})"
    return generate_key(kind, common_name=common_name)
