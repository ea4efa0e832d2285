"""Browser-test fixtures: the demo stacks (app on 127.0.0.1, test IdPs on localhost: two sites; ``stack`` is
the Flask example, ``fastapi_stack`` the FastAPI one under uvicorn, ``django_stack`` the Django one under Werkzeug,
``app_stack`` each in turn) and fresh
headless Chromium profiles (Debian's chromium + chromium-driver via Selenium; never a downloaded browser).
Missing Chromium: skipped locally, failed in CI."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from examples.flask_app.stack import Stack, build_stack
from tests.conftest import require

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


def _running(built: Stack) -> Iterator[Stack]:
    """Start a built stack, yield it, stop it (its servers bind 127.0.0.1 only)."""
    built.start()
    try:
        yield built
    finally:
        built.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _running(build_stack(tmp_path_factory.mktemp("demo")))


@pytest.fixture(scope="module")
def fastapi_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """examples/fastapi_app under uvicorn on 127.0.0.1, the same two test IdPs on localhost."""
    require(importlib.util.find_spec("fastapi") is not None, "fastapi (the starlette extra)")
    require(importlib.util.find_spec("uvicorn") is not None, "uvicorn (the starlette extra)")
    from examples.fastapi_app.stack import build_stack as build_fastapi_stack

    yield from _running(build_fastapi_stack(tmp_path_factory.mktemp("fastapi-demo")))


@pytest.fixture(scope="module")
def django_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """examples/django_app (its settings module) under Werkzeug on 127.0.0.1, the same two test IdPs on
    localhost. Django's settings are per process: skipped where other settings are already configured (a run
    that also collected tests/integration/django); run tests/browser on its own for the Django flows."""
    require(importlib.util.find_spec("django") is not None, "django (the django extra)")
    from examples.django_app.stack import build_stack as build_django_stack

    try:
        built = build_django_stack(tmp_path_factory.mktemp("django-demo"))
    except RuntimeError as exc:
        pytest.skip(f"Django example: {exc}; run tests/browser on its own")
    yield from _running(built)


# Django's settings are per process and tests/integration/django configures its own, so the Django example's
# flows carry the marker ``django_browser``: `make test` deselects them from the main run and runs them in a
# second pytest process of their own (never a skip).
@pytest.fixture(params=["flask", "fastapi", pytest.param("django", marks=pytest.mark.django_browser)])
def app_stack(request: pytest.FixtureRequest) -> Stack:
    """The example app of each framework (same pages, same IdPs): for the flows that are the same in both."""
    fixture = "stack" if request.param == "flask" else f"{request.param}_stack"
    running: Stack = request.getfixturevalue(fixture)
    return running


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``chromium(javascript=True)``: a new browser with its own fresh profile (cookie jar), quit at teardown."""
    require(CHROMIUM is not None, "Debian's chromium (apt-get install chromium)")
    require(CHROMEDRIVER is not None, "Debian's chromedriver (apt-get install chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []

    def launch(*, javascript: bool = True) -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM or ""
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"):
            options.add_argument(arg)
        options.add_argument(f"--user-data-dir={tmp_path / f'profile-{len(drivers)}'}")
        if not javascript:
            options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        # An explicit driver path: Selenium Manager never downloads a browser or driver.
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER or ""), options=options)
        driver.set_page_load_timeout(20)
        drivers.append(driver)
        return driver

    try:
        yield launch
    finally:
        for driver in drivers:
            driver.quit()


@pytest.fixture
def browser(chromium: Callable[..., Any]) -> Any:
    """One fresh headless Chromium."""
    return chromium()
