"""Import a python3-saml (OneLogin toolkit) configuration: ``settings.json`` (+ ``advanced_settings.json``).

:func:`import_python3_saml` turns the two dictionaries into fedlib settings (see :mod:`fedlib.settings`)
and lists, setting by setting, what fedlib cannot honour and why. Nothing is silently dropped: every
key is either carried over, reported in ``not_honoured`` (fedlib behaves differently, usually stricter),
or reported as unknown.

What carries over:

* ``sp.entityId``, ``sp.assertionConsumerService.url``, ``sp.singleLogoutService.url``,
  ``sp.NameIDFormat`` (published in the metadata), ``contactPerson``, ``organization`` (one language);
* ``sp.x509cert`` and ``sp.x509certNew`` (rollover: both published, current first), and ``sp.privateKey``
  when ``security.authnRequestsSigned`` is true (fedlib signs AuthnRequests exactly when it has a key);
* the IdP (``idp.entityId``, ``singleSignOnService``, ``singleLogoutService``, ``x509cert`` or
  ``x509certMulti.signing``) becomes an inline IdP metadata document (fedlib trusts IdPs through
  metadata only).

Certificates and keys given as files in python3-saml's ``certs/`` folder (``sp.crt``, ``sp.key``,
``sp_new.crt``, ``idp.crt``) are read from ``certs_dir`` when the inline values are empty; the key then
stays a file reference, an inline ``privateKey`` is written inline (move it to a file).

What fedlib does not honour (reported): ``strict = false`` (fedlib is always strict), ``wantMessagesSigned
= false`` (python3-saml's default: fedlib always requires the Response signature), ``wantAssertionsSigned``
(fedlib requires the Response signature instead), every encryption setting (fedlib refuses encrypted
assertions), ``idp.certFingerprint`` (a certificate is required), SHA-1 acceptance
(``rejectDeprecatedAlgorithm = false``), and the per-request or metadata-rendering settings that are
arguments in fedlib rather than configuration.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from lxml import etree

from fedlib.constants import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    NS_DS,
    NS_MD,
    PROTOCOL_SAML2,
    qname,
)
from fedlib.errors import ConfigurationError
from fedlib.settings import DEFAULT_STORE_URL, Settings, dump_toml, load_settings

_RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_SHA256: Final = "http://www.w3.org/2001/04/xmlenc#sha256"

_TOP_KEYS: Final = ("strict", "debug", "sp", "idp", "security", "contactPerson", "organization", "custom_base_path")
_SP_KEYS: Final = (
    "entityId",
    "assertionConsumerService",
    "singleLogoutService",
    "attributeConsumingService",
    "NameIDFormat",
    "x509cert",
    "x509certNew",
    "privateKey",
)
_IDP_KEYS: Final = (
    "entityId",
    "singleSignOnService",
    "singleLogoutService",
    "x509cert",
    "x509certMulti",
    "certFingerprint",
    "certFingerprintAlgorithm",
)
_SECURITY_KEYS: Final = (
    "nameIdEncrypted",
    "authnRequestsSigned",
    "logoutRequestSigned",
    "logoutResponseSigned",
    "signMetadata",
    "wantMessagesSigned",
    "wantAssertionsSigned",
    "wantAssertionsEncrypted",
    "wantNameId",
    "wantNameIdEncrypted",
    "wantAttributeStatement",
    "requestedAuthnContext",
    "requestedAuthnContextComparison",
    "failOnAuthnContextMismatch",
    "metadataValidUntil",
    "metadataCacheDuration",
    "allowSingleLabelDomains",
    "signatureAlgorithm",
    "digestAlgorithm",
    "allowRepeatAttributeName",
    "rejectDeprecatedAlgorithm",
    # php-saml / java-saml keys that python3-saml configurations sometimes carry
    "rejectUnsolicitedResponsesWithInResponseTo",
)
_CONTACT_KEYS: Final = {
    "givenName": "given_name",
    "surName": "surname",
    "company": "company",
    "emailAddress": "email_addresses",
    "telephoneNumber": "telephone_numbers",
}
_ORGANIZATION_KEYS: Final = {"name": "name", "displayname": "display_name", "url": "url"}

_ALWAYS_SIGNED: Final = (
    "fedlib always requires a valid signature on the Response itself (there is no setting to turn that off); "
    "an IdP that signs only the Assertion is rejected with assertion-only-signature: set it to sign the Response"
)
_NO_ENCRYPTION: Final = (
    "fedlib refuses encrypted assertions and NameIDs by design (encrypted-claims-unsupported) and holds no "
    "decryption key; TLS protects the POST: set the IdP to send them unencrypted"
)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The imported configuration and what did not carry over."""

    data: Mapping[str, Any]
    """fedlib settings, TOML-ready (:meth:`toml`), in the shape :func:`fedlib.settings.load_settings` reads."""
    settings: Settings
    """``data`` loaded: proof that it is a valid fedlib configuration."""
    not_honoured: tuple[tuple[str, str], ...]
    """``(python3-saml setting, reason)`` for every setting fedlib cannot honour, including unknown keys."""
    notes: tuple[tuple[str, str], ...]
    """``(topic, what to know)``: carried over, but fedlib differs or needs something done by hand."""

    def toml(self) -> str:
        """``data`` as a TOML file, with the report as comments at the top."""
        lines = ["# fedlib settings imported from a python3-saml configuration (fedlib import-python3-saml)."]
        if self.not_honoured:
            lines.append("#")
            lines.append("# NOT honoured by fedlib:")
            lines += [f"#   {setting}: {_one_line(reason)}" for setting, reason in self.not_honoured]
        if self.notes:
            lines.append("#")
            lines.append("# Notes:")
            lines += [f"#   {topic}: {_one_line(note)}" for topic, note in self.notes]
        return "\n".join(lines) + "\n\n" + dump_toml(self.data)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Report:
    def __init__(self) -> None:
        self.not_honoured: list[tuple[str, str]] = []
        self.notes: list[tuple[str, str]] = []

    def no(self, setting: str, reason: str) -> None:
        self.not_honoured.append((setting, reason))

    def note(self, topic: str, text: str) -> None:
        self.notes.append((topic, text))

    def unknown(self, table: Mapping[str, Any], known: Any, where: str) -> None:
        for key in table:
            if key not in known:
                self.no(f"{where}{key}", "not a python3-saml setting fedlib knows; ignored")


