"""The metadata lifecycle against a real HTTP server on 127.0.0.1: rotation, 304, outages and the backing
file, tampered and expired documents, MDQ, and the HTTP client's limits (issue #10 §8)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.metadata_support import binding_kwargs, entity_xml, federation_key, signed, signed_aggregate

from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.federation import FetchError, HTTPFetcher, MDQClient, MetadataProvider, mdq_url
from fedlib.federation.http import Validators
from fedlib.metadata.document import RefreshPolicy
from fedlib.sp import ServiceProvider
from fedlib.stores.memory import MemoryStore
from fedlib.testing import TestKey, default_key
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
IDP = "https://idp.example.test/saml"
SP_ENTITY = "https://sp.example.test/saml/metadata"
ACS = "https://sp.example.test/saml/acs"


@dataclass
class Clock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


def loopback() -> HTTPFetcher:
    return HTTPFetcher(allow_http=True, connect_timeout=2.0, read_timeout=2.0)


def idp_document(keys: list[TestKey], *, signer: TestKey | None = None, valid_until: datetime | None = None) -> bytes:
    xml = TestIdP(entity_id=IDP, key=keys[0]).metadata_xml(extra_certificates=[k.certificate for k in keys[1:]])
    if valid_until is not None:
        from lxml import etree

        from fedlib.clock import format_instant

        root = etree.fromstring(xml)
        root.set("validUntil", format_instant(valid_until))
        xml = etree.tostring(root)
    return signed(xml, signer) if signer is not None else xml


def sp_with(provider: MetadataProvider, clock: Clock) -> ServiceProvider:
    sp = ServiceProvider(
        SPConfig(entity_id=SP_ENTITY, acs_url=ACS, policy=SecurityPolicy()),
        provider.idps(),
        MemoryStore(),
        clock=clock,
    )
    provider.attach(sp)
    return sp


def login(sp: ServiceProvider, key: TestKey, clock: Clock) -> Any:
    idp = TestIdP(entity_id=IDP, key=key)
    idp.register_sp(SP_ENTITY, ACS)
    request = sp.start_login()
    assert request.url is not None
    form = dict(idp.respond(idp.receive_redirect(request.url), now=clock.now()).fields)
    return sp.finish_login(form, **binding_kwargs(request))


def refused(sp: ServiceProvider, key: TestKey, clock: Clock) -> ErrorCode:
    with pytest.raises(ResponseRejected) as info:
        login(sp, key, clock)
    return info.value.code


# ---- rotation ------------------------------------------------------------------------------------------


def test_signing_key_rotation_arrives_by_refresh_without_restart(http_server: Any) -> None:
    fed, old, new = federation_key(), default_key(), default_key(label="rotated")
    clock = Clock()
    http_server.script.serve("/idp.xml", idp_document([old], signer=fed))
    provider = MetadataProvider(http_server.url("/idp.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    sp = sp_with(provider, clock)
    assert login(sp, old, clock).authn.issuer == IDP
    assert refused(sp, new, clock) == ErrorCode.UNTRUSTED_CERTIFICATE

    # the IdP publishes current + upcoming (Genesys-style), then the new one alone
    http_server.script.serve("/idp.xml", idp_document([old, new], signer=fed))
    assert provider.refresh_now()
    assert login(sp, new, clock).authn.issuer == IDP
    assert login(sp, old, clock).authn.issuer == IDP
    http_server.script.serve("/idp.xml", idp_document([new], signer=fed))
    clock.advance(timedelta(hours=5))
    assert provider.refresh_now()
    assert login(sp, new, clock).authn.issuer == IDP
    assert refused(sp, old, clock) == ErrorCode.UNTRUSTED_CERTIFICATE


def test_unsigned_idp_metadata_from_a_url_without_a_signer(http_server: Any) -> None:
    """Entra/Okta/AD FS metadata URLs: no signer configured, TLS is the trust (https in production)."""
    key = default_key()
    http_server.script.serve("/idp.xml", idp_document([key]))
    provider = MetadataProvider(http_server.url("/idp.xml"), fetcher=loopback(), clock=Clock())
    assert [i.entity_id for i in provider.idps()] == [IDP]


def test_signature_required_when_a_signer_is_configured(http_server: Any) -> None:
    http_server.script.serve("/idp.xml", idp_document([default_key()]))
    with pytest.raises(ConfigurationError, match="signature"):
        MetadataProvider(
            http_server.url("/idp.xml"), signer=federation_key().certificate, fetcher=loopback(), clock=Clock()
        )


# ---- conditional GET -------------------------------------------------------------------------------


def test_304_keeps_the_current_snapshot(http_server: Any) -> None:
    fed = federation_key()
    clock = Clock()
    http_server.script.serve("/idp.xml", idp_document([default_key()], signer=fed), etag='"v1"')
    provider = MetadataProvider(http_server.url("/idp.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    first = provider.current()
    clock.advance(timedelta(hours=1))
    assert provider.refresh_now()
    assert provider.current() is first
    _path, headers = http_server.script.requests[-1]
    assert headers.get("If-None-Match") == '"v1"'
    assert "samlmetadata+xml" in headers.get("Accept", "")
    status = provider.status()
    assert status.usable
    assert status.last_error is None
    assert status.next_refresh == clock.now() + timedelta(hours=4)  # no cacheDuration/validUntil: the maximum


def test_refresh_schedule_follows_cache_duration(http_server: Any) -> None:
    fed = federation_key()
    clock = Clock()
    agg = signed_aggregate(
        [entity_xml(IDP, [default_key()])], signer=fed, valid_until=NOW + timedelta(days=7), cache_duration="PT1H"
    )
    http_server.script.serve("/fed.xml", agg)
    provider = MetadataProvider(http_server.url("/fed.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    assert provider.status().next_refresh == NOW + timedelta(minutes=45)


# ---- outages and the backing file -----------------------------------------------------------------------


def test_backing_file_written_and_used_when_the_source_is_down_at_start_up(
    http_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fed, key = federation_key(), default_key()
    backing = tmp_path / "idp-backing.xml"
    document = idp_document([key], signer=fed)
    http_server.script.serve("/idp.xml", document)
    url = http_server.url("/idp.xml")
    MetadataProvider(url, signer=fed.certificate, fetcher=loopback(), clock=Clock(), backing_file=backing)
    assert backing.read_bytes() == document
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind

    http_server.stop()
    clock = Clock()
    with caplog.at_level(logging.WARNING, logger="fedlib.federation"):
        provider = MetadataProvider(url, signer=fed.certificate, fetcher=loopback(), clock=clock, backing_file=backing)
    status = provider.status()
    assert status.origin == "backing-file"
    assert status.usable
    assert status.last_error
    assert "backing file" in caplog.text
    assert login(sp_with(provider, clock), key, clock).authn.issuer == IDP


def test_a_tampered_backing_file_is_refused_too(http_server: Any, tmp_path: Path) -> None:
    fed = federation_key()
    backing = tmp_path / "idp-backing.xml"
    backing.write_bytes(idp_document([default_key()], signer=fed).replace(b"/sso", b"/evil"))
    http_server.stop()
    with pytest.raises(ConfigurationError, match="backing file"):
        MetadataProvider(
            http_server.url("/idp.xml"), signer=fed.certificate, fetcher=loopback(), clock=Clock(), backing_file=backing
        )


def test_no_source_and_no_backing_file_stops_start_up(http_server: Any) -> None:
    http_server.stop()
    with pytest.raises(ConfigurationError, match="no valid metadata"):
        MetadataProvider(http_server.url("/idp.xml"), fetcher=loopback(), clock=Clock())


def test_source_down_during_refresh_keeps_the_last_good(http_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    fed, key = federation_key(), default_key()
    clock = Clock()
    http_server.script.serve("/idp.xml", idp_document([key], signer=fed))
    provider = MetadataProvider(http_server.url("/idp.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    sp = sp_with(provider, clock)
    http_server.stop()
    with caplog.at_level(logging.WARNING, logger="fedlib.federation"):
        assert not provider.refresh_now()
        assert not provider.refresh_now()
    assert "keeping the last good copy" in caplog.text
    status = provider.status()
    assert status.usable
    assert status.consecutive_failures == 2
    assert status.last_error
    assert status.next_refresh == clock.now() + timedelta(seconds=60)  # backoff 30 s, 60 s, ... <= 10 min
    assert login(sp, key, clock).authn.issuer == IDP


def test_http_errors_keep_the_last_good(http_server: Any) -> None:
    from tests.integration.metadata.conftest import Answer

    fed, key = federation_key(), default_key()
    clock = Clock()
    http_server.script.serve("/idp.xml", idp_document([key], signer=fed))
    provider = MetadataProvider(http_server.url("/idp.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    http_server.script.routes["/idp.xml"] = Answer(500, b"oops")
    assert not provider.refresh_now()
    assert "HTTP 500" in (provider.status().last_error or "")
    assert provider.status().usable


# ---- tampered and expired documents --------------------------------------------------------------------


def test_tampered_document_is_refused_and_the_last_good_kept(http_server: Any) -> None:
    fed, key, evil = federation_key(), default_key(), default_key(label="attacker")
    clock = Clock()
    good = idp_document([key], signer=fed)
    http_server.script.serve("/idp.xml", good)
    provider = MetadataProvider(http_server.url("/idp.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    sp = sp_with(provider, clock)
    # the attacker swaps the IdP certificate for their own in the signed document
    tampered = good.replace(key.cert_b64.encode(), evil.cert_b64.encode())
    assert tampered != good
    http_server.script.serve("/idp.xml", tampered)
    assert not provider.refresh_now()
    assert "signature is not valid" in (provider.status().last_error or "")
    assert refused(sp, evil, clock) == ErrorCode.UNTRUSTED_CERTIFICATE
    assert login(sp, key, clock).authn.issuer == IDP
    # signed by someone else: refused the same way
    http_server.script.serve("/idp.xml", idp_document([evil], signer=evil))
    assert not provider.refresh_now()
    assert refused(sp, evil, clock) == ErrorCode.UNTRUSTED_CERTIFICATE


def test_expired_document_is_refused_and_the_last_good_expires_in_turn(http_server: Any) -> None:
    fed, key = federation_key(), default_key()
    clock = Clock()
    http_server.script.serve("/idp.xml", idp_document([key], signer=fed, valid_until=NOW + timedelta(days=1)))
    provider = MetadataProvider(http_server.url("/idp.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    sp = sp_with(provider, clock)
    assert provider.status().next_refresh == NOW + timedelta(hours=4)
    # the source now serves a stale copy (expired an hour ago)
    http_server.script.serve("/idp.xml", idp_document([key], signer=fed, valid_until=NOW - timedelta(hours=1)))
    assert not provider.refresh_now()
    assert "expired" in (provider.status().last_error or "")
    assert login(sp, key, clock).authn.issuer == IDP  # the last good one is still valid
    clock.advance(timedelta(days=1, seconds=1))
    assert not provider.refresh_now()
    assert not provider.status().usable
    with pytest.raises(ConfigurationError, match="expired"):
        provider.current()
    with pytest.raises(ConfigurationError, match="expired"):
        sp.start_login()


def test_unsigned_aggregate_and_aggregate_without_valid_until_are_refused(http_server: Any) -> None:
    fed = federation_key()
    from tests.metadata_support import aggregate_xml

    http_server.script.serve(
        "/fed.xml", aggregate_xml([entity_xml(IDP, [default_key()])], valid_until=NOW + timedelta(days=1))
    )
    with pytest.raises(ConfigurationError, match="must be signed"):
        MetadataProvider(http_server.url("/fed.xml"), fetcher=loopback(), clock=Clock())
    http_server.script.serve(
        "/fed.xml", signed_aggregate([entity_xml(IDP, [default_key()])], signer=fed, valid_until=None)
    )
    with pytest.raises(ConfigurationError, match="validUntil"):
        MetadataProvider(http_server.url("/fed.xml"), signer=fed.certificate, fetcher=loopback(), clock=Clock())


def test_aggregate_entities_selection_and_removal(http_server: Any) -> None:
    fed, a_key, b_key = federation_key(), default_key(), default_key(label="b")
    b = "https://b.example.test/saml"
    clock = Clock()
    until = NOW + timedelta(days=7)
    http_server.script.serve(
        "/fed.xml", signed_aggregate([entity_xml(IDP, [a_key]), entity_xml(b, [b_key])], signer=fed, valid_until=until)
    )
    every = MetadataProvider(http_server.url("/fed.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    assert set(every.current().idps) == {IDP, b}
    sp = sp_with(every, clock)
    named = MetadataProvider(
        http_server.url("/fed.xml"), signer=fed.certificate, entity_ids=[b], fetcher=loopback(), clock=clock
    )
    assert set(named.current().idps) == {b}
    # b leaves the federation: the all-IdPs provider drops it from attached SPs; a provider naming b fails
    http_server.script.serve("/fed.xml", signed_aggregate([entity_xml(IDP, [a_key])], signer=fed, valid_until=until))
    assert every.refresh_now()
    assert set(sp.idps) == {IDP}
    assert not named.refresh_now()
    assert "no entity" in (named.status().last_error or "")


def test_certificate_expiry_warnings(http_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    key = default_key()
    not_after = key.certificate.not_valid_after_utc
    clock = Clock(at=not_after - timedelta(days=10))
    http_server.script.serve("/idp.xml", idp_document([key]))
    with caplog.at_level(logging.WARNING, logger="fedlib.federation"):
        provider = MetadataProvider(http_server.url("/idp.xml"), fetcher=loopback(), clock=clock)
    assert any("expires" in w for w in provider.status().warnings)
    assert "signing certificate" in caplog.text


def test_the_refresher_warns_when_a_certificate_nears_expiry_in_unchanged_metadata(
    http_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Metadata that does not change (the server answers 304 for weeks) still carries a certificate that
    ages into the warning window: each refresh re-evaluates the warnings at its own time, logs them and
    shows them in status(), as after a fetch with a body."""
    key = default_key()
    not_after = key.certificate.not_valid_after_utc
    clock = Clock(at=not_after - timedelta(days=40))
    http_server.script.serve("/idp.xml", idp_document([key]), etag='"v1"')
    provider = MetadataProvider(http_server.url("/idp.xml"), fetcher=loopback(), clock=clock)
    assert provider.status().warnings == ()
    first = provider.current()
    clock.advance(timedelta(days=15))
    with caplog.at_level(logging.WARNING, logger="fedlib.federation"):
        assert provider.refresh_now()
    assert http_server.script.requests[-1][1].get("If-None-Match") == '"v1"'  # answered 304
    assert provider.current().idps is first.idps  # the same trust: nothing was swapped
    assert any("expires" in w for w in provider.status().warnings)
    assert "signing certificate" in caplog.text
    clock.advance(timedelta(days=30))
    assert provider.refresh_now()
    assert any("expired" in w for w in provider.status().warnings)


