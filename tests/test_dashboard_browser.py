"""End to end in a real browser: Debian's chromium driven by Playwright, against
the real web server (uvicorn) and a real worker process on the test database.

Log in, create a task through the Advanced tab (after a refused first try),
watch it reach `completed` on the overview without reloading, and retry a
failed task from its detail page. Then the console's features and the bugs
fixed in them: alarms, long errors that must not widen a page, bulk actions
with exact counts, the create form's time zone, the refresh control, dark
mode (screenshots/dashboard-dark.png), every page on a phone, and a read-only
operator refused what the page does not offer. Screenshots of each page go
to the git-ignored screenshots/ folder.
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from tasks import queue
from tasks.access import Scope
from tasks.models import ApiKey, Task
from tests.dashboard_helpers import queue_group
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
        violations = watch_csp(browser)
        yield browser
        browser.close()
        assert not violations, "the Content-Security-Policy refused something:\n" + "\n".join(violations)
        # Connections opened while Playwright's loop ran belong to that context;
        # close them here, or the test database cannot be dropped at the end.
        connections.close_all()


def watch_csp(browser) -> list[str]:
    """Every page the test opens reports what the Content-Security-Policy refused (none is expected)."""
    violations, new_page = [], browser.new_page

    def opened(**kwargs):
        page = new_page(**kwargs)
        page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(f"{page.url}: {m.text}"))
        return page

    browser.new_page = opened
    return violations


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

    # The admin under the same policy: its lists, and a task's page with its errors.
    page.goto(f"{web_server}/admin/tasks/task/?status__exact=completed")
    expect(page.locator("#result_list .queue-status-completed").first).to_be_visible()
    page.goto(f"{web_server}/admin/tasks/task/{dead.pk}/change/")
    expect(page.locator(".queue-pre").first).to_be_visible()
    shot(page, "13-admin-task")

    # API keys: listed by prefix for the admin scope, revoked after a confirmation.
    key = ApiKey.objects.issue(django_user_model.objects.get(username="admin"),
                               "billing", [Scope.READ, Scope.ENQUEUE])[1]
    prefix = key.split(".")[0]
    page.goto(f"{web_server}/dashboard/")
    page.click("header nav >> text=API keys")
    row = page.locator(f'tr[data-key="{prefix}"]')
    expect(row).to_contain_text("billing")
    shot(page, "14-api-keys")
    row.locator("button:has-text('Revoke')").click()
    expect(page.locator(f'tr[data-key="{prefix}"]')).to_contain_text("revoked")
    assert ApiKey.objects.get(prefix=prefix).revoked


def fits(page, width: int) -> None:
    """The page is no wider than the screen: nothing pushed off to the right."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def log_in(page, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/admin/login/?next=/dashboard/")
    page.fill("#id_username", name)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


