"""The views of ``fedlib.integrations.django``: ``HttpRequest`` -> :class:`fedlib.web.WebRequest`, the
framework-neutral :class:`fedlib.web.SamlRoutes` decides, :class:`fedlib.web.WebOutcome` -> ``HttpResponse``.

CSRF: the ACS and the logout view are exempt from Django's CSRF middleware. The ACS receives the IdP's
cross-site POST (the browser-binding cookie and the signature protect it); ``/logout`` receives the IdP's
LogoutRequest over POST (its signature protects it) *and* the local Sign out form, which fedlib checks
itself (its own per-session token, Origin and Sec-Fetch-Site), exactly as in the Flask and Starlette
adapters: one CSRF scheme for the one route, the same for every framework.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

from django.contrib import auth
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_exempt

from fedlib.clock import SystemClock
from fedlib.errors import ConfigurationError
from fedlib.integrations.django.site import site
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.web import (
    CSRF_SESSION_KEY,
    SESSION_KEY,
    BodyRefused,
    HookFailed,
    LogoutEvent,
    Session,
    WebOutcome,
    WebRequest,
    csrf_token,
    end_expired_session,
    logout_form_html,
    session_identity,
    too_many_form_fields,
)

log = logging.getLogger("fedlib.django")


def session_of(request: HttpRequest) -> Session:
    """``request.session``, or a ``ConfigurationError`` naming the missing middleware."""
    session = getattr(request, "session", None)
    if session is None:
        raise ConfigurationError(
            "fedlib's Django views need a session: add django.contrib.sessions.middleware.SessionMiddleware "
            "to MIDDLEWARE"
        )
    return cast(Session, session)


def respond(outcome: WebOutcome) -> HttpResponseBase:
    """The ``HttpResponse`` for a :class:`fedlib.web.WebOutcome` (status, headers, cookies, redirect)."""
    response: HttpResponseBase
    if outcome.app_response is not None:
        if not isinstance(outcome.app_response, HttpResponseBase):
            raise TypeError("a fedlib hook must return a Django HttpResponse, PARTIAL or None")
        response = outcome.app_response
    elif outcome.location is not None:
        response = HttpResponse(status=outcome.status)
        response["Location"] = outcome.location
    else:
        response = HttpResponse(outcome.body, status=outcome.status, content_type=outcome.content_type)
    for name, value in outcome.headers:
        response[name] = value
    for cookie in outcome.cookies:
        response.set_cookie(
            cookie.name,
            cookie.value,
            max_age=cookie.max_age,
            path=cookie.path,
            secure=cookie.secure,
            httponly=cookie.http_only,
            samesite=cookie.same_site,
        )
    return response


def default_login_hook(request: HttpRequest, result: LoginResult) -> HttpResponseBase | None:
    """Authenticate through the ``AUTHENTICATION_BACKENDS`` (``FedlibBackend`` creates or updates the user),
    ``django.contrib.auth.login``, and keep fedlib's identity in ``request.session["fedlib"]`` (for Single
    Logout and SessionNotOnOrAfter). A backend that refuses the user: a 403 page, nobody signed in."""
    user = auth.authenticate(request, saml_result=result)
    if user is None:
        log.warning("fedlib: no authentication backend accepted the verified login of %r", result.authn.name_id)
        return respond(
            site.routes_.simple_page(403, "Sign-in refused", "<p>This account may not sign in to this site.</p>")
        )
    auth.login(request, user)  # flushes the session when another user was signed in, else renews its key
    session = session_of(request)
    session.pop(CSRF_SESSION_KEY, None)  # the logout CSRF token from before the login is not carried over
    session[SESSION_KEY] = session_identity(result)
    return None


def default_logout_hook(request: HttpRequest, event: LogoutEvent) -> None:
    """``django.contrib.auth.logout`` (which also flushes the session), except when the IdP only answers."""
    if event.kind != "idp-response":
        auth.logout(request)


def identity(request: HttpRequest) -> dict[str, Any] | None:
    """The fedlib identity of this session (``session["fedlib"]``), None once the IdP's SessionNotOnOrAfter
    has passed (it is then dropped; see :class:`fedlib.integrations.django.middleware.SessionLifetimeMiddleware`
    to sign the Django user out then too)."""
    session = session_of(request)
    sp = site.service_provider
    clock = sp.clock if sp is not None else SystemClock()
    end_expired_session(session, clock.now())
    value = session.get(SESSION_KEY)
    return value if isinstance(value, dict) else None


def logout_form(
    request: HttpRequest, label: str = "Sign out", *, action: str | None = None, next: str | None = None
) -> str:
    """The ``POST /logout`` form (a button) with this session's fedlib CSRF token, as HTML for a template
    (mark it safe). ``action``: the logout URL; default ``reverse("fedlib_logout")`` (with this request's
    tenant when the request was routed with one)."""
    if action is None:
        match = getattr(request, "resolver_match", None)
        tenant = match.kwargs.get("tenant") if match is not None else None
        try:
            action = reverse("fedlib_logout", kwargs={"tenant": tenant} if isinstance(tenant, str) else None)
        except NoReverseMatch:
            action = "/saml/logout"
    return logout_form_html(action, csrf_token(session_of(request)), label=label, next=next)


def _first(items: Iterable[tuple[str, list[str]]]) -> dict[str, str]:
    return {key: values[0] for key, values in items if values and isinstance(values[0], str)}


def _web_request(request: HttpRequest) -> WebRequest:
    form: dict[str, str] = {}
    if request.method == "POST":
        try:
            # fedlib.web.MAX_FORM_FIELDS before Django parses the form, as the Flask and Starlette adapters do
            # (Django's DATA_UPLOAD_MAX_NUMBER_FIELDS bounds it too, unless a site sets it to None).
            if too_many_form_fields(request.body):
                raise BodyRefused(413, "The request has too many form fields.")
            form = _first(request.POST.lists())
        except BodyRefused:
            raise
        except RequestDataTooBig as exc:  # DATA_UPLOAD_MAX_MEMORY_SIZE
            raise BodyRefused(413, "The request is too large.") from exc
        except Exception as exc:  # multipart errors, too many fields, bad encodings: the client's
            raise BodyRefused(400, "The request body is not a form.") from exc
    query_string = request.META.get("QUERY_STRING", "")
    return WebRequest(
        method=request.method or "GET",
        path=request.path,
        query_string=query_string if isinstance(query_string, str) else "",
        query=_first(request.GET.lists()),
        form=form,
        cookies=dict(request.COOKIES),
        origin=request.headers.get("Origin"),
        sec_fetch_site=request.headers.get("Sec-Fetch-Site"),
        host_url=request.build_absolute_uri("/"),
    )


def _app_hook(hook: Callable[[HttpRequest, Any], Any], request: HttpRequest) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        try:
            return hook(request, value)
        except Exception as exc:
            raise HookFailed(exc) from exc

    return run


def _handle(
    request: HttpRequest, tenant: str | None, work: Callable[[WebRequest, ServiceProvider], WebOutcome]
) -> HttpResponseBase:
    session_of(request)  # a missing session middleware is the deployment's error, not the client's
    sp = site.sp_for(tenant)
    if sp is None:
        return HttpResponse("Not Found", status=404, content_type="text/plain; charset=utf-8")
    try:
        outcome = work(_web_request(request), sp)
    except BodyRefused as refused:
        log.warning("fedlib: request body refused: %s", refused.message)
        outcome = site.routes_.simple_page(refused.status, "Request refused", f"<p>{refused.message}</p>")
    except HookFailed as failed:
        raise failed.exc from None  # the application's own hook failed: its error, its error handling
    except Exception as exc:  # client input never becomes a 5xx (see fedlib.web.SamlRoutes.error_outcome)
        outcome = site.routes_.error_outcome(exc, request.method or "", request.path)
    return respond(outcome)


def _method_not_allowed(allowed: str) -> HttpResponse:
    response = HttpResponse("Method Not Allowed", status=405, content_type="text/plain; charset=utf-8")
    response["Allow"] = allowed
    return response


# ---- views ------------------------------------------------------------------------------------------------


def metadata(request: HttpRequest, tenant: str | None = None) -> HttpResponseBase:
    """``GET metadata``: the SP's metadata."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    return _handle(request, tenant, lambda req, sp: site.routes_.metadata(sp))