# ---- the background refresher ---------------------------------------------------------------------


def test_background_thread_picks_up_a_rotation(http_server: Any) -> None:
    old, new = default_key(), default_key(label="rotated")
    http_server.script.serve("/idp.xml", idp_document([old]))
    provider = MetadataProvider(
        http_server.url("/idp.xml"),
        fetcher=loopback(),
        refresh=RefreshPolicy(min_delay=timedelta(milliseconds=20), max_delay=timedelta(milliseconds=40)),
    )
    provider.start()
    try:
        http_server.script.serve("/idp.xml", idp_document([new]))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if provider.current().idps[IDP].signing_certificates == (new.certificate,):
                break
            time.sleep(0.01)
        assert provider.current().idps[IDP].signing_certificates == (new.certificate,)
    finally:
        provider.close()
    assert provider._thread is None


# ---- MDQ --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["entity-id", "sha1"])
def test_mdq_both_url_forms(http_server: Any, form: str) -> None:
    fed, key = federation_key(), default_key()
    path = mdq_url("", IDP, form)  # type: ignore[arg-type]
    http_server.script.serve(path, idp_document([key], signer=fed))
    clock = Clock()
    mdq = MDQClient(http_server.base, signer=fed.certificate, form=form, fetcher=loopback(), clock=clock)  # type: ignore[arg-type]
    metadata = mdq.lookup(IDP)
    assert metadata is not None
    assert metadata.signing_certificates == (key.certificate,)
    requested, headers = http_server.script.requests[-1]
    assert requested == path
    assert headers["Accept"] == "application/samlmetadata+xml"
    # cached: no second request
    assert mdq.lookup(IDP) is metadata
    assert len(http_server.script.requests) == 1


