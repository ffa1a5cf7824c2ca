"""The tree explains the system (DESIGN.md, Layout): no import cycles, adapters
on top, one name per module, and every package says what lives in it.

Imports are read from the source (inside functions too) and include the
package `__init__` modules that Python runs on the way to a submodule."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tasks"
ADAPTERS = ("tasks.api", "tasks.management", "tasks.admin", "dashboard")
# File names that Django or Python give meaning to, and may repeat.
CONVENTIONAL = {"__init__.py", "urls.py", "apps.py", "admin.py", "models.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if "migrations" not in p.parts)


MODULES = {module_name(p): p for p in source_files()}


def with_parents(name: str) -> list[str]:
    """`name` and the packages Python imports first to reach it."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts) + 1)]


def imports_of(name: str) -> set[str]:
    """The project modules `name` imports, anywhere in its body."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in MODULES and not target.startswith(("dashboard",)):
                target = target.rpartition(".")[0]
            if target and (target in MODULES or target.startswith("dashboard")):
                found.update(t for t in with_parents(target) if t in MODULES or t.startswith("dashboard"))
    # A module's own packages are always imported before it; importing
    # "from its package" re-enters nothing.
    return found - set(with_parents(name))


GRAPH = {name: imports_of(name) for name in MODULES}


def test_the_import_graph_of_tasks_has_no_cycle():
    """Counting imports inside functions; a cycle is a design fault even when Python copes."""
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt not in GRAPH:
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith(ADAPTERS)))
def test_core_modules_do_not_import_adapters(module):
    upward = sorted(t for t in GRAPH[module] if t.startswith(ADAPTERS))
    assert upward == [], f"{module} imports {upward}"


def test_no_two_modules_share_a_file_name():
    seen: dict[str, list[str]] = {}
    for path in source_files():
        if path.name not in CONVENTIONAL and "commands" not in path.parts:
            seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


@pytest.mark.parametrize("package", sorted(p for p in APP.rglob("__init__.py") if "migrations" not in p.parts
                                           and "commands" not in p.parts))
def test_every_package_says_what_lives_in_it(package):
    docstring = ast.get_docstring(ast.parse(package.read_text()))
    assert docstring and len(docstring) > 40, f"{package.relative_to(ROOT)} has no docstring"
