"""Processes under test and the patience to wait for them: paths, the fast queue
settings, starting `manage.py worker`, stopping any process, free ports."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Short intervals so that tests of rescue, retries and promotion finish in seconds.
FAST_QUEUE_ENV = {
    "QUEUE_HANDLER_MODULES": "tests.handlers,tests.pytasks",
    "QUEUE_HEARTBEAT_INTERVAL": "0.5",
    "QUEUE_WORKER_TIMEOUT": "3",
    "QUEUE_RESCUE_INTERVAL": "0.5",
    "QUEUE_PROMOTE_INTERVAL": "0.2",
    "QUEUE_POLL_INTERVAL": "0.5",
    "QUEUE_RETRY_BASE": "0.2",
    "QUEUE_RETRY_CAP": "1",
    "QUEUE_SHUTDOWN_GRACE": "10",
    "QUEUE_TIMEOUT_GRACE": "1",
    "LOG_LEVEL": "INFO",
}


def wait_for(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Call `predicate` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it is not gone within `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class WorkerProcess:
    """`manage.py worker` in a subprocess."""

    def __init__(self, args, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "worker", *args],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def wait(self, timeout=60) -> int:
        return self.proc.wait(timeout=timeout)

    def signal(self, signum) -> None:
        self.proc.send_signal(signum)

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)
        self.log.close()
