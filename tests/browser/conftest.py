"""Browser-test fixtures: the demo stack (app on 127.0.0.1, test IdPs on localhost: two sites) and fresh
headless Chromium profiles (Debian's chromium + chromium-driver via Selenium; never a downloaded browser).
Missing Chromium: skipped locally, failed in CI."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from examples.flask_app.stack import Stack, build_stack
from tests.conftest import require

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = build_stack(tmp_path_factory.mktemp("demo"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


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
