"""The production web server: uvicorn serving queueproject.asgi, with our defaults.

    python -m queueproject.webserver --host 0.0.0.0 --port 8000 --workers 2

Any uvicorn option may follow; the ones set here come first, so the command line
overrides them. `manage.py serve`, the Dockerfile, compose.yaml and the tests all
start the web server this way.

Why not plain `uvicorn`: with `--workers N` uvicorn binds the listening socket
itself and leaves its `proto` at 0 (uvicorn issue #3149). Accepted sockets
inherit it, and asyncio turns on TCP_NODELAY only for sockets that report
IPPROTO_TCP, so Nagle's algorithm stays on and every keep-alive request after
the first waits ~40 ms for the client's delayed ACK (measured here: 48 ms per
`GET /api/health` on one connection with 2 processes, 3 ms with 1). Re-opening
the bound descriptor lets the kernel report the real protocol.
"""

import socket
import sys

from uvicorn.config import Config
from uvicorn.main import main as uvicorn_main

APPLICATION = "queueproject.asgi:application"
DEFAULTS = [
    "--lifespan", "off",
    # Open /api/events streams never end by themselves: cap the wait for them.
    "--timeout-graceful-shutdown", "5",
]

_uvicorn_bind_socket = Config.bind_socket


def bind_socket(config: Config) -> socket.socket:
    # socket.socket(fileno=...) asks the kernel for family, type and protocol
    # (this also corrects `--fd`, which uvicorn takes for a Unix socket).
    sock = socket.socket(fileno=_uvicorn_bind_socket(config).detach())
    sock.set_inheritable(True)
    return sock


def main(argv: list[str]) -> None:
    Config.bind_socket = bind_socket
    uvicorn_main.main(args=[APPLICATION, *DEFAULTS, *argv], prog_name="queueproject.webserver")


if __name__ == "__main__":
    main(sys.argv[1:])
