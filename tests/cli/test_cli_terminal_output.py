"""The CLI's readable reports print values from messages and metadata that nobody vouches for as terminal
text (an IdP is trusted for claims, not for what a terminal does with them): every character that is not
printable (C0 and C1 controls such as U+009B, a terminal's 8-bit CSI; line and paragraph separators;
bidi overrides and other format characters) is shown as its escape. ``--json`` keeps the exact values."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.metadata_support import entity_xml
from tests.support import ACS, SP_ID, World

from fedlib.cli import main
from fedlib.cli._text import terminal_safe
from fedlib.testing import default_key

NOW_ARG = "2026-11-21T12:00:00Z"
HOSTILE = "alice\u202e@example.com\u2028x\x85y\x9b31m\u200bz"


def test_terminal_safe_keeps_printable_text_and_line_breaks() -> None:
    text = "ACCEPTED\n  name_id  kchen\u4e03\u5473@example.org (caf\u00e9) \\ back"
    assert terminal_safe(text) == text


@pytest.mark.parametrize(
    "char",
    [
        "\x00",
        "\x07",
        "\x1b",
        "\t",
        "\r",
        "\x7f",
        "\x85",
        "\x9b",
        "\u2028",
        "\u2029",
        "\u202e",
        "\u2066",
        "\u200b",
        "\ufeff",
    ],
)
def test_terminal_safe_escapes_every_unprintable_character(char: str) -> None:
    shown = terminal_safe(f"a{char}b\nc")
    assert shown.isascii()
    assert shown.replace("\n", "").isprintable()
    assert shown.endswith("\nc")
    assert shown.startswith("a\\")
    assert char not in shown


def test_check_response_readable_report_escapes_claims(tmp_path: Path, capsys: Any) -> None:
    w = World()
    md, resp = tmp_path / "idp.xml", tmp_path / "resp.xml"
    md.write_bytes(w.metadata_xml)
    resp.write_bytes(w.mint(name_id=HOSTILE, attributes={"mail": [HOSTILE]}))
    argv = ["check-response", str(resp), "--sp-entity-id", SP_ID, "--acs-url", ACS, "--idp-metadata", str(md)]
    argv += ["--now", NOW_ARG]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("ACCEPTED")
    assert out.replace("\n", "").isprintable()
    assert "alice\\u202e@example.com\\u2028x\\x85y\\x9b31m\\u200bz" in out
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name_id"] == HOSTILE
    assert doc["attributes"]["mail"] == [HOSTILE]


def test_check_metadata_readable_report_escapes_metadata_values(tmp_path: Path, capsys: Any) -> None:
    entity_id = "https://idp.example.org/\u202eevil\u2028"
    md = tmp_path / "idp.xml"
    md.write_bytes(entity_xml(entity_id, [default_key()], valid_until=World().now + timedelta(days=3)))
    assert main(["check-metadata", str(md), "--now", NOW_ARG]) == 0
    out = capsys.readouterr().out
    assert out.replace("\n", "").isprintable()
    assert "entity https://idp.example.org/\\u202eevil\\u2028" in out
    assert main(["check-metadata", str(md), "--now", NOW_ARG, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entities"][0]["entity_id"] == entity_id


def test_errors_on_stderr_are_escaped(tmp_path: Path, capsys: Any) -> None:
    missing = tmp_path / "no\u202esuch\u2028file.xml"
    assert main(["check-metadata", str(missing), "--now", NOW_ARG]) != 0
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert text.replace("\n", "").isprintable()
