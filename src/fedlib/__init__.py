"""fedlib: a strict SAML 2.0 service-provider library.

Accepts only ``<samlp:Response>`` messages signed by a certificate the IdP's metadata lists (and
carried in the signature's KeyInfo), refuses encrypted claims, and says why with a stable error code.

Quick start::

    from fedlib import SPConfig, parse_idp_metadata, validate_response, open_store, ResponseRejected

    idp = parse_idp_metadata(metadata_bytes, now=now)
    sp = SPConfig(entity_id="https://sp.example.com/", acs_url="https://sp.example.com/saml/acs")
    store = open_store("sqlite:////var/lib/myapp/saml.db")   # an absolute path: four slashes
    try:
        result = validate_response(form["SAMLResponse"], sp=sp, idp=idp, now=now, store=store,
                                   request_id=pending_request_id)
    except ResponseRejected as exc:
        log.warning("SAML login refused: %s (%s)", exc.code, exc.detail)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

    __version__: str

# The public names load on first use (PEP 562): ``import fedlib`` (and with it the pytest plugin that every
# project installing fedlib loads) stays cheap, and ``from fedlib import X`` works as before.
_LAZY: dict[str, str] = {
    "AttributeMap": "fedlib.attributes",
    "AuthnContextOrder": "fedlib.authn_context",
    "AuthnResult": "fedlib.protocol.models",
    "AuthorizationRejected": "fedlib.errors",
    "Clock": "fedlib.clock",
    "ConditionRejected": "fedlib.errors",
    "ConfigurationError": "fedlib.errors",
    "Endpoint": "fedlib.metadata.idp",
    "ErrorCode": "fedlib.errors",
    "FedlibError": "fedlib.errors",
    "FixedClock": "fedlib.clock",
    "IdPMetadata": "fedlib.metadata.idp",
    "MappedAttributes": "fedlib.attributes",
    "ProtocolRejected": "fedlib.errors",
    "ReplayRejected": "fedlib.errors",
    "ResponseRejected": "fedlib.errors",
    "RoleRule": "fedlib.attributes",
    "SPConfig": "fedlib.config",
    "SecurityPolicy": "fedlib.config",
    "SignatureRejected": "fedlib.errors",
    "Store": "fedlib.stores",
    "StoreError": "fedlib.errors",
    "SystemClock": "fedlib.clock",
    "UnsupportedFeature": "fedlib.errors",
    "XMLRejected": "fedlib.errors",
    "open_store": "fedlib.stores",
    "parse_idp_metadata": "fedlib.metadata.idp",
    "validate_response": "fedlib.validation.pipeline",
}


def _version() -> str:
    """The installed distribution's version (pyproject.toml is the one place it is written)."""
    from importlib import metadata

    try:
        return metadata.version("fedlib")
    except metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0+unknown"


def __getattr__(name: str) -> object:
    if name == "__version__":
        value: object = _version()
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fedlib' has no attribute {name!r}")
    # Not cached in globals(): a module reloaded later (pytester's sys.modules snapshot does that) must
    # not leave a stale class here that isinstance checks in the fresh modules would not recognise.
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
