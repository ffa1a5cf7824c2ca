"""The processes under test: `manage.py worker`s, the producer, the web server.

Each runs exactly as operators run it, in its own process, against the
scenario's database, with short intervals so that rescue and retries happen
within seconds. Their output goes to files in the run's folder.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.processes import FAST_QUEUE_ENV  # noqa: E402

# The test suite's short intervals (a silent worker is presumed dead after 3 s),
# with quieter logs: hundreds of processes write them.
QUEUE_ENV = {**FAST_QUEUE_ENV, "LOG_LEVEL": "WARNING"}


class Process:
    """A child process with its log file; signals go to it alone."""

    def __init__(self, name: str, argv: list[str], env: dict, folder: Path) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.started = time.monotonic()
        self.exited_at: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exited_at = self.exited_at or time.monotonic()
        return code

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            self.signal(signal.SIGKILL)
            code = self.wait(10)
        self._log.close()
        return code

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


class Fleet:
    """Starts and tracks every process of one scenario."""

    def __init__(self, database_url: str, folder: Path, extra_env: dict | None = None) -> None:
        self.folder = folder
        self.effects = folder / "effects.log"
        self.env = {**os.environ, **QUEUE_ENV, "DATABASE_URL": database_url,
                    "TASKQUEUE_TEST_LOG": str(self.effects), **(extra_env or {})}
        self.env.pop("QUEUE_EMBEDDED_PGDATA", None)
        self.processes: list[Process] = []
        self.workers: list[Process] = []

    def manage(self, *args: str, env: dict | None = None) -> str:
        """Run a management command to its end and return its output."""
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**self.env, **(env or {})},
                                check=True, capture_output=True, text=True, timeout=300)
        return result.stdout

    def start(self, name: str, argv: list[str], env: dict | None = None) -> Process:
        process = Process(name, argv, {**self.env, **(env or {})}, self.folder)
        self.processes.append(process)
        return process

    def worker(self, *args: str, env: dict | None = None) -> Process:
        process = self.start(f"worker{len(self.workers) + 1}",
                             [sys.executable, "manage.py", "worker", *args], env)
        self.workers.append(process)
        return process

    def producer(self, *args: str, name: str = "producer", env: dict | None = None) -> Process:
        """The producer (see producer.py); it writes the fate of each id to produced-<name>.log."""
        return self.start(name, [sys.executable, str(ROOT / "scripts" / "faultkit" / "producer.py"),
                                 "--out", str(self.folder / f"produced-{name}.log"), *args], env)

    def web(self, port: int, env: dict | None = None) -> Process:
        return self.start("web", [sys.executable, "-m", "queueproject.webserver", "--host", "127.0.0.1",
                                  "--port", str(port), "--log-level", "warning"], env)

    def live_workers(self) -> list[Process]:
        return [w for w in self.workers if w.alive()]

    def stop_all(self) -> None:
        for process in self.processes:
            if process.alive():
                process.signal(signal.SIGCONT)
                process.stop()
