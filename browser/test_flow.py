"""A new user's whole day with a CONTAINER workflow, in a real browser on a real platform (issue 16):
sign up → create a CONTAINER workflow from a Dockerfile → watch the build complete live → run it
manually → see its log lines appear live → search the log → see JOB_COMPLETED arrive in the bell
and the workflow list update without reloading → pause and resume → chain a second workflow after
it and see it run → look at the analytics charts → create and revoke a token → terminate and
delete.

Each step is a soft step (browser.pages.Steps): one that fails is recorded and mended so the others
still run, and the test then fails listing every failed step. Screenshots of the flow go to
.data/browser/screenshots/flow/.
"""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import BrowserContext, Page, expect

from browser import pages
from browser.pages import LIVE, QUICK, SLOW, Steps

# The build takes a few seconds (so the page is seen before it ends); the job prints a line, waits,
# prints the line the search looks for, waits, and ends: long enough to watch it live.
MARKER = uuid.uuid4().hex[:12]
DOCKERFILE = f"""FROM chronoverse/busybox:latest
RUN echo "preparing the image" && sleep 3 && echo "image ready {MARKER}" > /ready.txt && cat /ready.txt
CMD ["sh", "-c", "echo 'job starts'; sleep 3; echo 'needle in the log'; cat /ready.txt; sleep 1; echo 'job ends'"]
"""
NEVER_SOON = "0 0 1 1 *"  # a cron schedule that does not fire during the test: runs are manual


def api_get(page: Page, path: str) -> dict:
    """The platform's API with the page's session (for waiting on the platform, not for acting)."""
    response = page.request.get(path)
    assert response.ok, f"GET {path}: {response.status}"
    return response.json()


def wait_for_api(page: Page, path: str, condition, *, timeout: float = SLOW / 1000):
    """Poll the API until `condition(body)` holds: the platform has done its part, so a page that
    fails to show it afterwards is the page's fault, found without waiting out a long timeout."""
    deadline = time.monotonic() + timeout
    while True:
        body = api_get(page, path)
        if condition(body):
            return body
        assert time.monotonic() < deadline, f"GET {path} never satisfied the condition; last: {body}"
        page.wait_for_timeout(250)


def jobs_of(page: Page, workflow: str) -> list[dict]:
    return api_get(page, f"/api/v1/workflows/{workflow}/jobs")["jobs"]


