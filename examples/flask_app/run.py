"""``make demo``: run the example app (127.0.0.1) against the bundled test IdPs (localhost; SQLite store).

It first logs in over real HTTP as a browser would (SP-initiated through the generic test IdP, then the
Entra-default IdP, which fedlib refuses with a 403 and the setting to change, then a Response posted from
another browser than the one that started the login, refused as login CSRF), prints what happened, then
serves until Ctrl-C so you can click through it yourself. ``--check`` exits after the self-check.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import logging
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from html import unescape
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.flask_app.stack import Stack, build_stack
from fedlib.testing.realidp import RealIdPError


def _open(opener: urllib.request.OpenerDirector, url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(url, data=body, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class _LoopbackIsSecure(http.cookiejar.DefaultCookiePolicy):
    """Send ``Secure`` cookies to http loopback hosts, as browsers do (the login's binding cookie is Secure)."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        host = urllib.parse.urlsplit(request.get_full_url()).hostname
        return host in ("127.0.0.1", "localhost", "::1") or super().return_ok_secure(cookie, request)


def _browser() -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar(policy=_LoopbackIsSecure())
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def browse_login(
    stack: Stack, idp_label: str, user: str, *, post_from_another_browser: bool = False
) -> tuple[int, str]:
    """Click through one SP-initiated login like a browser: app -> IdP login page -> pick user -> ACS.
    ``post_from_another_browser``: the IdP's form is posted by a fresh browser instead (login CSRF)."""
    opener = _browser()
    idp = stack.idps[idp_label]
    start = f"{stack.app_url}/saml/login?idp={urllib.parse.quote(idp.entity_id, safe='')}&next=/protected"
    status, page = _open(opener, start)  # follows the redirect to the IdP's login page
    token = re.search(r"name='token' value='([^']+)'", page)
    if status != 200 or token is None:
        return status, page
    status, form = _open(opener, f"{idp.base_url}/sso/login", {"token": token.group(1), "user": user})
    action = re.search(r'action="([^"]+)"', form)
    if action is None:
        return status, form
    fields = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form)}
    poster = _browser() if post_from_another_browser else opener
    return _open(poster, unescape(action.group(1)), fields)  # the ACS, then the redirect to /protected


def self_check(stack: Stack) -> bool:
    ok = True
    status, page = browse_login(stack, "Test IdP", "ada@example.org")
    good = status == 200 and "ada@example.org" in page and "groups" in page
    print(f"  {'ok  ' if good else 'FAIL'} SP-initiated login via the test IdP -> {status}, protected page shown")
    ok &= good
    status, page = browse_login(stack, "Test IdP as Entra ID (defaults)", "ada@example.org")
    code = re.search(r"<code id='error-code'>([^<]+)</code>", page)
    good = status == 403 and code is not None and code.group(1) == "assertion-only-signature"
    print(f"  {'ok  ' if good else 'FAIL'} Entra ID defaults -> {status} {code.group(1) if code else '?'}")
    ok &= good
    status, page = browse_login(stack, "Test IdP", "ada@example.org", post_from_another_browser=True)
    code = re.search(r"<code id='error-code'>([^<]+)</code>", page)
    good = status == 403 and code is not None and code.group(1) == "browser-mismatch"
    shown = code.group(1) if code else "?"
    print(f"  {'ok  ' if good else 'FAIL'} Response posted from another browser -> {status} {shown}")
    ok &= good
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="run the self-check and exit")
    parser.add_argument("--port", type=int, default=5000, help="port of the example app (default 5000; 0: any)")
    parser.add_argument("--workdir", type=Path, help="where the SQLite store goes (default: a temporary directory)")
    parser.add_argument(
        "--real-idp",
        choices=("simplesamlphp", "pysaml2"),
        help="also start this real IdP product on localhost (users ada/ada-pass and grace/grace-pass)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
    with tempfile.TemporaryDirectory(prefix="fedlib-demo-") as tmp:
        workdir = args.workdir or Path(tmp)
        try:
            stack = build_stack(workdir, app_port=args.port, real_idp=args.real_idp)
        except OSError as exc:
            print(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); try --port 0", file=sys.stderr)
            return 2
        except RealIdPError as exc:
            print(f"cannot start the real IdP: {exc}", file=sys.stderr)
            return 2
        stack.start()
        try:
            print(f"fedlib demo: example app {stack.app_url}, store sqlite in {workdir}")
            for label, idp in stack.idps.items():
                print(f"  {label}: {idp.base_url} (profile {idp.profile.name})")
            if stack.real_idp is not None:
                real = stack.real_idp
                users = ", ".join(f"{u.username}/{u.password}" for u in real.users)
                print(f"  {real.product}: {real.base_url} (users {users})")
            print("self-check (a scripted browser):")
            ok = self_check(stack)
            if args.check or not ok:
                return 0 if ok else 1
            launcher = stack.idps["Test IdP"].base_url
            print(f"\nOpen {stack.app_url}/ in a browser (IdP-initiated: {launcher}/). Ctrl-C stops.")
            try:
                for thread in stack.threads:
                    thread.join()
            except KeyboardInterrupt:
                print("\nstopped")
            return 0
        finally:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
