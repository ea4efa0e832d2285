"""Starlette / FastAPI adapter over the framework-neutral :mod:`fedlib.web` (which decides what the routes do).

::

    from starlette.applications import Starlette          # or fastapi.FastAPI
    from starlette.middleware.sessions import SessionMiddleware
    from fedlib.integrations.starlette import FedLibRouter

    saml = FedLibRouter(service_provider=sp)                # or FedLibRouter(tenants=registry.get)
    app = Starlette()
    app.add_middleware(SessionMiddleware, secret_key=..., https_only=True)
    app.mount("/saml", saml)                                # FastAPI: the same app.mount("/saml", saml)

    @saml.on_login
    def remember(request, result):                          # plain (sync) callable; return a Response or None
        request.session["user"] = result.authn.name_id

Routes (relative to the mount point; with ``tenants`` under ``/<tenant>``): ``GET /metadata``, ``GET /login``,
``POST /acs``, ``GET|POST /logout``, with exactly the behaviour of the Flask adapter (see
``fedlib.integrations.flask``): the browser-binding cookie, RelayState rules, 403 page with the code and the
operator hint (``render_page=`` to replace it), 400 for a POST without ``SAMLResponse``, 503 for a store
outage, logout with CSRF token, the IdP's LogoutRequest and LogoutResponse, ``on_logout`` hook
(``hook(request, event)``; return ``PARTIAL`` or a Response).

Sessions: ``request.session`` (Starlette's ``SessionMiddleware``, or any middleware that puts a mutable
mapping at ``scope["session"]``); without one, a ``ConfigurationError``. The logout form for templates:
``logout_form(request)``.

Concurrency: the core (XML parsing, signature verification) is CPU-bound and the stores may block (SQLite,
Redis), so each route's work, the hooks included, runs in Starlette's threadpool
(``run_in_threadpool``) and the event loop keeps serving other requests; ``threadpool=False`` runs it on the
loop instead (see bench/README.md for the measured difference). Hooks are therefore plain callables, run
in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import NoMatchFound, Route, Router
from starlette.types import Message

from fedlib.clock import SystemClock
from fedlib.errors import ConfigurationError
from fedlib.sp import LoginResult, ServiceProvider
from fedlib.web import (
    CSRF_FIELD,
    CSRF_SESSION_KEY,
    PARTIAL,
    SESSION_KEY,
    BodyRefused,
    HookFailed,
    LoginOptions,
    LogoutEvent,
    PageRenderer,
    SamlRoutes,
    Session,
    WebOutcome,
    WebRequest,
    begin_session,
    csrf_token,
    default_render_page,
    end_expired_session,
    logout_form_html,
    too_many_form_fields,
)

log = logging.getLogger("fedlib.starlette")

LoginHook = Callable[[Request, LoginResult], Any]
LogoutHook = Callable[[Request, LogoutEvent], Any]
TenantLookup = Callable[[str], ServiceProvider]


def session_of(request: Request) -> Session:
    """``request.session``, or a ``ConfigurationError`` naming the missing middleware."""
    if "session" not in request.scope:
        raise ConfigurationError(
            "fedlib's Starlette routes need a session: add starlette.middleware.sessions.SessionMiddleware "
            "(or your own session middleware) to the application"
        )
    session: Session = request.session
    return session


def default_login_hook(request: Request, result: LoginResult) -> None:
    """Keep the identity in ``request.session["fedlib"]`` (see ``fedlib.web.session_identity``), the session
    made the new principal's first (``fedlib.web.begin_session``: another principal's session is emptied;
    the logout CSRF token is always renewed)."""
    begin_session(session_of(request), result)


def default_logout_hook(request: Request, event: LogoutEvent) -> None:
    """Drop fedlib's identity from the session (fedlib does it after every hook anyway)."""
    if event.kind != "idp-response":
        session_of(request).pop(SESSION_KEY, None)


def logout_form(
    request: Request, label: str = "Sign out", *, action: str | None = None, next: str | None = None
) -> str:
    """The ``POST /logout`` form (a button) with this session's CSRF token, as HTML for a template.
    ``action``: the logout URL; default the app's ``fedlib_logout`` route (with this request's tenant)."""
    if action is None:
        tenant = request.path_params.get("tenant")
        params = {"tenant": tenant} if isinstance(tenant, str) else {}
        try:
            action = str(request.app.url_path_for("fedlib_logout", **params))
        except (NoMatchFound, AttributeError):
            action = "/saml/logout"
    return logout_form_html(action, csrf_token(session_of(request)), label=label, next=next)


