"""GET /api/events: task and worker events as server-sent events.

Served by the WSGI server like every other path: each open stream holds one
thread of its web process (granian's blocking threads), blocked on a queue
between events. Each web process runs one Hub: a thread with a single LISTEN
connection on 'taskqueue_events' that reads new rows of the event log when
notified (and every POLL_INTERVAL as a safety net) and fans them out to the
open streams, so a thousand streams cost one connection, not a thousand. A
client that reconnects with Last-Event-ID first gets what it missed, read from
the log, then the live events; a client too slow to keep up is disconnected
and catches up the same way. At most QUEUE_MAX_STREAMS streams are open per
web process, so that streams never take every thread from ordinary requests:
one more is refused with 503 and Retry-After.
"""

import json
import logging
import queue as queues
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress

import psycopg
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from tasks import conf
from tasks.access import Scope
from tasks.api import permissions
from tasks.api.errors import MESSAGES, error_body, json_error
from tasks.db import EVENTS_CHANNEL, reconnect_delay
from tasks.models import EventName
from tasks.telemetry import event_log as events
from tasks.telemetry.event_log import Cursor, Filter, Message

logger = logging.getLogger("tasks.events")

POLL_INTERVAL = 1.0
COALESCE = 0.05  # after a NOTIFY, wait this long so one read serves a burst of commits
KEEPALIVE = 15.0
BACKLOG = 10_000  # messages a stream may lag behind before it is disconnected
STREAMS_RETRY_AFTER = 5
REGISTER = """
INSERT INTO tasks_eventstream (id, expires_at) VALUES (%s, now() + interval '30 seconds')
ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
"""
REGISTER_EVERY = 10.0
READY_TIMEOUT = 10.0  # a new stream waits this long for the hub's first read of the log
OVERFLOW = object()