def test_mdq_url_forms() -> None:
    assert mdq_url("https://mdq.example.org/", "https://idp.example.org/idp/shibboleth") == (
        "https://mdq.example.org/entities/https%3A%2F%2Fidp.example.org%2Fidp%2Fshibboleth"
    )
    # SHA-1 of the entityID, lower-case hex, with the {sha1} prefix percent-encoded
    assert mdq_url("https://mdq.example.org", "https://idp.example.org/idp/shibboleth", "sha1") == (
        "https://mdq.example.org/entities/%7Bsha1%7D"
        + __import__("hashlib").sha1(b"https://idp.example.org/idp/shibboleth").hexdigest()
    )


def test_mdq_404_is_negatively_cached(http_server: Any) -> None:
    fed = federation_key()
    clock = Clock()
    mdq = MDQClient(http_server.base, signer=fed.certificate, fetcher=loopback(), clock=clock)
    assert mdq.lookup("https://unknown.example/") is None
    assert mdq.lookup("https://unknown.example/") is None
    assert len(http_server.script.requests) == 1
    clock.advance(timedelta(minutes=2))
    assert mdq.lookup("https://unknown.example/") is None
    assert len(http_server.script.requests) == 2


def test_mdq_signature_always_required(http_server: Any) -> None:
    fed, key = federation_key(), default_key()
    with pytest.raises(ConfigurationError, match="signing certificate"):
        MDQClient(http_server.base, signer=[], fetcher=loopback())
    mdq = MDQClient(http_server.base, signer=fed.certificate, fetcher=loopback(), clock=Clock())
    path = mdq_url("", IDP)
    http_server.script.serve(path, idp_document([key]))  # unsigned
    with pytest.raises(ConfigurationError, match="signature"):
        mdq.lookup(IDP)
    http_server.script.serve(path, idp_document([key], signer=key))  # signed, by the wrong key
    with pytest.raises(ConfigurationError, match="signature is not valid"):
        mdq.lookup(IDP)
    other = "https://other.example.test/saml"
    http_server.script.serve(mdq_url("", other), idp_document([key], signer=fed))  # a signed answer for IDP
    with pytest.raises(ConfigurationError, match="no entity"):
        mdq.lookup(other)


