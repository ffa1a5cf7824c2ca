"""Small helpers shared by the benchmark sections: statistics, timers, processes."""

import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "bench"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def repeat(runs: int, measure: Callable[[], float]) -> list[float]:
    """Run `measure` `runs` times; the list of its results."""
    return [measure() for _ in range(runs)]


def log_file(name: str):
    LOGS.mkdir(parents=True, exist_ok=True)
    return open(LOGS / f"{name}.log", "wb")


def manage(*args: str, env: dict | None = None, log: str = "manage") -> subprocess.Popen:
    """`manage.py ARGS` in the background, its output in var/bench/<log>.log."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=log_file(log), stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop(proc: subprocess.Popen, timeout: float = 60) -> int:
    """SIGTERM the process, as `manage.py serve` does, and wait for it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def say(message: str) -> None:
    print(message, flush=True)
