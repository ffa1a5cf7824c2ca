"""Workflows: tasks that wait for other tasks (a DAG), all inserted in one transaction.

    from tasks.queue.workflows import Workflow, call, chain, fan_in

    workflow = Workflow("import")
    a = workflow.add(fetch, "https://example.com/a")       # a @task function and its arguments
    b = workflow.add("echo", {"x": 1}, name="b")           # or a registered type and its payload
    c = workflow.add(merge, deps=[a, b], ignore_failed=[b])
    workflow.enqueue()

A node with dependencies is created `waiting`; the trigger of migration
0013_workflows makes it pending in the transaction that finishes its last
dependency, or cancels it when a dependency fails for good or is cancelled
(unless that edge is `ignore_failed`). A running node reads its dependencies'
results with `tasks.context.dependency_results()`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tasks.models import Dependency, Task, TaskStatus
from tasks.models import Workflow as WorkflowRow
from tasks.queue.enqueue import build
from tasks.queue.inserts import insert_many
from tasks.queue.operations import cancel

NODE_NAME_MAX = 100


@dataclass(frozen=True)
class Step:
    """One task to create: a registered type and its payload, or a @task function and its arguments."""

    task: Any
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # options of tasks.queue.build (queue, priority, ...)

    def build(self, now) -> Task:
        """The unsaved row of this step (ValidationError names a bad field)."""
        if isinstance(self.task, Task):  # built already (the REST API validates its nodes itself)
            return self.task
        if isinstance(self.task, str):
            if len(self.args) > 1 or self.kwargs:
                raise TypeError("A task type takes one payload: add('echo', {...}).")
            return build(self.task, self.args[0] if self.args else None, now=now, **self.options)
        type_name = getattr(self.task, "type_name", None)
        if type_name is None:
            raise TypeError(f"{self.task!r} is neither a task type name nor a @task function.")
        payload = {"args": list(self.args), "kwargs": dict(self.kwargs)}
        options = {**self.task.row_options(), **self.options}
        return build(type_name, payload, now=now, declared=False, **options)


def call(task: Any, *args: Any, options: dict | None = None, **kwargs: Any) -> Step:
    """A step: `call(fetch, url)` or `call("echo", {"x": 1}, options={"queue": "io"})`."""
    return Step(task, args, kwargs, options or {})


@dataclass
class Node:
    """A task of a workflow being built; after `enqueue`, `task` is its row."""

    name: str
    step: Step
    deps: list[str]
    ignored: set[str]
    task: Task | None = None

    @property
    def id(self) -> UUID | None:
        return None if self.task is None else self.task.id


class Workflow:
    """A DAG of tasks, built node by node, inserted by `enqueue` in one transaction."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.nodes: dict[str, Node] = {}
        self.row: WorkflowRow | None = None

    def add(self, task: Any, *args: Any, name: str | None = None, deps: Iterable[Node | str] = (),
            ignore_failed: bool | Iterable[Node | str] = False, options: dict | None = None,
            **kwargs: Any) -> Node:
        """Add a node; `deps` are nodes (or names) of this workflow that must finish first.

        `ignore_failed`: True (every dependency) or some of them: those may fail
        or be cancelled and this node still runs; otherwise it is cancelled."""
        step = task if isinstance(task, Step) else call(task, *args, options=options, **kwargs)
        deps = [self._name_of(dep, "deps") for dep in deps]
        ignored = set(deps) if ignore_failed is True else {
            self._name_of(dep, "ignore_failed") for dep in (ignore_failed or ())}
        name = name or f"{_short(step.task)}-{len(self.nodes) + 1}"
        if name in self.nodes:
            raise ValidationError({"name": [f"This workflow has a node named {name!r} already."]})
        node = Node(name, step, deps, ignored)
        # Dependencies must be added first, so no cycle can form: check the new node alone.
        check_node(name, deps, ignored, self.nodes)
        self.nodes[name] = node
        return node

    def chain(self, *steps: Step, after: Iterable[Node | str] = ()) -> list[Node]:
        """Add steps that run one after the other (the first after `after`)."""
        nodes, previous = [], list(after)
        for step in steps:
            node = self.add(step, deps=previous)
            nodes.append(node)
            previous = [node]
        return nodes

    def group(self, steps: Sequence[Step], then: Step | None = None, *,
              after: Iterable[Node | str] = (), ignore_failed: bool = False) -> list[Node]:
        """Fan out: add `steps` side by side; fan in: `then` runs after all of them (last in the answer)."""
        after = list(after)
        nodes = [self.add(step, deps=after) for step in steps]
        if then is not None:
            nodes.append(self.add(then, deps=nodes, ignore_failed=ignore_failed))
        return nodes

    def enqueue(self, *, now=None) -> WorkflowRow:
        """Insert the workflow and all its tasks in one transaction; returns its row."""
        if self.row is not None:
            raise ValueError("This workflow was enqueued already.")
        if not self.nodes:
            raise ValidationError({"nodes": ["A workflow needs at least one node."]})
        now = now or timezone.now()
        for node in self.nodes.values():
            try:
                row = node.step.build(now)
            except ValidationError as exc:
                raise ValidationError({f"nodes.{node.name}": exc.messages}) from exc
            if row.unique_key is not None or row.idempotency_key is not None:
                message = "Workflow tasks cannot have a unique or idempotency key."
                raise ValidationError({f"nodes.{node.name}": [message]})
            node.task = row
        self.row = insert_workflow(self.name, list(self.nodes.values()), now)
        return self.row

    def _name_of(self, dep: Node | str, field_name: str) -> str:
        name = dep.name if isinstance(dep, Node) else str(dep)
        if isinstance(dep, Node) and self.nodes.get(name) is not dep:
            raise ValidationError({field_name: [f"Node {name!r} belongs to another workflow."]})
        return name