def test_mdq_ensure_makes_the_sp_trust_the_entity_and_refreshes(http_server: Any) -> None:
    fed, old, new = federation_key(), default_key(), default_key(label="rotated")
    clock = Clock()
    path = mdq_url("", IDP)
    http_server.script.serve(
        path,
        signed(
            entity_xml(IDP, [old], cache_duration="PT1H").replace(
                b"https://idp.example.org/sso", b"https://idp.example.test/saml/sso"
            ),
            fed,
        ),
    )
    mdq = MDQClient(http_server.base, signer=fed.certificate, fetcher=loopback(), clock=clock)
    bootstrap = mdq.lookup(IDP)
    assert bootstrap is not None
    sp = ServiceProvider(SPConfig(entity_id=SP_ENTITY, acs_url=ACS), bootstrap, MemoryStore(), clock=clock)
    mdq.ensure(sp, IDP)
    assert login(sp, old, clock).authn.issuer == IDP
    http_server.script.serve(
        path,
        signed(
            entity_xml(IDP, [new]).replace(b"https://idp.example.org/sso", b"https://idp.example.test/saml/sso"), fed
        ),
    )
    clock.advance(timedelta(minutes=30))
    mdq.ensure(sp, IDP)  # still fresh (45 min): no fetch
    assert refused(sp, new, clock) == ErrorCode.UNTRUSTED_CERTIFICATE
    clock.advance(timedelta(minutes=20))
    mdq.ensure(sp, IDP)
    assert login(sp, new, clock).authn.issuer == IDP
    # the service goes down: the cached copy keeps serving while valid
    http_server.stop()
    clock.advance(timedelta(hours=1))
    mdq.ensure(sp, IDP)
    assert login(sp, new, clock).authn.issuer == IDP
    with pytest.raises(ConfigurationError):
        mdq.ensure(sp, "https://never-seen.example/")


