"""The sans-I/O metadata lifecycle core: trust rules, expiry, cacheDuration, the refresh schedule."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.metadata_support import aggregate_xml, entity_xml, federation_key, signed, signed_aggregate

from fedlib.errors import ConfigurationError
from fedlib.metadata.document import (
    RefreshPolicy,
    certificates_expiring,
    load_metadata_document,
    parse_duration,
)
from fedlib.testing import default_key

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
A = "https://a.example.org/idp"
B = "https://b.example.org/idp"


def test_unsigned_entity_without_signer_is_accepted() -> None:
    doc = load_metadata_document(entity_xml(A, [default_key()]), now=NOW)
    assert doc.kind == "entity"
    assert not doc.signed
    assert doc.idp(now=NOW).entity_id == A


def test_signature_required_when_a_signer_is_configured() -> None:
    fed = federation_key()
    xml = entity_xml(A, [default_key()])
    with pytest.raises(ConfigurationError, match="exactly one signature"):
        load_metadata_document(xml, now=NOW, signed_by=[fed.certificate])
    doc = load_metadata_document(signed(xml, fed), now=NOW, signed_by=[fed.certificate])
    assert doc.signed


def test_require_signature_needs_a_signer() -> None:
    with pytest.raises(ConfigurationError, match="configure the signer"):
        load_metadata_document(entity_xml(A, [default_key()]), now=NOW, require_signature=True)


def test_badly_signed_and_tampered_documents_are_refused() -> None:
    fed, other = federation_key(), default_key(label="other")
    xml = signed(entity_xml(A, [default_key()]), fed)
    with pytest.raises(ConfigurationError, match="signature is not valid"):
        load_metadata_document(xml, now=NOW, signed_by=[other.certificate])
    tampered = xml.replace(b"https://idp.example.org/sso", b"https://evil.example.org/sso")
    assert tampered != xml
    with pytest.raises(ConfigurationError, match="signature is not valid"):
        load_metadata_document(tampered, now=NOW, signed_by=[fed.certificate])


def test_aggregates_must_be_signed() -> None:
    agg = aggregate_xml([entity_xml(A, [default_key()])], valid_until=NOW + timedelta(days=7))
    with pytest.raises(ConfigurationError, match="aggregate must be signed"):
        load_metadata_document(agg, now=NOW)
    # only parse_idp_metadata-style local use may opt out
    assert load_metadata_document(agg, now=NOW, allow_unsigned_aggregate=True).idp_entity_ids == (A,)


def test_aggregates_must_carry_valid_until_unless_configured() -> None:
    fed = federation_key()
    agg = signed_aggregate([entity_xml(A, [default_key()])], signer=fed, valid_until=None)
    with pytest.raises(ConfigurationError, match="no validUntil"):
        load_metadata_document(agg, now=NOW, signed_by=[fed.certificate])
    doc = load_metadata_document(agg, now=NOW, signed_by=[fed.certificate], require_valid_until=False)
    assert doc.valid_until is None


def test_expired_documents_and_entities_are_refused() -> None:
    fed = federation_key()
    agg = signed_aggregate(
        [entity_xml(A, [default_key()]), entity_xml(B, [default_key()], valid_until=NOW + timedelta(hours=1))],
        signer=fed,
        valid_until=NOW + timedelta(days=1),
    )
    doc = load_metadata_document(agg, now=NOW, signed_by=[fed.certificate])
    assert doc.idp_entity_ids == (A, B)
    assert doc.idp(B, now=NOW).valid_until == NOW + timedelta(hours=1)
    assert doc.idp(A, now=NOW).valid_until == NOW + timedelta(days=1)  # the aggregate's validUntil applies
    with pytest.raises(ConfigurationError, match="expired"):
        doc.idp(B, now=NOW + timedelta(hours=2))
    with pytest.raises(ConfigurationError, match="expired"):
        load_metadata_document(agg, now=NOW + timedelta(days=1), signed_by=[fed.certificate])


def test_selection_and_duplicates() -> None:
    fed = federation_key()
    agg = signed_aggregate(
        [entity_xml(A, [default_key()]), entity_xml(B, [default_key()]), entity_xml(B, [default_key()])],
        signer=fed,
        valid_until=NOW + timedelta(days=1),
    )
    doc = load_metadata_document(agg, now=NOW, signed_by=[fed.certificate])
    assert doc.idp_entity_ids == (A,)
    with pytest.raises(ConfigurationError, match="more than once"):
        doc.idp(B, now=NOW)
    with pytest.raises(ConfigurationError, match="no entity"):
        doc.idp("https://c.example.org/", now=NOW)
    assert doc.idp(now=NOW).entity_id == A


def test_cache_duration_document_and_entity() -> None:
    fed = federation_key()
    agg = signed_aggregate(
        [entity_xml(A, [default_key()], cache_duration="PT1H"), entity_xml(B, [default_key()])],
        signer=fed,
        valid_until=NOW + timedelta(days=7),
        cache_duration="PT6H",
    )
    doc = load_metadata_document(agg, now=NOW, signed_by=[fed.certificate])
    assert doc.cache_duration == timedelta(hours=6)
    assert doc.cache_duration_for([A]) == timedelta(hours=1)
    assert doc.cache_duration_for([B]) == timedelta(hours=6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT6H", timedelta(hours=6)),
        ("P1D", timedelta(days=1)),
        ("P1DT30M", timedelta(days=1, minutes=30)),
        ("PT0.5S", timedelta(seconds=0.5)),
        ("P1Y2M", timedelta(days=365 + 60)),
        (" PT10M ", timedelta(minutes=10)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "-PT1H", "1H", "PT1H2", "P1H", "PTH", "P9999999999Y", "PT1.S"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_duration(text)


@given(st.text(max_size=30))
def test_parse_duration_never_crashes(text: str) -> None:
    with contextlib.suppress(ConfigurationError):
        assert parse_duration(text) >= timedelta(0)


def test_refresh_policy_defaults_are_shibboleth_like() -> None:
    policy = RefreshPolicy()
    assert (policy.min_delay, policy.max_delay, policy.factor) == (
        timedelta(minutes=10),
        timedelta(hours=4),
        0.75,
    )


def test_next_delay() -> None:
    policy = RefreshPolicy()
    # nothing to go by: the maximum
    assert policy.next_delay(now=NOW, valid_until=None, cache_duration=None) == timedelta(hours=4)
    # factor x cacheDuration
    assert policy.next_delay(now=NOW, valid_until=None, cache_duration=timedelta(hours=1)) == timedelta(minutes=45)
    # the nearer of cacheDuration and validUntil
    assert policy.next_delay(
        now=NOW, valid_until=NOW + timedelta(hours=2), cache_duration=timedelta(days=1)
    ) == timedelta(hours=1.5)
    # clamped
    assert policy.next_delay(now=NOW, valid_until=None, cache_duration=timedelta(minutes=1)) == timedelta(minutes=10)
    assert policy.next_delay(now=NOW, valid_until=NOW + timedelta(days=14), cache_duration=None) == timedelta(hours=4)


@given(
    valid=st.one_of(st.none(), st.integers(min_value=-(10**7), max_value=10**9)),
    cache=st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)),
)
def test_next_delay_is_always_within_bounds(valid: int | None, cache: int | None) -> None:
    policy = RefreshPolicy()
    delay = policy.next_delay(
        now=NOW,
        valid_until=NOW + timedelta(seconds=valid) if valid is not None else None,
        cache_duration=timedelta(seconds=cache) if cache is not None else None,
    )
    assert policy.min_delay <= delay <= policy.max_delay


def test_retry_backoff_is_bounded_by_the_minimum() -> None:
    policy = RefreshPolicy()
    delays = [policy.retry_delay(n) for n in range(1, 10)]
    assert delays[0] == timedelta(seconds=30)
    assert delays == sorted(delays)
    assert max(delays) == policy.min_delay
    assert policy.retry_delay(10**6) == policy.min_delay


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_delay": timedelta(0)},
        {"min_delay": timedelta(hours=5)},
        {"factor": 1.0},
        {"factor": 0.0},
    ],
)
def test_refresh_policy_refuses_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        RefreshPolicy(**kwargs)  # type: ignore[arg-type]


def test_certificates_expiring() -> None:
    key = default_key()
    idp = load_metadata_document(entity_xml(A, [key]), now=NOW).idp(now=NOW)
    not_after = key.certificate.not_valid_after_utc
    assert certificates_expiring(idp, now=NOW, within=timedelta(days=1)) == [] or not_after <= NOW + timedelta(days=1)
    soon = certificates_expiring(idp, now=not_after - timedelta(days=5), within=timedelta(days=30))
    assert [(c, d, e) for c, d, e in soon] == [(key.certificate, not_after, False)]
    gone = certificates_expiring(idp, now=not_after + timedelta(days=1), within=timedelta(days=30))
    assert gone[0][2] is True


def test_a_federation_sized_document_is_not_refused_as_too_complex() -> None:
    """Aggregates legitimately exceed every structural limit of a SAML message (elements, namespace
    declarations, ID attributes): the metadata loader must parse with the metadata limits, not the
    message ones (no false rejects of real federation metadata)."""
    key = default_key()
    entities = [
        entity_xml(f"https://idp{i}.example.org/idp", [key]).replace(
            b"<md:EntityDescriptor ", f'<md:EntityDescriptor xmlns:mdui="urn:x:{i}" ID="_e{i}" '.encode(), 1
        )
        for i in range(5000)
    ]
    agg = aggregate_xml(entities, valid_until=NOW + timedelta(days=7))
    doc = load_metadata_document(agg, now=NOW, allow_unsigned_aggregate=True)
    assert len(doc.idp_entity_ids) == 5000
    assert doc.idp("https://idp4999.example.org/idp", now=NOW).signing_certificates == (key.certificate,)


def _unknown_key_certificate_b64() -> str:
    """A TEST certificate whose SubjectPublicKeyInfo names an unknown algorithm (rsaEncryption's OID with
    its last arc changed): it parses as a certificate, but its key cannot be loaded."""
    import base64

    der = default_key().cert_der
    rsa_encryption = bytes.fromhex("06092A864886F70D010101")
    assert der.count(rsa_encryption) == 1
    return base64.b64encode(der.replace(rsa_encryption, bytes.fromhex("06092A864886F70D010163"))).decode()


def test_a_certificate_with_an_unknown_key_type_is_a_configuration_error() -> None:
    from fedlib.metadata.idp import parse_idp_metadata

    xml = entity_xml(A, [default_key()]).replace(
        default_key().cert_b64.encode(), _unknown_key_certificate_b64().encode()
    )
    with pytest.raises(ConfigurationError, match="key"):
        load_metadata_document(xml, now=NOW).idp(now=NOW)
    with pytest.raises(ConfigurationError, match="key"):
        parse_idp_metadata(xml, now=NOW)
