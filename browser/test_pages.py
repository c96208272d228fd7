"""Every page of the dashboard, signed in and signed out, at desktop and at phone width: none logs a
console error, throws, or has a request fail; none scrolls sideways on a 390 px wide phone. Each
page's screenshot goes to .data/browser/screenshots/{desktop,phone}/ for a person to look at.

The pages are found as a person finds them, by following the dashboard's links from its home page
(one page per URL pattern), over an account with history (`manage.py seed_demo`), so a page added
later is checked without a change here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from analytics.seed import SEED_PASSWORD
from browser.pages import PageProblems, crawl, log_in, page_name

ROOT = Path(__file__).resolve().parent.parent
SCAN_EMAIL = "scan@example.com"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# Pages a visitor must reach whatever the links say; the not-found page answers 404 on purpose.
SIGNED_OUT_START = ["/", "/accounts/login/", "/accounts/signup/", "/no-such-page/"]
MUST_HAVE = {
    "signed in": [
        "/", "/workflows/", "/workflows/new/", "/workflows/<id>/", "/workflows/<id>/edit/", "/jobs/<id>/",
        "/notifications/", "/analytics/", "/accounts/settings/",
    ],
    "signed out": ["/accounts/login/", "/accounts/signup/", "/no-such-page/"],
}  # fmt: skip


@pytest.fixture(scope="package")
def scan_account(platform, browser: Browser) -> dict:
    """An account with a month of history (workflows of every kind, jobs, logs, rollups), signed in:
    its cookies, as Playwright's storage state for new contexts."""
    seeded = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--email", SCAN_EMAIL, "--workflows", "8", "--jobs", "400",
         "--logs", "4000"],
        cwd=ROOT, env=platform.env, capture_output=True, text=True,
    )  # fmt: skip
    assert seeded.returncode == 0, f"seed_demo failed: {seeded.stderr[-2000:]}"
    context = browser.new_context(base_url=platform.url)
    log_in(context.new_page(), SCAN_EMAIL, SEED_PASSWORD)
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture(scope="package")
def site(platform, browser: Browser, scan_account) -> dict[str, dict[str, str]]:
    """{"signed in": {pattern: path}, "signed out": {...}}: the pages found by following links."""
    found = {}
    for who, state, start in (("signed in", scan_account, ["/"]), ("signed out", None, SIGNED_OUT_START)):
        context = browser.new_context(base_url=platform.url, storage_state=state)
        found[who] = crawl(context.new_page(), start)
        context.close()
        missing = [pattern for pattern in MUST_HAVE[who] if pattern not in found[who]]
        assert not missing, f"no link leads {who} to {missing}; found {sorted(found[who])}"
    return found


def _visit_all(browser: Browser, platform, state, pages: dict[str, str], size: dict, folder, prefix: str):
    """Open each page in a fresh tab; yields (pattern, page, problems) once it has settled."""
    context = browser.new_context(base_url=platform.url, storage_state=state, **size)
    try:
        for pattern, path in sorted(pages.items()):
            page = context.new_page()
            watch = PageProblems(page)
            if pattern == "/no-such-page/":
                watch.expected_statuses[platform.url + path] = 404
            page.goto(path)
            watch.settle()
            page.screenshot(path=folder / f"{prefix}{page_name(pattern)}.png", full_page=True)
            yield pattern, page, watch
            watch.stop()
            page.close()
    finally:
        context.close()


@pytest.mark.parametrize("who", ["signed in", "signed out"])
def test_no_page_logs_an_error_or_fails_a_request(who, browser, platform, scan_account, site, artifacts):
    state = scan_account if who == "signed in" else None
    prefix = "" if who == "signed in" else "signed-out-"
    problems = []
    for pattern, _page, watch in _visit_all(
        browser, platform, state, site[who], DESKTOP, artifacts / "screenshots" / "desktop", prefix
    ):
        problems += [f"{pattern}: {problem}" for problem in watch.problems]
    assert not problems, f"{len(problems)} problems on {len(site[who])} pages:\n" + "\n".join(problems)


@pytest.mark.parametrize("who", ["signed in", "signed out"])
def test_every_page_fits_a_phone_without_scrolling_sideways(who, browser, platform, scan_account, site, artifacts):
    state = scan_account if who == "signed in" else None
    prefix = "" if who == "signed in" else "signed-out-"
    too_wide, problems = [], []
    for pattern, page, watch in _visit_all(
        browser, platform, state, site[who], PHONE, artifacts / "screenshots" / "phone", prefix
    ):
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide.append(f"{pattern}: {width} px wide")
        problems += [f"{pattern}: {problem}" for problem in watch.problems]
    assert not too_wide, f"{len(too_wide)} of {len(site[who])} pages scroll sideways at 390 px:\n" + "\n".join(too_wide)
    assert not problems, "at phone width:\n" + "\n".join(problems)