def test_a_new_user_runs_a_container_workflow_from_sign_up_to_delete(context: BrowserContext, page: Page, artifacts):
    shots = artifacts / "screenshots" / "flow"
    shot_count = iter(range(1, 100))

    def shoot(target: Page, name: str) -> None:
        target.screenshot(path=shots / f"{next(shot_count):02d}-{name}.png", full_page=True)

    context.grant_permissions(["clipboard-read", "clipboard-write"])
    # A step that waits for something the page lacks gives up after this; the live waits say their own.
    context.set_default_timeout(QUICK * 2)
    steps = Steps()
    watches = [pages.PageProblems(page)]
    confirmations = pages.Confirmations(page)
    suffix = uuid.uuid4().hex[:6]
    email = f"flow-{suffix}@example.com"
    name, downstream = f"nightly-report-{suffix}", f"after-report-{suffix}"

    def new_tab() -> Page:
        tab = context.new_page()
        watches.append(pages.PageProblems(tab))
        return tab

    with steps.step("sign up"):
        pages.sign_up(page, email)

    # -- create a CONTAINER workflow from a Dockerfile ----------------------------------------
    with steps.step("create a CONTAINER workflow from a Dockerfile"):
        pages.open_new_workflow_form(page)
        pages.fill_name(page, name)
        pages.choose_kind(page, "CONTAINER")
        with steps.step(
            "the form has a Dockerfile editor (guided fields, no JSON to escape)",
            recover=lambda: pages.fill_payload_json(page, {"dockerfile": DOCKERFILE}),
        ):
            pages.fill_container_from_dockerfile(page, DOCKERFILE)
        pages.choose_cron(page, NEVER_SOON)
        shoot(page, "new-workflow-form")
        workflow = pages.submit_new_workflow(page, name)

    # -- watch the build complete live -------------------------------------------------------
    def build_completed_after_reload() -> None:
        pages.poll_by_reloading(page, pages.build_badge(page).filter(has_text=re.compile("completed", re.I)))

    with steps.step("watch the build complete live, with its output", recover=build_completed_after_reload):
        pages.mark_not_reloaded(page)
        # Seen before the build ends (it sleeps 3 s), so what follows is a live change.
        initially = pages.build_badge(page).text_content() or ""
        assert re.search(r"queued|started|building", initially, re.I), f"the build ended already: {initially}"
        built = wait_for_api(
            page, f"/api/v1/workflows/{workflow}", lambda body: body["build_status"] in ("COMPLETED", "FAILED")
        )
        assert built["build_status"] == "COMPLETED", f"the build failed: {built['build_error']}"
        expect(pages.build_badge(page)).to_have_text(re.compile(r"completed", re.I), timeout=LIVE)
        expect(pages.build_output(page)).to_contain_text(f"image ready {MARKER}", timeout=LIVE)
        assert pages.was_not_reloaded(page), "the page was reloaded"
    shoot(page, "build-completed")

    # -- run it manually, watch its log live, search it ----------------------------------------
    # The workflow list is open in another tab all along: it must see the run end by itself.
    listing = new_tab()
    pages.open_workflow_list(listing)
    pages.mark_not_reloaded(listing)
    unread_before = pages.unread_count(listing)

    with steps.step("run it manually and see its log lines appear live"):
        pages.run_now(page)
        expect(pages.job_log(page)).to_contain_text("job starts", timeout=SLOW)
        # The first line is on screen while the job still runs: streamed, not loaded at the end.
        assert pages.job_status(page).text_content().strip() not in ("COMPLETED", "FAILED"), "no live log"
        expect(pages.job_log(page)).to_contain_text("job ends", timeout=SLOW)
        expect(pages.job_log(page)).to_contain_text(f"image ready {MARKER}")
        expect(pages.job_status(page)).to_have_text("COMPLETED", timeout=LIVE)
    shoot(page, "job-log")

    with steps.step("search the log: the match is highlighted", recover=lambda: None):
        matches = pages.search_log(page, "needle")
        expect(matches.first).to_be_visible(timeout=QUICK)
        shoot(page, "job-log-search")

    # -- the bell and the list, without reloading -------------------------------------------------
    with steps.step("the workflow list shows the run's outcome without reloading", recover=lambda: None):
        expect(pages.last_run_completed(pages.workflow_row(listing, name))).to_be_visible(timeout=LIVE)
        assert pages.was_not_reloaded(listing), "the list was reloaded"

    with steps.step("the bell counts JOB_COMPLETED without reloading", recover=lambda: None):
        wait_for_api(listing, "/api/v1/notifications?kind=JOB_COMPLETED", lambda body: body["notifications"])
        unread = api_get(listing, "/api/v1/notifications/unread-count")["count"]
        assert unread > unread_before
        expect(pages.bell(listing)).to_contain_text(str(unread), timeout=LIVE)
        assert pages.was_not_reloaded(listing), "the list was reloaded"
    shoot(listing, "list-after-run")

    with steps.step("JOB_COMPLETED in the bell's dropdown, with a humane name", recover=lambda: None):
        menu = pages.open_bell(listing)
        expect(menu).to_contain_text(re.compile(r"job completed", re.I), timeout=QUICK)
        expect(menu).to_contain_text(name)
        shoot(listing, "bell-dropdown")
    listing.close()

    # -- pause and resume ---------------------------------------------------------------------------
    with steps.step("pause and resume"):
        pages.open_workflow(page, workflow)
        pages.pause(page)
        shoot(page, "paused")
        pages.resume(page)

    # -- chain a second workflow after it and see it run -------------------------------------------
    def create_downstream(guided: bool) -> str:
        pages.open_new_workflow_form(page)
        pages.fill_name(page, downstream)
        pages.choose_kind(page, "CONTAINER")
        pages.fill_container_from_image(page, "chronoverse/busybox:latest", ["echo", "downstream ran"])
        if guided:
            pages.choose_after(page, name)
        else:
            pages.choose_after_as_json(page, workflow)
        return pages.submit_new_workflow(page, downstream)

    created: list[str] = []
    with steps.step(
        "chain a second workflow after it, picking the upstream in the form",
        recover=lambda: created.append(create_downstream(guided=False)),
    ):
        created.append(create_downstream(guided=True))
    second = created[-1]
    with steps.step("the chained workflow's page links to its upstream"):
        expect(page.get_by_role("link", name=name, exact=True).first).to_be_visible()

    downstream_page = new_tab()
    pages.open_workflow(downstream_page, second)
    pages.mark_not_reloaded(downstream_page)
    with steps.step(
        "see the chained workflow run, live on its page",
        recover=lambda: pages.poll_by_reloading(downstream_page, pages.completed_job_row(downstream_page)),
    ):
        pages.open_workflow(page, workflow)
        pages.run_now(page)
        wait_for_api(page, f"/api/v1/workflows/{second}/jobs", lambda body: body["jobs"])
        wait_for_api(
            page, f"/api/v1/workflows/{second}/jobs", lambda body: body["jobs"][0]["status"] in ("COMPLETED", "FAILED")
        )
        expect(pages.completed_job_row(downstream_page)).to_be_visible(timeout=LIVE)
        assert pages.was_not_reloaded(downstream_page), "the page was reloaded"
    assert jobs_of(page, second)[0]["status"] == "COMPLETED", "the chained run failed"
    shoot(downstream_page, "downstream-ran")
    downstream_page.close()

    # -- analytics ----------------------------------------------------------------------------------
    with steps.step("look at the analytics charts"):
        page.goto("/analytics/")
        expect(pages.charts(page).first).to_be_visible(timeout=QUICK)
        shoot(page, "analytics")
        pages.open_workflow(page, workflow)
        expect(pages.charts(page).first).to_be_visible(timeout=QUICK)

    # -- a token ------------------------------------------------------------------------------------
    token = f"ci-{suffix}"
    with steps.step("create a token: its secret is shown once"):
        secret = pages.create_token(page, token)
        assert len(secret) > 20, f"not a secret: {secret!r}"
        shoot(page, "token-created")
    with steps.step("copy the new token with its copy button", recover=lambda: None):
        assert pages.copy_new_token(page) == secret
    with steps.step("revoke the token"):
        pages.revoke_token(page, token)

    # -- terminate and delete -----------------------------------------------------------------------
    with steps.step("terminate"):
        pages.open_workflow(page, workflow)
        asked = len(confirmations.asked)
        in_page = pages.terminate(page)
        shoot(page, "terminated")
    with steps.step("terminate asks for a confirmation first", recover=lambda: None):
        assert in_page or len(confirmations.asked) > asked, "Terminate acted without asking"
    with steps.step("a terminated workflow says so at the top, apart from its build", recover=lambda: None):
        # A badge that says "Terminated", and none that says only "COMPLETED" (the build's, misread
        # as the workflow's state).
        head = pages.workflow_head(page)
        expect(head.locator(".badge", has_text=re.compile(r"^\s*terminated\s*$", re.I))).to_have_count(1)
        expect(head.locator(".badge", has_text=re.compile(r"^\s*COMPLETED\s*$"))).to_have_count(0)

    with steps.step("delete both workflows"):
        for doomed, doomed_name in ((second, downstream), (workflow, name)):
            pages.open_workflow(page, doomed)
            pages.delete_workflow(page)
            expect(pages.workflow_row(page, doomed_name)).to_have_count(0)
        shoot(page, "deleted")

    with steps.step("no console error or failed request on any page of the flow"):
        problems = [problem for watch in watches for problem in watch.stop()]
        assert not problems, "\n".join(problems)

    print("steps passed:\n- " + "\n- ".join(steps.passed))
    steps.check()
