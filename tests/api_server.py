"""The real service for API tests: uvicorn in a subprocess against the test
database, and a TCP proxy in front of PostgreSQL that a test can cut."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from django.db import connection

from tests.conftest import FAST_QUEUE_ENV, ROOT, database_url_for_tests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ApiServer:
    """`uvicorn queueproject.asgi:application` on a free port."""

    def __init__(self, log_path: Path, database_url: str | None = None, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "wb")
        self.log_path = log_path
        full_env = {**os.environ, **FAST_QUEUE_ENV, "DATABASE_URL": database_url or database_url_for_tests(),
                    **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "queueproject.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--lifespan", "off", "--no-access-log"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"The server exited: {self.output}")
            try:
                requests.get(f"{self.url}/api/health", timeout=10)
                return
            except requests.RequestException:  # not listening yet, or slow to answer its first request
                time.sleep(0.1)
        raise AssertionError(f"The server did not start: {self.output}")

    @property
    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


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
