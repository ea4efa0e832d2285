"""Issue #10 lines that had no test of their own: a file source re-read only when it changes, the strict
signature profile on metadata (no SHA-1), a backing file whose write fails, and an entity's own validUntil
inside a served aggregate."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from tests.integration.metadata.test_lifecycle import (
    ACS,
    IDP,
    NOW,
    SP_ENTITY,
    Clock,
    idp_document,
    login,
    loopback,
    sp_with,
)
from tests.metadata_support import aggregate_xml, binding_kwargs, entity_xml, federation_key, signed, signed_aggregate

from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected
from fedlib.federation import MetadataProvider
from fedlib.metadata.document import load_metadata_document
from fedlib.testing import default_key
from fedlib.testing.idp import TestIdP
from fedlib.testing.responses import sign_element


def test_a_file_source_is_re_read_only_when_it_changes(tmp_path: Path) -> None:
    old, new = default_key(), default_key(label="rotated")
    path = tmp_path / "idp.xml"
    path.write_bytes(idp_document([old]))
    clock = Clock()
    provider = MetadataProvider(str(path), clock=clock)
    sp = sp_with(provider, clock)
    first = provider.current()
    assert provider.refresh_now()
    assert provider.current() is first  # unchanged file: the same snapshot, nothing re-parsed
    path.write_bytes(idp_document([old, new]))  # another size: a change
    assert provider.refresh_now()
    assert provider.current() is not first
    assert login(sp, new, clock).authn.issuer == IDP
    path.unlink()  # gone: a failed refresh, the last good copy keeps serving
    assert not provider.refresh_now()
    assert provider.status().usable
    assert "cannot read" in (provider.status().last_error or "")
    assert login(sp, new, clock).authn.issuer == IDP


def _sha1_signed(xml: bytes, signer: Any) -> bytes:
    root = etree.fromstring(xml)
    root.set("ID", "_md1")
    sign_element(root, signer, signature_algorithm="rsa-sha1", digest_algorithm="sha1")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_metadata_signed_with_sha1_is_refused_under_the_strict_profile(http_server: Any) -> None:
    fed = federation_key()
    aggregate = aggregate_xml([entity_xml(IDP, [default_key()])], valid_until=NOW + timedelta(days=7))
    sha1 = _sha1_signed(aggregate, fed)
    with pytest.raises(ConfigurationError, match="signature"):
        load_metadata_document(sha1, now=NOW, signed_by=[fed.certificate])
    # the same document signed with SHA-256 is accepted: the algorithm is what is refused
    assert load_metadata_document(signed(aggregate, fed), now=NOW, signed_by=[fed.certificate]).idp_entity_ids
    http_server.script.serve("/fed.xml", sha1)
    with pytest.raises(ConfigurationError, match="signature"):
        MetadataProvider(http_server.url("/fed.xml"), signer=fed.certificate, fetcher=loopback(), clock=Clock())


def test_a_failed_backing_file_write_keeps_the_old_one_and_the_new_trust(
    http_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = default_key(), default_key(label="rotated")
    backing = tmp_path / "backing.xml"
    first = idp_document([old])
    http_server.script.serve("/idp.xml", first)
    clock = Clock()
    provider = MetadataProvider(http_server.url("/idp.xml"), fetcher=loopback(), clock=clock, backing_file=backing)
    sp = sp_with(provider, clock)
    assert backing.read_bytes() == first
    http_server.script.serve("/idp.xml", idp_document([new]))

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with caplog.at_level(logging.WARNING, logger="fedlib.federation"):
        assert provider.refresh_now()
    assert "cannot write the backing file" in caplog.text
    assert backing.read_bytes() == first  # the old copy, whole: never a partial file
    assert not list(tmp_path.glob(".*.tmp"))
    assert login(sp, new, clock).authn.issuer == IDP  # the good fetch is served all the same


def test_an_entitys_own_valid_until_inside_an_aggregate_is_honoured(http_server: Any) -> None:
    """The aggregate is valid for a week, one of its IdPs only for a day: that IdP stops being used after
    its day (logins refused as idp-metadata-expired), and the refresh is scheduled by it; an IdP already
    expired when the aggregate is fetched is skipped with a warning."""
    fed, key, gone_key = federation_key(), default_key(), default_key(label="gone")
    gone = "https://gone.example.test/saml"
    agg = signed_aggregate(
        [
            entity_xml(IDP, [key], valid_until=NOW + timedelta(days=1)).replace(
                b"https://idp.example.org/sso", b"https://idp.example.test/saml/sso"
            ),
            entity_xml(gone, [gone_key], valid_until=NOW - timedelta(minutes=1)),
        ],
        signer=fed,
        valid_until=NOW + timedelta(days=7),
    )
    http_server.script.serve("/fed.xml", agg)
    clock = Clock()
    provider = MetadataProvider(http_server.url("/fed.xml"), signer=fed.certificate, fetcher=loopback(), clock=clock)
    assert set(provider.current().idps) == {IDP}
    assert any(gone in w for w in provider.status().warnings)
    assert provider.status().valid_until == NOW + timedelta(days=1)
    sp = sp_with(provider, clock)
    assert login(sp, key, clock).authn.issuer == IDP
    http_server.stop()
    clock.advance(timedelta(days=1, seconds=1))
    assert not provider.refresh_now()
    with pytest.raises(ConfigurationError, match="expired"):
        sp.start_login()  # a new login for the expired IdP does not start
    # and a Response in flight (started before the expiry) is refused at the ACS
    clock.at = NOW + timedelta(days=1, seconds=-30)
    request = sp.start_login()
    idp = TestIdP(entity_id=IDP, key=key)
    idp.register_sp(SP_ENTITY, ACS)
    assert request.url is not None
    form = dict(idp.respond(idp.receive_redirect(request.url), now=clock.now()).fields)
    clock.advance(timedelta(seconds=60))
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login(form, **binding_kwargs(request))
    assert info.value.code == ErrorCode.IDP_METADATA_EXPIRED
    assert not provider.status().usable


def _two_idp_aggregate(key: Any, other_key: Any, other: str) -> bytes:
    """IDP valid as long as the aggregate (a week); ``other`` only for a day."""
    return signed_aggregate(
        [
            entity_xml(IDP, [key]).replace(b"https://idp.example.org/sso", b"https://idp.example.test/saml/sso"),
            entity_xml(other, [other_key], valid_until=NOW + timedelta(days=1)),
        ],
        signer=federation_key(),
        valid_until=NOW + timedelta(days=7),
    )


@pytest.mark.parametrize("source", ["unchanged (304)", "down"])
def test_one_entity_expiring_inside_an_aggregate_leaves_the_others_in_service(http_server: Any, source: str) -> None:
    """When one IdP's own validUntil passes while the aggregate stays valid, only that IdP stops: the others
    keep serving, whether the source answers 304 (the same document) or is down. Before, the snapshot as a
    whole expired with its earliest entity: ``current()`` raised, every 304 counted as a failed refresh
    and the health check reported the provider unusable, for IdPs whose metadata was still valid."""
    key, other_key = default_key(), default_key(label="other")
    other = "https://other.example.test/saml"
    http_server.script.serve("/fed.xml", _two_idp_aggregate(key, other_key, other), etag='"v1"')
    clock = Clock()
    provider = MetadataProvider(
        http_server.url("/fed.xml"), signer=federation_key().certificate, fetcher=loopback(), clock=clock
    )
    sp = sp_with(provider, clock)
    assert provider.status().valid_until == NOW + timedelta(days=1)
    if source == "down":
        http_server.stop()
    clock.advance(timedelta(days=1, seconds=1))
    assert provider.refresh_now() is (source != "down")
    status = provider.status()
    assert status.usable
    assert [idp.entity_id for idp in provider.idps()] == [IDP]
    assert set(provider.current().idps) == {IDP, other}  # the snapshot itself: what was verified
    idp = TestIdP(entity_id=IDP, key=key)
    idp.register_sp(SP_ENTITY, ACS)
    request = sp.start_login(IDP)
    assert request.url is not None
    form = dict(idp.respond(idp.receive_redirect(request.url), now=clock.now()).fields)
    assert sp.finish_login(form, **binding_kwargs(request)).authn.issuer == IDP
    # the expired IdP is refused by the ServiceProvider (its keys are no longer trusted)
    with pytest.raises(ConfigurationError, match="expired"):
        sp.start_login(other)
    if source != "down":
        # the next refresh is scheduled by what is still valid (the aggregate's week), not retried at once
        assert status.next_refresh is not None
        assert status.next_refresh - clock.now() >= timedelta(hours=1)
        assert status.last_error is None


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "directory", "nul"])
def test_a_file_source_that_is_no_regular_file_is_a_fetch_error_at_once(tmp_path: Path, special: str) -> None:
    # A FIFO made open() wait forever in the refresh thread; /dev/zero never ends; a NUL byte was a ValueError.
    from fedlib.federation import FileSource
    from fedlib.federation.http import FetchError

    if special == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    else:
        path = {"/dev/zero": "/dev/zero", "directory": str(tmp_path), "nul": str(tmp_path / "a\0b")}[special]
    with pytest.raises(FetchError, match=r"not a regular file|not a file name"):
        FileSource(path).fetch(None)