def import_python3_saml(
    settings: Mapping[str, Any],
    advanced: Mapping[str, Any] | None = None,
    *,
    now: datetime,
    certs_dir: Path | None = None,
) -> ImportReport:
    """Convert python3-saml settings to fedlib settings.

    Args:
        settings: the parsed ``settings.json`` (or the dict given to ``OneLogin_Saml2_Settings``).
        advanced: the parsed ``advanced_settings.json``; merged over ``settings`` at the top level, as
            python3-saml does.
        now: the current time (the result is loaded once to prove it valid).
        certs_dir: python3-saml's ``certs/`` folder, read when the inline certificates or key are empty.

    Raises:
        ConfigurationError: the settings are not usable (no SP entityId or ACS URL, no IdP certificate, a
            certificate that does not parse, authnRequestsSigned without a key, ...).
    """
    merged: dict[str, Any] = dict(_mapping(settings, "settings"))
    if advanced is not None:
        merged.update(_mapping(advanced, "advanced settings"))
    report = _Report()
    report.unknown(merged, _TOP_KEYS, "")

    if merged.get("strict", True) is not True:
        report.no("strict", "fedlib is always strict (signatures, Destination, Audience, times, InResponseTo)")
    if merged.get("debug"):
        report.note("debug", "fedlib logs through the 'fedlib' logger; every rejection carries code, message, detail")
    if "custom_base_path" in merged:
        report.note("custom_base_path", "certificates and keys are read from certs_dir (--certs-dir)")

    sp_in = _mapping(merged.get("sp"), "sp")
    idp_in = _mapping(merged.get("idp"), "idp")
    security = _mapping(merged.get("security", {}), "security")
    report.unknown(sp_in, _SP_KEYS, "sp.")
    report.unknown(idp_in, _IDP_KEYS, "idp.")
    report.unknown(security, _SECURITY_KEYS, "security.")

    sp = _sp(sp_in, security, certs_dir, report)
    idp = _idp(idp_in, certs_dir, report)
    _security(security, report)
    _contacts_and_organization(merged, sp, report)

    report.note(
        "IdP-initiated login",
        "python3-saml accepted an unsolicited Response whenever the application called process_response() "
        "without a request_id; fedlib refuses them unless allow_unsolicited = true is set for the IdP "
        "([[idps]] allow_unsolicited); the import leaves it off",
    )
    report.note(
        "clock skew",
        "python3-saml tolerated 300 s of clock drift; fedlib's default is 180 s "
        "([sp.policy] clock_skew_seconds to change it)",
    )
    report.note(
        "store",
        "python3-saml kept no state; fedlib remembers pending requests and assertion IDs (one use each): "
        "memory:// serves one process only, use sqlite:///path or redis://host/0 when several workers serve the SP",
    )
    data: dict[str, Any] = {"store": DEFAULT_STORE_URL, "sp": sp, "idps": [idp]}
    try:
        loaded = load_settings(data, now=now)
    except ConfigurationError as exc:
        raise ConfigurationError(f"the imported settings are not valid: {exc.message}", detail=exc.detail) from None
    return ImportReport(data=data, settings=loaded, not_honoured=tuple(report.not_honoured), notes=tuple(report.notes))


