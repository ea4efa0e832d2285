"""`fedlib check-metadata` (files) and the metadata flags of `fedlib check-response`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.metadata_support import aggregate_xml, entity_xml, federation_key, signed, signed_aggregate
from tests.support import ACS, IDP_ID, SP_ID, World

from fedlib.cli import main
from fedlib.testing import default_key, generate_key

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
NOW_ARG = "2026-11-21T12:00:00Z"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def signer_file(tmp_path: Path) -> str:
    return write(tmp_path, "fed.pem", federation_key().cert_pem)


def test_check_metadata_reports_entities_endpoints_and_certificates(tmp_path: Path, capsys: Any) -> None:
    key = default_key()
    md = write(tmp_path, "idp.xml", entity_xml(IDP_ID, [key], valid_until=NOW + timedelta(days=3)))
    status, out = run(capsys, "check-metadata", md, "--now", NOW_ARG, "--json")
    assert status == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["document"] == {
        "kind": "entity",
        "signed": False,
        "valid_until": "2026-11-24T12:00:00Z",
        "cache_duration_seconds": None,
        "idp_count": 1,
    }
    (entity,) = report["entities"]
    assert entity["entity_id"] == IDP_ID
    assert entity["sso"][0]["location"] == "https://idp.example.org/sso"
    (cert,) = entity["certificates"]
    assert cert["not_after"] == key.certificate.not_valid_after_utc.isoformat().replace("+00:00", "Z")
    assert len(cert["sha256"].split(":")) == 32
    status, out = run(capsys, "check-metadata", md, "--now", NOW_ARG)
    assert status == 0
    assert out.startswith("OK ")
    assert "notAfter" in out


def test_check_metadata_warns_then_fails_on_certificate_expiry(tmp_path: Path, capsys: Any) -> None:
    key = default_key()
    md = write(tmp_path, "idp.xml", entity_xml(IDP_ID, [key]))
    not_after = key.certificate.not_valid_after_utc
    soon = (not_after - timedelta(days=10)).isoformat()
    status, out = run(capsys, "check-metadata", md, "--now", soon, "--json")
    assert status == 0  # warnings alone do not fail
    report = json.loads(out)
    assert report["warnings"]
    assert report["entities"][0]["certificates"][0]["expiring"] is True
    status, out = run(capsys, "check-metadata", md, "--now", soon, "--warn-days", "5", "--json")
    assert json.loads(out)["warnings"] == []
    later = (not_after + timedelta(days=1)).isoformat()
    status, out = run(capsys, "check-metadata", md, "--now", later, "--json")
    assert status == 1
    assert "expired" in json.loads(out)["errors"][0]


def test_check_metadata_expired_document(tmp_path: Path, capsys: Any) -> None:
    md = write(tmp_path, "idp.xml", entity_xml(IDP_ID, [default_key()], valid_until=NOW - timedelta(seconds=1)))
    status, out = run(capsys, "check-metadata", md, "--now", NOW_ARG, "--json")
    assert status == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert "expired" in report["errors"][0]


def test_check_metadata_signature(tmp_path: Path, capsys: Any) -> None:
    fed = federation_key()
    signer = signer_file(tmp_path)
    good = signed(entity_xml(IDP_ID, [default_key()]), fed)
    md = write(tmp_path, "signed.xml", good)
    status, out = run(capsys, "check-metadata", md, "--signer", signer, "--now", NOW_ARG, "--json")
    assert (status, json.loads(out)["document"]["signed"]) == (0, True)
    tampered = write(
        tmp_path, "tampered.xml", good.replace(b"https://idp.example.org/sso", b"https://evil.example/sso")
    )
    status, out = run(capsys, "check-metadata", tampered, "--signer", signer, "--now", NOW_ARG, "--json")
    assert status == 1
    assert "signature is not valid" in json.loads(out)["errors"][0]
    unsigned = write(tmp_path, "unsigned.xml", entity_xml(IDP_ID, [default_key()]))
    status, out = run(capsys, "check-metadata", unsigned, "--signer", signer, "--now", NOW_ARG)
    assert status == 1
    assert out.startswith("PROBLEM")


def test_check_metadata_aggregate_and_entity_selection(tmp_path: Path, capsys: Any) -> None:
    fed = federation_key()
    other = "https://other.example.org/idp"
    agg = signed_aggregate(
        [entity_xml(IDP_ID, [default_key()]), entity_xml(other, [default_key(label="b")])],
        signer=fed,
        valid_until=NOW + timedelta(days=7),
    )
    md = write(tmp_path, "fed.xml", agg)
    signer = signer_file(tmp_path)
    status, out = run(capsys, "check-metadata", md, "--signer", signer, "--now", NOW_ARG, "--json")
    assert status == 0
    assert [e["entity_id"] for e in json.loads(out)["entities"]] == [IDP_ID, other]
    status, out = run(
        capsys, "check-metadata", md, "--signer", signer, "--entity-id", other, "--now", NOW_ARG, "--json"
    )
    assert [e["entity_id"] for e in json.loads(out)["entities"]] == [other]
    status, out = run(
        capsys, "check-metadata", md, "--signer", signer, "--entity-id", "nope", "--now", NOW_ARG, "--json"
    )
    assert status == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--warn-days", "-1"],
        ["--now", "yesterday"],
        ["--signer", "/nonexistent.pem"],
    ],
)
def test_check_metadata_usage_errors(tmp_path: Path, capsys: Any, argv: list[str]) -> None:
    md = write(tmp_path, "idp.xml", entity_xml(IDP_ID, [default_key()]))
    status, out = run(capsys, "check-metadata", md, *argv, "--json")
    assert status == 2
    assert json.loads(out)["ok"] is False


def test_check_metadata_warns_for_a_weak_signing_key(tmp_path: Path, capsys: Any) -> None:
    # A 1024-bit RSA IdP key was reported without a word (robustness probe); a warning, not a failure: fedlib
    # verifies its signatures strictly and legacy IdPs still have such keys.
    weak = generate_key("rsa", bits=1024, common_name="legacy IdP")
    md = write(tmp_path, "idp.xml", entity_xml(IDP_ID, [weak]))
    status, out = run(capsys, "check-metadata", md, "--now", NOW_ARG, "--json")
    assert status == 0
    report = json.loads(out)
    assert report["entities"][0]["certificates"][0]["weak_key"] == "a 1024-bit RSA key (2048 bits is the minimum today)"
    (warning,) = report["warnings"]
    assert "1024-bit RSA key" in warning
    assert "roll over" in warning
    status, out = run(capsys, "check-metadata", md, "--now", NOW_ARG)
    assert status == 0
    assert "WARNING" in out
    assert "1024-bit" in out
    md = write(tmp_path, "strong.xml", entity_xml(IDP_ID, [default_key()]))
    status, out = run(capsys, "check-metadata", md, "--now", NOW_ARG, "--json")
    assert json.loads(out)["warnings"] == []
    assert json.loads(out)["entities"][0]["certificates"][0]["weak_key"] is None


def _self_signed(private: Any) -> Any:
    """A one-day self-signed certificate for ``private`` (an RSA or EC private key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak key")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(private, hashes.SHA256())
    )


