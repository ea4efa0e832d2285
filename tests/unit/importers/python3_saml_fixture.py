"""A realistic python3-saml configuration (settings.json + advanced_settings.json), with TEST keys.

The layout follows python3-saml's README and demo files: certificates as bare base64 (as pasted from an
IdP console) or PEM, the SP key as a bare base64 PKCS#1 body, an IdP under certificate rollover in
``x509certMulti``. The ``{{...}}`` placeholders are filled with keys from ``fedlib.testing`` at run time
so that no key material is committed.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from fedlib.testing import TestKey, default_key, generate_key

SETTINGS_JSON = """\
{
    "strict": true,
    "debug": true,
    "sp": {
        "entityId": "https://app.example.com/saml/metadata/",
        "assertionConsumerService": {
            "url": "https://app.example.com/saml/?acs",
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        },
        "singleLogoutService": {
            "url": "https://app.example.com/saml/?sls",
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        },
        "attributeConsumingService": {},
        "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "x509cert": "{{SP_CERT_B64}}",
        "x509certNew": "{{SP_NEXT_CERT_PEM}}",
        "privateKey": "{{SP_KEY_PKCS1_B64}}"
    },
    "idp": {
        "entityId": "https://idp.example.test/saml",
        "singleSignOnService": {
            "url": "https://idp.example.test/saml/sso",
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        },
        "singleLogoutService": {
            "url": "https://idp.example.test/saml/slo",
            "responseUrl": "https://idp.example.test/saml/slo/return",
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        },
        "x509cert": "{{IDP_CERT_B64}}",
        "x509certMulti": {
            "signing": ["{{IDP_CERT_PEM}}", "{{IDP_NEXT_CERT_B64}}"],
            "encryption": ["{{IDP_CERT_B64}}"]
        }
    }
}
"""

ADVANCED_SETTINGS_JSON = """\
{
    "security": {
        "nameIdEncrypted": false,
        "authnRequestsSigned": true,
        "logoutRequestSigned": false,
        "logoutResponseSigned": false,
        "signMetadata": false,
        "wantMessagesSigned": false,
        "wantAssertionsSigned": true,
        "wantNameId": true,
        "wantNameIdEncrypted": false,
        "wantAssertionsEncrypted": false,
        "wantAttributeStatement": false,
        "allowSingleLabelDomains": false,
        "requestedAuthnContext": false,
        "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
        "rejectDeprecatedAlgorithm": true,
        "allowRepeatAttributeName": true
    },
    "contactPerson": {
        "technical": {
            "givenName": "Platform team",
            "emailAddress": "platform@example.com"
        },
        "support": {
            "givenName": "Support",
            "emailAddress": "support@example.com"
        }
    },
    "organization": {
        "en-US": {
            "name": "example_ltd",
            "displayname": "Example Ltd",
            "url": "https://www.example.com"
        }
    }
}
"""

SP_ENTITY_ID = "https://app.example.com/saml/metadata/"
SP_ACS = "https://app.example.com/saml/?acs"


@cache
def idp_next_key() -> TestKey:
    return generate_key(common_name="fedlib test IdP (next)")


def sp_key() -> TestKey:
    return default_key("rsa", "sp")


def sp_next_key() -> TestKey:
    return default_key("rsa", "sp-next")


def placeholders() -> dict[str, str]:
    pkcs1 = sp_key().private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    idp = default_key("rsa")  # the key TestIdP() signs with
    return {
        "SP_CERT_B64": sp_key().cert_b64,
        "SP_NEXT_CERT_PEM": sp_next_key().cert_pem.decode(),
        "SP_KEY_PKCS1_B64": base64.b64encode(pkcs1).decode(),
        "IDP_CERT_B64": idp.cert_b64,
        "IDP_CERT_PEM": idp.cert_pem.decode(),
        "IDP_NEXT_CERT_B64": idp_next_key().cert_b64,
    }


def _fill(template: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(template)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith("{{"):
            return placeholders()[value.strip("{}")]
        return value

    result: dict[str, Any] = walk(data)
    return result


def settings() -> dict[str, Any]:
    """settings.json, parsed."""
    return _fill(SETTINGS_JSON)


def advanced_settings() -> dict[str, Any]:
    """advanced_settings.json, parsed."""
    return _fill(ADVANCED_SETTINGS_JSON)


def write(directory: Path) -> tuple[Path, Path]:
    """Write settings.json and advanced_settings.json (filled in) to ``directory``."""
    settings_path = directory / "settings.json"
    advanced_path = directory / "advanced_settings.json"
    settings_path.write_text(json.dumps(settings(), indent=4))
    advanced_path.write_text(json.dumps(advanced_settings(), indent=4))
    return settings_path, advanced_path
