"""py-spy profiles: a worker while it drains (where the supervisor's time goes),
a web process while it serves.

Used when py-spy is installed (it is in requirements.txt). The
samples are folded by function: own time (the function itself) and total time
(the function and what it calls), each as a share of the samples.
"""

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from scripts.bench.util import LOGS


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


SUPERVISOR = ("samples of the supervisor process, all threads; threads blocked in a lock (Condition.wait: a "
              "database thread waiting for work) or a socket count as samples too")


class Recording:
    """py-spy recording one process (all its threads) until the process exits,
    or for `seconds`. `what` says what the samples are of, in the summary."""

    def __init__(self, pid: int, name: str, what: str = SUPERVISOR, seconds: float | None = None,
                 gil: bool = False):
        self.path = LOGS / f"{name}.folded"
        self.what = what
        duration = ["--duration", str(round(seconds))] if seconds else []
        if gil:  # only threads holding the interpreter: where Python's CPU goes, not who waits
            duration.append("--gil")
        self.proc = subprocess.Popen(
            [py_spy(), "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--output", str(self.path),
             "--nonblocking", *duration], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def summary(self, top: int = 22) -> str:
        self.proc.wait(timeout=120)
        own, total, samples = Counter(), Counter(), 0
        for line in self.path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = [_short(frame) for frame in stack.split(";") if frame]
            if not frames:
                continue
            samples += int(count)
            own[frames[-1]] += int(count)
            for frame in set(frames):
                total[frame] += int(count)
        lines = [f"{samples} {self.what}", "", "own time  function"]
        lines += [f"{n / samples:7.1%}   {frame}" for frame, n in own.most_common(top)]
        lines += ["", "total     function (and what it calls)"]
        lines += [f"{n / samples:7.1%}   {frame}" for frame, n in total.most_common(top + 12)
                  if not frame.startswith(("<module>", "main (", "execute", "BaseCommand", "ManagementUtility",
                                           "Thread._bootstrap", "Command.handle", "Thread.run",
                                           "_callback_wrapper"))]
        return "\n".join(lines)


def _short(frame: str) -> str:
    """'func (path/to/module.py:123)' -> 'func (module.py)'."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else name