# ---- sections --------------------------------------------------------------------------------------


def _sp(
    sp_in: Mapping[str, Any], security: Mapping[str, Any], certs_dir: Path | None, report: _Report
) -> dict[str, Any]:
    sp: dict[str, Any] = {"entity_id": _text(sp_in, "entityId", "sp", required=True)}
    acs = _mapping(sp_in.get("assertionConsumerService"), "sp.assertionConsumerService")
    report.unknown(acs, ("url", "binding"), "sp.assertionConsumerService.")
    sp["acs_url"] = _text(acs, "url", "sp.assertionConsumerService", required=True)
    if acs.get("binding", BINDING_HTTP_POST) != BINDING_HTTP_POST:
        report.no("sp.assertionConsumerService.binding", "fedlib's ACS takes the HTTP-POST binding only")

    slo = _mapping(sp_in.get("singleLogoutService", {}), "sp.singleLogoutService")
    report.unknown(slo, ("url", "responseUrl", "binding"), "sp.singleLogoutService.")
    if (slo_url := _text(slo, "url", "sp.singleLogoutService")) is not None:
        sp["slo_url"] = slo_url
        report.note(
            "sp.singleLogoutService",
            "published in the metadata for HTTP-Redirect and HTTP-POST; fedlib does not process logout messages yet",
        )
    if slo.get("responseUrl"):
        report.no("sp.singleLogoutService.responseUrl", "fedlib publishes one SingleLogoutService location (url)")

    if sp_in.get("attributeConsumingService"):
        report.no(
            "sp.attributeConsumingService",
            "fedlib's metadata publishes no AttributeConsumingService: ask the IdP administrator to release the "
            "attributes",
        )
    if (name_id_format := _text(sp_in, "NameIDFormat", "sp")) is not None:
        sp["name_id_formats"] = [name_id_format]
        report.note(
            "sp.NameIDFormat",
            "published in the metadata; python3-saml also put it in every AuthnRequest's NameIDPolicy: with "
            "fedlib pass start_login(name_id_policy=...) to do the same",
        )

    certificates: list[str] = []
    current = _text(sp_in, "x509cert", "sp") or _file_text(certs_dir, "sp.crt")
    upcoming = _text(sp_in, "x509certNew", "sp") or _file_text(certs_dir, "sp_new.crt")
    for name, text in (("sp.x509cert", current), ("sp.x509certNew", upcoming)):
        if text:
            certificates.append(_certificate_pem(text, name))
    if upcoming and not current:
        raise ConfigurationError("sp.x509certNew is set but sp.x509cert is not: the current certificate comes first")
    if certificates:
        sp["signing_certificates_pem"] = certificates

    inline_key = _text(sp_in, "privateKey", "sp")
    key_file = certs_dir / "sp.key" if certs_dir is not None and (certs_dir / "sp.key").is_file() else None
    signs = security.get("authnRequestsSigned", False)
    if not isinstance(signs, bool):
        raise ConfigurationError("security.authnRequestsSigned must be true or false")
    if signs:
        if not certificates:
            raise ConfigurationError("security.authnRequestsSigned is true but there is no SP certificate (x509cert)")
        if inline_key:
            sp["signing_key_pem"] = _private_key_pem(inline_key, "sp.privateKey")
            report.note(
                "sp.privateKey",
                "the SP private key is now inline in the fedlib settings: move it to a file readable only by the "
                "application and set signing_key = 'path' instead of signing_key_pem",
            )
        elif key_file is not None:
            key_text = _file_text(key_file.parent, key_file.name)  # ConfigurationError if unreadable
            _private_key_pem(key_text or "", str(key_file))
            sp["signing_key"] = str(key_file.resolve())
        else:
            raise ConfigurationError("security.authnRequestsSigned is true but there is no SP private key (privateKey)")
    elif inline_key or key_file is not None:
        report.note(
            "sp.privateKey",
            "not imported: fedlib signs AuthnRequests exactly when it has a signing_key, and python3-saml did not "
            "sign them (authnRequestsSigned = false); add signing_key to sign",
        )
    return sp


