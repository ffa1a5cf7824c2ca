"""Built-in task types doing real work in real worker processes, and completion webhooks."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from tasks import queue
from tasks.models import Task, TaskStatus, WebhookDelivery
from tasks.webhooks import signing
from tests.support.processes import wait_for

pytestmark = pytest.mark.slow


class Receiver(BaseHTTPRequestHandler):
    """Records every POST; answers with the status code queued in `codes` (default 200)."""

    received: list = []
    codes: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(self.codes.pop(0) if self.codes else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def allow_private(settings):
    """Let this process enqueue webhooks to the local receiver (workers get the env)."""
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "WEBHOOK_ALLOW_PRIVATE": True}


@pytest.fixture
def receiver():
    Receiver.received, Receiver.codes = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", Receiver
    server.shutdown()


def test_email_task_sends_through_the_configured_backend(start_worker, tmp_path):
    outbox = tmp_path / "mail"
    task = queue.enqueue("email", {"to": "ada@example.com", "subject": "Hello", "body": "Report attached."})
    start_worker("--burst", env={"EMAIL_BACKEND": "file", "EMAIL_FILE_PATH": str(outbox)}).wait()
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert task.result == {"sent": 1, "to": ["ada@example.com"]}
    messages = "".join(path.read_text() for path in outbox.iterdir())
    assert "Subject: Hello" in messages and "To: ada@example.com" in messages and "Report attached." in messages


def test_webhook_task_posts_json_and_fails_on_an_error_status(start_worker, receiver, allow_private):
    url, handler = receiver
    handler.codes = [200, 500]
    ok = queue.enqueue("webhook", {"url": f"{url}/ok", "body": {"order": 42}}, max_retries=0)
    start_worker("--burst", "--concurrency", "1", env={"QUEUE_WEBHOOK_ALLOW_PRIVATE": "true"}).wait()
    bad = queue.enqueue("webhook", {"url": f"{url}/bad", "body": {}}, max_retries=0)
    start_worker("--burst", "--concurrency", "1", env={"QUEUE_WEBHOOK_ALLOW_PRIVATE": "true"}).wait()
    assert Task.objects.get(pk=ok.pk).result == {"status_code": 200}
    assert json.loads(handler.received[0]["body"]) == {"order": 42}
    failed = Task.objects.get(pk=bad.pk)
    assert failed.status == TaskStatus.FAILED and "500" in failed.last_error


def test_completion_webhook_is_delivered_signed_with_the_task_json(start_worker, receiver, allow_private):
    url, handler = receiver
    handler.codes = [503]  # the first attempt fails; the delivery is retried
    task = queue.enqueue("echo", {"hello": "world"}, webhook=f"{url}/done")
    start_worker("--concurrency", "1", env={"QUEUE_WEBHOOK_ALLOW_PRIVATE": "true"})
    delivery = wait_for(lambda: WebhookDelivery.objects.filter(task=task, status="delivered").first(),
                        timeout=30, message="a delivered webhook")
    assert len(handler.received) == 2 and delivery.attempts == 2
    assert [entry["status_code"] for entry in delivery.log] == [503, 200]
    sent = handler.received[-1]
    document = json.loads(sent["body"])
    assert document["event"] == "task.completed"
    assert document["id"] == str(task.id) and document["status"] == "completed"
    assert document["result"] == {"hello": "world"}
    stamp = sent["headers"]["X-Queue-Signature"].split(",")[0].removeprefix("t=")
    assert sent["headers"]["X-Queue-Signature"] == signing.sign(sent["body"], int(stamp))


def test_webhooks_to_private_addresses_are_refused_by_default(start_worker, receiver):
    url, handler = receiver
    with pytest.raises(ValidationError) as refused:  # an address in the URL: refused at once
        queue.enqueue("echo", 1, webhook=f"{url}/private")
    assert "not public" in refused.value.message_dict["webhook"][0]
    # A name that resolves to a private address: refused when the delivery resolves it.
    task = queue.enqueue("echo", 1, webhook=url.replace("127.0.0.1", "localhost") + "/private")
    start_worker("--concurrency", "1", env={"QUEUE_WEBHOOK_MAX_ATTEMPTS": "1"})
    delivery = wait_for(lambda: WebhookDelivery.objects.filter(task=task, status="failed").first(), timeout=30)
    assert "not public" in delivery.last_error or "non-public" in delivery.last_error
    assert handler.received == []
    assert Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED  # a webhook never fails its task
