"""``TestIdP``: an identity provider for tests, demos and the support matrix (TEST USE ONLY).

It does what a real IdP does on the wire: publishes metadata, reads AuthnRequests arriving over the
HTTP-Redirect binding (inflate; the query signature checked over the octets as received) or HTTP-POST
(the enveloped signature checked with signxml), and answers with a Response for the ACS the request
named; or it starts a login itself (IdP-initiated). Everything a real IdP varies is a knob of
:class:`~fedlib.testing.behaviour.IdPBehaviour`, and ``profile="entra"`` (etc.) starts from that vendor's
defaults (:mod:`fedlib.testing.profiles`)::

    idp = TestIdP(profile="okta")
    form = idp.initiate(sp_entity_id=SP, acs_url=ACS, user="ada@example.org")
    validate_response(form.saml_response, ...)

Signatures are made with signxml (``fedlib.testing.responses.sign_element``) and Redirect-binding
query signatures with pyca/cryptography, never with fedlib's own verifier code, so that the two sides of
every test stay independent.
"""

from __future__ import annotations

import base64
import html
import re
import secrets
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote, unquote_plus, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from fedlib.testing._deps import INSTALL_HINT

try:
    from signxml.exceptions import InvalidInput
    from signxml.exceptions import InvalidSignature as SignxmlInvalidSignature
    from signxml.verifier import XMLVerifier
except ImportError as exc:  # the `testing` extra is not installed: say what to install
    raise ModuleNotFoundError(INSTALL_HINT, name="signxml") from exc

from fedlib._xml.parse import decode_base64, inflate, parse_xml, text_content
from fedlib.clock import ensure_aware, format_instant
from fedlib.constants import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    DS_KEY_INFO,
    DS_SIGNATURE,
    NS_DS,
    NS_SAML,
    NS_SAMLP,
    SAML_ASSERTION,
    SAML_ATTRIBUTE,
    SAML_ATTRIBUTE_STATEMENT,
    SAML_ENCRYPTED_ASSERTION,
    SAML_ENCRYPTED_ATTRIBUTE,
    SAML_ENCRYPTED_ID,
    SAML_ISSUER,
    SAML_NAMEID,
    SAML_SUBJECT,
    qname,
)
from fedlib.errors import FedlibError
from fedlib.testing.behaviour import STATUS_CODES, IdPBehaviour
from fedlib.testing.encryption import encrypt_element
from fedlib.testing.keys import KeyKind, TestKey, default_key
from fedlib.testing.metadata import idp_metadata_xml
from fedlib.testing.profiles import GENERIC, VendorProfile, get_profile
from fedlib.testing.responses import OMIT, Omit, ResponseSpec, build_response, new_id, serialize, sign_element

_SAMLP_AUTHN_REQUEST: Final = qname(NS_SAMLP, "AuthnRequest")
_SAMLP_NAME_ID_POLICY: Final = qname(NS_SAMLP, "NameIDPolicy")
_SAMLP_LOGOUT_REQUEST: Final = qname(NS_SAMLP, "LogoutRequest")
_SAMLP_SESSION_INDEX: Final = qname(NS_SAMLP, "SessionIndex")
_SAMLP_LOGOUT_RESPONSE: Final = qname(NS_SAMLP, "LogoutResponse")
_SAMLP_STATUS: Final = qname(NS_SAMLP, "Status")
_SAMLP_STATUS_CODE: Final = qname(NS_SAMLP, "StatusCode")
_STATUS_PARTIAL_LOGOUT: Final = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
_DS_KEY_NAME: Final = qname(NS_DS, "KeyName")

