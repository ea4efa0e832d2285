"""The fast paths of start_login (issue #9) write exactly what the slow ones wrote.

* ``build_authn_request`` caches the XML of a request shape around its ID and IssueInstant: byte for byte
  what lxml writes for the same request, whatever the configured values contain;
* the HTTP-Redirect encoding uses a 4 KiB DEFLATE window (any inflater decodes it) and URL-encodes base64
  with three replacements (the same text as ``quote(safe="")``);
* ``check_destination`` is cached on success only: a bad URL is refused every time;
* ``encode_post_form`` writes the usual page (default options, a RelayState with nothing to escape) from a
  cached frame: the text the previous code wrote, and any other page as before (``_reference_post_form``);
* ``encode_redirect`` writes the usual query (unsigned, a RelayState of unreserved characters) without
  ``redirect_query``'s calls: the text ``redirect_query`` writes, any other query by it;
* ``request_xml`` (start_login's way to the XML) is ``build_authn_request``'s ``xml``, and checks a new
  shape's destination as it does.
"""

from __future__ import annotations

import base64
import html
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from fedlib.config import SPConfig
from fedlib.constants import (
    BINDING_HTTP_POST,
    NS_SAML,
    NS_SAMLP,
    SAML_AUTHN_CONTEXT_CLASS_REF,
    SAML_ISSUER,
    SAML_VERSION,
    SAMLP_AUTHN_REQUEST,
    SAMLP_NAMEID_POLICY,
    SAMLP_REQUESTED_AUTHN_CONTEXT,
)
from fedlib.protocol import authn_request as module
from fedlib.protocol.authn_request import NameIDPolicy, RequestedAuthnContext, build_authn_request
from fedlib.protocol.bindings import (
    POST_FORM_SCRIPT,
    _url_encode,
    _url_encode_base64,
    check_destination,
    check_relay_state,
    deflate_and_encode,
    encode_post_form,
    encode_redirect,
    redirect_query,
)

NOW = datetime(2026, 6, 1, 12, 0, 7, 123456, tzinfo=UTC)