def test_weak_key_names_a_small_rsa_exponent() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from fedlib.cli.check_metadata import _weak_key

    cert = _self_signed(rsa.generate_private_key(public_exponent=3, key_size=2048))
    assert _weak_key(cert) == "an RSA key with public exponent 3 (65537 is the norm)"


def test_weak_key_names_a_small_ec_curve_and_passes_p256() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from fedlib.cli.check_metadata import _weak_key

    assert _weak_key(_self_signed(ec.generate_private_key(ec.SECP192R1()))) == (
        "a 192-bit EC key (secp192r1; 256 bits is the norm)"
    )
    assert _weak_key(_self_signed(ec.generate_private_key(ec.SECP256R1()))) is None


def test_check_metadata_bad_signer_file(tmp_path: Path, capsys: Any) -> None:
    md = write(tmp_path, "idp.xml", entity_xml(IDP_ID, [default_key()]))
    bad = write(tmp_path, "bad.pem", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    assert run(capsys, "check-metadata", md, "--signer", bad)[0] == 2


@pytest.mark.parametrize(
    "source",
    ["/nonexistent/idp.xml", "http://idp.example.org/metadata", "ftp://idp.example.org/md.xml"],
)
def test_check_metadata_unreachable_or_not_https(capsys: Any, source: str) -> None:
    status, out = run(capsys, "check-metadata", source, "--json")
    assert status == 1
    assert json.loads(out)["errors"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<x/>",
        b"<!DOCTYPE x><x/>",
        b"\xff\xfe",
        b"<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='e' cacheDuration='soon'/>",
    ],
)
def test_check_metadata_garbage_is_a_typed_problem(tmp_path: Path, capsys: Any, data: bytes) -> None:
    status, out = run(capsys, "check-metadata", write(tmp_path, "x.xml", data), "--json")
    assert status == 1
    assert json.loads(out)["ok"] is False