def login(request: HttpRequest, tenant: str | None = None) -> HttpResponseBase:
    """``GET login``: start a login (or the discovery page with several IdPs)."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    return _handle(request, tenant, lambda req, sp: site.routes_.login(req, sp))


@csrf_exempt
def acs(request: HttpRequest, tenant: str | None = None) -> HttpResponseBase:
    """``POST acs``: the IdP's Response (cross-site by nature: exempt from Django's CSRF check)."""
    if request.method != "POST":
        return _method_not_allowed("POST")
    hook = _app_hook(site.login_hook or default_login_hook, request)
    return _handle(request, tenant, lambda req, sp: site.routes_.acs(req, sp, hook))


@csrf_exempt
def logout(request: HttpRequest, tenant: str | None = None) -> HttpResponseBase:
    """``GET|POST logout``: the IdP's LogoutRequest / LogoutResponse, or the local Sign out (fedlib's CSRF
    token, Origin and Sec-Fetch-Site checks; see the module doc)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return _method_not_allowed("GET, HEAD, POST")
    hook = _app_hook(site.logout_hook or default_logout_hook, request)
    session = session_of(request)
    return _handle(
        request,
        tenant,
        lambda req, sp: site.routes_.logout(req, sp, session, hook, logout_action=request.path),
    )
