"""Building the SP's ``samlp:AuthnRequest`` (SAML core §3.4.1) and handing it to a binding.

``build_authn_request`` is pure: the configuration, the IdP's SSO URL and ``now`` in, a frozen
``AuthnRequest`` out. Keep its ``id``: the Response must answer it (``InResponseTo``), so the adapter
stores it (the request store) before redirecting the browser.

The request always asks for the Response at an ACS URL of this SP (``AssertionConsumerServiceURL``)
over HTTP-POST (``ProtocolBinding``), names the SP as ``Issuer`` and the endpoint as ``Destination``
(required for signed requests, SAML Bindings §3.4.5.2 / §3.5.5.2).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from lxml import etree

from fedlib.clock import ensure_aware, format_instant
from fedlib.config import SPConfig
from fedlib.constants import (
    BINDING_HTTP_POST,
    NS_SAML,
    NS_SAMLP,
    SAML_AUTHN_CONTEXT_CLASS_REF,
    SAML_ISSUER,
    SAML_VERSION,
    SAMLP_AUTHN_REQUEST,
    SAMLP_NAMEID_POLICY,
    SAMLP_REQUESTED_AUTHN_CONTEXT,
)
from fedlib.protocol.bindings import OutgoingMessage, check_destination

AuthnContextComparison = Literal["exact", "minimum", "maximum", "better"]

#: xs:ID is an NCName; fedlib accepts the ASCII subset (what every IdP round-trips unharmed).
_NCNAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
_MAX_ID_CHARS: Final = 256


def new_request_id() -> str:
    """``"_"`` and 32 random hex digits: a valid xs:ID with 128 bits of entropy (SAML core §1.3.4).

    ``secrets.token_hex(16)`` without its three Python-level calls: the same 16 bytes of ``os.urandom``
    (what ``secrets`` draws them from), as hex."""
    return "_" + os.urandom(16).hex()


def check_request_id(request_id: str) -> None:
    """``ValueError`` unless ``request_id`` is an ASCII xs:ID (NCName) of at most 256 characters."""
    if len(request_id) > _MAX_ID_CHARS or not _NCNAME.fullmatch(request_id):
        raise ValueError(f"request_id must be an ASCII xs:ID (NCName) of at most {_MAX_ID_CHARS} characters")


def _check_uri(what: str, value: str) -> None:
    if not value or value.strip() != value or ":" not in value or any(c.isspace() for c in value):
        raise ValueError(f"{what} must be an absolute URI, got {value!r}")


@dataclass(frozen=True, slots=True)
class NameIDPolicy:
    """``samlp:NameIDPolicy``: what kind of NameID the SP asks for."""

    format: str | None = None
    """The NameID format URI (e.g. ``fedlib.constants.NAMEID_PERSISTENT``); None lets the IdP choose."""

    allow_create: bool = True
    """``AllowCreate``: the IdP may create a new identifier for this SP (needed for a first login with
    persistent NameIDs)."""

    sp_name_qualifier: str | None = None
    """``SPNameQualifier``: the namespace the identifier should belong to (for affiliations)."""

    def __post_init__(self) -> None:
        if self.format is not None:
            _check_uri("NameIDPolicy format", self.format)
        if self.sp_name_qualifier is not None and not self.sp_name_qualifier.strip():
            raise ValueError("NameIDPolicy sp_name_qualifier must not be blank")


@dataclass(frozen=True, slots=True)
class RequestedAuthnContext:
    """``samlp:RequestedAuthnContext``: the authentication context classes the SP requires."""

    class_refs: tuple[str, ...]
    """``AuthnContextClassRef`` URIs, at least one."""

    comparison: AuthnContextComparison = "exact"
    """How the IdP compares its context with the list (SAML core §3.3.2.2.1)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_refs", tuple(self.class_refs))
        if not self.class_refs:
            raise ValueError("RequestedAuthnContext needs at least one class reference")
        for ref in self.class_refs:
            _check_uri("AuthnContextClassRef", ref)
        if self.comparison not in ("exact", "minimum", "maximum", "better"):
            raise ValueError(f"unknown AuthnContext comparison {self.comparison!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthnRequest(OutgoingMessage):
    """A built AuthnRequest. ``xml`` is unsigned; the bindings sign it (the query for HTTP-Redirect, the
    XML itself for HTTP-POST) when given a ``Signer``: ``redirect_url``, ``post_form``, ``signed_xml``."""

    id: str
    """The request ID, to store and match against the Response's ``InResponseTo``."""

    xml: bytes
    """The unsigned ``samlp:AuthnRequest`` (UTF-8, no XML declaration)."""

    issue_instant: datetime
    """``IssueInstant`` (aware UTC, whole seconds, as written in the XML)."""

    destination: str
    """The IdP's SSO endpoint: the ``Destination`` attribute and where the binding sends the request."""

    acs_url: str
    """The ``AssertionConsumerServiceURL`` the Response is requested at."""


def build_authn_request(
    sp: SPConfig,
    idp_sso_url: str,
    *,
    now: datetime,
    request_id: str | None = None,
    force_authn: bool = False,
    is_passive: bool = False,
    name_id_policy: NameIDPolicy | str | None = None,
    requested_authn_context: RequestedAuthnContext | str | Sequence[str] | None = None,
    acs_url: str | None = None,
) -> AuthnRequest:
    """Build an AuthnRequest from this SP to an IdP's SingleSignOnService.

    Args:
        sp: the service provider (``entity_id`` becomes the Issuer).
        idp_sso_url: the IdP's SSO endpoint for the binding you will use (``IdPMetadata.sso_endpoint``).
        now: the current time (aware); becomes ``IssueInstant`` (truncated to the second).
        request_id: the ``ID``; default ``new_request_id()``. Must be an ASCII NCName.
        force_authn: ``ForceAuthn="true"``: the IdP must re-authenticate the user.
        is_passive: ``IsPassive="true"``: the IdP must not interact with the user.
        name_id_policy: a ``NameIDPolicy``, or just a NameID format URI.
        requested_authn_context: a ``RequestedAuthnContext``, or class reference URIs (``exact``).
        acs_url: which of the SP's ACS URLs to ask for; default ``sp.acs_url``.

    Returns:
        The ``AuthnRequest``.

    Raises:
        ValueError: an argument is malformed (naive ``now``, bad ID, URL, URI), or ``acs_url`` is not
            one of the SP's ACS URLs.
    """
    issue_instant = ensure_aware(now).replace(microsecond=0)
    if request_id is None:
        request_id = new_request_id()  # an xs:ID by construction
    else:
        check_request_id(request_id)
    acs = sp.acs_url if acs_url is None else acs_url
    if acs not in sp.acs_urls:
        raise ValueError(f"acs_url {acs!r} is not one of the SP's ACS URLs {list(sp.acs_urls)!r}")
    if isinstance(name_id_policy, str):
        name_id_policy = NameIDPolicy(format=name_id_policy)
    if isinstance(requested_authn_context, str):
        requested_authn_context = RequestedAuthnContext((requested_authn_context,))
    elif requested_authn_context is not None and not isinstance(requested_authn_context, RequestedAuthnContext):
        requested_authn_context = RequestedAuthnContext(tuple(requested_authn_context))
    shape = (sp.entity_id, idp_sso_url, acs, force_authn, is_passive, name_id_policy, requested_authn_context)
    return AuthnRequest(
        id=request_id,
        xml=request_xml(shape, request_id, issue_instant),
        issue_instant=issue_instant,
        destination=idp_sso_url,
        acs_url=acs,
    )


def request_xml(shape: RequestShape, request_id: str, issue_instant: datetime) -> bytes:
    """The unsigned XML of the request ``shape`` with this ID and IssueInstant: what ``build_authn_request``
    writes (its ``xml``), without checking the arguments it checks first.

    For callers that already hold checked values and need only the bytes (``ServiceProvider.start_login``):
    ``shape`` is ``(sp.entity_id, idp_sso_url, acs_url, force_authn, is_passive, name_id_policy,
    requested_authn_context)`` with the last two already objects (or None); ``request_id`` an NCName
    (``new_request_id()``); ``issue_instant`` aware UTC, whole seconds. Three cached pieces of the shape's
    template around the two values (see ``_template``), no calls in the usual case
    (tests/unit/protocol/test_request_fast_paths.py). A shape is checked once, when its template is made:
    ``ValueError`` for an ``idp_sso_url`` that is not a binding endpoint (``check_destination``). The ID is
    checked on every call (one C regex match), since it goes into the XML unescaped: ``ValueError`` for one
    that is not an NCName of at most the usual length.
    """
    if len(request_id) > _MAX_ID_CHARS or not _NCNAME.fullmatch(request_id):
        check_request_id(request_id)  # raises ValueError with its message
    template = _TEMPLATES.get(shape)
    if template is None:
        check_destination(shape[1])
        template = _template(shape)
    head, middle, tail = template
    last = _last_instant
    if last[0] == issue_instant:
        instant = last[1]
    else:
        instant = format_instant(issue_instant).encode("ascii")
        _remember_instant((issue_instant, instant))
    return b"".join((head, request_id.encode("ascii"), middle, instant, tail))


# The XML of one request shape (SP, destination, ACS URL, options), written once by lxml with placeholders
# for the two values that change per request (the ID and IssueInstant) and cut around them: a request is
# then three cached pieces and two ASCII values that need no escaping (an NCName and an xs:dateTime), byte
# for byte what lxml writes. Bounded: cleared when full (an SP has a handful of shapes).
_ID_PLACEHOLDER: Final = "_fedlib-request-id-placeholder-7f3a9c"
_INSTANT_PLACEHOLDER: Final = "fedlib-issue-instant-placeholder-7f3a9c"
_MAX_TEMPLATES: Final = 256
RequestShape = tuple[str, str, str, bool, bool, NameIDPolicy | None, RequestedAuthnContext | None]
"""What a request's XML depends on besides its ID and IssueInstant (``request_xml``)."""
_TEMPLATES: dict[RequestShape, tuple[bytes, bytes, bytes]] = {}


# The last IssueInstant written (requests started within one second share it).
_last_instant: tuple[datetime, bytes] = (datetime.min.replace(tzinfo=UTC), b"")


def _remember_instant(value: tuple[datetime, bytes]) -> None:
    global _last_instant
    _last_instant = value


def _template(shape: RequestShape) -> tuple[bytes, bytes, bytes]:
    entity_id, idp_sso_url, acs, force_authn, is_passive, name_id_policy, requested_authn_context = shape
    root = etree.Element(SAMLP_AUTHN_REQUEST, nsmap={"samlp": NS_SAMLP, "saml": NS_SAML})
    root.set("ID", _ID_PLACEHOLDER)
    root.set("Version", SAML_VERSION)
    root.set("IssueInstant", _INSTANT_PLACEHOLDER)
    root.set("Destination", idp_sso_url)
    if force_authn:
        root.set("ForceAuthn", "true")
    if is_passive:
        root.set("IsPassive", "true")
    root.set("ProtocolBinding", BINDING_HTTP_POST)
    root.set("AssertionConsumerServiceURL", acs)
    etree.SubElement(root, SAML_ISSUER).text = entity_id
    if name_id_policy is not None:
        policy = etree.SubElement(root, SAMLP_NAMEID_POLICY)
        if name_id_policy.format is not None:
            policy.set("Format", name_id_policy.format)
        if name_id_policy.sp_name_qualifier is not None:
            policy.set("SPNameQualifier", name_id_policy.sp_name_qualifier)
        policy.set("AllowCreate", "true" if name_id_policy.allow_create else "false")
    if requested_authn_context is not None:
        context = etree.SubElement(root, SAMLP_REQUESTED_AUTHN_CONTEXT)
        context.set("Comparison", requested_authn_context.comparison)
        for ref in requested_authn_context.class_refs:
            etree.SubElement(context, SAML_AUTHN_CONTEXT_CLASS_REF).text = ref
    xml = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    id_marker, instant_marker = f'ID="{_ID_PLACEHOLDER}"'.encode(), f'IssueInstant="{_INSTANT_PLACEHOLDER}"'.encode()
    if xml.count(_ID_PLACEHOLDER.encode()) != 1 or xml.count(_INSTANT_PLACEHOLDER.encode()) != 1:
        raise ValueError("the SP's entity ID or an endpoint URL contains a reserved placeholder text")
    head, rest = xml.split(id_marker)
    middle, tail = rest.split(instant_marker)
    template = (head + b'ID="', b'"' + middle + b'IssueInstant="', b'"' + tail)
    if len(_TEMPLATES) >= _MAX_TEMPLATES:
        _TEMPLATES.clear()
    _TEMPLATES[shape] = template
    return template


__all__ = [
    "AuthnContextComparison",
    "AuthnRequest",
    "NameIDPolicy",
    "RequestShape",
    "RequestedAuthnContext",
    "build_authn_request",
    "check_request_id",
    "new_request_id",
    "request_xml",
]
