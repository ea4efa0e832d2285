"""IdP-side helpers for tests: TEST keys, minted signed SAML Responses, and IdP metadata.

Everything here plays the identity provider so that service-provider code (fedlib's own and its
users') can be tested end to end::

    from fedlib.testing import ResponseSpec, TestIdP, default_key, idp_metadata_xml, mint_response

    idp = TestIdP(profile="okta")             # a whole test IdP: metadata, AuthnRequests in, Responses out

    key = default_key()                       # cached TEST RSA key + self-signed cert
    spec = ResponseSpec(idp_entity_id="https://idp.example.com/", sp_entity_id="https://sp.example.com/",
                        acs_url="https://sp.example.com/acs", now=now, attributes={"mail": ["a@example.com"]})
    xml = mint_response(spec, key)            # signed Response, bytes
    md = idp_metadata_xml("https://idp.example.com/", [key.certificate], sso_url="https://idp.example.com/sso")

Signatures are made with signxml, never with fedlib's own XML-DSig code, so the signer and the
verifier cannot share a bug. signxml comes with the ``testing`` extra (``pip install 'fedlib[testing]'``);
without it, using anything here raises ``ModuleNotFoundError`` saying so. Names load on first use, so
importing this package (as the pytest plugin does in every test run) costs nothing. None of this is meant
for production use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fedlib.testing.behaviour import IdPBehaviour
    from fedlib.testing.idp import AuthnRequestInfo, IdPRefused, PostForm, TestIdP, TestUser
    from fedlib.testing.keys import KeyKind, TestKey, default_key, generate_key
    from fedlib.testing.metadata import idp_metadata_xml
    from fedlib.testing.profiles import PROFILES, VendorProfile, get_profile
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

_LAZY: dict[str, str] = {
    "ATTRNAME_FORMAT_BASIC": "fedlib.testing.responses",
    "ATTRNAME_FORMAT_UNSPECIFIED": "fedlib.testing.responses",
    "ATTRNAME_FORMAT_URI": "fedlib.testing.responses",
    "AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT": "fedlib.testing.responses",
    "AuthnRequestInfo": "fedlib.testing.idp",
    "IdPBehaviour": "fedlib.testing.behaviour",
    "IdPRefused": "fedlib.testing.idp",
    "KeyKind": "fedlib.testing.keys",
    "OMIT": "fedlib.testing.responses",
    "Omit": "fedlib.testing.responses",
    "PROFILES": "fedlib.testing.profiles",
    "PostForm": "fedlib.testing.idp",
    "ResponseSpec": "fedlib.testing.responses",
    "TestIdP": "fedlib.testing.idp",
    "TestKey": "fedlib.testing.keys",
    "TestUser": "fedlib.testing.idp",
    "VendorProfile": "fedlib.testing.profiles",
    "build_response": "fedlib.testing.responses",
    "default_key": "fedlib.testing.keys",
    "generate_key": "fedlib.testing.keys",
    "get_profile": "fedlib.testing.profiles",
    "idp_metadata_xml": "fedlib.testing.metadata",
    "mint_response": "fedlib.testing.responses",
    "mint_response_b64": "fedlib.testing.responses",
    "new_id": "fedlib.testing.responses",
    "serialize": "fedlib.testing.responses",
    "sign_element": "fedlib.testing.responses",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fedlib.testing' has no attribute {name!r}")
    # Not cached in globals(): a module reloaded later (pytester's sys.modules snapshot does that) must
    # not leave a stale class here that isinstance checks in the fresh modules would not recognise.
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ATTRNAME_FORMAT_BASIC",
    "ATTRNAME_FORMAT_UNSPECIFIED",
    "ATTRNAME_FORMAT_URI",
    "AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT",
    "OMIT",
    "PROFILES",
    "AuthnRequestInfo",
    "IdPBehaviour",
    "IdPRefused",
    "KeyKind",
    "Omit",
    "PostForm",
    "ResponseSpec",
    "TestIdP",
    "TestKey",
    "TestUser",
    "VendorProfile",
    "build_response",
    "default_key",
    "generate_key",
    "get_profile",
    "idp_metadata_xml",
    "mint_response",
    "mint_response_b64",
    "new_id",
    "serialize",
    "sign_element",
]