def chain(*steps: Step, name: str = "") -> Workflow:
    """A workflow of steps that run one after the other."""
    workflow = Workflow(name)
    workflow.chain(*steps)
    return workflow


def fan_in(steps: Sequence[Step], then: Step, *, name: str = "", ignore_failed: bool = False) -> Workflow:
    """A workflow of `steps` side by side, then `then` once all of them finished."""
    workflow = Workflow(name)
    workflow.group(steps, then, ignore_failed=ignore_failed)
    return workflow


def check_graph(graph: dict[str, tuple[Sequence[str], set[str]]]) -> None:
    """Refuse unknown dependency names, self-dependencies and cycles (ValidationError naming the node).

    `graph`: node name -> (its dependencies' names, those it ignores failures of)."""
    for name, (deps, ignored) in graph.items():
        check_node(name, deps, ignored, graph)
    cycle = _cycle({name: deps for name, (deps, _) in graph.items()})
    if cycle:
        raise ValidationError({f"nodes.{cycle[0]}.deps": [f"The dependencies make a cycle: {' -> '.join(cycle)}."]})


def check_node(name: str, deps: Sequence[str], ignored: set[str], known) -> None:
    """One node's checks: its name, its dependencies known (and not itself), ignore_failed within deps."""
    if not name or len(name) > NODE_NAME_MAX:
        raise ValidationError({"nodes": [f"Node names are 1 to {NODE_NAME_MAX} characters; {name!r} is not."]})
    for dep in deps:
        if dep == name:
            raise ValidationError({f"nodes.{name}.deps": ["A node cannot depend on itself."]})
        if dep not in known:
            raise ValidationError({f"nodes.{name}.deps": [f"Unknown node {dep!r}: name a node of this workflow."]})
    if len(set(deps)) != len(deps):
        raise ValidationError({f"nodes.{name}.deps": ["Name each dependency once."]})
    if not set(ignored) <= set(deps):
        raise ValidationError({f"nodes.{name}.ignore_failed": ["Name only nodes that are also in deps."]})


def _cycle(graph: dict[str, Sequence[str]]) -> list[str] | None:
    """A cycle of `graph` (name -> names it depends on) as a list of names, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph:
        if state.get(root):
            continue
        stack = [(root, iter(graph[root]))]
        path = [root]
        state[root] = 1
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[name] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child) and child in graph:
                state[child] = 1
                stack.append((child, iter(graph[child])))
                path.append(child)
    return None


def insert_workflow(name: str, nodes: list[Node], now) -> WorkflowRow:
    """Insert the workflow's row, its tasks (`waiting` when they have dependencies) and its edges."""
    with transaction.atomic():
        row = WorkflowRow.objects.create(name=name, created_at=now)
        for node in nodes:
            node.task.workflow_id = row.id
            node.task.node = node.name
            if node.deps:
                node.task.status = TaskStatus.WAITING
                node.task.waiting_on = len(node.deps)
        insert_many([node.task for node in nodes])
        ids = {node.name: node.task.id for node in nodes}
        Dependency.objects.bulk_create([
            Dependency(task_id=node.task.id, depends_on_id=ids[dep], ignore_failed=dep in node.ignored)
            for node in nodes for dep in node.deps
        ])
    return row


def cancel_workflow(workflow_id: UUID, *, now=None) -> int:
    """Cancel every task of the workflow that has not started; returns how many.

    Running tasks finish; their dependents were cancelled with the rest."""
    return cancel(Task.objects.filter(workflow_id=workflow_id), now=now)


def _short(task: Any) -> str:
    name = task if isinstance(task, str) else getattr(task, "name", None) or getattr(task, "type_name", "task")
    return str(name).rsplit(".", 1)[-1][:60]


# A safety net, never the way progress is made (the trigger of 0013_workflows
# is): waiting tasks whose dependencies are all done, left waiting by a counter
# that drifted (a manual edit of the table, a transaction run in REPEATABLE
# READ...). Old rows only, so that it never races a finishing transaction.
RELEASE_STUCK = """
UPDATE tasks_task SET waiting_on = 0, updated_at = now(),
    status = CASE WHEN run_at > clock_timestamp() THEN 'scheduled' ELSE 'pending' END
WHERE id IN (
    SELECT t.id FROM tasks_task t
    WHERE t.status = 'waiting' AND t.workflow_id IS NOT NULL AND t.updated_at < %(before)s
      AND NOT EXISTS (
          SELECT 1 FROM tasks_dependency d JOIN tasks_task x ON x.id = d.depends_on_id
          WHERE d.task_id = t.id
            AND NOT (x.status = 'completed' OR (x.status IN ('failed', 'cancelled') AND d.ignore_failed)))
    LIMIT %(limit)s
    FOR UPDATE OF t SKIP LOCKED
) AND status = 'waiting'
"""


def release_stuck(cursor, before, limit: int = 1000) -> int:
    """Release waiting workflow tasks (unchanged since `before`) whose dependencies are all done."""
    cursor.execute(RELEASE_STUCK, {"before": before, "limit": limit})
    return cursor.rowcount
