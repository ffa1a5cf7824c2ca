"""`make bench-peers`: the peer comparison (run.sh) on this project's database server.

Finds the server as the project does (DATABASE_URL, else the embedded one that
`make run` starts), hands its address to the harness as libpq variables, and
runs run.sh with the peers' virtualenv (PEER_PY, made by `make bench-peers`)
and this checkout as the project under test. Results go to var/peers/
(summary.md, results.jsonl) unless BENCH_OUT says otherwise; every other knob
of run.sh and common.py (SYSTEMS, BENCH_REPEATS, WAIT_LOAD, WAIT_MAX_S...)
passes through the environment.
"""

import os
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parents[2]
LIBPQ = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from queueproject.database import resolve_url

    params = conninfo_to_dict(resolve_url(ROOT))
    env = {**os.environ, **{var: str(params[key]) for key, var in LIBPQ.items() if params.get(key)}}
    env.setdefault("PEER_PY", str(ROOT / ".peers-venv" / "bin" / "python"))
    env.setdefault("BENCH_OUT", str(ROOT / "var" / "peers"))
    env["OURS_ROOT"] = str(ROOT)
    env["OURS_PY"] = sys.executable
    os.execvpe("bash", ["bash", str(Path(__file__).with_name("run.sh"))], env)


if __name__ == "__main__":
    main()
