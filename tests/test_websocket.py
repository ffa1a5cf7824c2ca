"""GET /ws (document 003's "WebSocket for real-time events"): the listener
as `manage.py serve` starts it, a real WebSocket client, the events of
/api/events."""

import asyncio
import json
import subprocess
import sys

import pytest
import requests
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tasks import queue
from tests.support.processes import ROOT, free_port, stop_process, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ws_url(queue_env, tmp_path):
    port = free_port()
    log = open(tmp_path / "ws.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "queueproject.webserver", "--ws", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=queue_env, stdout=log, stderr=subprocess.STDOUT)

    def answers() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/ws", timeout=2).status_code == 426
        except requests.RequestException:
            return False

    try:
        wait_for(answers, timeout=30, interval=0.1, message="the WebSocket listener")
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        stop_process(proc, timeout=10)
        log.close()


@pytest.fixture
def token(user):
    return Token.objects.get_or_create(user=user)[0].key


async def receive_events(url: str, count: int, after_open, **options) -> list[dict]:
    async with connect(url, open_timeout=10, **options) as socket:
        await asyncio.sleep(0.3)  # subscribed once the handshake is done; the hub's first read follows
        await asyncio.to_thread(after_open)
        return [json.loads(await asyncio.wait_for(socket.recv(), 15)) for _ in range(count)]


def test_the_same_events_as_the_sse_stream_with_a_token_header(ws_url, token):
    created = []
    events = asyncio.run(receive_events(
        ws_url, 2, lambda: created.extend([queue.enqueue("echo", 1), queue.enqueue("echo", 2, queue="mail")]),
        additional_headers={"Authorization": f"Token {token}"}))
    assert [e["event"] for e in events] == ["task.created", "task.created"]
    assert {e["data"]["task_id"] for e in events} == {str(t.id) for t in created}
    assert all(e["id"] and e["data"]["event"] == "task.created" for e in events)


def test_filters_and_a_token_in_the_query_string(ws_url, token):
    mail = []
    events = asyncio.run(receive_events(
        f"{ws_url}?token={token}&queue=mail", 1,
        lambda: (queue.enqueue("echo", 1), mail.append(queue.enqueue("echo", 2, queue="mail")))))
    assert events[0]["data"]["task_id"] == str(mail[0].id) and events[0]["data"]["queue"] == "mail"


@pytest.mark.parametrize("query, code", [("", 4401), ("?token=wrong", 4401), ("?event=task.exploded", 4400)])
def test_refusals_close_with_a_code_and_a_reason(ws_url, token, query, code):
    headers = {"Authorization": f"Token {token}"} if "event" in query else {}

    async def attempt():
        async with connect(f"{ws_url}{query}", open_timeout=10, additional_headers=headers) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
            return closed.value.rcvd

    received = asyncio.run(attempt())
    assert received.code == code and received.reason


def test_a_client_that_reconnects_with_its_last_id_gets_what_it_missed(ws_url, token):
    first = asyncio.run(receive_events(f"{ws_url}?token={token}", 1, lambda: queue.enqueue("echo", 1)))
    missed = queue.enqueue("echo", 2)  # while no socket is open
    replayed = asyncio.run(receive_events(f"{ws_url}?token={token}&last_event_id={first[0]['id']}", 1,
                                          lambda: None))
    assert replayed[0]["data"]["task_id"] == str(missed.id) and replayed[0]["id"] != first[0]["id"]
