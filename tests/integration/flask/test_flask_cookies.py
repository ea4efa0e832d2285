"""The Flask adapter reads the ``Cookie`` header itself in the plain case (``request_cookies``: split at ``"; "``,
without werkzeug's walk over the environ and its regex) and leaves anything else to werkzeug. Both must agree
on every header: a differential against werkzeug's own ``request.cookies``, then the ACS end to end with a
header that falls back (the login's binding cookie is still found and cleared)."""

from __future__ import annotations

from flask import Request
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.integration.flask.test_flask import make_app
from werkzeug.test import EnvironBuilder

from fedlib import binding
from fedlib.integrations.flask import request_cookies
from fedlib.sp import ServiceProvider
from fedlib.testing.idp import TestIdP


def _request(header: str | None) -> Request:
    environ = EnvironBuilder(method="POST").get_environ()
    if header is not None:
        environ["HTTP_COOKIE"] = header
    return Request(environ)


_PIECES = [
    *("a", "Z", "0", "_", "-", ".", "session", "__Host-fedlib-login-34e0c86da83e", "EIqq-yhU464KTyZ", "é", "\xff"),
    *("=", "==", ";", "; ", ";;", " ", "  ", "\t", '"', '"a"', '"a\\"b"', "\\", "\\073", ",", "$", "%3B", "\x00"),
    *("\x7f", "!", "#", "~", "{", "}", "[", "]", "<", ">", "?", "@", ":", "/", "'", "+", "&"),
]
_HEADERS = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=30).map("".join),
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=40),
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "session", "x.y", "a-b", "__Host-x"]), st.text("ab=._-!~\\,", max_size=6)),
        max_size=5,
    ).map(lambda pairs: "; ".join(f"{name}={value}" for name, value in pairs)),
)


@settings(max_examples=500, deadline=None)
@given(_HEADERS)
@example('a="b"')  # quoted: werkzeug unquotes it
@example('a="b\\"c"; d=e')
@example("a=b;c=d")  # no space after the separator
@example("a=b;  c=d")
@example("a = b")
@example("a=b ; c=d")
@example("a; b=c")  # a cookie without "="
@example("=b; c=d")  # no name
@example("a=b; a=c")  # the same name twice: the first value
@example("a=b=c")  # "=" in a value
@example("caf\xc3\xa9=1")  # UTF-8 as the latin-1 text WSGI hands over
@example("")
def test_the_plain_reading_equals_werkzeugs(header: str) -> None:
    assert request_cookies(_request(header)) == _request(header).cookies.to_dict()


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9_.=-]{0,40}", fullmatch=True),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_browsers_plain_header_is_read_without_werkzeugs_parse(pairs: list[tuple[str, str]]) -> None:
    """The fast reading is taken for what browsers send (not a differential that always falls back)."""
    req = _request("; ".join(f"{name}={value}" for name, value in pairs))
    cookies = request_cookies(req)
    assert "cookies" not in req.__dict__  # werkzeug's cached parse never ran
    assert cookies == _request(req.environ["HTTP_COOKIE"]).cookies.to_dict()


def test_no_cookie_header_is_no_cookies() -> None:
    assert request_cookies(_request(None)) == {}


def test_the_acs_finds_the_binding_cookie_in_a_header_werkzeug_reads(
    saml_sp: ServiceProvider, saml_idp: TestIdP
) -> None:
    """A header the plain reading refuses (a quoted cookie beside the binding cookie): werkzeug's parse, and
    the login completes as usual, its binding cookie cleared."""
    client = make_app(saml_sp).test_client()
    location = client.get("/saml/login").headers["Location"]
    form = dict(saml_idp.respond(saml_idp.receive_redirect(location)).fields)
    client.set_cookie("other", '"quoted; value"')
    response = client.post("/saml/acs", data=form)
    assert response.status_code == 303
    assert not [c for c in client._cookies.values() if binding.is_binding_cookie(c.key)]
    assert client.get("/").get_data(as_text=True) == "user=ada@example.org"


def test_an_apps_own_cookies_property_is_respected() -> None:
    """An application whose Request class overrides ``cookies`` (a filter, another parser) gets its own
    reading: the plain-header shortcut stands in for werkzeug's parse only."""
    from werkzeug.datastructures import ImmutableMultiDict

    class FilteringRequest(Request):
        @property
        def cookies(self) -> ImmutableMultiDict[str, str]:  # type: ignore[override]
            return ImmutableMultiDict([(k, v) for k, v in super().cookies.items(multi=True) if k != "evil"])

    environ = EnvironBuilder(method="POST").get_environ()
    environ["HTTP_COOKIE"] = "evil=1; ok=2"
    assert request_cookies(FilteringRequest(environ)) == {"ok": "2"}
    assert request_cookies(Request(environ)) == {"evil": "1", "ok": "2"}
