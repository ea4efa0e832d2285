"""SAML 2.0 metadata: reading IdP metadata (and, later, rendering SP metadata)."""

from fedlib.metadata.idp import Endpoint, IdPMetadata, parse_idp_metadata

__all__ = ["Endpoint", "IdPMetadata", "parse_idp_metadata"]