def _reference(
    sp: SPConfig,
    idp_sso_url: str,
    request_id: str,
    now: datetime,
    acs: str,
    force_authn: bool,
    is_passive: bool,
    policy: NameIDPolicy | None,
    context: RequestedAuthnContext | None,
) -> bytes:
    """The request as build_authn_request wrote it before the cache: one lxml tree per request."""
    root = etree.Element(SAMLP_AUTHN_REQUEST, nsmap={"samlp": NS_SAMLP, "saml": NS_SAML})
    root.set("ID", request_id)
    root.set("Version", SAML_VERSION)
    root.set("IssueInstant", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    root.set("Destination", idp_sso_url)
    if force_authn:
        root.set("ForceAuthn", "true")
    if is_passive:
        root.set("IsPassive", "true")
    root.set("ProtocolBinding", BINDING_HTTP_POST)
    root.set("AssertionConsumerServiceURL", acs)
    etree.SubElement(root, SAML_ISSUER).text = sp.entity_id
    if policy is not None:
        element = etree.SubElement(root, SAMLP_NAMEID_POLICY)
        if policy.format is not None:
            element.set("Format", policy.format)
        if policy.sp_name_qualifier is not None:
            element.set("SPNameQualifier", policy.sp_name_qualifier)
        element.set("AllowCreate", "true" if policy.allow_create else "false")
    if context is not None:
        element = etree.SubElement(root, SAMLP_REQUESTED_AUTHN_CONTEXT)
        element.set("Comparison", context.comparison)
        for ref in context.class_refs:
            etree.SubElement(element, SAML_AUTHN_CONTEXT_CLASS_REF).text = ref
    return etree.tostring(root, encoding="UTF-8", xml_declaration=False)


# URL and URI texts with what XML must escape (& < > " and non-ASCII), but valid for the checks.
_SAFE = st.text(
    alphabet=st.sampled_from(list("abcXYZ019-._~/?=&<>\"'%;:@!$()*+,é€😀")), min_size=1, max_size=20
).filter(lambda s: "#" not in s)


@settings(max_examples=150, deadline=None)
@given(
    host=st.from_regex(r"[a-z]{1,8}\.example", fullmatch=True),
    path=_SAFE,
    entity_tail=_SAFE,
    second=st.booleans(),
    force_authn=st.booleans(),
    is_passive=st.booleans(),
    policy=st.none()
    | st.builds(
        NameIDPolicy,
        format=st.none() | st.just("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
        allow_create=st.booleans(),
        sp_name_qualifier=st.none() | _SAFE,
    ),
    context=st.none()
    | st.builds(
        RequestedAuthnContext,
        class_refs=st.lists(st.sampled_from(["urn:a", "urn:x:y&z", "urn:é"]), min_size=1, max_size=3).map(tuple),
        comparison=st.sampled_from(["exact", "minimum", "maximum", "better"]),
    ),
    seconds=st.integers(0, 10**6),
)
def test_cached_request_is_what_lxml_writes(
    host: str,
    path: str,
    entity_tail: str,
    second: bool,
    force_authn: bool,
    is_passive: bool,
    policy: NameIDPolicy | None,
    context: RequestedAuthnContext | None,
    seconds: int,
) -> None:
    sp = SPConfig(
        entity_id=f"https://{host}/{entity_tail}",
        acs_url=f"https://{host}/acs/{path}",
        additional_acs_urls=(f"https://{host}/acs2/{path}",),
    )
    idp_url = f"https://idp.{host}/sso/{path}"
    acs = sp.acs_urls[1] if second else sp.acs_url
    for n in range(3):  # the first builds the template, the others use it (with other IDs and instants)
        now = NOW + timedelta(seconds=seconds + n)
        request_id = f"_id{n}-{seconds}"
        built = build_authn_request(
            sp,
            idp_url,
            now=now,
            request_id=request_id,
            force_authn=force_authn,
            is_passive=is_passive,
            name_id_policy=policy,
            requested_authn_context=context,
            acs_url=acs,
        )
        expected = _reference(sp, idp_url, request_id, now, acs, force_authn, is_passive, policy, context)
        assert built.xml == expected
        assert built.issue_instant == now.replace(microsecond=0)


def test_same_second_and_new_second_instants() -> None:
    sp = SPConfig(entity_id="https://sp.example/", acs_url="https://sp.example/acs")
    texts = [
        build_authn_request(sp, "https://idp.example/sso", now=now, request_id="_x").xml
        for now in (NOW, NOW + timedelta(microseconds=1), NOW + timedelta(seconds=1), NOW)
    ]
    assert [b"2026-06-01T12:00:07Z" in t for t in texts] == [True, True, False, True]
    assert b"2026-06-01T12:00:08Z" in texts[2]


def test_a_placeholder_in_the_configuration_is_refused_not_misplaced() -> None:
    sp = SPConfig(entity_id=f"https://sp.example/{module._ID_PLACEHOLDER}", acs_url="https://sp.example/acs")
    with pytest.raises(ValueError, match="placeholder"):
        build_authn_request(sp, "https://idp.example/sso", now=NOW)


def test_the_template_cache_is_bounded() -> None:
    module._TEMPLATES.clear()
    sp = SPConfig(entity_id="https://sp.example/", acs_url="https://sp.example/acs")
    for n in range(module._MAX_TEMPLATES + 10):
        build_authn_request(sp, f"https://idp{n}.example/sso", now=NOW)
    assert 0 < len(module._TEMPLATES) <= module._MAX_TEMPLATES


def test_a_bad_destination_is_refused_every_time() -> None:
    sp = SPConfig(entity_id="https://sp.example/", acs_url="https://sp.example/acs")
    for _ in range(3):
        with pytest.raises(ValueError, match="destination"):
            build_authn_request(sp, "javascript:alert(1)", now=NOW)
        with pytest.raises(ValueError, match="destination"):
            check_destination("https://idp.example/sso#x")


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_base64_url_encoding_is_quote(data: bytes) -> None:
    text = base64.b64encode(data).decode("ascii")
    assert _url_encode_base64(text) == _url_encode(text)


@pytest.mark.parametrize("size", [0, 100, 4_000, 40_000])
def test_deflate_round_trips_through_any_window(size: int) -> None:
    xml = (b"<a>" + bytes(range(256)) * (size // 256) + b"x" * (size % 256) + b"</a>")[: size + 7]
    encoded = deflate_and_encode(xml)
    raw = base64.b64decode(encoded)
    assert zlib.decompressobj(wbits=-15).decompress(raw) == xml  # what fedlib's own decoder uses
    assert zlib.decompress(raw, wbits=-12) == xml  # the window it was written with suffices


def _reference_post_form(
    destination: str,
    xml: bytes,
    *,
    parameter: str = "SAMLRequest",
    relay_state: str | None = None,
    auto_submit: bool = True,
    script_nonce: str | None = None,
) -> str:
    """encode_post_form before its cached frame (issue #9), verbatim (docstring left out)."""
    check_destination(destination)
    if parameter not in ("SAMLRequest", "SAMLResponse"):
        raise ValueError(f"parameter must be SAMLRequest or SAMLResponse, not {parameter!r}")
    check_relay_state(relay_state)
    if script_nonce is not None and (
        not script_nonce or not all(c.isascii() and (c.isalnum() or c in "+/=-_") for c in script_nonce)
    ):
        raise ValueError("script_nonce must be a base64 / base64url token")
    esc = html.escape
    fields = [f'<input type="hidden" name="{parameter}" value="{base64.b64encode(xml).decode("ascii")}">']
    if relay_state is not None:
        fields.append(f'<input type="hidden" name="RelayState" value="{esc(relay_state)}">')
    script = ""
    if auto_submit:
        nonce = f' nonce="{esc(script_nonce)}"' if script_nonce is not None else ""
        script = f"<script{nonce}>{POST_FORM_SCRIPT}</script>\n"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        "<title>Continue to sign in</title>\n"
        "</head>\n"
        "<body>\n"
        f'<form method="post" action="{esc(destination)}">\n'
        + "\n".join(fields)
        + "\n<noscript><p>JavaScript is turned off in this browser. Press Continue to go on.</p></noscript>\n"
        '<button type="submit">Continue</button>\n'
        "</form>\n" + script + "</body>\n"
        "</html>\n"
    )


def _form_outcome(build: object, *args: object, **kwargs: object) -> object:
    try:
        return build(*args, **kwargs)  # type: ignore[operator]
    except (ValueError, TypeError) as exc:
        return (type(exc), str(exc))


_RELAY = (
    st.text(max_size=90)
    | st.from_regex(r"[A-Za-z0-9_.-]{0,81}", fullmatch=True)
    | st.sampled_from(["", "_" + "a" * 32, "a&b", "<", '"', "'", ">", "é", "x" * 80, "x" * 81, "\x00", "\ud800"])
    | st.sampled_from(["/home", "a/b", "a b", "a%b", "a+b", "a=b", "~", "a?b", "a#b", "Ä", "\u0661"])
)


@settings(max_examples=400, deadline=None)
@given(
    destination=st.sampled_from(
        [
            "https://idp.example/sso",
            "https://idp.example/sso?a=1&b=<2>\"'",
            "http://idp.example:8080/é",
            "javascript:alert(1)",
            "https://idp.example/sso#f",
            "https://idp.example/s o",
        ]
    ),
    xml=st.binary(max_size=200) | st.sampled_from([b"", b"<samlp:AuthnRequest/>"]),
    parameter=st.sampled_from(["SAMLRequest", "SAMLRequest", "SAMLResponse", "Other"]),
    relay_state=st.none() | _RELAY,
    auto_submit=st.sampled_from([True, True, False]),
    script_nonce=st.sampled_from([None, None, "abc+/=", "", "a b", "<x>"]),
)
def test_post_form_is_the_previous_page(
    destination: str, xml: bytes, parameter: str, relay_state: str | None, auto_submit: bool, script_nonce: str | None
) -> None:
    kwargs = {"parameter": parameter, "relay_state": relay_state, "auto_submit": auto_submit}
    kwargs["script_nonce"] = script_nonce
    for _ in range(2):  # the second from the cached frame
        assert _form_outcome(encode_post_form, destination, xml, **kwargs) == _form_outcome(
            _reference_post_form, destination, xml, **kwargs
        )


@settings(max_examples=100, deadline=None)
@given(
    host=st.from_regex(r"[a-z]{1,8}\.example", fullmatch=True),
    path=_SAFE,
    force_authn=st.booleans(),
    policy=st.none() | st.just(NameIDPolicy(format="urn:x:y", sp_name_qualifier="a&b")),
    context=st.none() | st.just(RequestedAuthnContext(("urn:a", "urn:<b>"), "better")),
    seconds=st.integers(0, 10**6),
)
def test_request_xml_is_build_authn_requests_xml(
    host: str,
    path: str,
    force_authn: bool,
    policy: NameIDPolicy | None,
    context: RequestedAuthnContext | None,
    seconds: int,
) -> None:
    sp = SPConfig(entity_id=f"https://{host}/{path}", acs_url=f"https://{host}/acs")
    idp_url = f"https://idp.{host}/sso/{path}"
    now = NOW.replace(microsecond=0) + timedelta(seconds=seconds)
    shape = (sp.entity_id, idp_url, sp.acs_url, force_authn, False, policy, context)
    request_id = module.new_request_id()
    for _ in range(2):
        expected = build_authn_request(
            sp,
            idp_url,
            now=now,
            request_id=request_id,
            force_authn=force_authn,
            name_id_policy=policy,
            requested_authn_context=context,
        ).xml
        assert module.request_xml(shape, request_id, now) == expected
        module._TEMPLATES.clear()


def test_request_xml_checks_a_new_shapes_destination() -> None:
    module._TEMPLATES.clear()
    shape = ("https://sp.example/", "javascript:alert(1)", "https://sp.example/acs", False, False, None, None)
    for _ in range(2):
        with pytest.raises(ValueError, match="destination"):
            module.request_xml(shape, "_x", NOW.replace(microsecond=0))
    assert not module._TEMPLATES


@pytest.mark.parametrize("bad_id", ['_a" ForceAuthn="true" x="', "_a>", "1abc", "", "_" + "a" * 300, "_é", "_a\n"])
def test_request_xml_refuses_an_id_that_is_not_an_ncname(bad_id: str) -> None:
    """The ID goes into the template unescaped: anything but an NCName (an attribute injection above) is a
    ValueError, as build_authn_request refuses it, never XML with the injected text."""
    shape = ("https://sp.example/", "https://idp.example/sso", "https://sp.example/acs", False, False, None, None)
    with pytest.raises(ValueError, match="NCName"):
        module.request_xml(shape, bad_id, NOW.replace(microsecond=0))


def _reference_redirect(destination: str, xml: bytes, *, parameter: str, relay_state: str | None) -> str:
    """encode_redirect before its inline usual case (issue #9), verbatim (docstring left out)."""
    check_destination(destination)
    query = redirect_query(xml, parameter=parameter, relay_state=relay_state)  # type: ignore[arg-type]
    if "?" not in destination:
        return f"{destination}?{query}"
    return f"{destination}{'' if destination.endswith(('?', '&')) else '&'}{query}"


@settings(max_examples=400, deadline=None)
@given(
    destination=st.sampled_from(
        [
            "https://idp.example/sso",
            "https://idp.example/sso?a=1",
            "https://idp.example/sso?",
            "https://idp.example/sso?a=1&",
            "javascript:alert(1)",
            "https://idp.example/sso#f",
        ]
    ),
    xml=st.binary(max_size=300) | st.sampled_from([b"", b"<samlp:AuthnRequest/>" * 20]),
    parameter=st.sampled_from(["SAMLRequest", "SAMLRequest", "SAMLResponse", "Other"]),
    relay_state=st.none() | _RELAY | st.from_regex(r"[A-Za-z0-9_.~-]{0,82}", fullmatch=True),
)
def test_redirect_url_is_the_previous_url(
    destination: str, xml: bytes, parameter: str, relay_state: str | None
) -> None:
    kwargs = {"parameter": parameter, "relay_state": relay_state}
    assert _form_outcome(encode_redirect, destination, xml, **kwargs) == _form_outcome(
        _reference_redirect, destination, xml, **kwargs
    )
