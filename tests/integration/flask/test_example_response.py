"""The example app's response class (examples/flask_app/app.py: ``ExampleResponse``): its ``get_wsgi_headers``
copies the headers without validating them a second time in the usual case, and must send exactly the
headers werkzeug's own ``get_wsgi_headers`` sends, for every response (a differential over header lists,
statuses, bodies and settings), while werkzeug's newline check still refuses a header value when it is set."""

from __future__ import annotations

from typing import Any

import examples.flask_app.app as example_app
import pytest
from examples.flask_app.app import ExampleResponse, create_app
from flask import Response
from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers

from fedlib.sp import ServiceProvider

_NAMES = st.sampled_from(
    ["Location", "location", "LOCATION", "Content-Length", "content-length", "Content-Location", "Set-Cookie", "Vary"]
)
_VALUES = st.one_of(
    st.sampled_from(["/", "/protected", "/landed?x=1&y=%2F", "https://sp.example/a b", "/caf\u00e9", "0", "12"]),
    st.text(st.characters(exclude_characters="\r\n\x00"), max_size=20),
)
_BODIES = st.one_of(st.none(), st.just(b""), st.just(b"abc"), st.just("caf\u00e9"), st.just([b"a", b"bc"]))
_ENVIRON = {"wsgi.url_scheme": "https", "HTTP_HOST": "sp.example", "SCRIPT_NAME": "", "PATH_INFO": "/saml/acs"}


def _sent(response: Response) -> object:
    """The headers sent, or the error raised (a Location with a lone surrogate cannot be written)."""
    try:
        return list(response.get_wsgi_headers(_ENVIRON))
    except ValueError as exc:  # UnicodeEncodeError included
        return type(exc)


def _pair(status: int, headers: list[tuple[str, str]], body: Any, autocorrect: bool, auto_length: bool) -> list[Any]:
    made = []
    for cls in (ExampleResponse, Response):
        response = cls(body, status=status)
        for name, value in headers:
            response.headers.add(name, value)
        response.autocorrect_location_header = autocorrect
        response.automatically_set_content_length = auto_length
        made.append(response)
    return made


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([100, 200, 204, 302, 303, 304, 403, 500]),
    st.lists(st.tuples(_NAMES, _VALUES), max_size=6),
    _BODIES,
    st.booleans(),
    st.booleans(),
)
@example(303, [("Location", "/protected"), ("Set-Cookie", "a=b; Path=/"), ("Vary", "Cookie")], None, False, True)
@example(303, [("Location", "/a"), ("location", "/b")], None, False, True)  # werkzeug keeps the last one's value
@example(303, [("Location", "/caf\u00e9")], None, False, True)  # an IRI: werkzeug quotes it
@example(303, [("Location", "\ud800")], None, False, True)  # not encodable: both raise
@example(200, [("Content-Length", "7")], b"abc", False, True)  # a declared length is kept
@example(200, [("Content-Location", "/caf\u00e9")], b"abc", False, True)
@example(204, [("Content-Length", "0")], None, False, True)
@example(204, [], None, False, True)  # no Content-Length for 204, 304 and 1xx
@example(304, [("Vary", "Cookie")], None, False, True)
@example(101, [], None, False, True)
@example(303, [("Location", "/a")], None, True, True)  # autocorrect: an absolute URL
@example(200, [], b"abc", False, False)  # no automatic Content-Length
@pytest.mark.parametrize("shortcut", [True, False], ids=["with-the-shortcut", "without-it"])
def test_the_example_response_sends_werkzeugs_headers(
    shortcut: bool, status: int, headers: list[tuple[str, str]], body: Any, autocorrect: bool, auto_length: bool
) -> None:
    """Both ways: the shortcut (werkzeug keeps its headers in ``Headers._list``, as 3.x does) and werkzeug's
    own method, which is all that runs if a werkzeug release lays ``Headers`` out otherwise."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(example_app, "_HEADERS_LIST", shortcut)
        ours, werkzeugs = _pair(status, headers, body, autocorrect, auto_length)
        assert _sent(ours) == _sent(werkzeugs)


def test_the_installed_werkzeug_keeps_its_headers_in_a_list() -> None:
    """The probe finds the layout the shortcuts rely on in the werkzeug this project installs (pyproject), so
    the example app, and bench/acs_load.py with it, runs the path it documents; a werkzeug that changed it
    fails here, not in a deployment."""
    assert example_app._headers_keep_a_list()
    assert example_app._HEADERS_LIST


def test_the_probe_refuses_another_layout() -> None:
    class Tupled(Headers):
        def __init__(self, pairs: Any = None) -> None:
            super().__init__(pairs)
            self._list = tuple(self._list)  # type: ignore[assignment]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(example_app, "Headers", Tupled)
        assert not example_app._headers_keep_a_list()


def test_a_streamed_body_takes_werkzeugs_path() -> None:
    ours, werkzeugs = _pair(200, [("Vary", "Cookie")], None, False, True)
    ours.response = werkzeugs.response = iter([b"abc"])  # not a sequence: no Content-Length
    assert list(ours.get_wsgi_headers(_ENVIRON)) == list(werkzeugs.get_wsgi_headers(_ENVIRON))


def test_header_values_are_still_checked_when_set() -> None:
    response = ExampleResponse(status=303)
    with pytest.raises(ValueError, match="newline"):
        response.headers.add("Location", "/a\r\nSet-Cookie: x=y")
    with pytest.raises(ValueError, match="newline"):
        response.headers["Vary"] = "Cookie\nX: y"


def test_the_example_app_uses_it(saml_sp: ServiceProvider) -> None:
    app = create_app(saml_sp, secret_key="test-only")
    assert app.response_class is ExampleResponse
    assert app.test_client().get("/saml/login?next=/protected").status_code == 302


def test_headers_of_another_class_are_checked_again() -> None:
    """Only werkzeug's own ``Headers`` checked every value on writing: another class's go through werkzeug's
    copy, which refuses a newline (a header injection) there."""

    class Unchecked(Headers):
        def add(self, key: str, value: Any, /, **kwargs: Any) -> None:
            self._list.append((key, value))

    response = ExampleResponse(status=303)
    response.headers = Unchecked()
    response.headers.add("Location", "/a\r\nSet-Cookie: x=y")
    with pytest.raises(ValueError, match="newline"):
        response.get_wsgi_headers(_ENVIRON)
