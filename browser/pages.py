"""What a person does on each page of the dashboard, one small function per action.

Every selector of the browser tests lives here, so a change of markup is mended in one place.
Selectors prefer what a person reads (roles, labels, button names) to classes and ids. Helpers
that follow a page which other work is still changing (the guided workflow form, live updates,
log search, the bell's dropdown) say what they expect a person to see: they fail until the page
does it.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Dialog, Locator, Page, Request, Response, expect

PASSWORD = "browser-test-password-1"
# A label's accessible name holds its help text ("Password 8 to 128 characters.").
PASSWORD_INPUT = re.compile(r"^Password(?! again)")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# Timeouts of the auto-waiting expect()s, in milliseconds. None of these tests sleeps.
SLOW = 60_000  # what the platform does: a build, a container job, a chained run (2 busy cores)
LIVE = 10_000  # a page showing, without a reload, what the platform has already done
QUICK = 5_000  # something on the page a person has just loaded or clicked


# -- health of a page --------------------------------------------------------------------------


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions, failed requests and HTTP errors seen by one page."""

    page: Page
    problems: list[str] = field(default_factory=list)
    # A 404 that is the point of the page (the not-found page itself) is not a problem.
    expected_statuses: dict[str, int] = field(default_factory=dict)
    _closing: bool = False

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught exception: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs a failed resource as a console error too: its response is reported instead.
        if message.type == "error" and not self._closing and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _failed(self, request: Request) -> None:
        # Leaving a page aborts what it still had in flight (a fetch, the live socket): that is normal.
        if not self._closing and request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and self.expected_statuses.get(response.url) != response.status:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def settle(self) -> None:
        """Wait until the page has loaded and its scripts' first requests are answered."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_load_state("networkidle")

    def stop(self) -> list[str]:
        self._closing = True
        return self.problems


# -- soft steps --------------------------------------------------------------------------------


@dataclass
class Steps:
    """The steps of a long flow. A step that fails is recorded, then mended (e.g. by reloading the
    page a live update should have changed) so the steps after it still run; `check()` fails the
    test with every failed step at once."""

    failures: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    @contextmanager
    def step(self, name: str, *, recover: Callable[[], object] | None = None) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        except AssertionError as error:  # Playwright's expect() and its timeouts raise AssertionError
            self.failures.append(f"{name}: {_first_line(error)}")
            if recover is None:
                raise
            recover()
        except Exception as error:
            # A selector that matches nothing raises a TimeoutError: the page lacks what the step needs.
            self.failures.append(f"{name}: {type(error).__name__}: {_first_line(error)}")
            if recover is None:
                raise
            recover()
        else:
            self.passed.append(f"{name} ({time.monotonic() - started:.1f} s)")

    def check(self) -> None:
        assert not self.failures, "steps that failed:\n- " + "\n- ".join(self.failures)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or traceback.format_exception_only(type(error), error)[-1].strip()
    return " ".join(text.splitlines()[:6])[:600]


def poll_by_reloading(page: Page, locator: Locator, *, timeout: float = SLOW / 1000) -> None:
    """Mend a failed live update: reload until `locator` shows (the platform did its part)."""
    deadline = time.monotonic() + timeout
    while True:
        page.reload()
        try:
            expect(locator).to_be_visible(timeout=2_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def mark_not_reloaded(page: Page) -> None:
    """A marker in the page's window: gone after any reload or navigation."""
    page.evaluate("window.__chronoverseBrowserTest = true")


def was_not_reloaded(page: Page) -> bool:
    return page.evaluate("window.__chronoverseBrowserTest === true")


class Confirmations:
    """Accepts the browser's confirm() dialogs of a page and remembers what they asked."""

    def __init__(self, page: Page):
        self.asked: list[str] = []
        page.on("dialog", self._accept)

    def _accept(self, dialog: Dialog) -> None:
        self.asked.append(dialog.message)
        dialog.accept()


def confirm_in_page(page: Page) -> bool:
    """An in-page confirmation (a <dialog> or role=dialog) that may follow a dangerous button:
    press its confirming button. Returns whether there was one (confirm() is Confirmations')."""
    dialog = page.locator("dialog[open], [role=dialog]:visible, [role=alertdialog]:visible").first
    try:
        dialog.wait_for(state="visible", timeout=1_500)
    except Exception:
        return False
    dialog.get_by_role("button", name=re.compile(r"^(yes|ok|confirm|delete|terminate|revoke)", re.I)).first.click()
    return True