def _idp(idp_in: Mapping[str, Any], certs_dir: Path | None, report: _Report) -> dict[str, Any]:
    entity_id = _text(idp_in, "entityId", "idp", required=True) or ""
    sso = _mapping(idp_in.get("singleSignOnService"), "idp.singleSignOnService")
    report.unknown(sso, ("url", "binding"), "idp.singleSignOnService.")
    sso_url = _text(sso, "url", "idp.singleSignOnService", required=True) or ""
    sso_bindings = [BINDING_HTTP_REDIRECT]  # python3-saml always sent its AuthnRequests with HTTP-Redirect
    binding = sso.get("binding", BINDING_HTTP_REDIRECT)
    if binding == BINDING_HTTP_POST:
        sso_bindings.append(BINDING_HTTP_POST)
    elif binding != BINDING_HTTP_REDIRECT:
        report.no("idp.singleSignOnService.binding", "fedlib sends AuthnRequests with HTTP-Redirect or HTTP-POST")

    slo = _mapping(idp_in.get("singleLogoutService", {}), "idp.singleLogoutService")
    report.unknown(slo, ("url", "responseUrl", "binding"), "idp.singleLogoutService.")
    slo_url = _text(slo, "url", "idp.singleLogoutService")
    slo_response_url = _text(slo, "responseUrl", "idp.singleLogoutService")
    slo_binding = slo.get("binding", BINDING_HTTP_REDIRECT)
    if not isinstance(slo_binding, str) or not slo_binding:
        raise ConfigurationError("idp.singleLogoutService.binding must be a binding URI")

    certificates: list[x509.Certificate] = []
    multi = _mapping(idp_in.get("x509certMulti", {}), "idp.x509certMulti")
    report.unknown(multi, ("signing", "encryption"), "idp.x509certMulti.")
    signing = multi.get("signing") or []
    if not isinstance(signing, list) or not all(isinstance(c, str) for c in signing):
        raise ConfigurationError("idp.x509certMulti.signing must be a list of certificates")
    for i, text in enumerate(signing):
        certificates.append(_certificate(text, f"idp.x509certMulti.signing[{i}]"))
    single = _text(idp_in, "x509cert", "idp") or _file_text(certs_dir, "idp.crt")
    if certificates:
        if single:
            report.note("idp.x509cert", "ignored, as python3-saml does, because x509certMulti.signing is set")
    elif single:
        certificates.append(_certificate(single, "idp.x509cert"))
    if multi.get("encryption"):
        report.no("idp.x509certMulti.encryption", "fedlib encrypts nothing to the IdP (no encrypted NameID)")
    if idp_in.get("certFingerprint"):
        if not certificates:
            raise ConfigurationError(
                "idp.certFingerprint: fedlib does not accept certificate fingerprints; it needs the IdP's signing "
                "certificate (idp.x509cert), which the IdP's metadata carries"
            )
        report.no("idp.certFingerprint", "fingerprints are not accepted; the certificate (idp.x509cert) is used")
    if idp_in.get("certFingerprintAlgorithm") and idp_in.get("certFingerprintAlgorithm") != "sha1":
        report.no("idp.certFingerprintAlgorithm", "fingerprints are not accepted")
    if not certificates:
        raise ConfigurationError("the IdP has no certificate (idp.x509cert or idp.x509certMulti.signing)")

    xml = _idp_metadata(
        entity_id,
        certificates,
        sso_url=sso_url,
        sso_bindings=sso_bindings,
        slo_url=slo_url,
        slo_response_url=slo_response_url,
        slo_binding=slo_binding,
    )
    report.note(
        "idp",
        "written as inline IdP metadata (fedlib trusts IdPs through metadata); when the IdP publishes metadata, "
        "download it and use metadata_file instead, so that its certificate rollover is one file change",
    )
    return {"metadata_xml": xml}