# ---- check-response: --metadata-signer, --idp-entity-id, the Issuer as the selector --------------------


def _response_args(tmp_path: Path, md: str, *extra: str) -> list[str]:
    w = World()
    resp = write(tmp_path, "resp.xml", w.mint())
    return [
        "check-response",
        resp,
        "--sp-entity-id",
        SP_ID,
        "--acs-url",
        ACS,
        "--idp-metadata",
        md,
        "--now",
        NOW_ARG,
        "--json",
        *extra,
    ]


def test_check_response_metadata_signer(tmp_path: Path, capsys: Any) -> None:
    fed = federation_key()
    w = World()
    md = write(tmp_path, "idp.xml", signed(w.metadata_xml, fed))
    signer = signer_file(tmp_path)
    status, out = run(capsys, *_response_args(tmp_path, md, "--metadata-signer", signer))
    assert (status, json.loads(out)["ok"]) == (0, True)
    unsigned = write(tmp_path, "unsigned.xml", w.metadata_xml)
    status, out = run(capsys, *_response_args(tmp_path, unsigned, "--metadata-signer", signer))
    assert status == 2
    assert json.loads(out)["error"] == "configuration-error"
    wrong = write(tmp_path, "wrong.pem", default_key(label="other").cert_pem)
    status, out = run(capsys, *_response_args(tmp_path, md, "--metadata-signer", wrong))
    assert status == 2
    assert "signature is not valid" in json.loads(out)["message"]


def test_check_response_issuer_picks_the_entity_in_an_aggregate(tmp_path: Path, capsys: Any) -> None:
    w = World()
    other = entity_xml("https://other.example.org/idp", [default_key(label="b")])
    agg = aggregate_xml([other, w.metadata_xml], valid_until=None)
    md = write(tmp_path, "agg.xml", agg)
    status, out = run(capsys, *_response_args(tmp_path, md))
    assert (status, json.loads(out)["issuer"]) == (0, IDP_ID)
    # naming the other IdP: its keys are used, and the Response is refused (verification decides)
    status, out = run(capsys, *_response_args(tmp_path, md, "--idp-entity-id", "https://other.example.org/idp"))
    assert status == 1
    assert json.loads(out)["error"] == "untrusted-certificate"
    # an Issuer that names no entity: a configuration error asking for --idp-entity-id
    resp = write(tmp_path, "resp2.xml", w.mint(response_issuer="https://nobody.example/"))
    args = _response_args(tmp_path, md)
    args[1] = resp
    status, out = run(capsys, *args)
    assert status == 2
    assert "--idp-entity-id" in json.loads(out)["message"]
