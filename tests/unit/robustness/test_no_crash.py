"""Issue #8 §5: no crash on any input. Regression tests for every example of the issue, one per class.

Each test here failed before the fix with an exception that was not one of fedlib's typed errors
(UnicodeEncodeError, ValueError from urllib, OverflowError...).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support import World

from fedlib._xml.parse import decode_base64, decode_message
from fedlib.config import SecurityPolicy, SPConfig
from fedlib.errors import ConfigurationError, ErrorCode, ResponseRejected, XMLRejected
from fedlib.matrix.model import MatrixConfig
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.protocol.bindings import decode_redirect_message, parse_redirect_query, redirect_query
from fedlib.settings import load_settings, load_settings_toml
from fedlib.sp import ServiceProvider, safe_relay_state
from fedlib.stores.memory import MemoryStore
from fedlib.stores.url import open_store
from fedlib.testing.idp import TestIdP

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ORIGINS = ["https://app.example.test"]

# ---- RelayState ------------------------------------------------------------------------------------

HOSTILE_RELAY_STATES = [
    "https://[x",  # urlsplit: "Invalid IPv6 URL"
    "https://[::1/",
    "http://]x/",
    "https://a\u2100b/",  # U+2100 ACCOUNT OF: NFKC gives "a/c": urlsplit refuses the netloc
    "https://app.example.test\uff03@evil.example/",  # FULLWIDTH NUMBER SIGN -> '#' under NFKC
    "https://exa\ufe6dmple/",  # SMALL QUESTION MARK -> '?' under NFKC
    "https://app.example.test:99999999/",
    "https://app.example.test:port/",
    "/ok\ud800",  # a lone surrogate: not encodable as UTF-8
    "\udcff",
    "https://\ud800/",
    "https://\uff41pp.example.test/",  # FULLWIDTH 'a': a host that changes under NFKC
    "https://app.example.test@evil.example/",
    "/a\x85b",  # C1 control (NEL)
]


@pytest.mark.parametrize("value", HOSTILE_RELAY_STATES)
def test_safe_relay_state_drops_malformed_urls_instead_of_raising(value: str) -> None:
    assert safe_relay_state(value, ORIGINS) is None


@pytest.mark.parametrize("value", [b"/x", 42, ["/x"], object()])
def test_safe_relay_state_drops_values_that_are_not_text(value: object) -> None:
    assert safe_relay_state(value, ORIGINS) is None


def test_safe_relay_state_keeps_what_it_kept() -> None:
    assert safe_relay_state("/a/b?c=d", ORIGINS) == "/a/b?c=d"
    assert safe_relay_state("https://app.example.test:443/x", ["https://app.example.test:443"]) is not None
    assert safe_relay_state("https://[::1]:8443/x", ["https://[::1]:8443"]) == "https://[::1]:8443/x"


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text() | st.from_regex(r"\A(https?|javascript)://[^/]{0,12}(/.{0,10})?\Z"))
def test_safe_relay_state_never_raises(value: str) -> None:
    out = safe_relay_state(value, ORIGINS)
    assert out is None or out == value


def make_sp(idp: TestIdP, **policy: object) -> ServiceProvider:
    entity, acs = "https://app.example.test/saml/metadata", "https://app.example.test/saml/acs"
    idp.register_sp(entity, acs)
    return ServiceProvider(
        SPConfig(entity_id=entity, acs_url=acs, policy=SecurityPolicy(**policy)),  # type: ignore[arg-type]
        parse_idp_metadata(idp.metadata_xml(), now=NOW),
        MemoryStore(),
        relay_state_origins=ORIGINS,
    )


@pytest.mark.parametrize("relay_state", HOSTILE_RELAY_STATES)
def test_unsolicited_login_survives_a_hostile_relay_state(relay_state: str) -> None:
    """The assertion ID is consumed by validation: a RelayState crash afterwards lost the login."""
    idp = TestIdP()
    sp = make_sp(idp, allow_unsolicited=True)
    form = dict(idp.initiate(sp.config.entity_id, sp.config.acs_url, now=NOW).fields)
    form["RelayState"] = relay_state
    result = sp.finish_login(form, now=NOW)
    assert result.authn.name_id == "ada@example.org"
    assert result.relay_state is None


# ---- str form values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["\ud800", "PHNhbWxwOl\udcffJlc3BvbnNl", "<x>\ud800</x>", "  \udc80"])
def test_str_with_lone_surrogate_is_malformed_xml(value: str) -> None:
    with pytest.raises(XMLRejected) as info:
        decode_message(value)
    assert info.value.code == ErrorCode.MALFORMED_XML
    with pytest.raises(XMLRejected):
        decode_base64(value)


@pytest.mark.parametrize("value", [None, 42, ["PHg+"], {"a": 1}])
def test_non_text_message_is_malformed_xml(value: object) -> None:
    with pytest.raises(XMLRejected):
        decode_message(value)  # type: ignore[arg-type]
    with pytest.raises(XMLRejected):
        decode_base64(value)  # type: ignore[arg-type]


def test_validate_response_with_surrogate_str_is_rejected() -> None:
    w = World()
    good = base64.b64encode(w.mint()).decode("ascii")
    assert w.code_of(good[:10] + "\ud800" + good[10:]) == ErrorCode.MALFORMED_XML


@pytest.mark.parametrize("field", ["\ud800", "<samlp:Response>\udcff", None, ["x"]])
def test_finish_login_with_junk_samlresponse_is_rejected(field: object) -> None:
    idp = TestIdP()
    sp = make_sp(idp, allow_unsolicited=True)
    with pytest.raises(ResponseRejected) as info:
        sp.finish_login({"SAMLResponse": field, "RelayState": "\ud800"}, now=NOW)  # type: ignore[dict-item]
    assert info.value.code == ErrorCode.MALFORMED_XML


def test_finish_login_keeps_the_solicited_login_whatever_relay_state_comes_back() -> None:
    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(relay_state="/back", now=NOW)
    assert login.url is not None
    form = dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields)
    form["RelayState"] = "https://[x\ud800"
    assert sp.finish_login(form, now=NOW, browser_binding=login.browser_binding).relay_state == "/back"


# ---- configuration files -----------------------------------------------------------------------------


def test_non_utf8_settings_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "fedlib.toml"
    path.write_bytes(b'[sp]\nentity_id = "caf\xe9"\n')
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        load_settings_toml(path, now=NOW)


def test_non_utf8_matrix_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "matrix.toml"
    path.write_bytes(b"\xff\xfe[applications]\n")
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        MatrixConfig.from_toml(path)


# ---- the other public entry points (audit) -----------------------------------------------------------


@pytest.mark.parametrize("value", ["\ud800", None, 5, ["<x/>"]])
def test_parse_idp_metadata_refuses_non_bytes_with_a_configuration_error(value: object) -> None:
    with pytest.raises(ConfigurationError):
        parse_idp_metadata(value, now=NOW)  # type: ignore[arg-type]


def test_parse_idp_metadata_accepts_encodable_text() -> None:
    xml = TestIdP().metadata_xml().decode("utf-8")
    assert parse_idp_metadata(xml, now=NOW).entity_id  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["sqlite:///\ud800.db", "redis://\udcff/0"])
def test_open_store_refuses_unencodable_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)


@pytest.mark.parametrize("query", [None, 5, b"SAMLRequest=\xff", ["SAMLRequest=x"]])
def test_redirect_decoder_refuses_non_text_queries(query: object) -> None:
    with pytest.raises(XMLRejected):
        parse_redirect_query(query)  # type: ignore[arg-type]
    with pytest.raises(XMLRejected):
        decode_redirect_message(query)  # type: ignore[arg-type]


def test_redirect_decoder_reads_an_ascii_bytes_query() -> None:
    query = redirect_query(b"<x/>", relay_state="r")
    assert parse_redirect_query(query.encode("ascii")).decode() == b"<x/>"


@pytest.mark.parametrize("url", ["https://[x", "https://a\u2100b/acs", "http://]/"])
def test_sp_config_with_unsplittable_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SPConfig(entity_id="https://a.example/", acs_url=url)
    with pytest.raises(ConfigurationError):
        SPConfig(entity_id="https://a.example/", acs_url="https://a.example/acs", slo_url=url)


@pytest.mark.parametrize("url", ["https://[x", "https://a\u2100b"])
def test_settings_with_unsplittable_origin_is_a_configuration_error(url: str) -> None:
    idp = TestIdP()
    data = {
        "sp": {
            "entity_id": "https://a.example/saml",
            "acs_url": "https://a.example/saml/acs",
            "relay_state_origins": [url],
        },
        "idps": [{"metadata_xml": idp.metadata_xml().decode("utf-8")}],
    }
    with pytest.raises(ConfigurationError):
        load_settings(data, now=NOW)


@pytest.mark.parametrize("corrupt", ["", "not json", "[]", '{"relay_state": "/"}', '{"idp": 5}', "\x00"])
def test_a_corrupt_pending_request_fails_closed_with_store_error(corrupt: str) -> None:
    """A pending-request entry that start_login did not write (store corruption, a store shared with
    something else) is a StoreError (the adapters' 503), never a crash and never an accept."""
    from fedlib.errors import StoreError

    idp = TestIdP()
    sp = make_sp(idp)
    login = sp.start_login(now=NOW)
    assert login.url is not None
    form = dict(idp.respond(idp.receive_redirect(login.url), now=NOW).fields)
    key = f"request:{login.request_id}"
    assert sp.store.consume(key, now=NOW) is not None
    assert sp.store.add(key, expires_at=NOW + timedelta(minutes=5), now=NOW, value=corrupt)
    with pytest.raises(StoreError, match="unreadable"):
        sp.finish_login(form, now=NOW, browser_binding=login.browser_binding)
