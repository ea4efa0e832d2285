"""Settings with metadata_url / mdq_base: fetched at load, attached to the tenants' ServiceProviders, refreshed
and swapped atomically in a TenantRegistry without a restart."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.integration.metadata.test_lifecycle import ACS, IDP, NOW, SP_ENTITY, Clock, idp_document, login, refused
from tests.metadata_support import federation_key

from fedlib.errors import ConfigurationError, ErrorCode
from fedlib.federation import HTTPFetcher, mdq_url
from fedlib.settings import load_settings
from fedlib.tenants import TenantRegistry
from fedlib.testing import default_key


def settings_data(idp: dict[str, Any]) -> dict[str, Any]:
    return {"sp": {"entity_id": SP_ENTITY, "acs_url": ACS}, "idps": [idp]}


def test_metadata_url_in_settings_rotates_in_a_live_registry(http_server: Any, tmp_path: Path) -> None:
    fed, old, new = federation_key(), default_key(), default_key(label="rotated")
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    http_server.script.serve("/idp.xml", idp_document([old], signer=fed))
    clock = Clock()
    settings = load_settings(
        settings_data(
            {
                "metadata_url": http_server.url("/idp.xml"),
                "metadata_signing_certificates": ["fed.crt"],
                "backing_file": "idp-backing.xml",
                "refresh_min_seconds": 60,
                "allow_unsolicited": True,
            }
        ),
        base_dir=tmp_path,
        now=NOW,
        clock=clock,
        fetcher=HTTPFetcher(allow_http=True, read_timeout=2.0),
    )
    assert (tmp_path / "idp-backing.xml").is_file()
    registry = TenantRegistry.from_settings(settings, clock=clock, refresh=False)
    sp = registry.get("default")
    assert login(sp, old, clock).authn.issuer == IDP
    (provider,) = settings.metadata_providers
    http_server.script.serve("/idp.xml", idp_document([new], signer=fed))
    assert provider.refresh_now()
    assert registry.get("default") is sp  # the same live object, new trust
    assert login(sp, new, clock).authn.issuer == IDP
    assert refused(sp, old, clock) == ErrorCode.UNTRUSTED_CERTIFICATE
    assert sp.idp(IDP).policy is not None
    assert sp.idp(IDP).policy.allow_unsolicited is True  # the per-IdP policy survives the swap
    registry.close()


def test_registry_starts_and_stops_the_refresh_threads(http_server: Any, tmp_path: Path) -> None:
    http_server.script.serve("/idp.xml", idp_document([default_key()]))
    settings = load_settings(
        settings_data({"metadata_url": http_server.url("/idp.xml")}),
        base_dir=tmp_path,
        now=NOW,
        fetcher=HTTPFetcher(allow_http=True, read_timeout=2.0),
    )
    registry = TenantRegistry.from_settings(settings)
    (provider,) = settings.metadata_providers
    assert provider._thread is not None
    assert provider._thread.is_alive()
    registry.close()
    assert provider._thread is None


def test_mdq_base_in_settings(http_server: Any, tmp_path: Path) -> None:
    fed, key = federation_key(), default_key()
    (tmp_path / "mdq.crt").write_bytes(fed.cert_pem)
    http_server.script.serve(mdq_url("", IDP), idp_document([key], signer=fed))
    clock = Clock()
    settings = load_settings(
        settings_data({"mdq_base": http_server.base, "entity_id": IDP, "metadata_signing_certificates": ["mdq.crt"]}),
        base_dir=tmp_path,
        now=NOW,
        clock=clock,
        fetcher=HTTPFetcher(allow_http=True, read_timeout=2.0),
    )
    sp = settings.service_provider(clock=clock)
    assert login(sp, key, clock).authn.issuer == IDP
    _, headers = http_server.script.requests[-1]
    assert headers["Accept"].startswith("application/samlmetadata+xml")
    # an unsigned MDQ answer is refused even though it is a single entity
    http_server.script.serve(mdq_url("", IDP), idp_document([key]))
    clock.advance(timedelta(hours=5))
    (provider,) = settings.metadata_providers
    assert not provider.refresh_now()
    assert "signature" in (provider.status().last_error or "")


def test_mdq_sha1_form_in_settings(http_server: Any, tmp_path: Path) -> None:
    """mdq_form = "sha1": the transformed identifier ``{sha1}<hex>`` (MDQ protocol draft), which some
    services (and static MDQ mirrors) serve instead of the percent-encoded entityID."""
    fed, key = federation_key(), default_key()
    (tmp_path / "mdq.crt").write_bytes(fed.cert_pem)
    http_server.script.serve(mdq_url("", IDP, "sha1"), idp_document([key], signer=fed))
    entry = {
        "mdq_base": http_server.base,
        "mdq_form": "sha1",
        "entity_id": IDP,
        "metadata_signing_certificates": ["mdq.crt"],
    }
    clock = Clock()
    fetcher = HTTPFetcher(allow_http=True, read_timeout=2.0)
    settings = load_settings(settings_data(entry), base_dir=tmp_path, now=NOW, clock=clock, fetcher=fetcher)
    path, _ = http_server.script.requests[-1]
    assert path.endswith("/entities/%7Bsha1%7D" + hashlib.sha1(IDP.encode()).hexdigest())  # noqa: S324
    assert login(settings.service_provider(clock=clock), key, clock).authn.issuer == IDP


def test_mdq_form_settings_are_checked(tmp_path: Path) -> None:
    (tmp_path / "mdq.crt").write_bytes(federation_key().cert_pem)
    base = {"mdq_base": "https://mdq.example.org", "entity_id": IDP, "metadata_signing_certificates": ["mdq.crt"]}
    with pytest.raises(ConfigurationError, match=r"idps\[0\]: mdq_form must be \"entity-id\" or \"sha1\""):
        load_settings(settings_data({**base, "mdq_form": "md5"}), base_dir=tmp_path, now=NOW)
    url = {"metadata_url": "https://md.example.org/idp.xml", "mdq_form": "sha1"}
    with pytest.raises(ConfigurationError, match=r"idps\[0\]: mdq_form needs mdq_base"):
        load_settings(settings_data(url), base_dir=tmp_path, now=NOW)


B = "https://b.example.test/saml"


def _tenant(entity_id: str, idp: dict[str, Any]) -> dict[str, Any]:
    host = entity_id.split("//")[1].split(".")[0]
    return {
        "sp": {"entity_id": f"https://{host}.sp.example.test/saml", "acs_url": f"https://{host}.sp.example.test/acs"},
        "idps": [idp],
    }


def test_one_aggregate_fetched_and_verified_once_for_every_tenant(http_server: Any, tmp_path: Path) -> None:
    """Parse, verify and index once, serve many IdPs: two tenants naming two IdPs of one aggregate (and a
    third entry naming the first again) make one request, and each tenant trusts only its own IdP."""
    fed, a_key, b_key, rotated = federation_key(), default_key(), default_key(label="b"), default_key(label="r")
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    until = NOW + timedelta(days=7)
    from tests.metadata_support import entity_xml, signed_aggregate

    http_server.script.serve(
        "/fed.xml", signed_aggregate([entity_xml(IDP, [a_key]), entity_xml(B, [b_key])], signer=fed, valid_until=until)
    )
    source = {"metadata_url": http_server.url("/fed.xml"), "metadata_signing_certificates": ["fed.crt"]}
    data = {
        "tenants": {
            "alpha": _tenant("https://alpha.example", {**source, "entity_id": IDP}),
            "beta": _tenant("https://beta.example", {**source, "entity_id": B}),
            "gamma": _tenant("https://gamma.example", {**source, "entity_id": IDP}),
        }
    }
    clock = Clock()
    settings = load_settings(
        data, base_dir=tmp_path, now=NOW, clock=clock, fetcher=HTTPFetcher(allow_http=True, read_timeout=2.0)
    )
    assert len(http_server.script.requests) == 1
    (provider,) = settings.metadata_providers
    assert set(provider.current().idps) == {IDP, B}
    registry = TenantRegistry.from_settings(settings, clock=clock, refresh=False)
    alpha, beta = registry.get("alpha"), registry.get("beta")
    assert set(alpha.idps) == {IDP}
    assert set(beta.idps) == {B}
    # IdP A rotates: one refresh updates every tenant that trusts it, and only those
    http_server.script.serve(
        "/fed.xml",
        signed_aggregate([entity_xml(IDP, [rotated]), entity_xml(B, [b_key])], signer=fed, valid_until=until),
    )
    assert provider.refresh_now()
    assert len(http_server.script.requests) == 2
    assert alpha.idp(IDP).metadata.signing_certificates == (rotated.certificate,)
    assert registry.get("gamma").idp(IDP).metadata.signing_certificates == (rotated.certificate,)
    assert set(beta.idps) == {B}
    registry.close()


def test_one_metadata_file_is_parsed_once(tmp_path: Path, monkeypatch: Any) -> None:
    from tests.metadata_support import aggregate_xml, entity_xml

    import fedlib.settings as settings_module

    (tmp_path / "agg.xml").write_bytes(
        aggregate_xml([entity_xml(IDP, [default_key()]), entity_xml(B, [default_key(label="b")])], valid_until=None)
    )
    calls: list[int] = []
    real = settings_module.load_metadata_document

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(settings_module, "load_metadata_document", counting)
    data = {
        "tenants": {
            "alpha": _tenant("https://alpha.example", {"metadata_file": "agg.xml", "entity_id": IDP}),
            "beta": _tenant("https://beta.example", {"metadata_file": "agg.xml", "entity_id": B}),
            "gamma": _tenant("https://gamma.example", {"metadata_file": "./agg.xml", "entity_id": IDP}),
        }
    }
    settings = load_settings(data, base_dir=tmp_path, now=NOW)
    assert [i.entity_id for i in settings.tenant("beta").idps] == [B]
    assert [i.entity_id for i in settings.tenant("gamma").idps] == [IDP]
    assert len(calls) == 1  # three entries, one file ("./agg.xml" is the same path): parsed and indexed once


def test_filtered_aggregate_in_settings_follows_the_federation(http_server: Any, tmp_path: Path) -> None:
    """An [[idps]] entry with a filter trusts every IdP of the aggregate that passes it: an IdP the federation
    registers later arrives at the next refresh (without a restart) with the entry's own per-IdP settings
    (policy, require_mfa), one that does not pass never does, and one whose registration lapses is dropped."""
    from tests.metadata_support import signed_aggregate
    from tests.unit.metadata.test_entity_selection import CATEGORY, _entity

    from fedlib.metadata.document import REFEDS_RS

    fed, until = federation_key(), NOW + timedelta(days=7)
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    rs = {CATEGORY: [REFEDS_RS]}
    http_server.script.serve(
        "/fed.xml", signed_aggregate([_entity(IDP, attributes=rs), _entity(B)], signer=fed, valid_until=until)
    )
    entry = {
        "metadata_url": http_server.url("/fed.xml"),
        "metadata_signing_certificates": ["fed.crt"],
        "entity_categories": [REFEDS_RS],
        "require_mfa": True,
        "allow_unsolicited": True,
    }
    clock = Clock()
    fetcher = HTTPFetcher(allow_http=True, read_timeout=2.0)
    settings = load_settings(settings_data(entry), base_dir=tmp_path, now=NOW, clock=clock, fetcher=fetcher)
    (provider,) = settings.metadata_providers
    assert set(provider.current().idps) == {IDP}
    registry = TenantRegistry.from_settings(settings, clock=clock, refresh=False)
    sp = registry.get("default")
    assert set(sp.idps) == {IDP}
    c_entity = "https://c.example.org/idp"
    http_server.script.serve(
        "/fed.xml",
        signed_aggregate([_entity(IDP), _entity(B), _entity(c_entity, attributes=rs)], signer=fed, valid_until=until),
    )
    assert provider.refresh_now()
    assert set(sp.idps) == {c_entity}  # IDP no longer registered as R&S: dropped; B never passed
    joined = sp.idp(c_entity)
    assert joined.require_mfa is True
    assert joined.policy is not None
    assert joined.policy.allow_unsolicited is True
    registry.close()


def test_entries_with_one_source_and_one_filter_share_a_provider(http_server: Any, tmp_path: Path) -> None:
    from tests.metadata_support import signed_aggregate
    from tests.unit.metadata.test_entity_selection import CATEGORY, _entity

    from fedlib.metadata.document import REFEDS_RS

    fed, until = federation_key(), NOW + timedelta(days=7)
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    http_server.script.serve(
        "/fed.xml",
        signed_aggregate([_entity(IDP, attributes={CATEGORY: [REFEDS_RS]}), _entity(B)], signer=fed, valid_until=until),
    )
    source = {"metadata_url": http_server.url("/fed.xml"), "metadata_signing_certificates": ["fed.crt"]}
    rs = {**source, "entity_categories": [REFEDS_RS]}
    data = {
        "tenants": {
            "alpha": _tenant("https://alpha.example", rs),
            "beta": _tenant("https://beta.example", rs),
            "gamma": _tenant("https://gamma.example", {**source, "entity_id": B}),
        }
    }
    fetcher = HTTPFetcher(allow_http=True, read_timeout=2.0)
    settings = load_settings(data, base_dir=tmp_path, now=NOW, clock=Clock(), fetcher=fetcher)
    assert len(settings.metadata_providers) == 2  # one per (source, filter): the filter decides what it serves
    assert len(http_server.script.requests) == 2
    assert [i.entity_id for i in settings.tenant("alpha").idps] == [IDP]
    assert [i.entity_id for i in settings.tenant("beta").idps] == [IDP]
    assert [i.entity_id for i in settings.tenant("gamma").idps] == [B]
    settings.stop_refresh()


class _RecordingFetcher(HTTPFetcher):
    """The HTTPFetcher that URLSource creates when the settings give none (plain http allowed for the local
    server): every instance, and whether it was closed."""

    made: ClassVar[list[_RecordingFetcher]] = []

    def __init__(self) -> None:
        super().__init__(allow_http=True, read_timeout=2.0)
        self.closed = False
        _RecordingFetcher.made.append(self)

    def close(self) -> None:
        self.closed = True
        super().close()


@pytest.mark.parametrize("failing", ["a later IdP entry", "its own first fetch"])
def test_a_load_that_fails_closes_the_http_clients_it_opened(
    http_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """A refused load (e.g. Django's site retrying on every request) must not leave an HTTP client per attempt."""
    import fedlib.federation.sources as sources

    monkeypatch.setattr(sources, "HTTPFetcher", _RecordingFetcher)
    _RecordingFetcher.made = []
    fed = federation_key()
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    http_server.script.serve("/idp.xml", idp_document([default_key()], signer=fed))
    good = {"metadata_url": http_server.url("/idp.xml"), "metadata_signing_certificates": ["fed.crt"]}
    if failing == "a later IdP entry":
        idps = [good, {"metadata_file": "missing.xml"}]
    else:
        idps = [{**good, "metadata_url": http_server.url("/missing.xml")}]
    data = {"sp": {"entity_id": SP_ENTITY, "acs_url": ACS}, "idps": idps}
    with pytest.raises(ConfigurationError):
        load_settings(data, base_dir=tmp_path, now=NOW, clock=Clock())
    assert _RecordingFetcher.made
    assert all(fetcher.closed for fetcher in _RecordingFetcher.made)


def test_a_registry_that_cannot_be_built_closes_the_settings_http_clients(
    http_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TenantRegistry.from_settings takes the settings over (Flask's and Django's settings loading hand them
    straight to it): when a store cannot be opened, their metadata providers' HTTP clients are closed too."""
    import fedlib.federation.sources as sources
    from fedlib.errors import StoreError

    monkeypatch.setattr(sources, "HTTPFetcher", _RecordingFetcher)
    _RecordingFetcher.made = []
    fed = federation_key()
    (tmp_path / "fed.crt").write_bytes(fed.cert_pem)
    http_server.script.serve("/idp.xml", idp_document([default_key()], signer=fed))
    data = {
        "store": f"sqlite:///{tmp_path}/missing-dir/x.db",
        "sp": {"entity_id": SP_ENTITY, "acs_url": ACS},
        "idps": [{"metadata_url": http_server.url("/idp.xml"), "metadata_signing_certificates": ["fed.crt"]}],
    }
    settings = load_settings(data, base_dir=tmp_path, now=NOW, clock=Clock())
    assert _RecordingFetcher.made
    assert not any(fetcher.closed for fetcher in _RecordingFetcher.made)
    with pytest.raises(StoreError):
        TenantRegistry.from_settings(settings, refresh=False)
    assert all(fetcher.closed for fetcher in _RecordingFetcher.made)
