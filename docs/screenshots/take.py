"""The README's screenshots: the three roles' pages on the demo data, in chromium.

Run after ``./run demo --no-serve`` (or ``duban demo --no-serve``) with the same
``DUBAN_DATA_DIR``; it serves the pages on a free port with the demo's clock,
signs in with the demo accounts (their passwords are in the data directory)
and saves PNGs beside this file, at 1280 px (desktop) and 390 px (phone)::

    .venv/bin/python docs/screenshots/take.py

Uses Debian's chromium (/usr/bin/chromium) through Playwright, like the
browser tests; nothing is downloaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the checkout: tests.web.screens

from duban.config import get_settings  # noqa: E402
from duban.ops.mail_sink import free_port  # noqa: E402
from tests.web.screens import (  # noqa: E402
    CHROMIUM,
    LAUNCH_ARGS,
    assert_fits,
    password_sign_in,
    serve,
)

AS_OF = "2016-01-29T10:00"
SIZES = {"1280": {"width": 1280, "height": 800}, "390": {"width": 390, "height": 844}}
# The top of each page: as much as a reader takes in (a whole queue is metres long).
HEIGHT = {"1280": 1400, "390": 1800}
# (role, account, [(name, path)]); a path "{link}" is the department's link,
# "{returned}" its first returned task, "{red-measure}" the dashboard's first red measure.
PAGES = [
    ("coordinator", "dbk", [("desk", "/desk"), ("documents", "/documents")]),
    ("supervisor", "dcs", [("dashboard", "/dashboard"), ("measure", "{red-measure}"),
                           ("escalations", "/dashboard/escalations"),
                           ("scorecard", "/dashboard/scorecard"),
                           ("unit", "/dashboard/units?name=珠海市民政局")]),
    ("department", None, [("home", "{link}"), ("returned", "{returned}")]),
]


def main() -> int:
    from playwright.sync_api import sync_playwright

    settings = get_settings()
    data = settings.data_dir
    passwords = {name: (data / f"demo-{name}.password").read_text().strip()
                 for name in ("dbk", "dcs")}
    port = free_port()
    with serve(settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"}),
               as_of=AS_OF, port=port) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        link = _department_link(settings, base)
        for role, account, pages in PAGES:
            for size, viewport in SIZES.items():
                context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
                page = context.new_page()
                if account:
                    password_sign_in(account, passwords[account])(page, base)
                for name, path in pages:
                    if path == "{red-measure}":
                        page.goto(f"{base}/dashboard?light=red")
                        path = str(page.locator("td.m-title a").first.get_attribute("href"))
                    if path == "{returned}":
                        page.goto(link)
                        returned = page.locator("li.task-row.returned a").first
                        if not returned.count():
                            continue
                        path = str(returned.get_attribute("href"))
                    url = link if path == "{link}" else path
                    if not url.startswith("http"):
                        url = f"{base}{url}"
                    page.goto(url)
                    out = HERE / f"{role}-{name}-{size}.png"
                    height = min(HEIGHT[size], page.evaluate(
                        "document.documentElement.scrollHeight"))
                    page.screenshot(path=str(out), full_page=True, clip={
                        "x": 0, "y": 0, "width": viewport["width"], "height": height})
                    if size == "390":
                        assert_fits(page, out.name)
                    print(f"{out.relative_to(HERE.parent.parent)}")
                context.close()
        browser.close()
    return 0


def _department_link(settings: object, base: str) -> str:
    """The demo department's link as the demo printed it, on this server."""
    from datetime import UTC, datetime

    from duban.services.accounts.links import LinkSigner, department_link
    from duban.services.tasks.queries import find_department
    from duban.wiring import AppContext

    context = AppContext(settings)  # type: ignore[arg-type]
    with context.session_factory() as session:
        department = find_department("市民政局", session=session)
    return department_link(department.id, base_url=base,
                           now=datetime(2016, 1, 29, 1, tzinfo=UTC),
                           session_factory=context.session_factory,
                           signer=LinkSigner.from_settings(context.settings))


if __name__ == "__main__":
    sys.exit(main())
