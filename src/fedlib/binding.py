"""Browser binding of SP-initiated logins (login CSRF defence), sans-I/O: values in, values out.

A Response that answers a pending request is accepted only from the browser that started that request.
``ServiceProvider.start_login`` draws a high-entropy secret per request (:func:`new_secret`), stores only
its SHA-256 with the pending request and returns the secret; the web adapter puts it in a cookie
(:func:`binding_cookie`). ``finish_login`` gets the cookies (or the secret) back, consumes the pending
request, and compares in constant time (:func:`matches`). A missing or different value is
``browser-mismatch``: an attacker who posts a Response obtained with their own account from the victim's
browser (login CSRF) cannot present the secret of the attacker's browser.

One cookie per pending request, named after the request (``__Host-fedlib-login-<12 hex of SHA-256(ID)>``):
it expires with its request (``Max-Age`` = the request lifetime), is cleared at the ACS after use, and
logins started in several tabs never overwrite each other's secret. The adapter caps how many a browser
carries (:data:`MAX_PENDING_COOKIES`), so a page that makes a browser start logins in a loop cannot grow
its Cookie header without bound (a single shared secret would avoid that, but could then neither expire
with each request nor be cleared at the ACS without breaking the logins still pending in other tabs).

Cookie attributes (the ACS URL's scheme decides, never a Host header): ``HttpOnly; Secure; SameSite=None;
Path=/``. ``SameSite=None`` because the ACS POST comes from the IdP's site (a Lax cookie is not sent on a
cross-site POST; Chromium drops ``SameSite=None`` without ``Secure``). Over https the name has the
``__Host-`` prefix, so no sibling subdomain can plant its own secret in the user's browser (cookie
tossing, which would re-open login CSRF); that prefix needs ``Path=/``. Over plain http the name has no
prefix; browsers keep ``Secure`` cookies on http only for loopback hosts (Chromium does for
``http://127.0.0.1`` and ``http://localhost``, tested in tests/browser), so http works for development
only: in production the ACS is https.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from fedlib._frozen import fast_builder

SECRET_BYTES: Final = 32
"""Entropy of a browser secret (``secrets.token_urlsafe(32)``: 43 characters)."""

COOKIE_PREFIX_HTTPS: Final = "__Host-fedlib-login-"
COOKIE_PREFIX_HTTP: Final = "fedlib-login-"
MAX_PENDING_COOKIES: Final = 8
"""At most this many binding cookies per browser: a login started past it first clears the others."""

_SECRET_RE: Final = re.compile(r"[A-Za-z0-9_-]{32,128}")
_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")


def new_secret() -> str:
    """A fresh browser secret (URL-safe, 256 bits).

    ``secrets.token_urlsafe(SECRET_BYTES)`` without its five Python-level calls: the same ``os.urandom``
    bytes (what ``secrets`` draws them from), base64url without padding (tests/unit/sp/test_start_fast_path.py
    holds it to ``token_urlsafe``'s text)."""
    return binascii.b2a_base64(os.urandom(SECRET_BYTES), newline=False).rstrip(b"=").translate(_URLSAFE).decode("ascii")


def is_valid_secret(value: str) -> bool:
    """Whether ``value`` looks like a browser secret (URL-safe alphabet, 32 to 128 characters)."""
    return isinstance(value, str) and _SECRET_RE.fullmatch(value) is not None


def secret_hash(secret: str) -> str:
    """What is stored with the pending request: the SHA-256 of the secret (hex), never the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches(stored_hash: object, secret: str | None) -> bool:
    """Constant-time: does ``secret`` hash to ``stored_hash``? False for a missing or malformed value."""
    if not isinstance(stored_hash, str) or not stored_hash or secret is None or not is_valid_secret(secret):
        return False
    return hmac.compare_digest(secret_hash(secret).encode("ascii"), stored_hash.encode("ascii", "replace"))


def check_presented(
    stored_hash: object, acs_url: str, request_id: str, browser_binding: str | Mapping[str, str] | None
) -> tuple[bool, str | None, str]:
    """``finish_login``'s binding check in one call: whether what the browser presents for ``request_id``
    (its cookies, from which the request's binding cookie is picked, or the secret itself) matches
    ``stored_hash``; what it presented; the binding cookie's name.

    Exactly :func:`cookie_name` then :func:`matches`: the usual case (a well-formed secret string, a
    non-empty stored hash) is decided here without their calls, anything else by :func:`matches`
    (tests/unit/sp/test_binding_fast_path.py holds it to them)."""
    name = cookie_prefix(acs_url) + hashlib.sha256(request_id.encode("utf-8")).hexdigest()[:12]
    if browser_binding is None or type(browser_binding) is str:
        presented = browser_binding
    else:
        presented = browser_binding.get(name) if isinstance(browser_binding, Mapping) else browser_binding
    if (
        type(presented) is str
        and type(stored_hash) is str
        and stored_hash
        and _SECRET_RE.fullmatch(presented) is not None
    ):
        ok = hmac.compare_digest(
            hashlib.sha256(presented.encode("utf-8")).hexdigest().encode("ascii"),
            stored_hash.encode("ascii", "replace"),
        )
    else:
        ok = matches(stored_hash, presented)
    return ok, presented, name


@functools.lru_cache(maxsize=64)
def cookie_prefix(acs_url: str) -> str:
    """The cookie-name prefix for an ACS URL: ``__Host-`` over https, none over http."""
    return COOKIE_PREFIX_HTTPS if urlsplit(acs_url).scheme.lower() == "https" else COOKIE_PREFIX_HTTP


def cookie_name(acs_url: str, request_id: str) -> str:
    """The binding cookie of one pending request (a short hash of its ID keeps concurrent logins apart)."""
    return cookie_prefix(acs_url) + hashlib.sha256(request_id.encode("utf-8")).hexdigest()[:12]


def cookie_reaches_the_acs(acs_url: str) -> bool:
    """Whether browsers will keep the (``Secure``) binding cookie for this ACS: https, or http to a
    loopback host (development). Over plain http elsewhere every SP-initiated login is ``browser-mismatch``."""
    parts = urlsplit(acs_url)
    if parts.scheme.lower() == "https":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_binding_cookie(name: str) -> bool:
    """Whether a cookie name is one of fedlib's binding cookies (either prefix)."""
    return name.startswith((COOKIE_PREFIX_HTTPS, COOKIE_PREFIX_HTTP))


@dataclass(frozen=True, slots=True)
class BindingCookie:
    """A cookie for the adapter to set (``max_age`` > 0) or clear (``max_age`` == 0). Framework-neutral:
    map the fields onto your framework's ``set_cookie``; ``http_only``, ``secure``, ``same_site`` and
    ``path`` are fixed by fedlib and must be kept as they are."""

    name: str
    value: str
    max_age: int
    path: str = "/"
    secure: bool = True
    http_only: bool = True
    same_site: str = "None"

    def header(self) -> str:
        """The ``Set-Cookie`` header value."""
        return (
            f"{self.name}={self.value}; Max-Age={self.max_age}; Path={self.path}"
            f"{'; Secure' if self.secure else ''}{'; HttpOnly' if self.http_only else ''}; SameSite={self.same_site}"
        )


_new_cookie: Final = fast_builder(BindingCookie)
"""``BindingCookie(...)`` (same parameters, same object) without the frozen dataclass ``__init__``
(fedlib._frozen): two per login."""


def binding_cookie(acs_url: str, request_id: str, secret: str, max_age: int) -> BindingCookie:
    """The cookie that carries ``secret`` for the request ``request_id`` answered at ``acs_url``."""
    name = cookie_prefix(acs_url) + hashlib.sha256(request_id.encode("utf-8")).hexdigest()[:12]  # cookie_name
    return _new_cookie(name, secret, max(1, max_age))


def expired_cookie(name: str) -> BindingCookie:
    """Clears the binding cookie ``name`` (same attributes, empty value, ``Max-Age=0``)."""
    return _new_cookie(name, "", 0)


def cookies_to_clear(names: Iterable[str]) -> list[BindingCookie]:
    """When a browser already carries :data:`MAX_PENDING_COOKIES` binding cookies, clear them all before a
    new login (the logins still pending in it must then be started again); otherwise clear none."""
    binding = sorted({name for name in names if is_binding_cookie(name)})
    return [expired_cookie(name) for name in binding] if len(binding) >= MAX_PENDING_COOKIES else []


__all__ = [
    "COOKIE_PREFIX_HTTP",
    "COOKIE_PREFIX_HTTPS",
    "MAX_PENDING_COOKIES",
    "SECRET_BYTES",
    "BindingCookie",
    "binding_cookie",
    "check_presented",
    "cookie_name",
    "cookie_prefix",
    "cookie_reaches_the_acs",
    "cookies_to_clear",
    "expired_cookie",
    "is_binding_cookie",
    "is_valid_secret",
    "matches",
    "new_secret",
    "secret_hash",
]