_SIG_ALG_URI: Final[dict[str, str]] = {
    "rsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "rsa-sha384": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "rsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "rsa-sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "ecdsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "ecdsa-sha384": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "ecdsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}
_HASH_OF_URI: Final[dict[str, hashes.HashAlgorithm]] = {
    _SIG_ALG_URI["rsa-sha256"]: hashes.SHA256(),
    _SIG_ALG_URI["rsa-sha384"]: hashes.SHA384(),
    _SIG_ALG_URI["rsa-sha512"]: hashes.SHA512(),
    _SIG_ALG_URI["rsa-sha1"]: hashes.SHA1(),  # noqa: S303 - accepted from SPs only because real IdPs do
    _SIG_ALG_URI["ecdsa-sha256"]: hashes.SHA256(),
    _SIG_ALG_URI["ecdsa-sha384"]: hashes.SHA384(),
    _SIG_ALG_URI["ecdsa-sha512"]: hashes.SHA512(),
}
_PERCENT_ESCAPE: Final = re.compile(r"%[0-9A-F]{2}")


class IdPRefused(FedlibError):
    """The test IdP refuses, as the real one would (e.g. IdP-initiated login switched off).

    ``knob`` names the :class:`IdPBehaviour` knob behind the refusal, so a caller (the support matrix)
    can look up the vendor setting that changes it.
    """

    def __init__(self, message: str, *, knob: str | None = None) -> None:
        super().__init__(message)
        self.knob = knob


@dataclass(frozen=True, slots=True)
class TestUser:
    """A user the test IdP can log in (TEST USE ONLY)."""

    __test__ = False

    name_id: str
    """The NameID value sent for this user."""

    attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Logical attribute name -> values (renamed per the IdP's ``attribute_names`` on the wire)."""

    display_name: str = ""
    """What the login page shows."""


DEFAULT_USERS: Final[tuple[TestUser, ...]] = (
    TestUser(
        "ada@example.org",
        {
            "email": ["ada@example.org"],
            "given_name": ["Ada"],
            "surname": ["Lovelace"],
            "groups": ["admins", "staff"],
        },
        "Ada Lovelace (admin)",
    ),
    TestUser(
        "grace@example.org",
        {
            "email": ["grace@example.org"],
            "given_name": ["Grace"],
            "surname": ["Hopper"],
            "groups": ["staff"],
        },
        "Grace Hopper (staff)",
    ),
    TestUser(
        "zoë.ångström@example.org",
        {
            "email": ["zoë.ångström@example.org"],
            "given_name": ["Zoë"],
            "surname": ["Ångström \U0001d538"],
            "groups": [],
        },
        "Zoë Ångström (unicode, no groups)",
    ),
)
"""Users every TestIdP knows unless given others."""


@dataclass(frozen=True, slots=True)
class AuthnRequestInfo:
    """What the IdP read from an AuthnRequest."""

    id: str
    issuer: str
    acs_url: str | None
    destination: str | None
    relay_state: str | None
    binding: str
    force_authn: bool = False
    is_passive: bool = False
    name_id_policy_format: str | None = None
    signed: bool = False
    """True when the request carried a signature that verified with a certificate of the registered SP."""


@dataclass(frozen=True, slots=True)
class LogoutRequestInfo:
    """What the IdP read from an SP's (signature-checked) LogoutRequest."""

    id: str
    issuer: str
    destination: str | None
    name_id: str | None
    name_id_format: str | None
    name_qualifier: str | None
    sp_name_qualifier: str | None
    session_indexes: tuple[str, ...]
    relay_state: str | None
    binding: str
    signed: bool
    xml: bytes


@dataclass(frozen=True, slots=True)
class LogoutResponseInfo:
    """What the IdP read from an SP's (signature-checked) LogoutResponse."""

    id: str
    in_response_to: str | None
    issuer: str
    destination: str | None
    status_codes: tuple[str, ...]
    relay_state: str | None
    binding: str
    xml: bytes


@dataclass(frozen=True, slots=True)
class PostForm:
    """An HTTP-POST binding message: the form the browser posts to ``action``."""

    action: str
    fields: Mapping[str, str]

    @property
    def saml_response(self) -> str:
        """The ``SAMLResponse`` field (base64)."""
        return self.fields["SAMLResponse"]

    @property
    def relay_state(self) -> str | None:
        """The ``RelayState`` field, if any."""
        return self.fields.get("RelayState")

    @property
    def xml(self) -> bytes:
        """The decoded message."""
        return base64.b64decode(self.fields.get("SAMLResponse") or self.fields["SAMLRequest"])

    def html(self) -> str:
        """A page that posts the form: automatically where scripts run, by its button where they do not."""
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in self.fields.items()
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Signing you in</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(self.action)}">{inputs}'
            '<p>Signing you in.</p><button type="submit" id="continue">Continue</button></form></body></html>'
        )


@dataclass(frozen=True, slots=True)
class RegisteredSP:
    """An SP the IdP knows: where it may send Responses and which keys sign its requests."""

    entity_id: str
    acs_urls: tuple[str, ...]
    signing_certificates: tuple[x509.Certificate, ...] = ()
    slo_url: str | None = None
    """The SP's SingleLogoutService (HTTP-Redirect), where LogoutRequests and LogoutResponses go."""


def _encode(value: str, *, lowercase: bool) -> str:
    encoded = quote(value, safe="")
    return _PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), encoded) if lowercase else encoded


def _sign_octets(key: TestKey, algorithm_uri: str, octets: bytes) -> bytes:
    hash_algorithm = _HASH_OF_URI[algorithm_uri]
    private_key = key.private_key
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(octets, padding.PKCS1v15(), hash_algorithm)
    return private_key.sign(octets, ec.ECDSA(hash_algorithm))  # DER: what the Redirect binding carries


