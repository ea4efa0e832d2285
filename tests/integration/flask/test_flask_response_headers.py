"""The Flask adapter writes its responses' headers itself where werkzeug's general code costs time per login
(issue #9): the binding cookies' ``Set-Cookie`` (``_cookie_header``: the attributes written once per second)
and a redirect (status and ``Location``, no "Redirecting..." page). Both must be what werkzeug and Flask
write: a differential against ``Response.set_cookie`` for every cookie fedlib can make, and the ACS and
login end to end, including an application that overrides ``Flask.redirect``."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fedlib.binding import BindingCookie, expired_cookie
from fedlib.integrations.flask import FedLib, _cookie_header
from fedlib.sp import ServiceProvider
from fedlib.testing.idp import TestIdP

_ANY = st.characters(blacklist_categories=("Cc", "Cs"))  # werkzeug refuses control characters in a header
_TEXT = st.text(alphabet="abcXYZ019_-", max_size=24) | st.text(alphabet=_ANY, max_size=8)  # plain, or anything
_COOKIES = st.builds(
    BindingCookie,
    name=st.text(alphabet="abcXYZ019_-", min_size=1, max_size=40) | st.text(alphabet=_ANY, min_size=1, max_size=8),
    value=_TEXT,
    max_age=st.integers(0, 10**7),
    path=st.sampled_from(["/", "/saml", "/a b", "/ü"]),
    secure=st.booleans(),
    http_only=st.booleans(),
    same_site=st.sampled_from(["None", "Lax", "Strict", "lax"]),
)


def _werkzeug_header(cookie: BindingCookie) -> str:
    response = Response()
    response.set_cookie(
        cookie.name,
        cookie.value,
        max_age=cookie.max_age,
        path=cookie.path,
        secure=cookie.secure,
        httponly=cookie.http_only,
        samesite=cookie.same_site,
    )
    return response.headers.getlist("Set-Cookie")[0]


@settings(max_examples=400, deadline=None)
@given(_COOKIES, st.sampled_from([4093, 0, 120]))
@example(expired_cookie("__Host-fedlib-login-0123456789ab"), 4093)
@example(BindingCookie("fedlib-login-0123456789ab", "s3cr3t-_", 300, secure=False), 4093)
@example(BindingCookie("a" * 40, "b" * 20, 300), 120)  # over the size limit: werkzeug's (it warns)
def test_the_cookie_header_is_werkzeugs_or_declined(cookie: BindingCookie, max_size: int) -> None:
    """Byte for byte werkzeug's header (twice: written, then from the kept attributes), or None where
    werkzeug would quote the name or value or warn about the size."""
    for _ in range(5):  # both within one second (werkzeug reads the clock itself)
        second = int(time.time())
        ours = [_cookie_header(cookie, max_size), _cookie_header(cookie, max_size)]
        theirs = _werkzeug_header(cookie)
        if int(time.time()) == second:
            break
    if ours[0] is None:
        assert ours[1] is None
        plain = all(c.isascii() and (c.isalnum() or c in "_-") for c in cookie.name + cookie.value)
        assert not plain or (max_size and len(theirs) > max_size)
        return
    assert ours == [theirs, theirs]
    assert not max_size or len(theirs) <= max_size


def _app(sp: ServiceProvider, cls: type[Flask] = Flask) -> Flask:
    app = cls(__name__)
    app.secret_key = "test-only"
    FedLib(app, service_provider=sp)
    return app


def _post_response(client: Any, saml_idp: TestIdP) -> Any:
    started = client.get("/saml/login?next=/landed")
    assert started.status_code in (302, 303)
    form = dict(saml_idp.respond(saml_idp.receive_redirect(started.headers["Location"])).fields)
    return started, client.post("/saml/acs", data=form)


def test_the_acs_redirect_is_status_location_and_cookies(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    started, response = _post_response(_app(saml_sp).test_client(), saml_idp)
    assert response.status_code == 303
    assert response.headers["Location"] == "/landed"
    assert response.get_data() == b""
    binding = [h for h in started.headers.getlist("Set-Cookie") if "fedlib-login-" in h]
    assert len(binding) == 1
    name = binding[0].split("=", 1)[0]
    cleared = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert len(cleared) == 1
    assert cleared[0].startswith(f"{name}=; Expires=")
    assert cleared[0].endswith("; Max-Age=0; Secure; HttpOnly; Path=/; SameSite=None")


def test_an_app_that_overrides_redirect_makes_fedlibs_redirects(saml_sp: ServiceProvider, saml_idp: TestIdP) -> None:
    made: list[tuple[str, int]] = []

    class Tracing(Flask):
        def redirect(self, location: str, code: int = 302) -> Any:
            made.append((location, code))
            return super().redirect(location, code)

    _, response = _post_response(_app(saml_sp, Tracing).test_client(), saml_idp)
    assert response.status_code == 303
    assert ("/landed", 303) in made
    assert b"Redirecting" in response.get_data()
