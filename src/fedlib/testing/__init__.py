"""IdP-side helpers for tests: TEST keys, minted signed SAML Responses, and IdP metadata.

Everything here plays the identity provider so that service-provider code (fedlib's own and its
users') can be tested end to end::

    from fedlib.testing import ResponseSpec, default_key, idp_metadata_xml, mint_response

    key = default_key()                       # cached TEST RSA key + self-signed cert
    spec = ResponseSpec(idp_entity_id="https://idp.example.com/", sp_entity_id="https://sp.example.com/",
                        acs_url="https://sp.example.com/acs", now=now, attributes={"mail": ["a@example.com"]})
    xml = mint_response(spec, key)            # signed Response, bytes
    md = idp_metadata_xml("https://idp.example.com/", [key.certificate], sso_url="https://idp.example.com/sso")

Signatures are made with signxml, never with fedlib's own XML-DSig code, so the signer and the
verifier cannot share a bug. None of this is meant for production use.
"""

from fedlib.testing.keys import KeyKind, TestKey, default_key, generate_key
from fedlib.testing.metadata import idp_metadata_xml
from fedlib.testing.responses import (
    ATTRNAME_FORMAT_BASIC,
    ATTRNAME_FORMAT_UNSPECIFIED,
    ATTRNAME_FORMAT_URI,
    AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT,
    OMIT,
    Omit,
    ResponseSpec,
    build_response,
    mint_response,
    mint_response_b64,
    new_id,
    serialize,
    sign_element,
)

__all__ = [
    "ATTRNAME_FORMAT_BASIC",
    "ATTRNAME_FORMAT_UNSPECIFIED",
    "ATTRNAME_FORMAT_URI",
    "AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT",
    "OMIT",
    "KeyKind",
    "Omit",
    "ResponseSpec",
    "TestKey",
    "build_response",
    "default_key",
    "generate_key",
    "idp_metadata_xml",
    "mint_response",
    "mint_response_b64",
    "new_id",
    "serialize",
    "sign_element",
]
