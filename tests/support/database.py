"""The test database from outside Django: its URL, the web server on it, and a
TCP proxy in front of PostgreSQL that a test can cut."""

import os
import socket
import threading
from pathlib import Path

from django.db import connection
from psycopg.conninfo import make_conninfo

from tests.support.processes import FAST_QUEUE_ENV, free_port
from tests.support.web import WebServer


def database_url_for_tests() -> str:
    """A libpq URL for the test database Django created for this run."""
    s = connection.settings_dict
    return make_conninfo(
        dbname=s["NAME"], host=s["HOST"] or None, port=s["PORT"] or None,
        user=s["USER"] or None, password=s["PASSWORD"] or None,
    )


def api_server(log_path: Path, database_url: str | None = None, env: dict | None = None) -> WebServer:
    """A web server on the test database (or `database_url`); call wait_ready()."""
    full_env = {**os.environ, **FAST_QUEUE_ENV, "DATABASE_URL": database_url or database_url_for_tests(),
                **(env or {})}
    return WebServer(full_env, log_path, wait=False)


class TcpProxy:
    """Forwards a local port to PostgreSQL; `cut()` drops every connection and
    refuses new ones, as a network failure or a database restart would."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            # shutdown() first: a close() alone leaves the socket listening while a thread waits in accept().
            for sock in (self.listener, *self.sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = self._connect_upstream()
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        host, port = self.upstream
        if host.startswith("/"):  # a socket directory, as libpq names it
            server = socket.socket(socket.AF_UNIX)
            server.connect(f"{host}/.s.PGSQL.{port}")
            return server
        return socket.create_connection(self.upstream)

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def proxied_database_url(proxy: TcpProxy) -> str:
    s = connection.settings_dict
    user = f"{s['USER']}:{s['PASSWORD']}@" if s["USER"] and s["PASSWORD"] else (f"{s['USER']}@" if s["USER"] else "")
    return f"postgresql://{user}127.0.0.1:{proxy.port}/{s['NAME']}"


def upstream_address() -> tuple[str, int]:
    """Where PostgreSQL listens: a host, or a socket directory (the embedded server)."""
    s = connection.settings_dict
    return s["HOST"] or "/var/run/postgresql", int(s["PORT"] or 5432)
