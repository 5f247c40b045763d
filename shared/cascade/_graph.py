"""Graph path: build a graph from a LazyResult tree and solve it into stages.

The graph path is the general, slow path: every run builds its graph anew. Nodes are
LazyResults; a LazyResult object used twice is one node, computed once. LazyResults
count as dependencies when they are direct positional or keyword arguments (not when
nested inside containers, which are passed as plain values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._task import LazyResult

__all__ = ["Graph", "Node", "build_graph", "NativeSolver"]


@dataclass(eq=False, slots=True)
class Node:
    """One LazyResult of a graph and the nodes whose results its call needs."""

    lazy: LazyResult
    deps: list["Node"] = field(default_factory=list)


@dataclass(slots=True)
class Graph:
    nodes: list[Node]  # dependencies before dependents
    root: Node


def lazy_dependencies(lazy: LazyResult) -> list[LazyResult]:
    deps = [a for a in lazy.args if isinstance(a, LazyResult)]
    deps.extend(v for v in lazy.kwargs.values() if isinstance(v, LazyResult))
    return deps


def build_graph(target: LazyResult) -> Graph:
    """Post-order walk without recursion (deep chains must not hit the stack limit)."""
    nodes: dict[int, Node] = {}
    order: list[Node] = []
    stack: list[tuple[LazyResult, bool]] = [(target, False)]
    while stack:
        lazy, expanded = stack.pop()
        if id(lazy) in nodes and not expanded:
            continue
        deps = lazy_dependencies(lazy)
        if expanded:
            if id(lazy) in nodes:
                continue
            node = Node(lazy, [nodes[id(d)] for d in deps])
            nodes[id(lazy)] = node
            order.append(node)
            continue
        stack.append((lazy, True))
        stack.extend((d, False) for d in reversed(deps) if id(d) not in nodes)
    return Graph(order, nodes[id(target)])


class NativeSolver:
    """Groups nodes into stages: a node's stage is one past its deepest dependency,
    so every stage's nodes can run concurrently."""

    def resolve(self, graph: Graph) -> list[list[Node]]:
        level: dict[int, int] = {}
        stages: list[list[Node]] = []
        for node in graph.nodes:
            depth = 1 + max((level[id(d)] for d in node.deps), default=-1)
            level[id(node)] = depth
            if depth == len(stages):
                stages.append([])
            stages[depth].append(node)
        return stages


class LocalExecutor:
    """Runs one task call in this process: calls the function, awaits it if async."""

    async def execute(self, fn: Any, is_async: bool, args: list[Any], kwargs: dict[str, Any]) -> Any:
        result = fn(*args, **kwargs)
        if is_async:
            result = await result
        return result
