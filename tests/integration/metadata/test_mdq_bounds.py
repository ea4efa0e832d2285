"""MDQ lookups keyed by input an attacker chooses (the unverified Issuer of a posted Response, through
``ensure_for_response``): the cache stays bounded, and an identifier no SAML entity can have (SAML core
§8.3.6: an entity identifier is at most 1024 characters) is never sent to the service."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.metadata.test_lifecycle import IDP, Clock, idp_document, loopback
from tests.metadata_support import federation_key, signed

from fedlib.errors import ConfigurationError
from fedlib.federation import MDQClient, mdq_url
from fedlib.testing import default_key


def test_the_cache_is_bounded_against_random_issuers(http_server: Any) -> None:
    fed, key = federation_key(), default_key()
    http_server.script.serve(mdq_url("", IDP), signed(idp_document([key]), fed))
    mdq = MDQClient(http_server.base, signer=fed.certificate, fetcher=loopback(), clock=Clock(), max_entries=8)
    assert mdq.lookup(IDP) is not None
    for i in range(50):  # unknown to the service: 404s, each remembered for a minute
        assert mdq.lookup(f"https://random-{i}.example/") is None
        assert len(mdq._cache) <= 8
    requests = len(http_server.script.requests)
    assert mdq.lookup("https://random-49.example/") is None  # the recent ones are still remembered
    assert len(http_server.script.requests) == requests


def test_a_known_entity_in_use_is_kept_while_random_ones_come_and_go(http_server: Any) -> None:
    fed, key = federation_key(), default_key()
    http_server.script.serve(mdq_url("", IDP), signed(idp_document([key]), fed))
    mdq = MDQClient(http_server.base, signer=fed.certificate, fetcher=loopback(), clock=Clock(), max_entries=4)
    first = mdq.lookup(IDP)
    for i in range(20):
        mdq.lookup(f"https://random-{i}.example/")
        assert mdq.lookup(IDP) is first  # used between the misses: least recently used is someone else
    fetches_of_idp = [p for p, _ in http_server.script.requests if p == mdq_url("", IDP)]
    assert len(fetches_of_idp) == 1


@pytest.mark.parametrize("entity_id", ["", "https://idp.example/" + "x" * 1100])
def test_identifiers_no_entity_can_have_are_not_looked_up(http_server: Any, entity_id: str) -> None:
    fed = federation_key()
    mdq = MDQClient(http_server.base, signer=fed.certificate, fetcher=loopback(), clock=Clock())
    assert mdq.lookup(entity_id) is None
    assert http_server.script.requests == []
    assert entity_id not in mdq._cache


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_max_entries_is_validated(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_entries"):
        MDQClient("https://mdq.example.org", signer=federation_key().certificate, max_entries=value)
