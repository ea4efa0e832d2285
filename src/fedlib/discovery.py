"""Choosing an IdP (issue #10 §6): a framework-neutral discovery page.

An SP that trusts several IdPs cannot start a login without knowing which one; instead of refusing, the
login route shows this page: every trusted IdP by its name for people (``IdPMetadata.display_name``:
``mdui:UIInfo/DisplayName``, else ``OrganizationDisplayName``, English first; else the entityID), each a
link to ``<login_url>?idp=<entityID>&next=<next>``. A search box narrows the list: on the server with
``?q=`` (works without JavaScript), and as you type with a few lines of inline script whose hash is
:data:`DISCOVERY_CSP` (send that header with the page so nothing else can run on it).

Everything shown is escaped; ``next`` is kept only if :func:`fedlib.sp.safe_relay_state` accepts it. The
choice is only a lookup hint for ``start_login``: an entityID that is not trusted is refused there.
Plain values in, a string out: adapters (Flask, others) wrap it in their response type.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from fedlib.metadata.idp import IdPMetadata
from fedlib.sp import safe_relay_state

#: A search query longer than this is cut (it is only compared with names).
MAX_QUERY: Final = 200

_SCRIPT: Final = (
    "(function(){var q=document.getElementById('fedlib-idp-q'),"
    "items=document.querySelectorAll('#fedlib-idps li'),none=document.getElementById('fedlib-no-match');"
    "if(!q)return;q.addEventListener('input',function(){var t=q.value.trim().toLowerCase(),n=0;"
    "for(var i=0;i<items.length;i++){var m=items[i].getAttribute('data-search').indexOf(t)>=0;"
    "items[i].hidden=!m;if(m)n++;}none.hidden=n>0;});})();"
)
_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
    "ul{list-style:none;padding:0}li{margin:.4rem 0}li a{font-size:1.1rem}"
    "small{display:block;color:#555;word-break:break-all}"
)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: The Content-Security-Policy to send with the page: its own inline script and style only, no framing.
DISCOVERY_CSP: Final = (
    f"default-src 'none'; script-src {_csp_hash(_SCRIPT)}; style-src {_csp_hash(_STYLE)}; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True, slots=True)
class DiscoveryEntry:
    """One IdP on the discovery page."""

    entity_id: str
    name: str


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def discovery_entries(idps: Iterable[IdPMetadata], *, query: str | None = None) -> list[DiscoveryEntry]:
    """The IdPs to list, sorted by name, keeping those whose name or entityID contains ``query``
    (case-insensitive, whitespace-normalised; a blank query keeps all)."""
    wanted = _fold(query[:MAX_QUERY]) if isinstance(query, str) else ""
    out = [DiscoveryEntry(idp.entity_id, idp.display_name or idp.entity_id) for idp in idps]
    if wanted:
        out = [e for e in out if wanted in _fold(e.name) or wanted in _fold(e.entity_id)]
    return sorted(out, key=lambda e: (_fold(e.name), e.entity_id))


def render_discovery_page(
    idps: Iterable[IdPMetadata],
    *,
    login_url: str,
    next_url: object = None,
    query: object = None,
    relay_state_origins: Iterable[str] = (),
    keep: Mapping[str, str] | None = None,
    title: str = "Choose where to sign in",
) -> str:
    """The discovery page as HTML (serve it with status 200, ``Cache-Control: no-store`` and
    ``Content-Security-Policy:`` :data:`DISCOVERY_CSP`).

    Args:
        idps: the trusted IdPs (``ServiceProvider.idps`` values' ``metadata``).
        login_url: the login route the links and the search form go to (a path such as ``/saml/login``).
        next_url: where to go after login, untrusted (the request's ``next``); dropped unless safe.
        query: the server-side search (the request's ``q``), untrusted.
        relay_state_origins: absolute origins ``next`` may point to (``ServiceProvider.relay_state_origins``).
        keep: further query parameters the links and the search form carry on, already validated by the
            caller (Flask: the ``authn`` option of a step-up login); ``idp``, ``next`` and ``q`` are ignored.
        title: the page heading.
    """
    safe_next = safe_relay_state(next_url, relay_state_origins)
    q = query[:MAX_QUERY] if isinstance(query, str) else ""
    entries = discovery_entries(idps, query=q)
    kept = {k: v for k, v in (keep or {}).items() if k not in ("idp", "next", "q")}
    esc = html.escape
    items = []
    for entry in entries:
        params = {"idp": entry.entity_id} | ({"next": safe_next} if safe_next is not None else {}) | kept
        href = f"{login_url}?{urlencode(params)}"
        label = f"<small>{esc(entry.entity_id)}</small>" if entry.name != entry.entity_id else ""
        items.append(
            f"<li data-search='{esc(_fold(entry.name + ' ' + entry.entity_id))}'>"
            f"<a href='{esc(href)}'>{esc(entry.name)}</a>{label}</li>"
        )
    hidden = ({"next": safe_next} if safe_next is not None else {}) | kept
    hidden_inputs = "".join(f"<input type='hidden' name='{esc(k)}' value='{esc(v)}'>" for k, v in hidden.items())
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{esc(title)}</h1>"
        f"<form method='get' action='{esc(login_url)}' role='search'>"
        "<label for='fedlib-idp-q'>Search your organisation</label> "
        f"<input id='fedlib-idp-q' name='q' type='search' value='{esc(q)}' autocomplete='off'>"
        f"{hidden_inputs} <button type='submit'>Search</button></form>"
        f"<ul id='fedlib-idps'>{''.join(items)}</ul>"
        f"<p id='fedlib-no-match'{'' if not entries else ' hidden'}>No organisation matches.</p>"
        f"<script>{_SCRIPT}</script></main></body></html>"
    )


__all__ = ["DISCOVERY_CSP", "MAX_QUERY", "DiscoveryEntry", "discovery_entries", "render_discovery_page"]
