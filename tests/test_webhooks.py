"""Webhooks against a real local HTTP receiver: signed deliveries, retries with
a log per attempt, and refusal of private, loopback and link-local targets,
on the first hop and after redirects."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tasks import queue
from tasks.db import raw_cursor
from tasks.jobs import Outcome
from tasks.models import DeliveryStatus, WebhookDelivery
from tasks.webhooks import outbox, signing
from tasks.webhooks.http import Target, UnsafeURL, WebhookError, check_url, send, target

# Real commits: delivery times compare with the database clock, frozen inside one transaction.
pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """An HTTP server on a loopback address that records every request and
    answers with the next scripted (status, headers)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def queue_settings(settings):
    def change(**values):
        settings.TASK_QUEUE = {**settings.TASK_QUEUE, **values}

    change(WEBHOOK_SECRET="s3cret-for-tests", RETRY_BASE=0.01, RETRY_CAP=0.05)
    return change


def completed_with_webhook(url: str):
    task = queue.enqueue("echo", {"n": 1}, webhook=url)
    worker = uuid.uuid4()
    job = queue.claim(raw_cursor(), worker, None, 1)[0]
    now = time.time()
    assert queue.complete(raw_cursor(), worker, [Outcome(job.id, job.attempt, True, '"done"', None, now, now)]) == 1
    return task


def deliver_until_settled(limit: int = 10) -> WebhookDelivery:
    for _ in range(limit):
        outbox.deliver_due()
        delivery = WebhookDelivery.objects.get()
        if delivery.status != DeliveryStatus.PENDING:
            return delivery
        time.sleep(0.1)
    return WebhookDelivery.objects.get()


def test_a_completed_task_is_posted_signed_to_a_real_receiver(receiver, queue_settings):
    queue_settings(WEBHOOK_ALLOW_PRIVATE=True)
    task = completed_with_webhook(f"{receiver.url}/hooks/done?token=abc")

    delivery = deliver_until_settled()

    assert delivery.status == DeliveryStatus.DELIVERED and delivery.response_code == 200
    assert [entry["status_code"] for entry in delivery.log] == [200]
    [request] = receiver.requests
    assert request["path"] == "/hooks/done?token=abc"
    document = json.loads(request["body"])
    assert (document["event"], document["id"], document["status"]) == ("task.completed", str(task.id), "completed")
    signature = request["headers"][signing.SIGNATURE_HEADER]
    assert signing.verify(signature, request["body"], secret="s3cret-for-tests")
    assert not signing.verify(signature, request["body"] + b" ", secret="s3cret-for-tests")
    assert not signing.verify(signature, request["body"], secret="another-secret")
    assert not signing.verify(signature, request["body"], secret="s3cret-for-tests", now=time.time() + 600)


def test_a_failing_receiver_is_retried_with_a_log_entry_per_attempt_then_given_up(receiver, queue_settings):
    queue_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_MAX_ATTEMPTS=3)
    receiver.script = [(500, {}), (503, {}), (502, {})]
    completed_with_webhook(f"{receiver.url}/flaky")

    delivery = deliver_until_settled(limit=30)

    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    assert [entry["status_code"] for entry in delivery.log] == [500, 503, 502]
    assert all(entry["error"] == f"The receiver answered HTTP {entry['status_code']}." for entry in delivery.log)
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost/", "http://10.1.2.3/", "http://172.16.0.9/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/", "http://0.0.0.0/", "http://224.0.0.1/",
    "http://[::1]/", "http://[fe80::1]/", "http://[fc00::1]/", "http://[::ffff:127.0.0.1]/",
    "ftp://example.com/x", "file:///etc/passwd", "http://:80/",
])
def test_private_loopback_and_link_local_targets_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_a_public_address_passes_and_an_allowed_network_opens_one_range(queue_settings):
    check_url("http://93.184.215.14/hook")  # a literal public address: no lookup needed
    queue_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"])
    check_url("http://127.0.0.1:9/hook")
    with pytest.raises(UnsafeURL):
        check_url("http://127.0.0.2:9/hook")


def test_a_refused_target_is_never_contacted_and_the_attempt_says_why(receiver, queue_settings):
    queue_settings(WEBHOOK_ALLOW_PRIVATE=True)
    completed_with_webhook(f"{receiver.url}/x")  # accepted while private targets were allowed...
    queue_settings(WEBHOOK_ALLOW_PRIVATE=False, WEBHOOK_MAX_ATTEMPTS=1)  # ...refused at delivery

    delivery = deliver_until_settled()

    assert delivery.status == DeliveryStatus.FAILED
    assert "UnsafeURL" in delivery.last_error and "127.0.0.1" in delivery.last_error
    assert receiver.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "no-such-host.invalid"])
