"""Issue #11 §3: attribute maps, presets (per vendor profile, with Responses minted by that profile), roles,
required attributes, and FriendlyName capture."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedlib.attributes import PRESETS, AttributeMap, RoleRule
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import AuthorizationRejected, ConfigurationError, ErrorCode
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.protocol.models import AuthnResult
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing.idp import TestIdP
from fedlib.testing.profiles import get_profile

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ENTITY = "https://app.example.test/saml/metadata"
ACS = "https://app.example.test/saml/acs"


def vendor_idp(profile: str) -> TestIdP:
    """The vendor's defaults with its documented settings applied (so that fedlib accepts the login)."""
    changes = {s.knob: s.value for s in get_profile(profile).settings}
    idp = TestIdP(profile=profile, **changes)
    idp.register_sp(ENTITY, ACS)
    return idp


def login(idp: TestIdP, attribute_map: AttributeMap | None, user: str | None = None) -> AuthnResult:
    sp = ServiceProvider(
        SPConfig(entity_id=ENTITY, acs_url=ACS, policy=SecurityPolicy()),
        parse_idp_metadata(idp.metadata_xml(), now=NOW),
        MemoryStore(),
        attribute_map=attribute_map,
    )
    start = sp.start_login(now=NOW)
    assert start.url is not None
    form = idp.respond(idp.receive_redirect(start.url), now=NOW, user=user)
    return sp.finish_login(dict(form.fields), browser_binding=start.browser_binding, now=NOW).authn


# Per preset: what the vendor profile sends (fedlib.testing.profiles) comes out under the app's names.
VENDORS = [
    ("entra", "entra", "groups"),
    ("adfs", "adfs", "groups"),
    ("okta", "okta", "groups"),
    ("google", "google", "groups"),
    ("keycloak", "keycloak", "roles"),
    ("shibboleth", "shibboleth", "entitlements"),
    ("auth0", "entra", "groups"),  # Auth0's SAML addon sends the same claim URIs
]


@pytest.mark.parametrize(("profile", "preset", "group_name"), VENDORS)
def test_preset_maps_the_vendor_profile(profile: str, preset: str, group_name: str) -> None:
    amap = AttributeMap.preset(
        preset,
        required=("email", "given_name", "surname"),
        roles=(RoleRule(group_name, frozenset({"admins"}), "admin"),),
    )
    authn = login(vendor_idp(profile), amap)
    assert authn.mapped("email") == "ada@example.org"
    assert authn.mapped_attributes["given_name"] == ("Ada",)
    assert authn.mapped_attributes["surname"] == ("Lovelace",)
    assert authn.mapped_attributes[group_name] == ("admins", "staff")
    assert authn.roles == frozenset({"admin"})
    assert "email" not in authn.attributes or profile in ("okta", "google")  # raw names stay raw
    grace = login(vendor_idp(profile), amap, user="grace@example.org")
    assert grace.roles == frozenset()


def test_keycloak_friendly_names_are_captured_and_mappable() -> None:
    idp = vendor_idp("keycloak")
    authn = login(idp, AttributeMap(names={"email": "mail", "givenName": "first"}))
    assert authn.friendly_names["urn:oid:1.2.840.113549.1.9.1"] == "email"
    assert authn.friendly_names["urn:oid:2.5.4.42"] == "givenName"
    assert "Role" not in authn.friendly_names
    # Matched by FriendlyName, since no Name equals "email" or "givenName".
    assert dict(authn.mapped_attributes) == {"mail": ("ada@example.org",), "first": ("Ada",)}


def test_name_wins_over_friendly_name() -> None:
    idp = vendor_idp("keycloak")
    amap = AttributeMap(names={"urn:oid:1.2.840.113549.1.9.1": "by_name", "email": "by_friendly"})
    assert dict(login(idp, amap).mapped_attributes) == {"by_name": ("ada@example.org",)}


