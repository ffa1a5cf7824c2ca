"""The REST API's part of docs/benchmarks.md: its targets, its table, its profile."""

from pathlib import Path
from statistics import median

POOL_MAX = 8  # DB_POOL_MAX_SIZE's default
PER_PROCESS = POOL_MAX + 2  # the pool, the event hub's LISTEN, a replay (docs/scaling.md)


def targets(a: dict, python_bulk: float | None = None) -> list[tuple[str, str, str, bool]]:
    """(target, measured, goal, met) rows for the summary table; `python_bulk`:
    `queue.enqueue_many`'s tasks/s in the same run, when measured."""
    ratio = median(a["post"]["ratios"])
    one, use = a["post_one"], a["use"]
    rows = [
        ("`POST /api/tasks`, 16 connections, vs pgbench's INSERT (paired runs)",
         f"{ratio:.0%} ({', '.join(f'{x:.0%}' for x in a['post']['ratios'])})", "≥ 50%", ratio >= 0.5),
        ("`POST /api/tasks`, 1 connection, p50 / p99", f"{one['p50_ms']:.1f} / {one['p99_ms']:.1f} ms",
         "≤ 3 / ≤ 10 ms", one["p50_ms"] <= 3 and one["p99_ms"] <= 10),
    ]
    for key, label, goal in (("get", "`GET /api/tasks/{id}`", 2500), ("health", "`GET /api/health`", 3000),
                             ("stats", "`GET /api/stats`", 3000), ("list", "task list page (`GET /api/tasks`)", 1000)):
        rate = a[key]["requests_per_s"]
        rows.append((label, f"{rate:,.0f} requests/s", f"≥ {goal:,}/s", rate >= goal))
    bulk = a["bulk"]["tasks_per_s"]
    same_run = f" ({bulk / python_bulk:.1f}× `queue.enqueue_many` in this run)" if python_bulk else ""
    rows.append(("bulk enqueue (HTTP, `POST /api/tasks/bulk`)", f"{bulk:,.0f} tasks/s{same_run}", "≥ 40,000/s",
                 bulk >= 40000))
    served = a["one_token"]["served_per_s"]
    rows.append(("one client, one token", f"{served:,.0f} requests/s served, "
                 f"{a['one_token']['refused_per_s']:,.0f}/s refused (429)", "≥ 1,000/s", served >= 1000))
    rss = max(use.rss_mb)
    rows.append(("web process RSS (peak)", f"{rss:.0f} MB", "< 120 MB", rss < 120))
    rows.append(("connections per web process (most seen, all processes together)",
                 f"{use.connections} for {use.processes} processes",
                 f"≤ {PER_PROCESS} each (pool of {POOL_MAX} + 2)", use.connections <= PER_PROCESS * use.processes))
    return rows


def section(a: dict) -> list[str]:
    health = a["health"]["requests_per_s"]

    def row(how: str, run: dict, rate: str | None = None) -> str:
        rate = rate or f"{run['requests_per_s']:,.0f}"
        return (f"| {how} | {rate} | {run['requests_per_s'] / health:.2f} | "
                f"{run['p50_ms']:.1f} / {run['p99_ms']:.1f} ms |")

    bulk = a["bulk"]
    out = ["## 1b. REST API", "",
           "The web server as `make run` starts it (granian, WSGI, 2 processes; token authentication, rate limits "
           "and backpressure at their defaults), wrk with one thread; each connection is a client with its own "
           "token unless said otherwise. pgbench's one-row INSERT into the same table (its indexes and triggers "
           "included) is the reference: what PostgreSQL allows for the work of `POST /api/tasks`. Each POST run "
           "comes right after its pgbench run. The health check, the cheapest request, is the server's floor.", "",
           "| request | requests/s | vs health | latency p50 / p99 |", "| --- | --- | --- | --- |",
           f"| pgbench INSERT, 16 clients | {a['insert'][16]:,.0f} rows/s | | |",
           row("`POST /api/tasks`, 16 connections", a["post"]),
           f"| pgbench INSERT, 1 client | {a['insert'][1]:,.0f} rows/s | | |",
           row("`POST /api/tasks`, 1 connection (one request after another)", a["post_one"]),
           row("`GET /api/tasks/{id}`, 16 connections", a["get"]),
           row("`GET /api/health`, 16 connections (the floor)", a["health"]),
           row("`GET /api/stats`, 16 connections", a["stats"]),
           row("`GET /api/tasks` (a page of 50), 16 connections", a["list"]),
           *([row("`POST /api/v1/tasks` (document 003's task, with metadata), 16 connections", a["post_v1"]),
              row("`POST /api/queue/email` (document 002), 16 connections", a["queue_email"])]
             if "post_v1" in a else []),
           row(f"`POST /api/tasks/bulk`, {bulk['size']:,} tasks per request, 4 connections", bulk,
               f"{bulk['tasks_per_s']:,.0f} tasks/s"),
           "",
           f"One client with one token, 16 connections on `GET /api/tasks/{{id}}`: "
           f"{a['one_token']['served_per_s']:,.0f} requests/s served, {a['one_token']['refused_per_s']:,.0f}/s "
           "refused with 429 (`QUEUE_API_RATE` is 1000/second).", "",
           f"Web processes: peak RSS {', '.join(f'{m:.0f} MB' for m in a['use'].rss_mb)}; most connections to "
           f"PostgreSQL the {a['use'].processes} of them held together while 16 connections POST: "
           f"{a['use'].connections}.", ""]
    if a.get("profile"):
        analysis = (Path(__file__).parent / "api_analysis.md").read_text().strip()
        out += ["### Where the API's time goes", "", analysis, "", "py-spy (this run):", "", "```", a["profile"],
                "```", ""]
    return out