# -- accounts ----------------------------------------------------------------------------------


def sign_up(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/signup/")
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name=PASSWORD_INPUT).fill(password)
    page.get_by_role("textbox", name="Password again").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect_signed_in(page, email)


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name=PASSWORD_INPUT).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect_signed_in(page, email)


def expect_signed_in(page: Page, email: str) -> None:
    expect(page).not_to_have_url(re.compile(r"/accounts/(login|signup)/"))
    expect(page.get_by_text(email).first).to_be_attached()


# -- workflows: the form -----------------------------------------------------------------------


def open_new_workflow_form(page: Page) -> None:
    page.goto("/workflows/")
    page.get_by_role("link", name="New workflow").first.click()
    expect(page.get_by_role("heading", name="New workflow")).to_be_visible()


def _has(locator: Locator) -> bool:
    return locator.count() > 0


def fill_name(page: Page, name: str) -> None:
    page.get_by_role("textbox", name="Name", exact=True).fill(name)


def choose_kind(page: Page, kind: str) -> None:
    page.get_by_role("combobox", name="Kind", exact=True).select_option(kind)


def guided_form(page: Page) -> bool:
    """Whether the form has guided fields per kind (a Dockerfile editor) rather than only JSON."""
    return _has(page.get_by_role("textbox", name="Dockerfile", exact=True)) or _has(
        page.get_by_role("radio", name=re.compile(r"dockerfile", re.I))
    )


def fill_container_from_dockerfile(page: Page, dockerfile: str) -> None:
    """A CONTAINER built from a Dockerfile, typed in the guided form's Dockerfile editor."""
    source = page.get_by_role("radio", name=re.compile(r"dockerfile", re.I))
    if _has(source):
        source.check()
    editor = page.get_by_role("textbox", name="Dockerfile", exact=True)
    expect(editor).to_be_visible(timeout=QUICK)
    editor.fill(dockerfile)


def fill_payload_json(page: Page, payload: dict) -> None:
    """The raw JSON payload (a power user's view of the guided form; the only way before it)."""
    as_json = page.get_by_role("radio", name="JSON", exact=True)
    if _has(as_json):
        as_json.check()
    page.get_by_role("textbox", name=re.compile(r"^Payload")).fill(json.dumps(payload))


def fill_container_from_image(page: Page, image: str, command: list[str]) -> None:
    if not guided_form(page):
        fill_payload_json(page, {"image": image, "command": command})
        return
    page.get_by_role("radio", name=re.compile(r"image", re.I)).check()
    page.get_by_role("textbox", name="Image", exact=True).fill(image)
    # A list editor: one row per item, one more with its "Add" button.
    for n, item in enumerate(command, start=1):
        row = page.get_by_role("textbox", name=re.compile(rf"command item {n}$"))
        if not _has(row):
            page.get_by_role("button", name=re.compile(r"^Add command", re.I)).click()
        row.fill(item)


def select_matching(select: Locator, pattern: str) -> None:
    """Choose the first option whose text matches `pattern` (a regular expression, any case)."""
    options = select.locator("option").all_text_contents()
    chosen = next((text for text in options if re.search(pattern, text, re.I)), None)
    assert chosen is not None, f"no choice matching {pattern!r} among {options}"
    select.select_option(label=chosen)


def _runs(page: Page) -> Locator:
    return page.get_by_role("combobox", name="Runs", exact=True)


def choose_cron(page: Page, expression: str) -> None:
    _runs(page).select_option(label="Cron expression")
    page.get_by_role("textbox", name=re.compile(r"^(Cron expression|Schedule)")).first.fill(expression)


def choose_after(page: Page, upstream_name: str, on: str = "complete") -> None:
    """Chained after another workflow, picked by name in the form (not typed as an id)."""
    select_matching(_runs(page), r"after")
    select_matching(page.get_by_role("combobox", name=re.compile(r"^(After|Upstream)")), re.escape(upstream_name))
    when = page.get_by_role("combobox", name=re.compile(r"^Runs each time"))
    if _has(when):
        select_matching(when, on)


