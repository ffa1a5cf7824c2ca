"""GET /api/events: task and worker events as server-sent events.

An async view under ASGI (uvicorn). Each web process runs one Hub: a single
LISTEN connection on 'taskqueue_events' that reads new rows of the event log
when notified (and every POLL_INTERVAL as a safety net) and fans them out to
the open streams, so a thousand dashboards cost one connection, not a
thousand. A client that reconnects with Last-Event-ID first gets what it
missed, read from the log, then the live events; a client too slow to keep up
is disconnected and catches up the same way.
"""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator

import psycopg
from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings

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
REGISTER = """
INSERT INTO tasks_eventstream (id, expires_at) VALUES (%s, now() + interval '30 seconds')
ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
"""
REGISTER_EVERY = 10.0
OVERFLOW = object()


def connection_params() -> dict:
    """Django's connection settings, minus its synchronous cursor and adapters."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context"):
        params.pop(key, None)
    return params


class Hub:
    """The per-process fan-out from the event log to open streams."""

    def __init__(self) -> None:
        self.streams: set[asyncio.Queue] = set()
        self.position: Cursor | None = None
        self.ready = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def subscribe(self) -> tuple[asyncio.Queue, Cursor]:
        """A queue of live messages and the position they start after."""
        queue: asyncio.Queue = asyncio.Queue(BACKLOG)
        self.streams.add(queue)  # before waiting: nothing after the position is missed
        if self.task is None:
            self.ready = asyncio.Event()
            self.task = asyncio.create_task(self._run())
        await self.ready.wait()
        return queue, self.position

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.streams.discard(queue)

    async def _run(self) -> None:
        stream_id = uuid.uuid4()
        failures = 0
        self.position = None  # a new run starts at the head of the log
        try:
            while self.streams:
                try:
                    await self._listen(stream_id)
                except Exception as exc:  # noqa: BLE001 - streams must outlive any failure here
                    delay = reconnect_delay(failures)
                    failures += 1
                    logger.warning("Event stream reader failed (%s: %s); reconnecting in %ss",
                                   type(exc).__name__, exc, delay)
                    await asyncio.sleep(delay)
        finally:
            self.task = None

    async def _listen(self, stream_id: uuid.UUID) -> None:
        async with await psycopg.AsyncConnection.connect(**connection_params(), autocommit=True) as conn:
            # Registered first, so triggers NOTIFY before the first read below.
            await conn.execute(REGISTER, [stream_id])
            await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
            if self.position is None:
                async with conn.cursor() as cursor:
                    await cursor.execute(events.HEAD, {})
                    row = await cursor.fetchone()
                self.position = Cursor(row[0], row[1]) if row else Cursor()
            self.ready.set()
            registered = time.monotonic()
            while self.streams:
                await self._read(conn)
                notified = False
                async for _ in conn.notifies(timeout=POLL_INTERVAL, stop_after=1):
                    notified = True
                if notified:
                    await asyncio.sleep(COALESCE)
                if time.monotonic() - registered > REGISTER_EVERY:
                    await conn.execute(REGISTER, [stream_id])
                    registered = time.monotonic()
            await conn.execute("DELETE FROM tasks_eventstream WHERE id = %s", [stream_id])

    async def _read(self, conn: psycopg.AsyncConnection) -> None:
        while True:
            rows = await fetch_after(conn, self.position)
            if not rows:
                return
            for message in events.messages(rows, self.position):
                for queue in list(self.streams):
                    try:
                        queue.put_nowait(message)
                    except asyncio.QueueFull:
                        self.streams.discard(queue)
                        queue.get_nowait()
                        queue.put_nowait(OVERFLOW)
            self.position = Cursor(rows[-1][1], rows[-1][0])


async def fetch_after(conn: psycopg.AsyncConnection, position: Cursor, limit: int = 500) -> list[tuple]:
    async with conn.cursor() as cursor:
        await cursor.execute(events.AFTER, events.after_params(position, limit))
        return await cursor.fetchall()


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (uvicorn runs one loop per process)."""
    loop = asyncio.get_running_loop()
    return _hubs.setdefault(id(loop), Hub())


async def replay(after: Cursor, until: Cursor) -> AsyncIterator[Message]:
    """Messages after `after` up to `until`, read from the log."""
    async with await psycopg.AsyncConnection.connect(**connection_params(), autocommit=True) as conn:
        position = after
        while position < until:
            rows = [row for row in await fetch_after(conn, position) if Cursor(row[1], row[0], 0) <= until]
            if not rows:
                return
            for message in events.messages(rows, after):
                yield message
            position = Cursor(rows[-1][1], rows[-1][0])


def encode(message: Message) -> str:
    return f"id: {message.cursor}\nevent: {message.event}\ndata: {json.dumps(message.data)}\n\n"


async def stream(request_filter: Filter, after: Cursor | None) -> AsyncIterator[str]:
    queue, position = await hub().subscribe()
    try:
        yield f"retry: 2000\n: connected at {position}\n\n"
        last = max(position, after) if after is not None else position
        if after is not None:
            async for message in replay(after, position):
                if request_filter.accepts(message):
                    yield encode(message)
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if message is OVERFLOW:
                return  # the client reconnects with Last-Event-ID and catches up from the log
            if message.cursor <= last:
                continue
            last = message.cursor
            if request_filter.accepts(message):
                yield encode(message)
    finally:
        hub().unsubscribe(queue)


def _authenticated(request: HttpRequest) -> bool:
    drf_request = Request(request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    try:
        user = drf_request.user
    except exceptions.AuthenticationFailed:
        return False
    return bool(user and user.is_authenticated)


def _parse(request: HttpRequest) -> tuple[Filter | None, Cursor | None, dict]:
    def values(name: str) -> frozenset[str]:
        return frozenset(v.strip() for v in request.GET.get(name, "").split(",") if v.strip())

    errors = {}
    wanted = values("event")
    known = set(EventName.values) | {"task.*", "worker.*", "webhook.*"}
    if unknown := sorted(wanted - known):
        errors["event"] = [f"Unknown event {', '.join(unknown)}; choose from {', '.join(sorted(known))}."]
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    after = Cursor.parse(raw) if raw else None
    if raw and after is None:
        errors["Last-Event-ID"] = ["Not an event id sent by this stream; reconnect without it to start from now."]
    return Filter(values("queue"), values("type"), wanted), after, errors


async def events_view(request: HttpRequest) -> HttpResponse:
    """GET /api/events?queue=a,b&type=email&event=task.completed,worker.* (all optional)."""
    if not await sync_to_async(_authenticated)(request):
        return json_error(401, "not_authenticated", MESSAGES[401])
    if request.method != "GET":
        return json_error(405, "method_not_allowed", MESSAGES[405])
    request_filter, after, errors = _parse(request)
    if errors:
        return JsonResponse(error_body("invalid", f"Invalid fields: {', '.join(errors)}.", errors), status=400)
    response = StreamingHttpResponse(stream(request_filter, after), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through unbuffered
    return response
