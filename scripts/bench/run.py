"""Each section of the benchmark: its runs and their medians."""

import shutil

from scripts.bench import api as api_
from scripts.bench import auth as auth_
from scripts.bench import drain as drain_
from scripts.bench import flow as flow_
from scripts.bench import enqueue as enqueue_
from scripts.bench import floor as floor_
from scripts.bench import flows as flows_
from scripts.bench import latency as latency_
from scripts.bench import profile as profile_
from scripts.bench import scale as scale_
from scripts.bench import wrk as wrk_
from scripts.bench.database import reset
from scripts.bench.util import median, repeat, say

BULK_SIZE = 1000  # QUEUE_BULK_MAX's default
SMALL_TABLE = 1_000


KINDS = drain_.KINDS


def enqueue(args, url: str) -> dict:
    """Each kind one at a time and in bulk, each round beside the floors, alternated:
    a burst of load from elsewhere hits all of them."""
    reset()
    rounds = []
    for _ in range(max(args.runs, 5)):
        row = {"floor_single": floor_.insert_floor(url, 2000), "floor_bulk": floor_.bulk_floor(url, args.tasks, BULK_SIZE)}
        for kind in KINDS:
            row[f"single {kind}"] = enqueue_.single(2000, kind)
            row[f"bulk {kind}"] = enqueue_.bulk(args.tasks, BULK_SIZE, kind)
        rounds.append(row)
        reset()
    result = {key: median([row[key] for row in rounds]) for key in rounds[0]}
    result["single"], result["bulk"], result["bulk_size"] = result["single echo"], result["bulk echo"], BULK_SIZE
    return result


def api(args, url: str) -> dict:
    if not (wrk_.have_wrk() and shutil.which("pgbench")):
        say("  wrk or pgbench is not installed (apt-get install wrk postgresql-client): the API section is skipped")
        return {}
    reset()
    return api_.measure(url, args.http_seconds, args.runs, BULK_SIZE)


def auth(args, url: str) -> dict:
    """What authenticating a request costs (API key vs legacy token, remembered vs looked up)."""
    return auth_.measure(args.runs)


def floor(args, url: str) -> dict:
    return {
        "batch_100": median(repeat(args.runs, lambda: floor_.floor(url, args.tasks, 100))),
        "batch_1": median(repeat(args.runs, lambda: floor_.floor(url, max(1000, args.tasks // 10), 1))),
    }


# What an operator can trade for throughput: no per-task INFO log lines, and
# synchronous_commit=off for the worker's own statements (docs/development.md).
TUNED = {"LOG_LEVEL": "WARNING", "QUEUE_ASYNC_COMMIT": "true"}


def drain(args, url: str) -> dict:
    """For 1 and 2 processes: one run per concurrency (echo), then runs of each kind
    at the best one, alternated, then the same with the TUNED settings. For 1
    process, each echo run is paired with a floor run just before it, so that the
    ratio compares two measurements under the same load from elsewhere; each
    django.tasks run is paired with the echo run beside it."""
    result = {"tuned": {}, "ratios": [], "tuned_ratios": [], "kind_ratios": {1: [], 2: []}}
    for processes in (1, 2):
        tried = [drain_.drain(args.tasks, processes, int(c)) for c in args.concurrency.split(",")]
        best = max(tried, key=lambda r: r.rate)
        runs, tuned = {kind: [] for kind in KINDS}, {kind: [] for kind in KINDS}
        for settings, out, ratios in ((None, runs, "ratios"), (TUNED, tuned, "tuned_ratios")):
            for _ in range(args.runs):
                floor = floor_.floor(url, args.tasks, 100) if processes == 1 else None
                for kind in KINDS:
                    out[kind].append(drain_.drain(args.tasks, processes, best.concurrency, settings, kind=kind))
                if floor:
                    result[ratios].append(out["echo"][-1].rate / floor)
                result["kind_ratios"][processes].append(out["django.tasks"][-1].rate / out["echo"][-1].rate)
        everything = tried + [run for kind in KINDS for run in runs[kind] + tuned[kind]]
        result[processes] = {
            "concurrency": best.concurrency,
            "tried": {r.concurrency: r.rate for r in tried},
            "rate": median([r.rate for r in runs["echo"]]),
            "django.tasks": median([r.rate for r in runs["django.tasks"]]),
            "tuned django.tasks": median([r.rate for r in tuned["django.tasks"]]),
            "supervisor_rss_mb": max(r.supervisor_rss_mb for r in everything),
            "slot_rss_mb": max(r.slot_rss_mb for r in everything),
        }
        result["tuned"][processes] = median([r.rate for r in tuned["echo"]])
        if processes == 1 and profile_.py_spy():
            result["profile"] = drain_.drain(args.tasks, 1, best.concurrency, profile=True).profile
    return result


def workflows(args, url: str) -> dict:
    """A plain drain, a fan-out/fan-in, a batch and a chain, alternated, 1 process x 4 slots.
    Wide shapes have --tasks nodes (at most 10,000); the chain, 1,000."""
    wide = min(args.tasks, 10_000)
    shapes = {"plain": wide, "fan-in": wide, "batch": wide, "chain": min(1_000, wide)}
    runs = {shape: [] for shape in shapes}
    for _ in range(args.runs):
        for shape, n in shapes.items():
            runs[shape].append(flows_.run(shape, n, 1, 4))
    return {shape: {"tasks": rs[0].tasks, "rate": median([r.rate for r in rs]),
                    "enqueue_seconds": median([r.enqueue_seconds for r in rs])} for shape, rs in runs.items()}


def latency(args, url: str) -> dict:
    """Pickup latency of each kind, runs alternated."""
    runs = {kind: [] for kind in KINDS}
    for _ in range(args.runs):
        for kind in KINDS:
            runs[kind].append(latency_.pickup(200, 4, kind=kind))
    result = _median_fields(runs["echo"], "p50_ms", "p99_ms", "max_ms")
    result["django.tasks"] = _median_fields(runs["django.tasks"], "p50_ms", "p99_ms", "max_ms")
    return result


def scale(args, url: str) -> dict:
    """A small table (1,000 finished rows, so that pages have rows to show) against a full one."""
    reset()
    scale_.fill(0, SMALL_TABLE)
    small = scale_.measure(SMALL_TABLE)
    scale_.fill(SMALL_TABLE, args.rows)
    full = scale_.measure(args.rows)
    return {"empty": small, "full": full, "plan": scale_.explain_claim()}


def flow(args, url: str) -> dict:
    """Flow control: the A/B drain (medians), a limited drain, a minute under a rate limit."""
    try:
        runs = [flow_.ab(args.tasks, 2, 4) for _ in range(args.runs)]
        ab = {key: median([r[key] for r in runs]) for key in runs[0]}
        return {"ab": ab, "limited": flow_.limited(400, 4, 2, 8),
                "rate": flow_.rate(50, 5.0, args.flow_seconds, 2, 4)}
    finally:
        flow_.clear_limits()


def _median_fields(runs: list, *fields: str) -> dict:
    return {field: median([getattr(r, field) for r in runs]) for field in fields}

