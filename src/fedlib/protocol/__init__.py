"""Pure SAML message models and codecs: AuthnRequest building and the HTTP-Redirect / HTTP-POST bindings."""

from fedlib.protocol.authn_request import AuthnRequest, NameIDPolicy, RequestedAuthnContext, build_authn_request
from fedlib.protocol.bindings import (
    RedirectQuery,
    VerifiedRedirect,
    decode_redirect_message,
    encode_post_form,
    encode_redirect,
    parse_redirect_query,
    verify_redirect_signature,
)

__all__ = [
    "AuthnRequest",
    "NameIDPolicy",
    "RedirectQuery",
    "RequestedAuthnContext",
    "VerifiedRedirect",
    "build_authn_request",
    "decode_redirect_message",
    "encode_post_form",
    "encode_redirect",
    "parse_redirect_query",
    "verify_redirect_signature",
]
