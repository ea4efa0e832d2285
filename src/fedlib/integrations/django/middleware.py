"""``SessionLifetimeMiddleware``: sign the Django user out once the IdP's SessionNotOnOrAfter has passed.

Put it after ``AuthenticationMiddleware`` in ``MIDDLEWARE``. It needs the identity the default login hook
keeps in ``request.session["fedlib"]``; sessions without one are left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import auth
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from fedlib.clock import SystemClock
from fedlib.integrations.django.site import site
from fedlib.web import SESSION_KEY, end_expired_session


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        session = getattr(request, "session", None)
        if session is not None and isinstance(session.get(SESSION_KEY), dict):
            sp = site.service_provider
            clock = sp.clock if sp is not None else SystemClock()
            if end_expired_session(session, clock.now()):
                auth.logout(request)
        return self.get_response(request)