def test_without_a_map_nothing_is_mapped_and_raw_attributes_stay() -> None:
    authn = login(vendor_idp("entra"), None)
    assert authn.mapped_attributes == {}
    assert authn.roles == frozenset()
    assert authn.attributes["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"] == (
        "ada@example.org",
    )


def test_missing_required_attribute_is_refused_with_its_name() -> None:
    idp = vendor_idp("entra")
    amap = AttributeMap.preset("entra", required=("email", "groups"))
    with pytest.raises(AuthorizationRejected) as info:
        login(idp, amap, user="zoë.ångström@example.org")  # has no groups
    assert info.value.code == ErrorCode.MISSING_REQUIRED_ATTRIBUTE
    assert "groups" in info.value.message
    assert "email" not in info.value.message.split("for this user")[0]
    assert "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups" in info.value.message


def test_required_attribute_under_another_vendors_names_is_missing() -> None:
    with pytest.raises(AuthorizationRejected) as info:
        login(vendor_idp("shibboleth"), AttributeMap.preset("entra", required=("email",)))
    assert info.value.code == ErrorCode.MISSING_REQUIRED_ATTRIBUTE


def test_group_object_id_to_admin_from_a_dict() -> None:
    amap = AttributeMap.from_dict(
        {
            "preset": "entra",
            "names": {"urn:example:dept": "department"},
            "roles": [
                {"attribute": "groups", "values": ["admins"], "role": "admin"},
                {"attribute": "groups", "value": "staff", "role": "staff"},
            ],
            "required": ["email"],
        }
    )
    assert login(vendor_idp("entra"), amap).roles == frozenset({"admin", "staff"})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"preset": "nope"}, "unknown preset"),
        ({"names": {"a": 1}}, "names"),
        ({"roles": [{"attribute": "g", "values": [], "role": "admin"}]}, "at least one value"),
        ({"roles": [{"attribute": "g", "values": ["x"], "role": "admin", "extra": 1}]}, r"roles\[0\]"),
        ({"roles": {"attribute": "g"}}, "list"),
        ({"required": "email"}, "required"),
        ({"keep_unmapped": "yes"}, "keep_unmapped"),
        ({"colour": "blue"}, "unknown key"),
    ],
)
def test_bad_maps_are_configuration_errors(data: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        AttributeMap.from_dict(data)


def test_every_preset_maps_to_application_names() -> None:
    for name, names in PRESETS.items():
        assert names, name
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in names.items())
    assert PRESETS["shibboleth"]["urn:oid:1.3.6.1.4.1.5923.1.1.1.6"] == "eppn"


def test_keep_unmapped_exposes_the_rest_under_their_names() -> None:
    authn = login(vendor_idp("okta"), AttributeMap(names={"firstName": "given_name"}, keep_unmapped=True))
    assert authn.mapped_attributes["given_name"] == ("Ada",)
    assert authn.mapped_attributes["email"] == ("ada@example.org",)


def _result(attributes: dict[str, tuple[str, ...]]) -> AuthnResult:
    return AuthnResult(
        issuer="https://idp.example.test",
        name_id="x",
        name_id_format=None,
        session_index=None,
        authn_context_class=None,
        attributes=attributes,
        not_on_or_after=None,
        in_response_to=None,
        assertion_id="a",
        response_id="r",
    )


@given(
    attributes=st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]), st.lists(st.text(max_size=3), max_size=3).map(tuple), max_size=4
    ),
    names=st.dictionaries(st.sampled_from(["a", "b", "c", "e"]), st.sampled_from(["x", "y"]), max_size=4),
)
def test_mapping_merges_in_order_and_never_invents_values(
    attributes: dict[str, tuple[str, ...]], names: dict[str, str]
) -> None:
    mapped = AttributeMap(names=names).apply(_result(attributes))
    for target, values in mapped.values.items():
        expected = [v for source, vs in attributes.items() if names.get(source) == target for v in vs]
        assert list(values) == expected
    assert set(mapped.values) == {names[s] for s in attributes if s in names}
