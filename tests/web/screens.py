"""Pages in a real browser at an office screen's width and a phone's, for every
browser test module: Debian's chromium (headless, driven by Playwright), one
browser per test module.

The ``browser`` fixture is imported by ``tests/web/conftest.py``, so every
module under ``tests/web`` has it::

    from tests.web.screens import Viewer, password_sign_in, serve

    def test_pages(browser: Browser) -> None:
        with serve(settings, as_of="2016-01-20T10:00") as base:
            viewer = Viewer.open(browser, base, sign_in=password_sign_in("dcs", PASSWORD))
            # both widths, both screenshots, no sideways scrolling on the phone:
            viewer.look("/dashboard", "supervisor-dashboard")

- :func:`browser` (fixture, module scope): the chromium of this module; skips the
  module (with the reason) when /usr/bin/chromium is missing outside CI, fails in CI.
- :class:`Viewer`: one person with two browser windows, a desktop at
  :data:`DESKTOP` (1280 px) and a phone at :data:`PHONE` (390 px), signed in alike.
  :meth:`Viewer.look` opens a page in both, saves ``<name>-1280.png`` and
  ``<name>-390.png`` under ``test-artifacts/screenshots/`` and asserts that the
  phone's page does not scroll sideways (:func:`assert_fits`).
- :func:`serve`: ``duban serve`` as a subprocess on a free loopback port, waited for
  until ``/healthz`` answers; yields the base URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from duban.config import Settings
from duban.ops.mail_sink import free_port
from tests.paths import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def require_chromium() -> None:
    """Skip (outside CI) or fail (in CI) when Debian's chromium is missing."""
    if CHROMIUM.exists():
        return
    reason = (
        "browser tests need Debian's chromium at /usr/bin/chromium "
        "(apt-get install chromium; .ci/run installs it)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the whole test module."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot ``test-artifacts/screenshots/<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Elements whose right edge lies beyond the viewport, widest first, to name the
# culprit in a failure (an element inside a scrolling wrapper is not a culprit).
_OVERFLOW_SCRIPT = """
() => {
  const width = window.innerWidth;
  const doc = document.documentElement.scrollWidth;
  const culprits = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 0.5 || box.width === 0) continue;
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (style.overflowX !== 'visible') { clipped = true; break; }
    }
    if (clipped) continue;
    const id = el.id ? '#' + el.id : '';
    const cls = el.className && typeof el.className === 'string'
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    culprits.push([Math.round(box.right), el.tagName.toLowerCase() + id + cls,
                   (el.textContent || '').trim().slice(0, 30)]);
  }
  culprits.sort((a, b) => b[0] - a[0]);
  return {width, doc, culprits: culprits.slice(0, 5)};
}
"""


def assert_fits(page: Page, name: str = "") -> None:
    """The page does not scroll sideways: the document is no wider than the
    viewport (a table may scroll inside its own wrapper)."""
    found: dict[str, Any] = page.evaluate(_OVERFLOW_SCRIPT)
    assert found["doc"] <= found["width"], (
        f"{name or page.url}: page is {found['doc']} px wide on a {found['width']} px screen; "
        f"widest elements (right edge, element, text): {found['culprits']}"
    )


@dataclass
class Viewer:
    """One person with a desktop window and a phone window, signed in alike."""

    base: str
    desktop: Page
    phone: Page

    @classmethod
    def open(
        cls, browser: Browser, base: str, *, sign_in: Callable[[Page, str], None] | None = None
    ) -> Viewer:
        """Two fresh browser contexts (their own cookies); ``sign_in(page, base)``
        runs in each when given."""
        pages = []
        for size in (DESKTOP, PHONE):
            context = browser.new_context(viewport=size)  # type: ignore[arg-type]
            page = context.new_page()
            if sign_in is not None:
                sign_in(page, base)
            pages.append(page)
        return cls(base, pages[0], pages[1])

    @property
    def pages(self) -> tuple[Page, Page]:
        return (self.desktop, self.phone)

    def look(self, path: str, name: str) -> tuple[Page, Page]:
        """Open ``path`` (relative to the base, or a full URL) at both widths,
        save both screenshots and check the phone's page fits its screen."""
        url = path if "://" in path else f"{self.base}{path}"
        for page in self.pages:
            response = page.goto(url)
            assert response is not None and response.ok, f"{url}: {response and response.status}"
        self.snap(name)
        return self.pages

    def snap(self, name: str) -> None:
        """Screenshots of both windows as they are now, and the phone fit check."""
        shot(self.desktop, f"{name}-{DESKTOP['width']}")
        shot(self.phone, f"{name}-{PHONE['width']}")
        assert_fits(self.phone, name)

    def close(self) -> None:
        for page in self.pages:
            page.context.close()


def password_sign_in(username: str, password: str) -> Callable[[Page, str], None]:
    """A ``sign_in`` for :meth:`Viewer.open`: the login form, then wait to leave it."""

    def sign_in(page: Page, base: str) -> None:
        page.goto(f"{base}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)

    return sign_in


@contextmanager
def serve(
    settings: Settings,
    *,
    as_of: str,
    port: int | None = None,
    extra: tuple[str, ...] = ("--no-scheduler",),
) -> Iterator[str]:
    """``duban serve`` on ``settings`` (database, data dir, secret key, base URL)
    at ``port`` (default: a free one) on 127.0.0.1 with its clock at ``as_of``;
    yields the base URL once ``/healthz`` answers, stops the server afterwards.
    Pick the port first (:func:`duban.ops.mail_sink.free_port`) when messages sent
    before serving must link to it."""
    port = port or free_port()
    env = {
        **os.environ,
        "DUBAN_DATA_DIR": str(settings.data_dir),
        "DUBAN_DATABASE_URL": settings.database_url,
        "DUBAN_SECRET_KEY": settings.secret_key or "",
        "DUBAN_BASE_URL": settings.base_url or f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from duban.cli import main; main()", "serve",
         "--host", "127.0.0.1", "--port", str(port), "--as-of", as_of, *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"duban serve did not start:\n{output}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