def test_console_features_and_fixed_bugs_in_a_real_browser(browser, web_server, django_user_model):
    from playwright.sync_api import expect

    from tasks.models import Schedule, TaskStatus, Worker

    django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    viewer = django_user_model.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.groups.add(queue_group("Queue viewers"))
    now = timezone.now()
    url_error = "ConnectionError: GET https://example.com/" + "a" * 240 + " failed"
    token_error = "AuthError: token " + "T" * 3000 + " was refused"
    long_ones = []
    for error in (url_error, token_error):
        task = queue.enqueue("echo", "x", queue="emails")
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.FAILED, last_error=error, completed_at=now,
                                               errors=[{"attempt": 1, "type": "ConnectionError", "message": error}])
        long_ones.append(task)
    dead = []
    for i in range(3):
        task = queue.enqueue("echo", i, queue="reports")
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.FAILED, last_error=f"RuntimeError: {i}",
                                               completed_at=now - timedelta(minutes=i))
        dead.append(task)
    lost = Worker.objects.create(hostname="lost-box", pid=4242, queues=["*"], concurrency=2,
                                 last_heartbeat=now - timedelta(minutes=3))
    held = queue.enqueue("sleep", 60)
    Task.objects.filter(pk=held.pk).update(status=TaskStatus.PROCESSING, worker_id=lost.pk, started_at=now)
    queue.enqueue("echo", "waiting")
    Schedule.objects.create(name="nightly", cron="0 3 * * *", task_type="echo", payload="x", next_run_at=now)

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, web_server, "admin", PASSWORD)

    # Alarms: no live worker while work waits, and the lost worker's task, listed.
    expect(page.locator('[data-alarm="no_worker"]')).to_contain_text("No worker is alive")
    expect(page.locator('[data-alarm="lost_worker"]')).to_contain_text("lost-box:4242")
    expect(page.locator(f'[data-alarm="lost_worker"] a[href="/dashboard/tasks/{held.pk}/"]')).to_be_visible()
    shot(page, "20-overview-alarms")

    # A long error wraps; its whole text is one click away; the page stays as wide as the screen.
    for task in long_ones:
        page.goto(f"{web_server}/dashboard/tasks/{task.pk}/")
        fits(page, 1440)
        if page.locator("[data-error] summary").count():  # a long one is clamped: one click shows it all
            page.click("[data-error] summary")
            expect(page.locator("[data-error] pre")).to_be_visible()
            fits(page, 1440)
        expect(page.locator("[data-error]").last).to_contain_text(Task.objects.get(pk=task.pk).last_error[-40:])
    shot(page, "21-long-error")
    page.goto(f"{web_server}/dashboard/dead-letters/")
    fits(page, 1440)
    for button in page.locator("td.buttons button").all():
        box = button.bounding_box()
        assert box and box["x"] + box["width"] <= 1440
    shot(page, "22-dead-letters")

    # Bulk: filter by a menu, tick two rows, confirm the exact count, land on the same filter.
    page.select_option('form.filters select[name="queue"]', "reports")
    page.click("form.filters button[type=submit]")
    expect(page.locator("[data-count]")).to_contain_text("3 dead letters")
    page.locator(f'input[name="ids"][value="{dead[0].pk}"]').check()
    page.locator(f'input[name="ids"][value="{dead[1].pk}"]').check()
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    page.select_option('form.bulk select[name="action"]', "retry")
    page.click('form.bulk button[value="selected"]')
    expect(page.locator(".question")).to_contain_text("Retry 2 tasks?")
    shot(page, "23-bulk-confirm")
    page.click("button:has-text('Yes, go ahead')")
    expect(page.locator(".messages")).to_contain_text("2 tasks retried")
    assert "queue=reports" in page.url
    expect(page.locator("[data-count]")).to_contain_text("1 dead letter")
    assert {Task.objects.get(pk=t.pk).status for t in dead[:2]} == {"pending"}

    # The create form takes the time zone its help text offers.
    page.goto(f"{web_server}/dashboard/tasks/new/?tab=advanced")
    page.select_option("#id_type", "echo")
    page.fill("#id_scheduled_for", "2099-01-01 09:00+02:00")
    page.click("button:has-text('Create task')")
    expect(page.locator(".messages")).to_contain_text("scheduled")
    assert Task.objects.filter(run_at=datetime(2099, 1, 1, 7, 0, tzinfo=UTC)).exists()

    # Live refresh: the operator pauses it, and it stays paused across pages.
    page.select_option("#refresh", "0")
    page.goto(f"{web_server}/dashboard/queues/")
    expect(page.locator("#refresh")).to_have_value("0")
    assert page.evaluate("document.documentElement.dataset.refresh") == "0"
    page.select_option("#refresh", "2")

    # Dark mode follows the browser.
    dark = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    dark.context.add_cookies(page.context.cookies())
    dark.goto(f"{web_server}/dashboard/")
    background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)", background
    # To the git-ignored screenshots/ (docs/dashboard-dark.png is a copy made by hand, not by every run).
    dark.screenshot(path=SHOTS / "dashboard-dark.png", full_page=True)

    # A phone gets every page in one column, no wider than its screen.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    for path in ("/dashboard/", "/dashboard/tasks/", "/dashboard/tasks/new/?tab=advanced", "/dashboard/workers/",
                 "/dashboard/queues/", "/dashboard/dead-letters/", "/dashboard/schedules/", "/dashboard/metrics/",
                 "/dashboard/audit/", f"/dashboard/tasks/{long_ones[1].pk}/"):
        phone.goto(web_server + path)
        fits(phone, 390)
    shot(phone, "24-schedules-phone")

    # A read-only operator sees everything, is offered nothing, and is refused what they try anyway.
    reader = browser.new_page(viewport={"width": 1280, "height": 900})
    reader.on("dialog", lambda dialog: dialog.accept())
    log_in(reader, web_server, "viewer", PASSWORD)
    expect(reader.locator(".badge.role")).to_have_text("read-only")
    reader.goto(f"{web_server}/dashboard/dead-letters/")
    expect(reader.locator(f'tr[data-task="{dead[2].pk}"]')).to_be_visible()
    expect(reader.locator("td.buttons button")).to_have_count(0)
    status = reader.evaluate("""async (url) => {
        const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
        const response = await fetch(url, {method: 'POST', headers: {'X-CSRFToken': token,
            'Content-Type': 'application/x-www-form-urlencoded'}, body: 'confirm=yes'});
        return response.status;
    }""", f"/dashboard/tasks/{dead[2].pk}/retry/")
    assert status == 403
    assert Task.objects.get(pk=dead[2].pk).status == "failed"
    shot(reader, "25-read-only")

    # The audit log shows who did what.
    page.goto(f"{web_server}/dashboard/audit/")
    expect(page.locator("table.audit")).to_contain_text("tasks.retry")
    expect(page.locator("table.audit")).to_contain_text("task.create")
