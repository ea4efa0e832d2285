"""Metadata for the CLI: a file path or an https URL, optional signer certificates, the trust rules.

Shared by ``check-response`` (``--idp-metadata``, ``--metadata-signer``, ``--idp-entity-id``) and
``check-metadata``. Rules (docs/metadata.md): with a signer the document must be signed by it; from a URL
an aggregate must be signed and carry validUntil; a local file without a signer keeps the historical
behaviour of ``--idp-metadata`` (any well-formed document, aggregates included).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from lxml import etree

from fedlib._files import SMALL_FILE_BYTES, read_file
from fedlib._xml.parse import decode_message, parse_xml
from fedlib.constants import SAML_ISSUER, SAMLP_RESPONSE
from fedlib.errors import ConfigurationError, ResponseRejected
from fedlib.federation.http import HTTPFetcher
from fedlib.metadata.document import MetadataDocument, load_metadata_document
from fedlib.metadata.idp import DEFAULT_MAX_METADATA_BYTES, IdPMetadata

#: How the CLI builds its HTTP client (tests swap in one that allows loopback http).
fetcher_factory: Callable[[], HTTPFetcher] = HTTPFetcher


def is_url(location: str) -> bool:
    return location.startswith(("https://", "http://"))


def read_location(location: str) -> bytes:
    """The bytes at a path or an https URL.

    Raises:
        ConfigurationError: unreadable or unreachable (``FetchError`` for URLs).
    """
    if is_url(location):
        fetcher = fetcher_factory()
        try:
            result = fetcher.get(location)
        finally:
            fetcher.close()
        assert result.body is not None
        return result.body
    return read_file(location, limit=DEFAULT_MAX_METADATA_BYTES)


def read_certificates(path: str) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM file (or one DER certificate).

    Raises:
        ConfigurationError: unreadable, or no certificate in it.
    """
    data = read_file(path, limit=SMALL_FILE_BYTES)
    try:
        if b"-----BEGIN" in data:
            certificates = tuple(x509.load_pem_x509_certificates(data))
        else:
            certificates = (x509.load_der_x509_certificate(data),)
    except ValueError:
        raise ConfigurationError(f"{path} holds no X.509 certificate (PEM or DER)") from None
    if not certificates:
        raise ConfigurationError(f"{path} holds no X.509 certificate")
    return certificates


def load_document(location: str, *, now: datetime, signers: tuple[x509.Certificate, ...] | None) -> MetadataDocument:
    """Read and verify the document at ``location`` under the CLI's trust rules."""
    remote = is_url(location)
    return load_metadata_document(
        read_location(location),
        now=now,
        signed_by=signers or None,
        allow_unsigned_aggregate=not remote and not signers,
        require_valid_until=remote or bool(signers),
    )


def untrusted_issuer(message: bytes, max_bytes: int) -> str | None:
    """The Response's Issuer, as a lookup hint only (validation proves it); None if unreadable."""
    try:
        root = parse_xml(decode_message(message, max_bytes=max_bytes), max_bytes=max_bytes)
    except ResponseRejected:
        return None
    if root.tag != SAMLP_RESPONSE:
        return None
    issuer = root.find(SAML_ISSUER)
    return (issuer.text or "").strip() if isinstance(issuer, etree._Element) and issuer.text else None


def select_idp(
    document: MetadataDocument, *, now: datetime, entity_id: str | None, hint: Callable[[], str | None]
) -> IdPMetadata:
    """``entity_id`` if given; else the only IdP; else the one the (untrusted) Issuer names (``hint()`` is
    only called then)."""
    if entity_id is not None or len(document.idp_entity_ids) == 1:
        return document.idp(entity_id, now=now)
    issuer = hint()
    if issuer is not None and issuer in document.idp_entity_ids:
        return document.idp(issuer, now=now)
    raise ConfigurationError(
        f"the metadata holds {len(document.idp_entity_ids)} SAML 2.0 IdPs and the Response's Issuer names none "
        "of them; name the one to use with --idp-entity-id"
    )


__all__ = ["fetcher_factory", "load_document", "read_certificates", "read_location", "select_idp", "untrusted_issuer"]