def _verify_octets(certificate: x509.Certificate, algorithm_uri: str, signature: bytes, octets: bytes) -> bool:
    hash_algorithm = _HASH_OF_URI.get(algorithm_uri)
    if hash_algorithm is None:
        return False
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and "rsa" in algorithm_uri:
            key.verify(signature, octets, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and "ecdsa" in algorithm_uri:
            key.verify(signature, octets, ec.ECDSA(hash_algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _raw_query(url_or_query: str) -> str:
    return urlsplit(url_or_query).query if "?" in url_or_query or "://" in url_or_query else url_or_query


def _raw_params(query: str) -> dict[str, str]:
    """Split a query string into name -> raw (still percent-encoded) value; a repeated name is refused."""
    out: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if name in out:
            raise IdPRefused(f"the query repeats {name}")
        out[name] = value
    return out


class TestIdP:
    """A SAML 2.0 identity provider for tests (TEST USE ONLY; never deploy it).

    Args:
        entity_id: the IdP's entityID (also the base of its URLs unless ``base_url`` is given).
        base_url: where its endpoints live (``/sso``, ``/slo``, ``/metadata``).
        profile: a vendor profile name (``entra``, ``okta``, ``adfs``, ...) or object whose defaults to start
            from; default a well-behaved generic IdP.
        key: the signing key (a TEST key); default a cached one per ``key_kind`` (RSA-2048 or EC P-256).
        key_kind: ``"rsa"`` or ``"ec"`` when no key is given.
        users: who can log in (default :data:`DEFAULT_USERS`).
        encryption_certificate: the SP encryption certificate an administrator uploaded, used by the
            ``encrypt_*`` knobs; default a cached TEST certificate.
        clock: returns the true current time when a call passes no ``now``.
        **knobs: :class:`IdPBehaviour` knobs that override the profile's defaults.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        entity_id: str = "https://idp.example.test/saml",
        *,
        base_url: str | None = None,
        profile: str | VendorProfile | None = None,
        key: TestKey | None = None,
        key_kind: KeyKind = "rsa",
        users: Iterable[TestUser] = DEFAULT_USERS,
        encryption_certificate: x509.Certificate | None = None,
        clock: Callable[[], datetime] | None = None,
        **knobs: Any,
    ) -> None:
        self.entity_id = entity_id
        self.base_url = (base_url or entity_id).rstrip("/")
        self.profile = get_profile(profile) if isinstance(profile, str) else (profile or GENERIC)
        self.behaviour = self.profile.behaviour(**knobs)
        self.key = key or default_key(key_kind)
        self.users: dict[str, TestUser] = {u.name_id: u for u in users}
        self.encryption_certificate = encryption_certificate or default_key("rsa", "sp-encryption").certificate
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sps: dict[str, RegisteredSP] = {}

    # ---- identity --------------------------------------------------------------------------------

    @property
    def sso_url(self) -> str:
        return self.base_url + "/sso"

    @property
    def slo_url(self) -> str:
        return self.base_url + "/slo"

    @property
    def metadata_url(self) -> str:
        return self.base_url + "/metadata"

    def metadata_xml(self, *, extra_certificates: Sequence[x509.Certificate] = ()) -> bytes:
        """This IdP's metadata: signing certificate(s), SSO and SLO over Redirect and POST."""
        return idp_metadata_xml(
            self.entity_id,
            [self.key.certificate, *extra_certificates],
            sso_url=self.sso_url,
            slo_url=self.slo_url,
            want_authn_requests_signed=self.behaviour.want_authn_requests_signed,
        )

    def with_knobs(self, **knobs: Any) -> TestIdP:
        """A copy of this IdP (same key, users, SPs) with some knobs changed."""
        other = TestIdP.__new__(TestIdP)
        other.__dict__.update(self.__dict__)
        other.behaviour = self.behaviour.replace(**knobs)
        other.sps = dict(self.sps)
        return other

    def register_sp(
        self,
        entity_id: str,
        acs_urls: str | Sequence[str],
        signing_certificates: Sequence[x509.Certificate] = (),
        *,
        slo_url: str | None = None,
    ) -> RegisteredSP:
        """Trust an SP: Responses go only to its ACS URLs; its certificates verify its signed requests;
        logout messages go to its ``slo_url``."""
        urls = (acs_urls,) if isinstance(acs_urls, str) else tuple(acs_urls)
        sp = RegisteredSP(entity_id, urls, tuple(signing_certificates), slo_url)
        self.sps[entity_id] = sp
        return sp

    def user(self, who: TestUser | str | None) -> TestUser:
        """A known user by NameID (default: the first one), or the given ``TestUser``."""
        if isinstance(who, TestUser):
            return who
        if who is None:
            return next(iter(self.users.values()))
        try:
            return self.users[who]
        except KeyError:
            raise IdPRefused(f"unknown user {who!r}") from None

    # ---- receiving AuthnRequests -----------------------------------------------------------------

    def receive_redirect(self, url_or_query: str) -> AuthnRequestInfo:
        """Read an AuthnRequest sent with the HTTP-Redirect binding (the full URL or its raw query)."""
        xml, relay_state, signed = self._read_redirect(url_or_query, "SAMLRequest")
        return self._read_request(xml, relay_state, BINDING_HTTP_REDIRECT, signed)

    def _read_redirect(self, url_or_query: str, parameter: str) -> tuple[bytes, str | None, bool]:
        """The message, RelayState, and whether a signature of the registered SP verified (a signature that
        does not verify is refused)."""
        query = _raw_query(url_or_query)
        params = _raw_params(query)
        if parameter not in params:
            raise IdPRefused(f"no {parameter} in the query")
        xml = inflate(decode_base64(unquote_plus(params[parameter])))
        relay_state = unquote_plus(params["RelayState"]) if "RelayState" in params else None
        signed = False
        if "Signature" in params:
            # Bindings §3.4.4.1: the signature covers the parameters exactly as they arrived.
            parts = [f"{parameter}={params[parameter]}"]
            if "RelayState" in params:
                parts.append(f"RelayState={params['RelayState']}")
            parts.append(f"SigAlg={params.get('SigAlg', '')}")
            octets = "&".join(parts).encode("ascii")
            algorithm = unquote_plus(params.get("SigAlg", ""))
            signature = base64.b64decode(unquote_plus(params["Signature"]))
            signed = self._check_request_signature(xml, lambda cert: _verify_octets(cert, algorithm, signature, octets))
        return xml, relay_state, signed

    def receive_post(self, saml_request: str, relay_state: str | None = None) -> AuthnRequestInfo:
        """Read an AuthnRequest sent with the HTTP-POST binding (the ``SAMLRequest`` form value)."""
        xml, signed = self._read_post(saml_request)
        return self._read_request(xml, relay_state, BINDING_HTTP_POST, signed)

    def _read_post(self, value: str) -> tuple[bytes, bool]:
        xml = decode_base64(value)
        signed = False
        if parse_xml(xml).find(DS_SIGNATURE) is not None:
            signed = self._check_request_signature(xml, lambda cert: self._signxml_verifies(xml, cert))
        return xml, signed

    @staticmethod
    def _signxml_verifies(xml: bytes, certificate: x509.Certificate) -> bool:
        try:
            XMLVerifier().verify(xml, x509_cert=certificate.public_bytes(Encoding.PEM).decode(), id_attribute="ID")
        except (SignxmlInvalidSignature, InvalidInput):
            return False
        return True

    def _check_request_signature(self, xml: bytes, verifies: Callable[[x509.Certificate], bool]) -> bool:
        issuer = (parse_xml(xml).findtext(SAML_ISSUER) or "").strip()
        sp = self.sps.get(issuer)
        if sp is None or not sp.signing_certificates:
            return False  # an SP the IdP holds no keys for: the signature cannot be checked, so it counts for nothing
        if not any(verifies(cert) for cert in sp.signing_certificates):
            raise IdPRefused(f"the signature does not verify with the certificates of {issuer}")
        return True

    def _read_request(self, xml: bytes, relay_state: str | None, binding: str, signed: bool) -> AuthnRequestInfo:
        root = parse_xml(xml)
        if root.tag != _SAMLP_AUTHN_REQUEST:
            raise IdPRefused("the message is not an AuthnRequest")
        if not self.behaviour.sp_initiated:
            raise IdPRefused("this IdP does not accept AuthnRequests", knob="sp_initiated")
        if self.behaviour.want_authn_requests_signed and not signed:
            raise IdPRefused("this IdP wants signed AuthnRequests", knob="want_authn_requests_signed")
        policy = root.find(_SAMLP_NAME_ID_POLICY)
        return AuthnRequestInfo(
            id=root.get("ID") or "",
            issuer=(root.findtext(SAML_ISSUER) or "").strip(),
            acs_url=root.get("AssertionConsumerServiceURL"),
            destination=root.get("Destination"),
            relay_state=relay_state,
            binding=binding,
            force_authn=root.get("ForceAuthn") in ("true", "1"),
            is_passive=root.get("IsPassive") in ("true", "1"),
            name_id_policy_format=policy.get("Format") if policy is not None else None,
            signed=signed,
        )

    # ---- answering -------------------------------------------------------------------------------

    def respond(
        self,
        request: AuthnRequestInfo,
        user: TestUser | str | None = None,
        *,
        now: datetime | None = None,
        **knobs: Any,
    ) -> PostForm:
        """Answer an AuthnRequest with a Response posted to the ACS it named (or the SP's first ACS)."""
        sp = self.sps.get(request.issuer)
        acs_url = request.acs_url or (sp.acs_urls[0] if sp else None)
        if acs_url is None:
            raise IdPRefused(f"no ACS URL: the request names none and {request.issuer!r} is not registered")
        if sp is not None and acs_url not in sp.acs_urls:
            raise IdPRefused(f"{acs_url} is not an ACS URL registered for {request.issuer}")
        behaviour = self.behaviour.replace(**knobs) if knobs else self.behaviour
        xml = self.response_xml(
            sp_entity_id=request.issuer,
            acs_url=acs_url,
            in_response_to=request.id,
            user=user,
            now=now,
            behaviour=behaviour,
        )
        return self._post(acs_url, xml, request.relay_state)

    def initiate(
        self,
        sp_entity_id: str,
        acs_url: str | None = None,
        user: TestUser | str | None = None,
        *,
        relay_state: str | None = None,
        now: datetime | None = None,
        **knobs: Any,
    ) -> PostForm:
        """Start an IdP-initiated login: an unsolicited Response posted to the SP's ACS."""
        behaviour = self.behaviour.replace(**knobs) if knobs else self.behaviour
        if not behaviour.idp_initiated:
            raise IdPRefused("IdP-initiated login is switched off at this IdP", knob="idp_initiated")
        if acs_url is None:
            sp = self.sps.get(sp_entity_id)
            if sp is None:
                raise IdPRefused(f"{sp_entity_id!r} is not registered and no ACS URL was given")
            acs_url = sp.acs_urls[0]
        xml = self.response_xml(
            sp_entity_id=sp_entity_id,
            acs_url=acs_url,
            in_response_to=behaviour.in_response_to_on_unsolicited,
            user=user,
            now=now,
            behaviour=behaviour,
        )
        return self._post(acs_url, xml, relay_state)

    def _post(self, acs_url: str, xml: bytes, relay_state: str | None) -> PostForm:
        fields = {"SAMLResponse": base64.b64encode(xml).decode("ascii")}
        if relay_state is not None:
            fields["RelayState"] = relay_state
        return PostForm(action=acs_url, fields=MappingProxyType(fields))

    def response_xml(
        self,
        *,
        sp_entity_id: str,
        acs_url: str,
        in_response_to: str | None,
        user: TestUser | str | None = None,
        now: datetime | None = None,
        behaviour: IdPBehaviour | None = None,
        **spec_overrides: Any,
    ) -> bytes:
        """Build, encrypt and sign a Response as this IdP's behaviour says, and serialise it.

        ``spec_overrides`` are passed to :class:`~fedlib.testing.ResponseSpec` (e.g. ``audiences=[...]``)
        for tests that need a field no knob covers.
        """
        b = behaviour or self.behaviour
        who = self.user(user)
        true_now = ensure_aware(now) if now is not None else self.clock()
        idp_now = true_now + b.clock_offset
        status_code, second_status = STATUS_CODES[b.status]
        spec = ResponseSpec(
            idp_entity_id=self.entity_id,
            sp_entity_id=sp_entity_id,
            acs_url=acs_url,
            now=idp_now,
            name_id=who.name_id,
            name_id_format=b.name_id_format,
            attributes={b.attribute_names.get(k, k): list(v) for k, v in who.attributes.items() if v},
            attribute_name_format=b.attribute_name_format,
            attribute_friendly_names={b.attribute_names.get(k, k): f for k, f in b.attribute_friendly_names.items()},
            in_response_to=in_response_to,
            lifetime=b.lifetime,
            session_index=None if b.session_index else OMIT,
            session_not_on_or_after=idp_now + b.session_lifetime if b.session_lifetime is not None else None,
            authn_context_class_ref=b.authn_context_class_ref,
            status_code=status_code,
            second_status_code=second_status,
            status_message=b.status_message,
            **spec_overrides,
        )
        root = build_response(spec)
        assertion = root.find(SAML_ASSERTION)
        if assertion is not None:
            self._encrypt_inside(assertion, b)
            if b.signing in ("assertion", "both"):
                self._sign(assertion, b)
            if b.encrypt_assertion:
                wrapper = etree.Element(SAML_ENCRYPTED_ASSERTION, nsmap={"saml": NS_SAML})
                wrapper.append(
                    encrypt_element(assertion, self.encryption_certificate, algorithm=b.encryption_algorithm)
                )
                root.replace(assertion, wrapper)
        if b.signing in ("response", "both"):
            self._sign(root, b)
        return serialize(root)

    def _encrypt_inside(self, assertion: etree._Element, b: IdPBehaviour) -> None:
        if b.encrypt_name_id:
            subject = assertion.find(SAML_SUBJECT)
            name_id = subject.find(SAML_NAMEID) if subject is not None else None
            if subject is not None and name_id is not None:
                wrapper = etree.Element(SAML_ENCRYPTED_ID)
                wrapper.append(encrypt_element(name_id, self.encryption_certificate, algorithm=b.encryption_algorithm))
                subject.replace(name_id, wrapper)
        if b.encrypt_attributes:
            for statement in assertion.iterchildren(SAML_ATTRIBUTE_STATEMENT):
                for attribute in list(statement.iterchildren(SAML_ATTRIBUTE)):
                    wrapper = etree.Element(SAML_ENCRYPTED_ATTRIBUTE)
                    wrapper.append(
                        encrypt_element(attribute, self.encryption_certificate, algorithm=b.encryption_algorithm)
                    )
                    statement.replace(attribute, wrapper)

    def _sign(self, element: etree._Element, b: IdPBehaviour) -> None:
        mode = b.key_info
        sign_element(
            element,
            self.key,
            signature_algorithm=b.signature_algorithm,
            digest_algorithm=b.digest_algorithm,
            c14n=b.c14n,
            include_cert=mode in ("certificate", "certificate+keyvalue"),
            include_key_value=mode == "certificate+keyvalue",
            include_key_info=mode != "none",
            key_name=(b.key_name or self.key_id) if mode in ("certificate+keyvalue", "keyname") else None,
        )
        signature = element.find(DS_SIGNATURE)
        assert signature is not None
        if mode == "keyname":
            # KeyInfo is outside what is signed (the enveloped transform removes the whole Signature),
            # so trimming it to the KeyName leaves the signature valid.
            key_info = signature.find(DS_KEY_INFO)
            if key_info is not None:
                for child in list(key_info):
                    if child.tag != _DS_KEY_NAME:
                        key_info.remove(child)
        if b.signature_position == "first":
            element.insert(0, signature)
        elif b.signature_position == "last":
            element.append(signature)

    @property
    def key_id(self) -> str:
        """A short key identifier (what Keycloak puts in KeyName)."""
        return base64.urlsafe_b64encode(self.key.cert_der[-24:]).decode("ascii").rstrip("=")

    # ---- LogoutRequests from the IdP (HTTP-Redirect and HTTP-POST) ----------------------------------

    def logout_request_xml(
        self,
        destination: str | None,
        name_id: str,
        *,
        session_index: str | None = None,
        session_indexes: Sequence[str] = (),
        name_id_format: str | Omit | None = None,
        name_qualifier: str | None = None,
        sp_name_qualifier: str | None = None,
        issuer: str | None = None,
        not_on_or_after: datetime | None = None,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> etree._Element:
        """An unsigned ``<samlp:LogoutRequest>`` element (``destination=None`` leaves Destination out;
        ``issuer`` overrides this IdP's entity ID). The NameID ``Format`` defaults to the one this IdP
        sends at login (``name_id_format`` knob), as real IdPs do; ``OMIT`` leaves it out."""
        b = self.behaviour
        instant = (ensure_aware(now) if now is not None else self.clock()) + b.clock_offset
        root = etree.Element(_SAMLP_LOGOUT_REQUEST, nsmap={"samlp": NS_SAMLP, "saml": NS_SAML})
        root.set("ID", request_id or new_id())
        root.set("Version", "2.0")
        root.set("IssueInstant", format_instant(instant))
        if destination is not None:
            root.set("Destination", destination)
        if not_on_or_after is not None:
            root.set("NotOnOrAfter", format_instant(not_on_or_after))
        etree.SubElement(root, SAML_ISSUER).text = issuer or self.entity_id
        name = etree.SubElement(root, SAML_NAMEID)
        name.text = name_id
        fmt = b.name_id_format if name_id_format is None else (None if name_id_format is OMIT else name_id_format)
        for attribute, value in (
            ("Format", fmt),
            ("NameQualifier", name_qualifier),
            ("SPNameQualifier", sp_name_qualifier),
        ):
            if value is not None:
                name.set(attribute, value)
        for index in ([session_index] if session_index is not None else []) + list(session_indexes):
            etree.SubElement(root, _SAMLP_SESSION_INDEX).text = index
        return root

    def logout_request_url(
        self,
        destination: str,
        name_id: str,
        *,
        relay_state: str | None = None,
        sign: bool = True,
        xml: bytes | None = None,
        **fields: Any,
    ) -> str:
        """A LogoutRequest over the HTTP-Redirect binding, signed over the query as the IdP encodes it
        (lower-case percent-encoding when ``lowercase_percent_encoding``: AD FS / Entra ID). ``fields`` go
        to :meth:`logout_request_xml`; ``xml`` replaces the message altogether (still signed)."""
        if xml is None:
            xml = etree.tostring(self.logout_request_xml(destination, name_id, **fields))
        return self._redirect_url(destination, "SAMLRequest", xml, relay_state=relay_state, sign=sign)

    def _redirect_url(
        self, destination: str, parameter: str, xml: bytes, *, relay_state: str | None, sign: bool
    ) -> str:
        b = self.behaviour
        compressor = zlib.compressobj(wbits=-15)
        deflated = compressor.compress(xml) + compressor.flush()
        lower = b.lowercase_percent_encoding
        parts = [f"{parameter}={_encode(base64.b64encode(deflated).decode('ascii'), lowercase=lower)}"]
        if relay_state is not None:
            parts.append(f"RelayState={_encode(relay_state, lowercase=lower)}")
        if sign:
            algorithm = _SIG_ALG_URI.get(
                b.signature_algorithm or f"{'rsa' if self.key.kind == 'rsa' else 'ecdsa'}-sha256"
            )
            if algorithm is None:
                raise ValueError(f"no Redirect-binding SigAlg for {b.signature_algorithm!r}")
            parts.append(f"SigAlg={_encode(algorithm, lowercase=lower)}")
            signature = _sign_octets(self.key, algorithm, "&".join(parts).encode("ascii"))
            parts.append(f"Signature={_encode(base64.b64encode(signature).decode('ascii'), lowercase=lower)}")
        return f"{destination}{'&' if '?' in destination else '?'}{'&'.join(parts)}"

    def logout_request_post(
        self,
        destination: str,
        name_id: str,
        *,
        relay_state: str | None = None,
        sign: bool = True,
        **fields: Any,
    ) -> PostForm:
        """A LogoutRequest over the HTTP-POST binding: the form the IdP's page posts to ``destination``,
        with an enveloped signature made by signxml as this IdP's behaviour says (``sign=False``: none)."""
        return self._post_message(
            destination,
            "SAMLRequest",
            self.logout_request_xml(destination, name_id, **fields),
            relay_state=relay_state,
            sign=sign,
        )

    def _post_message(
        self, destination: str, parameter: str, root: etree._Element, *, relay_state: str | None, sign: bool
    ) -> PostForm:
        if sign:
            self._sign(root, self.behaviour)
        values = {parameter: base64.b64encode(serialize(root)).decode("ascii")}
        if relay_state is not None:
            values["RelayState"] = relay_state
        return PostForm(action=destination, fields=MappingProxyType(values))

    # ---- SP-initiated logout: the SP's LogoutRequest in, the IdP's LogoutResponse out ---------------

    def _read_sp_message(
        self, url_or_query: str | None, form: Mapping[str, str] | None, parameter: str
    ) -> tuple[bytes, str | None, str, bool]:
        """(xml, RelayState, binding, signed) of a message from the SP, over POST (``form``) or Redirect."""
        if form is not None:
            xml, signed = self._read_post(form[parameter])
            return xml, form.get("RelayState"), BINDING_HTTP_POST, signed
        assert url_or_query is not None
        xml, relay_state, signed = self._read_redirect(url_or_query, parameter)
        return xml, relay_state, BINDING_HTTP_REDIRECT, signed

    def receive_logout_request(
        self, url_or_query: str | None = None, *, form: Mapping[str, str] | None = None, require_signed: bool = True
    ) -> LogoutRequestInfo:
        """Read an SP's LogoutRequest: over HTTP-Redirect (the URL or its raw query) or HTTP-POST (``form``,
        the posted fields). Its signature must verify with a certificate of the registered SP (a real IdP
        refuses unsigned LogoutRequests; ``require_signed=False`` reads one anyway)."""
        xml, relay_state, binding, signed = self._read_sp_message(url_or_query, form, "SAMLRequest")
        if require_signed and not signed:
            raise IdPRefused("the LogoutRequest is not signed by a registered SP")
        root = parse_xml(xml)
        if root.tag != _SAMLP_LOGOUT_REQUEST:
            raise IdPRefused("the message is not a LogoutRequest")
        name = root.find(SAML_NAMEID)
        return LogoutRequestInfo(
            id=root.get("ID") or "",
            issuer=(root.findtext(SAML_ISSUER) or "").strip(),
            destination=root.get("Destination"),
            name_id=text_content(name) if name is not None else None,
            name_id_format=name.get("Format") if name is not None else None,
            name_qualifier=name.get("NameQualifier") if name is not None else None,
            sp_name_qualifier=name.get("SPNameQualifier") if name is not None else None,
            session_indexes=tuple(text_content(e) for e in root.iterchildren(_SAMLP_SESSION_INDEX)),
            relay_state=relay_state,
            binding=binding,
            signed=signed,
            xml=xml,
        )

    def logout_response_xml(
        self,
        destination: str | None,
        in_response_to: str | None,
        *,
        status: str = "success",
        partial: bool = False,
        issuer: str | None = None,
        response_id: str | None = None,
        now: datetime | None = None,
    ) -> etree._Element:
        """An unsigned ``<samlp:LogoutResponse>`` (``status``: a ``STATUS_CODES`` kind; ``partial`` adds the
        second-level PartialLogout; ``None`` destination / in_response_to leave the attribute out)."""
        instant = (ensure_aware(now) if now is not None else self.clock()) + self.behaviour.clock_offset
        root = etree.Element(_SAMLP_LOGOUT_RESPONSE, nsmap={"samlp": NS_SAMLP, "saml": NS_SAML})
        root.set("ID", response_id or new_id())
        if in_response_to is not None:
            root.set("InResponseTo", in_response_to)
        root.set("Version", "2.0")
        root.set("IssueInstant", format_instant(instant))
        if destination is not None:
            root.set("Destination", destination)
        etree.SubElement(root, SAML_ISSUER).text = issuer or self.entity_id
        top, second = STATUS_CODES[status]
        code = etree.SubElement(etree.SubElement(root, _SAMLP_STATUS), _SAMLP_STATUS_CODE)
        code.set("Value", top)
        if partial:
            second = _STATUS_PARTIAL_LOGOUT
        if second is not None:
            etree.SubElement(code, _SAMLP_STATUS_CODE).set("Value", second)
        return root

    def answer_logout(
        self,
        request: LogoutRequestInfo,
        destination: str,
        *,
        binding: str = BINDING_HTTP_REDIRECT,
        sign: bool = True,
        **fields: Any,
    ) -> str | PostForm:
        """The LogoutResponse to an SP's LogoutRequest, sent to ``destination`` (the SP's SLO URL) over
        ``binding``: a URL (HTTP-Redirect, query-signed) or a ``PostForm`` (enveloped signature). The
        request's RelayState is echoed. ``fields`` go to :meth:`logout_response_xml`."""
        fields.setdefault("in_response_to", request.id)
        root = self.logout_response_xml(destination, **fields)
        if binding == BINDING_HTTP_REDIRECT:
            return self._redirect_url(
                destination, "SAMLResponse", etree.tostring(root), relay_state=request.relay_state, sign=sign
            )
        return self._post_message(destination, "SAMLResponse", root, relay_state=request.relay_state, sign=sign)

    # ---- IdP-initiated logout: the SP's LogoutResponse in ------------------------------------------

    def receive_logout_response(
        self, url_or_query: str | None = None, *, form: Mapping[str, str] | None = None
    ) -> LogoutResponseInfo:
        """Read an SP's LogoutResponse (Redirect URL or POST ``form``); its signature must verify with a
        certificate of the registered SP."""
        xml, relay_state, binding, signed = self._read_sp_message(url_or_query, form, "SAMLResponse")
        if not signed:
            raise IdPRefused("the LogoutResponse is not signed by a registered SP")
        root = parse_xml(xml)
        if root.tag != _SAMLP_LOGOUT_RESPONSE:
            raise IdPRefused("the message is not a LogoutResponse")
        codes: list[str] = []
        code = root.find(f"{_SAMLP_STATUS}/{_SAMLP_STATUS_CODE}")
        while code is not None:
            codes.append(code.get("Value") or "")
            code = code.find(_SAMLP_STATUS_CODE)
        return LogoutResponseInfo(
            id=root.get("ID") or "",
            in_response_to=root.get("InResponseTo"),
            issuer=(root.findtext(SAML_ISSUER) or "").strip(),
            destination=root.get("Destination"),
            status_codes=tuple(codes),
            relay_state=relay_state,
            binding=binding,
            xml=xml,
        )


def read_name_id(xml: bytes) -> str | None:
    """The NameID text of a (decoded) Response, for tests that inspect what was sent."""
    root = parse_xml(xml)
    element = next(root.iter(SAML_NAMEID), None)
    return text_content(element) if element is not None else None


def random_request_id() -> str:
    """An AuthnRequest-style ID (``_`` + 32 hex digits)."""
    return "_" + secrets.token_hex(16)


__all__ = [
    "DEFAULT_USERS",
    "AuthnRequestInfo",
    "IdPRefused",
    "LogoutRequestInfo",
    "LogoutResponseInfo",
    "PostForm",
    "RegisteredSP",
    "TestIdP",
    "TestUser",
    "random_request_id",
    "read_name_id",
]
