"""Issue #10 §8: log in through an IdP after its signing key rotated, without restarting the app.

The example app's ServiceProvider gets "Test IdP"'s metadata from a local HTTP server through a
MetadataProvider (as in production: a URL, refreshed); the IdP rotates its signing key, the metadata
server publishes the new certificate, ``refresh_now()`` swaps the trust in the running app, and Chromium
logs in again. A Response still signed with the old key is then refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from examples.flask_app.stack import Stack, build_stack

from fedlib.federation import HTTPFetcher, MetadataProvider
from fedlib.testing.keys import default_key

pytestmark = pytest.mark.browser


class _Metadata:
    body = b""


@pytest.fixture
def rotating_stack(tmp_path: Path) -> Iterator[tuple[Stack, _Metadata, str]]:
    running = build_stack(tmp_path / "demo")  # its own stack: this test changes an IdP's key
    published = _Metadata()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(published.body)))
            self.end_headers()
            self.wfile.write(published.body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    running.start()
    try:
        yield running, published, f"http://127.0.0.1:{server.server_port}/idp.xml"
    finally:
        running.stop()
        server.shutdown()
        server.server_close()


def _wait_for(driver: object, css: str) -> object:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def _login(driver: object, stack: Stack, who: str) -> None:
    port = stack.idps["Test IdP"].base_url.rsplit(":", 1)[1]
    driver.get(stack.app_url + "/")  # type: ignore[attr-defined]
    _wait_for(driver, f"a.login[href*='%3A{port}%2F']").click()  # type: ignore[attr-defined]
    _wait_for(driver, f"button[value='{who}']").click()  # type: ignore[attr-defined]


def test_login_after_the_idps_signing_key_rotated_without_restart(
    rotating_stack: tuple[Stack, _Metadata, str], chromium: object
) -> None:
    stack, published, url = rotating_stack
    idp = stack.idps["Test IdP"]
    published.body = idp.metadata_xml()
    provider = MetadataProvider(url, fetcher=HTTPFetcher(allow_http=True))
    provider.attach(stack.sp)
    old_key = idp.key
    assert stack.sp.idps[idp.entity_id].metadata.signing_certificates == (old_key.certificate,)

    first = chromium()  # type: ignore[operator]
    _login(first, stack, "grace@example.org")
    assert _wait_for(first, "#name-id").text == "grace@example.org"  # type: ignore[attr-defined]

    # The IdP rotates: new key, metadata lists only the new certificate; the app is not restarted.
    idp.key = default_key("rsa", "rotated-idp")
    published.body = idp.metadata_xml()
    assert provider.refresh_now()
    assert stack.sp.idps[idp.entity_id].metadata.signing_certificates == (idp.key.certificate,)

    second = chromium()  # type: ignore[operator]
    _login(second, stack, "ada@example.org")
    assert _wait_for(second, "#name-id").text == "ada@example.org"  # type: ignore[attr-defined]

    # A Response signed with the old key after the rotation: refused by the running app.
    idp.key = old_key
    third = chromium()  # type: ignore[operator]
    _login(third, stack, "grace@example.org")
    code = _wait_for(third, "#error-code").text  # type: ignore[attr-defined]
    assert code == "untrusted-certificate"
