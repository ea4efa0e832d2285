"""fedlib: a strict SAML 2.0 service-provider library.

Accepts only ``<samlp:Response>`` messages signed by a certificate the IdP's metadata lists (and
carried in the signature's KeyInfo), refuses encrypted claims, and says why with a stable error code.

Quick start::

    from fedlib import SPConfig, parse_idp_metadata, validate_response, open_store, ResponseRejected

    idp = parse_idp_metadata(metadata_bytes, now=now)
    sp = SPConfig(entity_id="https://sp.example.com/", acs_url="https://sp.example.com/saml/acs")
    store = open_store("sqlite:///var/lib/myapp/saml.db")
    try:
        result = validate_response(form["SAMLResponse"], sp=sp, idp=idp, now=now, store=store,
                                   request_id=pending_request_id)
    except ResponseRejected as exc:
        log.warning("SAML login refused: %s (%s)", exc.code, exc.detail)
"""

from fedlib.attributes import AttributeMap, MappedAttributes, RoleRule
from fedlib.authn_context import AuthnContextOrder
from fedlib.clock import Clock, FixedClock, SystemClock
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import (
    AuthorizationRejected,
    ConditionRejected,
    ConfigurationError,
    ErrorCode,
    FedlibError,
    ProtocolRejected,
    ReplayRejected,
    ResponseRejected,
    SignatureRejected,
    StoreError,
    UnsupportedFeature,
    XMLRejected,
)
from fedlib.metadata.idp import Endpoint, IdPMetadata, parse_idp_metadata
from fedlib.protocol.models import AuthnResult
from fedlib.stores import Store, open_store
from fedlib.validation.pipeline import validate_response

__version__ = "0.1.0"

__all__ = [
    "AttributeMap",
    "AuthnContextOrder",
    "AuthnResult",
    "AuthorizationRejected",
    "Clock",
    "ConditionRejected",
    "ConfigurationError",
    "Endpoint",
    "ErrorCode",
    "FedlibError",
    "FixedClock",
    "IdPMetadata",
    "MappedAttributes",
    "ProtocolRejected",
    "ReplayRejected",
    "ResponseRejected",
    "RoleRule",
    "SPConfig",
    "SecurityPolicy",
    "SignatureRejected",
    "Store",
    "StoreError",
    "SystemClock",
    "UnsupportedFeature",
    "XMLRejected",
    "open_store",
    "parse_idp_metadata",
    "validate_response",
]