def choose_after_as_json(page: Page, upstream_id: str, on: str = "COMPLETED") -> None:
    """A form without an "after" timing (before the guided form): the schedule object as JSON."""
    _runs(page).select_option(label="Recurrence object (JSON)")
    page.get_by_role("textbox", name=re.compile(r"^Schedule")).fill(json.dumps({"after": upstream_id, "on": on}))


def submit_new_workflow(page: Page, name: str) -> str:
    """Create; lands on the new workflow's page. Returns its id."""
    page.get_by_role("button", name="Create workflow").click()
    expect(page).to_have_url(re.compile(rf"/workflows/{UUID}/$"), timeout=QUICK)
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    return workflow_id(page)


def workflow_id(page: Page) -> str:
    match = re.search(rf"/workflows/({UUID})/", page.url)
    assert match, f"not a workflow page: {page.url}"
    return match.group(1)


# -- workflows: the page -----------------------------------------------------------------------


def open_workflow(page: Page, workflow: str) -> None:
    page.goto(f"/workflows/{workflow}/")


def build_card(page: Page) -> Locator:
    """The section about the image build (CONTAINER): its latest build's status and output."""
    return page.locator("section", has=page.get_by_role("heading", name=re.compile(r"^(image )?build\b", re.I)))


def build_badge(page: Page) -> Locator:
    """The workflow's build status beside its name ("Build queued", "Building…", "Build completed"),
    apart from its state badge."""
    return page.locator("#workflow-badges [data-badge=build]").or_(build_card(page).locator(".badge")).first


def build_output(page: Page) -> Locator:
    return page.locator("#build-output").or_(build_card(page).locator("pre").last).first


def run_now(page: Page) -> str:
    """Run now; the job's page opens. Returns the job's id."""
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{UUID}/$"), timeout=QUICK)
    return re.search(rf"/jobs/({UUID})/", page.url).group(1)  # type: ignore[union-attr]


def workflow_head(page: Page) -> Locator:
    """The top of a workflow's page: its name, its state and build badges, its buttons."""
    return page.locator(".page-head").first


def pause(page: Page) -> None:
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.get_by_role("button", name="Resume", exact=True)).to_be_visible(timeout=QUICK)
    expect(workflow_head(page)).to_contain_text(re.compile(r"paused", re.I))


def resume(page: Page) -> None:
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible(timeout=QUICK)


def jobs_table(page: Page) -> Locator:
    return page.locator("section", has=page.get_by_role("heading", name=re.compile(r"jobs|runs", re.I))).locator(
        "table"
    )


def completed_job_row(page: Page) -> Locator:
    return jobs_table(page).locator("tbody tr", has=page.locator(".badge.job-completed")).first


def terminate(page: Page) -> bool:
    """Terminate; returns whether an in-page confirmation was answered (confirm() is Confirmations')."""
    page.get_by_role("button", name="Terminate", exact=True).click()
    asked = confirm_in_page(page)
    expect(page.get_by_role("button", name="Run now")).to_have_count(0, timeout=QUICK)
    return asked


def delete_workflow(page: Page) -> None:
    page.get_by_role("button", name="Delete", exact=True).click()
    confirm_in_page(page)
    expect(page).to_have_url(re.compile(r"/workflows/$"), timeout=QUICK)


# -- workflows: the list -----------------------------------------------------------------------


def open_workflow_list(page: Page) -> None:
    page.goto("/workflows/")
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()


def workflow_row(page: Page, name: str) -> Locator:
    return page.locator("table tbody tr", has=page.get_by_role("link", name=name, exact=True))


def last_run_completed(row: Locator) -> Locator:
    """The list's last-run status of a workflow (job statuses wear `job-<status>` badges)."""
    return row.locator(".badge.job-completed").first


# -- jobs --------------------------------------------------------------------------------------


def job_log(page: Page) -> Locator:
    return page.locator("#job-log")


def job_status(page: Page) -> Locator:
    return page.locator("#job-status")


def search_log(page: Page, text: str) -> Locator:
    """Type in the job page's log search; returns the highlighted matches."""
    box = page.get_by_role("searchbox").first
    box.fill(text, timeout=QUICK)
    box.press("Enter")
    return page.locator("mark").filter(has_text=re.compile(re.escape(text), re.I))


# -- notifications -----------------------------------------------------------------------------