def _first(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in items:
        if isinstance(value, str) and key not in out:
            out[key] = value
    return out


def _respond(outcome: WebOutcome) -> Response:
    response: Response
    if outcome.app_response is not None:
        if not isinstance(outcome.app_response, Response):
            raise TypeError("a fedlib hook must return a starlette Response, PARTIAL or None")
        response = outcome.app_response
    elif outcome.location is not None:
        response = RedirectResponse(outcome.location, status_code=outcome.status)
    else:
        response = Response(outcome.body, status_code=outcome.status, media_type=outcome.content_type)
    for name, value in outcome.headers:
        response.headers[name] = value
    for cookie in outcome.cookies:
        response.set_cookie(
            cookie.name,
            cookie.value,
            max_age=cookie.max_age,
            path=cookie.path,
            secure=cookie.secure,
            httponly=cookie.http_only,
            samesite=cookie.same_site.lower(),  # type: ignore[arg-type]
        )
    return response


class FedLibRouter(Router):
    """fedlib's SAML routes as a Starlette ``Router``: mount it (``app.mount("/saml", router)``), in Starlette
    or FastAPI. Give it one ``service_provider`` or a ``tenants`` lookup (tenant -> SP)."""

    def __init__(
        self,
        *,
        service_provider: ServiceProvider | None = None,
        tenants: TenantLookup | None = None,
        binding: str | None = None,
        login_options: Mapping[str, LoginOptions] | None = None,
        single_logout: bool = True,
        render_page: PageRenderer = default_render_page,
        threadpool: bool = True,
        max_body_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        if (service_provider is None) == (tenants is None):
            raise ConfigurationError("give FedLibRouter exactly one of service_provider= or tenants=")
        self.routes_ = SamlRoutes(
            binding=binding, login_options=login_options, single_logout=single_logout, render_page=render_page
        )
        """The framework-neutral behaviour of the routes (:class:`fedlib.web.SamlRoutes`)."""
        self.service_provider = service_provider
        self.tenants = tenants
        self.threadpool = threadpool
        self.max_body_bytes = max_body_bytes
        """A POST body larger than this is a 413 before it is parsed (default 2 MiB)."""
        self.login_hook: LoginHook = default_login_hook
        self.logout_hook: LogoutHook = default_logout_hook
        prefix = "/{tenant}" if tenants is not None else ""
        super().__init__(
            routes=[
                Route(prefix + "/metadata", self._metadata, methods=["GET"], name="fedlib_metadata"),
                Route(prefix + "/login", self._login, methods=["GET"], name="fedlib_login"),
                Route(prefix + "/acs", self._acs, methods=["POST"], name="fedlib_acs"),
                Route(prefix + "/logout", self._logout, methods=["GET", "POST"], name="fedlib_logout"),
            ]
        )

    def on_login(self, hook: LoginHook) -> LoginHook:
        """Decorator: ``hook(request, result)`` runs after a verified login (in a worker thread); return a
        Response to send it, or None to redirect to the (safe) RelayState or ``/``."""
        self.login_hook = hook
        return hook

    def on_logout(self, hook: LogoutHook) -> LogoutHook:
        """Decorator: ``hook(request, event)`` runs on every sign-out (see ``fedlib.web.LogoutEvent``)."""
        self.logout_hook = hook
        return hook

    def identity(self, request: Request) -> dict[str, Any] | None:
        """The fedlib identity of this session (``session["fedlib"]``), None once the IdP's
        SessionNotOnOrAfter has passed (it is then dropped from the session)."""
        session = session_of(request)
        clock = self.service_provider.clock if self.service_provider is not None else SystemClock()
        end_expired_session(session, clock.now())
        identity = session.get(SESSION_KEY)
        return identity if isinstance(identity, dict) else None

    # ---- plumbing ------------------------------------------------------------------------------------

    def _sp(self, request: Request) -> ServiceProvider | None:
        if self.service_provider is not None:
            return self.service_provider
        assert self.tenants is not None
        try:
            return self.tenants(str(request.path_params.get("tenant", "")))
        except ConfigurationError:
            return None

    async def _read_form(self, request: Request) -> dict[str, str]:
        """The POSTed form, read with a cap on the body (``max_body_bytes``: a 413 past it) and on its fields
        (``fedlib.web.MAX_FORM_FIELDS``: a 413 past it, before the form is parsed)."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise BodyRefused(413, "The request is too large.")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyRefused(413, "The request is too large.")
            chunks.append(chunk)
        body = b"".join(chunks)
        if too_many_form_fields(body):  # fedlib.web.MAX_FORM_FIELDS: refused before anything parses it
            raise BodyRefused(413, "The request has too many form fields.")

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            parsed = await Request(request.scope, replay).form(max_files=0)
        except Exception as exc:  # multipart errors, bad encodings: the client's
            raise BodyRefused(400, "The request body is not a form.") from exc
        return _first(parsed.multi_items())

    async def _web_request(self, request: Request) -> WebRequest:
        form: dict[str, str] = {}
        if request.method == "POST":
            form = await self._read_form(request)
        return WebRequest(
            method=request.method,
            path=request.url.path,
            query_string=request.scope.get("query_string", b"").decode("latin-1"),
            query=_first(request.query_params.multi_items()),
            form=form,
            cookies=dict(request.cookies),
            origin=request.headers.get("origin"),
            sec_fetch_site=request.headers.get("sec-fetch-site"),
            host_url=f"{request.url.scheme}://{request.url.netloc}/",
        )

    def _app_hook(self, hook: Callable[[Request, Any], Any], request: Request) -> Callable[[Any], Any]:
        def run(value: Any) -> Any:
            try:
                return hook(request, value)
            except Exception as exc:
                raise HookFailed(exc) from exc

        return run

    async def _handle(self, request: Request, work: Callable[[WebRequest, ServiceProvider], WebOutcome]) -> Response:
        session_of(request)  # a missing session middleware is the deployment's error, not the client's
        sp = self._sp(request)
        if sp is None:
            return PlainTextResponse("Not Found", status_code=404)
        try:
            web_request = await self._web_request(request)
            if self.threadpool:
                outcome = await run_in_threadpool(work, web_request, sp)
            else:
                outcome = work(web_request, sp)
        except BodyRefused as refused:
            log.warning("fedlib: request body refused: %s", refused.message)
            outcome = self.routes_.simple_page(refused.status, "Request refused", f"<p>{refused.message}</p>")
        except HookFailed as failed:
            raise failed.exc from None  # the application's own hook failed: its error, its error handling
        except Exception as exc:  # client input never becomes a 5xx (see fedlib.web.SamlRoutes.error_outcome)
            outcome = self.routes_.error_outcome(exc, request.method, request.url.path)
        return _respond(outcome)

    # ---- endpoints -----------------------------------------------------------------------------------

    async def _metadata(self, request: Request) -> Response:
        return await self._handle(request, lambda req, sp: self.routes_.metadata(sp))

    async def _login(self, request: Request) -> Response:
        return await self._handle(request, lambda req, sp: self.routes_.login(req, sp))

    async def _acs(self, request: Request) -> Response:
        hook = self._app_hook(self.login_hook, request)
        return await self._handle(request, lambda req, sp: self.routes_.acs(req, sp, hook))

    async def _logout(self, request: Request) -> Response:
        hook = self._app_hook(self.logout_hook, request)
        work = partial(self._logout_work, session_of(request), hook, request.url.path)
        return await self._handle(request, work)

    def _logout_work(
        self, session: Session, hook: Callable[[Any], Any], action: str, req: WebRequest, sp: ServiceProvider
    ) -> WebOutcome:
        return self.routes_.logout(req, sp, session, hook, logout_action=action)


__all__ = [
    "CSRF_FIELD",
    "CSRF_SESSION_KEY",
    "PARTIAL",
    "SESSION_KEY",
    "FedLibRouter",
    "LoginOptions",
    "LogoutEvent",
    "default_login_hook",
    "default_logout_hook",
    "logout_form",
    "session_of",
]
