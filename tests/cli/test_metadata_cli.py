"""`fedlib metadata`: the subcommand through its own argparse registration (as fedlib.cli wires it)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from tests.vectors.schemas import METADATA, assert_valid

from fedlib.cli import metadata
from fedlib.clock import parse_instant
from fedlib.constants import NAMEID_PERSISTENT
from fedlib.testing import default_key

SP_ID = "https://sp.example.com/saml/metadata"
ACS = "https://sp.example.com/saml/acs"
NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="fedlib")
    sub = parser.add_subparsers(dest="command", required=True)
    metadata.register(sub)
    args = parser.parse_args(["metadata", *argv])
    status: int = args.handler(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def pems(tmp_path: Path) -> dict[str, Path]:
    current, nxt = default_key("rsa", "sp"), default_key("rsa", "sp-next")
    out = {
        "cert": tmp_path / "sp.crt",
        "next": tmp_path / "next.crt",
        "both": tmp_path / "both.crt",
        "key": tmp_path / "sp.key",
        "next-key": tmp_path / "next.key",
    }
    out["cert"].write_bytes(current.cert_pem)
    out["next"].write_bytes(nxt.cert_pem)
    out["both"].write_bytes(current.cert_pem + nxt.cert_pem)
    out["key"].write_bytes(current.key_pem)
    out["next-key"].write_bytes(nxt.key_pem)
    return out


def test_minimal(capsys) -> None:
    status, out, err = run(capsys, "--entity-id", SP_ID, "--acs-url", ACS)
    assert (status, err) == (0, "")
    root = assert_valid(out.encode(), METADATA)
    assert root.get("entityID") == SP_ID
    assert root.find("md:SPSSODescriptor/md:KeyDescriptor", NS) is None
    assert root.find("md:SPSSODescriptor", NS).get("AuthnRequestsSigned") == "false"  # type: ignore[union-attr]


def test_everything_and_signed(capsys, pems) -> None:
    status, out, _ = run(
        capsys,
        "--entity-id", SP_ID,
        "--acs-url", ACS,
        "--acs-url", "https://sp2.example.com/saml/acs",
        "--slo-url", "https://sp.example.com/saml/slo",
        "--cert", str(pems["cert"]),
        "--cert", str(pems["next"]),
        "--key", str(pems["key"]),
        "--name-id-format", NAMEID_PERSISTENT,
        "--valid-days", "7",
        "--cache-duration", "3600",
        "--sign",
    )  # fmt: skip
    assert status == 0
    root = assert_valid(out.encode(), METADATA)
    sso = root.find("md:SPSSODescriptor", NS)
    assert sso is not None
    assert sso.get("AuthnRequestsSigned") == "true"
    assert len(sso.findall("md:KeyDescriptor[@use='signing']", NS)) == 2
    assert len(sso.findall("md:AssertionConsumerService", NS)) == 2
    assert len(sso.findall("md:SingleLogoutService", NS)) == 2
    assert root.get("cacheDuration") == "PT1H"
    valid_until = parse_instant(root.get("validUntil") or "")
    assert abs(valid_until - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=5)
    config = SignatureConfiguration(require_x509=True, location="./", expect_references=1)
    XMLVerifier().verify(out.encode(), x509_cert=pems["cert"].read_text(), expect_config=config)


def test_multi_certificate_pem_and_output_file(capsys, pems, tmp_path) -> None:
    target = tmp_path / "md.xml"
    status, out, _ = run(
        capsys, "--entity-id", SP_ID, "--acs-url", ACS, "--cert", str(pems["both"]), "--output", str(target)
    )
    assert (status, out) == (0, "")
    root = assert_valid(target.read_bytes(), METADATA)
    assert len(root.findall("md:SPSSODescriptor/md:KeyDescriptor", NS)) == 2
    assert etree.tostring(root).count(b"X509Certificate>") == 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--key", "{key}"], "signing_certificates"),
        (["--sign"], "--sign needs --key"),
        (["--cert", "{next}", "--key", "{key}"], "current"),
        (["--cert", "{key}"], "no PEM certificate"),
        (["--cert", "/nonexistent/sp.crt"], "cannot read"),
        (["--key", "{cert}", "--cert", "{cert}"], "PEM private key"),
        (["--valid-days", "0"], "--valid-days"),
        (["--cache-duration", "0"], "--cache-duration"),
        (["--cache-duration", "999999999999999999999"], "--cache-duration"),  # was an OverflowError
        (["--slo-url", "https://[x"], "slo_url"),  # was a ValueError from urlsplit
        (["--slo-url", "not-a-url"], "slo_url"),
        (["--name-id-format", "persistent"], "absolute URI"),
    ],
)
def test_configuration_errors_exit_2(capsys, pems, extra: list[str], message: str) -> None:
    argv = [a.format(**{k.replace("-", "_"): v for k, v in pems.items()}) for a in extra]
    status, out, err = run(capsys, "--entity-id", SP_ID, "--acs-url", ACS, *argv)
    assert status == 2
    assert out == ""
    assert message in err


def test_bad_acs_url(capsys) -> None:
    status, _, err = run(capsys, "--entity-id", SP_ID, "--acs-url", "/acs")
    assert status == 2
    assert "acs_url" in err
