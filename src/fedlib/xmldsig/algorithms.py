"""XML-DSig algorithm identifiers (W3C / RFC 6931 URIs) and fedlib's allowlists.

Every algorithm is an Enum member whose value is its URI; nothing else in fedlib spells a URI. An
algorithm that is not a member is unknown, and unknown is treated as forbidden.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

from cryptography.hazmat.primitives import hashes


class SignatureMethod(StrEnum):
    RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
    RSA_PSS_SHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
    RSA_PSS_SHA384 = "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1"
    RSA_PSS_SHA512 = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1"
    ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
    ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
    # Weak: accepted only with an explicit, per-IdP allow_sha1 (RSA_SHA1) or never (the rest).
    RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
    DSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#dsa-sha1"
    DSA_SHA256 = "http://www.w3.org/2009/xmldsig11#dsa-sha256"
    RSA_MD5 = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"
    HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
    HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
    HMAC_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha384"
    HMAC_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512"


class DigestMethod(StrEnum):
    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
    SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
    SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
    MD5 = "http://www.w3.org/2001/04/xmldsig-more#md5"
    SHA224 = "http://www.w3.org/2001/04/xmldsig-more#sha224"


class C14N(StrEnum):
    EXCLUSIVE = "http://www.w3.org/2001/10/xml-exc-c14n#"
    EXCLUSIVE_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
    INCLUSIVE_1_0 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    INCLUSIVE_1_0_WITH_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
    INCLUSIVE_1_1 = "http://www.w3.org/2006/12/xml-c14n11"
    INCLUSIVE_1_1_WITH_COMMENTS = "http://www.w3.org/2006/12/xml-c14n11#WithComments"


ENVELOPED_SIGNATURE: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

#: Canonicalisation algorithms fedlib runs. "With comments" variants are refused: fedlib strips comments
#: while parsing (see fedlib._xml.parse), and signing comments only helps attacks.
ALLOWED_C14N: Final = frozenset({C14N.EXCLUSIVE, C14N.INCLUSIVE_1_0, C14N.INCLUSIVE_1_1})

STRONG_SIGNATURE_METHODS: Final = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.RSA_PSS_SHA256,
        SignatureMethod.RSA_PSS_SHA384,
        SignatureMethod.RSA_PSS_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)
STRONG_DIGEST_METHODS: Final = frozenset({DigestMethod.SHA256, DigestMethod.SHA384, DigestMethod.SHA512})

#: What ``allow_sha1`` adds (documented as insecure; for legacy IdPs only). Never DSA, HMAC or MD5.
SHA1_SIGNATURE_METHODS: Final = frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.ECDSA_SHA1})
SHA1_DIGEST_METHODS: Final = frozenset({DigestMethod.SHA1})

HASH_OF_SIGNATURE: Final[dict[SignatureMethod, hashes.HashAlgorithm]] = {
    SignatureMethod.RSA_SHA256: hashes.SHA256(),
    SignatureMethod.RSA_SHA384: hashes.SHA384(),
    SignatureMethod.RSA_SHA512: hashes.SHA512(),
    SignatureMethod.RSA_PSS_SHA256: hashes.SHA256(),
    SignatureMethod.RSA_PSS_SHA384: hashes.SHA384(),
    SignatureMethod.RSA_PSS_SHA512: hashes.SHA512(),
    SignatureMethod.ECDSA_SHA256: hashes.SHA256(),
    SignatureMethod.ECDSA_SHA384: hashes.SHA384(),
    SignatureMethod.ECDSA_SHA512: hashes.SHA512(),
    SignatureMethod.RSA_SHA1: hashes.SHA1(),  # noqa: S303 - reachable only with allow_sha1
    SignatureMethod.ECDSA_SHA1: hashes.SHA1(),  # noqa: S303 - reachable only with allow_sha1
}

RSA_PKCS1_METHODS: Final = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.RSA_SHA1,
    }
)
RSA_PSS_METHODS: Final = frozenset(
    {SignatureMethod.RSA_PSS_SHA256, SignatureMethod.RSA_PSS_SHA384, SignatureMethod.RSA_PSS_SHA512}
)
ECDSA_METHODS: Final = frozenset(
    {
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
        SignatureMethod.ECDSA_SHA1,
    }
)

DIGEST_FUNCTION: Final[dict[DigestMethod, Callable[[bytes], Any]]] = {
    DigestMethod.SHA256: hashlib.sha256,
    DigestMethod.SHA384: hashlib.sha384,
    DigestMethod.SHA512: hashlib.sha512,
    DigestMethod.SHA1: hashlib.sha1,
}
DIGEST_SIZE: Final[dict[DigestMethod, int]] = {
    DigestMethod.SHA256: 32,
    DigestMethod.SHA384: 48,
    DigestMethod.SHA512: 64,
    DigestMethod.SHA1: 20,
}


def allowed_signature_methods(*, allow_sha1: bool) -> frozenset[SignatureMethod]:
    """The signature methods a verifier with this policy accepts."""
    return STRONG_SIGNATURE_METHODS | SHA1_SIGNATURE_METHODS if allow_sha1 else STRONG_SIGNATURE_METHODS


def allowed_digest_methods(*, allow_sha1: bool) -> frozenset[DigestMethod]:
    """The digest methods a verifier with this policy accepts."""
    return STRONG_DIGEST_METHODS | SHA1_DIGEST_METHODS if allow_sha1 else STRONG_DIGEST_METHODS