def connection_params() -> dict:
    """Django's connection settings, minus its cursor class, adapters and pool."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "pool"):
        params.pop(key, None)
    return params


class Hub:
    """The per-process fan-out from the event log to open streams."""

    def __init__(self) -> None:
        self.streams: set[queues.Queue] = set()
        self.position: Cursor | None = None
        self.ready = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def subscribe(self) -> tuple[queues.Queue, Cursor] | None:
        """A queue of live messages and the position they start after; None when
        this process already serves QUEUE_MAX_STREAMS streams. OperationalError
        (answered with 503) when the hub cannot read the log within READY_TIMEOUT."""
        queue: queues.Queue = queues.Queue(BACKLOG)
        with self.lock:
            if len(self.streams) >= conf.get("MAX_STREAMS"):
                return None
            self.streams.add(queue)  # before waiting: nothing after the position is missed
            if self.thread is None:
                self.ready = threading.Event()
                self.thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
                self.thread.start()
            ready = self.ready
        if not ready.wait(READY_TIMEOUT):
            self.unsubscribe(queue)
            raise OperationalError("The event log cannot be read: the database is unreachable.")  # a 503
        return queue, self.position

    def unsubscribe(self, queue: queues.Queue) -> None:
        with self.lock:
            self.streams.discard(queue)

    def _run(self) -> None:
        stream_id = uuid.uuid4()
        failures = 0
        self.position = None  # a new run starts at the head of the log
        while True:
            try:
                self._listen(stream_id)
            except Exception as exc:  # noqa: BLE001 - streams must outlive any failure here
                delay = reconnect_delay(failures)
                failures += 1
                logger.warning("Event stream reader failed (%s: %s); reconnecting in %ss",
                               type(exc).__name__, exc, delay)
                time.sleep(delay)
            with self.lock:
                if not self.streams:
                    self.thread = None
                    return

    def _listen(self, stream_id: uuid.UUID) -> None:
        with psycopg.connect(**connection_params(), autocommit=True) as conn:
            # Registered first, so triggers NOTIFY before the first read below.
            conn.execute(REGISTER, [stream_id])
            conn.execute(f"LISTEN {EVENTS_CHANNEL}")
            if self.position is None:
                row = conn.execute(events.HEAD, {}).fetchone()
                self.position = Cursor(row[0], row[1]) if row else Cursor()
            self.ready.set()
            registered = time.monotonic()
            while self.streams:
                self._read(conn)
                notified = False
                for _ in conn.notifies(timeout=POLL_INTERVAL, stop_after=1):
                    notified = True
                if notified:
                    time.sleep(COALESCE)
                if time.monotonic() - registered > REGISTER_EVERY:
                    conn.execute(REGISTER, [stream_id])
                    registered = time.monotonic()
            conn.execute("DELETE FROM tasks_eventstream WHERE id = %s", [stream_id])

    def _read(self, conn: psycopg.Connection) -> None:
        while True:
            rows = fetch_after(conn, self.position)
            if not rows:
                return
            for message in events.messages(rows, self.position):
                with self.lock:
                    streams = list(self.streams)
                for queue in streams:
                    try:
                        queue.put_nowait(message)
                    except queues.Full:
                        self.unsubscribe(queue)
                        with suppress(queues.Empty):
                            queue.get_nowait()
                        queue.put_nowait(OVERFLOW)  # only this thread puts: there is room now
            self.position = Cursor(rows[-1][1], rows[-1][0])


def fetch_after(conn: psycopg.Connection, position: Cursor, limit: int = 500) -> list[tuple]:
    return conn.execute(events.AFTER, events.after_params(position, limit)).fetchall()


hub = Hub()


def replay(after: Cursor, until: Cursor) -> Iterator[Message]:
    """Messages after `after` up to `until`, read from the log."""
    with psycopg.connect(**connection_params(), autocommit=True) as conn:
        position = after
        while position < until:
            rows = [row for row in fetch_after(conn, position) if Cursor(row[1], row[0], 0) <= until]
            if not rows:
                return
            yield from events.messages(rows, after)
            position = Cursor(rows[-1][1], rows[-1][0])


def encode(message: Message) -> str:
    return f"id: {message.cursor}\nevent: {message.event}\ndata: {json.dumps(message.data)}\n\n"


class Subscription:
    """A stream's lines; closing it (the server does, when the client leaves)
    unsubscribes, even when no line was read yet and so the generator never ran."""

    def __init__(self, request_filter: Filter, after: Cursor | None, queue: queues.Queue, position: Cursor):
        self.queue = queue
        self.lines = stream(request_filter, after, queue, position)

    def __iter__(self) -> Iterator[str]:
        return self.lines

    def close(self) -> None:
        self.lines.close()
        hub.unsubscribe(self.queue)


def stream(request_filter: Filter, after: Cursor | None, queue: queues.Queue, position: Cursor) -> Iterator[str]:
    try:
        yield f"retry: 2000\n: connected at {position}\n\n"
        for message in follow(request_filter, after, queue, position):
            yield ": keepalive\n\n" if message is None else encode(message)
    finally:
        hub.unsubscribe(queue)


def follow(request_filter: Filter, after: Cursor | None, queue: queues.Queue,
           position: Cursor, keepalive: float = KEEPALIVE) -> Iterator[Message | None]:
    """What a subscriber receives: the messages it missed since `after` (from the
    log), then live ones; None after `keepalive` seconds of silence. Ends when
    the subscriber fell too far behind (it reconnects with its last id and
    catches up from the log). Shared by /api/events and /ws (websocket.py)."""
    last = max(position, after) if after is not None else position
    if after is not None:
        for message in replay(after, position):
            if request_filter.accepts(message):
                yield message
    while True:
        try:
            message = queue.get(timeout=keepalive)
        except queues.Empty:
            yield None
            continue
        if message is OVERFLOW:
            return
        if message.cursor <= last:
            continue
        last = message.cursor
        if request_filter.accepts(message):
            yield message


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """The error response for a request without the read scope (tasks/api/permissions.py)."""
    error = permissions.refusal(request, Scope.READ)
    if error is None:
        return None
    response = json_error(error.status_code, error.default_code, str(error.detail))
    if getattr(error, "wait", None):
        response["Retry-After"] = str(int(error.wait))
    if error.status_code == 401:
        response["WWW-Authenticate"] = "Token"
    return response


def _authenticated(request: HttpRequest) -> bool:
    """Whether the request may read events: authenticated, with the read scope (/ws asks too)."""
    return permissions.refusal(request, Scope.READ) is None


def _parse(request: HttpRequest) -> tuple[Filter | None, Cursor | None, dict]:
    def values(name: str) -> frozenset[str]:
        return frozenset(v.strip() for v in request.GET.get(name, "").split(",") if v.strip())

    errors = {}
    wanted = values("event")
    known = set(EventName.values) | {"task.*", "worker.*", "webhook.*", "batch.*"}
    if unknown := sorted(wanted - known):
        errors["event"] = [f"Unknown event {', '.join(unknown)}; choose from {', '.join(sorted(known))}."]
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    after = Cursor.parse(raw) if raw else None
    if raw and after is None:
        errors["Last-Event-ID"] = ["Not an event id sent by this stream; reconnect without it to start from now."]
    return Filter(values("queue"), values("type"), wanted), after, errors


def events_view(request: HttpRequest) -> HttpResponse:
    """GET /api/events?queue=a,b&type=email&event=task.completed,worker.* (all optional)."""
    if (refused := _refusal(request)) is not None:
        return refused
    if request.method != "GET":
        response = json_error(405, "method_not_allowed", MESSAGES[405])
        response["Allow"] = "GET"
        return response
    request_filter, after, errors = _parse(request)
    if errors:
        return JsonResponse(error_body("invalid", f"Invalid fields: {', '.join(errors)}.", errors), status=400)
    # The stream reads through the hub's own connections: give this thread's
    # back to the pool now rather than when the stream ends, hours later.
    connection.close()
    subscribed = hub.subscribe()
    if subscribed is None:
        response = json_error(503, "too_many_streams", f"This server has {conf.get('MAX_STREAMS')} event "
                              "streams open, its limit (QUEUE_MAX_STREAMS); retry later or on another server.")
        response["Retry-After"] = str(STREAMS_RETRY_AFTER)
        return response
    response = StreamingHttpResponse(Subscription(request_filter, after, *subscribed), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through unbuffered
    return response
