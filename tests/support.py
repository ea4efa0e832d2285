"""A test world: one IdP (TEST key, metadata), one SP, a fixed clock and a memory store.

w = World()
xml = w.mint(name_id="bob@example.com", sign_assertion=True)
result = w.check(xml)                       # validate_response(...) with this world's settings
assert w.code_of(tampered) == ErrorCode.INVALID_SIGNATURE
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ErrorCode, ResponseRejected
from fedlib.metadata.idp import IdPMetadata, parse_idp_metadata
from fedlib.protocol.models import AuthnResult
from fedlib.stores.memory import MemoryStore
from fedlib.testing import ResponseSpec, TestKey, default_key, idp_metadata_xml, mint_response
from fedlib.validation.pipeline import validate_response

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
IDP_ID = "https://idp.example.org/saml/metadata"
SP_ID = "https://sp.example.com/saml/metadata"
ACS = "https://sp.example.com/saml/acs"
REQUEST_ID = "_req_6c3a4f0e2b9d41f0a8e7"

SPEC_FIELDS = {f.name for f in dataclasses.fields(ResponseSpec)}


@dataclass
class World:
    key: TestKey = field(default_factory=default_key)
    extra_keys: tuple[TestKey, ...] = ()
    now: datetime = NOW
    policy: SecurityPolicy = field(default_factory=lambda: SecurityPolicy(allow_unsolicited=True))
    store: MemoryStore = field(default_factory=MemoryStore)

    @property
    def metadata_xml(self) -> bytes:
        return idp_metadata_xml(IDP_ID, [self.key, *self.extra_keys], sso_url="https://idp.example.org/sso")

    @property
    def idp(self) -> IdPMetadata:
        return parse_idp_metadata(self.metadata_xml, now=self.now)

    @property
    def sp(self) -> SPConfig:
        return SPConfig(entity_id=SP_ID, acs_url=ACS, policy=self.policy)

    def spec(self, **overrides: Any) -> ResponseSpec:
        base: dict[str, Any] = {"idp_entity_id": IDP_ID, "sp_entity_id": SP_ID, "acs_url": ACS, "now": self.now}
        base.update(overrides)
        return ResponseSpec(**base)

    def mint(self, *, key: TestKey | None = None, **kwargs: Any) -> bytes:
        """Mint a Response; ResponseSpec fields and mint_response options may be mixed in kwargs."""
        spec_kwargs = {k: v for k, v in kwargs.items() if k in SPEC_FIELDS}
        mint_kwargs = {k: v for k, v in kwargs.items() if k not in SPEC_FIELDS}
        return mint_response(self.spec(**spec_kwargs), key or self.key, **mint_kwargs)

    def check(self, message: bytes | str, *, request_id: str | None = None, now: datetime | None = None) -> AuthnResult:
        return validate_response(
            message, sp=self.sp, idp=self.idp, now=now or self.now, store=self.store, request_id=request_id
        )

    def code_of(self, message: bytes | str, **kwargs: Any) -> ErrorCode:
        try:
            self.check(message, **kwargs)
        except ResponseRejected as exc:
            return exc.code
        raise AssertionError("the message was accepted")


def tree(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)
