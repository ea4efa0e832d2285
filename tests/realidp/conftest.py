"""A real IdP product (SimpleSAMLphp, pysaml2's IdP) per test module, for each kind this machine has."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.metadata.idp import IdPMetadata, parse_idp_metadata
from fedlib.metadata.sp import render_sp_metadata
from fedlib.testing.keys import default_key
from fedlib.testing.realidp import KINDS, RealIdP, start_idp
from tests.conftest import note_real_idp, require_real_idp

SP = SPConfig(
    entity_id="https://sp.example.test/saml/metadata",
    acs_url="https://sp.example.test/saml/acs",
    slo_url="https://sp.example.test/saml/logout",
    signing_key=default_key("rsa", "sp").private_key,  # a TEST key: signs AuthnRequests and LogoutRequests
    signing_certificates=(default_key("rsa", "sp").certificate,),
    policy=SecurityPolicy(allow_unsolicited=True),
)
"""The SP the real IdPs are configured for (its metadata, with its signing certificate, is what they trust).
They never contact it: the tests carry its messages."""


@pytest.fixture(scope="module", params=KINDS)
def real_idp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealIdP]:
    kind = request.param
    require_real_idp(kind)
    idp = start_idp(kind, tmp_path_factory.mktemp(f"realidp-{kind}"), render_sp_metadata(SP))
    note_real_idp(kind, idp.product)
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def real_idp_metadata(real_idp: RealIdP) -> IdPMetadata:
    return parse_idp_metadata(real_idp.metadata_xml(), now=datetime.now(UTC))
