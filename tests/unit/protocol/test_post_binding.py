"""HTTP-POST binding page: escaping of hostile values, works without scripts and under a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedlib.protocol.bindings import POST_FORM_SCRIPT, POST_FORM_SCRIPT_CSP_SOURCE, encode_post_form

XML = b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>'
SSO = "https://idp.example.org/sso"
HOSTILE = [
    '"><script>alert(1)</script>',
    "' onmouseover='alert(1)",
    "</form><form action=https://evil.example>",
    "&amp;&lt;<!--",
    "é\u2028\u00a0",
]


class Page(HTMLParser):
    """What a browser's tokenizer sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.buttons: list[list[str]] = []  # the open-element stack at each button
        self.attribute_names: list[str] = []
        self._stack: list[str] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.attribute_names += [name for name, _ in attrs]
        if tag == "form":
            self.forms.append(a)
        elif tag == "input":
            self.inputs.append(a)
        elif tag == "button":
            self.buttons.append([*self._stack])
        elif tag == "script":
            self._script = a
        if tag not in ("input", "meta"):
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._script is not None and self._stack and self._stack[-1] == "script":
            self.scripts.append((self._script, data))
            self._script = None


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


def fields(p: Page) -> dict[str, str | None]:
    return {str(i.get("name")): i.get("value") for i in p.inputs}


@pytest.mark.parametrize("relay_state", HOSTILE)
def test_hostile_relay_state_is_escaped(relay_state: str) -> None:
    page = encode_post_form(SSO, XML, relay_state=relay_state)
    assert relay_state not in page or relay_state == html_safe(relay_state)
    p = parse(page)
    assert len(p.forms) == 1
    assert fields(p) == {"SAMLRequest": base64.b64encode(XML).decode(), "RelayState": relay_state}
    assert len(p.scripts) == 1
    assert not any(name.startswith("on") for name in p.attribute_names)


def html_safe(text: str) -> str:
    return re.sub(r"[<>\"'&]", "", text)


def test_action_is_escaped_and_must_be_http() -> None:
    p = parse(encode_post_form(SSO + '?a=1&b="2"', XML))
    assert p.forms[0]["action"] == SSO + '?a=1&b="2"'
    assert p.forms[0]["method"] == "post"
    for bad in ("javascript:alert(1)", "/relative", "data:text/html,x", "https://idp.example/sso#x"):
        with pytest.raises(ValueError, match="destination"):
            encode_post_form(bad, XML)


def test_only_the_fixed_script_and_its_csp_hash() -> None:
    p = parse(encode_post_form(SSO, XML, relay_state="r"))
    ((attrs, text),) = p.scripts
    assert attrs == {}
    assert text == POST_FORM_SCRIPT
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert f"'sha256-{digest}'" == POST_FORM_SCRIPT_CSP_SOURCE


def test_works_without_scripts() -> None:
    """Under ``script-src 'none'`` the browser runs no script yet renders no <noscript> either (scripting
    is still enabled), so the submit button must sit outside <noscript>."""
    page = encode_post_form(SSO, XML, auto_submit=False)
    p = parse(page)
    assert p.scripts == []
    assert "<script" not in page
    assert len(p.buttons) == 1
    assert "noscript" not in p.buttons[0]
    assert "form" in p.buttons[0]
    assert "<noscript>" in page  # the note for browsers with scripting disabled
    # The same button is there when the script is included.
    assert parse(encode_post_form(SSO, XML)).buttons == p.buttons


def test_nonce() -> None:
    p = parse(encode_post_form(SSO, XML, script_nonce="bm9uY2U-_="))
    ((attrs, _),) = p.scripts
    assert attrs == {"nonce": "bm9uY2U-_="}
    for bad in ("", 'x" onload="alert(1)', "a b"):
        with pytest.raises(ValueError, match="nonce"):
            encode_post_form(SSO, XML, script_nonce=bad)


def test_relay_state_optional_and_limited() -> None:
    assert "RelayState" not in fields(parse(encode_post_form(SSO, XML)))
    with pytest.raises(ValueError, match="allows 80"):
        encode_post_form(SSO, XML, relay_state="x" * 81)


def test_saml_response_parameter() -> None:
    assert set(fields(parse(encode_post_form(SSO, XML, parameter="SAMLResponse")))) == {"SAMLResponse"}
    with pytest.raises(ValueError, match="SAMLRequest or SAMLResponse"):
        encode_post_form(SSO, XML, parameter="RelayState")  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=6))
def test_destination_whitespace_and_control_scan_is_str_isspace_or_below_0x20(text: str) -> None:
    # check_destination's C-level scan (issue #9) refuses exactly what the per-character rule refuses.
    from fedlib.protocol.bindings import _WHITESPACE_OR_CONTROL, check_destination

    expected = any(c.isspace() or ord(c) < 0x20 for c in text)
    assert (_WHITESPACE_OR_CONTROL.search(text) is not None) == expected
    url = "https://idp.example.com/sso" + text.replace("#", "")
    if expected:
        with pytest.raises(ValueError, match="destination"):
            check_destination(url)


def test_destination_scan_covers_every_unicode_space() -> None:
    from fedlib.protocol.bindings import _WHITESPACE_OR_CONTROL

    for code in range(0x110000):
        c = chr(code)
        assert (_WHITESPACE_OR_CONTROL.search(c) is not None) == (c.isspace() or code < 0x20), hex(code)
