"""A workflow's DAG as a server-rendered SVG: nodes in columns by depth (the
longest path from a root), edges from each dependency to its dependent, each
node coloured by status and linked to its task. No script, no inline style:
colours come from classes in dashboard.css, so the page keeps a strict CSP."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, GAP_X, GAP_Y, PAD = 150, 34, 60, 14, 10
MAX_NODES = 400  # beyond this a picture stops helping; the page lists the nodes instead


def depths(deps: dict[str, list[str]]) -> dict[str, int]:
    """Each node's column: 0 for roots, else one more than its deepest dependency."""
    depth: dict[str, int] = {}

    def of(name: str) -> int:
        if name not in depth:
            depth[name] = 0  # a guard; creation refuses cycles
            depth[name] = 1 + max((of(d) for d in deps.get(name, ()) if d in deps), default=-1)
        return depth[name]

    for name in deps:
        of(name)
    return depth


def layout(nodes: list[dict]) -> dict[str, tuple[int, int]]:
    """The top-left corner of each node's box, by name."""
    depth = depths({n["name"]: n["deps"] for n in nodes})
    rows: dict[int, int] = {}
    places = {}
    for node in nodes:
        column = depth[node["name"]]
        row = rows.get(column, 0)
        rows[column] = row + 1
        places[node["name"]] = (PAD + column * (WIDTH + GAP_X), PAD + row * (HEIGHT + GAP_Y))
    return places


def svg(nodes: list[dict]) -> SafeString:
    """The DAG of `nodes` (dicts with name, task_id, status, deps, ignore_failed), or '' when too big."""
    if not nodes or len(nodes) > MAX_NODES:
        return mark_safe("")
    places = layout(nodes)
    width = max(x for x, _ in places.values()) + WIDTH + PAD
    height = max(y for _, y in places.values()) + HEIGHT + PAD
    edges = []
    for node in nodes:
        x2, y2 = places[node["name"]]
        for dep in node["deps"]:
            x1, y1 = places[dep]
            edges.append((x1 + WIDTH, y1 + HEIGHT // 2, x2, y2 + HEIGHT // 2,
                          "edge ignore" if dep in node["ignore_failed"] else "edge"))
    lines = format_html_join("", '<line x1="{}" y1="{}" x2="{}" y2="{}" class="{}"/>', edges)
    boxes = format_html_join("", (
        '<a href="{}"><g class="node s-{}"><title>{} ({})</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="6"/>'
        '<text x="{}" y="{}">{}</text></g></a>'), [
        (reverse("dashboard:task", args=[n["task_id"]]), n["status"], n["name"], n["status"],
         *places[n["name"]], WIDTH, HEIGHT, places[n["name"]][0] + 8, places[n["name"]][1] + 22, _clip(n["name"]))
        for n in nodes])
    return format_html('<svg class="dag" role="img" aria-label="Workflow graph" viewBox="0 0 {} {}" width="{}" '
                       'height="{}" xmlns="http://www.w3.org/2000/svg">{}{}</svg>',
                       width, height, width, height, lines, boxes)


def _clip(name: str, size: int = 18) -> str:
    return name if len(name) <= size else name[:size - 1] + "…"
