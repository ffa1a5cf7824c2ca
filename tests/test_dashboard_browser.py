"""End to end in a real browser: Debian's chromium driven by Playwright, against
the real web server (uvicorn) and a real worker process on the test database.

Log in, create a task through the Advanced tab (after a refused first try),
watch it reach `completed` on the overview without reloading, and retry a
failed task from its detail page. Screenshots of each page go to the
git-ignored screenshots/ folder.
"""

import os
from pathlib import Path

import pytest
from django.db import connections

from tasks import queue
from tasks.models import Task
from tests.support.processes import ROOT, wait_for
from tests.support.web import WebServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "screenshots"
PASSWORD = "pw-admin-browser-1"


@pytest.fixture
def web_server(queue_env, tmp_path):
    """The production web server (as `make run` starts it) on a free port."""
    server = WebServer(queue_env, tmp_path / "web.log")
    yield server.url
    server.stop()


@pytest.fixture
def browser(monkeypatch):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it with apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own
    # ORM calls are plain synchronous code and safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Connections opened while Playwright's loop ran belong to that context;
        # close them here, or the test database cannot be dropped at the end.
        connections.close_all()


def shot(page, name: str) -> None:
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_operator_creates_watches_and_retries_tasks_in_a_real_browser(
    browser, web_server, start_worker, django_user_model
):
    from playwright.sync_api import expect

    django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    worker = start_worker("--concurrency", "2")
    # Fails its first attempt, succeeds on the second; no automatic retries, so it lands in the dead letters.
    dead = queue.enqueue("flaky", 2, max_retries=0)
    wait_for(lambda: Task.objects.get(pk=dead.pk).status == "failed", message="the flaky task to fail")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation dialogs

    # Log in: the dashboard sends us to the login page and back.
    page.goto(f"{web_server}/dashboard/")
    assert "/admin/login/" in page.url
    shot(page, "01-login")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{web_server}/dashboard/")
    expect(page.locator('[data-stat="workers"]')).to_have_text("1")
    shot(page, "02-overview")

    # Create a task through the Advanced tab; the first try is refused next to the field.
    page.click("nav >> text=Create task")
    expect(page.locator('[data-panel="advanced"]')).to_be_hidden()
    page.click('[data-tab="advanced"]')
    expect(page.locator('[data-panel="advanced"]')).to_be_visible()
    page.select_option("#id_type", "sleep")
    page.fill("#id_payload", "3")
    page.fill("#id_priority", "500")
    page.fill("#id_max_retries", "1")
    page.fill("#id_timeout", "30")
    page.fill("#id_queue", "browser")
    page.click("button:has-text('Create task')")
    expect(page.locator("#priority-error")).to_have_text("Priority must be between -100 and 100; higher runs first.")
    expect(page.locator('[data-panel="advanced"]')).to_be_visible()  # still on the Advanced tab
    shot(page, "03-create-error")
    page.fill("#id_priority", "5")
    page.click("button:has-text('Create task')")
    expect(page.locator(".messages")).to_contain_text("created")
    created = Task.objects.get(type="sleep")
    assert (created.priority, created.max_retries, created.timeout, created.queue) == (5, 1, 30.0, "browser")
    shot(page, "04-task-created")

    # Watch it on the overview: it completes there without the page being reloaded.
    page.click("nav >> text=Overview")
    page.evaluate("window.notReloaded = true")
    status = page.locator(f'tr[data-task="{created.pk}"] .status')
    assert status.inner_text().strip() in ("pending", "processing")
    expect(status).to_have_text("completed", timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator('[data-stat="completed"]')).to_have_text("1")
    shot(page, "05-overview-live")

    # The other pages, for the record.
    for name, path in [("06-tasks", "/dashboard/tasks/"), ("07-workers", "/dashboard/workers/"),
                       ("08-queues", "/dashboard/queues/"), ("09-dead-letters", "/dashboard/dead-letters/")]:
        page.goto(web_server + path)
        shot(page, name)
    expect(page.locator(f'tr[data-task="{dead.pk}"]')).to_contain_text("ConnectionError: attempt 1 failed on purpose")

    # Retry the failed task from its detail page; it runs again and completes, live.
    page.goto(f"{web_server}/dashboard/tasks/{dead.pk}/")
    expect(page.locator(".facts .badge")).to_have_text("failed")
    expect(page.locator(".attempt.failed")).to_contain_text("attempt 1 failed on purpose")
    shot(page, "10-task-failed")
    page.click("button:has-text('Retry')")
    expect(page.locator(".messages")).to_contain_text("is pending again")
    expect(page.locator(".facts .badge")).to_have_text("completed", timeout=30_000)
    expect(page.locator(".attempt")).to_have_count(2)
    shot(page, "11-task-retried")
    assert Task.objects.get(pk=dead.pk).status == "completed"

    # Narrow screens get the same pages, one column.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{web_server}/dashboard/")
    expect(phone.locator('[data-stat="total"]')).to_have_text("2")
    shot(phone, "12-overview-phone")
    assert worker.proc.poll() is None
