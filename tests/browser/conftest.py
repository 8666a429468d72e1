"""A real browser on the live stack: the system's Chromium, driven by Playwright for Python.

The browser is the Debian package (``/usr/bin/chromium``; ``.ci/run`` installs it); these
tests never download one (no ``playwright install``) and skip, saying why, where it is
absent. The API runs under gunicorn exactly as in production, with the session's workers.
Screenshots of every page land in ``tests/artifacts/`` (git-ignored) for a reviewer.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.web import gunicorn_server as gunicorn

CHROMIUM = os.environ.get("JOBLINE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install the Debian package `chromium` "
                    "(apt-get install -y chromium) to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the [test] extra)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live(settings, engine, tmp_path_factory):
    """The API's base URL, served by gunicorn on a loopback port."""
    with gunicorn(settings, tmp_path_factory.mktemp("web") / "gunicorn.log") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def open_page(chromium):
    """``open_page(viewport)``: a fresh browser context (its own cookies) and page."""
    contexts = []

    def make(viewport=DESKTOP):
        context = chromium.new_context(viewport=viewport)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for c in contexts:
        c.close()


def shoot(page, name: str) -> Path:
    """Save a full-page screenshot as ``tests/artifacts/console-<name>-<W>x<H>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    path = ARTIFACTS / f"console-{name}-{size['width']}x{size['height']}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