def test_a_refusal_by_the_guard_is_final_one_attempt_not_five(receiver, queue_settings, host):
    queue_settings(WEBHOOK_ALLOW_PRIVATE=True)
    completed_with_webhook(f"{receiver.url}/x".replace("127.0.0.1", host))
    queue_settings(WEBHOOK_ALLOW_PRIVATE=False, WEBHOOK_MAX_ATTEMPTS=5)

    delivery = deliver_until_settled(limit=30)

    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1 and len(delivery.log) == 1
    assert "UnsafeURL" in delivery.last_error and host in delivery.last_error
    assert receiver.requests == []


def test_a_redirect_to_a_refused_address_is_not_followed(receiver, queue_settings):
    inner = Receiver("127.0.0.2")
    try:
        queue_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"], WEBHOOK_MAX_ATTEMPTS=1)
        receiver.script = [(307, {"Location": f"{inner.url}/admin"})]
        completed_with_webhook(f"{receiver.url}/start")

        delivery = deliver_until_settled()

        assert delivery.status == DeliveryStatus.FAILED
        assert "127.0.0.2" in delivery.last_error and "UnsafeURL" in delivery.last_error
        assert len(receiver.requests) == 1 and inner.requests == []
    finally:
        inner.close()


def test_an_allowed_redirect_is_followed_and_signed_again(receiver, queue_settings):
    queue_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"])
    receiver.script = [(308, {"Location": "/moved"}), (204, {})]
    completed_with_webhook(f"{receiver.url}/old")

    assert deliver_until_settled().status == DeliveryStatus.DELIVERED
    assert [r["path"] for r in receiver.requests] == ["/old", "/moved"]
    assert all(signing.verify(r["headers"][signing.SIGNATURE_HEADER], r["body"]) for r in receiver.requests)


def test_the_connection_goes_to_the_checked_address_not_to_a_second_lookup(receiver):
    # A name that cannot resolve here: the request can only arrive if the
    # connection uses the address given, as after the one checked lookup.
    port = int(receiver.url.rsplit(":", 1)[1])
    pinned = Target("http", "hooks.example.invalid", port, "/pinned", ("127.0.0.1",))
    response = send(pinned, b"{}", {"Content-Type": "application/json"}, timeout=5)
    assert response.status_code == 200
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.invalid:{port}"
    with pytest.raises(UnsafeURL, match="does not resolve"):
        target(f"http://hooks.example.invalid:{port}/pinned")


def test_enqueue_refuses_a_webhook_written_as_a_private_address():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        queue.enqueue("echo", 1, webhook="http://169.254.169.254/latest")
    assert "not public" in raised.value.message_dict["webhook"][0]


@pytest.fixture
def tls_receiver(tmp_path, queue_settings):
    """An HTTPS receiver on 127.0.0.1 whose certificate names hooks.example.invalid."""
    import ssl

    import trustme

    authority = trustme.CA()
    server = Receiver()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("hooks.example.invalid").configure_cert(context)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    queue_settings(WEBHOOK_CA_BUNDLE=str(bundle))
    yield server
    server.close()


def test_https_to_the_pinned_address_still_checks_the_certificate_against_the_name(tls_receiver, queue_settings):
    port = tls_receiver.server.server_port
    good = Target("https", "hooks.example.invalid", port, "/tls", ("127.0.0.1",))
    assert send(good, b"{}", {}, timeout=5).status_code == 200
    assert tls_receiver.requests[0]["headers"]["Host"] == f"hooks.example.invalid:{port}"
    impostor = Target("https", "other.example.invalid", port, "/tls", ("127.0.0.1",))
    with pytest.raises(WebhookError, match="doesn't match 'hooks.example.invalid'"):
        send(impostor, b"{}", {}, timeout=5)
    queue_settings(WEBHOOK_CA_BUNDLE="")  # public CAs only: the test CA is not trusted
    with pytest.raises(WebhookError, match="CERTIFICATE_VERIFY_FAILED"):
        send(good, b"{}", {}, timeout=5)
    assert len(tls_receiver.requests) == 1
