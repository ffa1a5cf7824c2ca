"""The production web server: granian serving queueproject.wsgi, with our defaults.

    python -m queueproject.webserver --host 0.0.0.0 --port 8000 --workers 2
    python -m queueproject.webserver --ws --host 0.0.0.0 --port 8001   # GET /ws

Any granian option may follow; the ones set here come first, so the command line
overrides them. `manage.py serve`, the Dockerfile, compose.yaml and the tests all
start the web server this way.

Why granian, and why WSGI: every view is synchronous (Django REST Framework,
the ORM), so an ASGI server pays for hops between its event loop and threads on
each request: Django's ASGI handler runs the middleware and the view in
threads of their own (measured: 2.5-4 times the CPU per request of a WSGI
server on the same code). granian parses HTTP in Rust and calls the WSGI
application on a pool of Python threads per process (WEB_THREADS). Server-sent
events (/api/events) are served the same way: an open stream holds one thread
between events (see tasks/api/stream.py and QUEUE_MAX_STREAMS).
"""

import os
import sys

from granian.cli import cli

APPLICATION = "queueproject.wsgi:application"
# Threads per process: requests in progress plus open event streams (by
# default, streams may take those left over when each of the pool's
# DB_POOL_MAX_SIZE connections has a thread: QUEUE_MAX_STREAMS). More threads
# than that only wait for connections, and compete for the interpreter: with
# 32 threads a process served a third fewer requests than with 8 or 16.
THREADS = os.environ.get("WEB_THREADS", "12")  # settings.WEB_THREADS: the same default
DEFAULTS = [
    "--interface", "wsgi",
    "--blocking-threads", THREADS,
    # No more requests in progress per process than threads to run them.
    "--backpressure", THREADS,
    # Open /api/events streams never end by themselves: cap the wait for them.
    "--workers-kill-timeout", "5",
    "--respawn-failed-workers",
    "--no-ws",
]


# `--ws`: the WebSocket listener instead (GET /ws, document 003's event stream):
# granian serving a small ASGI application on a port of its own, so that the
# API above stays WSGI. One process: its sockets share one Hub (one LISTEN).
WS_APPLICATION = "queueproject.ws:application"
WS_DEFAULTS = ["--interface", "asgi", "--ws", "--workers", "1", "--workers-kill-timeout", "5",
               "--respawn-failed-workers"]


def main(argv: list[str]) -> None:
    if "--ws" in argv:
        argv = [arg for arg in argv if arg != "--ws"]
        cli.main(args=[*WS_DEFAULTS, *argv, WS_APPLICATION], prog_name="queueproject.webserver",
                 auto_envvar_prefix="GRANIAN")
        return
    cli.main(args=[*DEFAULTS, *argv, APPLICATION], prog_name="queueproject.webserver", auto_envvar_prefix="GRANIAN")


if __name__ == "__main__":
    main(sys.argv[1:])
