"""The web server in a subprocess, as `make run` starts it, and a
server-sent-events reader for it."""

import http.client
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.support.processes import ROOT, free_port, stop_process, wait_for


class WebServer:
    """The web server as `make run` starts it (queueproject/webserver.py: granian) on a free port."""

    def __init__(self, env: dict, log_path: Path, processes: int = 1, *, wait: bool = True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "queueproject.webserver", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(processes), "--workers-kill-timeout", "3"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30, healthy: bool = True) -> None:
        """Until /api/health answers (200, or any status when not `healthy`)."""
        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"The web server exited: {self.output}")
            try:
                status = requests.get(f"{self.url}/api/health", timeout=5).status_code
            except requests.RequestException:  # not listening yet, or slow to answer its first request
                return False
            return status == 200 or not healthy

        wait_for(answers, timeout=timeout, interval=0.1, message="the web server")

    @property
    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)
        self.log.close()


class EventReader:
    """Reads an SSE stream on a thread; `events` are dicts with id, event, data.

    http.client on a socket of its own, so close() can shut the socket and end
    the reading thread at once."""

    def __init__(self, url: str, headers: dict):
        parts = urlsplit(url)
        self.events: list[dict] = []
        self.comments: list[str] = []
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.conn.request("GET", f"{parts.path}?{parts.query}", headers=headers)
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.read()
        assert self.response.getheader("Content-Type").startswith("text/event-stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        wait_for(lambda: self.comments, timeout=10, message="the stream to open")

    def _read(self):
        current = {}
        try:
            while line := self.response.readline():
                line = line.decode().rstrip("\r\n")
                if line.startswith(":"):
                    self.comments.append(line)
                elif not line:
                    if "event" in current:
                        self.events.append({**current, "data": json.loads(current["data"])})
                    current = {}
                else:
                    key, _, value = line.partition(": ")
                    current[key] = value
        except (OSError, ValueError, http.client.HTTPException):
            pass  # closed by the test

    def wait_for(self, predicate, timeout=20.0, message="events"):
        return wait_for(lambda: predicate(self.events), timeout=timeout, message=message)

    def names(self, task_id=None) -> list[str]:
        return [e["event"] for e in self.events if task_id is None or e["data"].get("task_id") == str(task_id)]

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout=5)
        self.conn.close()