def bell(page: Page) -> Locator:
    return (
        page.get_by_role("link", name=re.compile(r"^Notifications"))
        .or_(page.get_by_role("button", name=re.compile(r"^Notifications")))
        .first
    )


def unread_count(page: Page) -> int:
    text = page.locator("#unread-count").text_content() or "0"
    return int(re.sub(r"\D", "", text) or 0)


def open_bell(page: Page) -> Locator:
    """Click the bell: a dropdown with the latest notifications opens on the same page."""
    url = page.url
    bell(page).click()
    menu = page.locator("#bell-menu, [role=menu], .bell-menu").filter(visible=True).first
    expect(menu).to_be_visible(timeout=QUICK)
    assert page.url == url, f"the bell navigated to {page.url} instead of opening a dropdown"
    return menu


# -- analytics ---------------------------------------------------------------------------------


def charts(page: Page) -> Locator:
    return page.get_by_role("img", name=re.compile(r"jobs", re.I))


# -- settings: API tokens ----------------------------------------------------------------------


def tokens_card(page: Page) -> Locator:
    return page.locator("section", has=page.get_by_role("heading", name="API tokens"))


def create_token(page: Page, name: str) -> str:
    """Create a token on the settings page; returns its secret, shown once."""
    page.goto("/accounts/settings/")
    card = tokens_card(page)
    card.get_by_role("textbox", name="Name", exact=True).fill(name)
    card.get_by_role("button", name="Create token").click()
    secret = tokens_card(page).locator("#new-token, code").first
    expect(secret).to_be_visible(timeout=QUICK)
    return (secret.text_content() or "").strip()


def copy_new_token(page: Page) -> str:
    """The copy button beside a new token; returns what the clipboard then holds."""
    tokens_card(page).get_by_role("button", name=re.compile(r"copy", re.I)).first.click(timeout=QUICK)
    return page.evaluate("navigator.clipboard.readText()")


def token_row(page: Page, name: str) -> Locator:
    return tokens_card(page).locator("tbody tr", has=page.get_by_role("cell", name=name, exact=True))


def revoke_token(page: Page, name: str) -> None:
    token_row(page, name).get_by_role("button", name="Revoke").click()
    confirm_in_page(page)
    expect(token_row(page, name)).to_contain_text(re.compile(r"revoked", re.I), timeout=QUICK)


# -- the site's pages --------------------------------------------------------------------------

# Not pages of the dashboard: the API (JSON, and Swagger UI's own page), the admin (staff only),
# machine endpoints, static files, and what a link only downloads.
_NOT_PAGES = re.compile(r"^/(api|admin|static|ping|healthz|readyz|metrics)(/|$)|/logout/?$")
_LINK = re.compile(r"<a\s[^>]*?href=\"([^\"#]*)\"[^>]*>", re.I)


def page_pattern(path: str) -> str:
    """One page per pattern: /workflows/<id>/ stands for every workflow's page."""
    return re.sub(UUID, "<id>", path.split("?")[0])


def page_name(pattern: str) -> str:
    """A file name for a page's screenshot: /workflows/<id>/edit/ -> workflows-id-edit."""
    return re.sub(r"[^a-z0-9]+", "-", pattern.lower()).strip("-") or "home"


def crawl(page: Page, start: list[str], *, limit: int = 40) -> dict[str, str]:
    """Every page reachable by links from `start`, one per pattern: {pattern: path}. Read over HTTP
    with the page's cookies (the links of the dashboard are in its HTML)."""
    found: dict[str, str] = {}
    queue = list(start)
    while queue and len(found) < limit:
        path = queue.pop(0)
        pattern = page_pattern(path)
        if pattern in found or _NOT_PAGES.search(path):
            continue
        response = page.request.get(path)
        landed = urlsplit(response.url)
        if page_pattern(landed.path) != pattern:
            # A redirect (a signed-out visitor sent to log in): the page it lands on counts instead.
            queue.append(landed.path + (f"?{landed.query}" if landed.query else ""))
            continue
        found[pattern] = path
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for tag in _LINK.finditer(response.text()):
            href = tag.group(1).replace("&amp;", "&")
            if " download" in tag.group(0) or not href.startswith("/") or href.startswith("//"):
                continue
            queue.append(href)
    return found