def _security(security: Mapping[str, Any], report: _Report) -> None:
    def flag(key: str, default: bool) -> bool:
        value = security.get(key, default)
        if not isinstance(value, bool):
            raise ConfigurationError(f"security.{key} must be true or false")
        return value

    if not flag("wantMessagesSigned", False):
        report.no(
            "security.wantMessagesSigned",
            "false (python3-saml's default) is not honoured: " + _ALWAYS_SIGNED,
        )
    if flag("wantAssertionsSigned", False):
        report.no(
            "security.wantAssertionsSigned",
            "fedlib does not require a signature on the Assertion: it requires the Response signature, which covers "
            "the Assertion, and verifies an Assertion signature when there is one",
        )
    for key in ("wantAssertionsEncrypted", "wantNameIdEncrypted"):
        if flag(key, False):
            report.no(f"security.{key}", _NO_ENCRYPTION)
    if flag("nameIdEncrypted", False):
        report.no("security.nameIdEncrypted", "fedlib's LogoutRequest carries the NameID in clear: " + _NO_ENCRYPTION)
    for key in ("logoutRequestSigned", "logoutResponseSigned"):
        if not flag(key, False):
            report.no(
                f"security.{key}",
                "false (python3-saml's default) is not honoured: fedlib always signs its logout messages (with "
                "signing_key; without a key, Sign out ends the local session only)",
            )
    if not flag("wantNameId", True):
        report.no("security.wantNameId", "fedlib always requires a NameID in the Subject")
    if flag("wantAttributeStatement", True):
        report.no(
            "security.wantAttributeStatement",
            "true (python3-saml's default) is not honoured: fedlib accepts a Response without attributes; "
            "check AuthnResult.attributes in the application",
        )
    if not flag("allowRepeatAttributeName", False):
        report.no(
            "security.allowRepeatAttributeName",
            "false (python3-saml's default) is not honoured: fedlib accepts repeated Attribute names and merges "
            "their values in order",
        )
    if not flag("rejectDeprecatedAlgorithm", False):
        report.no(
            "security.rejectDeprecatedAlgorithm",
            "false (python3-saml's default) accepted SHA-1; fedlib rejects SHA-1 signatures and digests "
            "(weak-algorithm) unless allow_sha1 = true is set for that IdP (INSECURE); the import does not set it",
        )
    if "rejectUnsolicitedResponsesWithInResponseTo" in security and not flag(
        "rejectUnsolicitedResponsesWithInResponseTo", True
    ):
        report.no(
            "security.rejectUnsolicitedResponsesWithInResponseTo",
            "fedlib refuses an unsolicited Response carrying InResponseTo unless the IdP has "
            "allow_unsolicited = true and allow_in_response_to_on_unsolicited = true; the import sets neither",
        )
    context = security.get("requestedAuthnContext", True)
    if context is not False:
        shown = "PasswordProtectedTransport, exact" if context is True else repr(context)
        report.no(
            "security.requestedAuthnContext",
            f"not configuration in fedlib ({shown} in python3-saml): pass "
            "start_login(requested_authn_context=...) for the requests that need one",
        )
        if "requestedAuthnContextComparison" in security:
            report.no("security.requestedAuthnContextComparison", "see security.requestedAuthnContext")
    if flag("failOnAuthnContextMismatch", False):
        report.no(
            "security.failOnAuthnContextMismatch",
            "not configuration in fedlib: it always refuses a login that does not satisfy the AuthnContext that "
            "login requested (authn-context-not-satisfied); require_mfa = true enforces MFA on every login",
        )
    if security.get("signMetadata", False) is not False:
        report.no("security.signMetadata", "not configuration in fedlib: run fedlib metadata --key ... --sign")
    for key in ("metadataValidUntil", "metadataCacheDuration"):
        if security.get(key) is not None:
            report.no(f"security.{key}", "not configuration in fedlib: fedlib metadata --valid-days/--cache-duration")
    if security.get("signatureAlgorithm", _RSA_SHA256) != _RSA_SHA256:
        report.no(
            "security.signatureAlgorithm",
            "fedlib signs with RSA-SHA256 (RSA keys) or ECDSA-SHA256 (EC keys) and nothing else",
        )
    if security.get("digestAlgorithm", _SHA256) != _SHA256:
        report.no("security.digestAlgorithm", "fedlib digests with SHA-256 and nothing else")


