"""Hazmat: a narrow XML-DSig verifier for the SAML signature profile.

.. warning:: This package knows XML-DSig, not SAML policy. Applications use
   ``fedlib.validation.validate_response`` (or the ``ServiceProvider`` facade), which decides *which*
   signature must be present and reads only what it verified.

Stages: ``profile`` (shape, algorithms) -> ``trust`` (metadata certificates) -> ``verify`` (crypto).
``sign`` produces the one signature shape fedlib verifies, for fedlib's own outgoing messages.
"""

from fedlib.xmldsig.sign import Signer, SigningKey, sign_enveloped
from fedlib.xmldsig.trust import TrustAnchors, TrustedKey, fingerprint
from fedlib.xmldsig.verify import VerifiedElement, verify_enveloped_signature

__all__ = [
    "Signer",
    "SigningKey",
    "TrustAnchors",
    "TrustedKey",
    "VerifiedElement",
    "fingerprint",
    "sign_enveloped",
    "verify_enveloped_signature",
]
