"""SAML 2.0 metadata: reading IdP metadata, rendering SP metadata."""

from fedlib.metadata.idp import Endpoint, IdPMetadata, parse_idp_metadata
from fedlib.metadata.sp import build_sp_metadata, render_sp_metadata

__all__ = ["Endpoint", "IdPMetadata", "build_sp_metadata", "parse_idp_metadata", "render_sp_metadata"]
