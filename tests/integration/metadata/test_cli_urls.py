"""`fedlib check-metadata` and `fedlib check-response --idp-metadata URL` against the local HTTP server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.metadata_support import aggregate_xml, entity_xml, federation_key, signed_aggregate
from tests.support import ACS, IDP_ID, NOW, SP_ID, World

from fedlib.cli import _sources, main
from fedlib.federation import HTTPFetcher
from fedlib.testing import default_key

NOW_ARG = NOW.isoformat()


@pytest.fixture(autouse=True)
def loopback_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sources, "fetcher_factory", lambda: HTTPFetcher(allow_http=True, read_timeout=2.0))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def test_check_metadata_fetches_a_url(http_server: Any, capsys: Any, tmp_path: Path) -> None:
    fed = federation_key()
    signer = tmp_path / "fed.pem"
    signer.write_bytes(fed.cert_pem)
    agg = signed_aggregate([entity_xml(IDP_ID, [default_key()])], signer=fed, valid_until=NOW + timedelta(days=7))
    http_server.script.serve("/fed.xml", agg)
    status, report = run(
        capsys, "check-metadata", http_server.url("/fed.xml"), "--signer", str(signer), "--now", NOW_ARG, "--json"
    )
    assert status == 0
    assert report["document"]["signed"] is True
    # an unsigned aggregate from a URL is refused
    http_server.script.serve(
        "/fed.xml", aggregate_xml([entity_xml(IDP_ID, [default_key()])], valid_until=NOW + timedelta(days=7))
    )
    status, report = run(capsys, "check-metadata", http_server.url("/fed.xml"), "--now", NOW_ARG, "--json")
    assert status == 1
    assert "must be signed" in report["errors"][0]
    # unreachable
    status, report = run(capsys, "check-metadata", http_server.url("/missing.xml"), "--json")
    assert status == 1
    assert "HTTP 404" in report["errors"][0]
    http_server.stop()
    status, report = run(capsys, "check-metadata", http_server.url("/fed.xml"), "--json")
    assert status == 1


def test_check_response_with_a_metadata_url(http_server: Any, capsys: Any, tmp_path: Path) -> None:
    w = World()
    http_server.script.serve("/idp.xml", w.metadata_xml)
    resp = tmp_path / "resp.xml"
    resp.write_bytes(w.mint())
    args = ["check-response", str(resp), "--sp-entity-id", SP_ID, "--acs-url", ACS, "--now", NOW_ARG, "--json"]
    status, out = run(capsys, *args, "--idp-metadata", http_server.url("/idp.xml"))
    assert (status, out["ok"]) == (0, True)
    status, out = run(capsys, *args, "--idp-metadata", http_server.url("/gone.xml"))
    assert (status, out["error"]) == (2, "configuration-error")


@pytest.mark.parametrize("url", ["https://[::1", "https://[zz]/"])
def test_a_malformed_bracketed_host_is_a_fetch_error_not_an_internal_error(url: str, capsys: Any) -> None:
    # urlsplit raises ValueError for these; check-metadata said "internal error (ValueError)", exit 3.
    from fedlib.federation.http import FetchError

    with pytest.raises(FetchError, match="not a URL"):
        HTTPFetcher().get(url)
    assert main(["check-metadata", url]) in (1, 2)
    assert "internal error" not in capsys.readouterr().err
