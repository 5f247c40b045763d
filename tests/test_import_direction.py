"""Import direction: ``shared/`` is the core; it never imports ``coordinator`` or
``worker`` (the layers above it), neither at the top of a module nor inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("coordinator", "worker")


def forbidden_imports(source: str, filename: str = "<string>") -> list[str]:
    """``file:line: module`` for every import of a forbidden top-level package,
    including ``importlib.import_module("worker...")`` and ``__import__`` with a
    literal name. Relative imports stay inside ``shared`` and are allowed."""
    found: list[str] = []

    def check(module: str | None, lineno: int) -> None:
        if module and module.split(".")[0] in FORBIDDEN:
            found.append(f"{filename}:{lineno}: {module}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            check(node.module, node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                check(node.args[0].value, node.lineno)
    return found


def shared_sources() -> list[Path]:
    return sorted((ROOT / "shared").rglob("*.py"))


def test_shared_exists_and_has_the_cascade_runtime() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in shared_sources()}
    assert "shared/__init__.py" in names
    assert "shared/cascade/_vm.py" in names


def test_shared_never_imports_coordinator_or_worker() -> None:
    violations: list[str] = []
    for path in shared_sources():
        violations += forbidden_imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert violations == []


@pytest.mark.parametrize("source", [
    "import worker.x",
    "import worker",
    "import os, coordinator.cli as cli",
    "from worker import main",
    "from coordinator.quota import Lease",
    "def later():\n    import worker.x\n",
    "if TYPE_CHECKING:\n    from coordinator import cli\n",
    "import importlib\nimportlib.import_module('worker.main')\n",
    "__import__('coordinator')\n",
])
def test_the_checker_catches_a_violation(source: str) -> None:
    found = forbidden_imports(source, "synthetic.py")
    assert len(found) == 1 and found[0].startswith("synthetic.py:")


@pytest.mark.parametrize("source", [
    "import workerpool",
    "from coordinators import x",
    "from . import worker",
    "from .worker import x",
    "from shared.worker_types import W",
    "import shared.cascade as cs",
    "print('worker')",
])
def test_the_checker_allows_look_alikes_and_relative_imports(source: str) -> None:
    assert forbidden_imports(source) == []
