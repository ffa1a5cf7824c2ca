"""GET /ws: document 003's WebSocket stream, the same events as /api/events.

The API is served by granian in WSGI mode, which has no WebSockets; putting
every request through ASGI to gain them would cost the hot path several times
its CPU (queueproject/webserver.py). So /ws has a small ASGI listener of its
own (`python -m queueproject.webserver --ws`, started by `manage.py serve` on
WS_PORT), and nothing here runs for ordinary requests.

A socket is the SSE stream in another framing: authenticated like the rest
(`Authorization: Token <token>`, or `?token=` since browsers cannot set headers
on a WebSocket), the same filters (?queue=, ?type=, ?event=, ?last_event_id=),
the same per-process Hub and QUEUE_MAX_STREAMS limit (tasks/api/stream.py),
then one JSON text message per event:
{"id": "<cursor>", "event": "task.completed", "data": {...}}. Refusals close
the handshake with a code: 4401 no valid token, 4400 bad filter, 1013 too many
streams (try again later), sent after the handshake so that clients see
them. Waiting for the next event blocks, so it runs in a
thread of a pool sized for QUEUE_MAX_STREAMS sockets.
"""

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

from django.db import OperationalError, connection
from django.http import HttpRequest, QueryDict

from tasks import conf
from tasks.api import stream

logger = logging.getLogger("tasks.events")

PATH = "/ws"
UNAUTHORIZED, INVALID, TRY_LATER = 4401, 4400, 1013
END = object()
_waiters: ThreadPoolExecutor | None = None


def waiters() -> ThreadPoolExecutor:
    global _waiters
    if _waiters is None:
        _waiters = ThreadPoolExecutor(conf.get("MAX_STREAMS") + 2, thread_name_prefix="ws")
    return _waiters


def as_request(scope: dict) -> HttpRequest:
    """The handshake as a Django request, for the SSE view's own checks."""
    request = HttpRequest()
    request.method = "GET"
    request.path = scope.get("path", PATH)
    query = scope.get("query_string", b"").decode("latin-1")
    request.GET = QueryDict(query)
    for name, value in scope.get("headers", []):
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        request.META[key] = value.decode("latin-1")
    token = dict(parse_qsl(query)).get("token")
    if token and "HTTP_AUTHORIZATION" not in request.META:
        request.META["HTTP_AUTHORIZATION"] = f"Token {token}"
    request.META["REMOTE_ADDR"] = (scope.get("client") or ("", 0))[0]
    return request


def admit(scope: dict):
    """(close code, reason) for a refused socket, or the subscription's arguments."""
    try:
        request = as_request(scope)
        if not stream._authenticated(request):
            return UNAUTHORIZED, "Send 'Authorization: Token <token>' or ?token=<token>."
        request_filter, after, errors = stream._parse(request)
        if errors:
            return INVALID, "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        subscribed = stream.hub.subscribe()
        if subscribed is None:
            return TRY_LATER, "Too many event streams open on this server (QUEUE_MAX_STREAMS)."
        return request_filter, after, *subscribed
    except OperationalError:
        return TRY_LATER, "The database is unreachable; try again in a few seconds."
    finally:
        connection.close()  # this pool thread's connection goes back: the socket may stay open for hours


async def serve_socket(scope: dict, receive, send) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    loop = asyncio.get_running_loop()
    admitted = await loop.run_in_executor(waiters(), admit, scope)
    if len(admitted) == 2:
        # Accepted, then closed: a close before the accept is a bare HTTP 403, without the reason.
        code, reason = admitted
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code, "reason": reason[:120]})
        return
    request_filter, after, queue, position = admitted
    await send({"type": "websocket.accept"})
    messages = stream.follow(request_filter, after, queue, position)
    closed = asyncio.ensure_future(_until_disconnect(receive))
    try:
        while True:
            waiting = loop.run_in_executor(waiters(), next, messages, END)
            done, _ = await asyncio.wait({waiting, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                return
            message = waiting.result()
            if message is END:
                await send({"type": "websocket.close", "code": TRY_LATER, "reason": "Fell behind; reconnect."})
                return
            if message is not None:  # None: a keepalive; WebSocket pings are the server's job
                body = {"id": str(message.cursor), "event": message.event, "data": message.data}
                await send({"type": "websocket.send", "text": json.dumps(body)})
    finally:
        closed.cancel()
        stream.hub.unsubscribe(queue)  # the waiting thread wakes by its timeout and stops


async def _until_disconnect(receive) -> None:
    while (await receive())["type"] != "websocket.disconnect":
        pass  # clients have nothing to say on this stream


async def application(scope: dict, receive, send) -> None:
    """The listener's ASGI application: /ws, and 404 or 426 for anything else."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "websocket" and scope["path"].rstrip("/") == PATH:
        await serve_socket(scope, receive, send)
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4404})
    else:
        status, text = (426, "Connect with a WebSocket.") if scope["path"].rstrip("/") == PATH else (404, "Not found.")
        body = json.dumps({"error": {"code": "not_found" if status == 404 else "upgrade_required",
                                     "message": text}}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
