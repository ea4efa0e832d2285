"""Vendor profiles: how real IdPs behave **by default**, and the exact setting that changes each default.

Each profile is data: an :class:`~fedlib.testing.behaviour.IdPBehaviour` of the vendor's defaults, plus
:class:`IdPSetting` entries naming, for every default fedlib cannot accept, the knob it maps to, the value
that works, and the setting an IdP administrator changes (with the source of that fact). The facts and
their sources are collected in the design note ``shared/design/idp-defaults.md``; where a default was not
verified the profile says so in ``notes`` and follows the common behaviour.

``TestIdP(profile="entra")`` sends what Entra ID sends by default; the support matrix
(:mod:`fedlib.matrix`) runs each profile's flows and, when fedlib refuses one, retries with the settings
below to find the workaround.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from fedlib.constants import NAMEID_TRANSIENT, NAMEID_UNSPECIFIED
from fedlib.testing.behaviour import KNOBS, IdPBehaviour
from fedlib.testing.responses import ATTRNAME_FORMAT_BASIC, ATTRNAME_FORMAT_UNSPECIFIED, ATTRNAME_FORMAT_URI

AC_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"  # noqa: S105 - an authn context URI
AC_PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
AC_UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
RIPPLING_IN_RESPONSE_TO = "_rippling-idp-initiated"
"""What the Rippling-like profile puts in InResponseTo on the Responses it starts (a value no SP sent)."""

_WS_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
_MS_CLAIMS = "http://schemas.microsoft.com/identity/claims/"
MICROSOFT_CLAIM_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "email": _WS_CLAIMS + "emailaddress",
        "given_name": _WS_CLAIMS + "givenname",
        "surname": _WS_CLAIMS + "surname",
        "name": _WS_CLAIMS + "name",
        "display_name": _MS_CLAIMS + "displayname",
        "object_id": _MS_CLAIMS + "objectidentifier",
        "groups": "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    }
)
"""Logical attribute -> the claim-type URI Entra ID and AD FS send as the Attribute Name."""

EDUPERSON_OID_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "email": "urn:oid:0.9.2342.19200300.100.1.3",  # mail
        "given_name": "urn:oid:2.5.4.42",  # givenName
        "surname": "urn:oid:2.5.4.4",  # sn
        "display_name": "urn:oid:2.16.840.1.113730.3.1.241",  # displayName
        "eppn": "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",  # eduPersonPrincipalName
        "groups": "urn:oid:1.3.6.1.4.1.5923.1.1.1.7",  # eduPersonEntitlement
    }
)
"""Logical attribute -> the ``urn:oid:`` names (NameFormat uri) of Shibboleth IdP and SimpleSAMLphp
federation deployments (eduPerson / inetOrgPerson OIDs)."""

OKTA_ATTRIBUTE_NAMES: Mapping[str, str] = MappingProxyType(
    {"email": "email", "given_name": "firstName", "surname": "lastName", "groups": "groups"}
)
"""Okta sends no attribute by default; these are the Attribute Statement names of Okta's documentation and
app templates (help.okta.com "Define attribute statements"; the group attribute statement ``groups``)."""

GOOGLE_ATTRIBUTE_NAMES: Mapping[str, str] = MappingProxyType(
    {"email": "email", "given_name": "firstName", "surname": "lastName", "groups": "groups"}
)
"""Google Workspace sends no attribute by default; "Attribute mapping" names are the admin's choice (these
follow the usual app guides: Basic Information > First name -> ``firstName`` ...)."""

KEYCLOAK_ATTRIBUTE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "email": "urn:oid:1.2.840.113549.1.9.1",  # "X500 email" mapper
        "given_name": "urn:oid:2.5.4.42",  # "X500 givenName"
        "surname": "urn:oid:2.5.4.4",  # "X500 surname"
        "groups": "Role",  # "role list" mapper: attribute Role, one value per role
    }
)
"""Keycloak's default protocol mappers of a SAML client (Keycloak Server Administration Guide, SAML
clients, "Mappers": X500 email / givenName / surname with NameFormat uri and FriendlyNames; role list)."""

KEYCLOAK_FRIENDLY_NAMES: Mapping[str, str] = MappingProxyType(
    {"email": "email", "given_name": "givenName", "surname": "surname"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class IdPSetting:
    """One IdP-side setting that changes a default fedlib cannot accept."""

    knob: str
    """The :class:`IdPBehaviour` knob the setting changes."""

    value: Any
    """The knob's value once the setting is changed (one fedlib accepts)."""

    setting: str
    """What the IdP administrator changes, in the vendor's own words (menu path, flag or command)."""

    source: str
    """Where that fact comes from."""

    def __post_init__(self) -> None:
        if self.knob not in KNOBS:
            raise ValueError(f"unknown knob {self.knob!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SPSetting:
    """A setting on fedlib's side (a :class:`~fedlib.config.SecurityPolicy` field, per IdP) that makes a
    quirk of this IdP work, tried by the support matrix when a flow of ``protocol`` ends in ``outcome``."""

    key: str
    """The ``SecurityPolicy`` field set to true (``allow_in_response_to_on_unsolicited``)."""

    outcome: str
    """The error code the quirk causes without the setting."""

    protocol: str
    """The matrix protocol the setting applies to (``saml2-idp-initiated``)."""

    setting: str
    """What the SP operator changes, in fedlib's configuration words."""

    source: str
    """Where the quirk is documented."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorProfile:
    """A vendor's default behaviour and how to change it."""

    name: str
    """Short identifier (``entra``, ``okta``, ...)."""

    display_name: str
    """The product name."""

    defaults: IdPBehaviour
    """What the IdP sends out of the box."""

    settings: tuple[IdPSetting, ...] = ()
    """How to change each default that fedlib refuses (looked up by knob)."""

    sp_settings: tuple[SPSetting, ...] = ()
    """fedlib-side settings for quirks the IdP cannot change (e.g. Rippling's InResponseTo)."""

    sources: tuple[str, ...] = ()
    """Where the defaults come from."""

    notes: tuple[str, ...] = field(default=())
    """Unverified defaults and other caveats."""

    def setting_for(self, knob: str) -> IdPSetting | None:
        """The documented setting that changes ``knob``, if the vendor has one."""
        return next((s for s in self.settings if s.knob == knob), None)

    def behaviour(self, **changes: Any) -> IdPBehaviour:
        """The defaults with ``changes`` applied (the settings a customer has changed)."""
        return self.defaults.replace(**changes) if changes else self.defaults


PROFILES: Mapping[str, VendorProfile] = MappingProxyType(
    {
        profile.name: profile
        for profile in (
            VendorProfile(
                name="entra",
                display_name="Microsoft Entra ID (Azure AD)",
                defaults=IdPBehaviour(
                    signing="assertion",
                    attribute_names=MICROSOFT_CLAIM_NAMES,
                    attribute_name_format=None,
                    authn_context_class_ref=AC_PASSWORD,
                    lowercase_percent_encoding=True,
                ),
                settings=(
                    IdPSetting(
                        knob="signing",
                        value="both",
                        setting="Enterprise application > Single sign-on > SAML Certificates > Edit > "
                        "Signing Option = Sign SAML response and assertion",
                        source="learn.microsoft.com .../enterprise-apps/certificate-signing-options",
                    ),
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting="Enterprise application > Token encryption: deactivate the token encryption "
                        "certificate",
                        source="learn.microsoft.com .../howto-saml-token-encryption",
                    ),
                    IdPSetting(
                        knob="signature_algorithm",
                        value="rsa-sha256",
                        setting="SAML Certificates > Edit > Signing Algorithm = SHA-256",
                        source="learn.microsoft.com .../enterprise-apps/certificate-signing-options",
                    ),
                ),
                sources=(
                    "learn.microsoft.com .../enterprise-apps/certificate-signing-options (default: Sign SAML "
                    "assertion)",
                    "pysaml2#957 (lower-case URL encoding on the Redirect binding)",
                    "interop corpus entra-assertion-only.xml (claim-URI attribute names, Password context)",
                ),
            ),
            VendorProfile(
                name="okta",
                display_name="Okta",
                defaults=IdPBehaviour(
                    signing="both",
                    name_id_format=NAMEID_UNSPECIFIED,
                    attribute_names=OKTA_ATTRIBUTE_NAMES,
                    attribute_name_format=ATTRNAME_FORMAT_UNSPECIFIED,
                ),
                settings=(
                    IdPSetting(
                        knob="signing",
                        value="both",
                        setting="Application > General > SAML Settings > Edit > Show Advanced Settings > "
                        "Response = Signed",
                        source="help.okta.com AIW SAML reference (settings.signOn.responseSigned)",
                    ),
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting="SAML Settings > Show Advanced Settings > Assertion Encryption = Unencrypted",
                        source="help.okta.com AIW SAML reference",
                    ),
                ),
                sources=(
                    "SonarQube / SmartSimple Okta guides: Response Signed, Assertion Signature Signed by default",
                    "interop corpus okta-signed-response.xml",
                ),
            ),
            VendorProfile(
                name="adfs",
                display_name="Microsoft AD FS",
                defaults=IdPBehaviour(
                    signing="assertion",
                    name_id_format=NAMEID_UNSPECIFIED,
                    attribute_names=MICROSOFT_CLAIM_NAMES,
                    attribute_name_format=None,
                    idp_initiated=False,
                    lowercase_percent_encoding=True,
                ),
                settings=(
                    IdPSetting(
                        knob="signing",
                        value="both",
                        setting="Set-AdfsRelyingPartyTrust -TargetName <RP> -SamlResponseSignature MessageAndAssertion",
                        source="MicrosoftDocs/azure-docs#69012",
                    ),
                    IdPSetting(
                        knob="idp_initiated",
                        value=True,
                        setting="Set-AdfsProperties -EnableIdpInitiatedSignonPage $true",
                        source="learn.microsoft.com AD FS troubleshooting (IdP-initiated page off since 2016)",
                    ),
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting="Set-AdfsRelyingPartyTrust -TargetName <RP> -EncryptClaims $false",
                        source="SAML-Toolkits/php-saml#102",
                    ),
                    IdPSetting(
                        knob="signature_algorithm",
                        value="rsa-sha256",
                        setting="Relying party trust > Properties > Advanced > Secure hash algorithm = SHA-256",
                        source="learn.microsoft.com AD FS relying party trust properties",
                    ),
                ),
                sources=("MicrosoftDocs/azure-docs#69012, #85863 (SamlResponseSignature = AssertionOnly)",),
                notes=(
                    "AD FS encrypts only when the relying-party trust holds an encryption certificate; fedlib's "
                    "SP metadata never publishes one, so the default here is unencrypted.",
                ),
            ),
            VendorProfile(
                name="google",
                display_name="Google Workspace",
                defaults=IdPBehaviour(
                    signing="assertion",
                    name_id_format=None,
                    attribute_names=GOOGLE_ATTRIBUTE_NAMES,
                    attribute_name_format=None,
                    authn_context_class_ref=AC_UNSPECIFIED,
                ),
                settings=(
                    IdPSetting(
                        knob="signing",
                        value="response",
                        setting="Admin console > Apps > Web and mobile apps > <app> > Service provider details > "
                        "Signed response (then Google signs the Response instead of the Assertion)",
                        source="goauthentik/authentik#22811",
                    ),
                ),
                sources=(
                    "goauthentik/authentik PR #22812 (Signed response off by default)",
                    "interop corpus google-signed-response.b64 (certificate in KeyInfo, no NameID Format)",
                ),
                notes=("Google Workspace offers no assertion encryption and no single logout.",),
            ),
            VendorProfile(
                name="onelogin",
                display_name="OneLogin",
                defaults=IdPBehaviour(signing="assertion", name_id_format=NAMEID_UNSPECIFIED),
                settings=(
                    IdPSetting(
                        knob="signing",
                        value="response",
                        setting="Use the SAML Custom Connector (Advanced) > Configuration > SAML signature "
                        "element = Response (or Both)",
                        source="docs.secoda.co OneLogin guide; support.workstars.com",
                    ),
                ),
                sources=("support.datalocker.com (basic SAML Test Connector signs the Assertion)",),
                notes=("Certificate in KeyInfo and encryption defaults not verified; common behaviour assumed.",),
            ),
            VendorProfile(
                name="keycloak",
                display_name="Keycloak",
                defaults=IdPBehaviour(
                    signing="response",
                    key_info="certificate+keyvalue",
                    idp_initiated=False,
                    authn_context_class_ref=AC_UNSPECIFIED,
                    attribute_names=KEYCLOAK_ATTRIBUTE_NAMES,
                    attribute_friendly_names=KEYCLOAK_FRIENDLY_NAMES,
                    attribute_name_format=ATTRNAME_FORMAT_URI,
                ),
                settings=(
                    IdPSetting(
                        knob="idp_initiated",
                        value=True,
                        setting="Clients > <client> > Settings > IDP-Initiated SSO URL name (set a name)",
                        source="Red Hat build of Keycloak admin guide, Creating a SAML client",
                    ),
                    IdPSetting(
                        knob="signing",
                        value="response",
                        setting="Clients > <client> > Keys/Settings > Sign documents = On",
                        source="Keycloak admin guide (Sign documents / Sign assertions)",
                    ),
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting="Clients > <client> > Keys > Encrypt assertions = Off",
                        source="Keycloak admin guide",
                    ),
                ),
                sources=("shared/design/idp-defaults.md (KeyName + KeyValue + certificate in one KeyInfo)",),
            ),
            VendorProfile(
                name="shibboleth",
                display_name="Shibboleth IdP (v4/v5)",
                defaults=IdPBehaviour(
                    signing="response",
                    encrypt_assertion=True,
                    name_id_format=NAMEID_TRANSIENT,
                    attribute_names=EDUPERSON_OID_NAMES,
                    attribute_name_format=ATTRNAME_FORMAT_URI,
                ),
                settings=(
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting='relying-party.xml: <bean parent="SAML2.SSO" p:encryptAssertions="false"/> in a '
                        "RelyingPartyOverride for this SP",
                        source="shibboleth.atlassian.net IDP4 ProfileConfiguration-SAML2 (encryptAssertions)",
                    ),
                    IdPSetting(
                        knob="signing",
                        value="response",
                        setting='relying-party.xml: <bean parent="SAML2.SSO" p:signResponses="true"/>',
                        source="shibboleth.atlassian.net IDP4 SAML2SSOConfiguration",
                    ),
                ),
                sources=("shibboleth.atlassian.net IDP4 SAML2SSOConfiguration and ProfileConfiguration-SAML2",),
                notes=(
                    "With no SP encryption key in metadata (fedlib publishes none) a default Shibboleth IdP fails "
                    "the request instead of sending it unencrypted (encryptionOptional is false); the test IdP "
                    "models the encrypted Response it would send with a key, which fedlib refuses the same way.",
                ),
            ),
            VendorProfile(
                name="pingfederate",
                display_name="PingFederate",
                defaults=IdPBehaviour(signing="response", key_info="none", name_id_format=NAMEID_UNSPECIFIED),
                settings=(
                    IdPSetting(
                        knob="key_info",
                        value="certificate",
                        setting="SP connection > Credentials > Digital Signature Settings > Include the "
                        "certificate in the signature <KeyInfo> element",
                        source="docs.pingidentity.com help_sp_credentialstasklet_signingcertstate",
                    ),
                    IdPSetting(
                        knob="signing",
                        value="response",
                        setting="SP connection > Protocol Settings > Signature Policy = Sign Response As Required",
                        source="docs.pingidentity.com help_spprotocolsettingstasklet_spsignaturepolicystate",
                    ),
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting="SP connection > Protocol Settings > Encryption Policy = None",
                        source="docs.pingidentity.com help_spprotocolsettingstasklet_selectspxmlassertionencryption"
                        "state",
                    ),
                ),
                sources=("docs.pingidentity.com (Sign Response As Required is the default; KeyInfo cert optional)",),
                notes=("Encryption default believed None (first option); not stated by the vendor.",),
            ),
            VendorProfile(
                name="auth0",
                display_name="Auth0 (SAML2 Web App addon)",
                defaults=IdPBehaviour(
                    signing="assertion",
                    name_id_format=NAMEID_UNSPECIFIED,
                    attribute_names=MICROSOFT_CLAIM_NAMES,
                    attribute_name_format=ATTRNAME_FORMAT_URI,
                    authn_context_class_ref=AC_UNSPECIFIED,
                ),
                settings=(
                    IdPSetting(
                        knob="signing",
                        value="response",
                        setting='Application > Addons > SAML2 Web App > Settings: "signResponse": true',
                        source="node-auth0 ClientAddonSaml.signResponse; auth0.com SAML configuration docs",
                    ),
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting="SAML2 Web App addon settings: remove the encryption certificate / public key",
                        source="auth0.com Sign and Encrypt SAML Requests",
                    ),
                ),
                sources=("LocalStack Cognito fixture from an Auth0 dev tenant (unsigned Response, signed Assertion)",),
            ),
            VendorProfile(
                name="salesforce",
                display_name="Salesforce (as IdP)",
                defaults=IdPBehaviour(signing="response", name_id_format=NAMEID_UNSPECIFIED),
                settings=(
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting="Connected app > SAML settings > Encrypt SAML Response = off",
                        source="cloudsundial.com Salesforce SSO flows",
                    ),
                ),
                sources=("miniOrange Salesforce-IdP guide (Response signed, Assertion not)",),
            ),
            VendorProfile(
                name="simplesamlphp",
                display_name="SimpleSAMLphp",
                defaults=IdPBehaviour(
                    signing="both",
                    name_id_format=NAMEID_TRANSIENT,
                    attribute_name_format=ATTRNAME_FORMAT_BASIC,
                ),
                settings=(
                    IdPSetting(
                        knob="signing",
                        value="both",
                        setting="saml20-sp-remote.php: 'saml20.sign.response' => true",
                        source="SimpleSAMLphp reference: SP remote metadata (saml20.sign.response defaults to TRUE)",
                    ),
                    IdPSetting(
                        knob="encrypt_assertion",
                        value=False,
                        setting="saml20-sp-remote.php: 'assertion.encryption' => false",
                        source="SimpleSAMLphp reference: SP remote metadata (assertion.encryption defaults to FALSE)",
                    ),
                    IdPSetting(
                        knob="encrypt_name_id",
                        value=False,
                        setting="saml20-sp-remote.php: 'nameid.encryption' => false",
                        source="SimpleSAMLphp reference: SP remote metadata (nameid.encryption defaults to FALSE)",
                    ),
                ),
                sources=("SimpleSAMLphp reference: IdP hosted / SP remote metadata (both signed by default)",),
            ),
            VendorProfile(
                name="rippling",
                display_name="Rippling",
                defaults=IdPBehaviour(
                    signing="both",
                    name_id_format=NAMEID_UNSPECIFIED,
                    in_response_to_on_unsolicited=RIPPLING_IN_RESPONSE_TO,
                ),
                sp_settings=(
                    SPSetting(
                        key="allow_in_response_to_on_unsolicited",
                        outcome="unknown-request",
                        protocol="saml2-idp-initiated",
                        setting="fedlib: allow_in_response_to_on_unsolicited = true for this IdP (with "
                        "allow_unsolicited = true; [[idps]] in the settings file, or SecurityPolicy)",
                        source="crewjam/saml PR #320; shared/design/idp-defaults.md (Rippling puts InResponseTo "
                        "on IdP-initiated Responses)",
                    ),
                ),
                sources=("crewjam/saml PR #320 (InResponseTo on IdP-initiated Responses)",),
                notes=(
                    "Only the InResponseTo quirk is sourced; signing, NameID and attribute defaults are the common "
                    "behaviour, not verified against Rippling.",
                ),
            ),
        )
    }
)
"""Every vendor profile, by name."""

GENERIC = VendorProfile(name="generic", display_name="Generic SAML 2.0 IdP", defaults=IdPBehaviour())
"""A well-behaved IdP that fedlib accepts as it is (what ``TestIdP()`` does without a profile)."""


def get_profile(name: str) -> VendorProfile:
    """The profile called ``name`` (``ValueError`` listing the known names otherwise)."""
    if name == GENERIC.name:
        return GENERIC
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown IdP profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None


__all__ = [
    "EDUPERSON_OID_NAMES",
    "GENERIC",
    "MICROSOFT_CLAIM_NAMES",
    "PROFILES",
    "IdPSetting",
    "SPSetting",
    "VendorProfile",
    "get_profile",
]
