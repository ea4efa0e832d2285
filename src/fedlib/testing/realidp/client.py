"""A tiny browser for tests without Chromium: cookies, redirects, the IdP's login form, the auto-post form.

Standard library only (``urllib``, ``html.parser``). It fills the login form (fields ``username`` and
``password``, as both real IdPs name them) and stops at the first form that carries a ``SAMLResponse`` or
``SAMLRequest``, which it returns instead of posting (the caller hands the fields to fedlib).
"""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fedlib.testing.realidp.base import IdPUser, RealIdP

MAX_STEPS = 8
_BUTTONS = ("submit", "button", "image", "reset")


@dataclass(frozen=True, slots=True)
class PostedForm:
    """An HTML form as the browser would post it: its absolute action URL and its fields."""

    action: str
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
            self._open = True
        elif tag == "input" and self._open and a.get("name") and a.get("type", "").lower() not in _BUTTONS:
            self.forms[-1][1].setdefault(a["name"], a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


class LoginClient:
    """One cookie jar (one "browser"); reuse it to keep the IdP's SSO session between calls."""

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def fetch(self, url: str, data: Mapping[str, str] | None = None) -> tuple[str, str]:
        """GET (or POST ``data``) following redirects; return (final URL, body text)."""
        from fedlib.testing.realidp.base import RealIdPError

        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise RealIdPError(f"not an http(s) URL: {url!r}")
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body)  # noqa: S310 - http(s) only, checked above
        try:
            with self._opener.open(request, timeout=20) as response:
                return response.geturl(), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:500]
            raise RealIdPError(f"{exc.code} from {url}: {text}") from None
        except urllib.error.URLError as exc:
            raise RealIdPError(f"cannot reach {url}: {exc.reason}") from None

    def login(self, url: str, user: IdPUser) -> PostedForm:
        """Open ``url`` (an IdP SSO URL), log ``user`` in if asked, return the SAML form the IdP answers with."""
        from fedlib.testing.realidp.base import RealIdPError

        current, page = self.fetch(url)
        for _ in range(MAX_STEPS):
            parser = _Forms()
            parser.feed(page)
            for action, fields in parser.forms:
                target = urllib.parse.urljoin(current, action or current)
                if "SAMLResponse" in fields or "SAMLRequest" in fields:
                    return PostedForm(target, MappingProxyType(dict(fields)))
            for action, fields in parser.forms:
                if "password" in fields:
                    fields.update(username=user.username, password=user.password)
                    current, page = self.fetch(urllib.parse.urljoin(current, action or current), fields)
                    break
            else:
                raise RealIdPError(f"no login form and no SAML form at {current}: {page[:300]!r}")
        raise RealIdPError(f"no SAML form after {MAX_STEPS} steps from {url}")

    def leave(self, url: str) -> str:
        """Open ``url`` and follow redirects while they stay on its site (scheme, host, port); return the
        first URL outside it (e.g. the SP's SingleLogoutService with the IdP's LogoutRequest), unopened."""
        from fedlib.testing.realidp.base import RealIdPError

        origin = urllib.parse.urlsplit(url)[:2]

        class _Stop(Exception):
            def __init__(self, target: str) -> None:
                self.target = target

        class _Handler(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
                if urllib.parse.urlsplit(newurl)[:2] != origin:
                    raise _Stop(newurl)
                return super().redirect_request(req, fp, code, msg, headers, newurl)

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _Handler())
        try:
            with opener.open(url, timeout=20) as response:
                body = response.read().decode("utf-8", "replace")[:300]
        except _Stop as stop:
            return stop.target
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:500]
            raise RealIdPError(f"{exc.code} from {url}: {text}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, _Stop):
                return exc.reason.target
            raise RealIdPError(f"cannot reach {url}: {exc.reason}") from None
        raise RealIdPError(f"{url} did not redirect to another site: {body!r}")

    def idp_initiated(self, idp: RealIdP, sp_entity_id: str, user: IdPUser) -> PostedForm:
        """An IdP-initiated login of ``user`` to ``sp_entity_id``: the Response form for the SP's ACS."""
        return self.login(idp.idp_initiated_url(sp_entity_id), user)


__all__ = ["LoginClient", "PostedForm"]
