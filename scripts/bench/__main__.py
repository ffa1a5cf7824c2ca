"""The benchmark: `make bench` (or `.venv/bin/python -m scripts.bench`).

Runs every section against a fresh `<database>_bench` database on the server
in DATABASE_URL (or the embedded one), prints each measurement as it goes and
writes docs/benchmarks.md. Each figure is the median of --runs runs.
"""

import argparse
import os
import shlex
import sys
import time
import warnings
from datetime import UTC, datetime

SECTIONS = ("enqueue", "api", "auth", "floor", "drain", "workflows", "latency", "scale", "flow")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median); default 3")
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per drain; default 20,000")
    parser.add_argument("--rows", type=int, default=1_000_000, help="finished rows for the scale section")
    parser.add_argument("--http-seconds", type=int, default=10, help="seconds per wrk run; default 10")
    parser.add_argument("--concurrency", default="2,4,8", help="slot counts tried for the drain; default 2,4,8")
    parser.add_argument("--flow-seconds", type=float, default=60.0,
                        help="seconds under a rate limit in the flow section; default 60")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"subset of {','.join(SECTIONS)}")
    parser.add_argument("--output", default="docs/benchmarks.md", help="the report; '-' for none")
    parser.add_argument("--keep-db", action="store_true", help="keep the <database>_bench database")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if unknown := set(sections) - set(SECTIONS):
        raise SystemExit(f"bench: unknown sections {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here
    command = _command(argv)
    from scripts.bench import database

    base, url = database.prepare()
    from scripts.bench import environment, report, run

    started = time.time()
    results = {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": args.runs,
        "machine": environment.machine(),
        "versions": environment.versions(),
        "postgres": environment.postgres(),
    }
    try:
        results["load"] = {}
        for section in sections:
            print(f"== {section}", flush=True)
            results["load"][section] = os.getloadavg()[0]
            results[section] = getattr(run, section)(args, url)
    finally:
        if not args.keep_db:
            database.drop(base, url)
    results["minutes"] = (time.time() - started) / 60
    text = report.render(results)
    print(text)
    if args.output != "-":
        with open(args.output, "w") as out:
            out.write(text)
        print(f"Wrote {args.output}")


def _command(argv: list[str]) -> str:
    """The command line that reproduces this run."""
    url = os.environ.get("DATABASE_URL", "")
    prefix = f"DATABASE_URL={shlex.quote(url)} " if url else ""
    if os.environ.get("BENCH_VIA_MAKE"):
        return prefix + "make bench" + (f" BENCH_ARGS={shlex.quote(shlex.join(argv))}" if argv else "")
    return prefix + shlex.join([".venv/bin/python", "-m", "scripts.bench", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
