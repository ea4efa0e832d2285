"""Issue #10 §4/§6: display names (mdui:UIInfo) and filtering an aggregate's IdPs by entity attributes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree
from tests.metadata_support import aggregate_xml, entity_xml, federation_key, signed

from fedlib.errors import ConfigurationError
from fedlib.metadata.document import REFEDS_RS, SIRTFI, EntityFilter, load_metadata_document
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.testing import default_key

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
MDUI = "urn:oasis:names:tc:SAML:metadata:ui"
MDATTR = "urn:oasis:names:tc:SAML:metadata:attribute"
MDRPI = "urn:oasis:names:tc:SAML:metadata:rpi"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CATEGORY = "http://macedir.org/entity-category"
ASSURANCE = "urn:oasis:names:tc:SAML:attribute:assurance-certification"


def _entity(
    entity_id: str,
    *,
    names: dict[str, str] | None = None,
    org_names: dict[str, str] | None = None,
    attributes: dict[str, list[str]] | None = None,
    authority: str | None = None,
) -> bytes:
    root = etree.fromstring(entity_xml(entity_id, [default_key()]))
    if attributes or authority:
        ext = etree.Element(f"{{{MD}}}Extensions")
        root.insert(0, ext)
        if authority:
            etree.SubElement(ext, f"{{{MDRPI}}}RegistrationInfo").set("registrationAuthority", authority)
        if attributes:
            attrs = etree.SubElement(ext, f"{{{MDATTR}}}EntityAttributes")
            for name, values in attributes.items():
                attr = etree.SubElement(attrs, f"{{{SAML}}}Attribute", Name=name)
                for value in values:
                    etree.SubElement(attr, f"{{{SAML}}}AttributeValue").text = value
    if names:
        descriptor = root.find(f"{{{MD}}}IDPSSODescriptor")
        assert descriptor is not None
        ext = etree.Element(f"{{{MD}}}Extensions")
        descriptor.insert(0, ext)
        ui = etree.SubElement(ext, f"{{{MDUI}}}UIInfo")
        for lang, text in names.items():
            etree.SubElement(ui, f"{{{MDUI}}}DisplayName", {XML_LANG: lang}).text = text
    if org_names:
        org = etree.SubElement(root, f"{{{MD}}}Organization")
        for lang, text in org_names.items():
            etree.SubElement(org, f"{{{MD}}}OrganizationName", {XML_LANG: lang}).text = text + " Inc"
        for lang, text in org_names.items():
            etree.SubElement(org, f"{{{MD}}}OrganizationDisplayName", {XML_LANG: lang}).text = text
        for lang in org_names:
            etree.SubElement(org, f"{{{MD}}}OrganizationURL", {XML_LANG: lang}).text = "https://example.org/"
    return etree.tostring(root)


A = "https://a.example.org/idp"
B = "https://b.example.org/idp"
C = "https://c.example.org/idp"


def test_display_name_prefers_english_then_any_then_organization_then_none() -> None:
    xml = _entity(A, names={"de": "Universität A", "en": "University A"})
    assert parse_idp_metadata(xml, now=NOW).display_name == "University A"
    xml = _entity(A, names={"de": "Universität A", "en-GB": "University A (GB)"})
    assert parse_idp_metadata(xml, now=NOW).display_name == "University A (GB)"
    xml = _entity(A, names={"fi": "Yliopisto A"}, org_names={"en": "Org A"})
    assert parse_idp_metadata(xml, now=NOW).display_name == "Yliopisto A"
    xml = _entity(A, org_names={"sv": "Org A sv", "en": "Org A"})
    assert parse_idp_metadata(xml, now=NOW).display_name == "Org A"
    assert parse_idp_metadata(_entity(A), now=NOW).display_name is None


def test_blank_display_name_falls_through() -> None:
    xml = _entity(A, names={"en": "   "}, org_names={"en": "Org A"})
    assert parse_idp_metadata(xml, now=NOW).display_name == "Org A"


def test_display_name_from_an_aggregate_document() -> None:
    fed = federation_key()
    xml = signed(aggregate_xml([_entity(A, names={"en": "A"}), _entity(B)], valid_until=NOW.replace(year=2027)), fed)
    doc = load_metadata_document(xml, now=NOW, signed_by=[fed.certificate])
    assert doc.idp(A, now=NOW).display_name == "A"
    assert doc.idp(B, now=NOW).display_name is None


def _federation() -> tuple[bytes, object]:
    fed = federation_key()
    entities = [
        _entity(A, attributes={CATEGORY: [REFEDS_RS], ASSURANCE: [SIRTFI]}, authority="https://fed-x.example"),
        _entity(B, attributes={CATEGORY: [REFEDS_RS]}, authority="https://fed-y.example"),
        _entity(C, authority="https://fed-x.example"),
    ]
    return signed(aggregate_xml(entities, valid_until=NOW.replace(year=2027)), fed), fed


def test_filter_by_entity_category_assurance_and_registration_authority() -> None:
    xml, fed = _federation()
    doc = load_metadata_document(xml, now=NOW, signed_by=[fed.certificate])  # type: ignore[attr-defined]
    assert doc.idp_entity_ids_matching(EntityFilter()) == (A, B, C)
    assert doc.idp_entity_ids_matching(EntityFilter(entity_categories=[REFEDS_RS])) == (A, B)
    assert doc.idp_entity_ids_matching(EntityFilter(assurance_certifications=[SIRTFI])) == (A,)
    assert doc.idp_entity_ids_matching(EntityFilter(registration_authorities=["https://fed-x.example"])) == (A, C)
    both = EntityFilter(entity_categories=[REFEDS_RS], registration_authorities=["https://fed-y.example"])
    assert doc.idp_entity_ids_matching(both) == (B,)


def test_an_attribute_value_under_another_attribute_name_does_not_match() -> None:
    fed = federation_key()
    entity = _entity(A, attributes={"urn:example:other": [REFEDS_RS, SIRTFI]})
    xml = signed(aggregate_xml([entity], valid_until=NOW.replace(year=2027)), fed)
    doc = load_metadata_document(xml, now=NOW, signed_by=[fed.certificate])
    assert doc.idp_entity_ids_matching(EntityFilter(entity_categories=[REFEDS_RS])) == ()
    assert doc.idp_entity_ids_matching(EntityFilter(assurance_certifications=[SIRTFI])) == ()


def test_registration_info_on_the_aggregate_applies_to_its_entities() -> None:
    fed = federation_key()
    root = etree.fromstring(
        aggregate_xml([_entity(A), _entity(B, authority="https://own.example")], valid_until=NOW.replace(year=2027))
    )
    ext = etree.Element(f"{{{MD}}}Extensions")
    root.insert(0, ext)
    etree.SubElement(ext, f"{{{MDRPI}}}RegistrationInfo").set("registrationAuthority", "https://fed-x.example")
    doc = load_metadata_document(signed(etree.tostring(root), fed), now=NOW, signed_by=[fed.certificate])
    assert doc.idp_entity_ids_matching(EntityFilter(registration_authorities=["https://fed-x.example"])) == (A,)


def test_filter_rejects_bad_configuration() -> None:
    with pytest.raises(ConfigurationError):
        EntityFilter(entity_categories="http://refeds.org/category/research-and-scholarship")
    with pytest.raises(ConfigurationError):
        EntityFilter(registration_authorities=[""])


def test_metadata_provider_trusts_only_the_filtered_idps(tmp_path: object) -> None:
    from pathlib import Path

    from fedlib.clock import FixedClock
    from fedlib.federation import MetadataProvider

    xml, fed = _federation()
    path = Path(str(tmp_path)) / "fed.xml"
    path.write_bytes(xml)
    provider = MetadataProvider(
        str(path),
        signer=fed.certificate,  # type: ignore[attr-defined]
        entity_filter=EntityFilter(entity_categories=[REFEDS_RS], assurance_certifications=[SIRTFI]),
        clock=FixedClock(NOW),
    )
    assert set(provider.current().idps) == {A}
    with pytest.raises(ConfigurationError, match="entity_filter"):
        MetadataProvider(
            str(path), signer=fed.certificate, entity_ids=[A], entity_filter=EntityFilter(), clock=FixedClock(NOW)
        )  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="no usable"):
        MetadataProvider(
            str(path),
            signer=fed.certificate,  # type: ignore[attr-defined]
            entity_filter=EntityFilter(registration_authorities=["https://nobody.example"]),
            clock=FixedClock(NOW),
        )


@pytest.mark.parametrize(
    "attribute", ["ID", "Id", "id", "{http://www.w3.org/XML/1998/namespace}id", "{urn:example:other}ID"]
)
def test_the_aggregates_signed_id_must_be_unique_in_the_document(attribute: str) -> None:
    """The metadata path proves uniqueness of the referenced ID only (not a full index): an entity
    carrying the root's ID under any ID-like name is refused as signature wrapping (checked before the
    digest, so the duplicate is added after signing); a namespaced ``ID`` is not ID-like (the full index
    does not count it either), so that document gets as far as the digest, which the change breaks."""
    fed = federation_key()
    root = etree.fromstring(signed(aggregate_xml([_entity(A), _entity(B)], valid_until=NOW.replace(year=2027)), fed))
    entity = root.find(f"{{{MD}}}EntityDescriptor")
    assert entity is not None
    entity.set(attribute, "_md1")  # signed() gives the document element ID="_md1"
    xml = etree.tostring(root)
    expected = "invalid-signature" if attribute.startswith("{urn:example") else "signature-wrapping"
    with pytest.raises(ConfigurationError, match=expected):
        load_metadata_document(xml, now=NOW, signed_by=[fed.certificate])
    with pytest.raises(ConfigurationError, match=expected):
        parse_idp_metadata(xml, now=NOW, entity_id=A, signed_by=[fed.certificate])


def test_the_root_carrying_its_id_twice_under_two_names_is_refused() -> None:
    fed = federation_key()
    root = etree.fromstring(signed(aggregate_xml([_entity(A)], valid_until=NOW.replace(year=2027)), fed))
    root.set("Id", "_md1")
    xml = etree.tostring(root)
    with pytest.raises(ConfigurationError, match="signature-wrapping"):
        load_metadata_document(xml, now=NOW, signed_by=[fed.certificate])


def test_an_entity_hidden_in_the_aggregates_signature_is_not_served() -> None:
    """The document's Signature is detached before the digest, so nothing in it is signed: an entity slipped
    into its KeyInfo (which the profile tolerates) must not be indexed, although the loader collects entities
    in its structural pass, before verification."""
    fed = federation_key()
    root = etree.fromstring(signed(aggregate_xml([_entity(A)], valid_until=NOW.replace(year=2027)), fed))
    key_info = root.find("{http://www.w3.org/2000/09/xmldsig#}Signature/{http://www.w3.org/2000/09/xmldsig#}KeyInfo")
    assert key_info is not None
    key_info.append(etree.fromstring(_entity(B)))
    document = load_metadata_document(etree.tostring(root), now=NOW, signed_by=[fed.certificate])
    assert document.idp_entity_ids == (A,)
    with pytest.raises(ConfigurationError, match="no entity"):
        document.idp(B, now=NOW)


def test_filter_by_any_entity_attribute() -> None:
    """``entity_attributes``: any mdattr:EntityAttributes attribute by name (each listed name must hold one
    of its values); the category and certification criteria are shortcuts for two such names and combine
    with it (AND)."""
    fed = federation_key()
    entities = [
        _entity(A, attributes={"urn:example:support": ["x", "y"], CATEGORY: [REFEDS_RS]}),
        _entity(B, attributes={"urn:example:support": ["y"]}),
        _entity(C, attributes={"urn:example:other": ["x"]}),
    ]
    xml = signed(aggregate_xml(entities, valid_until=NOW.replace(year=2027)), fed)
    doc = load_metadata_document(xml, now=NOW, signed_by=[fed.certificate])
    assert doc.idp_entity_ids_matching(EntityFilter(entity_attributes={"urn:example:support": ["x"]})) == (A,)
    assert doc.idp_entity_ids_matching(EntityFilter(entity_attributes={"urn:example:support": ["x", "y"]})) == (A, B)
    two_names = EntityFilter(entity_attributes={"urn:example:support": ["y"], "urn:example:other": ["x"]})
    assert doc.idp_entity_ids_matching(two_names) == ()
    assert doc.idp_entity_ids_matching(EntityFilter(entity_attributes={CATEGORY: [REFEDS_RS]})) == (A,)
    both = EntityFilter(entity_categories=[REFEDS_RS], entity_attributes={"urn:example:support": ["y"]})
    assert doc.idp_entity_ids_matching(both) == (A,)
    assert EntityFilter(entity_attributes={"urn:example:support": ["x"]})
    assert EntityFilter(entity_attributes={"n": ["v"]}) == EntityFilter(entity_attributes={"n": ("v",)})


@pytest.mark.parametrize(
    "bad",
    [
        "urn:example:support",
        ["urn:example:support"],
        {"": ["x"]},
        {"urn:example:support": []},
        {"urn:example:support": "x"},
        {"urn:example:support": [""]},
        {"urn:example:support": [1]},
        {3: ["x"]},
    ],
)
def test_filter_rejects_bad_entity_attributes(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="entity_attributes"):
        EntityFilter(entity_attributes=bad)  # type: ignore[arg-type]