# ---- the HTTP client ----------------------------------------------------------------------------------


def test_http_urls_are_refused_unless_allowed(http_server: Any) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        MetadataProvider(http_server.url("/idp.xml"), clock=Clock())
    with pytest.raises(ConfigurationError, match="TLS verification"):
        HTTPFetcher(verify=False)


def test_redirects_are_checked_hop_by_hop(http_server: Any) -> None:
    from tests.integration.metadata.conftest import Answer

    body = idp_document([default_key()])
    http_server.script.serve("/final.xml", body)
    http_server.script.routes["/hop"] = Answer(302, b"", {"Location": "/final.xml"})
    assert loopback().get(http_server.url("/hop")).body == body
    strict = HTTPFetcher(allow_http=False)
    with pytest.raises(FetchError, match="https"):
        strict.get(http_server.url("/hop"))
    http_server.script.routes["/to-file"] = Answer(302, b"", {"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="https"):
        loopback().get(http_server.url("/to-file"))
    http_server.script.routes["/bad-location"] = Answer(302, b"", {"Location": "https://[::1"})
    with pytest.raises(FetchError):
        loopback().get(http_server.url("/bad-location"))
    http_server.script.routes["/loop"] = Answer(302, b"", {"Location": "/loop"})
    with pytest.raises(FetchError, match="redirects"):
        loopback().get(http_server.url("/loop"))


def test_size_cap_is_enforced(http_server: Any) -> None:
    from tests.integration.metadata.conftest import Answer

    fetcher = HTTPFetcher(allow_http=True, max_bytes=1024)
    # announced too large: refused before reading
    http_server.script.routes["/announced"] = Answer(200, b"<x/>", content_length=10_000_000)
    with pytest.raises(FetchError, match=r"sent 10000000 bytes \(cap 1024\)"):
        fetcher.get(http_server.url("/announced"))
    # streamed without a length: refused while reading
    http_server.script.routes["/streamed"] = Answer(200, b"<x>" + b"a" * 50_000 + b"</x>", chunked=True)
    with pytest.raises(FetchError, match="sent more than 1024 bytes"):
        fetcher.get(http_server.url("/streamed"))
    small = b"<x>" + b"a" * 500 + b"</x>"
    http_server.script.routes["/small"] = Answer(200, small, chunked=True)
    assert fetcher.get(http_server.url("/small")).body == small


def test_an_unexpected_304_is_an_error(http_server: Any) -> None:
    from tests.integration.metadata.conftest import Answer

    http_server.script.routes["/weird"] = Answer(304, b"")
    with pytest.raises(FetchError, match="304"):
        loopback().get(http_server.url("/weird"))
    assert loopback().get(http_server.url("/weird"), validators=Validators(etag='"x"')).body is None


def test_environment_proxies_are_ignored(http_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    body = idp_document([default_key()])
    http_server.script.serve("/idp.xml", body)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a dead proxy: honouring it would fail
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    assert loopback().get(http_server.url("/idp.xml")).body == body


def test_without_httpx_fedlib_imports_and_fetching_names_the_extra() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['httpx'] = None\n"
        "import fedlib, fedlib.cli, fedlib.federation, fedlib.settings\n"
        "from fedlib.errors import ConfigurationError\n"
        "try:\n"
        "    fedlib.federation.HTTPFetcher().get('https://idp.example.org/md.xml')\n"
        "except ConfigurationError as exc:\n"
        "    print(exc.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'fedlib[http]'" in out


def test_mdq_for_an_idp_initiated_response(http_server: Any) -> None:
    """An unsolicited Response from an IdP the SP has not seen yet: its Issuer (unverified) is looked up in
    MDQ, then finish_login verifies the Response with the keys fetched; an unknown or forged Issuer gains
    nothing."""
    fed, a_key, b_key = federation_key(), default_key(), default_key(label="b")
    b = "https://b.example.test/saml"
    clock = Clock()
    http_server.script.serve(mdq_url("", b), signed(entity_xml(b, [b_key]), fed))
    mdq = MDQClient(http_server.base, signer=fed.certificate, fetcher=loopback(), clock=clock)
    from fedlib.metadata.idp import parse_idp_metadata

    sp = ServiceProvider(
        SPConfig(entity_id=SP_ENTITY, acs_url=ACS, policy=SecurityPolicy(allow_unsolicited=True)),
        parse_idp_metadata(entity_xml(IDP, [a_key]), now=NOW),
        MemoryStore(),
        clock=clock,
    )
    idp_b = TestIdP(entity_id=b, key=b_key)
    form = dict(idp_b.initiate(sp_entity_id=SP_ENTITY, acs_url=ACS, now=NOW).fields)
    with pytest.raises(ResponseRejected) as before:
        sp.finish_login(form)
    assert before.value.code in (ErrorCode.WRONG_ISSUER, ErrorCode.UNTRUSTED_CERTIFICATE)
    assert mdq.ensure_for_response(sp, form) is not None
    assert sp.finish_login(form).authn.issuer == b
    # a Response claiming B but signed by someone else is still refused
    forged = dict(TestIdP(entity_id=b, key=a_key).initiate(sp_entity_id=SP_ENTITY, acs_url=ACS, now=NOW).fields)
    mdq.ensure_for_response(sp, forged)
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(forged)
    assert info.value.code == ErrorCode.UNTRUSTED_CERTIFICATE
    # unknown to MDQ (404) or unreadable: nothing changes
    unknown = dict(
        TestIdP(entity_id="https://c.example.test/saml", key=a_key)
        .initiate(sp_entity_id=SP_ENTITY, acs_url=ACS, now=NOW)
        .fields
    )
    assert mdq.ensure_for_response(sp, unknown) is None
    assert mdq.ensure_for_response(sp, {"SAMLResponse": "!!!"}) is None
    assert mdq.ensure_for_response(sp, {}) is None
    assert set(sp.idps) == {IDP, b}


def test_an_unexpected_error_in_a_refresh_keeps_the_last_good() -> None:
    from fedlib.federation.http import FetchResult

    key = default_key()

    class Flaky:
        description = "flaky"
        calls = 0

        def fetch(self, validators: Validators | None) -> FetchResult:
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("boom")
            return FetchResult(idp_document([key]), Validators(), "flaky", 200)

    provider = MetadataProvider(Flaky(), clock=Clock())
    assert not provider.refresh_now()
    status = provider.status()
    assert status.usable
    assert status.last_error == "RuntimeError: boom"


def test_an_undecodable_certificate_in_fetched_metadata_is_a_failed_refresh(http_server: Any) -> None:
    import base64

    key = default_key()
    clock = Clock()
    http_server.script.serve("/idp.xml", idp_document([key]))
    provider = MetadataProvider(http_server.url("/idp.xml"), fetcher=loopback(), clock=clock)
    rsa_encryption = bytes.fromhex("06092A864886F70D010101")
    broken = base64.b64encode(key.cert_der.replace(rsa_encryption, bytes.fromhex("06092A864886F70D010163")))
    http_server.script.serve("/idp.xml", idp_document([key]).replace(key.cert_b64.encode(), broken))
    assert not provider.refresh_now()
    assert "public key cannot be used" in (provider.status().last_error or "")
    assert provider.current().idps[IDP].signing_certificates == (key.certificate,)