def _contacts_and_organization(merged: Mapping[str, Any], sp: dict[str, Any], report: _Report) -> None:
    contacts_in = _mapping(merged.get("contactPerson", {}), "contactPerson")
    contacts: list[dict[str, Any]] = []
    for contact_type, info in contacts_in.items():
        where = f"contactPerson.{contact_type}"
        info = _mapping(info, where)
        report.unknown(info, _CONTACT_KEYS, where + ".")
        contact: dict[str, Any] = {"contact_type": contact_type}
        for key, target in _CONTACT_KEYS.items():
            value = _text(info, key, where)
            if value is not None:
                contact[target] = [value] if target.endswith("s") else value
        contacts.append(contact)
    if contacts:
        sp["contacts"] = contacts

    organization_in = _mapping(merged.get("organization", {}), "organization")
    for i, (lang, info) in enumerate(organization_in.items()):
        where = f"organization.{lang}"
        if i > 0:
            report.no(where, "fedlib publishes the organisation in one language (the first one given)")
            continue
        info = _mapping(info, where)
        report.unknown(info, _ORGANIZATION_KEYS, where + ".")
        organization: dict[str, Any] = {"lang": lang}
        for key, target in _ORGANIZATION_KEYS.items():
            organization[target] = _text(info, key, where, required=True)
        sp["organization"] = organization


# ---- values --------------------------------------------------------------------------------------


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        raise ConfigurationError(f"{where} is required")
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where} must be an object")
    return value


def _text(table: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None or value == "":
        if required:
            raise ConfigurationError(f"{where}.{key} is required")
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{where}.{key} must be a string")
    return value.strip()


def _file_text(certs_dir: Path | None, name: str) -> str | None:
    if certs_dir is None:
        return None
    path = certs_dir / name
    if not path.is_file():
        return None
    try:
        return path.read_text("utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None


def _der(text: str, where: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{where}: neither PEM nor base64") from None


def _certificate(text: str, where: str) -> x509.Certificate:
    """python3-saml takes a PEM certificate or its bare base64 body."""
    try:
        if "-----BEGIN" in text:
            certificates = x509.load_pem_x509_certificates(text.encode("ascii"))
            if len(certificates) != 1:
                raise ConfigurationError(f"{where}: expected one certificate, found {len(certificates)}")
            return certificates[0]
        return x509.load_der_x509_certificate(_der(text, where))
    except (ValueError, UnicodeEncodeError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(f"{where}: not an X.509 certificate") from None


def _certificate_pem(text: str, where: str) -> str:
    return _certificate(text, where).public_bytes(serialization.Encoding.PEM).decode("ascii")


def _private_key_pem(text: str, where: str) -> str:
    """python3-saml takes a PEM key (PKCS#8 or PKCS#1) or its bare base64 body; fedlib's settings get PKCS#8."""
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            key = serialization.load_der_private_key(_der(text, where), password=None)
    except TypeError:
        raise ConfigurationError(f"{where}: the key is encrypted; fedlib settings take an unencrypted key") from None
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(f"{where}: not a private key") from None
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _idp_metadata(
    entity_id: str,
    certificates: list[x509.Certificate],
    *,
    sso_url: str,
    sso_bindings: list[str],
    slo_url: str | None,
    slo_response_url: str | None,
    slo_binding: str,
) -> str:
    """A minimal md:EntityDescriptor for the IdP python3-saml described inline (schema order)."""
    nsmap = {"md": NS_MD, "ds": NS_DS}
    entity = etree.Element(qname(NS_MD, "EntityDescriptor"), nsmap=nsmap)
    entity.set("entityID", entity_id)
    descriptor = etree.SubElement(entity, qname(NS_MD, "IDPSSODescriptor"))
    descriptor.set("protocolSupportEnumeration", PROTOCOL_SAML2)
    for certificate in certificates:
        key_descriptor = etree.SubElement(descriptor, qname(NS_MD, "KeyDescriptor"))
        key_descriptor.set("use", "signing")
        key_info = etree.SubElement(key_descriptor, qname(NS_DS, "KeyInfo"))
        data = etree.SubElement(key_info, qname(NS_DS, "X509Data"))
        cert = etree.SubElement(data, qname(NS_DS, "X509Certificate"))
        cert.text = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")
    if slo_url is not None:
        slo = etree.SubElement(descriptor, qname(NS_MD, "SingleLogoutService"))
        slo.set("Binding", slo_binding)
        slo.set("Location", slo_url)
        if slo_response_url is not None:
            slo.set("ResponseLocation", slo_response_url)
    for binding in sso_bindings:
        sso = etree.SubElement(descriptor, qname(NS_MD, "SingleSignOnService"))
        sso.set("Binding", binding)
        sso.set("Location", sso_url)
    return etree.tostring(entity, pretty_print=True, encoding="unicode")


__all__ = ["ImportReport", "import_python3_saml"]
