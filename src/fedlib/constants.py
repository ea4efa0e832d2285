"""SAML 2.0 and XML-DSig namespace, binding, status and name-id-format URIs. No logic lives here."""

from __future__ import annotations

from typing import Final

# Namespaces
NS_SAMLP: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_MD: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_DS: Final = "http://www.w3.org/2000/09/xmldsig#"
NS_XENC: Final = "http://www.w3.org/2001/04/xmlenc#"
NS_XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
NS_EC: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
NS_MDUI: Final = "urn:oasis:names:tc:SAML:metadata:ui"
NS_MDATTR: Final = "urn:oasis:names:tc:SAML:metadata:attribute"
NS_MDRPI: Final = "urn:oasis:names:tc:SAML:metadata:rpi"

NSMAP: Final = {"samlp": NS_SAMLP, "saml": NS_SAML, "md": NS_MD, "ds": NS_DS, "xenc": NS_XENC}


def qname(ns: str, local: str) -> str:
    """Clark notation ``{ns}local``, the form lxml uses for tags."""
    return f"{{{ns}}}{local}"


# Clark-notation tags used on hot paths (computed once).
SAMLP_RESPONSE: Final = qname(NS_SAMLP, "Response")
SAMLP_STATUS: Final = qname(NS_SAMLP, "Status")
SAMLP_STATUS_CODE: Final = qname(NS_SAMLP, "StatusCode")
SAMLP_STATUS_MESSAGE: Final = qname(NS_SAMLP, "StatusMessage")
SAMLP_EXTENSIONS: Final = qname(NS_SAMLP, "Extensions")
SAMLP_AUTHN_REQUEST: Final = qname(NS_SAMLP, "AuthnRequest")
SAMLP_NAMEID_POLICY: Final = qname(NS_SAMLP, "NameIDPolicy")
SAMLP_REQUESTED_AUTHN_CONTEXT: Final = qname(NS_SAMLP, "RequestedAuthnContext")
SAML_ISSUER: Final = qname(NS_SAML, "Issuer")
SAML_ASSERTION: Final = qname(NS_SAML, "Assertion")
SAML_ENCRYPTED_ASSERTION: Final = qname(NS_SAML, "EncryptedAssertion")
SAML_ENCRYPTED_ATTRIBUTE: Final = qname(NS_SAML, "EncryptedAttribute")
SAML_ENCRYPTED_ID: Final = qname(NS_SAML, "EncryptedID")
SAML_SUBJECT: Final = qname(NS_SAML, "Subject")
SAML_NAMEID: Final = qname(NS_SAML, "NameID")
SAML_BASEID: Final = qname(NS_SAML, "BaseID")
SAML_SUBJECT_CONFIRMATION: Final = qname(NS_SAML, "SubjectConfirmation")
SAML_SUBJECT_CONFIRMATION_DATA: Final = qname(NS_SAML, "SubjectConfirmationData")
SAML_CONDITIONS: Final = qname(NS_SAML, "Conditions")
SAML_AUDIENCE_RESTRICTION: Final = qname(NS_SAML, "AudienceRestriction")
SAML_AUDIENCE: Final = qname(NS_SAML, "Audience")
SAML_AUTHN_STATEMENT: Final = qname(NS_SAML, "AuthnStatement")
SAML_AUTHN_CONTEXT: Final = qname(NS_SAML, "AuthnContext")
SAML_AUTHN_CONTEXT_CLASS_REF: Final = qname(NS_SAML, "AuthnContextClassRef")
SAML_ATTRIBUTE_STATEMENT: Final = qname(NS_SAML, "AttributeStatement")
SAML_ATTRIBUTE: Final = qname(NS_SAML, "Attribute")
SAML_ATTRIBUTE_VALUE: Final = qname(NS_SAML, "AttributeValue")
DS_SIGNATURE: Final = qname(NS_DS, "Signature")
DS_SIGNED_INFO: Final = qname(NS_DS, "SignedInfo")
DS_SIGNATURE_VALUE: Final = qname(NS_DS, "SignatureValue")
DS_KEY_INFO: Final = qname(NS_DS, "KeyInfo")
DS_OBJECT: Final = qname(NS_DS, "Object")
DS_C14N_METHOD: Final = qname(NS_DS, "CanonicalizationMethod")
DS_SIGNATURE_METHOD: Final = qname(NS_DS, "SignatureMethod")
DS_REFERENCE: Final = qname(NS_DS, "Reference")
DS_TRANSFORMS: Final = qname(NS_DS, "Transforms")
DS_TRANSFORM: Final = qname(NS_DS, "Transform")
DS_DIGEST_METHOD: Final = qname(NS_DS, "DigestMethod")
DS_DIGEST_VALUE: Final = qname(NS_DS, "DigestValue")
DS_X509_DATA: Final = qname(NS_DS, "X509Data")
DS_X509_CERTIFICATE: Final = qname(NS_DS, "X509Certificate")
EC_INCLUSIVE_NAMESPACES: Final = qname(NS_EC, "InclusiveNamespaces")
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"

# Versions, statuses, confirmations
SAML_VERSION: Final = "2.0"
STATUS_SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
CM_BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

# Bindings
BINDING_HTTP_POST: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_HTTP_REDIRECT: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_HTTP_ARTIFACT: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
BINDING_SOAP: Final = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"
PROTOCOL_SAML2: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
#: The HTTP-Redirect binding's only message encoding (SAML Bindings §3.4.4.1); the SAMLEncoding default.
URL_ENCODING_DEFLATE: Final = "urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE"

# NameID formats
NAMEID_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
NAMEID_EMAIL: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_PERSISTENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_ENTITY: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
